"""Putting instructions on the board: validate, create, assign, notify (idempotent by key); an
activation also stands down the preplan tasks its decision no longer contains."""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from floodtwin.db import transaction, ts
from floodtwin.dispatch import notify
from floodtwin.dispatch.board._common import board_context, log_event, message
from floodtwin.dispatch.board.assign import choose_assignee, current_shift, deadline_min, load_counts, load_due_times
from floodtwin.dispatch.board.states import FINISHED_STATES, OPEN_STATES, change_state
from floodtwin.dispatch.roster import Roster
from floodtwin.dispatch.settings import DispatchConfig
from floodtwin.errors import InputError
from floodtwin.tasks import CATEGORIES, TaskInstruction, require_material

__all__ = ["Activation", "validate_instructions", "submit_in_transaction", "submit", "activate"]


@dataclass(frozen=True)
class Activation:
    """What an activation did: its id, the keys created (or reopened) and the keys stood down."""

    activation_id: int
    created: list[str]
    stood_down: list[str]
    unchanged: int
    #: the working-mode switch the activation's level set off (dispatch.modes.ModeSwitch.to_dict), if any
    mode_switch: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"activation_id": self.activation_id, "created": self.created,
                "stood_down": self.stood_down, "unchanged": self.unchanged, "mode_switch": self.mode_switch}


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
        for material in instr.materials:  # the one materials table: item known, counted in its unit
            require_material(material.item, material.unit, where=f"instruction {instr.key}: materials")


def submit_in_transaction(conn: sqlite3.Connection, instructions: Sequence[TaskInstruction], *, now: datetime,
                  actor: str, reason: str, config: DispatchConfig, roster: Roster,
                  activation_id: int | None) -> tuple[list[str], int]:
    """Create, assign and queue notifications for the instructions not yet on the board (in a transaction)."""
    keys = [i.key for i in instructions]
    existing: dict[str, str] = {}
    for start in range(0, len(keys), 500):
        chunk = keys[start:start + 500]
        existing.update({r[0]: r[1] for r in conn.execute(
            f"SELECT key, state FROM tasks WHERE key IN ({','.join('?' * len(chunk))})", chunk)})
    load = load_counts(conn)
    dues = load_due_times(conn)
    shift = current_shift(now, config)
    now_s = ts(now)
    created: list[str] = []
    for instr in instructions:
        prior = existing.get(instr.key)
        if prior is not None and prior != "stood_down":
            continue  # idempotent: live, finished or cancelled tasks are left as they are
        handle_min = deadline_min(instr, config)
        due_at = now + timedelta(minutes=handle_min)
        staff_id, role, why, grid_id = choose_assignee(instr, roster, load, shift, config,
                                                       due_s=due_at.timestamp(), dues=dues)
        load[staff_id] = load.get(staff_id, 0) + 1
        dues.setdefault(staff_id, []).append(due_at.timestamp())
        due = ts(due_at)
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
            log_event(conn, now=now, actor=actor, kind="created", task_key=instr.key, to_state="pending",
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
        event_id = log_event(conn, now=now, actor=actor, kind=kind, task_key=instr.key, from_state=from_state,
                              to_state="dispatched", reason=reason, data={"assignee": staff_id, "why": why})
        task = {**instr.to_dict(), "grid_id": grid_id, "handle_due_at": due, "state": "dispatched"}
        notify.enqueue(conn, config, kind=kind, event_id=event_id, recipients=[staff_id],
                       payload=message(kind, task, now, utc_offset_h=config.dispatch.utc_offset_h), now=now,
                       task_key=instr.key)
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
    config, roster = board_context(conn, config, roster)
    with transaction(conn):
        created, _ = submit_in_transaction(conn, instructions, now=now, actor=actor, reason=reason, config=config,
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
    config, roster = board_context(conn, config, roster)
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
        created, unchanged = submit_in_transaction(conn, instructions, now=now, actor=actor, reason=reason,
                                           config=config, roster=roster, activation_id=activation_id)
        marks = ",".join("?" * len(OPEN_STATES))
        # open tasks, and finished recurring ones (whose next rounds must stop), that the plan dropped
        fin = ",".join("?" * len(FINISHED_STATES))
        stale = [dict(r) for r in conn.execute(
            f"SELECT * FROM tasks WHERE source = 'preplan' AND (state IN ({marks}) OR (repeat_min IS NOT NULL"
            f" AND state IN ({fin}))) ORDER BY key", (*OPEN_STATES, *FINISHED_STATES))
            if r["key"] not in wanted]
        for task in stale:
            change_state(conn, task, "stood_down", now=now, actor=actor,
                          reason=f"no longer in the plan: {reason}", stamp="ended_at", event_kind="stood_down",
                          config=config, notify_kind="stood_down")
        conn.execute("UPDATE activations SET n_created=?, n_stood_down=? WHERE id=?",
                     (len(created), len(stale), activation_id))
    return Activation(activation_id, created, [t["key"] for t in stale], unchanged)


def _decision_doc(decision: Any) -> dict[str, Any] | None:
    """What an activation records of its decision: a preplan TierDecision's own round-trip dict
    (``TierDecision.to_dict``), a dict as given, else the tier, colour and reason it carries."""
    if decision is None:
        return None
    if hasattr(decision, "to_dict"):
        return decision.to_dict()
    if isinstance(decision, dict):
        return decision
    return {k: getattr(decision, k) for k in ("tier", "colour", "reason") if hasattr(decision, k)}
