"""SLA timers (DOMAIN.md §1, configured in the dispatch YAML): when each falls due, which are
missed, and the tick that escalates each missed one once and starts the next round of recurring tasks."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from typing import Any

from floodtwin.db import parse_ts, transaction, ts
from floodtwin.dispatch import notify
from floodtwin.dispatch.board._common import active_assignees, board_context, log_event, message, task_instruction
from floodtwin.dispatch.board.assign import choose_assignee, current_shift, deadline_min, escalation_chain, load_counts
from floodtwin.dispatch.board.states import ACTIVE_STATES, FINISHED_STATES, change_state
from floodtwin.dispatch.roster import Roster
from floodtwin.dispatch.settings import DispatchConfig
from floodtwin.errors import InputError

__all__ = ["TIMERS", "timer_due", "missed_timers", "tick"]

#: SLA timer -> (column that meets it, settings attribute, applies to field tasks only)
TIMERS = (
    ("ack", "acknowledged_at", "ack_min", False),
    ("set_out", "started_at", "set_out_min", True),
    ("on_site", "on_site_at", "on_site_min", True),
    ("handle", "done_at", None, False),
)


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
    config, roster = board_context(conn, config, roster)
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
    responsible = set(active_assignees(conn, task["key"]))
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
    change_state(conn, {**task, "escalation_level": level}, None, now=now, actor=actor, reason=reason,
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
    load = load_counts(conn)
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
        event_id = log_event(conn, now=now, actor=actor, kind="next_round", task_key=task["key"],
                              from_state=task["state"], to_state="dispatched",
                              reason=f"round {task['round'] + 1} (every {task['repeat_min']:g} min)",
                              data={"assignee": staff_id, "round": task["round"] + 1})
        row = {**task, "handle_due_at": due, "state": "dispatched"}
        notify.enqueue(conn, config, kind="dispatched", event_id=event_id, recipients=[staff_id],
                       payload=message("dispatched", row, now, f"（第{task['round'] + 1}轮）",
                                        f" (round {task['round'] + 1})"), now=now, task_key=task["key"])
        out.append({"action": "next_round", "task_key": task["key"], "round": task["round"] + 1,
                    "assignee": staff_id})
    return out
