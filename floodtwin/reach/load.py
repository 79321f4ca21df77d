"""Load a reach (GeoPackage layers + DEM) and validate it.

``load_reach("huayuankou")`` reads data/dikes/huayuankou.gpkg and the DEM at the requested
resolution (built from the parameter file when that resolution has no NetCDF yet). Every layer is
checked on load: a missing layer or column, a wrong geometry type, a reference to an unknown grid or
works, a stone off its works' spurs, a staff member in no grid — each raises a DataError whose one
line names the layer, the feature and the problem. A user with survey data replaces a layer or the
DEM file; the checks tell them what the rest of floodtwin relies on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from floodtwin.config import DATA_DIR
from floodtwin.errors import DataError, InputError, require_discharge_m3s

__all__ = ["LAYER_SCHEMAS", "STAFF_ROLES", "UNIT_ROLES", "STONE_TOLERANCE_M", "Reach", "GaugeRating", "dem_filename", "reach_paths",
           "load_reach", "read_dem", "read_gauge_rating", "validate_dem", "validate_layers"]

#: layer -> (geometry type, required columns)
LAYER_SCHEMAS: dict[str, tuple[str, tuple[str, ...]]] = {
    "centerline": ("LineString", ("name", "length_m")),
    "channel": ("Polygon", ("name",)),
    "dikes": ("LineString", ("segment_id", "dike_id", "bank", "chainage_from_m", "chainage_to_m", "post_from",
                             "post_to", "crest_elevation_m", "design_flood_level_m", "toe_elevation_m",
                             "land_elevation_m")),
    "works": ("Polygon", ("works_id", "name_zh", "name_en", "kind", "bank", "chainage_from_m", "chainage_to_m",
                          "n_structures", "n_spurs", "n_short_spurs", "n_revetments", "n_stones")),
    "spurs": ("LineString", ("spur_id", "works_id", "number", "kind", "chainage_m", "crest_elevation_m",
                             "root_depth_m")),
    "grids": ("Polygon", ("grid_id", "name_zh", "name_en", "level", "kind", "parent", "leader_id", "covers",
                          "area_km2")),
    "staff": ("Point", ("staff_id", "role", "grid_id", "shift", "on_duty")),
    "units": ("Point", ("unit_id", "name_zh", "name_en", "leader_id", "parent")),
    "unit_staff": ("Point", ("staff_id", "unit_id", "role", "works_id", "shift", "on_duty")),
    "stones": ("Point", ("stone_id", "works_id", "spur_id", "spur_number", "install_depth_m",
                         "baseline_roll_deg", "baseline_pitch_deg", "report_interval_min")),
    "villages": ("Point", ("village_id", "name_zh", "name_en", "grid_id", "chainage_m", "ground_elevation_m",
                           "population", "households", "special_attention", "farmers_crop",
                           "farmers_livestock", "farmers_other", "evacuation_point", "evac_x", "evac_y")),
    "depots": ("Point", ("depot_id", "name_zh", "name_en", "works_id", "grid_id", "stone_m3", "gabions",
                         "sandbags", "life_jackets")),
    "gauges": ("Point", ("gauge_id", "name_zh", "name_en", "stcd", "chainage_m")),
    "key_points": ("Point", ("point_id", "name_zh", "name_en", "kind", "works_id", "spur_id", "grid_id",
                             "chainage_m")),
    "cameras": ("Point", ("camera_id", "name_zh", "name_en", "kind", "chainage_m", "offset_m", "dike_id", "grid_id",
                          "floodplain", "view_m")),
}

STAFF_ROLES = ("grid_leader", "micro_grid_leader", "grid_member", "team_member")
#: roles of the duty rosters of the plan's units (layer ``unit_staff``)
UNIT_ROLES = ("unit_leader", "unit_member")
#: a stone may sit at most this far (m) from its spur's line
STONE_TOLERANCE_M = 1.0


@dataclass
class Reach:
    """A validated reach: one GeoDataFrame per layer, the DEM and the parameters, all in one CRS."""

    name: str
    crs: Any
    dem: Any  # xarray.DataArray (y, x), metres
    layers: dict[str, Any]
    params: Any = None  # ReachParams when the parameter file is available
    source: Path | None = None
    rating_table: "GaugeRating | None" = field(default=None, repr=False)
    _terrain: Any = field(default=None, repr=False)

    def __getattr__(self, item: str):
        layers = self.__dict__.get("layers", {})
        if item in layers:
            return layers[item]
        raise AttributeError(f"Reach has no attribute or layer {item!r}")

    @property
    def resolution_m(self) -> float:
        return float(abs(self.dem.x.values[1] - self.dem.x.values[0]))

    @property
    def terrain(self):
        """The parametric terrain model behind the DEM (needs the parameter file)."""
        if self._terrain is None:
            if self.params is None:
                raise DataError(f"reach {self.name}: no parameter file, so no terrain model")
            from floodtwin.reach.terrain import ReachTerrain

            self._terrain = ReachTerrain(self.params)
        return self._terrain

    @cached_property
    def gauge_chainage_m(self) -> float:
        """Chainage (m) of the Huayuankou gauge (the first gauge of the layer, else the rating table's)."""
        if "gauges" in self.layers:
            return float(self.layers["gauges"]["chainage_m"].iloc[0])
        if self.rating_table is not None:
            return self.rating_table.gauge_chainage_m
        raise DataError(f"reach {self.name}: no gauges layer and no gauge rating table")

    def stage_at_gauge_m(self, discharge_m3s: float) -> float:
        """Uniform-flow stage (m) at the gauge for a discharge, from the reach's own compound section.

        The channel is fitted to the Huayuankou rating points, so in-bank stages follow the rating;
        above bankfull the floodplain conveys. It is the conservative fallback used when no hydraulic
        run is at hand; the calibrated 1D model supersedes it.
        """
        q = require_discharge_m3s(discharge_m3s, positive=True)
        if self.rating_table is not None and self.rating_table.covers(q):
            return self.rating_table.stage_m_at(q)
        return self.terrain.normal_stage_m(self.gauge_chainage_m, q)

    @property
    def bed_slope(self) -> float:
        """Longitudinal bed slope (m/m) of the reach."""
        if self.rating_table is not None:
            return self.rating_table.bed_slope
        return self.terrain.slope

    def fallback_water_level_m(self, discharge_m3s: float, chainage_m: float) -> float:
        """Water level (m) at a chainage: the gauge stage shifted along the reach by the bed slope."""
        stage = self.stage_at_gauge_m(discharge_m3s)
        return float(stage - self.bed_slope * (float(chainage_m) - self.gauge_chainage_m))


def dem_filename(name: str, resolution_m: float) -> str:
    """File name of a reach's DEM at a resolution: ``huayuankou_dem_50m.nc``."""
    return f"{name}_dem_{resolution_m:g}m.nc"


def reach_paths(name_or_path: str | Path) -> tuple[Path, Path | None, str]:
    """(GeoPackage path, parameter YAML path or None, reach name) for a reach name or a .gpkg path."""
    p = Path(name_or_path)
    if p.suffix == ".gpkg":
        yaml_path = p.with_suffix(".yaml")
        return p, (yaml_path if yaml_path.is_file() else None), p.stem
    gpkg = DATA_DIR / "dikes" / f"{name_or_path}.gpkg"
    yaml_path = DATA_DIR / "dikes" / f"{name_or_path}.yaml"
    return gpkg, (yaml_path if yaml_path.is_file() else None), str(name_or_path)


def load_reach(name_or_path: str | Path = "huayuankou", resolution_m: float = 50, *,
               dem_path: str | Path | None = None) -> Reach:
    """Load and validate a reach: its GeoPackage layers (EPSG:4547) and its DEM at ``resolution_m`` (m).

    ``name_or_path`` is a reach name under data/dikes/ or a path to a ``.gpkg`` (with its ``.yaml``
    beside it when the DEM must be built). ``dem_path`` replaces the DEM by a NetCDF of your own
    (variable ``elevation`` on ``y``/``x`` in the reach CRS).
    """
    from floodtwin.reach.gpkg import layer_names, read_layers
    from floodtwin.reach.params import load_params

    gpkg, yaml_path, name = reach_paths(name_or_path)
    if resolution_m <= 0:
        raise InputError(f"resolution_m = {resolution_m} must be positive")
    present = layer_names(gpkg)
    layers = read_layers(gpkg, LAYER_SCHEMAS, as_frames=True)
    params = load_params(yaml_path) if yaml_path is not None else None
    crs = validate_layers(layers, source=str(gpkg.name))
    rating = read_gauge_rating(gpkg) if "gauge_rating" in present else None
    if dem_path is None:
        dem_path = gpkg.parent / dem_filename(name, float(resolution_m))
    dem_path = Path(dem_path)
    if dem_path.is_file():
        dem = read_dem(dem_path)
    elif params is not None:
        from floodtwin.reach.terrain import ReachTerrain, build_dem

        dem = build_dem(ReachTerrain(params), float(resolution_m))
    else:
        raise DataError(f"{dem_path}: DEM not found and no parameter file to build it from")
    validate_dem(dem, crs, source=dem_path.name, bounds=layers["dikes"].total_bounds)
    return Reach(name=name, crs=crs, dem=dem, layers=layers, params=params, source=gpkg, rating_table=rating)


def read_dem(path: Path):
    """Read a DEM NetCDF (variable ``elevation``) as a DataArray through the one result reader
    (:func:`floodtwin.results.read_result`); DataError when it is not one."""
    from floodtwin.results import read_result

    return read_result(path, variable="elevation")


@dataclass(frozen=True)
class GaugeRating:
    """The reach's uniform-flow rating at its gauge, tabulated by the build (log-spaced discharges)."""

    discharge_m3s: np.ndarray
    stage_m: np.ndarray
    bed_slope: float
    gauge_chainage_m: float

    def covers(self, discharge_m3s: float) -> bool:
        return bool(self.discharge_m3s[0] <= discharge_m3s <= self.discharge_m3s[-1])

    def stage_m_at(self, discharge_m3s: float) -> float:
        """Stage (m) by interpolation in log discharge (the table is dense: ~1 mm from the model)."""
        return float(np.interp(np.log(discharge_m3s), np.log(self.discharge_m3s), self.stage_m))


def read_gauge_rating(gpkg: str | Path) -> GaugeRating:
    """Read and check the ``gauge_rating`` attribute table of a reach GeoPackage (sqlite3 only: fast)."""
    import sqlite3

    from floodtwin.reach.gpkg import connect

    gpkg = Path(gpkg)
    with connect(gpkg) as con:
        try:
            rows = con.execute("SELECT discharge_m3s, stage_m, bed_slope, gauge_chainage_m FROM gauge_rating "
                               "ORDER BY discharge_m3s").fetchall()
        except sqlite3.Error as exc:
            raise DataError(f"{gpkg.name}: layer 'gauge_rating': {exc}") from None
    table = np.asarray(rows, dtype=float).reshape(-1, 4)
    q, z = table[:, 0], table[:, 1]
    if len(q) < 2 or np.any(np.diff(q) <= 0) or np.any(np.diff(z) < 0) or not np.isfinite(table).all():
        raise DataError(f"{gpkg.name}: layer 'gauge_rating': discharge must rise and stage must not fall")
    return GaugeRating(q, z, float(table[0, 2]), float(table[0, 3]))


def validate_dem(dem, crs, *, source: str, bounds=None) -> None:
    """The DEM must be 2D (y, x) with square regular cells, have finite values, be in the reach's CRS
    (when it declares one) and cover ``bounds`` (xmin, ymin, xmax, ymax: the dikes' extent)."""
    if dem.dims != ("y", "x"):
        raise DataError(f"{source}: DEM dimensions are {dem.dims}, expected ('y', 'x')")
    if dem.sizes["x"] < 2 or dem.sizes["y"] < 2:
        raise DataError(f"{source}: DEM has fewer than 2 cells along an axis")
    dx = np.diff(dem.x.values)
    dy = np.diff(dem.y.values)
    if not (np.allclose(dx, dx[0]) and np.allclose(np.abs(dy), abs(dx[0]))):
        raise DataError(f"{source}: DEM cells are not square and regular")
    if not np.isfinite(dem.values).any():
        raise DataError(f"{source}: DEM has no finite elevation")
    declared = _declared_crs(dem, source)
    if declared is not None and not declared.equals(crs, ignore_axis_order=True):
        name = f"EPSG:{declared.to_epsg()}" if declared.to_epsg() else declared.name
        raise DataError(f"{source}: DEM CRS is {name}, the reach layers are in EPSG:{crs.to_epsg()}")
    if bounds is not None:
        half = abs(float(dx[0])) / 2
        x0, x1 = float(dem.x.min()) - half, float(dem.x.max()) + half
        y0, y1 = float(dem.y.min()) - half, float(dem.y.max()) + half
        bx0, by0, bx1, by1 = (float(v) for v in bounds)
        if bx0 < x0 or bx1 > x1 or by0 < y0 or by1 > y1:
            raise DataError(f"{source}: DEM covers x {x0:.0f}–{x1:.0f}, y {y0:.0f}–{y1:.0f} m, not the dikes "
                            f"(x {bx0:.0f}–{bx1:.0f}, y {by0:.0f}–{by1:.0f} m)")


def _declared_crs(dem, source: str):
    """The CRS a DEM declares (``crs_wkt`` attribute or CF grid-mapping variable), or None."""
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    attrs = [dem.attrs]
    mapping = dem.attrs.get("grid_mapping")
    if mapping in dem.coords:
        attrs.append(dem.coords[mapping].attrs)
    for a in attrs:
        for key in ("crs_wkt", "spatial_ref"):
            if key in a:
                try:
                    return CRS.from_wkt(str(a[key]))
                except CRSError:
                    raise DataError(f"{source}: DEM {key} is not a valid CRS") from None
    return None


def _fail(source: str, layer: str, feature: Any, problem: str) -> None:
    who = f" feature {feature}" if feature is not None else ""
    raise DataError(f"{source}: layer '{layer}'{who}: {problem}")


def validate_layers(layers: dict[str, Any], *, source: str = "reach"):
    """Check schemas and cross-references of all layers; return their common CRS."""
    from pyproj import CRS

    crs = None
    for layer, (geom_type, columns) in LAYER_SCHEMAS.items():
        gdf = layers[layer]
        for col in columns:
            if col not in gdf.columns:
                _fail(source, layer, None, f"column '{col}' is missing")
        if len(gdf) == 0:
            _fail(source, layer, None, "has no features")
        if gdf.crs is None:
            _fail(source, layer, None, "has no CRS")
        if crs is None:
            crs = CRS.from_user_input(gdf.crs)
        elif CRS.from_user_input(gdf.crs) != crs:
            _fail(source, layer, None, f"CRS {gdf.crs.to_string()} differs from the other layers ({crs.to_string()})")
        types = gdf.geometry.geom_type
        bad = types != geom_type
        if bad.any():
            i = int(np.argmax(bad.values))
            _fail(source, layer, _feature_id(gdf, i), f"geometry is {types.iloc[i]}, expected {geom_type}")
        empty = gdf.geometry.is_empty | gdf.geometry.isna()
        if empty.any():
            _fail(source, layer, _feature_id(gdf, int(np.argmax(empty.values))), "has an empty geometry")
        id_col = columns[0] if layer not in ("centerline", "channel") else None
        if id_col is not None:
            dup = gdf[id_col].duplicated()
            if dup.any():
                _fail(source, layer, gdf[id_col][dup].iloc[0], f"duplicate {id_col}")
    if crs.to_epsg() != 4547:
        raise DataError(f"{source}: reach CRS is {crs.to_string()}, expected EPSG:4547 (CGCS2000 / 3-degree GK CM 114E)")
    _validate_references(layers, source)
    return crs


def _feature_id(gdf, i: int) -> str:
    first = gdf.columns[0]
    return str(gdf[first].iloc[i]) if first != "geometry" else str(i)


def _validate_references(layers: dict[str, Any], source: str) -> None:
    grids = set(layers["grids"]["grid_id"])
    works = set(layers["works"]["works_id"])
    staff = layers["staff"]
    for _, row in staff.iterrows():
        if row["grid_id"] not in grids:
            _fail(source, "staff", row["staff_id"], f"is in no grid (grid_id '{row['grid_id']}' does not exist)")
        if row["role"] not in STAFF_ROLES:
            _fail(source, "staff", row["staff_id"], f"role '{row['role']}' is not one of {', '.join(STAFF_ROLES)}")
    staff_ids = set(staff["staff_id"])
    units = set(layers["units"]["unit_id"])
    unit_staff = layers["unit_staff"]
    for _, row in unit_staff.iterrows():
        if row["unit_id"] not in units:
            _fail(source, "unit_staff", row["staff_id"], f"unit '{row['unit_id']}' is not in the units layer")
        if row["role"] not in UNIT_ROLES:
            _fail(source, "unit_staff", row["staff_id"], f"role '{row['role']}' is not one of {', '.join(UNIT_ROLES)}")
        if row["works_id"] and row["works_id"] not in works:
            _fail(source, "unit_staff", row["staff_id"], f"works '{row['works_id']}' does not exist")
        if row["staff_id"] in staff_ids:
            _fail(source, "unit_staff", row["staff_id"], "is also in the staff layer (ids must be unique)")
    for _, row in layers["cameras"].iterrows():
        if row["grid_id"] and row["grid_id"] not in grids:
            _fail(source, "cameras", row["camera_id"], f"grid '{row['grid_id']}' does not exist")
    members = dict(zip(unit_staff["staff_id"], unit_staff["unit_id"]))
    for _, row in layers["units"].iterrows():
        if members.get(row["leader_id"]) != row["unit_id"]:
            _fail(source, "units", row["unit_id"], f"leader '{row['leader_id']}' is not in its duty roster")
    for _, row in layers["grids"].iterrows():
        if row["leader_id"] not in staff_ids:
            _fail(source, "grids", row["grid_id"], f"leader '{row['leader_id']}' is not in the staff layer")
        if row["level"] == "exclusive" and row["parent"] and row["parent"] not in grids:
            _fail(source, "grids", row["grid_id"], f"parent grid '{row['parent']}' does not exist")
    for layer, col in (("villages", "grid_id"), ("depots", "grid_id"), ("key_points", "grid_id"),
                       ("gauges", "grid_id")):
        gdf = layers[layer]
        if col not in gdf.columns:
            continue
        for _, row in gdf.iterrows():
            value = row[col]
            if layer == "villages" and value not in grids:
                _fail(source, layer, row.iloc[0], f"grid '{value}' does not exist")
            if value and value not in grids:
                _fail(source, layer, row.iloc[0], f"grid '{value}' does not exist")
    for layer in ("spurs", "stones", "depots", "key_points"):
        gdf = layers[layer]
        for _, row in gdf.iterrows():
            value = row["works_id"]
            if (layer in ("spurs", "stones") or value) and value not in works:
                _fail(source, layer, row.iloc[0], f"works '{value}' does not exist")
    spurs = layers["spurs"].set_index("spur_id")
    for _, row in layers["key_points"].iterrows():
        sid = row["spur_id"]
        if sid and sid not in spurs.index:
            _fail(source, "key_points", row["point_id"], f"spur '{sid}' does not exist")
        if sid and spurs.loc[sid, "works_id"] != row["works_id"]:
            _fail(source, "key_points", row["point_id"], f"spur {sid} belongs to works {spurs.loc[sid, 'works_id']}, "
                                                         f"not {row['works_id']!r}")
    works_geom = layers["works"].set_index("works_id").geometry
    for _, row in layers["stones"].iterrows():
        sid = row["spur_id"]
        if sid not in spurs.index:
            _fail(source, "stones", row["stone_id"], f"spur '{sid}' does not exist")
        spur = spurs.loc[sid]
        if int(row["spur_number"]) != int(spur["number"]):
            _fail(source, "stones", row["stone_id"], f"spur_number {row['spur_number']} does not match spur {sid} "
                                                     f"(No. {spur['number']})")
        if spur["works_id"] != row["works_id"]:
            _fail(source, "stones", row["stone_id"], f"spur {sid} belongs to works {spur['works_id']}, "
                                                     f"not {row['works_id']}")
        if spur.geometry.distance(row.geometry) > STONE_TOLERANCE_M:
            _fail(source, "stones", row["stone_id"], f"lies {spur.geometry.distance(row.geometry):.1f} m from "
                                                     f"spur {sid} of its works {row['works_id']}")
        if not works_geom[row["works_id"]].buffer(STONE_TOLERANCE_M).contains(row.geometry):
            _fail(source, "stones", row["stone_id"], f"lies outside its works {row['works_id']}")
