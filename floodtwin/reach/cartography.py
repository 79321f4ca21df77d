"""Cartography of the reach (``floodtwin.reach.cartography``): the drawing parts every floodtwin map
shares — CJK fonts, bilingual labels, land colours with hillshade, halo, scale bar and north arrow,
and the checked PNG writer.

The reach map (:mod:`floodtwin.reach.map`) draws with these parts, and so will the result maps
(depth, arrival, freeboard, in ``floodtwin.maps`` above the models), which draw over the reach. They
live in ``reach/`` so that both can import them downwards; this module imports no other floodtwin
module but ``errors``.

Labels are bilingual; Chinese needs a CJK font (Debian: fonts-wqy-microhei, installed by
``make test``). Without one, maps fall back to English labels and say so in the log.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from floodtwin.errors import InputError

log = logging.getLogger(__name__)

__all__ = ["CJK_FONTS", "bilingual", "check_dpi", "draw_lines", "fill_polygons", "halo", "hillshade_rgb", "land_cmap",
           "north_arrow", "save_png", "scale_bar", "setup_fonts"]

CJK_FONTS = ("WenQuanYi Micro Hei", "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "SimHei")


def _cjk_font() -> str | None:
    from matplotlib import font_manager

    names = {f.name for f in font_manager.fontManager.ttflist}
    for name in CJK_FONTS:
        if name in names:
            return name
    return None


def setup_fonts() -> bool:
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


def bilingual(zh: str, en: str, cjk: bool, sep: str = "\n") -> str:
    """``zh`` and ``en`` joined by ``sep`` when Chinese can be drawn, else ``en`` alone."""
    return f"{zh}{sep}{en}" if cjk and zh else en


def land_cmap():
    """Terrain colours without the sea blues: water is drawn as its own layer, never guessed from height."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import LinearSegmentedColormap

    base = plt.get_cmap("terrain")
    return LinearSegmentedColormap.from_list("floodtwin_land", base(np.linspace(0.28, 0.95, 256)))


def hillshade_rgb(dem: np.ndarray, dx_m: float, *, vmin: float, vmax: float, cmap=None, vert_exag: float = 20.0):
    """RGBA image (rows, cols, 4) of elevations with a hillshade (NaN -> white), exaggerated for a flat river."""
    from matplotlib.colors import LightSource, Normalize

    z = np.where(np.isfinite(dem), dem, vmin)
    ls = LightSource(azdeg=315, altdeg=35)
    rgb = ls.shade(z, cmap=cmap if cmap is not None else land_cmap(), norm=Normalize(vmin, vmax),
                   blend_mode="soft", vert_exag=vert_exag, dx=dx_m, dy=dx_m)
    rgb[~np.isfinite(dem)] = 1.0
    return rgb


def halo(width: float = 2.5, colour: str = "white"):
    """Path effect that keeps a label readable over the hillshade: a stroke of ``colour`` around it."""
    from matplotlib import patheffects

    return [patheffects.withStroke(linewidth=width, foreground=colour)]



def scale_bar(ax, extent, length_m: float) -> None:
    """Alternating 1 km blocks on a white card, lower left."""
    from matplotlib.patches import Rectangle

    x0 = extent[0] + 0.025 * (extent[1] - extent[0])
    y0 = extent[2] + 0.045 * (extent[3] - extent[2])
    h = 0.008 * (extent[3] - extent[2])
    ax.add_patch(Rectangle((x0 - 500, y0 - 4.2 * h), length_m + 1800, 9.5 * h, fc="white", ec="#999999",
                           alpha=0.9, zorder=14))
    n = int(length_m // 1000)
    for k in range(n):
        ax.add_patch(Rectangle((x0 + 1000 * k, y0), 1000, h, fc="black" if k % 2 == 0 else "white", ec="black",
                               lw=0.8, zorder=15))
    for k in (0, 1, 2, n):
        ax.annotate(f"{k}" + (" km" if k == n else ""), (x0 + 1000 * k, y0), xytext=(0, -3),
                    textcoords="offset points", ha="center", va="top", fontsize=7.5, zorder=15)


def north_arrow(ax) -> None:
    """A north arrow in the upper left of ``ax`` (the reach CRS has north up)."""
    ax.annotate("N", xy=(0.035, 0.95), xytext=(0.035, 0.84), xycoords="axes fraction", ha="center", va="top",
                fontsize=13, fontweight="bold", zorder=15, path_effects=halo(3),
                arrowprops=dict(arrowstyle="-|>,head_width=0.5,head_length=0.9", color="black", lw=2))


def save_png(fig, output: str | Path, *, dpi: int) -> Path:
    """Write ``fig`` as a PNG at ``dpi`` (10-1200) and close it; an unwritable path is an InputError."""
    import matplotlib.pyplot as plt

    output = Path(output)
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(output, dpi=dpi)
    except OSError as exc:
        raise InputError(f"{output}: cannot write the map ({exc.strerror or exc})") from None
    finally:
        plt.close(fig)
    return output


def check_dpi(dpi: int) -> int:
    """``dpi`` if it is a sensible PNG resolution (10-1200), else an InputError (checked before drawing)."""
    if not 10 <= dpi <= 1200:
        raise InputError(f"dpi = {dpi} is outside [10, 1200]")
    return dpi


def draw_lines(ax, geoms, **kw):
    """Draw lines, or the outlines of polygons, as one LineCollection (geopandas' plot redraws the figure)."""
    import shapely
    from matplotlib.collections import LineCollection

    geoms = np.asarray(geoms)
    polys = shapely.get_type_id(geoms) >= 3
    geoms = np.where(polys, shapely.boundary(geoms), geoms)
    parts = shapely.get_parts(geoms)
    ax.add_collection(LineCollection([shapely.get_coordinates(g) for g in parts if not g.is_empty], **kw))


def fill_polygons(ax, geoms, **kw):
    """Fill polygons (holes kept) as one PathCollection."""
    import shapely
    from matplotlib.collections import PathCollection
    from matplotlib.path import Path as MplPath

    paths = []
    for poly in shapely.get_parts(np.asarray(geoms)):
        if poly.is_empty:
            continue
        rings = [poly.exterior, *poly.interiors]
        paths.append(MplPath.make_compound_path(*[MplPath(np.asarray(r.coords)[:, :2], closed=True) for r in rings]))
    ax.add_collection(PathCollection(paths, **kw))
