"""Who does a task: the duty shift, the least-loaded on-duty person of the task's grid and role, and
the fallback chain up to the town command (兜底). Pure, except :func:`load_counts`."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone

from floodtwin.dispatch.board.states import ACTIVE_STATES
from floodtwin.dispatch.roster import STAFF_ROLES, Roster
from floodtwin.dispatch.settings import DispatchConfig
from floodtwin.tasks import TaskInstruction

__all__ = ["current_shift", "escalation_chain", "choose_assignee", "deadline_min", "load_counts"]


def current_shift(now: datetime, config: DispatchConfig) -> str | None:
    """Id of the duty shift at ``now`` (local time from ``utc_offset_h``), None if no shift covers it."""
    settings = config.dispatch
    local = now.astimezone(timezone(timedelta(hours=settings.utc_offset_h)))
    minute = local.hour * 60 + local.minute
    for shift in settings.shifts:
        start = int(shift.start[:2]) * 60 + int(shift.start[3:])
        end = int(shift.end[:2]) * 60 + int(shift.end[3:])
        inside = start <= minute < end if start < end else (minute >= start or minute < end)
        if inside:
            return shift.id
    return None


def escalation_chain(roster: Roster, grid_id: str | None, config: DispatchConfig) -> list[tuple[str, str]]:
    """(staff_id, role) from the grid's leader up through parent grids to the town command."""
    chain: list[tuple[str, str]] = []
    seen: set[str] = set()
    grid = roster.grids.get(grid_id) if grid_id else None
    while grid is not None and grid.grid_id not in seen:
        seen.add(grid.grid_id)
        leader = roster.staff.get(grid.leader_id) if grid.leader_id else None
        if leader is not None and leader.on_duty and leader.staff_id not in (c[0] for c in chain):
            chain.append((leader.staff_id, leader.role))
        grid = roster.grids.get(grid.parent) if grid.parent else None
    chain.append((config.dispatch.town_command.id, "town_command"))
    return chain


def choose_assignee(instr: TaskInstruction, roster: Roster, load: dict[str, int], shift: str | None,
                    config: DispatchConfig) -> tuple[str, str, str, str | None]:
    """(assignee id, role, reason, grid) for one instruction; grid is where the task is carried out.

    Grid staff roles: the least-loaded on-duty member of the task's grid on the current shift,
    else the fallback chain (grid leader, parent grid leader, town command). Units of the plan
    that are not grid staff (river bureau, hydrology, works team ...) own their task themselves;
    a located task of a unit listed in ``unit_staff_role`` inside an exclusive grid goes to that
    grid's staff of the mapped role. A unit task in a grid (village committee) goes to the grid leader.
    """
    settings = config.dispatch
    town = settings.town_command.id
    role = instr.owner_role
    grid_id = instr.grid_id
    if role == "town_command":
        return town, "town_command", "town command task", grid_id
    if role not in STAFF_ROLES:
        staff_role = settings.unit_staff_role.get(role)
        if staff_role and instr.location is not None:
            exclusive = roster.exclusive_grid_at(*instr.location)
            if exclusive is not None:
                picked = _least_loaded(roster, exclusive, staff_role, load, shift)
                if picked is not None:
                    return picked, staff_role, (f"{role} task in exclusive grid {exclusive}: {staff_role} on shift "
                                                f"{shift or '-'}, least loaded"), exclusive
        if grid_id is None or grid_id not in roster.grids:
            return role, "unit", f"task of the unit {role}", grid_id
        staff_id, chain_role = escalation_chain(roster, grid_id, config)[0]
        return staff_id, chain_role, f"{role} of {grid_id} through its {chain_role}", grid_id
    if grid_id is None:
        return town, "town_command", f"{role} task without a grid: town command (兜底)", None
    if grid_id not in roster.grids:
        return town, "town_command", f"grid {grid_id} is not in the roster: town command (兜底)", grid_id
    if role == "grid_leader":
        leader = roster.grids[grid_id].leader_id
        if leader and roster.staff[leader].on_duty:
            return leader, "grid_leader", f"leader of {grid_id}", grid_id
    else:
        picked = _least_loaded(roster, grid_id, role, load, shift)
        if picked is not None:
            return picked, role, f"{role} of {grid_id} on shift {shift or '-'}, least loaded", grid_id
    chain = [c for c in escalation_chain(roster, grid_id, config) if c[0] != roster.grids[grid_id].leader_id
             or role != "grid_leader"]
    staff_id, chain_role = chain[0]
    return (staff_id, chain_role, f"no {role} available in {grid_id} on shift {shift or '-'}: {chain_role} (兜底)",
            grid_id)


def deadline_min(instr: TaskInstruction, config: DispatchConfig) -> float:
    """Minutes from dispatch to "handled": the instruction's own deadline, else (none or 0) the SLA's
    ``handle_min`` (30 min in the grid model's rule)."""
    own = instr.deadline_min
    return float(own) if own else float(config.dispatch.sla.handle_min)


def _least_loaded(roster: Roster, grid_id: str, role: str, load: dict[str, int], shift: str | None) -> str | None:
    candidates = [m for m in roster.members(grid_id, role)
                  if m.on_duty and (shift is None or m.shift is None or m.shift == shift)]
    if not candidates:
        return None
    return min(candidates, key=lambda m: (load.get(m.staff_id, 0), m.staff_id)).staff_id


def load_counts(conn: sqlite3.Connection) -> dict[str, int]:
    marks = ",".join("?" * len(ACTIVE_STATES))
    return {r[0]: r[1] for r in conn.execute(
        f"SELECT a.staff_id, COUNT(*) FROM assignments a JOIN tasks t ON t.key = a.task_key "
        f"WHERE a.active = 1 AND a.level = 0 AND t.state IN ({marks}) GROUP BY a.staff_id", ACTIVE_STATES)}
