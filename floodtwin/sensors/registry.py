"""The smart-stone registry: every stone tied to a root stone, with what alarms and tasks need.

Built from the reach's ``stones`` layer (id, works, spur, position, install depth, baseline
attitude, reporting interval) and enriched once with what a root-stone-loss task needs: the
works' names, the grid whose staff act there, and the nearest depot holding both riprap and
gabions. The registry is kept in the database (table ``stones``) so that ingest and status
commands do not have to load the reach; :func:`ensure_registry` fills it on first use.
"""

from __future__ import annotations

import logging
import math
import sqlite3
from dataclasses import asdict, dataclass, fields
from typing import Any

from floodtwin.db import transaction
from floodtwin.errors import DataError
from floodtwin.tasks import MATERIALS

__all__ = ["Stone", "Registry", "registry_from_reach", "load_registry", "save_registry", "registry_from_db",
           "ensure_registry"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Stone:
    """One smart stone. Positions in the reach CRS (EPSG:4547, metres); angles in degrees."""

    stone_id: str
    works_id: str
    works_name_zh: str
    works_name_en: str
    spur_id: str
    spur_number: int
    x_m: float
    y_m: float
    install_depth_m: float
    baseline_roll_deg: float
    baseline_pitch_deg: float
    report_interval_min: float
    grid_id: str | None
    depot_id: str | None
    depot_name_zh: str | None
    depot_name_en: str | None
    depot_x_m: float | None
    depot_y_m: float | None
    depot_distance_m: float | None

    def offline_after_s(self, intervals: float) -> float:
        """Seconds of silence after which the stone counts as offline: ``intervals`` reporting
        intervals (the thresholds' ``offline_intervals``)."""
        return intervals * self.report_interval_min * 60.0


class Registry:
    """All stones by id, in registry order; ``index`` maps id -> position (for array code)."""

    def __init__(self, stones: list[Stone], reach: str = "huayuankou"):
        self.reach = reach
        self.stones: dict[str, Stone] = {s.stone_id: s for s in stones}
        if len(self.stones) != len(stones):
            raise DataError(f"stone registry of {reach}: duplicate stone_id")
        self.ids: list[str] = [s.stone_id for s in stones]
        self.index: dict[str, int] = {sid: i for i, sid in enumerate(self.ids)}
        #: stone_id -> the database's integer key (set once the registry is stored)
        self.numbers: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self.stones)

    def __getitem__(self, stone_id: str) -> Stone:
        return self.stones[stone_id]

    def __contains__(self, stone_id: object) -> bool:
        return stone_id in self.stones

    def __iter__(self):
        return iter(self.stones.values())

    def to_records(self) -> list[dict[str, Any]]:
        """Plain dicts (JSON-serialisable), one per stone, in registry order."""
        return [asdict(s) for s in self.stones.values()]


def _nearest(x: float, y: float, candidates: list[tuple[str, float, float, Any]]):
    best = min(candidates, key=lambda c: (c[1] - x) ** 2 + (c[2] - y) ** 2)
    return best, math.hypot(best[1] - x, best[2] - y)


def registry_from_reach(reach: Any) -> Registry:
    """Build the registry from a loaded :class:`~floodtwin.reach.Reach` (its stones, works,
    grids and depots layers). The task grid is the exclusive grid (专属网格) containing the stone
    if any, else the town grid containing it, else the nearest grid; the depot is the nearest
    one stocking both stone and gabions, measured in a straight line (metres)."""
    import shapely

    stones, works, grids, depots = reach.stones, reach.works, reach.grids, reach.depots
    works_by_id = {r.works_id: r for r in works.itertuples(index=False)}
    # the materials of the root-stone response (riprap stone, gabions), by their depots-layer columns
    stone_col, gabions_col = MATERIALS["stone"].depot_column, MATERIALS["gabions"].depot_column
    stocked = depots[(depots[stone_col] > 0) & (depots[gabions_col] > 0)]
    depot_points = [(r.depot_id, r.geometry.x, r.geometry.y, r) for r in stocked.itertuples(index=False)]
    # exclusive grids are laid over the works, so they win over the town grid underneath
    grid_order = grids.assign(_rank=(grids["level"] != "exclusive").astype(int)).sort_values(["_rank", "grid_id"])
    grid_geoms = list(grid_order.geometry)
    grid_ids = list(grid_order["grid_id"])
    out: list[Stone] = []
    for r in stones.itertuples(index=False):
        x, y = float(r.geometry.x), float(r.geometry.y)
        w = works_by_id.get(r.works_id)
        if w is None:
            raise DataError(f"reach {getattr(reach, 'name', '')}: stones: {r.stone_id}: unknown works {r.works_id!r}")
        point = shapely.Point(x, y)
        grid_id = next((g for g, geom in zip(grid_ids, grid_geoms) if geom.covers(point)), None)
        if grid_id is None and grid_geoms:
            distances = [geom.distance(point) for geom in grid_geoms]
            grid_id = grid_ids[distances.index(min(distances))]
        depot, dist = _nearest(x, y, depot_points) if depot_points else (None, None)
        out.append(Stone(
            stone_id=str(r.stone_id), works_id=str(r.works_id), works_name_zh=str(w.name_zh),
            works_name_en=str(w.name_en), spur_id=str(r.spur_id), spur_number=int(r.spur_number),
            x_m=x, y_m=y, install_depth_m=float(r.install_depth_m),
            baseline_roll_deg=float(r.baseline_roll_deg), baseline_pitch_deg=float(r.baseline_pitch_deg),
            report_interval_min=float(r.report_interval_min), grid_id=grid_id,
            depot_id=depot[0] if depot else None, depot_name_zh=str(depot[3].name_zh) if depot else None,
            depot_name_en=str(depot[3].name_en) if depot else None,
            depot_x_m=float(depot[1]) if depot else None, depot_y_m=float(depot[2]) if depot else None,
            depot_distance_m=round(float(dist), 1) if depot else None,
        ))
    return Registry(out, reach=str(getattr(reach, "name", "huayuankou")))


def load_registry(reach_name: str = "huayuankou") -> Registry:
    """Load the reach ``reach_name`` and build its stone registry."""
    from floodtwin.reach import load_reach

    reach = load_reach(reach_name)
    registry = registry_from_reach(reach)
    registry.reach = reach_name
    return registry


_COLUMNS = [f.name for f in fields(Stone)]


def save_registry(conn: sqlite3.Connection, registry: Registry) -> None:
    """Store ``registry`` in the ``stones`` table (one transaction). Stones already stored keep
    their ``stone_no`` (readings refer to it); a stone no longer in the registry is kept while it
    has readings, so history is never orphaned."""
    placeholders = ", ".join("?" for _ in _COLUMNS)
    updates = ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS[1:])
    with transaction(conn):
        conn.executemany(f"INSERT INTO stones ({', '.join(_COLUMNS)}, reach) VALUES ({placeholders}, ?) "
                         f"ON CONFLICT(stone_id) DO UPDATE SET {updates}, reach = excluded.reach",
                         [tuple(getattr(s, c) for c in _COLUMNS) + (registry.reach,) for s in registry])
        marks = ",".join("?" * len(registry.ids))
        conn.execute(f"DELETE FROM stones WHERE stone_id NOT IN ({marks}) "
                     "AND stone_no NOT IN (SELECT DISTINCT stone_no FROM readings)", registry.ids)


def registry_from_db(conn: sqlite3.Connection) -> Registry | None:
    """The registry stored in the database, or None when none has been stored yet."""
    rows = conn.execute(f"SELECT {', '.join(_COLUMNS)}, reach, stone_no FROM stones ORDER BY stone_no").fetchall()
    if not rows:
        return None
    registry = Registry([Stone(*tuple(row)[:-2]) for row in rows], reach=rows[0]["reach"])
    registry.numbers = {row["stone_id"]: row["stone_no"] for row in rows}
    return registry


def ensure_registry(conn: sqlite3.Connection, reach_name: str = "huayuankou") -> Registry:
    """The database's registry; on first use build it from the reach and store it."""
    registry = registry_from_db(conn)
    if registry is None:
        log.info("building the stone registry from reach %s", reach_name)
        save_registry(conn, load_registry(reach_name))
        registry = registry_from_db(conn)
    return registry
