"""Maps a duty officer wants on the wall: PNG with matplotlib (and, later, HTML with Leaflet).

Labels are bilingual; Chinese needs a CJK font (Debian: fonts-wqy-microhei, installed by
``make test``). Without one, maps fall back to English labels and say so in the log.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

CJK_FONTS = ("WenQuanYi Micro Hei", "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "SimHei")
WORKS_COLOURS = {"HYK": "#c0392b", "EDX": "#8e44ad", "SZ": "#d35400", "MD": "#2c3e50"}


def _cjk_font() -> str | None:
    from matplotlib import font_manager

    names = {f.name for f in font_manager.fontManager.ttflist}
    for name in CJK_FONTS:
        if name in names:
            return name
    return None


def _setup_fonts() -> bool:
    """Use a CJK-capable font when one is installed; return whether Chinese can be drawn."""
    import matplotlib

    font = _cjk_font()
    if font is None:
        log.warning("no CJK font found (install fonts-wqy-microhei): map labels in English only")
        return False
    matplotlib.rcParams["font.sans-serif"] = [font, "DejaVu Sans"]
    matplotlib.rcParams["font.family"] = "sans-serif"
    matplotlib.rcParams["axes.unicode_minus"] = False
    return True


def _label(zh: str, en: str, cjk: bool) -> str:
    return f"{zh}\n{en}" if cjk and zh else en


def land_cmap():
    """Terrain colours without the sea blues: water is drawn as its own layer, never guessed from height."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import LinearSegmentedColormap

    base = plt.get_cmap("terrain")
    return LinearSegmentedColormap.from_list("floodtwin_land", base(np.linspace(0.28, 0.95, 256)))


def hillshade_rgb(dem: np.ndarray, dx_m: float, *, vmin: float, vmax: float, cmap=None):
    """RGB image of elevations with a hillshade (NaN -> white), vertical exaggeration for a flat river."""
    from matplotlib.colors import LightSource, Normalize

    z = np.where(np.isfinite(dem), dem, vmin)
    ls = LightSource(azdeg=315, altdeg=35)
    rgb = ls.shade(z, cmap=cmap if cmap is not None else land_cmap(), norm=Normalize(vmin, vmax),
                   blend_mode="soft", vert_exag=20.0, dx=dx_m, dy=dx_m)
    rgb[~np.isfinite(dem)] = 1.0
    return rgb


def reach_map_png(reach, output: str | Path, *, dpi: int = 150) -> Path:
    """Draw the reach: hillshaded DEM, channel, dikes with km posts, works, grids, villages, stones, depots."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    cjk = _setup_fonts()
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)  # no bold face in WenQuanYi
    L = reach.layers
    dem = reach.dem
    x = dem.x.values
    y = dem.y.values
    dx = reach.resolution_m
    crest = float(L["dikes"]["crest_elevation_m"].max())
    land = float(L["dikes"]["land_elevation_m"].min())
    rgb = hillshade_rgb(dem.values, dx, vmin=land - 1.0, vmax=crest)
    extent = (x.min() - dx / 2, x.max() + dx / 2, y.min() - dx / 2, y.max() + dx / 2)
    if y[0] < y[-1]:
        rgb = rgb[::-1]

    fig, ax = plt.subplots(figsize=(16, 10.5))
    ax.imshow(rgb, extent=extent, origin="upper", interpolation="bilinear")
    grids = L["grids"]
    regular = grids[grids.level == "grid"]
    exclusive = grids[grids.level == "exclusive"]
    regular.boundary.plot(ax=ax, color="#555555", linewidth=0.4, alpha=0.8)
    for r in regular.itertuples():
        c = r.geometry.representative_point()
        ax.annotate(r.grid_id, (c.x, c.y), fontsize=5.5, color="#333333", ha="center", va="center", alpha=0.9)
    exclusive.boundary.plot(ax=ax, color="#e67e22", linewidth=1.2, linestyle="--")
    L["channel"].boundary.plot(ax=ax, color="#1f5fa8", linewidth=0.8)
    L["channel"].plot(ax=ax, color="#4a90d9", alpha=0.35)
    dikes = L["dikes"]
    dikes.plot(ax=ax, color="#6e2c00", linewidth=2.4)
    # km posts on the right (town) dike every 2 km
    for r in dikes[dikes.bank == "right"].itertuples():
        if int(r.chainage_from_m) % 2000 == 0:
            p = r.geometry.interpolate(0.0)
            ax.plot(p.x, p.y, marker="|", color="#6e2c00", markersize=9, mew=1.5)
            ax.annotate(r.post_from, (p.x, p.y), xytext=(0, -11), textcoords="offset points", fontsize=7,
                        ha="center", color="#6e2c00", fontweight="bold")
    works = L["works"]
    for k, r in enumerate(works.itertuples()):
        colour = WORKS_COLOURS.get(r.works_id, "#c0392b")
        ax.fill(*r.geometry.exterior.xy, color=colour, alpha=0.55, linewidth=0)
        c = r.geometry.centroid
        ax.annotate(_label(r.name_zh, f"{r.name_en} ({int(r.n_structures)})", cjk), (c.x, c.y), xytext=(0, 40 + 38 * (k % 2)),
                    textcoords="offset points", fontsize=8, ha="center", color=colour, fontweight="bold",
                    arrowprops=dict(arrowstyle="-", color=colour, lw=0.8),
                    bbox=dict(boxstyle="round,pad=0.2", fc="white", ec=colour, alpha=0.85))
    L["spurs"].plot(ax=ax, color="#7f1d1d", linewidth=0.6)
    stones = L["stones"]
    ax.scatter(stones.geometry.x, stones.geometry.y, s=4, c=[WORKS_COLOURS.get(w, "k") for w in stones.works_id],
               edgecolors="white", linewidths=0.2, zorder=5)
    villages = L["villages"]
    ax.scatter(villages.geometry.x, villages.geometry.y, s=60, marker="o", c="#f1c40f", edgecolors="black",
               linewidths=0.8, zorder=6)
    for r in villages.itertuples():
        ax.annotate(_label(r.name_zh, f"{r.name_en} · {int(r.population)}", cjk), (r.geometry.x, r.geometry.y),
                    xytext=(6, 4), textcoords="offset points", fontsize=7, zorder=7,
                    bbox=dict(boxstyle="round,pad=0.15", fc="#fffbe6", ec="none", alpha=0.8))
        ax.annotate("", xy=(r.evac_x, r.evac_y), xytext=(r.geometry.x, r.geometry.y),
                    arrowprops=dict(arrowstyle="->", color="#27ae60", lw=1.0, alpha=0.8))
    depots = L["depots"]
    ax.scatter(depots.geometry.x, depots.geometry.y, s=36, marker="s", c="#16a085", edgecolors="black",
               linewidths=0.6, zorder=6)
    gauges = L["gauges"]
    ax.scatter(gauges.geometry.x, gauges.geometry.y, s=90, marker="^", c="#2980b9", edgecolors="black", zorder=7)
    for r in gauges.itertuples():
        ax.annotate(_label(r.name_zh, r.name_en, cjk) + f"\nSTCD {r.stcd}", (r.geometry.x, r.geometry.y),
                    xytext=(-10, -34), textcoords="offset points", fontsize=7, ha="right", color="#1a5276",
                    bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="#2980b9", alpha=0.85))
    keys = L["key_points"]
    ax.scatter(keys.geometry.x, keys.geometry.y, s=55, marker="*", c="#e74c3c", edgecolors="black",
               linewidths=0.4, zorder=7)
    centre = L["centerline"].geometry.iloc[0]
    mid = centre.interpolate(0.72, normalized=True)
    ax.annotate(_label("黄河", "Yellow River ↗ flow east", cjk), (mid.x, mid.y), fontsize=11, color="#1f5fa8",
                ha="center", style="italic", fontweight="bold")

    _scale_bar(ax, extent, 5000)
    _north_arrow(ax)
    legend = [
        Line2D([], [], color="#6e2c00", lw=2.4, label=_label("大堤", "dike (km posts on the right dike)", cjk).replace("\n", " ")),
        Patch(fc="#4a90d9", alpha=0.5, ec="#1f5fa8", label=_label("主槽", "main channel", cjk).replace("\n", " ")),
        Patch(fc="#c0392b", alpha=0.55, label=_label("险工/控导", "river-training works", cjk).replace("\n", " ")),
        Line2D([], [], color="#555555", lw=0.6, label=f"{len(regular)} " + _label("网格", "grids", cjk).replace("\n", " ")),
        Line2D([], [], color="#e67e22", lw=1.2, ls="--", label=f"{len(exclusive)} " + _label("专属网格", "exclusive grids", cjk).replace("\n", " ")),
        Line2D([], [], marker="o", ls="", color="#f1c40f", mec="black", label=_label("滩区村庄", "floodplain village (population) → evacuation", cjk).replace("\n", " ")),
        Line2D([], [], marker=".", ls="", color="#c0392b", label=f"{len(stones)} " + _label("智能石头", "smart stones", cjk).replace("\n", " ")),
        Line2D([], [], marker="s", ls="", color="#16a085", mec="black", label=_label("物资料场", "materials depot", cjk).replace("\n", " ")),
        Line2D([], [], marker="^", ls="", color="#2980b9", mec="black", label=_label("水文站", "gauge", cjk).replace("\n", " ")),
        Line2D([], [], marker="*", ls="", color="#e74c3c", mec="black", label=_label("重点防守点", "key defence point", cjk).replace("\n", " ")),
    ]
    ax.legend(handles=legend, loc="lower right", fontsize=8, framealpha=0.9)
    sm = plt.cm.ScalarMappable(cmap=land_cmap(), norm=plt.Normalize(land - 1.0, crest))
    cb = fig.colorbar(sm, ax=ax, fraction=0.025, pad=0.01)
    cb.set_label("elevation (m)")
    title = _label(f"{reach.params.name_zh if reach.params else ''} 防汛数字孪生", "Huayuankou reach — flood defence", cjk)
    ax.set_title(title.replace("\n", " · "), fontsize=14, fontweight="bold")
    ax.set_xlabel(f"easting (m), EPSG:{reach.crs.to_epsg()}")
    ax.set_ylabel("northing (m)")
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_aspect("equal")
    ax.ticklabel_format(style="plain", useOffset=False)
    ax.tick_params(labelsize=7)
    fig.tight_layout()
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output, dpi=dpi)
    plt.close(fig)
    return output


def _scale_bar(ax, extent, length_m: float) -> None:
    x0 = extent[0] + 0.03 * (extent[1] - extent[0])
    y0 = extent[2] + 0.05 * (extent[3] - extent[2])
    ax.plot([x0, x0 + length_m], [y0, y0], color="black", lw=3, solid_capstyle="butt")
    ax.plot([x0, x0 + length_m / 2], [y0, y0], color="white", lw=1.5, solid_capstyle="butt")
    ax.annotate(f"{length_m / 1000:g} km", (x0 + length_m / 2, y0), xytext=(0, 5), textcoords="offset points",
                ha="center", fontsize=8, fontweight="bold")


def _north_arrow(ax) -> None:
    ax.annotate("N", xy=(0.04, 0.93), xytext=(0.04, 0.83), xycoords="axes fraction", ha="center",
                fontsize=12, fontweight="bold", arrowprops=dict(arrowstyle="-|>", color="black", lw=1.5))
