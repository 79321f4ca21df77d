"""The raster layers of the result maps (``floodtwin.maps.raster``): depth and hazard as RGBA images, and
their warp from the reach grid (EPSG:4547 metres) onto the Web-Mercator pixels of a Leaflet overlay.

The PNG and the HTML map colour cells with the same functions, so the two never disagree.
"""

from __future__ import annotations

import numpy as np

from floodtwin.maps.style import DEPTH_BOUNDS_M, DEPTH_COLOURS, DRY_DEPTH_M, HAZARD

__all__ = ["depth_rgba", "grey_hillshade", "hazard_rgba", "north_up", "png_data_uri", "warp_to_mercator", "wet_mask"]

#: opacity of the flood over the hillshade: the terrain stays readable through the water
FLOOD_ALPHA = 0.82


def _rgba(colour: str) -> np.ndarray:
    from matplotlib.colors import to_rgba

    return np.asarray(to_rgba(colour))


def wet_mask(max_depth: np.ndarray) -> np.ndarray:
    """Cells that are wet on the map: max depth above DRY_DEPTH_M (NaN is outside the model, never wet)."""
    with np.errstate(invalid="ignore"):
        return np.nan_to_num(max_depth, nan=0.0) > DRY_DEPTH_M


def depth_rgba(max_depth: np.ndarray) -> np.ndarray:
    """RGBA (rows, cols, 4) of max depth (m) in the bins of DEPTH_BOUNDS_M; dry cells transparent."""
    d = np.nan_to_num(np.asarray(max_depth, dtype=float), nan=0.0)
    palette = np.array([_rgba(c) for c in DEPTH_COLOURS])
    bins = np.clip(np.digitize(d, DEPTH_BOUNDS_M[1:]), 0, len(DEPTH_COLOURS) - 1)
    out = palette[bins]
    out[..., 3] = np.where(wet_mask(max_depth), FLOOD_ALPHA, 0.0)
    return out


def hazard_rgba(hazard_class: np.ndarray, max_depth: np.ndarray) -> np.ndarray:
    """RGBA (rows, cols, 4) of the hazard classes 1-4; class 0 and dry cells transparent."""
    palette = np.array([(0.0, 0.0, 0.0, 0.0)] + [_rgba(c.colour) for c in HAZARD])
    codes = np.clip(np.nan_to_num(np.asarray(hazard_class, dtype=float), nan=0.0).astype(int), 0, len(HAZARD))
    out = palette[codes]
    out[..., 3] = np.where(wet_mask(max_depth) & (codes > 0), FLOOD_ALPHA, 0.0)
    return out


def grey_hillshade(reach) -> np.ndarray:
    """RGBA hillshade of the reach DEM in greys (transparent outside it): the terrain reads through the
    flood, and no land green competes with the hazard classes. Elevations from the lowest land to the
    highest dike crest."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import LinearSegmentedColormap

    from floodtwin.reach.cartography import hillshade_rgb

    greys = LinearSegmentedColormap.from_list("floodtwin_greys", plt.get_cmap("Greys_r")(np.linspace(0.45, 1.0, 256)))
    dikes = reach.dikes
    rgba = hillshade_rgb(reach.dem.values, reach.resolution_m, vmin=float(dikes.land_elevation_m.min()) - 1.0,
                         vmax=float(dikes.crest_elevation_m.max()), cmap=greys)
    rgba = np.concatenate([rgba[..., :3], np.ones(rgba.shape[:2] + (1,))], axis=-1)
    rgba[~np.isfinite(reach.dem.values)] = 0.0
    return rgba


def north_up(y: np.ndarray, image: np.ndarray) -> np.ndarray:
    """``image`` with its first row northmost (the DEM may store y ascending)."""
    return image[::-1] if y[0] < y[-1] else image


def warp_to_mercator(image: np.ndarray, x: np.ndarray, y: np.ndarray, crs, *, width_px: int | None = None):
    """Resample ``image`` (rows on ``y``, cols on ``x``, cell centres in ``crs`` metres) onto a grid regular
    in Web Mercator, which is what a Leaflet image overlay stretches linearly between its corners.
    Nearest neighbour (classes must stay classes). Returns (image, ((south, west), (north, east))) in
    degrees: a proper warp, so no rotation error (the reach grid is turned ~0.2° from north in WGS84)."""
    from pyproj import Transformer

    dx = float(abs(x[1] - x[0]))
    dy = float(abs(y[1] - y[0]))
    x0, x1 = x.min() - dx / 2, x.max() + dx / 2
    y0, y1 = y.min() - dy / 2, y.max() + dy / 2
    to_merc = Transformer.from_crs(crs, "EPSG:3857", always_xy=True)
    edge = np.linspace(0.0, 1.0, 64)
    ex = np.concatenate([x0 + (x1 - x0) * edge, np.full(64, x1), x1 - (x1 - x0) * edge, np.full(64, x0)])
    ey = np.concatenate([np.full(64, y0), y0 + (y1 - y0) * edge, np.full(64, y1), y1 - (y1 - y0) * edge])
    mx, my = to_merc.transform(ex, ey)
    mx0, mx1, my0, my1 = min(mx), max(mx), min(my), max(my)
    cols = width_px or x.size
    rows = max(1, int(round(cols * (my1 - my0) / (mx1 - mx0))))
    gx = mx0 + (np.arange(cols) + 0.5) * (mx1 - mx0) / cols
    gy = my1 - (np.arange(rows) + 0.5) * (my1 - my0) / rows  # north row first
    GX, GY = np.meshgrid(gx, gy)
    sx, sy = Transformer.from_crs("EPSG:3857", crs, always_xy=True).transform(GX, GY)
    img = north_up(y, image)
    i = np.floor((y1 - sy) / dy).astype(int)  # row from the north
    j = np.floor((sx - x0) / dx).astype(int)
    inside = (i >= 0) & (i < img.shape[0]) & (j >= 0) & (j < img.shape[1])
    out = np.zeros((rows, cols, img.shape[2]), dtype=img.dtype)
    out[inside] = img[i[inside], j[inside]]
    to_ll = Transformer.from_crs("EPSG:3857", "EPSG:4326", always_xy=True)
    (west, east), (south, north) = to_ll.transform([mx0, mx1], [my0, my1])
    return out, ((south, west), (north, east))


def png_data_uri(rgba: np.ndarray) -> str:
    """An RGBA image (values 0–1) as a ``data:image/png;base64`` URI: an overlay inlined in an offline page."""
    import base64
    import io

    from matplotlib.image import imsave

    buf = io.BytesIO()
    imsave(buf, np.clip(rgba, 0.0, 1.0), format="png")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
