"""Example inputs of the result maps (``floodtwin.maps.example``): a flood Dataset and its layers built on
the reach from a max-depth field alone, for the tests, the docs and a first look at the maps before a
scenario run hands the real ones over.

Only ``max_depth`` is a model result (pass the ``max_depth`` of ``simulate_coupled``), or a plane water
surface over the DEM between the dikes (``planar_max_depth``). Speed, arrival time and hazard rating are *illustrative*
(Manning's formula on a uniform slope; a front moving out from the river axis), and the grids' tasks
are made-up lines in the format the preplan's dispatch writes; none of it is a forecast.
"""

from __future__ import annotations

import numpy as np

from floodtwin.maps.style import DRY_DEPTH_M, HAZARD
from floodtwin.risk import freeboard_class

__all__ = ["between_dikes", "example_inputs", "hazard_codes", "planar_max_depth"]

#: FD2320 hazard-rating class bounds (HR = d (v + 0.5) + DF)
HR_BOUNDS = (0.75, 1.25, 2.0)
SLOPE = 1.5e-4  # the reach's water-surface slope, for the illustrative speed
MANNING_N = 0.035
FRONT_SPEED_MS = 0.35  # illustrative speed of the flood front across the floodplain


def _cells(dem):
    X, Y = np.meshgrid(dem.x.values, dem.y.values)
    return X, Y


def _distance_to_axis(reach) -> np.ndarray:
    import shapely

    X, Y = _cells(reach.dem)
    return shapely.distance(shapely.points(X, Y), reach.centerline.geometry.iloc[0])


def between_dikes(reach):
    """The floodplain between the left and the right dike as one polygon: the stand-in model domain."""
    import shapely
    from shapely.geometry import Polygon

    def line(bank):
        d = reach.dikes[reach.dikes.bank == bank].sort_values("chainage_from_m")
        return np.concatenate([shapely.get_coordinates(g) for g in d.geometry])

    return shapely.make_valid(Polygon(np.concatenate([line("left"), line("right")[::-1]])))


def planar_max_depth(reach, level_m: float, *, slope: float = SLOPE) -> np.ndarray:
    """Depth (m) of a plane water surface over the DEM between the dikes (NaN beyond): ``level_m`` at the
    start of the river axis, falling by ``slope`` (m/m) along it."""
    import shapely

    X, Y = _cells(reach.dem)
    inside = shapely.contains_xy(between_dikes(reach), X, Y)
    chainage = shapely.line_locate_point(reach.centerline.geometry.iloc[0], shapely.points(X, Y))
    return np.where(inside, np.clip(level_m - slope * chainage - reach.dem.values, 0.0, None), np.nan)


def hazard_codes(hr: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """FD2320 class codes (int8): 0 dry, 1 low, 2 moderate, 3 significant, 4 extreme."""
    code = 1 + np.digitize(np.nan_to_num(hr), HR_BOUNDS, right=True)
    return np.where(np.nan_to_num(depth) > DRY_DEPTH_M, code, 0).astype(np.int8)


def _flood(reach, max_depth: np.ndarray):
    import xarray as xr

    d = np.asarray(max_depth, float)
    wet = np.nan_to_num(d) > DRY_DEPTH_M
    axis = _distance_to_axis(reach)
    # Manning on the reach slope, faster near the main channel where the floodplain conveys most
    speed = np.where(np.isfinite(d), np.nan_to_num(d) ** (2 / 3) * SLOPE ** 0.5 / MANNING_N
                     * (1.0 + 1.5 * np.exp(-axis / 700.0)), np.nan)
    arrival = np.where(wet, axis / FRONT_SPEED_MS, np.nan)
    hr = np.where(np.isfinite(d), np.nan_to_num(d) * (speed + 0.5) + np.where(d > 0.25, 0.5, 0.0), np.nan)
    dims = ("y", "x")
    return xr.Dataset(
        {"max_depth": (dims, d, {"units": "m"}), "max_speed": (dims, speed, {"units": "m s-1"}),
         "arrival_time": (dims, arrival, {"units": "s"}), "max_hazard_rating": (dims, hr, {"units": "1"}),
         "hazard_class": (dims, hazard_codes(hr, d))},
        coords={"y": reach.dem.y.values, "x": reach.dem.x.values},
        attrs={"crs": "EPSG:4547", "note": "example: speed, arrival and hazard are illustrative"})


def _sample(flood, var: str, x, y) -> np.ndarray:
    """Values of ``flood[var]`` at the cells holding the points (x, y)."""
    xs, ys = flood.x.values, flood.y.values
    j = np.abs(xs[None, :] - np.asarray(x)[:, None]).argmin(axis=1)
    i = np.abs(ys[None, :] - np.asarray(y)[:, None]).argmin(axis=1)
    return flood[var].values[i, j]


def _villages(reach, flood):
    v = reach.villages.copy()
    x, y = v.geometry.x.to_numpy(), v.geometry.y.to_numpy()
    depth = np.nan_to_num(_sample(flood, "max_depth", x, y))
    wet = depth > DRY_DEPTH_M
    code = _sample(flood, "hazard_class", x, y).astype(int)
    v["max_depth_m"] = np.round(depth, 2)
    v["arrival_time_s"] = np.where(wet, _sample(flood, "arrival_time", x, y), np.nan)
    v["hazard_class"] = [HAZARD[c - 1].key if w and c > 0 else "dry" for c, w in zip(code, wet)]
    v["flooded"] = wet
    return v


def _inside(geom, X, Y) -> np.ndarray:
    import shapely

    return shapely.contains_xy(geom, X, Y)


def _grids(reach, flood, villages):
    g = reach.grids.copy()
    X, Y = _cells(reach.dem)
    wet = np.nan_to_num(flood.max_depth.values) > DRY_DEPTH_M
    wx, wy = X[wet], Y[wet]
    cell_km2 = reach.resolution_m ** 2 / 1e6
    g["flooded_area_km2"] = [round(float(_inside(geom, wx, wy).sum() * cell_km2), 3) for geom in g.geometry]
    flooded = villages[villages.flooded]
    g["people"] = [int(flooded.population[flooded.grid_id == gid].sum()) for gid in g.grid_id]
    g["villages"] = [", ".join(f"{r.name_zh} {r.name_en}" for r in flooded[flooded.grid_id == gid].itertuples())
                     for gid in g.grid_id]
    staff = reach.staff
    lines = []
    for r in g.itertuples():
        holders = staff[staff.grid_id == r.grid_id].staff_id.tolist() or ["—"]
        mine = []
        if r.flooded_area_km2 > 0:
            mine.append(f"+1 h · 巡查堤防 patrol the dike and the works · {holders[0]} ({r.grid_id} leader)")
        if r.people > 0:
            mine.append(f"+2 h · 转移群众 evacuate {r.people} people · {holders[-1]} ({r.grid_id} member)")
        lines.append("\n".join(mine))
    g["task_lines"] = lines
    g["task_count"] = [len(t.splitlines()) for t in lines]
    return g


def _dikes(reach, flood):
    import shapely

    d = reach.dikes.copy()
    X, Y = _cells(reach.dem)
    surface = reach.dem.values + np.nan_to_num(flood.max_depth.values)
    wet = np.nan_to_num(flood.max_depth.values) > DRY_DEPTH_M
    wx, wy, wz = X[wet], Y[wet], surface[wet]
    level = []
    for geom in d.geometry:
        near = shapely.contains_xy(geom.buffer(200.0), wx, wy)
        level.append(float(wz[near].max()) if near.any() else np.nan)
    d["max_water_level_m"] = np.round(level, 2)
    d["freeboard_m"] = np.round(d.crest_elevation_m - d.max_water_level_m, 2)
    # a dike with no water against it has all its crest height as freeboard
    d["freeboard_class"] = freeboard_class(d.freeboard_m.fillna(d.crest_elevation_m - d.land_elevation_m))
    d["toe_depth_m"] = np.round(np.clip(d.max_water_level_m - d.toe_elevation_m, 0.0, None).fillna(0.0), 2)
    return d


def _works(reach, flood):
    w = reach.works.copy()
    X, Y = _cells(reach.dem)
    speed = flood.max_speed.values
    ok = np.isfinite(speed)
    sx, sy, sv = X[ok], Y[ok], speed[ok]
    top = []
    for geom in w.geometry:
        near = _inside(geom.buffer(250.0), sx, sy)
        top.append(round(float(sv[near].max()), 2) if near.any() else 0.0)
    w["max_speed_ms"] = top
    w["attack"] = w.max_speed_ms > 1.0  # main flow against the works: 大溜顶冲
    return w


def example_inputs(reach, max_depth: np.ndarray):
    """(flood, layers) for the maps from ``max_depth`` (m, on the reach DEM's grid, NaN outside the domain)."""
    flood = _flood(reach, max_depth)
    villages = _villages(reach, flood)
    layers = {"villages": villages, "grids": _grids(reach, flood, villages), "dikes": _dikes(reach, flood),
              "works": _works(reach, flood)}
    return flood, layers
