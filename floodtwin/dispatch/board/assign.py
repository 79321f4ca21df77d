"""Who does a task: the duty shift, the least-loaded on-duty person of the task's grid and role (or of
its unit's duty roster), and the fallback chain up to the town command (兜底). Pure, except
:func:`load_counts` and :func:`load_due_times`.

**Load.** A person's load is counted in the window that matters on a flood night: the tasks they hold
whose deadlines fall within the same ``on_site_min`` (10 minutes) of each other. Every task of the
window needs its holder's answer within ``ack_min`` (3 minutes) and the holder on the way within
``set_out_min``, so one person can take on at most ``floor(on_site_min / ack_min)`` = 3 of them
(:func:`load_cap`). The assignee is the on-duty candidate with the fewest tasks in the window of the
new task's deadline, then the fewest open tasks; a pool whose best candidate is at the cap gives way
to the next pool (an exclusive grid's team to the unit's crew of that works, a works crew to the
rest of the unit), and only when every pool is at the cap does the task go over it.
"""

from __future__ import annotations

import sqlite3
import math
from datetime import datetime, timedelta, timezone

from floodtwin.dispatch.board.states import ACTIVE_STATES
from floodtwin.dispatch.roster import STAFF_ROLES, Roster
from floodtwin.dispatch.settings import DispatchConfig
from floodtwin.tasks import TaskInstruction

__all__ = ["current_shift", "escalation_chain", "choose_assignee", "deadline_min", "load_counts", "load_due_times",
           "load_window_min", "load_cap", "in_window"]


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


def load_window_min(config: DispatchConfig) -> float:
    """Minutes within which deadlines count together in a person's load: the on-site rule (10 min)."""
    return float(config.dispatch.sla.on_site_min)


def load_cap(config: DispatchConfig) -> int:
    """The most tasks one person can hold with deadlines in the same :func:`load_window_min`: one
    answer every ``ack_min`` within the window, ``floor(on_site_min / ack_min)`` (3 for 10 and 3 min)."""
    sla = config.dispatch.sla
    return max(1, math.floor(sla.on_site_min / sla.ack_min + 1e-9))


def in_window(dues_s: list[float] | None, due_s: float, window_s: float) -> int:
    """How many of the deadlines ``dues_s`` (epoch s) lie less than ``window_s`` from ``due_s``: if
    that stays below the cap before a task is added, every window of ``window_s`` holding the new
    deadline stays within it after."""
    return sum(abs(d - due_s) < window_s for d in dues_s or ())


def escalation_chain(roster: Roster, grid_id: str | None, config: DispatchConfig,
                     unit: str | None = None) -> list[tuple[str, str]]:
    """(staff_id, role) from the grid's leader up through parent grids to the town command; for a task
    held by a member of a unit's duty roster (``unit``), from the unit's leader to the town command."""
    chain: list[tuple[str, str]] = []
    if unit is not None and unit in roster.units:
        leader = roster.staff.get(roster.units[unit].leader_id or "")
        if leader is not None and leader.on_duty:
            chain.append((leader.staff_id, leader.role))
        chain.append((config.dispatch.town_command.id, "town_command"))
        return chain
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
                    config: DispatchConfig, *, due_s: float | None = None,
                    dues: dict[str, list[float]] | None = None) -> tuple[str, str, str, str | None]:
    """(assignee id, role, reason, grid) for one instruction; grid is where the task is carried out.

    Grid staff roles: the least-loaded on-duty member of the task's grid on the current shift,
    else the fallback chain (grid leader, parent grid leader, town command). Units of the plan
    (river bureau, works team, materials group, the town command ...) keep owning their tasks
    (``owner_role``) and give each to a named person of their duty roster on shift: a located task
    of a unit listed in ``unit_staff_role`` inside an exclusive grid first to that grid's staff of
    the mapped role, a task at a works first to the unit's crew of that works, then anyone of the
    unit. A unit task in a grid whose unit has no roster (village committee) goes to the grid
    leader. ``due_s`` (the task's deadline, epoch s) and ``dues`` (person -> deadlines of the tasks
    they hold) balance the load in the window of the module docstring; without them the open-task
    count alone decides.
    """
    settings = config.dispatch
    town = settings.town_command.id
    role = instr.owner_role
    grid_id = instr.grid_id
    window_s = load_window_min(config) * 60.0
    cap = load_cap(config)

    def pick(pools: list[tuple[list, str, str | None, str]]):
        """The first pool's best candidate under the cap, else the best of all pools."""
        best = None
        for members, member_role, grid, why in pools:
            candidates = [m for m in members if m.on_duty and (shift is None or m.shift is None or m.shift == shift)]
            if not candidates:
                continue
            scored = min(((in_window(dues.get(m.staff_id) if dues else None, due_s, window_s) if due_s is not None
                           else 0, load.get(m.staff_id, 0), m.staff_id) for m in candidates))
            if scored[0] < cap:
                return scored[2], member_role, why, grid
            if best is None or scored < best[0]:
                best = (scored, member_role, f"{why} (every candidate holds {scored[0]} task(s) due within "
                                             f"{window_s / 60:g} min)", grid)
        return None if best is None else (best[0][2], best[1], best[2], best[3])

    if role == "town_command" and "town_command" not in roster.units:
        return town, "town_command", "town command task", grid_id
    if role not in STAFF_ROLES:
        pools: list[tuple[list, str, str | None, str]] = []
        staff_role = settings.unit_staff_role.get(role)
        if staff_role and instr.location is not None:
            exclusive = roster.exclusive_grid_at(*instr.location)
            if exclusive is not None:
                pools.append((roster.members(exclusive, staff_role), staff_role, exclusive,
                              f"{role} task in exclusive grid {exclusive}: {staff_role} on shift {shift or '-'}, "
                              "least loaded"))
        if role in roster.units:
            if instr.works_id and roster.unit_members(role, instr.works_id):
                pools.append((roster.unit_members(role, instr.works_id), "unit_member", grid_id,
                              f"{role} crew of {instr.works_id} on shift {shift or '-'}, least loaded"))
            pools.append((roster.unit_members(role), "unit_member", grid_id,
                          f"{role} on duty, shift {shift or '-'}, least loaded"))
        picked = pick(pools)
        if picked is not None:
            return picked
        if role in roster.units:
            leader = roster.staff.get(roster.units[role].leader_id or "")
            if leader is not None and leader.on_duty:
                return leader.staff_id, leader.role, f"no one of {role} on shift {shift or '-'}: its leader", grid_id
            return town, "town_command", f"no one of {role} on duty: town command (兜底)", grid_id
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
        picked = pick([(roster.members(grid_id, role), role, grid_id,
                        f"{role} of {grid_id} on shift {shift or '-'}, least loaded")])
        if picked is not None:
            return picked
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


def load_due_times(conn: sqlite3.Connection) -> dict[str, list[float]]:
    """Person -> the deadlines (epoch s) of the open tasks given to them (level 0), for the window load."""
    from floodtwin.db import parse_ts

    marks = ",".join("?" * len(ACTIVE_STATES))
    out: dict[str, list[float]] = {}
    for staff_id, due in conn.execute(
            f"SELECT a.staff_id, t.handle_due_at FROM assignments a JOIN tasks t ON t.key = a.task_key "
            f"WHERE a.active = 1 AND a.level = 0 AND t.state IN ({marks}) AND t.handle_due_at IS NOT NULL",
            ACTIVE_STATES):
        out.setdefault(staff_id, []).append(parse_ts(due).timestamp())
    return out


def load_counts(conn: sqlite3.Connection) -> dict[str, int]:
    """Person -> how many open tasks were given to them (level 0)."""
    marks = ",".join("?" * len(ACTIVE_STATES))
    return {r[0]: r[1] for r in conn.execute(
        f"SELECT a.staff_id, COUNT(*) FROM assignments a JOIN tasks t ON t.key = a.task_key "
        f"WHERE a.active = 1 AND a.level = 0 AND t.state IN ({marks}) GROUP BY a.staff_id", ACTIVE_STATES)}
