"""The reach as plain records: what the preplan expansion iterates over.

``ReachTables`` holds one record (a plain dict) per feature of the layers a template may iterate
over, with a representative location and derived attributes (staff per grid, the grid a dike
segment runs through, ...), plus the fallback water level. It is built from a loaded
:class:`~floodtwin.reach.Reach` or read straight from the reach's GeoPackage (a SQLite file) for
the sub-second CLI path, through the one GeoPackage reader :func:`floodtwin.reach.gpkg.read_layers`.
"""

from __future__ import annotations

import copy
import functools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from floodtwin.preplan.layers import LAYERS

__all__ = ["GRID_SNAP_M", "ReachTables", "text_or_empty"]

#: a dike segment belongs to the town grid that holds its midpoint (or lies within this distance)
GRID_SNAP_M = 100.0


@dataclass
class ReachTables:
    """Records of the scope layers (GeoPackage layer -> list of dicts) and the fallback water level.

    Each record holds the layer's columns, ``_xy`` (a representative (x, y) in the reach CRS, m)
    and the derived attributes of :data:`floodtwin.preplan.layers.LAYERS`. ``water_level_m(q, s)``
    is the fallback water level (m) for discharge q (m³/s) at chainage s (m).
    """

    name: str
    layers: dict[str, list[dict[str, Any]]]
    water_level_m: Callable[[float, float], float] | None = None
    _index: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict, repr=False)

    def record(self, gpkg_layer: str, feature_id: str) -> dict[str, Any] | None:
        """The record of one feature by id, or None."""
        if gpkg_layer not in self._index:
            id_col = next(l.id_column for l in LAYERS.values() if l.gpkg_layer == gpkg_layer)
            self._index[gpkg_layer] = {r[id_col]: r for r in self.layers[gpkg_layer]}
        return self._index[gpkg_layer].get(feature_id)

    @classmethod
    def from_reach(cls, reach: Any) -> "ReachTables":
        """Records from a loaded Reach (GeoDataFrames); the fallback is ``reach.fallback_water_level_m``."""
        raw = {}
        for layer in _needed_layers():
            gdf = getattr(reach, layer, None)
            if gdf is None and layer in ("units", "unit_staff"):
                continue  # a reach without unit duty rosters: their tasks stay with the grid chain
            if gdf is None:
                gdf = getattr(reach, layer)  # the missing layer's own error
            cols = [c for c in gdf.columns if c != gdf.geometry.name]
            records = gdf[cols].to_dict("records")
            for rec, geom in zip(records, gdf.geometry.values):
                rec["_geom"] = geom
            raw[layer] = records
        level = _fallback_of_caller_reach(reach) if hasattr(reach, "fallback_water_level_m") else None
        return cls(name=str(getattr(reach, "name", "reach")), layers=_derive(raw), water_level_m=level)

    @classmethod
    def read(cls, name_or_gpkg: str | Path = "huayuankou") -> "ReachTables":
        """Read the scope layers straight from a reach GeoPackage (no DEM, no pandas): the fast path.

        The fallback water level comes from the reach's own ``Reach.fallback_water_level_m`` built
        on its parameter file (the terrain is only built when a risk value is first needed).
        """
        from floodtwin.reach.gpkg import read_layers
        from floodtwin.reach.load import reach_paths

        gpkg, yaml_path, name = reach_paths(name_or_gpkg)
        raw = read_layers(gpkg, _needed_layers())  # the one GeoPackage reader, as records
        return cls(name=name, layers=_derive(raw), water_level_m=_light_fallback(name, gpkg, yaml_path, raw))


def _needed_layers() -> list[str]:
    return sorted({l.gpkg_layer for l in LAYERS.values()} | {"staff", "units", "unit_staff"})


def _light_fallback(name: str, gpkg: Path, yaml_path: Path | None,
                    raw: dict) -> Callable[[float, float], float] | None:
    """``Reach.fallback_water_level_m`` of a Reach holding only its gauge rating (and parameters).

    With the GeoPackage's tabulated rating (``gauge_rating``) no parameter file is read until a
    discharge beyond the table needs the terrain model; without the table, the parameters are read
    at once and the terrain is built on first use.
    """
    from floodtwin.reach.gpkg import layer_names
    from floodtwin.reach.load import Reach, read_gauge_rating

    rating = read_gauge_rating(gpkg) if "gauge_rating" in layer_names(gpkg) else None
    if rating is None and yaml_path is None:
        return None

    def params():
        from floodtwin.reach.params import load_params

        return load_params(yaml_path)

    reach = Reach(name=name, crs=None, dem=None, layers={}, params=None if rating is not None else params(),
                  rating_table=rating)
    if rating is None:
        # a GeoPackage without the tabulated rating: the gauge's chainage comes from its layer
        reach.__dict__["gauge_chainage_m"] = float(raw["gauges"][0]["chainage_m"])
    fallback = _memoized_fallback(reach)
    if rating is None or yaml_path is None:
        return fallback

    def level(discharge_m3s: float, chainage_m: float) -> float:
        if reach.params is None and not rating.covers(float(discharge_m3s)):
            reach.params = params()  # the terrain model answers beyond the table
        return fallback(discharge_m3s, chainage_m)

    return level


def _fallback_of_caller_reach(reach: Any) -> Callable[[float, float], float]:
    """The fallback of a caller's Reach, memoised on a private copy (built on first use).

    The terrain is built through the caller's ``reach.terrain`` (the Reach's own lazy cache, so
    the next expansion over the same Reach does not build it again); the stage memo lives on a
    shallow copy, so the caller's object keeps its methods.
    """
    private: list[Callable[[float, float], float]] = []

    def level(discharge_m3s: float, chainage_m: float) -> float:
        if not private:
            if getattr(reach, "params", None) is not None:
                reach.terrain  # noqa: B018 - builds and keeps the terrain on the caller's Reach
            private.append(_memoized_fallback(copy.copy(reach)))
        return private[0](discharge_m3s, chainage_m)

    return level


def _memoized_fallback(reach: Any) -> Callable[[float, float], float]:
    """``reach.fallback_water_level_m`` with the gauge stage solved once per discharge, not per object.

    The stage at the gauge is a root-finding on the compound section; an expansion asks for the
    level at dozens of chainages of one discharge, so the per-discharge stage is memoised on this
    (private) Reach object.
    """
    if hasattr(reach, "stage_at_gauge_m"):
        reach.stage_at_gauge_m = functools.lru_cache(maxsize=32)(reach.stage_at_gauge_m)
    return reach.fallback_water_level_m


def _xy(geom) -> tuple[float, float] | None:
    """A representative point: the point itself, a line's midpoint, a polygon's inner point."""
    if geom is None or geom.is_empty:
        return None
    kind = geom.geom_type
    if kind == "Point":
        p = geom
    elif kind in ("LineString", "MultiLineString"):
        p = geom.interpolate(0.5, normalized=True)
    else:
        p = geom.point_on_surface()
    return (round(float(p.x), 2), round(float(p.y), 2))


def text_or_empty(value: Any) -> str:
    """Strings as stored, missing values as ''."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def _derive(raw: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """Add locations and derived attributes (see layers.LAYERS) to the raw records."""
    import shapely

    for records in raw.values():
        for rec in records:
            rec["_xy"] = _xy(rec.get("_geom"))
            for key, value in list(rec.items()):
                if isinstance(value, float) and math.isnan(value):
                    rec[key] = None
    staff = raw["staff"]
    grids = raw["grids"]
    town = [g for g in grids if g["level"] == "grid"]
    right = [d for d in raw["dikes"] if d["dike_id"] == "right"]
    right_lines = shapely.union_all([d["_geom"] for d in right]) if right else None
    for g in grids:
        g["n_staff"] = sum(1 for s in staff if s["grid_id"] == g["grid_id"])
        g["n_on_duty"] = sum(1 for s in staff if s["grid_id"] == g["grid_id"] and bool(s["on_duty"]))
        g["n_villages"] = sum(1 for v in raw["villages"] if v["grid_id"] == g["grid_id"])
        g["on_dike"] = bool(g["level"] == "grid" and right_lines is not None
                            and g["_geom"].distance(right_lines) <= 1.0)
        g["grid_id"] = text_or_empty(g["grid_id"])
    for d in raw["dikes"]:
        d["mid_chainage_m"] = 0.5 * (float(d["chainage_from_m"]) + float(d["chainage_to_m"]))
        d["grid_id"] = ""
        if d["dike_id"] == "right" and town:
            mid = d["_geom"].interpolate(0.5, normalized=True)
            dist = [(g["_geom"].distance(mid), g["grid_id"]) for g in town]
            best = min(dist)
            if best[0] <= GRID_SNAP_M:
                d["grid_id"] = best[1]
        d["in_town"] = bool(d["grid_id"])
    for layer in ("villages", "depots", "key_points", "spurs", "gauges"):
        for rec in raw[layer]:
            for col in ("grid_id", "works_id"):
                if col in rec:
                    rec[col] = text_or_empty(rec[col])
    return raw
