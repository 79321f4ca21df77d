"""Risk of the objects on the map from a 2D (or coupled 1D–2D) flood: per village, grid, dike segment
and works, and the hazard polygons.

Every function reads the flood's per-cell fields (``max_depth``, ``max_speed``, ``arrival_time``,
``duration_above``, ``max_hazard_rating`` on dims ``(y, x)`` in the reach CRS, metres) and returns a
copy of the object layer with the risk columns added; geometry is kept, so the results are
GeoDataFrames in the layer's CRS (EPSG:4547 for the reach). Pure functions: the orchestrator
(``floodtwin.scenario``) passes the reach's layers and, where a measure needs the channel, the
1D result.
"""

from __future__ import annotations

import numpy as np

from floodtwin.errors import InputError
from floodtwin.risk.hazard import HAZARD_CLASSES, WET_DEPTH_M, hazard_class_code, hazard_class_name

__all__ = ["ATTACK_SPEED_MS", "CELL_FIELDS", "VILLAGE_RADIUS_M", "cell_values_near", "dike_risk", "flood_summary",
           "grid_risk", "hazard_polygons", "require_flood", "village_risk", "works_risk"]

#: the per-cell fields a flood must carry
CELL_FIELDS = ("max_depth", "max_speed", "arrival_time", "duration_above", "max_hazard_rating")
#: a village is a point on the layer but a settlement on the ground: its risk is the worst cell within
#: this radius (m) of the point (the lowest house floods first), at least the cell under the point
VILLAGE_RADIUS_M = 100.0
#: speed (m/s) at a spur head from which the works counts as under main-current attack (大溜顶冲) —
#: an estimate [E]: the speed at which FD2320 counts debris; no published threshold for these works
ATTACK_SPEED_MS = 2.0


def require_flood(flood) -> None:
    """InputError unless ``flood`` has the per-cell fields on (y, x)."""
    missing = [f for f in CELL_FIELDS if f not in flood]
    if missing:
        raise InputError(f"flood: missing per-cell field(s) {', '.join(missing)} (a 2D or coupled run result)")
    for f in CELL_FIELDS:
        if flood[f].dims != ("y", "x"):
            raise InputError(f"flood: {f} must lie on dims (y, x), not {flood[f].dims}")


def _cell_size_m(flood) -> float:
    return float(abs(flood.x.values[1] - flood.x.values[0]))


def cell_values_near(flood, name: str, x_m, y_m, radius_m: float, how: str = "max") -> np.ndarray:
    """Per point, the ``how`` (max or min, NaN-skipping) of field ``name`` over the cells whose centres
    lie within ``radius_m`` of the point, always including the cell under it; NaN where none is in
    the model (outside the DEM or only channel cells)."""
    xs, ys = flood.x.values.astype(float), flood.y.values.astype(float)
    field = flood[name].values
    dx = _cell_size_m(flood)
    reach_cells = int(np.ceil(radius_m / dx))
    out = np.full(np.size(x_m), np.nan)
    for k, (px, py) in enumerate(zip(np.atleast_1d(x_m), np.atleast_1d(y_m))):
        j0 = int(np.argmin(np.abs(xs - px)))
        i0 = int(np.argmin(np.abs(ys - py)))
        i_lo, i_hi = max(i0 - reach_cells, 0), min(i0 + reach_cells + 1, ys.size)
        j_lo, j_hi = max(j0 - reach_cells, 0), min(j0 + reach_cells + 1, xs.size)
        if not (abs(xs[j0] - px) <= dx and abs(ys[i0] - py) <= dx):
            continue  # the point is off the grid
        block = field[i_lo:i_hi, j_lo:j_hi]
        gx, gy = np.meshgrid(xs[j_lo:j_hi], ys[i_lo:i_hi])
        near = (gx - px) ** 2 + (gy - py) ** 2 <= radius_m ** 2
        near[i0 - i_lo, j0 - j_lo] = True
        vals = block[near & np.isfinite(block)]
        if vals.size:
            out[k] = float(vals.max() if how == "max" else vals.min())
    return out


def village_risk(villages, flood, *, radius_m: float = VILLAGE_RADIUS_M):
    """Per village: max_depth_m, max_speed_ms, arrival_time_s (first depth above ``WET_DEPTH_M``; NaN
    if never), duration_above_s, hazard_rating, hazard_class and flooded (max depth above
    ``WET_DEPTH_M``), from the worst cell within ``radius_m`` of the village point; the layer's own
    columns (population, households, special attention, farmers, evacuation point) are kept."""
    require_flood(flood)
    x, y = villages.geometry.x.to_numpy(float), villages.geometry.y.to_numpy(float)
    depth = np.nan_to_num(cell_values_near(flood, "max_depth", x, y, radius_m), nan=0.0)
    out = villages.copy()
    out["max_depth_m"] = depth
    out["max_speed_ms"] = np.nan_to_num(cell_values_near(flood, "max_speed", x, y, radius_m), nan=0.0)
    out["arrival_time_s"] = cell_values_near(flood, "arrival_time", x, y, radius_m, how="min")
    out["duration_above_s"] = np.nan_to_num(cell_values_near(flood, "duration_above", x, y, radius_m), nan=0.0)
    hr = np.nan_to_num(cell_values_near(flood, "max_hazard_rating", x, y, radius_m), nan=0.0)
    out["hazard_rating"] = hr
    out["hazard_class"] = hazard_class_name(hazard_class_code(hr, depth))
    out["flooded"] = depth > WET_DEPTH_M
    out.loc[~out["flooded"], "arrival_time_s"] = np.nan
    return out


def _cells_in(polygon, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices of the cells whose centres lie in ``polygon`` (bounding box first)."""
    import shapely

    x0, y0, x1, y1 = polygon.bounds
    cols = np.nonzero((xs >= x0) & (xs <= x1))[0]
    rows = np.nonzero((ys >= y0) & (ys <= y1))[0]
    if cols.size == 0 or rows.size == 0:
        return np.zeros(0, int), np.zeros(0, int)
    gx, gy = np.meshgrid(xs[cols], ys[rows])
    inside = shapely.contains_xy(polygon, gx, gy)
    ii, jj = np.nonzero(inside)
    return rows[ii], cols[jj]


def grid_risk(grids, flood, villages_at_risk, *, task_lines: dict[str, list[str]] | None = None):
    """Per grid: flooded_area_km2 (cells in the grid with max depth above ``WET_DEPTH_M``), max_depth_m,
    people and households of its flooded villages, special_attention, villages (their names, "; "),
    and, when ``task_lines`` (grid id -> lines "deadline · task · holder") is given, task_count and
    task_lines (newline-joined)."""
    require_flood(flood)
    xs, ys = flood.x.values.astype(float), flood.y.values.astype(float)
    depth = np.nan_to_num(flood["max_depth"].values, nan=0.0)
    cell_km2 = _cell_size_m(flood) ** 2 / 1e6
    flooded_v = villages_at_risk[villages_at_risk["flooded"]]
    out = grids.copy()
    area, deepest, people, households, special, names = [], [], [], [], [], []
    for gid, poly in zip(grids["grid_id"], grids.geometry):
        r, c = _cells_in(poly, xs, ys)
        d = depth[r, c]
        area.append(float(np.count_nonzero(d > WET_DEPTH_M)) * cell_km2)
        deepest.append(float(d.max()) if d.size else 0.0)
        mine = flooded_v[flooded_v["grid_id"] == gid]
        people.append(int(mine["population"].sum()))
        households.append(int(mine["households"].sum()))
        special.append(int(mine["special_attention"].sum()))
        names.append("; ".join(f"{zh} {en}" for zh, en in zip(mine["name_zh"], mine["name_en"])))
    out["flooded_area_km2"] = area
    out["max_depth_m"] = deepest
    out["people"] = people
    out["households"] = households
    out["special_attention"] = special
    out["villages"] = names
    if task_lines is not None:
        out["task_count"] = [len(task_lines.get(g, [])) for g in grids["grid_id"]]
        out["task_lines"] = ["\n".join(task_lines.get(g, [])) for g in grids["grid_id"]]
    return out


def dike_risk(dikes, flood, toe_points: dict[str, tuple[np.ndarray, np.ndarray]]):
    """Add to the dikes' freeboard table (``risk.freeboard`` of the channel stage) the flood at each
    segment's river-side toe: toe_depth_m and toe_level_m (the highest 2D water there, m), and where
    that water stands higher than the channel's, the freeboard against it (water_source says which:
    "channel" or "floodplain"). ``toe_points``: segment id -> (x, y) arrays (m) just riverward of the
    toe. A segment the 2D grid does not reach keeps its channel freeboard."""
    from floodtwin.risk.stage import freeboard_class

    require_flood(flood)
    if "bed" not in flood:
        raise InputError("flood: needs bed (m) to give water levels at the dike toes")
    level = (flood["bed"] + flood["max_depth"].where(flood["max_depth"] > WET_DEPTH_M)).rename("max_level")
    fl = flood.assign(max_level=level)
    out = dikes.copy()
    toe_depth, toe_level = [], []
    for sid in dikes["segment_id"]:
        px, py = toe_points.get(sid, (np.zeros(0), np.zeros(0)))
        d = cell_values_near(fl, "max_depth", px, py, 0.0) if np.size(px) else np.array([np.nan])
        z = cell_values_near(fl, "max_level", px, py, 0.0) if np.size(px) else np.array([np.nan])
        toe_depth.append(float(np.nanmax(d)) if np.isfinite(d).any() else 0.0)
        toe_level.append(float(np.nanmax(z)) if np.isfinite(z).any() else np.nan)
    out["toe_depth_m"] = np.where(np.asarray(toe_depth) > WET_DEPTH_M, toe_depth, 0.0)
    out["toe_level_m"] = toe_level
    channel = out["max_water_level_m"].to_numpy(float)
    plain = np.asarray(toe_level, float)
    higher = np.isfinite(plain) & (plain > channel)
    out["water_source"] = np.where(higher, "floodplain", "channel")
    out["max_water_level_m"] = np.where(higher, plain, channel)
    out["freeboard_m"] = out["crest_elevation_m"].to_numpy(float) - out["max_water_level_m"].to_numpy(float)
    out["freeboard_class"] = freeboard_class(out["freeboard_m"].to_numpy(float))
    return out


def works_risk(works, spurs, flood, channel_speed_ms_at, *, radius_m: float | None = None):
    """Per works: max_speed_ms, the highest speed at its spur heads (the spur's river end) over the run,
    the spur where it occurs (spur_max) and whether the works is under main-current attack
    (``ATTACK_SPEED_MS``). The speed at a spur head is the larger of the 2D speed at the head's cell
    (when the grid models it) and the 1D channel's cross-section mean speed at the spur's chainage
    (``channel_speed_ms_at``: chainages (m) -> highest mean speed (m/s); the 2D grid leaves the channel
    out, so in a 险工 reach, where the spurs stand in the channel, that is the channel speed)."""
    require_flood(flood)
    radius_m = _cell_size_m(flood) if radius_m is None else radius_m
    heads_x = np.array([g.coords[-1][0] for g in spurs.geometry])
    heads_y = np.array([g.coords[-1][1] for g in spurs.geometry])
    v2d = np.nan_to_num(cell_values_near(flood, "max_speed", heads_x, heads_y, radius_m), nan=0.0)
    v1d = np.asarray(channel_speed_ms_at(spurs["chainage_m"].to_numpy(float)), float)
    head = np.maximum(v2d, v1d)
    out = works.copy()
    speeds, at = [], []
    for wid in works["works_id"]:
        mine = (spurs["works_id"] == wid).to_numpy()
        if not mine.any():
            speeds.append(0.0)
            at.append("")
            continue
        k = int(np.argmax(np.where(mine, head, -np.inf)))
        speeds.append(float(head[k]))
        at.append(str(spurs["spur_id"].iloc[k]))
    out["max_speed_ms"] = speeds
    out["spur_max"] = at
    out["attack"] = np.asarray(speeds) >= ATTACK_SPEED_MS
    return out


def hazard_polygons(flood, crs=None):
    """Polygons of the hazard classes (one (multi)polygon per class present, dry left out): cells of a
    class merged row by row into runs, then into one coverage. Columns hazard_class, hazard_code,
    area_km2."""
    import geopandas as gpd
    import shapely

    require_flood(flood)
    code = hazard_class_code(flood["max_hazard_rating"].values, flood["max_depth"].values)
    xs, ys = flood.x.values.astype(float), flood.y.values.astype(float)
    half = 0.5 * _cell_size_m(flood)
    rows = []
    for c in range(1, len(HAZARD_CLASSES)):
        boxes = []
        for i in range(code.shape[0]):
            line = code[i] == c
            if not line.any():
                continue
            edges = np.diff(np.concatenate([[0], line.astype(np.int8), [0]]))
            starts, ends = np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0] - 1
            for a, b in zip(starts, ends):
                boxes.append(shapely.box(xs[a] - half, ys[i] - half, xs[b] + half, ys[i] + half))
        if boxes:
            geom = shapely.union_all(boxes, grid_size=1.0)
            rows.append({"hazard_class": HAZARD_CLASSES[c], "hazard_code": c, "area_km2": geom.area / 1e6,
                         "geometry": geom})
    return gpd.GeoDataFrame(rows, columns=["hazard_class", "hazard_code", "area_km2", "geometry"], geometry="geometry",
                            crs=crs)


def flood_summary(flood, *, floodplain_mask=None) -> dict[str, float]:
    """Inundated area (km², max depth above ``WET_DEPTH_M``), the volume (m³) of the maximum-depth
    envelope over it, and the area per hazard class; ``floodplain_mask`` (bool (y, x)) restricts them
    (e.g. to the land between the dikes or behind them)."""
    require_flood(flood)
    depth = np.nan_to_num(flood["max_depth"].values, nan=0.0)
    mask = np.ones(depth.shape, bool) if floodplain_mask is None else np.asarray(floodplain_mask, bool)
    cell_m2 = _cell_size_m(flood) ** 2
    wet = (depth > WET_DEPTH_M) & mask
    code = hazard_class_code(flood["max_hazard_rating"].values, depth)
    out = {"inundated_area_km2": float(wet.sum()) * cell_m2 / 1e6,
           "max_depth_volume_m3": float(depth[wet].sum()) * cell_m2}
    for c in range(1, len(HAZARD_CLASSES)):
        out[f"area_{HAZARD_CLASSES[c]}_km2"] = float(np.count_nonzero((code == c) & mask)) * cell_m2 / 1e6
    return out
