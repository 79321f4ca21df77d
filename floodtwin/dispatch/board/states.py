"""The task states and the actions that move a task between them (each in one transaction with
its event and its notification)."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Any

from floodtwin.db import transaction, ts
from floodtwin.dispatch import notify
from floodtwin.dispatch.board._common import active_assignees, log_event, message
from floodtwin.dispatch.schema import ensure_schema
from floodtwin.dispatch.settings import DispatchConfig, load_config
from floodtwin.errors import InputError

__all__ = ["STATES", "OPEN_STATES", "ACTIVE_STATES", "FINISHED_STATES", "TRANSITIONS", "STATE_COLOURS",
           "change_state", "resolve_key", "transition", "ack", "start", "on_site", "done", "verify", "close",
           "cancel"]

STATES = ("pending", "dispatched", "acknowledged", "in_progress", "done", "verified", "closed",
          "cancelled", "stood_down")
#: states in which someone still has to act (stand-down and cancel apply to these)
OPEN_STATES = ("pending", "dispatched", "acknowledged", "in_progress")
#: states that count towards a person's load
ACTIVE_STATES = ("dispatched", "acknowledged", "in_progress")
FINISHED_STATES = ("done", "verified", "closed")

#: action -> (states it applies to, resulting state, timestamp column set, event kind)
TRANSITIONS: dict[str, tuple[tuple[str, ...], str | None, str | None]] = {
    "ack": (("dispatched",), "acknowledged", "acknowledged_at"),
    "start": (("acknowledged",), "in_progress", "started_at"),
    "on_site": (("in_progress",), None, "on_site_at"),
    "done": (("in_progress",), "done", "done_at"),
    "verify": (("done",), "verified", "verified_at"),
    "reject": (("done",), "in_progress", None),
    "close": (("verified",), "closed", "closed_at"),
    "cancel": (OPEN_STATES, "cancelled", "ended_at"),
}

#: map colours of task states (GeoJSON export)
STATE_COLOURS = {
    "pending": "#9e9e9e", "dispatched": "#1e88e5", "acknowledged": "#3949ab", "in_progress": "#fb8c00",
    "done": "#43a047", "verified": "#2e7d32", "closed": "#1b5e20", "cancelled": "#616161",
    "stood_down": "#bdbdbd",
}


def change_state(conn: sqlite3.Connection, task: dict[str, Any], to_state: str | None, *, now: datetime,
                  actor: str, reason: str, stamp: str | None, event_kind: str, config: DispatchConfig,
                  notify_kind: str | None = None, data: dict[str, Any] | None = None) -> int:
    """Apply one state change (inside a transaction): row update, event, optional notification."""
    now_s = ts(now)
    sets, args = ["updated_at=?", "version=version+1"], [now_s]
    if to_state is not None:
        sets.append("state=?")
        args.append(to_state)
    if stamp is not None:
        sets.append(f"{stamp}=?")
        args.append(now_s)
    conn.execute(f"UPDATE tasks SET {', '.join(sets)} WHERE key=?", (*args, task["key"]))
    event_id = log_event(conn, now=now, actor=actor, kind=event_kind, task_key=task["key"],
                          from_state=task["state"], to_state=to_state or task["state"], reason=reason, data=data)
    if notify_kind is not None:
        notify.enqueue(conn, config, kind=notify_kind, event_id=event_id,
                       recipients=active_assignees(conn, task["key"]),
                       payload=message(notify_kind, {**task, "state": to_state}, now,
                                        f"：{reason}" if reason else "", f": {reason}" if reason else ""),
                       now=now, task_key=task["key"])
    return event_id


def resolve_key(conn: sqlite3.Connection, key: str) -> str:
    """The full task key for ``key`` or a unique prefix of one (InputError otherwise)."""
    if not key.strip():
        raise InputError("task key is empty")
    if conn.execute("SELECT 1 FROM tasks WHERE key=?", (key,)).fetchone():
        return key
    like = key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    rows = [r[0] for r in conn.execute("SELECT key FROM tasks WHERE key LIKE ? ESCAPE '\\' LIMIT 3", (like,))]
    if len(rows) == 1:
        return rows[0]
    if not rows:
        raise InputError(f"task {key}: no such task")
    raise InputError(f"task {key}: ambiguous, matches {', '.join(rows[:2])} ...")


def transition(conn: sqlite3.Connection, key: str, action: str, *, now: datetime, actor: str,
               reason: str = "", config: DispatchConfig | None = None) -> dict[str, Any]:
    """Apply ``action`` (ack, start, on_site, done, verify, reject, close, cancel) to task ``key``.

    Read and write happen in one write transaction, so two processes acting on the same task
    serialise: the second sees the first's result and is refused if its action no longer applies.
    Returns the task row after the change.
    """
    if action not in TRANSITIONS:
        raise InputError(f"unknown action {action!r} (expected one of {', '.join(TRANSITIONS)})")
    allowed, to_state, stamp = TRANSITIONS[action]
    ensure_schema(conn)
    config = config if config is not None else load_config()
    with transaction(conn):
        full = resolve_key(conn, key)
        task = dict(conn.execute("SELECT * FROM tasks WHERE key=?", (full,)).fetchone())
        if task["state"] not in allowed:
            raise InputError(f"task {full}: cannot {action} a task that is {task['state']} "
                             f"(only from {', '.join(allowed)})")
        if action == "start":
            _check_dependencies(conn, task)
        if action == "cancel" and not reason:
            raise InputError(f"task {full}: cancel needs a reason")
        change_state(conn, task, to_state, now=now, actor=actor, reason=reason, stamp=stamp, event_kind=action,
                      config=config, notify_kind="cancelled" if action == "cancel" else None)
        if to_state in ("closed", "cancelled"):
            conn.execute("UPDATE tasks SET ended_at=COALESCE(ended_at, ?) WHERE key=?", (ts(now), full))
        if action == "reject":
            # the work is not done after all: the handle timer runs again (the event log keeps the first "done")
            conn.execute("UPDATE tasks SET done_at=NULL WHERE key=?", (full,))
        return dict(conn.execute("SELECT * FROM tasks WHERE key=?", (full,)).fetchone())


def _check_dependencies(conn: sqlite3.Connection, task: dict[str, Any]) -> None:
    deps = json.loads(task["depends_on"] or "[]")
    if not deps:
        return
    marks = ",".join("?" * len(deps))
    blocking = [f"{r[0]} ({r[1]})" for r in conn.execute(
        f"SELECT key, state FROM tasks WHERE key IN ({marks})", deps) if r[1] not in FINISHED_STATES]
    if blocking:
        raise InputError(f"task {task['key']}: cannot start before {', '.join(blocking)} is done")


def ack(conn: sqlite3.Connection, key: str, **kw: Any) -> dict[str, Any]:
    """Acknowledge task ``key`` (dispatched → acknowledged)."""
    return transition(conn, key, "ack", **kw)


def start(conn: sqlite3.Connection, key: str, **kw: Any) -> dict[str, Any]:
    """Set out on task ``key`` (acknowledged → in_progress)."""
    return transition(conn, key, "start", **kw)


def on_site(conn: sqlite3.Connection, key: str, **kw: Any) -> dict[str, Any]:
    """Report being on site for task ``key`` (meets the on-site timer; state stays in_progress)."""
    return transition(conn, key, "on_site", **kw)


def done(conn: sqlite3.Connection, key: str, **kw: Any) -> dict[str, Any]:
    """Report task ``key`` done (in_progress → done)."""
    return transition(conn, key, "done", **kw)


def verify(conn: sqlite3.Connection, key: str, **kw: Any) -> dict[str, Any]:
    """Verify the work of task ``key`` (done → verified)."""
    return transition(conn, key, "verify", **kw)


def close(conn: sqlite3.Connection, key: str, **kw: Any) -> dict[str, Any]:
    """Close task ``key`` (verified → closed)."""
    return transition(conn, key, "close", **kw)


def cancel(conn: sqlite3.Connection, key: str, **kw: Any) -> dict[str, Any]:
    """Cancel open task ``key`` (needs a reason)."""
    return transition(conn, key, "cancel", **kw)
