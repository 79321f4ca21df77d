"""The result map as a PNG (``floodtwin.maps.png``): one page a duty officer reads at a glance — the flood
(max depth in bands, or the FD2320 hazard classes) over the hillshade of the reach, the dikes coloured by
freeboard, the villages by hazard with their depth and arrival time, the grids (the flooded ones named
with their task count), the works with the speed at their spur heads, the smart stones, the evacuation
points; a side panel with the legend, the scale of the layer and the figures of the run.

The drawing parts (fonts, labels, hillshade, halo, scale bar, north arrow, the checked PNG writer) are the
reach map's, from :mod:`floodtwin.reach.cartography`; label placement is the reach map's ``Labeller``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from floodtwin.maps.inputs import check_flood, check_layer, check_layers, check_title
from floodtwin.maps.raster import depth_rgba, grey_hillshade, hazard_rgba, north_up, wet_mask
from floodtwin.maps.style import DEPTH_BOUNDS_M, DEPTH_COLOURS, DRY_DEPTH_M, FREEBOARD, HAZARD, village_colour
from floodtwin.reach.cartography import (bilingual, check_dpi, draw_lines, fill_polygons, halo, north_arrow, save_png,
                                         scale_bar, setup_fonts)
from floodtwin.reach.map_layout import AROUND, FAR, Labeller

log = logging.getLogger(__name__)

__all__ = ["render_png", "page_size_in"]

# page in inches: the map keeps the DEM's true aspect; the side panel holds legend and figures
PAGE_W_IN, LEFT_IN, RIGHT_IN, SIDE_IN, GAP_IN = 16.0, 0.35, 0.25, 3.6, 0.3
TITLE_IN, FOOT_IN = 1.0, 0.35
CHANNEL_FILL = "#8fb8de"
CHANNEL_EDGE = "#1f4e79"
GRID_LINE = "#37474f"
EXCLUSIVE = "#6a1b9a"
WORKS = "#5d4037"
STONE = "#212121"
EVACUATION = "#00897b"
#: far callouts for villages: they cluster on the floodplain, and the water above them has room
VILLAGE_CALLOUTS = [(dx, dy, "center", "bottom") for dy in (42, 66, 90, 114, 138) for dx in (0, -70, 70, -140, 140)]
DEPOT = "#3949ab"
#: a breach: a black cross on a white casing, readable on every depth and hazard colour
BREACH = "#000000"


def page_size_in(dem) -> tuple[float, float]:
    """(width, height) of the page in inches for the reach ``dem``: the map at its true aspect."""
    map_w = PAGE_W_IN - LEFT_IN - RIGHT_IN - SIDE_IN - GAP_IN
    aspect = (dem.y.size * abs(float(dem.y[1] - dem.y[0]))) / (dem.x.size * abs(float(dem.x[1] - dem.x[0])))
    return PAGE_W_IN, TITLE_IN + map_w * aspect + FOOT_IN


def render_png(flood, layers, reach, *, title: str, subtitle: str = "", path: str | Path, layer: str = "depth",
               dpi: int = 150) -> Path:
    """Draw the result map of one run as a PNG at ``path`` and return the path. ``flood``: the run's
    Dataset on the reach DEM grid (max_depth m, max_speed m/s, arrival_time s, max_hazard_rating,
    hazard_class 0-4); ``layers``: its villages, grids, dikes and works; ``layer``: ``depth`` or
    ``hazard``; ``title``/``subtitle``: scenario, response level and colour. Cells and villages at or
    below DRY_DEPTH_M (0.05 m) are dry. Bad arguments or an unwritable path -> InputError."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    check_layer(layer)
    check_title(title)
    check_dpi(dpi)
    check_flood(flood, reach.dem)
    check_layers(layers, reach.crs)
    cjk = setup_fonts()
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)  # no bold face in WenQuanYi

    dem = reach.dem
    dx = reach.resolution_m
    x, y = dem.x.values, dem.y.values
    extent = (x.min() - dx / 2, x.max() + dx / 2, y.min() - dx / 2, y.max() + dx / 2)
    page_w, page_h = page_size_in(dem)
    map_w = page_w - LEFT_IN - RIGHT_IN - SIDE_IN - GAP_IN
    map_h = page_h - TITLE_IN - FOOT_IN
    fig = plt.figure(figsize=(page_w, page_h))

    def rect(x0, top, w, h):  # inches from the top-left corner -> figure fraction
        return [x0 / page_w, 1.0 - (top + h) / page_h, w / page_w, h / page_h]

    ax = fig.add_axes(rect(LEFT_IN, TITLE_IN, map_w, map_h))
    _draw_map(fig, ax, flood, layers, reach, extent, layer, cjk)
    side_x = LEFT_IN + map_w + GAP_IN
    _draw_side(fig, flood, layers, reach, layer, cjk, rect(side_x, TITLE_IN, SIDE_IN, map_h))
    fig.text(0.5, 1 - 0.36 / page_h, title, ha="center", va="center", fontsize=17, fontweight="bold")
    if subtitle:
        fig.text(0.5, 1 - 0.74 / page_h, subtitle, ha="center", va="center", fontsize=11, color="#333333")
    fig.text(0.5, 0.17 / page_h, _footer(reach), ha="center", va="center", fontsize=7.5, color="#555555")
    return save_png(fig, path, dpi=dpi)


def _footer(reach) -> str:
    from floodtwin import __version__

    return (f"EPSG:{reach.crs.to_epsg()} (CGCS2000 / 3-degree Gauss-Kruger CM 114E), grid north up  ·  "
            f"cells and villages with max depth ≤ {DRY_DEPTH_M:g} m shown dry  ·  hazard: Defra/EA FD2320  ·  "
            f"{reach.resolution_m:g} m grid  ·  floodtwin {__version__}")


def _draw_map(fig, ax, flood, layers, reach, extent, layer: str, cjk: bool) -> None:
    y = reach.dem.y.values
    ax.imshow(north_up(y, grey_hillshade(reach)), extent=extent, origin="upper", interpolation="bilinear", zorder=0)
    depth = flood.max_depth.values
    rgba = depth_rgba(depth) if layer == "depth" else hazard_rgba(flood.hazard_class.values, depth)
    ax.imshow(north_up(y, rgba), extent=extent, origin="upper", interpolation="nearest", zorder=1)
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.apply_aspect()
    lab = Labeller(fig, ax)

    # hatched, so the main channel never reads as one more depth band
    fill_polygons(ax, reach.channel.geometry, fc=CHANNEL_FILL, ec="white", hatch="////", lw=0.0, zorder=2)
    draw_lines(ax, reach.channel.geometry, color=CHANNEL_EDGE, linewidth=0.7, zorder=2)
    grids = _with_level(layers["grids"], reach)
    regular = grids[grids.level != "exclusive"]
    exclusive = grids[grids.level == "exclusive"]
    draw_lines(ax, regular.geometry, color=GRID_LINE, linewidth=0.45, alpha=0.7, zorder=3)
    draw_lines(ax, exclusive.geometry, color=EXCLUSIVE, linewidth=1.1, linestyle="--", zorder=3)
    works = layers["works"]
    fill_polygons(ax, works.geometry, fc="none", ec=WORKS, lw=1.2, zorder=5)
    draw_lines(ax, reach.spurs.geometry, color=WORKS, linewidth=0.9, zorder=5)
    _draw_dikes(ax, layers["dikes"])
    stones = reach.stones
    ax.scatter(stones.geometry.x, stones.geometry.y, s=3, c=STONE, linewidths=0, zorder=7)
    depots = reach.depots
    ax.scatter(depots.geometry.x, depots.geometry.y, s=34, marker="s", c=DEPOT, edgecolors="white", linewidths=0.7,
               zorder=9)

    villages = layers["villages"]
    out = villages[villages.flooded.astype(bool)]
    for r in out.itertuples():  # evacuation routes of the villages that must leave
        ax.annotate("", xy=(r.evac_x, r.evac_y), xytext=(r.geometry.x, r.geometry.y), zorder=8,
                    arrowprops=dict(arrowstyle="-|>", color=EVACUATION, lw=1.4, shrinkA=6, shrinkB=4))
    ax.scatter(villages.evac_x, villages.evac_y, s=46, marker="^", c=EVACUATION, edgecolors="white", linewidths=0.7,
               zorder=9)
    # a black and white ring: a village stays visible on any class colour, its own included
    ax.scatter(villages.geometry.x, villages.geometry.y, s=190, c="black", linewidths=0, zorder=10)
    ax.scatter(villages.geometry.x, villages.geometry.y, s=95, c=[village_colour(h) for h in villages.hazard_class],
               edgecolors="white", linewidths=1.6, zorder=10)
    for xs, ys, r in ((villages.geometry.x, villages.geometry.y, 7), (villages.evac_x, villages.evac_y, 6),
                      (depots.geometry.x, depots.geometry.y, 5)):
        lab.block_points(xs, ys, r)

    # labels by importance: villages (people), works (the spur heads), dikes short of freeboard, grids
    for r in villages.itertuples():
        lab.place(_village_label(r, cjk), (r.geometry.x, r.geometry.y), AROUND + FAR + VILLAGE_CALLOUTS,
                  leader="#424242",
                  fontsize=7.5, zorder=13,
                  bbox=dict(boxstyle="round,pad=0.25", fc="white", ec=village_colour(r.hazard_class), lw=1.4,
                            alpha=0.92))
    for w in works.itertuples():
        c = w.geometry.representative_point()
        text = bilingual(w.name_zh, w.name_en, cjk, " ") + f"\nmax {w.max_speed_ms:.1f} m/s at the spur heads"
        if w.attack:
            text += "\n" + bilingual("大溜顶冲", "main flow attack", cjk, " ")
        lab.place(text, (c.x, c.y), [(0, 40, "center", "bottom"), (0, -40, "center", "top"), (-60, 36, "center", "bottom"),
                                     (60, 36, "center", "bottom"), (-60, -36, "center", "top"), (60, -36, "center", "top")],
                  leader=WORKS, fontsize=7.5, color="#3e2723", fontweight="bold", zorder=12,
                  path_effects=halo(2.5))
    breaches = layers.get("breaches")
    if breaches is not None and len(breaches):
        bx, by = breaches.geometry.x, breaches.geometry.y
        ax.scatter(bx, by, s=260, marker="X", c="white", linewidths=0, zorder=11)
        ax.scatter(bx, by, s=150, marker="X", c=BREACH, linewidths=0, zorder=11)
        lab.block_points(bx, by, 8)
        for r in breaches.itertuples():
            lab.place(_breach_label(r, cjk), (r.geometry.x, r.geometry.y), AROUND + FAR, leader=BREACH, fontsize=8,
                      fontweight="bold", zorder=13, bbox=dict(boxstyle="round,pad=0.25", fc="white", ec=BREACH, lw=1.6))
    _label_dikes(lab, layers["dikes"])
    _label_grids(lab, regular, exclusive, cjk)
    scale_bar(ax, extent, 5000.0)
    north_arrow(ax)


def _with_level(grids, reach):
    """The grids with the reach's ``level`` (grid or exclusive), which the result layer need not carry."""
    if "level" in grids.columns:
        return grids
    return grids.merge(reach.grids[["grid_id", "level"]], on="grid_id", how="left")


def _breach_label(r, cjk: bool) -> str:
    bank = bilingual("右岸" if r.bank == "right" else "左岸", f"{r.bank} bank", cjk, " ")
    return (bilingual("决口", "breach", cjk, " ") + f" {r.breach_id} {r.post} {bank}\n"
            f"opens at {r.start_h:g} h, {r.final_width_m:g} m wide after {r.time_to_full_h:g} h")


def _village_label(r, cjk: bool) -> str:
    name = bilingual(r.name_zh, r.name_en, cjk, " ")
    if not bool(r.flooded):
        return f"{name}\n{int(r.population):,} people · dry"
    arrival = "" if not np.isfinite(r.arrival_time_s) else f" · in {r.arrival_time_s / 3600:.1f} h"
    return f"{name}\n{int(r.population):,} people · {r.max_depth_m:.1f} m{arrival}"


def _draw_dikes(ax, dikes) -> None:
    """Dikes in their freeboard colour on a dark casing, so yellow and green read over any flood colour."""
    draw_lines(ax, dikes.geometry, color="#212121", linewidth=4.4, zorder=6, capstyle="round")
    for c in FREEBOARD:
        sel = dikes[dikes.freeboard_class == c.key]
        if len(sel):
            draw_lines(ax, sel.geometry, color=c.colour, linewidth=2.8, zorder=6, capstyle="round")


def _label_dikes(lab, dikes) -> None:
    """The posts and freeboard of the dike sections short of 1 m: where the patrols go first."""
    short = dikes[dikes.freeboard_class.isin([FREEBOARD[0].key, FREEBOARD[1].key])]
    for r in short.sort_values("freeboard_m").itertuples():
        c = r.geometry.interpolate(0.5, normalized=True)
        lab.place(f"{r.post_from}–{r.post_to}  {r.freeboard_m:+.1f} m", (c.x, c.y), AROUND, optional=True,
                  fontsize=6.5, color="#b71c1c", fontweight="bold", zorder=11, path_effects=halo(2.0))


def _label_grids(lab, regular, exclusive, cjk: bool) -> None:
    """Name only the grids with water or tasks (id, tasks, people): 68 names would bury the map."""
    busy = regular[(regular.flooded_area_km2 > 0) | (regular.task_count > 0)]
    busy = busy.sort_values(["task_count", "people", "flooded_area_km2"], ascending=False)
    for r in busy.itertuples():
        p = r.geometry.representative_point()
        n = int(r.task_count)
        text = r.grid_id + (f" · {n} task{'s' if n > 1 else ''}" if n else "")
        lab.place(text, (p.x, p.y), [(0, 0, "center", "center"), (0, 9, "center", "center"), (0, -9, "center", "center")],
                  optional=True, fontsize=6.5, color="#263238", zorder=9, path_effects=halo(2.0))
    for r in exclusive.itertuples():
        p = r.geometry.representative_point()
        lab.place(r.grid_id + " " + (r.name_zh if cjk else r.name_en), (p.x, p.y),
                  [(0, 0, "center", "center"), (0, 10, "center", "center")], optional=True, fontsize=6.5,
                  color=EXCLUSIVE, zorder=9, path_effects=halo(2.0))


def _draw_side(fig, flood, layers, reach, layer: str, cjk: bool, side_rect) -> None:
    import matplotlib.pyplot as plt
    from matplotlib.colors import BoundaryNorm, ListedColormap
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    def both(zh, en):
        return bilingual(zh, en, cjk, " ")

    x0, y0, w, h = side_rect
    handles = []
    if layer == "hazard":
        handles += [Patch(fc=c.colour, ec="#424242", label=both(c.zh, c.en)) for c in HAZARD]
    handles += [
        *[Line2D([], [], color=c.colour, lw=3, path_effects=[], label=both(c.zh, c.en)) for c in FREEBOARD],
        *[Line2D([], [], marker="o", ls="", ms=8, mfc=c.colour, mec="black", label=both("村庄", "village") + f": {c.key}")
          for c in HAZARD],
        Line2D([], [], marker="o", ls="", ms=8, mfc=village_colour("dry"), mec="black", label=both("村庄", "village") + ": dry"),
        Line2D([], [], marker="^", ls="-", ms=7, color=EVACUATION, mec="white", label=both("迁安", "evacuation → point")),
        Line2D([], [], color=GRID_LINE, lw=0.8, label=both("网格", "grid: id · tasks")),
        Line2D([], [], color=EXCLUSIVE, lw=1.1, ls="--", label=both("专属网格", "exclusive grid")),
        Patch(fc="none", ec=WORKS, lw=1.2, label=both("险工 / 控导", "works, spurs")),
        Line2D([], [], marker="o", ls="", ms=3, mfc=STONE, mec=STONE, label=f"{len(reach.stones)} " + both("智能石头", "smart stones")),
        Line2D([], [], marker="s", ls="", ms=6, mfc=DEPOT, mec="white", label=both("物资料场", "materials depot")),
        Patch(fc=CHANNEL_FILL, ec="white", hatch="////", label=both("主槽", "main channel")),
    ]
    if layers.get("breaches") is not None and len(layers["breaches"]):
        handles.append(Line2D([], [], marker="X", ls="", ms=9, mfc=BREACH, mec="white", label=both("决口", "dike breach")))
    bar_h = 0.13 * h if layer == "depth" else 0.0
    legend_h = (0.58 if layer == "hazard" else 0.5) * h
    lax = fig.add_axes([x0, y0 + h - bar_h - legend_h, w, legend_h])
    lax.axis("off")
    lax.legend(handles=handles, loc="upper left", fontsize=7.5, frameon=True, framealpha=1.0, borderpad=0.7,
               labelspacing=0.42, title=both("图例", "Legend"), title_fontsize=9.5, alignment="left")
    if layer == "depth":
        bax = fig.add_axes([x0 + 0.03 * w, y0 + h - 0.045 * h, 0.86 * w, 0.03 * h])
        bounds = list(DEPTH_BOUNDS_M) + [2 * DEPTH_BOUNDS_M[-1] - DEPTH_BOUNDS_M[-2]]
        sm = plt.cm.ScalarMappable(cmap=ListedColormap(DEPTH_COLOURS), norm=BoundaryNorm(bounds, len(DEPTH_COLOURS)))
        cb = fig.colorbar(sm, cax=bax, orientation="horizontal", ticks=bounds[:-1], extend="max")
        cb.ax.set_xticklabels([f"{b:g}" for b in bounds[:-1]])
        cb.set_label(both("最大水深", "max depth (m)"), fontsize=8.5)
        cb.ax.tick_params(labelsize=7)
    fax = fig.add_axes([x0, y0, w, h - bar_h - legend_h])
    fax.axis("off")
    fax.text(0.02, 0.98, "\n".join(_figures(flood, layers, reach, cjk)), ha="left", va="top", fontsize=8,
             linespacing=1.4, transform=fax.transAxes)


def _figures(flood, layers, reach, cjk: bool) -> list[str]:
    """The run in figures: what is wet, who must move, which dikes and works need people."""
    wet_km2 = wet_mask(flood.max_depth.values).sum() * reach.resolution_m ** 2 / 1e6
    v = layers["villages"]
    out = v[v.flooded.astype(bool)]
    d = layers["dikes"]
    g = layers["grids"]
    counts = d.freeboard_class.value_counts()
    works = layers["works"]
    attacked = works[works.attack.astype(bool)]
    return [
        bilingual("本次计算", "This run", cjk, " "),
        f"flooded {wet_km2:,.1f} km² · max depth {np.nanmax(flood.max_depth.values):.1f} m",
        f"villages flooded {len(out)} / {len(v)}: {int(out.population.sum()):,} people,",
        f"   {int(out.special_attention.sum())} needing special attention",
        f"{len(d)} dike sections: {int(counts.get('overtopped', 0))} overtopped,",
        f"   {int(counts.get('lt_1m', 0))} < 1 m, {int(counts.get('lt_2m', 0))} 1–2 m, "
        f"{int(counts.get('ge_2m', 0))} ≥ 2 m freeboard",
        f"grids with tasks {int((g.task_count > 0).sum())} ({int(g.task_count.sum())} tasks)",
        "works under main-flow attack:",
        *(["   " + name for name in (attacked.name_zh if cjk else attacked.name_en)] or ["   none"]),
        *_breach_figures(layers.get("breaches"), flood, reach),
    ]


def _breach_figures(breaches, flood, reach) -> list[str]:
    """The breaches of the run and the water behind the dikes they let out."""
    if breaches is None or not len(breaches):
        return []
    behind = ~flood["between_dikes"].values if "between_dikes" in flood else None
    lines = [f"dike breaches {len(breaches)}:"]
    lines += [f"   {r.breach_id} {r.post} {r.bank} bank from {r.start_h:g} h" for r in breaches.itertuples()]
    if behind is not None:
        km2 = (wet_mask(flood.max_depth.values) & behind).sum() * reach.resolution_m ** 2 / 1e6
        lines.append(f"   behind the dikes {km2:,.1f} km² under water")
    return lines
