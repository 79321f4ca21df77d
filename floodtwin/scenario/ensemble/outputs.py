"""The files of an ensemble: ``ensemble.nc`` (per-cell statistics), ``ensemble.gpkg`` (villages and dike
segments with their probabilities), ``members.csv`` (every member's parameters, status and cost),
``summary.json``, and the probability map as ``probability.png`` and ``probability.html``.

The map shows where water deeper than 0.3 m comes in how many of the members (bands of probability,
not shades: a duty officer reads "in more than half the futures"), the dikes by their probability of
a freeboard below 1 m, and each village with its probability of flooding.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["PROB_BOUNDS", "PROB_COLOURS", "probability_rgba", "write_ensemble_outputs"]

#: probability bands of the map (lower bounds); below the first a cell is left clear
PROB_BOUNDS = (0.05, 0.25, 0.5, 0.75, 0.95)
#: one colour per band (sequential purples: no clash with the hazard colours or the blue channel)
PROB_COLOURS = ("#dadaeb", "#bcbddc", "#9e9ac8", "#756bb1", "#54278f")
PROB_LABELS = ("5–25 %", "25–50 %", "50–75 %", "75–95 %", "≥ 95 %")
#: dike colour by the probability of a freeboard below 1 m
DIKE_BOUNDS = (0.05, 0.25, 0.5)
DIKE_COLOURS = ("#2e7d32", "#ffb300", "#fb8c00", "#c62828")
DIKE_LABELS = ("< 5 %", "5–25 %", "25–50 %", "≥ 50 %")
ALPHA = 0.85
#: village marker by P(flooded): near white below 5 %, then the bands of the cells
VILLAGE_COLOURS = ("#f5f5f5",) + PROB_COLOURS


def _band(values: np.ndarray, bounds) -> np.ndarray:
    return np.digitize(np.nan_to_num(values, nan=-1.0), bounds)  # 0: below the first bound


def probability_rgba(prob: np.ndarray) -> np.ndarray:
    """RGBA (rows, cols, 4) of a probability grid in the bands of PROB_BOUNDS; below 5 % clear."""
    from matplotlib.colors import to_rgba

    palette = np.array([(0, 0, 0, 0)] + [to_rgba(c, ALPHA) for c in PROB_COLOURS])
    return palette[_band(prob, PROB_BOUNDS)]


def _dike_colour(p: float) -> str:
    return DIKE_COLOURS[int(_band(np.array([p]), DIKE_BOUNDS)[0])]


def _layers(run, reach):
    import geopandas as gpd

    v = reach.villages[["village_id", "name_zh", "name_en", "population", "grid_id", "geometry"]].merge(
        run.villages, on="village_id", how="inner")
    d = reach.dikes[["segment_id", "bank", "post_from", "post_to", "chainage_from_m", "chainage_to_m",
                     "crest_elevation_m", "geometry"]].merge(
        run.dikes, on="segment_id", how="inner")
    return gpd.GeoDataFrame(v, geometry="geometry", crs=reach.crs), gpd.GeoDataFrame(d, geometry="geometry", crs=reach.crs)


def _title(run) -> str:
    return run.spec.title_en


def write_ensemble_outputs(run, reach) -> dict[str, Path]:
    """Write the outputs the spec asks for (and members.csv, summary.json) into ``run.folder``; return
    name -> path. Files are written beside the members, replacing those of an earlier run."""
    from floodtwin.results import write_result

    folder = run.folder
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    villages, dikes = _layers(run, reach)
    failed = run.report.failed
    attrs = {"ensemble": run.spec.name, "members": len(run.used), "members_drawn": len(run.members),
             "members_failed": ", ".join(sorted(failed)) or "none", "seed": run.spec.seed,
             "resolution_m": float(run.spec.resolution_m), "sampling": "Latin hypercube (scipy.stats.qmc)",
             "crs": reach.crs.to_string()}
    want = set(run.spec.outputs)
    if "netcdf" in want:
        cells = run.cells.copy()
        cells.attrs.update(attrs)
        cells["x"].attrs.update({"standard_name": "projection_x_coordinate", "units": "m"})
        cells["y"].attrs.update({"standard_name": "projection_y_coordinate", "units": "m"})
        files["ensemble.nc"] = write_result(cells, folder / "ensemble.nc",
                                            source=f"floodtwin ensemble {run.spec.name}: {len(run.used)} coupled 1D-2D runs")
    if "gpkg" in want:
        path = folder / "ensemble.gpkg"
        path.unlink(missing_ok=True)
        villages.to_file(path, layer="villages", driver="GPKG", engine="pyogrio")
        dikes.to_file(path, layer="dikes", driver="GPKG", engine="pyogrio")
        files["ensemble.gpkg"] = path
    files["members.csv"] = _members_csv(run, folder / "members.csv")
    if "png" in want:
        files["probability.png"] = render_probability_png(run, villages, dikes, reach, folder / "probability.png")
    if "html" in want:
        files["probability.html"] = render_probability_html(run, villages, dikes, reach, folder / "probability.html")
    summary = {**attrs, "title_en": run.spec.title_en, "title_zh": run.spec.title_zh,
               "failed": failed, "files": {k: str(p) for k, p in files.items()},
               "villages": json.loads(run.villages.to_json(orient="records")),
               "dikes_freeboard_lt_1m": json.loads(
                   run.dikes[run.dikes["prob_freeboard_lt_1m"] > 0].to_json(orient="records")),
               "area_prob_depth_gt_0_3m_ge_50pct_km2": float(np.nansum(run.cells["prob_depth_gt_0_3m"].values >= 0.5)
                                                             * reach.resolution_m ** 2 / 1e6)}
    (folder / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=1), encoding="utf-8")
    files["summary.json"] = folder / "summary.json"
    return files


def _members_csv(run, path: Path) -> Path:
    import csv

    rows = []
    for name, p in run.members.items():
        meta_path = run.folder / "members" / name / "member.json"
        meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
        o = run.report.outcomes.get(name)
        b = p.breaches[0] if p.breaches else {}
        rows.append({"member": name, "status": "failed" if name in run.report.failed else "finished",
                     "error": run.report.failed.get(name, ""), "channel_n": p.channel_n, "floodplain_n": p.floodplain_n,
                     "peak_m3s": round(p.peak_m3s, 1), "shape": p.shape,
                     "breach_chainage_m": b.get("chainage_m", ""), "breach_bank": b.get("bank", ""),
                     "breach_after_crest_h": b.get("start_after_crest_h", ""),
                     "breach_width_m": b.get("final_width_m", ""),
                     "wall_s": round(meta.get("wall_s", o.wall_s if o else 0.0), 2),
                     "cpu_s": round(meta.get("cpu_s", 0.0), 2),
                     "worker_peak_rss_mib": round(meta.get("worker_peak_rss_mib", 0.0), 1)})
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


# ------------------------------------------------------------------------------------------------
# the probability map
# ------------------------------------------------------------------------------------------------
def render_probability_png(run, villages, dikes, reach, path: Path, *, dpi: int = 150) -> Path:
    """The probability map as a PNG: P(max depth > 0.3 m) in bands over the hillshade, dikes by P(freeboard
    < 1 m), villages by P(flooded) with their names, a side panel with the legend and the ensemble."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    from floodtwin.maps.png import VILLAGE_CALLOUTS, page_size_in
    from floodtwin.maps.raster import grey_hillshade, north_up
    from floodtwin.reach.cartography import (bilingual, draw_lines, fill_polygons, halo, north_arrow, save_png,
                                             scale_bar, setup_fonts)
    from floodtwin.reach.map_layout import AROUND, FAR, Labeller

    cjk = setup_fonts()
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)  # no bold face in WenQuanYi
    dem = reach.dem
    dx = reach.resolution_m
    x, y = dem.x.values, dem.y.values
    extent = (x.min() - dx / 2, x.max() + dx / 2, y.min() - dx / 2, y.max() + dx / 2)
    page_w, page_h = page_size_in(dem)
    side_w, left, gap = 3.6, 0.35, 0.3
    map_w = page_w - left - 0.25 - side_w - gap
    map_h = page_h - 1.0 - 0.35
    fig = plt.figure(figsize=(page_w, page_h))

    def rect(x0, top, w, h):
        return [x0 / page_w, 1.0 - (top + h) / page_h, w / page_w, h / page_h]

    ax = fig.add_axes(rect(left, 1.0, map_w, map_h))
    ax.imshow(north_up(y, grey_hillshade(reach)), extent=extent, origin="upper", interpolation="bilinear", zorder=0)
    prob = run.cells["prob_depth_gt_0_3m"].values
    ax.imshow(north_up(y, probability_rgba(prob)), extent=extent, origin="upper", interpolation="nearest", zorder=1)
    fill_polygons(ax, reach.channel.geometry, fc="#8fb8de", ec="white", hatch="////", lw=0.0, zorder=2)
    draw_lines(ax, reach.channel.geometry, color="#1f4e79", linewidth=0.7, zorder=2)
    draw_lines(ax, dikes.geometry, color="#212121", linewidth=4.4, zorder=6, capstyle="round")
    for colour in DIKE_COLOURS:
        sel = dikes[[_dike_colour(p) == colour for p in dikes.prob_freeboard_lt_1m]]
        if len(sel):
            draw_lines(ax, sel.geometry, color=colour, linewidth=2.8, zorder=6, capstyle="round")
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.apply_aspect()
    lab = Labeller(fig, ax)
    from matplotlib.transforms import Bbox

    # keep labels off the north arrow (upper left) and the scale bar (lower left), drawn at fixed places
    for x0, y0, x1, y1 in ((0.012, 0.78, 0.06, 0.97), (0.0, 0.0, 0.25, 0.09)):
        lab.taken.append(Bbox(ax.transAxes.transform([[x0, y0], [x1, y1]])))
    pv = villages.prob_flooded.to_numpy(float)
    ax.scatter(villages.geometry.x, villages.geometry.y, s=190, c="black", linewidths=0, zorder=10)
    ax.scatter(villages.geometry.x, villages.geometry.y, s=95, zorder=10, edgecolors="white", linewidths=1.6,
               c=[VILLAGE_COLOURS[int(b)] for b in _band(pv, PROB_BOUNDS)])
    lab.block_points(villages.geometry.x, villages.geometry.y, 7)
    for r in villages.sort_values("population", ascending=False).itertuples():
        name = bilingual(r.name_zh, r.name_en, cjk, " ")
        lab.place(f"{name}\nflooded in {r.prob_flooded:.0%} of members · median {r.depth_median_m:.1f} m",
                  (r.geometry.x, r.geometry.y), AROUND + FAR + VILLAGE_CALLOUTS, leader="#424242", fontsize=7.5,
                  zorder=13, bbox=dict(boxstyle="round,pad=0.25", fc="white", ec="#424242", lw=0.8, alpha=0.92))
    for text, point in dike_runs(dikes):
        lab.place(text, point, AROUND, optional=True, fontsize=7, color="#b71c1c", fontweight="bold", zorder=11,
                  path_effects=halo(2.0))
    scale_bar(ax, extent, 5000.0)
    north_arrow(ax)

    side = fig.add_axes(rect(left + map_w + gap, 1.0, side_w, map_h))
    side.axis("off")
    cells = [Patch(fc=c, ec="#616161", lw=0.5, label=lab) for c, lab in zip(PROB_COLOURS, PROB_LABELS)]
    leg1 = side.legend(handles=cells, loc="upper left", frameon=False, fontsize=8.5, alignment="left",
                       title=bilingual("水深超过0.3米的概率", "P(max depth > 0.3 m)", cjk), title_fontsize=9.5)
    side.add_artist(leg1)
    dk = [Patch(fc=c, ec="#212121", lw=0.5, label=lab) for c, lab in zip(DIKE_COLOURS, DIKE_LABELS)]
    leg2 = side.legend(handles=dk, loc="upper left", bbox_to_anchor=(0.0, 0.74), frameon=False, fontsize=8.5,
                       alignment="left", title=bilingual("堤防超高不足1米的概率", "dike: P(freeboard < 1 m)", cjk),
                       title_fontsize=9.5)
    side.add_artist(leg2)
    side.text(0.0, 0.48, _side_text(run, reach), transform=side.transAxes, va="top", ha="left", fontsize=8,
              linespacing=1.45)
    fig.text(0.5, 1 - 0.36 / page_h, _title(run), ha="center", va="center", fontsize=17, fontweight="bold")
    fig.text(0.5, 1 - 0.74 / page_h, run.spec.title_zh if cjk else "", ha="center", va="center", fontsize=11,
             color="#333333")
    fig.text(0.5, 0.17 / page_h, f"EPSG:{reach.crs.to_epsg()}, grid north up  ·  {dx:g} m grid  ·  cells where fewer "
             f"than 5 % of the members exceed 0.3 m left clear  ·  Latin hypercube, seed {run.spec.seed}",
             ha="center", va="center", fontsize=7.5, color="#555555")
    return save_png(fig, path, dpi=dpi)


def dike_runs(dikes) -> list[tuple[str, tuple[float, float]]]:
    """(label, point) for each run of consecutive segments of one bank with the same P(freeboard < 1 m),
    at least 5 %: one label "0+000–8+000 left: 25 %" per run, at its middle segment."""
    out = []
    for bank, d in dikes.sort_values("chainage_from_m").groupby("bank", sort=True):
        rows = list(d.itertuples())
        i = 0
        while i < len(rows):
            j = i
            while j + 1 < len(rows) and rows[j + 1].prob_freeboard_lt_1m == rows[i].prob_freeboard_lt_1m \
                    and rows[j + 1].chainage_from_m <= rows[j].chainage_to_m + 1.0:
                j += 1
            p = float(rows[i].prob_freeboard_lt_1m)
            if p >= DIKE_BOUNDS[0]:
                mid = rows[(i + j) // 2].geometry.interpolate(0.5, normalized=True)
                out.append((f"{rows[i].post_from}–{rows[j].post_to} {bank}: {p:.0%}", (mid.x, mid.y)))
            i = j + 1
    return out


def _side_text(run, reach) -> str:
    p = run.spec.parameters
    lines = [f"{len(run.used)} members (coupled 1D–2D, {run.spec.resolution_m:g} m)"]
    if run.report.failed:
        lines.append(f"{len(run.report.failed)} failed, left out: {', '.join(sorted(run.report.failed)[:4])}")
    for key, label in (("channel_n", "channel n"), ("floodplain_n", "floodplain n"), ("peak_m3s", "peak m³/s")):
        d = getattr(p, key)
        if d is not None:
            lo, hi = d.bounds()
            lines.append(f"{label}: {d.distribution}" + (f" {d.mean:,.0f} ± {d.sd:,.0f}" if d.distribution == "normal"
                                                         else f" {lo:g}–{hi:g}" if lo != hi else f" {lo:g}"))
    if p.shape is not None:
        lines.append("shapes: " + ", ".join(p.shape.values))
    if p.breach is not None:
        lo, hi = p.breach.chainage_m.bounds()
        n_breach = sum(1 for n in run.used if run.members[n].breaches)
        lines.append(f"breach drawn in {p.breach.probability:.0%} of members ({n_breach} of {len(run.used)}),\n"
                     f"  {lo:,.0f}–{hi:,.0f} m, {'/'.join(p.breach.bank.values)} bank")
    area = float(np.nansum(run.cells["prob_depth_gt_0_3m"].values >= 0.5)) * reach.resolution_m ** 2 / 1e6
    lines.append(f"area > 0.3 m in ≥ 50 % of members: {area:.1f} km²")
    return "\n".join(lines)


def render_probability_html(run, villages, dikes, reach, path: Path) -> Path:
    """The probability map as one offline HTML file (Leaflet): P(depth > 0.3 m) and P(depth > 1.0 m) as
    layers, the dikes and villages with pop-ups of their probabilities."""
    from html import escape

    import folium

    from floodtwin.errors import InputError
    from floodtwin.maps.offline import leaflet_inline, require_offline, strip_cdn
    from floodtwin.maps.raster import grey_hillshade, png_data_uri, warp_to_mercator

    x, y = reach.dem.x.values, reach.dem.y.values
    m = folium.Map(tiles=None, control_scale=True, zoom_snap=0.25)
    m.get_root().title = _title(run)

    def overlay(rgba, name, *, show=True, base=False):
        image, bounds = warp_to_mercator(rgba, x, y, reach.crs, width_px=2 * x.size)
        group = folium.FeatureGroup(name=name, overlay=not base, show=show)
        folium.raster_layers.ImageOverlay(png_data_uri(image), bounds=[list(b) for b in bounds],
                                          interactive=False, zindex=1).add_to(group)
        group.add_to(m)
        return bounds

    bounds = overlay(grey_hillshade(reach), "hillshade", base=True)
    overlay(probability_rgba(run.cells["prob_depth_gt_0_3m"].values), "P(depth > 0.3 m) 水深>0.3米概率")
    overlay(probability_rgba(run.cells["prob_depth_gt_1_0m"].values), "P(depth > 1.0 m) 水深>1米概率", show=False)
    channel = reach.channel.to_crs("EPSG:4326")[["geometry"]].assign(label="黄河主槽 Yellow River main channel")
    folium.GeoJson(channel, name="main channel 主槽",
                   style_function=lambda f: {"color": "#1f4e79", "weight": 1, "fillColor": "#8fb8de", "fillOpacity": 0.9},
                   tooltip=folium.GeoJsonTooltip(["label"], labels=False)).add_to(m)
    d = dikes.to_crs("EPSG:4326")
    d["label"] = [f"{r.segment_id} {r.post_from}–{r.post_to}: P(freeboard < 1 m) {r.prob_freeboard_lt_1m:.0%}"
                  for r in d.itertuples()]
    d["colour"] = [_dike_colour(p) for p in d.prob_freeboard_lt_1m]
    folium.GeoJson(d[["label", "colour", "geometry"]], name="dikes 大堤",
                   style_function=lambda f: {"color": f["properties"]["colour"], "weight": 5, "opacity": 1.0},
                   tooltip=folium.GeoJsonTooltip(["label"], labels=False)).add_to(m)
    v = villages.to_crs("EPSG:4326")
    from floodtwin.risk import HAZARD_CLASSES

    v["label"] = [f"{r.name_zh} {r.name_en}: flooded in {r.prob_flooded:.0%} of members" for r in v.itertuples()]
    v["popup"] = ["<b>" + escape(f"{r.name_zh} {r.name_en}") + f"</b><br>{int(r.population):,} people<br>"
                  + f"P(flooded) {r.prob_flooded:.0%}<br>median max depth {r.depth_median_m:.2f} m<br>"
                  + "<br>".join(f"P({c}) {getattr(r, 'prob_' + c):.0%}" for c in HAZARD_CLASSES)
                  for r in v.itertuples()]
    v["colour"] = [VILLAGE_COLOURS[int(b)] for b in _band(v.prob_flooded.to_numpy(float), PROB_BOUNDS)]
    folium.GeoJson(v[["label", "popup", "colour", "geometry"]], name="villages 村庄",
                   # a white ring: a village stays visible on the purple of its own probability band
                   marker=folium.CircleMarker(radius=9, weight=3, color="#ffffff", fill=True, fill_opacity=1.0),
                   style_function=lambda f: {"fillColor": f["properties"]["colour"]},
                   tooltip=folium.GeoJsonTooltip(["label"], labels=False),
                   popup=folium.GeoJsonPopup(["popup"], labels=False, max_width=420)).add_to(m)
    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    m.fit_bounds([list(b) for b in bounds])
    legend = "".join(f"<div><span style='display:inline-block;width:14px;height:10px;background:{c}'></span> {lab}</div>"
                     for c, lab in zip(PROB_COLOURS, PROB_LABELS))
    legend += "<b>dike: P(freeboard &lt; 1 m)</b>" + "".join(
        f"<div><span style='display:inline-block;width:14px;height:4px;background:{c};vertical-align:middle'></span> "
        f"{lab}</div>" for c, lab in zip(DIKE_COLOURS, DIKE_LABELS))
    root = m.get_root()
    root.html.add_child(folium.Element(
        "<div style='position:fixed;bottom:24px;left:12px;z-index:9999;background:white;padding:8px;"
        f"font:12px sans-serif;border:1px solid #999'><b>{escape(_title(run))}</b><br><b>P(max depth &gt; 0.3 m)</b>"
        f"{legend}</div>"))
    root.header.add_child(folium.Element(leaflet_inline()), name="leaflet_inline", index=0)
    strip_cdn(m)
    html = require_offline(root.render())
    try:
        path.write_text(html, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot write the map ({exc.strerror or exc})") from None
    return path
