"""What the result maps take (``floodtwin.maps.inputs``): the checks on the flood Dataset, the layers and
the options, each failing with one line that names what is wrong.

The flood is on the reach DEM's grid (dims ``y, x``, metres in the reach CRS); the layers are the
per-scenario GeoDataFrames of villages, grids, dikes and works (their columns below).
"""

from __future__ import annotations

import numpy as np

from floodtwin.errors import InputError
from floodtwin.maps.style import FREEBOARD, HAZARD_CODES, LAYERS

__all__ = ["LAYER_COLUMNS", "FLOOD_VARIABLES", "check_flood", "check_layer", "check_layers", "check_title"]

FLOOD_VARIABLES = ("max_depth", "max_speed", "arrival_time", "max_hazard_rating", "hazard_class")

#: the columns each layer must carry (geometry besides)
LAYER_COLUMNS = {
    "villages": ("village_id", "name_zh", "name_en", "grid_id", "population", "households", "special_attention",
                 "farmers_crop", "farmers_livestock", "farmers_other", "evacuation_point", "evac_x", "evac_y",
                 "max_depth_m", "arrival_time_s", "hazard_class", "flooded"),
    "grids": ("grid_id", "name_zh", "name_en", "flooded_area_km2", "people", "villages", "task_count", "task_lines"),
    "dikes": ("segment_id", "bank", "post_from", "post_to", "crest_elevation_m", "max_water_level_m", "freeboard_m",
              "freeboard_class", "toe_depth_m"),
    "works": ("works_id", "name_zh", "name_en", "max_speed_ms", "attack"),
}


def check_layer(layer: str) -> str:
    """``layer`` if the PNG can show it (``depth`` or ``hazard``), else an InputError."""
    if layer not in LAYERS:
        raise InputError(f"layer = {layer!r}: expected one of {', '.join(LAYERS)}")
    return layer


def check_title(title) -> str:
    """A map needs a title that says the scenario: a non-empty string."""
    if not isinstance(title, str) or not title.strip():
        raise InputError(f"title = {title!r}: expected a non-empty string naming the scenario")
    return title


def check_flood(flood, dem) -> None:
    """The flood must carry the five result variables on the DEM's own grid (same x and y)."""
    missing = [v for v in FLOOD_VARIABLES if v not in getattr(flood, "data_vars", {})]
    if missing:
        raise InputError(f"flood: missing variables {', '.join(missing)} (expected {', '.join(FLOOD_VARIABLES)})")
    for v in FLOOD_VARIABLES:
        if tuple(flood[v].dims) != ("y", "x"):
            raise InputError(f"flood[{v!r}]: dims {tuple(flood[v].dims)}, expected ('y', 'x')")
    for axis in ("x", "y"):
        a, b = np.asarray(flood[axis].values), np.asarray(dem[axis].values)
        if a.shape != b.shape or not np.allclose(a, b, atol=1e-3):
            raise InputError(f"flood: its {axis} coordinates are not the reach DEM's grid "
                             f"({a.size} vs {b.size} values, EPSG:4547 metres)")
    codes = np.asarray(flood["hazard_class"].values)
    bad = ~np.isin(codes, list(HAZARD_CODES.values()))
    if bad.any():
        raise InputError(f"flood['hazard_class']: {int(bad.sum())} cells outside the codes 0-4")


def check_layers(layers, crs) -> None:
    """Every layer of LAYER_COLUMNS present, with its columns, in the reach CRS."""
    if not isinstance(layers, dict):
        raise InputError(f"layers: expected a dict of GeoDataFrames, got {type(layers).__name__}")
    for name, columns in LAYER_COLUMNS.items():
        if name not in layers:
            raise InputError(f"layers: missing {name!r} (expected {', '.join(LAYER_COLUMNS)})")
        gdf = layers[name]
        missing = [c for c in columns if c not in gdf.columns]
        if missing:
            raise InputError(f"layers[{name!r}]: missing columns {', '.join(missing)}")
        if gdf.crs is None or not gdf.crs.equals(crs):
            raise InputError(f"layers[{name!r}]: CRS {gdf.crs}, expected the reach's EPSG:{crs.to_epsg()}")
    bad = sorted(set(layers["villages"].hazard_class) - set(HAZARD_CODES))
    if bad:
        raise InputError(f"layers['villages'].hazard_class: unknown {', '.join(map(str, bad))} "
                         f"(expected {', '.join(HAZARD_CODES)})")
    bad = sorted(set(layers["dikes"].freeboard_class) - {c.key for c in FREEBOARD})
    if bad:
        raise InputError(f"layers['dikes'].freeboard_class: unknown {', '.join(map(str, bad))} "
                         f"(expected {', '.join(c.key for c in FREEBOARD)})")
