"""Reading the board: task lists (someone's to-do list, the overdue), one task with its history,
the event log; and the one-click push to everyone on duty in a scope."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any

from floodtwin.db import transaction, ts
from floodtwin.dispatch import notify
from floodtwin.dispatch.board._common import board_context, log_event
from floodtwin.dispatch.board.assign import load_cap, load_due_times, load_window_min
from floodtwin.dispatch.board.states import STATES, decoded_task, require_actor, resolve_key, short_ids
from floodtwin.dispatch.board.timers import missed_timers
from floodtwin.dispatch.roster import STAFF_ROLES, Roster
from floodtwin.dispatch.schema import ensure_schema
from floodtwin.dispatch.settings import DispatchConfig, load_config
from floodtwin.errors import InputError

__all__ = ["list_tasks", "show_task", "events", "push", "window_loads", "load_report"]


def list_tasks(conn: sqlite3.Connection, *, grid: str | None = None, state: str | None = None,
               overdue: bool = False, assignee: str | None = None, now: datetime | None = None,
               config: DispatchConfig | None = None) -> list[dict[str, Any]]:
    """Tasks (with their current assignees and short ids), filtered by grid, state, assignee (someone's
    to-do list) and, with ``now``, missed SLA timers. JSON columns come decoded."""
    ensure_schema(conn)
    if state is not None and state not in STATES:
        raise InputError(f"--state {state}: expected one of {', '.join(STATES)}")
    where, args = [], []
    if grid:
        where.append("grid_id = ?")
        args.append(grid)
    if state:
        where.append("state = ?")
        args.append(state)
    sql = "SELECT * FROM tasks" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY created_at, key"
    tasks = [decoded_task(dict(r)) for r in conn.execute(sql, args)]
    short = short_ids([r[0] for r in conn.execute("SELECT key FROM tasks")])
    assignees: dict[str, list[str]] = {}
    for r in conn.execute("SELECT task_key, staff_id FROM assignments WHERE active=1 ORDER BY level, id"):
        assignees.setdefault(r[0], []).append(r[1])
    for t in tasks:
        t["assignees"] = assignees.get(t["key"], [])
        t["short_id"] = short[t["key"]]
    if assignee:
        tasks = [t for t in tasks if assignee in t["assignees"]]
    if overdue:
        if now is None:
            raise InputError("overdue filter needs the current time")
        config = config if config is not None else load_config()
        tasks = [t for t in tasks if missed_timers(t, now, config)]
    return tasks


def show_task(conn: sqlite3.Connection, key: str) -> dict[str, Any]:
    """One task (JSON columns decoded, with its short id) with its assignments, SLA misses and event history."""
    ensure_schema(conn)
    full = resolve_key(conn, key)
    task = decoded_task(dict(conn.execute("SELECT * FROM tasks WHERE key=?", (full,)).fetchone()))
    task["short_id"] = short_ids([r[0] for r in conn.execute("SELECT key FROM tasks")])[full]
    task["assignments"] = [dict(r) for r in conn.execute(
        "SELECT staff_id, role, level, assigned_at, reason, active FROM assignments WHERE task_key=? ORDER BY id",
        (full,))]
    task["sla_misses"] = [dict(r) for r in conn.execute(
        "SELECT timer, due_at, detected_at, escalated_to, level, outcome FROM sla_misses WHERE task_key=?", (full,))]
    task["events"] = [dict(r) for r in conn.execute(
        "SELECT id, at, actor, kind, from_state, to_state, reason FROM events WHERE task_key=? ORDER BY id",
        (full,))]
    return task


def events(conn: sqlite3.Connection, *, task_key: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """The most recent log events (all, or of one task), oldest first."""
    ensure_schema(conn)
    if task_key:
        rows = conn.execute("SELECT * FROM events WHERE task_key=? ORDER BY id DESC LIMIT ?", (task_key, limit))
    else:
        rows = conn.execute("SELECT * FROM events ORDER BY id DESC LIMIT ?", (limit,))
    return [dict(r) for r in rows][::-1]


def push(conn: sqlite3.Connection, *, message: str, now: datetime, actor: str, grid: str | None = None,
         role: str | None = None, everyone: bool = False, config: DispatchConfig | None = None,
         roster: Roster | None = None) -> dict[str, Any]:
    """One-click push of ``message`` to every on-duty person in scope (a grid, a role, or all), by
    ``actor``: a person (a staff id or the town command); anyone else is refused and the refusal logged.

    Writes one event and its outbox rows in a transaction; returns the event id and recipients.
    """
    if not message.strip():
        raise InputError("push: empty message")
    if not (grid or role or everyone):
        raise InputError("push: choose --grid, --role or --all")
    if everyone and (grid or role):
        raise InputError("push: --all cannot be combined with --grid or --role")
    config, roster = board_context(conn, config, roster)
    require_actor(conn, actor, action="push", now=now, config=config, roster=roster)
    if grid is not None and grid not in roster.grids:
        raise InputError(f"push: grid {grid} is not in the roster")
    if role is not None and role not in STAFF_ROLES:
        raise InputError(f"push: role {role} is not one of {', '.join(STAFF_ROLES)}")
    recipients = sorted(m.staff_id for m in roster.staff.values()
                        if m.on_duty and (grid is None or m.grid_id == grid) and (role is None or m.role == role))
    if not recipients:
        raise InputError(f"push: nobody on duty in scope (grid={grid or 'all'}, role={role or 'all'})")
    scope = {"grid": grid, "role": role, "all": everyone}
    with transaction(conn):
        event_id = log_event(conn, now=now, actor=actor, kind="push", reason=message,
                              data={"scope": scope, "recipients": len(recipients)})
        rows = notify.enqueue(conn, config, kind="push", event_id=event_id, recipients=recipients, now=now,
                              payload={"at": ts(now), "subject_zh": "通知", "subject_en": "Notice",
                                       "text_zh": message, "text_en": message, "scope": scope})
    return {"event_id": event_id, "recipients": recipients, "outbox_rows": rows}


def window_loads(dues_s: dict[str, list[float]], window_s: float) -> list[dict[str, Any]]:
    """Per person, the most of their deadlines (epoch s) that fall within one span shorter than
    ``window_s``, and when that span starts; sorted most loaded first (pure)."""
    out = []
    for person, dues in dues_s.items():
        ordered = sorted(dues)
        best, start, j = 0, None, 0
        for i, d in enumerate(ordered):
            while d - ordered[j] >= window_s:
                j += 1
            if i - j + 1 > best:
                best, start = i - j + 1, ordered[j]
        out.append({"staff_id": person, "tasks_in_window": best, "window_start_s": start, "open_tasks": len(dues)})
    return sorted(out, key=lambda r: (-r["tasks_in_window"], -r["open_tasks"], r["staff_id"]))


def load_report(conn: sqlite3.Connection, *, config: DispatchConfig | None = None,
                roster: Roster | None = None) -> dict[str, Any]:
    """The board's load on its people: the most open tasks any one person holds with deadlines within
    the same ``on_site_min`` (10 min), against the cap the 3/5/10/30-minute rule allows
    (:func:`~floodtwin.dispatch.board.assign.load_cap`); who holds them; and how many open tasks are
    held by no named person (a unit id, the town command as a body)."""
    config, roster = board_context(conn, config, roster)
    window_min, cap = load_window_min(config), load_cap(config)
    loads = window_loads(load_due_times(conn), window_min * 60.0)
    marks = ",".join("?" * 3)
    holders = conn.execute(
        f"SELECT a.staff_id, COUNT(*) FROM assignments a JOIN tasks t ON t.key = a.task_key WHERE a.active = 1 "
        f"AND a.level = 0 AND t.state IN ({marks}) GROUP BY a.staff_id", ("dispatched", "acknowledged", "in_progress"))
    unnamed = {who: n for who, n in holders if who not in roster.staff}
    top = loads[0]["tasks_in_window"] if loads else 0
    return {"window_min": window_min, "ack_min": config.dispatch.sla.ack_min, "cap": cap, "max_tasks_in_window": top,
            "people_at_max": [r["staff_id"] for r in loads if r["tasks_in_window"] == top] if loads else [],
            "over_cap": [r for r in loads if r["tasks_in_window"] > cap],
            "people_with_tasks": len(loads), "unnamed_holders": unnamed,
            "top": [{**r, "window_start": ts_or_none(r["window_start_s"])} for r in loads[:10]]}


def ts_or_none(epoch_s: float | None) -> str | None:
    """UTC text of an epoch time (None stays None)."""
    from datetime import timezone

    return None if epoch_s is None else ts(datetime.fromtimestamp(epoch_s, tz=timezone.utc))
