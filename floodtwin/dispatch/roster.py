"""Who can be dispatched: the grid staff and grid leaders of the reach, and the duty rosters of the
plan's units (river bureau, works crews, materials group, rescue team, traffic police liaison, the
town command's duty room ...), kept in the database.

The reach's ``staff``, ``grids``, ``units`` and ``unit_staff`` layers are copied into
``roster_staff``/``roster_grids``/``roster_units`` so
that dispatch (a hot path: 300 tasks in well under a second) never re-reads the GeoPackage, and
so that several processes agree on the same roster. ``sync_roster`` refreshes the copy.
"""

from __future__ import annotations

import math
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from floodtwin.db import transaction
from floodtwin.errors import DataError

__all__ = ["STAFF_ROLES", "UNIT_ROLES", "SYSTEM_ACTORS", "StaffMember", "GridInfo", "UnitInfo", "Roster", "actor_kind", "sync_roster",
           "load_roster", "ensure_roster"]

#: Roles of grid staff in the reach (the owner roles a grid task can name).
STAFF_ROLES = ("grid_leader", "micro_grid_leader", "grid_member", "team_member")
#: Roles in the duty rosters of the plan's units (reach layer ``unit_staff``).
UNIT_ROLES = ("unit_leader", "unit_member")

#: The programs that act on the board, by the name they record in the event log. They create, escalate
#: and stand down tasks and receive reports; an action a person takes on a task (acknowledge, carry out,
#: verify, close, cancel) or a push must name that person, so none of these may take it.
SYSTEM_ACTORS: dict[str, str] = {
    "tick": "the SLA timer run (floodtwin tasks tick): escalations and recurring rounds",
    "alerts": "the alert run: activations from the live flow, re-assessments a preplan trigger sets off",
    "sensors": "the smart-stone alarms (floodtwin stones): their response tasks",
    "app": "the staff app's upload of field reports (floodtwin report import)",
    "cameras": "the camera platform's video-analytics events (floodtwin camera ingest): their tasks, crowd switches",
}


@dataclass(frozen=True)
class StaffMember:
    """A person who can be dispatched: grid staff (``grid_id``) or a member of a unit's duty roster
    (``unit``; ``works_id`` the works a river-bureau crew serves)."""

    staff_id: str
    role: str
    grid_id: str | None
    shift: str | None
    on_duty: bool
    unit: str | None = None
    works_id: str | None = None


@dataclass(frozen=True)
class UnitInfo:
    """A unit of the plan that is not grid staff, and its leader (the first step of its escalation)."""

    unit_id: str
    leader_id: str | None
    name_zh: str = ""
    name_en: str = ""


@dataclass(frozen=True)
class GridInfo:
    """A grid and its leader; ``cx, cy`` is a representative point in the reach CRS (metres).

    ``parent`` is the grid an exclusive grid lies over, or a unit that is not a grid (the town):
    escalation climbs parents that are grids and then ends at the town command.
    """

    grid_id: str
    level: str
    parent: str | None
    leader_id: str | None
    name_zh: str = ""
    name_en: str = ""
    cx: float | None = None
    cy: float | None = None


@dataclass
class Roster:
    """Staff by id and grids by id, with a (grid, role) index for assignment."""

    staff: dict[str, StaffMember]
    grids: dict[str, GridInfo]
    #: the plan's units with a duty roster, by unit id (= the owner role their tasks name)
    units: dict[str, UnitInfo] = field(default_factory=dict)
    #: grid outlines (shapely, reach CRS) where known; used to place located unit tasks in exclusive grids
    outlines: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    _by_grid_role: dict[tuple[str | None, str], list[StaffMember]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        index: dict[tuple[str | None, str], list[StaffMember]] = {}
        by_unit: dict[str, list[StaffMember]] = {}
        for member in sorted(self.staff.values(), key=lambda m: m.staff_id):
            if member.unit is not None:
                by_unit.setdefault(member.unit, []).append(member)
            else:
                index.setdefault((member.grid_id, member.role), []).append(member)
        self._by_grid_role = index
        self._by_unit = by_unit
        self._exclusive = None

    def unit_members(self, unit_id: str, works_id: str | None = None) -> list[StaffMember]:
        """Members (not the leader) of ``unit_id``'s duty roster, sorted by id, on duty or not; with
        ``works_id`` only the crew of that works."""
        return [m for m in self._by_unit.get(unit_id, []) if m.role == "unit_member"
                and (works_id is None or m.works_id == works_id)]

    def unit_of(self, staff_id: str) -> str | None:
        """The unit whose duty roster ``staff_id`` is on (None for grid staff and unknown ids)."""
        member = self.staff.get(staff_id)
        return member.unit if member is not None else None

    def exclusive_grid_at(self, x: float, y: float) -> str | None:
        """The exclusive grid (专属网格) whose outline covers the point (reach CRS), if any."""
        if self._exclusive is None:
            from shapely.prepared import prep

            self._exclusive = [(gid, prep(geom)) for gid, geom in sorted(self.outlines.items())
                               if self.grids[gid].level == "exclusive"]
        if not self._exclusive:
            return None
        from shapely.geometry import Point

        pt = Point(x, y)
        return next((gid for gid, geom in self._exclusive if geom.covers(pt)), None)

    def leaders_above(self, grid_id: str | None) -> list[str]:
        """The leader of ``grid_id`` and of every grid above it (an exclusive grid's parent grid ...), on
        duty or not: who may judge the work done in the grid. Empty for no grid or a grid not in the roster."""
        leaders: list[str] = []
        seen: set[str] = set()
        grid = self.grids.get(grid_id) if grid_id else None
        while grid is not None and grid.grid_id not in seen:
            seen.add(grid.grid_id)
            if grid.leader_id and grid.leader_id not in leaders:
                leaders.append(grid.leader_id)
            grid = self.grids.get(grid.parent) if grid.parent else None
        return leaders

    def members(self, grid_id: str | None, role: str) -> list[StaffMember]:
        """Staff of ``grid_id`` with ``role`` (sorted by id), on duty or not."""
        return self._by_grid_role.get((grid_id, role), [])

    @classmethod
    def from_records(cls, staff: list[dict[str, Any]], grids: list[dict[str, Any]],
                     units: list[dict[str, Any]] | None = None) -> Roster:
        """Build from plain rows (dicts with the reach's column names; a unit member's row names its
        ``unit_id``); unknown references are errors."""
        grid_map, outlines = {}, {}
        for g in grids:
            gid = str(g["grid_id"])
            grid_map[gid] = GridInfo(
                grid_id=gid, level=str(g.get("level") or "grid"), parent=_opt(g.get("parent")),
                leader_id=_opt(g.get("leader_id")), name_zh=str(g.get("name_zh") or ""),
                name_en=str(g.get("name_en") or ""), cx=_num(g.get("cx")), cy=_num(g.get("cy")))
            geom = g.get("geom")
            if isinstance(geom, (bytes, memoryview)):
                from shapely import wkb

                outlines[gid] = wkb.loads(bytes(geom))
            elif geom is not None and hasattr(geom, "geom_type"):
                outlines[gid] = geom
        unit_map = {str(u["unit_id"]): UnitInfo(unit_id=str(u["unit_id"]), leader_id=_opt(u.get("leader_id")),
                                                name_zh=str(u.get("name_zh") or ""), name_en=str(u.get("name_en") or ""))
                    for u in units or []}
        staff_map = {}
        for s in staff:
            sid = str(s["staff_id"])
            grid_id = _opt(s.get("grid_id"))
            unit = _opt(s.get("unit_id"))
            if grid_id is not None and grid_id not in grid_map:
                raise DataError(f"staff {sid}: grid {grid_id} is not in the grids layer")
            if unit is not None and unit not in unit_map:
                raise DataError(f"staff {sid}: unit {unit} is not in the units layer")
            if sid in staff_map:
                raise DataError(f"staff {sid}: listed twice (grid staff and unit rosters share one id space)")
            staff_map[sid] = StaffMember(staff_id=sid, role=str(s["role"]), grid_id=grid_id,
                                         shift=_opt(s.get("shift")), on_duty=bool(s.get("on_duty", True)),
                                         unit=unit, works_id=_opt(s.get("works_id")))
        for g in grid_map.values():
            if g.leader_id is not None and g.leader_id not in staff_map:
                raise DataError(f"grid {g.grid_id}: leader {g.leader_id} is not in the staff layer")
        for u in unit_map.values():
            if u.leader_id is not None and (u.leader_id not in staff_map or staff_map[u.leader_id].unit != u.unit_id):
                raise DataError(f"unit {u.unit_id}: leader {u.leader_id} is not in its duty roster")
        return cls(staff=staff_map, grids=grid_map, units=unit_map, outlines=outlines)

    @classmethod
    def from_reach(cls, reach: Any) -> Roster:
        """From a loaded :class:`floodtwin.reach.Reach` (its ``staff`` and ``grids`` layers)."""
        grids_gdf = reach.grids
        points = grids_gdf.geometry.representative_point()
        grids = []
        for row, pt, geom in zip(grids_gdf.drop(columns="geometry").to_dict("records"), points,
                                 grids_gdf.geometry, strict=True):
            row["cx"], row["cy"], row["geom"] = float(pt.x), float(pt.y), geom
            grids.append(row)
        staff = reach.staff.drop(columns="geometry").to_dict("records")
        units = []
        if "units" in reach.layers:
            staff += reach.unit_staff.drop(columns="geometry").to_dict("records")
            units = reach.units.drop(columns="geometry").to_dict("records")
        return cls.from_records(staff, grids, units)


    @classmethod
    def from_tables(cls, tables: Any) -> Roster:
        """From preplan :class:`~floodtwin.preplan.ReachTables` (the GeoPackage read without pandas): the
        same roster as :meth:`from_reach`, in a fraction of the time."""
        grids = []
        for rec in tables.layers["grids"]:
            pt = rec["_geom"].representative_point()  # as from_reach does (the records' _xy is rounded)
            grids.append({**{k: v for k, v in rec.items() if not k.startswith("_")}, "cx": float(pt.x),
                          "cy": float(pt.y), "geom": rec["_geom"]})
        plain = lambda layer: [{k: v for k, v in rec.items() if not k.startswith("_")}
                               for rec in tables.layers.get(layer, [])]
        return cls.from_records(plain("staff") + plain("unit_staff"), grids, plain("units"))


def actor_kind(roster: Roster, town_command_id: str, actor: str) -> str | None:
    """``"staff"`` (a staff id of the roster), ``"command"`` (the town command of the dispatch YAML),
    ``"system"`` (one of :data:`SYSTEM_ACTORS`), or None for anyone else."""
    if actor in roster.staff:
        return "staff"
    if actor == town_command_id:
        return "command"
    if actor in SYSTEM_ACTORS:
        return "system"
    return None


def _opt(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or str(value) == "":
        return None
    return str(value)


def _num(value: Any) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)


def _wkb(geom: Any) -> bytes | None:
    if geom is None:
        return None
    from shapely import wkb

    return wkb.dumps(geom)


def sync_roster(conn: sqlite3.Connection, roster: Roster) -> None:
    """Replace the stored roster with ``roster`` (one transaction)."""
    with transaction(conn):
        conn.execute("DELETE FROM roster_staff")
        conn.execute("DELETE FROM roster_grids")
        conn.execute("DELETE FROM roster_units")
        conn.executemany("INSERT INTO roster_units(unit_id, name_zh, name_en, leader_id) VALUES (?,?,?,?)",
                         [(u.unit_id, u.name_zh, u.name_en, u.leader_id) for u in roster.units.values()])
        conn.executemany(
            "INSERT INTO roster_grids(grid_id, name_zh, name_en, level, parent, leader_id, cx, cy, geom) "
            "VALUES (?,?,?,?,?,?,?,?,?)",
            [(g.grid_id, g.name_zh, g.name_en, g.level, g.parent, g.leader_id, g.cx, g.cy,
              _wkb(roster.outlines.get(g.grid_id))) for g in roster.grids.values()])
        conn.executemany(
            "INSERT INTO roster_staff(staff_id, role, grid_id, shift, on_duty, unit_id, works_id) VALUES (?,?,?,?,?,?,?)",
            [(m.staff_id, m.role, m.grid_id, m.shift, int(m.on_duty), m.unit, m.works_id)
             for m in roster.staff.values()])


def load_roster(conn: sqlite3.Connection) -> Roster | None:
    """The stored roster, or None when none has been synced yet."""
    grids = [dict(r) for r in conn.execute("SELECT * FROM roster_grids")]
    if not grids:
        return None
    staff = [dict(r) for r in conn.execute("SELECT * FROM roster_staff")]
    units = [dict(r) for r in conn.execute("SELECT * FROM roster_units")]
    return Roster.from_records(staff, grids, units)


def ensure_roster(conn: sqlite3.Connection, roster: Roster | None = None, reach_name: str = "huayuankou") -> Roster:
    """``roster`` (synced into the database), else the stored one, else the reach's (synced on first use)."""
    if roster is not None:
        stored = load_roster(conn)
        if (stored is None or stored.staff != roster.staff or stored.grids != roster.grids
                or stored.units != roster.units):
            sync_roster(conn, roster)
        return roster
    stored = load_roster(conn)
    if stored is not None:
        return stored
    from floodtwin.reach import load_reach

    roster = Roster.from_reach(load_reach(reach_name))
    sync_roster(conn, roster)
    return roster
