"""The task board: create, assign, track and escalate every task instruction until it is closed.

States: ``pending → dispatched → acknowledged → in_progress → done → verified → closed``, or
``cancelled`` / ``stood_down`` from any open state (a verifier may also send ``done`` back to
``in_progress``). Every change runs in one transaction together with its event-log row and its
outbox rows, so a crash leaves either all of it or none of it.

Assignment: the task's grid and owner role pick the on-duty staff of the current shift with the
fewest open tasks; nobody available → the grid leader, then the parent grid's leader, then the
town command (兜底). SLA timers (DOMAIN.md §1, configured in the dispatch YAML) run from dispatch:
acknowledge, set out, on site and reported, handled by the task's deadline; :func:`tick` finds the
missed ones and escalates each once, one step up the chain.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from floodtwin.dispatch import notify
from floodtwin.dispatch.roster import STAFF_ROLES, Roster, ensure_roster
from floodtwin.dispatch.schema import ensure_schema, parse_ts, ts
from floodtwin.dispatch.settings import DispatchConfig, load_config
from floodtwin.dispatch.store import transaction
from floodtwin.errors import InputError
from floodtwin.tasks import CATEGORIES, Material, TaskInstruction

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

#: SLA timer -> (column that meets it, settings attribute, applies to field tasks only)
TIMERS = (
    ("ack", "acknowledged_at", "ack_min", False),
    ("set_out", "started_at", "set_out_min", True),
    ("on_site", "on_site_at", "on_site_min", True),
    ("handle", "done_at", None, False),
)

#: map colours of task states (GeoJSON export)
STATE_COLOURS = {
    "pending": "#9e9e9e", "dispatched": "#1e88e5", "acknowledged": "#3949ab", "in_progress": "#fb8c00",
    "done": "#43a047", "verified": "#2e7d32", "closed": "#1b5e20", "cancelled": "#616161",
    "stood_down": "#bdbdbd",
}


@dataclass(frozen=True)
class Activation:
    """What an activation did: its id, the keys created (or reopened) and the keys stood down."""

    activation_id: int
    created: list[str]
    stood_down: list[str]
    unchanged: int

    def to_dict(self) -> dict[str, Any]:
        return {"activation_id": self.activation_id, "created": self.created,
                "stood_down": self.stood_down, "unchanged": self.unchanged}


# ----------------------------------------------------------------------------------------------
# pure helpers

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


def _message(kind: str, task: dict[str, Any], now: datetime, extra_zh: str = "", extra_en: str = "") -> dict[str, Any]:
    """Payload of a task notification, in both languages."""
    verbs = {"dispatched": ("新任务", "New task"), "reopened": ("任务重新启动", "Task reopened"),
             "escalated": ("任务超时升级", "Task escalated"), "stood_down": ("任务撤销", "Task stood down"),
             "cancelled": ("任务取消", "Task cancelled")}
    zh, en = verbs.get(kind, (kind, kind))
    deadline = task.get("handle_due_at")
    return {
        "at": ts(now), "subject_zh": f"{zh}：{task['title_zh']}", "subject_en": f"{en}: {task['title_en']}",
        "text_zh": f"{zh}：{task['title_zh']}（网格 {task.get('grid_id') or '镇'}，截止 {deadline or '-'}）{extra_zh}",
        "text_en": f"{en}: {task['title_en']} (grid {task.get('grid_id') or 'town'}, due {deadline or '-'}){extra_en}",
        "task": {k: task.get(k) for k in ("key", "template_id", "category", "tier", "title_zh", "title_en",
                                            "grid_id", "works_id", "scope_kind", "scope_id", "handle_due_at",
                                            "state")},
    }


def _log_event(conn: sqlite3.Connection, *, now: datetime, actor: str, kind: str, task_key: str | None = None,
               report_id: str | None = None, from_state: str | None = None, to_state: str | None = None,
               reason: str = "", data: dict[str, Any] | None = None) -> int:
    cur = conn.execute(
        "INSERT INTO events(at, actor, kind, task_key, report_id, from_state, to_state, reason, data) "
        "VALUES (?,?,?,?,?,?,?,?,?)",
        (ts(now), actor, kind, task_key, report_id, from_state, to_state, reason,
         json.dumps(data or {}, ensure_ascii=False, sort_keys=True)))
    return int(cur.lastrowid)


def validate_instructions(instructions: Sequence[TaskInstruction]) -> None:
    """Refuse malformed instructions before anything is written (InputError naming the key)."""
    seen: set[str] = set()
    for instr in instructions:
        if not isinstance(instr, TaskInstruction):
            raise InputError(f"expected TaskInstruction, got {type(instr).__name__}")
        if not instr.key:
            raise InputError(f"instruction {instr.template_id}: empty key")
        if instr.key in seen:
            raise InputError(f"instruction {instr.key}: the same key twice in one submission")
        seen.add(instr.key)
        if instr.category not in CATEGORIES:
            raise InputError(f"instruction {instr.key}: unknown category {instr.category!r} "
                             f"(expected one of {', '.join(CATEGORIES)})")
        deadline = instr.deadline_min
        if deadline is not None and (isinstance(deadline, bool) or not isinstance(deadline, (int, float))
                                     or not math.isfinite(deadline) or deadline < 0):
            raise InputError(f"instruction {instr.key}: deadline_min must be a number of minutes >= 0 "
                             f"(0 or none: the SLA handle time), got {deadline!r}")


def _load_counts(conn: sqlite3.Connection) -> dict[str, int]:
    marks = ",".join("?" * len(ACTIVE_STATES))
    return {r[0]: r[1] for r in conn.execute(
        f"SELECT a.staff_id, COUNT(*) FROM assignments a JOIN tasks t ON t.key = a.task_key "
        f"WHERE a.active = 1 AND a.level = 0 AND t.state IN ({marks}) GROUP BY a.staff_id", ACTIVE_STATES)}


def _context(conn: sqlite3.Connection, config: DispatchConfig | None,
             roster: Roster | None) -> tuple[DispatchConfig, Roster]:
    ensure_schema(conn)
    config = config if config is not None else load_config()
    return config, ensure_roster(conn, roster)


# ----------------------------------------------------------------------------------------------
# submit / activate

def _submit_in_tx(conn: sqlite3.Connection, instructions: Sequence[TaskInstruction], *, now: datetime,
                  actor: str, reason: str, config: DispatchConfig, roster: Roster,
                  activation_id: int | None) -> tuple[list[str], int]:
    """Create, assign and queue notifications for the instructions not yet on the board (in a transaction)."""
    keys = [i.key for i in instructions]
    existing: dict[str, str] = {}
    for start in range(0, len(keys), 500):
        chunk = keys[start:start + 500]
        existing.update({r[0]: r[1] for r in conn.execute(
            f"SELECT key, state FROM tasks WHERE key IN ({','.join('?' * len(chunk))})", chunk)})
    load = _load_counts(conn)
    shift = current_shift(now, config)
    now_s = ts(now)
    created: list[str] = []
    for instr in instructions:
        prior = existing.get(instr.key)
        if prior is not None and prior != "stood_down":
            continue  # idempotent: live, finished or cancelled tasks are left as they are
        staff_id, role, why, grid_id = choose_assignee(instr, roster, load, shift, config)
        load[staff_id] = load.get(staff_id, 0) + 1
        handle_min = deadline_min(instr, config)
        due = ts(now + timedelta(minutes=handle_min))
        location = instr.location
        if location is None and grid_id in roster.grids:
            g = roster.grids[grid_id]
            location = (g.cx, g.cy) if g.cx is not None else None
        if prior is None:
            conn.execute(
                "INSERT INTO tasks(key, template_id, category, tier, owner_role, title_zh, title_en, deadline_min,"
                " scope_kind, scope_id, grid_id, works_id, repeat_min, depends_on, materials, x, y, note_zh,"
                " note_en, source, extra, state, created_at, updated_at, dispatched_at, handle_due_at,"
                " activation_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (instr.key, instr.template_id, instr.category, instr.tier, instr.owner_role, instr.title_zh,
                 instr.title_en, handle_min, instr.scope_kind, instr.scope_id, grid_id,
                 instr.works_id, instr.repeat_min, json.dumps(list(instr.depends_on)),
                 json.dumps([m.__dict__ for m in instr.materials], ensure_ascii=False),
                 location[0] if location else None, location[1] if location else None,
                 instr.note_zh, instr.note_en, instr.source,
                 json.dumps(instr.extra, ensure_ascii=False, default=str, sort_keys=True),
                 "dispatched", now_s, now_s, now_s, due, activation_id))
            _log_event(conn, now=now, actor=actor, kind="created", task_key=instr.key, to_state="pending",
                       reason=reason, data={"source": instr.source, "tier": instr.tier})
            kind, from_state = "dispatched", "pending"
        else:
            # a stood-down task whose situation is back: a new round, fresh timers
            conn.execute(
                "UPDATE tasks SET state='dispatched', updated_at=?, dispatched_at=?, acknowledged_at=NULL,"
                " started_at=NULL, on_site_at=NULL, done_at=NULL, verified_at=NULL, closed_at=NULL, ended_at=NULL,"
                " handle_due_at=?, deadline_min=?, escalation_level=0, activation_id=?, grid_id=?,"
                " version=version+1 WHERE key=?",
                (now_s, now_s, due, handle_min, activation_id, grid_id, instr.key))
            conn.execute("UPDATE assignments SET active=0 WHERE task_key=?", (instr.key,))
            conn.execute("DELETE FROM sla_misses WHERE task_key=?", (instr.key,))
            kind, from_state = "reopened", "stood_down"
        conn.execute("INSERT INTO assignments(task_key, staff_id, role, level, assigned_at, reason) "
                     "VALUES (?,?,?,0,?,?)", (instr.key, staff_id, role, now_s, why))
        event_id = _log_event(conn, now=now, actor=actor, kind=kind, task_key=instr.key, from_state=from_state,
                              to_state="dispatched", reason=reason, data={"assignee": staff_id, "why": why})
        task = {**instr.to_dict(), "grid_id": grid_id, "handle_due_at": due, "state": "dispatched"}
        notify.enqueue(conn, config, kind=kind, event_id=event_id, recipients=[staff_id],
                       payload=_message(kind, task, now), now=now, task_key=instr.key)
        created.append(instr.key)
    return created, len(instructions) - len(created)


def submit(conn: sqlite3.Connection, instructions: Sequence[TaskInstruction], *, now: datetime, actor: str,
           reason: str, config: DispatchConfig | None = None, roster: Roster | None = None) -> list[str]:
    """Put instructions on the board: create, assign and queue their notifications in one transaction.

    Idempotent by instruction key: a key already on the board is left as it is (a stood-down one
    is reopened). Returns the keys newly created or reopened. Used by activations, field reports
    and sensor alarms alike; ``config``/``roster`` default to the configured file and the stored
    (or reach) roster.
    """
    validate_instructions(instructions)
    config, roster = _context(conn, config, roster)
    with transaction(conn):
        created, _ = _submit_in_tx(conn, instructions, now=now, actor=actor, reason=reason, config=config,
                                   roster=roster, activation_id=None)
    return created


def activate(conn: sqlite3.Connection, instructions: Sequence[TaskInstruction], *, now: datetime, actor: str,
             reason: str, decision: Any = None, config: DispatchConfig | None = None,
             roster: Roster | None = None) -> Activation:
    """Put a preplan decision into effect: submit its instructions and stand down the preplan tasks it no
    longer contains (tasks from sensors, reports or the command are never stood down here).

    ``decision`` (a preplan TierDecision or any object with ``tier``/``colour``/``reason``) is recorded
    with the activation. Everything happens in one transaction.
    """
    validate_instructions(instructions)
    config, roster = _context(conn, config, roster)
    tier = getattr(decision, "tier", None) or (instructions[0].tier if instructions else None)
    colour = getattr(decision, "colour", None)
    decision_doc = _decision_doc(decision)
    wanted = {i.key for i in instructions}
    with transaction(conn):
        cur = conn.execute("INSERT INTO activations(at, actor, reason, tier, colour, decision, n_tasks, n_created,"
                           " n_stood_down) VALUES (?,?,?,?,?,?,?,0,0)",
                           (ts(now), actor, reason, None if tier is None else str(tier), colour,
                            json.dumps(decision_doc, ensure_ascii=False, default=str), len(instructions)))
        activation_id = int(cur.lastrowid)
        created, unchanged = _submit_in_tx(conn, instructions, now=now, actor=actor, reason=reason,
                                           config=config, roster=roster, activation_id=activation_id)
        marks = ",".join("?" * len(OPEN_STATES))
        # open tasks, and finished recurring ones (whose next rounds must stop), that the plan dropped
        fin = ",".join("?" * len(FINISHED_STATES))
        stale = [dict(r) for r in conn.execute(
            f"SELECT * FROM tasks WHERE source = 'preplan' AND (state IN ({marks}) OR (repeat_min IS NOT NULL"
            f" AND state IN ({fin}))) ORDER BY key", (*OPEN_STATES, *FINISHED_STATES))
            if r["key"] not in wanted]
        for task in stale:
            _change_state(conn, task, "stood_down", now=now, actor=actor,
                          reason=f"no longer in the plan: {reason}", stamp="ended_at", event_kind="stood_down",
                          config=config, notify_kind="stood_down")
        conn.execute("UPDATE activations SET n_created=?, n_stood_down=? WHERE id=?",
                     (len(created), len(stale), activation_id))
    return Activation(activation_id, created, [t["key"] for t in stale], unchanged)


def _decision_doc(decision: Any) -> dict[str, Any] | None:
    if decision is None:
        return None
    if hasattr(decision, "__dataclass_fields__"):
        from dataclasses import asdict

        return asdict(decision)
    if isinstance(decision, dict):
        return decision
    return {k: getattr(decision, k) for k in ("tier", "colour", "reason") if hasattr(decision, k)}


# ----------------------------------------------------------------------------------------------
# transitions

def _active_assignees(conn: sqlite3.Connection, key: str) -> list[str]:
    return [r[0] for r in conn.execute(
        "SELECT staff_id FROM assignments WHERE task_key=? AND active=1 ORDER BY level, id", (key,))]


def _change_state(conn: sqlite3.Connection, task: dict[str, Any], to_state: str | None, *, now: datetime,
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
    event_id = _log_event(conn, now=now, actor=actor, kind=event_kind, task_key=task["key"],
                          from_state=task["state"], to_state=to_state or task["state"], reason=reason, data=data)
    if notify_kind is not None:
        notify.enqueue(conn, config, kind=notify_kind, event_id=event_id,
                       recipients=_active_assignees(conn, task["key"]),
                       payload=_message(notify_kind, {**task, "state": to_state}, now,
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
        _change_state(conn, task, to_state, now=now, actor=actor, reason=reason, stamp=stamp, event_kind=action,
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


# ----------------------------------------------------------------------------------------------
# SLA timers

def timer_due(task: dict[str, Any], timer: str, config: DispatchConfig) -> datetime | None:
    """When ``timer`` of ``task`` falls due (None if it does not apply to the task)."""
    sla = config.dispatch.sla
    for name, _, attr, field_only in TIMERS:
        if name != timer:
            continue
        if field_only and task["category"] not in sla.field_categories:
            return None
        if attr is None:
            return parse_ts(task["handle_due_at"])
        return parse_ts(task["dispatched_at"]) + timedelta(minutes=getattr(sla, attr))
    raise InputError(f"unknown timer {timer!r}")


def missed_timers(task: dict[str, Any], now: datetime, config: DispatchConfig) -> list[tuple[str, datetime]]:
    """Timers of ``task`` that are due at ``now`` and not met (pure: no database)."""
    if task["state"] not in ACTIVE_STATES or not task["dispatched_at"]:
        return []
    out = []
    for name, met_column, _, _ in TIMERS:
        due = timer_due(task, name, config)
        if due is not None and task[met_column] is None and due <= now:
            out.append((name, due))
    return out


def tick(conn: sqlite3.Connection, *, now: datetime, actor: str = "tick",
         config: DispatchConfig | None = None, roster: Roster | None = None) -> list[dict[str, Any]]:
    """Evaluate the SLA timers at ``now``: escalate every newly missed one one step up the chain,
    and start the next round of every recurring task (``repeat_min``) whose round has come.

    Each (task, timer) is escalated at most once per round, so calling tick again (every alert run
    does) changes nothing until another timer runs out. Returns what it did, one dict per action:
    ``action`` "escalated" (task_key, timer, due_at, escalated_to, role, level) or "next_round"
    (task_key, round, assignee).
    """
    config, roster = _context(conn, config, roster)
    escalations: list[dict[str, Any]] = []
    with transaction(conn):
        escalations.extend(_start_due_rounds(conn, now=now, actor=actor, config=config, roster=roster))
        marks = ",".join("?" * len(ACTIVE_STATES))
        tasks = [dict(r) for r in conn.execute(f"SELECT * FROM tasks WHERE state IN ({marks})", ACTIVE_STATES)]
        done_misses = {(r[0], r[1]) for r in conn.execute("SELECT task_key, timer FROM sla_misses")}
        for task in tasks:
            for timer, due in missed_timers(task, now, config):
                if (task["key"], timer) in done_misses:
                    continue
                escalations.append(_escalate(conn, task, timer, due, now=now, actor=actor, config=config,
                                             roster=roster))
                task = dict(conn.execute("SELECT * FROM tasks WHERE key=?", (task["key"],)).fetchone())
    return escalations


def _escalate(conn: sqlite3.Connection, task: dict[str, Any], timer: str, due: datetime, *, now: datetime,
              actor: str, config: DispatchConfig, roster: Roster) -> dict[str, Any]:
    responsible = set(_active_assignees(conn, task["key"]))
    chain = escalation_chain(roster, task["grid_id"], config)
    target, role = next(((s, r) for s, r in chain if s not in responsible), chain[-1])
    level = task["escalation_level"] + 1
    if target not in responsible:
        conn.execute("INSERT INTO assignments(task_key, staff_id, role, level, assigned_at, reason) "
                     "VALUES (?,?,?,?,?,?)", (task["key"], target, role, level, ts(now), f"missed {timer} timer"))
    conn.execute("INSERT INTO sla_misses(task_key, timer, due_at, detected_at, escalated_to, level) "
                 "VALUES (?,?,?,?,?,?)", (task["key"], timer, ts(due), ts(now), target, level))
    overdue_min = (now - due).total_seconds() / 60.0
    reason = f"missed {timer} timer (due {ts(due)}, {overdue_min:.1f} min late): escalated to {target} ({role})"
    _change_state(conn, {**task, "escalation_level": level}, None, now=now, actor=actor, reason=reason,
                  stamp=None, event_kind="escalated", config=config, notify_kind="escalated",
                  data={"timer": timer, "to": target, "role": role, "level": level})
    conn.execute("UPDATE tasks SET escalation_level=? WHERE key=?", (level, task["key"]))
    return {"action": "escalated", "task_key": task["key"], "timer": timer, "due_at": ts(due),
            "escalated_to": target, "role": role, "level": level}


def _start_due_rounds(conn: sqlite3.Connection, *, now: datetime, actor: str, config: DispatchConfig,
                      roster: Roster) -> list[dict[str, Any]]:
    """Recurring tasks whose last round is finished and whose next round is due: dispatch it again
    (fresh timers, assignee chosen again for the current shift). An unfinished round is not
    doubled: its own timers escalate it instead."""
    marks = ",".join("?" * len(FINISHED_STATES))
    due_rows = [dict(r) for r in conn.execute(
        f"SELECT * FROM tasks WHERE repeat_min IS NOT NULL AND state IN ({marks}) ORDER BY key", FINISHED_STATES)
        if parse_ts(r["dispatched_at"]) + timedelta(minutes=r["repeat_min"]) <= now]
    if not due_rows:
        return []
    load = _load_counts(conn)
    shift = current_shift(now, config)
    now_s = ts(now)
    out = []
    for task in due_rows:
        instr = task_instruction(task)
        staff_id, role, why, _ = choose_assignee(instr, roster, load, shift, config)
        load[staff_id] = load.get(staff_id, 0) + 1
        due = ts(now + timedelta(minutes=deadline_min(instr, config)))
        conn.execute(
            "UPDATE tasks SET state='dispatched', updated_at=?, dispatched_at=?, acknowledged_at=NULL,"
            " started_at=NULL, on_site_at=NULL, done_at=NULL, verified_at=NULL, closed_at=NULL, ended_at=NULL,"
            " handle_due_at=?, escalation_level=0, round=round+1, version=version+1 WHERE key=?",
            (now_s, now_s, due, task["key"]))
        conn.execute("UPDATE assignments SET active=0 WHERE task_key=?", (task["key"],))
        conn.execute("DELETE FROM sla_misses WHERE task_key=?", (task["key"],))
        conn.execute("INSERT INTO assignments(task_key, staff_id, role, level, assigned_at, reason) "
                     "VALUES (?,?,?,0,?,?)", (task["key"], staff_id, role, now_s, f"round {task['round'] + 1}: {why}"))
        event_id = _log_event(conn, now=now, actor=actor, kind="next_round", task_key=task["key"],
                              from_state=task["state"], to_state="dispatched",
                              reason=f"round {task['round'] + 1} (every {task['repeat_min']:g} min)",
                              data={"assignee": staff_id, "round": task["round"] + 1})
        row = {**task, "handle_due_at": due, "state": "dispatched"}
        notify.enqueue(conn, config, kind="dispatched", event_id=event_id, recipients=[staff_id],
                       payload=_message("dispatched", row, now, f"（第{task['round'] + 1}轮）",
                                        f" (round {task['round'] + 1})"), now=now, task_key=task["key"])
        out.append({"action": "next_round", "task_key": task["key"], "round": task["round"] + 1,
                    "assignee": staff_id})
    return out


# ----------------------------------------------------------------------------------------------
# queries

def list_tasks(conn: sqlite3.Connection, *, grid: str | None = None, state: str | None = None,
               overdue: bool = False, assignee: str | None = None, now: datetime | None = None,
               config: DispatchConfig | None = None) -> list[dict[str, Any]]:
    """Tasks (with their current assignees), filtered by grid, state, assignee (someone's to-do list)
    and, with ``now``, missed SLA timers."""
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
    tasks = [dict(r) for r in conn.execute(sql, args)]
    assignees: dict[str, list[str]] = {}
    for r in conn.execute("SELECT task_key, staff_id FROM assignments WHERE active=1 ORDER BY level, id"):
        assignees.setdefault(r[0], []).append(r[1])
    for t in tasks:
        t["assignees"] = assignees.get(t["key"], [])
    if assignee:
        tasks = [t for t in tasks if assignee in t["assignees"]]
    if overdue:
        if now is None:
            raise InputError("overdue filter needs the current time")
        config = config if config is not None else load_config()
        tasks = [t for t in tasks if missed_timers(t, now, config)]
    return tasks


def show_task(conn: sqlite3.Connection, key: str) -> dict[str, Any]:
    """One task with its assignments, missed timers and event history."""
    ensure_schema(conn)
    full = resolve_key(conn, key)
    task = dict(conn.execute("SELECT * FROM tasks WHERE key=?", (full,)).fetchone())
    task["assignments"] = [dict(r) for r in conn.execute(
        "SELECT staff_id, role, level, assigned_at, reason, active FROM assignments WHERE task_key=? ORDER BY id",
        (full,))]
    task["sla_misses"] = [dict(r) for r in conn.execute(
        "SELECT timer, due_at, detected_at, escalated_to, level FROM sla_misses WHERE task_key=?", (full,))]
    task["events"] = [dict(r) for r in conn.execute(
        "SELECT id, at, actor, kind, from_state, to_state, reason FROM events WHERE task_key=? ORDER BY id",
        (full,))]
    return task


def task_instruction(row: dict[str, Any]) -> TaskInstruction:
    """Rebuild the TaskInstruction of a stored task row."""
    return TaskInstruction(
        key=row["key"], template_id=row["template_id"], category=row["category"], tier=row["tier"],
        owner_role=row["owner_role"], title_zh=row["title_zh"], title_en=row["title_en"],
        deadline_min=row["deadline_min"], scope_kind=row["scope_kind"], scope_id=row["scope_id"],
        grid_id=row["grid_id"], works_id=row["works_id"], repeat_min=row["repeat_min"],
        depends_on=tuple(json.loads(row["depends_on"])),
        materials=tuple(Material(**m) for m in json.loads(row["materials"])),
        location=(row["x"], row["y"]) if row["x"] is not None else None, note_zh=row["note_zh"],
        note_en=row["note_en"], source=row["source"], extra=json.loads(row["extra"]))


# ----------------------------------------------------------------------------------------------
# one-click push and alert-run records

def push(conn: sqlite3.Connection, *, message: str, now: datetime, actor: str, grid: str | None = None,
         role: str | None = None, everyone: bool = False, config: DispatchConfig | None = None,
         roster: Roster | None = None) -> dict[str, Any]:
    """One-click push of ``message`` to every on-duty person in scope (a grid, a role, or all).

    Writes one event and its outbox rows in a transaction; returns the event id and recipients.
    """
    if not message.strip():
        raise InputError("push: empty message")
    if not (grid or role or everyone):
        raise InputError("push: choose --grid, --role or --all")
    if everyone and (grid or role):
        raise InputError("push: --all cannot be combined with --grid or --role")
    config, roster = _context(conn, config, roster)
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
        event_id = _log_event(conn, now=now, actor=actor, kind="push", reason=message,
                              data={"scope": scope, "recipients": len(recipients)})
        rows = notify.enqueue(conn, config, kind="push", event_id=event_id, recipients=recipients, now=now,
                              payload={"at": ts(now), "subject_zh": "通知", "subject_en": "Notice",
                                       "text_zh": message, "text_en": message, "scope": scope})
    return {"event_id": event_id, "recipients": recipients, "outbox_rows": rows}


def start_alert_run(conn: sqlite3.Connection, *, now: datetime, discharge_m3s: float | None = None,
                    reason: str = "") -> int:
    """Record the start of an alert run; returns its id."""
    ensure_schema(conn)
    with transaction(conn):
        cur = conn.execute("INSERT INTO alert_runs(started_at, status, discharge_m3s, reason) VALUES (?,?,?,?)",
                           (ts(now), "running", discharge_m3s, reason))
    return int(cur.lastrowid)


def finish_alert_run(conn: sqlite3.Connection, run_id: int, *, now: datetime, status: str,
                     tier: str | None = None, summary: dict[str, Any] | None = None) -> None:
    """Record the end of alert run ``run_id`` (status "ok", "failed", ...)."""
    with transaction(conn):
        conn.execute("UPDATE alert_runs SET finished_at=?, status=?, tier=?, summary=? WHERE id=?",
                     (ts(now), status, tier, json.dumps(summary or {}, ensure_ascii=False, default=str), run_id))


def events(conn: sqlite3.Connection, *, task_key: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """The most recent log events (all, or of one task), oldest first."""
    ensure_schema(conn)
    if task_key:
        rows = conn.execute("SELECT * FROM events WHERE task_key=? ORDER BY id DESC LIMIT ?", (task_key, limit))
    else:
        rows = conn.execute("SELECT * FROM events ORDER BY id DESC LIMIT ?", (limit,))
    return [dict(r) for r in rows][::-1]


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
