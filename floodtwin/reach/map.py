"""The reach map (``floodtwin.reach.map``, moved here from ``floodtwin.maps``): the wall map of the
reach's data as a PNG, drawn by ``floodtwin reach map``.

The map is one page: the whole reach (hillshaded DEM, dikes with chainage posts, works,
grids, villages with their evacuation routes, depots, the gauge, key defence points), and below it
detail strips of the works drawn along the dike (chainage across, distance from the dike up, true
scale) where the spurs, their numbers and the 249 smart stones can be read. A side panel holds the
legend, the inventory and the elevation scale.

The drawing parts every map shares (fonts, bilingual labels, hillshade, scale bar, north arrow,
the PNG writer) are in :mod:`floodtwin.reach.cartography`, which the result maps use too; where things go on the page
(the dike frame, the strips, label placement) is in :mod:`floodtwin.reach.map_layout`.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from floodtwin.reach.map_layout import (AROUND, CALLOUT, FAR, STRIP_GAP_IN, Labeller, Strip, dike_frame,
                                       sample_dem, strip_rows, strips_of, to_sn)
from floodtwin.reach.cartography import (bilingual, check_dpi, draw_lines, fill_polygons, halo, hillshade_rgb, land_cmap,
                                         north_arrow, save_png, scale_bar, setup_fonts)

log = logging.getLogger(__name__)

__all__ = ["reach_map_png"]

WORKS_COLOURS = ("#c0392b", "#8e44ad", "#d35400", "#1f618d", "#117a65", "#7d6608")
DIKE = "#5d2906"
CHANNEL_FILL = "#5b9bd5"
CHANNEL_EDGE = "#1f4e79"
GRID_LINE = "#4d4d4d"
EXCLUSIVE = "#e67e22"
VILLAGE = "#f4d03f"
EVACUATION = "#1e8449"
DEPOT = "#148f77"
GAUGE = "#2471a3"
KEY_POINT = "#e74c3c"


# --------------------------------------------------------------------------------------------
# the reach map
# --------------------------------------------------------------------------------------------
def reach_map_png(reach, output: str | Path, *, dpi: int = 150) -> Path:
    """Draw the reach on one page (overview, works detail strips, legend and inventory) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    check_dpi(dpi)
    cjk = setup_fonts()
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)  # no bold face in WenQuanYi
    L = reach.layers
    dem = reach.dem
    frame = dike_frame(L["dikes"])
    strips = strips_of(L, frame)
    colours = {w: WORKS_COLOURS[i % len(WORKS_COLOURS)] for i, w in enumerate(L["works"].works_id)}
    crest = float(L["dikes"]["crest_elevation_m"].max())
    land = float(L["dikes"]["land_elevation_m"].min())
    norm = (land - 1.0, crest)

    # --- page layout in inches: the overview keeps its true aspect, strips share rows ---------
    dx = reach.resolution_m
    x = dem.x.values
    y = dem.y.values
    extent = (x.min() - dx / 2, x.max() + dx / 2, y.min() - dx / 2, y.max() + dx / 2)
    page_w, left, right, side_w, gap = 18.0, 0.8, 0.3, 4.1, 0.35
    map_w = page_w - left - right - side_w - gap
    map_h = map_w * (extent[3] - extent[2]) / (extent[1] - extent[0])
    rows = strip_rows(strips, page_w - left - right)
    title_h, under_map, footer = 1.05, 0.55, 0.4
    row_heights = [(0.22 + 0.17 * max(len(st.works) for st, _ in row)) + h + 0.6 for row, h in rows]
    page_h = title_h + map_h + under_map + sum(row_heights) + footer
    fig = plt.figure(figsize=(page_w, page_h))

    def rect(x0, top, w, h):  # inches from the top-left corner -> figure fraction
        return [x0 / page_w, 1.0 - (top + h) / page_h, w / page_w, h / page_h]

    ax = fig.add_axes(rect(left, title_h, map_w, map_h))
    _draw_overview(fig, ax, reach, frame, strips, colours, extent, norm, cjk)
    top = title_h + map_h + under_map
    for (row, h), row_h in zip(rows, row_heights):
        x0 = left
        for strip, w in row:
            title_lines = 0.22 + 0.17 * len(strip.works)
            sax = fig.add_axes(rect(x0, top + title_lines, w, h))
            _draw_strip(fig, sax, reach, frame, strip, colours, norm, cjk)
            x0 += w + STRIP_GAP_IN
        top += row_h
    side_x = left + map_w + gap
    _draw_side_panel(fig, reach, colours, norm, cjk,
                     legend_rect=rect(side_x, title_h, side_w, map_h * 0.62),
                     facts_rect=rect(side_x, title_h + map_h * 0.62, side_w, map_h * 0.30),
                     bar_rect=rect(side_x + 0.1, title_h + map_h * 0.955, side_w - 0.3, 0.16))
    _draw_titles(fig, reach, cjk, page_h)
    return save_png(fig, output, dpi=dpi)


def _draw_titles(fig, reach, cjk: bool, page_h: float) -> None:
    from floodtwin import __version__

    name_zh = reach.params.name_zh if reach.params is not None else ""
    name_en = f"{reach.name.capitalize()} reach of the Yellow River"
    title = f"{name_zh}防汛一张图 · {name_en} — flood-defence map" if cjk and name_zh else \
        f"{name_en} — flood-defence map"
    fig.text(0.5, 1 - 0.42 / page_h, title, ha="center", va="center", fontsize=17, fontweight="bold")
    L = reach.layers
    grids = L["grids"]
    design = ""
    if reach.params is not None:
        q = float(reach.params.rating.design_discharge_m3s.value)
        design = f"design flood {q:,.0f} m³/s: "
    dikes = L["dikes"]
    sub = (f"{design}design flood level {dikes.design_flood_level_m.min():.1f}–{dikes.design_flood_level_m.max():.1f} m, "
           f"dike crests {dikes.crest_elevation_m.min():.1f}–{dikes.crest_elevation_m.max():.1f} m  ·  "
           f"{(grids.level == 'grid').sum()} grids + {(grids.level == 'exclusive').sum()} exclusive grids  ·  "
           f"{len(L['staff'])} grid staff  ·  {len(L['stones'])} smart stones  ·  "
           f"{len(L['villages'])} floodplain villages, {int(L['villages'].population.sum()):,} people")
    fig.text(0.5, 1 - 0.80 / page_h, sub, ha="center", va="center", fontsize=10.5, color="#333333")
    src = reach.source.name if reach.source is not None else reach.name
    foot = (f"EPSG:{reach.crs.to_epsg()} (CGCS2000 / 3-degree Gauss-Kruger CM 114E), grid north up  ·  data: {src} "
            f"and a {reach.resolution_m:g} m DEM  ·  positions are representative where survey data is not public  ·  "
            f"floodtwin {__version__}")
    fig.text(0.5, 0.2 / page_h, foot, ha="center", va="center", fontsize=8, color="#555555")


def _draw_overview(fig, ax, reach, frame, strips, colours, extent, norm, cjk: bool) -> None:
    import shapely
    from matplotlib.patches import Polygon as MplPolygon

    L = reach.layers
    dem = reach.dem
    rgb = hillshade_rgb(dem.values, reach.resolution_m, vmin=norm[0], vmax=norm[1])
    if dem.y.values[0] < dem.y.values[-1]:
        rgb = rgb[::-1]
    ax.imshow(rgb, extent=extent, origin="upper", interpolation="bilinear")
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_aspect("equal")
    ax.apply_aspect()
    lab = Labeller(fig, ax)

    fill_polygons(ax, L["channel"].geometry, fc=CHANNEL_FILL, ec="none", alpha=0.45, zorder=2)
    draw_lines(ax, L["channel"].geometry, color=CHANNEL_EDGE, linewidth=0.8, zorder=2)
    grids = L["grids"]
    regular = grids[grids.level == "grid"]
    exclusive = grids[grids.level == "exclusive"]
    draw_lines(ax, regular.geometry, color=GRID_LINE, linewidth=0.45, alpha=0.8, zorder=3)
    draw_lines(ax, exclusive.geometry, color=EXCLUSIVE, linewidth=1.3, linestyle="--", zorder=4)
    for w in L["works"].itertuples():
        ax.add_patch(MplPolygon(np.asarray(w.geometry.exterior.coords), closed=True, fc=colours[w.works_id],
                                ec=colours[w.works_id], lw=0.6, alpha=0.85, zorder=5))
    draw_lines(ax, L["dikes"].geometry, color=DIKE, linewidth=2.6, zorder=6)
    ax.scatter(L["stones"].geometry.x, L["stones"].geometry.y, s=2, c="black", zorder=7, linewidths=0)

    # strip footprints, so the reader finds each detail strip on the overview
    for st in strips:
        s = np.linspace(st.s0, st.s1, 60)
        ss = np.concatenate([s, s[::-1]])
        nn = np.concatenate([np.full_like(s, st.n0), np.full_like(s, st.n1)])
        fx, fy = frame.to_xy(ss, nn)
        ax.add_patch(MplPolygon(np.column_stack([fx, fy]), closed=True, fill=False, ec="black", lw=1.0,
                                ls=(0, (4, 2)), zorder=8))
        lx, ly = frame.to_xy(st.s0, st.n1)
        t = ax.annotate(st.letter, (lx, ly), xytext=(-3, 3), textcoords="offset points", ha="right", va="bottom",
                        fontsize=12, fontweight="bold", zorder=12, path_effects=halo(3))
        lab.take(t)

    # chainage posts every 2 km on the right dike, written on the land side
    right = L["dikes"][L["dikes"].bank == "right"]
    for r in right.itertuples():
        if int(round(r.chainage_from_m)) % 2000:
            continue
        px, py = frame.to_xy(r.chainage_from_m, 0.0)
        tx, ty = frame.to_xy(r.chainage_from_m, -230.0)
        ax.plot([px, tx], [py, ty], color=DIKE, lw=1.2, zorder=6)
        t = ax.annotate(r.post_from, (tx, ty), ha="center", va="top", fontsize=7.5, fontweight="bold", color=DIKE,
                        zorder=11, path_effects=halo(2.5))
        lab.take(t)

    # the river's name
    axis = L["centerline"].geometry.iloc[0]
    a, b = axis.interpolate(0.47, normalized=True), axis.interpolate(0.57, normalized=True)
    ax.annotate("", xy=(b.x, b.y), xytext=(a.x, a.y),
                arrowprops=dict(arrowstyle="-|>,head_width=0.5,head_length=0.9", color=CHANNEL_EDGE, lw=2.2), zorder=10)
    mid = axis.interpolate(0.52, normalized=True)
    t = ax.annotate(bilingual("黄河", "Yellow River", cjk, " ") + "  flow →", (mid.x, mid.y), xytext=(0, 10),
                    textcoords="offset points", ha="center", va="bottom", fontsize=13, color=CHANNEL_EDGE,
                    style="italic", fontweight="bold", zorder=11, path_effects=halo(3))
    lab.take(t)

    # works callouts first: they are what the strips are about
    for w in L["works"].itertuples():
        c = w.geometry.representative_point()
        lab.place(bilingual(w.name_zh, w.name_en, cjk) + f"\n{w.post_from}–{w.post_to} · {int(w.n_structures)} structures",
                  (c.x, c.y), CALLOUT, leader=colours[w.works_id], fontsize=8, color=colours[w.works_id],
                  fontweight="bold", zorder=13,
                  bbox=dict(boxstyle="round,pad=0.25", fc="white", ec=colours[w.works_id], alpha=0.92))

    villages = L["villages"]
    ax.scatter(villages.evac_x, villages.evac_y, s=40, marker="^", c=EVACUATION, edgecolors="white",
               linewidths=0.6, zorder=9)
    for r in villages.itertuples():
        ax.annotate("", xy=(r.evac_x, r.evac_y), xytext=(r.geometry.x, r.geometry.y), zorder=8,
                    arrowprops=dict(arrowstyle="-|>", color=EVACUATION, lw=1.3, alpha=0.9, shrinkA=5, shrinkB=4))
    ax.scatter(villages.geometry.x, villages.geometry.y, s=70, marker="o", c=VILLAGE, edgecolors="black",
               linewidths=0.9, zorder=10)
    lab.block_points(villages.geometry.x, villages.geometry.y, 6)
    lab.block_points(villages.evac_x, villages.evac_y, 5)
    for r in villages.itertuples():
        text = f"{r.name_zh if cjk else r.name_en}  {int(r.population):,} / {int(r.special_attention)}"
        if cjk:
            text += f"\n{r.name_en}"
        lab.place(text, (r.geometry.x, r.geometry.y), AROUND + FAR, leader="#555555", fontsize=7, zorder=12,
                  path_effects=halo(2.2))

    # points the strips show are only marked here; the others are labelled
    def in_a_strip(gdf):
        xy = shapely.get_coordinates(np.asarray(gdf.geometry))
        s, n = frame.to_sn(xy[:, 0], xy[:, 1])
        return np.any([st.contains(s, n) for st in strips], axis=0)

    depots = L["depots"]
    ax.scatter(depots.geometry.x, depots.geometry.y, s=38, marker="s", c=DEPOT, edgecolors="black",
               linewidths=0.6, zorder=10)
    keys = L["key_points"]
    ax.scatter(keys.geometry.x, keys.geometry.y, s=70, marker="*", c=KEY_POINT, edgecolors="black",
               linewidths=0.4, zorder=10)
    gauges = L["gauges"]
    ax.scatter(gauges.geometry.x, gauges.geometry.y, s=90, marker="^", c=GAUGE, edgecolors="black", zorder=10)
    lab.block_points(depots.geometry.x, depots.geometry.y)
    lab.block_points(keys.geometry.x, keys.geometry.y)
    for r in gauges.itertuples():
        lab.place(bilingual(r.name_zh, r.name_en, cjk, " ") + f"\nSTCD {r.stcd}", (r.geometry.x, r.geometry.y),
                  [(-10, -26, "right", "top"), (10, -26, "left", "top"), (0, -40, "center", "top")],
                  leader=GAUGE, fontsize=7.5, color="#1a5276", zorder=12,
                  bbox=dict(boxstyle="round,pad=0.2", fc="white", ec=GAUGE, alpha=0.9))
    for r, inside in zip(depots.itertuples(), in_a_strip(depots)):
        if not inside:
            lab.place(f"{r.depot_id} " + bilingual(r.name_zh, r.name_en, cjk, " ") + "\n" + _materials(r),
                      (r.geometry.x, r.geometry.y), AROUND + FAR, leader=DEPOT, fontsize=7, color="#0b5345", zorder=12,
                      path_effects=halo(2.2))
    for r, inside in zip(keys.itertuples(), in_a_strip(keys)):
        if not inside:
            lab.place(f"{r.point_id} " + bilingual(r.name_zh, r.name_en, cjk, " "), (r.geometry.x, r.geometry.y),
                      AROUND + FAR, leader="#922b21", fontsize=7, color="#922b21", zorder=12,
                      path_effects=halo(2.2))

    # the town's name beyond its grids, once the points are labelled (its rotated box is wide)
    xy_grid = shapely.get_coordinates(np.asarray(regular.geometry))
    s_g, n_g = frame.to_sn(xy_grid[:, 0], xy_grid[:, 1])
    s_mid = 0.5 * (s_g.min() + s_g.max())
    angle = _angle_deg(frame, s_mid)
    normal = (np.cos(np.radians(angle - 90)), np.sin(np.radians(angle - 90)))  # points away from the river
    tx, ty = frame.to_xy(s_mid, n_g.min())
    lab.place(bilingual("花园口镇", "Huayuankou town", cjk, "  ") + f" · {len(regular)} grids", (tx, ty),
              [(normal[0] * d, normal[1] * d, "center", "center") for d in (16, 30, 46, 62)],
              fontsize=11, color="#333333", fontweight="bold", zorder=11, rotation=angle,
              rotation_mode="anchor", path_effects=halo(3))
    for r in regular.itertuples():  # grid names last: they give way to everything else
        c = r.geometry.representative_point()
        lab.place(r.grid_id, (c.x, c.y), [(0, 0, "center", "center"), (0, 7, "center", "center"),
                                          (0, -7, "center", "center")],
                  optional=True, fontsize=5.5, color="#222222", zorder=9, path_effects=halo(1.8))
    scale_bar(ax, extent, 5000.0)
    north_arrow(ax)
    ax.set_xlabel(f"easting (m), EPSG:{reach.crs.to_epsg()}", fontsize=8)
    ax.set_ylabel("northing (m)", fontsize=8)
    ax.ticklabel_format(style="plain", useOffset=False)
    ax.tick_params(labelsize=7)


def _angle_deg(frame, s: float) -> float:
    tx = float(np.interp(s, frame.s_m, frame.tx))
    ty = float(np.interp(s, frame.s_m, frame.ty))
    return float(np.degrees(np.arctan2(ty, tx)))


def _materials(depot) -> str:
    parts = []
    if depot.stone_m3:
        parts.append(f"stone {depot.stone_m3:,.0f} m³")
    parts.append(f"gabions {int(depot.gabions):,}")
    parts.append(f"sandbags {int(depot.sandbags):,}")
    parts.append(f"life jackets {int(depot.life_jackets):,}")
    return " · ".join(parts)


def _draw_strip(fig, ax, reach, frame, strip: Strip, colours, norm, cjk: bool) -> None:
    """One works detail strip at true scale: chainage along the dike across, distance from the dike up."""
    import shapely
    from matplotlib.ticker import FuncFormatter, MultipleLocator

    from floodtwin.reach.build import KIND_ZH, post_label

    L = reach.layers
    step = 10.0
    s = np.arange(strip.s0, strip.s1 + step, step)
    n = np.arange(strip.n0, strip.n1 + step, step)
    ss, nn = np.meshgrid(s, n)
    xx, yy = frame.to_xy(ss, nn)
    z = sample_dem(reach.dem, xx, yy)
    rgb = hillshade_rgb(z[::-1], step, vmin=norm[0], vmax=norm[1], vert_exag=4.0)
    ax.imshow(rgb, extent=(s[0] - step / 2, s[-1] + step / 2, n[0] - step / 2, n[-1] + step / 2), origin="upper",
              interpolation="bilinear")
    ax.set_xlim(strip.s0, strip.s1)
    ax.set_ylim(strip.n0, strip.n1)
    ax.set_aspect("equal")
    ax.apply_aspect()
    lab = Labeller(fig, ax)

    def sn(gdf):
        return to_sn(frame, gdf.geometry.values)

    fill_polygons(ax, sn(L["channel"]), fc=CHANNEL_FILL, ec="none", alpha=0.4, zorder=2)
    draw_lines(ax, sn(L["channel"]), color=CHANNEL_EDGE, lw=0.8, zorder=2)
    grids = L["grids"]
    regular = grids[grids.level == "grid"]
    exclusive = grids[grids.level == "exclusive"]
    draw_lines(ax, sn(regular), color=GRID_LINE, lw=0.5, alpha=0.7, zorder=3)
    excl_sn = sn(exclusive)
    draw_lines(ax, excl_sn, color=EXCLUSIVE, lw=1.4, ls="--", zorder=4)
    works = L["works"]
    mine = works[works.works_id.isin([w.works_id for w in strip.works])]
    for wid, g in zip(mine.works_id, sn(mine)):
        ax.fill(*g.exterior.xy, fc=colours[wid], alpha=0.18, ec=colours[wid], lw=1.0, zorder=4)
    draw_lines(ax, sn(L["dikes"][L["dikes"].bank == "right"]), color=DIKE, lw=3.0, zorder=6)

    spurs = L["spurs"][L["spurs"].works_id.isin(mine.works_id)]
    spur_sn = sn(spurs)
    widths = {"spur": 1.6, "short_spur": 1.1, "revetment": 2.2}
    tones = {"spur": "#3b1f0e", "short_spur": "#6e4b2a", "revetment": "#8c8c8c"}
    for kind in ("revetment", "short_spur", "spur"):
        sel = (spurs.kind == kind).to_numpy()
        if sel.any():
            draw_lines(ax, spur_sn[sel], color=tones[kind], lw=widths[kind], zorder=7, capstyle="round")
    stones = L["stones"][L["stones"].works_id.isin(mine.works_id)]
    st_sn = to_sn(frame, stones.geometry.values)
    ax.scatter(shapely.get_x(st_sn), shapely.get_y(st_sn), s=11, c=[colours[w] for w in stones.works_id],
               edgecolors="white", linewidths=0.4, zorder=9)

    # labels: named spurs and every 10th number at the spur heads, then points, then grid names
    heads = np.array([g.coords[-1] for g in spur_sn])
    works_zh = dict(zip(works.works_id, works.name_zh))
    named = {r.spur_id for r in spurs.itertuples()  # a name of its own (General's Dam …), not "<works>N号坝"
             if r.name_zh != f"{works_zh[r.works_id]}{r.number}号{KIND_ZH.get(r.kind, '')}"}
    for (r, (hs, hn)) in zip(spurs.itertuples(), heads):
        if r.spur_id in named:
            name = r.name_zh if cjk else r.name_en
            text = name if str(r.number) in name else f"{r.number} {name}"
            lab.place(text, (hs, hn), [(0, 14, "center", "bottom"), (0, 26, "center", "bottom")],
                      leader="#7b241c", fontsize=7.5, color="#7b241c", fontweight="bold", zorder=12,
                      path_effects=halo(2.2))
    for (r, (hs, hn)) in zip(spurs.itertuples(), heads):
        if r.number % 10 == 0 and r.spur_id not in named:
            lab.place(str(r.number), (hs, hn), [(0, 3, "center", "bottom"), (0, 12, "center", "bottom")],
                      optional=True, fontsize=6.5, color="#3b1f0e", zorder=11, path_effects=halo(1.8))
    for w, g in zip(mine.itertuples(), sn(mine)):
        c = g.representative_point()
        lab.place(bilingual(w.name_zh, w.name_en, cjk, " "), (c.x, g.bounds[3]),
                  [(0, 4, "center", "bottom"), (0, 16, "center", "bottom")], fontsize=8.5,
                  color=colours[w.works_id], fontweight="bold", zorder=12, path_effects=halo(2.5))

    def points(gdf):
        p = to_sn(frame, gdf.geometry.values)
        x, y = shapely.get_x(p), shapely.get_y(p)
        return x, y, strip.contains(x, y)

    gx, gy, gin = points(L["gauges"])
    dx_, dy_, din = points(L["depots"])
    kx, ky, kin = points(L["key_points"])
    ax.scatter(gx[gin], gy[gin], s=80, marker="^", c=GAUGE, edgecolors="black", zorder=10)
    ax.scatter(dx_[din], dy_[din], s=40, marker="s", c=DEPOT, edgecolors="black", lw=0.6, zorder=10)
    ax.scatter(kx[kin], ky[kin], s=90, marker="*", c=KEY_POINT, edgecolors="black", lw=0.4, zorder=10)
    lab.block_points(np.concatenate([gx[gin], dx_[din], kx[kin]]), np.concatenate([gy[gin], dy_[din], ky[kin]]))
    below = [(8, -8, "left", "top"), (-8, -8, "right", "top"), (8, -22, "left", "top"), (-8, -22, "right", "top"),
             (10, -36, "left", "top"), (-10, -36, "right", "top"), (12, -50, "left", "top"),
             (-12, -50, "right", "top"), (16, -64, "left", "top"), (-16, -64, "right", "top"),
             (8, 8, "left", "bottom"), (-8, 8, "right", "bottom")]
    for r, x0, y0, ok in zip(L["key_points"].itertuples(), kx, ky, kin):
        if ok:
            lab.place(f"{r.point_id} " + bilingual(r.name_zh, r.name_en, cjk, " "), (x0, y0), below, leader="#922b21",
                      fontsize=7, color="#922b21", zorder=12, path_effects=halo(2.2))
    for r, x0, y0, ok in zip(L["gauges"].itertuples(), gx, gy, gin):
        if ok:
            lab.place(bilingual(r.name_zh, r.name_en, cjk, " ") + f" · STCD {r.stcd}", (x0, y0), below, leader=GAUGE,
                      fontsize=7, color="#1a5276", zorder=12, path_effects=halo(2.2))
    for r, x0, y0, ok in zip(L["depots"].itertuples(), dx_, dy_, din):
        if ok:
            lab.place(f"{r.depot_id} " + bilingual(r.name_zh, r.name_en, cjk, " ") + "\n" + _materials(r), (x0, y0),
                      below, leader=DEPOT, fontsize=6.5, color="#0b5345", zorder=12, path_effects=halo(2.2))
    window = shapely.box(strip.s0, strip.n0, strip.s1, strip.n1)
    for r, g in zip(exclusive.itertuples(), excl_sn):
        x0, y0, _, _ = g.bounds
        if g.intersection(window).area > 0:
            lab.place(f"{r.grid_id} " + (r.name_zh if cjk else r.name_en),
                      (max(x0, strip.s0), max(y0, strip.n0)), [(4, 3, "left", "bottom"), (4, 14, "left", "bottom")],
                      optional=True, fontsize=6.5, color="#a04000", zorder=11, path_effects=halo(2.0))
    for r, g in zip(regular.itertuples(), sn(regular)):
        c = g.intersection(shapely.box(strip.s0, strip.n0, strip.s1, strip.n1))
        if not c.is_empty and c.area > 0:
            p = c.representative_point()
            lab.place(r.grid_id, (p.x, p.y), [(0, 0, "center", "center")], optional=True, fontsize=6,
                      color="#333333", zorder=8, path_effects=halo(1.8))

    span = strip.s1 - strip.s0
    ax.xaxis.set_major_locator(MultipleLocator(1000.0 if span > 5000 else 500.0))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: post_label(v)))
    ax.yaxis.set_major_locator(MultipleLocator(250.0 if strip.n1 - strip.n0 > 800 else 100.0))
    ax.tick_params(labelsize=7)
    ax.set_ylabel("m from the dike", fontsize=7.5)
    wide = ax.get_window_extent(lab.renderer).width / fig.dpi > 12.0
    lines = []
    for w in strip.works:
        line = f"{w.name_zh if cjk else w.name_en}  {w.post_from}–{w.post_to} · {int(w.n_structures)} structures"
        if wide:
            line = (f"{bilingual(w.name_zh, w.name_en, cjk, ' ')}  {w.post_from}–{w.post_to} · {int(w.n_structures)} "
                    f"structures ({int(w.n_spurs)} spurs, {int(w.n_short_spurs)} short spurs, "
                    f"{int(w.n_revetments)} revetments)")
        lines.append(f"{line} · {int(w.n_stones)} smart stones")
    ax.set_title(f"{strip.letter}   " + "\n      ".join(lines), loc="left", fontsize=9, fontweight="bold", pad=4)
    ax.set_xlabel("chainage along the right dike (km+m)", fontsize=7.5)
    ax.text(0.995, 0.03, "true scale · river side up · flow →", transform=ax.transAxes, ha="right", va="bottom",
            fontsize=6.5, color="#333333", path_effects=halo(2.0), zorder=13)


def _draw_side_panel(fig, reach, colours, norm, cjk: bool, *, legend_rect, facts_rect, bar_rect) -> None:
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    L = reach.layers
    grids = L["grids"]
    works = L["works"]

    def both(zh, en):
        return bilingual(zh, en, cjk, " ")

    handles = [
        Line2D([], [], color=DIKE, lw=2.6, label=both("大堤", "dike, km posts every 2 km")),
        Patch(fc=CHANNEL_FILL, alpha=0.5, ec=CHANNEL_EDGE, label=both("主槽", "main channel")),
        *[Patch(fc=colours[w.works_id], alpha=0.85, label=f"{w.works_id} " + bilingual(w.name_zh, w.name_en, cjk))
          for w in works.itertuples()],
        Line2D([], [], color="#3b1f0e", lw=1.6, label=both("坝 / 垛", "spur / short spur")),
        Line2D([], [], color="#8c8c8c", lw=2.2, label=both("护岸", "revetment")),
        Line2D([], [], marker="o", ls="", ms=5, mfc="#c0392b", mec="white",
               label=f"{len(L['stones'])} " + both("智能石头", "smart stones")),
        Line2D([], [], color=GRID_LINE, lw=0.8, label=f"{(grids.level == 'grid').sum()} " + both("网格", "grids")),
        Line2D([], [], color=EXCLUSIVE, lw=1.4, ls="--",
               label=f"{(grids.level == 'exclusive').sum()} " + both("专属网格", "exclusive grids")),
        Line2D([], [], marker="o", ls="", ms=8, mfc=VILLAGE, mec="black",
               label=both("滩区村庄", "village: population / special attention")),
        Line2D([], [], marker="^", ls="-", ms=7, color=EVACUATION, mec="white",
               label=both("迁安路线", "evacuation route → point")),
        Line2D([], [], marker="s", ls="", ms=7, mfc=DEPOT, mec="black", label=both("物资料场", "materials depot")),
        Line2D([], [], marker="^", ls="", ms=8, mfc=GAUGE, mec="black", label=both("水文站", "gauge")),
        Line2D([], [], marker="*", ls="", ms=10, mfc=KEY_POINT, mec="black",
               label=both("重点防守点", "key defence point")),
        Line2D([], [], color="black", lw=1.0, ls=(0, (4, 2)), label=both("放大图范围", "detail strips A, B, …")),
    ]
    lax = fig.add_axes(legend_rect)
    lax.axis("off")
    lax.legend(handles=handles, loc="upper left", fontsize=8, frameon=True, framealpha=1.0, borderpad=0.8,
               labelspacing=0.55, title=both("图例", "Legend"), title_fontsize=10, alignment="left")

    staff = L["staff"].role.value_counts()
    villages = L["villages"]
    depots = L["depots"]
    town = grids[grids.level == "grid"]
    lines = [
        both("在册", "Inventory"),
        both("花园口镇", "Huayuankou town") + f": {town.area.sum() / 1e6:.2f} km²",
        f"{len(L['staff'])} " + both("网格员", "grid staff") + ":",
        f"   {staff.get('grid_leader', 0)} grid leaders · {staff.get('micro_grid_leader', 0)} micro-grid leaders",
        f"   {staff.get('grid_member', 0)} grid members · {staff.get('team_member', 0)} team members",
        f"{len(villages)} " + both("滩区村庄", "villages") + f": {int(villages.population.sum()):,} people,",
        f"   {int(villages.special_attention.sum())} needing special attention",
        both("防汛物资", "materials") + f": stone {depots.stone_m3.sum():,.0f} m³,",
        f"   {int(depots.gabions.sum()):,} gabions · {int(depots.sandbags.sum()):,} sandbags",
        f"   {int(depots.life_jackets.sum()):,} life jackets · {int(depots.boats.sum())} boats",
    ]
    fax = fig.add_axes(facts_rect)
    fax.axis("off")
    fax.text(0.02, 0.98, "\n".join(lines), ha="left", va="top", fontsize=8.5, linespacing=1.45,
             transform=fax.transAxes)
    bax = fig.add_axes(bar_rect)
    sm = plt.cm.ScalarMappable(cmap=land_cmap(), norm=plt.Normalize(*norm))
    cb = fig.colorbar(sm, cax=bax, orientation="horizontal")
    cb.set_label(both("高程", "ground elevation (m above datum)"), fontsize=8)
    cb.ax.tick_params(labelsize=7)
