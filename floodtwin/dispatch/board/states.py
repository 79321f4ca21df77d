"""The task states and the actions that move a task between them (each in one transaction with
its event and its notification), and who may take each action.

Who may do what (the grid model's closed loop, docs/reach.md §1: report → dispatch → handle → verify → close):

- an actor is a staff id of the roster, the town command (``town_command.id`` of the dispatch YAML)
  or a system actor (:data:`~floodtwin.dispatch.roster.SYSTEM_ACTORS`); an action on a task is a
  person's, so a system actor may take none;
- ``ack``, ``start``, ``on_site``, ``done``: the task's assignees (the person it was given to and those
  it was escalated to); a task given to a unit of the plan that is not on the roster (river bureau,
  works team ...) is carried by the town command, which liaises with the unit;
- ``verify``, ``reject``, ``close``: the leader of the unit whose duty roster the task was given to,
  the leader of the task's grid or of a grid above it, or the town command; never someone judging their own work (who reported it done, or to whom it was given). The
  town command is exempt from that last rule: nobody in the town stands above it;
- ``cancel``: the town command only.

A refused action changes nothing but the event log: the refusal is written (kind ``refused``) and
committed, then raised as one InputError line naming who, what, which task and who may.
"""

from __future__ import annotations

import bisect
import json
import sqlite3
from datetime import datetime
from typing import Any

from floodtwin.db import transaction, ts
from floodtwin.dispatch import notify
from floodtwin.dispatch.board._common import active_assignees, board_context, log_event, message
from floodtwin.dispatch.roster import SYSTEM_ACTORS, Roster, actor_kind
from floodtwin.dispatch.settings import DispatchConfig
from floodtwin.errors import InputError

__all__ = ["STATES", "OPEN_STATES", "ACTIVE_STATES", "FINISHED_STATES", "TRANSITIONS", "STATE_COLOURS",
           "DOER_ACTIONS", "JUDGE_ACTIONS", "JSON_COLUMNS", "decoded_task", "change_state", "resolve_key",
           "short_ids", "who_may", "refusal", "require_actor", "transition", "ack", "start", "on_site", "done", "verify", "close", "cancel"]

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

#: actions of the people who carry a task out, and of those who judge the work
DOER_ACTIONS = ("ack", "start", "on_site", "done")
JUDGE_ACTIONS = ("verify", "reject", "close")

#: task columns stored as JSON text, handed out decoded (lists and objects, never JSON inside a string)
JSON_COLUMNS = ("depends_on", "materials", "extra")

#: map colours of task states (GeoJSON export)
STATE_COLOURS = {
    "pending": "#9e9e9e", "dispatched": "#1e88e5", "acknowledged": "#3949ab", "in_progress": "#fb8c00",
    "done": "#43a047", "verified": "#2e7d32", "closed": "#1b5e20", "cancelled": "#616161",
    "stood_down": "#bdbdbd",
}


def decoded_task(task: dict[str, Any]) -> dict[str, Any]:
    """A stored task row as handed out: its JSON columns decoded."""
    return {**task, **{c: json.loads(task[c]) for c in JSON_COLUMNS if isinstance(task.get(c), str)}}


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
                                        f"：{reason}" if reason else "", f": {reason}" if reason else "",
                                        utc_offset_h=config.dispatch.utc_offset_h),
                       now=now, task_key=task["key"])
    return event_id


def _digest(key: str) -> str:
    """The hash part of a task key (``template:scope:digest``, :func:`floodtwin.tasks.task_key`)."""
    return key.rsplit(":", 1)[-1]


def resolve_key(conn: sqlite3.Connection, key: str) -> str:
    """The full task key for ``key``, a unique prefix of one, or a unique prefix of a key's hash part
    (the short id of the task list, :func:`short_ids`); InputError otherwise."""
    if not key.strip():
        raise InputError("task key is empty")
    if conn.execute("SELECT 1 FROM tasks WHERE key=?", (key,)).fetchone():
        return key
    like = key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    rows = [r[0] for r in conn.execute("SELECT key FROM tasks WHERE key LIKE ? ESCAPE '\\' LIMIT 3", (like,))]
    if not rows:
        rows = [r[0] for r in conn.execute("SELECT key FROM tasks ORDER BY key") if _digest(r[0]).startswith(key)][:3]
    if len(rows) == 1:
        return rows[0]
    if not rows:
        raise InputError(f"task {key}: no such task")
    raise InputError(f"task {key}: ambiguous, matches {', '.join(rows[:2])} ...")


#: shortest short id of a task: 6 hex digits of 10 tell 16 million tasks apart
SHORT_ID_MIN = 6


def short_ids(keys: list[str]) -> dict[str, str]:
    """For every key of the board, the shortest prefix (at least :data:`SHORT_ID_MIN` characters) of its
    hash part that :func:`resolve_key` maps back to it alone; the full key where none does (pure)."""
    by_digest = sorted((_digest(k), k) for k in keys)
    digests = [d for d, _ in by_digest]
    ordered = sorted(keys)
    out = {}
    for i, (digest, key) in enumerate(by_digest):
        shared = max(_common_prefix(digest, digests[i - 1]) if i else 0,
                     _common_prefix(digest, digests[i + 1]) if i + 1 < len(digests) else 0)
        short = digest[:max(SHORT_ID_MIN, shared + 1)]
        # a key-prefix match wins in resolve_key: the short id must not begin any key
        j = bisect.bisect_left(ordered, short)
        begins_key = j < len(ordered) and ordered[j].startswith(short)
        out[key] = key if (shared >= len(digest) or begins_key) else short
    return out


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def who_may(action: str, task: dict[str, Any], assignees: list[str], roster: Roster, town_id: str) -> list[str]:
    """The actors who may take ``action`` on ``task`` at all (before the own-work rule), in the order
    to name them: assignees; leaders of the task's grid and the grids above it, then the town command."""
    if action == "cancel":
        return [town_id]
    if action in DOER_ACTIONS:
        units = [a for a in assignees if a not in roster.staff and a != town_id]
        return [*assignees, town_id] if units and town_id not in assignees else list(assignees)
    # a task given to a unit's duty roster is judged by the unit's leader too
    unit = roster.units.get(roster.unit_of(assignees[0]) or "") if assignees else None
    unit_leader = [unit.leader_id] if unit is not None and unit.leader_id else []
    return [*unit_leader, *[g for g in roster.leaders_above(task.get("grid_id")) if g not in unit_leader], town_id]


def refusal(action: str, actor: str, task: dict[str, Any], *, assignees: list[str], level0: list[str],
            done_by: str | None, roster: Roster, town_id: str) -> str | None:
    """Why ``actor`` may not take ``action`` on ``task`` (one line naming who may), None if they may.

    ``assignees``: active assignees (level 0 first); ``level0``: those it was given to (not escalated);
    ``done_by``: who last reported it done. Pure: the rules of the module docstring."""
    name = actor or "(no actor)"
    head = f"{name} may not {action} task {task['key']}"
    allowed = who_may(action, task, assignees, roster, town_id)
    kind = actor_kind(roster, town_id, actor)
    own = action in JUDGE_ACTIONS and kind == "staff" and (actor == done_by or actor in level0)
    if own:
        allowed = [a for a in allowed if a != done_by and a not in level0]
    may = _may(action, task, allowed, roster, town_id)
    if kind is None:
        return (f"{head}: {name} is not a staff id of the roster, the town command ({town_id}) or a "
                f"system actor ({', '.join(SYSTEM_ACTORS)}); {may}")
    if kind == "system":
        return f"{head}: {actor} is a system actor and {action} is a person's; {may}"
    if own:
        return f"{head}: it is {actor}'s own work; {may}"
    if actor not in allowed:
        return f"{head}: {may}"
    return None


def _may(action: str, task: dict[str, Any], allowed: list[str], roster: Roster, town_id: str) -> str:
    """``verify is for the leader of G07 (S007) or the town command (TOWN)``: who may, by role."""
    if action == "cancel":
        return f"only the town command ({town_id}) cancels"
    if not allowed:
        return f"nobody may {action} it"
    if action in DOER_ACTIONS:
        units = [a for a in allowed if a not in roster.staff and a != town_id]
        people = [a for a in allowed if a not in units]
        if units:  # a unit of the plan is not on the roster: the command carries its task
            others = [a for a in people if a != town_id]
            return (f"{action} is for " + (f"{', '.join(others)} or " if others else "")
                    + f"the town command ({town_id}), which acts for the unit {', '.join(units)}")
        return f"{action} is for its assignee{'s' if len(people) > 1 else ''} {', '.join(people)}"
    unit_leaders = [a for a in allowed if roster.unit_of(a) is not None]
    leaders = [a for a in allowed if a != town_id and a not in unit_leaders]
    parts = [f"the leader of the unit {roster.unit_of(a)} ({a})" for a in unit_leaders]
    if leaders:
        parts.append(f"the leader of {task.get('grid_id')} or of a grid above it ({', '.join(leaders)})")
    if town_id in allowed:
        parts.append(f"the town command ({town_id})")
    return f"{action} is for " + " or ".join(parts)


def require_actor(conn: sqlite3.Connection, actor: str, *, action: str, now: datetime,
                  config: DispatchConfig | None = None, roster: Roster | None = None, person: bool = True,
                  task_key: str | None = None, report_id: str | None = None) -> str:
    """The kind of ``actor`` (staff, command, system) for an action that is not on one task (a push, an
    activation, resolving a report); ``person`` refuses system actors. A refusal is logged (kind
    ``refused``) and committed, then raised as InputError."""
    config, roster = board_context(conn, config, roster)
    town = config.dispatch.town_command.id
    kind = actor_kind(roster, town, actor)
    why = None
    if kind is None:
        why = (f"{actor or '(no actor)'} may not {action}: not a staff id of the roster, the town command "
               f"({town}) or a system actor ({', '.join(SYSTEM_ACTORS)})")
    elif kind == "system" and person:
        why = f"{actor} may not {action}: a system actor; {action} must name the person (a staff id or {town})"
    if why is None:
        return kind
    with transaction(conn):
        log_event(conn, now=now, actor=actor, kind="refused", task_key=task_key, report_id=report_id, reason=why,
                  data={"action": action})
    raise InputError(why)


def transition(conn: sqlite3.Connection, key: str, action: str, *, now: datetime, actor: str,
               reason: str = "", config: DispatchConfig | None = None, roster: Roster | None = None) -> dict[str, Any]:
    """Apply ``action`` (ack, start, on_site, done, verify, reject, close, cancel) to task ``key`` for
    ``actor``, checked against who may take it (module docstring).

    Read and write happen in one write transaction, so two processes acting on the same task
    serialise: the second sees the first's result and is refused if its action no longer applies.
    A refusal (actor, state, dependencies, a cancel without reason) commits its ``refused`` event and
    nothing else, then raises InputError. Returns the task row after the change.
    """
    if action not in TRANSITIONS:
        raise InputError(f"unknown action {action!r} (expected one of {', '.join(TRANSITIONS)})")
    allowed, to_state, stamp = TRANSITIONS[action]
    config, roster = board_context(conn, config, roster)
    town = config.dispatch.town_command.id
    with transaction(conn):
        full = resolve_key(conn, key)
        task = dict(conn.execute("SELECT * FROM tasks WHERE key=?", (full,)).fetchone())
        held = [(r[0], r[1]) for r in conn.execute(
            "SELECT staff_id, level FROM assignments WHERE task_key=? AND active=1 ORDER BY level, id", (full,))]
        done_by = conn.execute("SELECT actor FROM events WHERE task_key=? AND kind='done' ORDER BY id DESC LIMIT 1",
                               (full,)).fetchone()
        why = refusal(action, actor, task, assignees=[s for s, _ in held], level0=[s for s, lv in held if lv == 0],
                      done_by=done_by[0] if done_by else None, roster=roster, town_id=town)
        if why is None and task["state"] not in allowed:
            why = (f"task {full}: cannot {action} a task that is {task['state']} "
                   f"(only from {', '.join(allowed)})")
        if why is None and action == "start":
            why = _blocking_dependencies(conn, task)
        if why is None and action == "cancel" and not reason:
            why = f"task {full}: cancel needs a reason"
        if why is not None:
            log_event(conn, now=now, actor=actor, kind="refused", task_key=full, from_state=task["state"],
                      reason=why, data={"action": action})
            row = None
        else:
            change_state(conn, task, to_state, now=now, actor=actor, reason=reason, stamp=stamp, event_kind=action,
                         config=config, notify_kind="cancelled" if action == "cancel" else None)
            if to_state in ("closed", "cancelled"):
                conn.execute("UPDATE tasks SET ended_at=COALESCE(ended_at, ?) WHERE key=?", (ts(now), full))
            if action == "reject":
                # the work is not done after all: the handle timer runs again (the event log keeps the first "done")
                conn.execute("UPDATE tasks SET done_at=NULL WHERE key=?", (full,))
            row = decoded_task(dict(conn.execute("SELECT * FROM tasks WHERE key=?", (full,)).fetchone()))
    # raised after the commit: the refusal stays in the log, the task as it was
    if row is None:
        raise InputError(why)
    return row


def _blocking_dependencies(conn: sqlite3.Connection, task: dict[str, Any]) -> str | None:
    deps = json.loads(task["depends_on"] or "[]")
    if not deps:
        return None
    marks = ",".join("?" * len(deps))
    blocking = [f"{r[0]} ({r[1]})" for r in conn.execute(
        f"SELECT key, state FROM tasks WHERE key IN ({marks})", deps) if r[1] not in FINISHED_STATES]
    if blocking:
        return f"task {task['key']}: cannot start before {', '.join(blocking)} is done"
    return None


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
