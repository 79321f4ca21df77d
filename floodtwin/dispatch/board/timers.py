"""SLA timers (docs/reach.md §1, configured in the dispatch YAML): when each falls due, which are
missed, and the tick that escalates each missed one once, one step up the chain, after the grace
period; tells everyone concerned in one digest per person; and starts the next round of recurring tasks.

The chain of a task: its grid's leader, the parent grids' leaders, the town command, the town
command's superior (``dispatch.town_command.superior``). A task goes to the first of them who
does not hold it yet; when everyone above already does, the miss is recorded as "no one above"
and its holders are reminded: a task never escalates to whoever holds it.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from floodtwin.db import parse_ts, transaction, ts
from floodtwin.dispatch import notify
from floodtwin.dispatch.board._common import (board_context, digest_message, digest_summary_message, log_event,
                                              message, task_instruction)
from floodtwin.dispatch.board.assign import (choose_assignee, current_shift, deadline_min, escalation_chain, load_counts,
                                             load_due_times)
from floodtwin.dispatch.board.states import ACTIVE_STATES, FINISHED_STATES, change_state
from floodtwin.dispatch.roster import Roster
from floodtwin.dispatch.settings import DispatchConfig
from floodtwin.errors import InputError

__all__ = ["TIMERS", "Tick", "timer_due", "missed_timers", "chain_above", "digest_order", "group_digests",
           "tick", "tick_report"]

#: SLA timer -> (column that meets it, settings attribute, applies to field tasks only)
TIMERS = (
    ("ack", "acknowledged_at", "ack_min", False),
    ("set_out", "started_at", "set_out_min", True),
    ("on_site", "on_site_at", "on_site_min", True),
    ("handle", "done_at", None, False),
)


@dataclass
class Tick:
    """What one tick did: ``escalations`` (one dict per missed timer), ``rounds`` (recurring tasks
    dispatched again) and ``digests`` (recipient -> their digest: the tasks, most urgent first)."""

    escalations: list[dict[str, Any]] = field(default_factory=list)
    rounds: list[dict[str, Any]] = field(default_factory=list)
    digests: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: the event the digests' messages belong to (None when nothing was escalated)
    digest_event_id: int | None = None

    @property
    def actions(self) -> list[dict[str, Any]]:
        """Rounds, then escalations: the list :func:`tick` returns."""
        return [*self.rounds, *self.escalations]


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


def missed_timers(task: dict[str, Any], now: datetime, config: DispatchConfig, *,
                  grace_min: float = 0.0) -> list[tuple[str, datetime]]:
    """Timers of ``task`` not met and due at least ``grace_min`` minutes before ``now`` (pure: no
    database). With no grace: the overdue timers (lists, the map); the tick passes the SLA's
    ``grace_min``: the timers to escalate."""
    if task["state"] not in ACTIVE_STATES or not task["dispatched_at"]:
        return []
    grace = timedelta(minutes=grace_min)
    out = []
    for name, met_column, _, _ in TIMERS:
        due = timer_due(task, name, config)
        if due is not None and task[met_column] is None and due + grace <= now:
            out.append((name, due))
    return out


def chain_above(roster: Roster, grid_id: str | None, config: DispatchConfig,
                unit: str | None = None) -> list[tuple[str, str]]:
    """(id, role) of everyone a task of ``grid_id`` can escalate to, lowest first: the grid chain up to
    the town command (for a task held by a member of ``unit``'s duty roster: the unit's leader, then the
    town command), then the town command's superior when one is configured."""
    chain = escalation_chain(roster, grid_id, config, unit)
    superior = config.dispatch.town_command.superior
    if superior is not None and superior.id not in (c[0] for c in chain):
        chain.append((superior.id, "superior"))
    return chain


def digest_order(entry: dict[str, Any], config: DispatchConfig) -> tuple[int, float, str]:
    """Sort key of a digest entry, most urgent first: category in the configured order (works
    emergencies and evacuation before information), then the longest overdue, then the key."""
    order = config.dispatch.digest.category_order
    rank = order.index(entry["category"]) if entry["category"] in order else len(order)
    return rank, -entry["late_min"], entry["task_key"]


def group_digests(entries: list[dict[str, Any]], overdue_by_holder: dict[str, int],
                  config: DispatchConfig) -> dict[str, dict[str, Any]]:
    """One digest per person: the escalated tasks they hold (now) or that were taken from them,
    most urgent first; how many went to them and how many of their open tasks are overdue (pure)."""
    tasks: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for entry in entries:
        for person in entry["holders"]:
            tasks[person].append(entry)
    out = {}
    for person in sorted(tasks):
        mine = sorted(tasks[person], key=lambda e: digest_order(e, config))
        out[person] = {"recipient": person, "tasks": mine,
                       "to_you": sum(e["escalated_to"] == person for e in mine),
                       "overdue_total": overdue_by_holder.get(person, 0)}
    return out


def tick(conn: sqlite3.Connection, *, now: datetime, actor: str = "tick",
         config: DispatchConfig | None = None, roster: Roster | None = None) -> list[dict[str, Any]]:
    """Evaluate the SLA timers at ``now`` (see :func:`tick_report`); returns what it did, one dict
    per action: ``action`` "escalated" (task_key, timer, due_at, late_min, escalated_to — None when
    no one is above —, role, level, outcome) or "next_round" (task_key, round, assignee)."""
    return tick_report(conn, now=now, actor=actor, config=config, roster=roster).actions


def tick_report(conn: sqlite3.Connection, *, now: datetime, actor: str = "tick",
                config: DispatchConfig | None = None, roster: Roster | None = None) -> Tick:
    """Evaluate the SLA timers at ``now``: escalate every timer missed by more than the grace period
    one step up the chain, tell everyone concerned in one digest per person, and start the next
    round of every recurring task (``repeat_min``) whose round has come.

    Each (task, timer) is escalated at most once per round, so calling tick again (every alert run
    does) changes nothing until another timer runs out. A task climbs at most one step per tick:
    timers missed together (a late first tick) are all recorded, with the same person, who must get
    the chance to act before the task goes above them. Every escalated task keeps its own rows
    (sla_misses, assignment, event); the outbox gets one digest per person per tick, not one
    message per task.
    """
    config, roster = board_context(conn, config, roster)
    grace_min = config.dispatch.sla.grace_min
    report = Tick()
    with transaction(conn):
        report.rounds = _start_due_rounds(conn, now=now, actor=actor, config=config, roster=roster)
        marks = ",".join("?" * len(ACTIVE_STATES))
        tasks = [dict(r) for r in conn.execute(f"SELECT * FROM tasks WHERE state IN ({marks}) ORDER BY key",
                                               ACTIVE_STATES)]
        done_misses = {(r[0], r[1]) for r in conn.execute("SELECT task_key, timer FROM sla_misses")}
        holders = _holders(conn)
        entries = []
        for task in tasks:
            missed = [(name, due) for name, due in missed_timers(task, now, config, grace_min=grace_min)
                      if (task["key"], name) not in done_misses]
            if not missed:
                continue
            entry = _escalate(conn, task, missed, holders.get(task["key"], []), now=now, actor=actor,
                              config=config, roster=roster)
            holders[task["key"]] = entry["holders"]
            entries.append(entry)
            report.escalations.extend(
                {"action": "escalated", "task_key": task["key"], "timer": name, "due_at": ts(due),
                 "late_min": round((now - due).total_seconds() / 60.0, 1), "escalated_to": entry["escalated_to"],
                 "role": entry["role"], "level": entry["level"], "outcome": entry["outcome"]}
                for name, due in missed)
        if entries:
            report.digests = group_digests(entries, _overdue_by_holder(tasks, holders, now, config), config)
            report.digest_event_id = _send_digests(conn, report.digests, entries, now=now, actor=actor,
                                                   config=config)
    return report


def _holders(conn: sqlite3.Connection) -> dict[str, list[str]]:
    """Task key -> who holds it now (active assignments, lowest level first)."""
    out: dict[str, list[str]] = defaultdict(list)
    for key, staff_id in conn.execute("SELECT task_key, staff_id FROM assignments WHERE active=1 ORDER BY level, id"):
        out[key].append(staff_id)
    return out


def _overdue_by_holder(tasks: list[dict[str, Any]], holders: dict[str, list[str]], now: datetime,
                       config: DispatchConfig) -> dict[str, int]:
    """Person -> how many of the open tasks they hold are overdue (a timer past due, grace or not)."""
    counts: dict[str, int] = defaultdict(int)
    for task in tasks:
        if missed_timers(task, now, config):
            for person in holders.get(task["key"], []):
                counts[person] += 1
    return counts


def _escalate(conn: sqlite3.Connection, task: dict[str, Any], missed: list[tuple[str, datetime]],
              holders: list[str], *, now: datetime, actor: str, config: DispatchConfig,
              roster: Roster) -> dict[str, Any]:
    """One step up for the timers of ``task`` missed in this tick (or "no one above"); returns the
    task's digest entry. Writes the assignment, one sla_misses row per timer and one event."""
    unit = roster.unit_of(holders[0]) if holders else None  # the person it was given to: their unit's chain
    target = next(((who, role) for who, role in chain_above(roster, task["grid_id"], config, unit)
                   if who not in holders), None)
    timers = [name for name, _ in missed]
    first_due = min(due for _, due in missed)
    late_min = (now - first_due).total_seconds() / 60.0
    plural = "s" if len(timers) > 1 else ""
    what = f"missed {', '.join(timers)} timer{plural} (due {ts(first_due)}, {late_min:.1f} min late)"
    if target is not None:
        who, role = target
        level = task["escalation_level"] + 1
        conn.execute("INSERT INTO assignments(task_key, staff_id, role, level, assigned_at, reason) "
                     "VALUES (?,?,?,?,?,?)", (task["key"], who, role, level, ts(now), what))
        change_state(conn, {**task, "escalation_level": level}, None, now=now, actor=actor,
                     reason=f"{what}: escalated to {who} ({role})", stamp=None, event_kind="escalated",
                     config=config, data={"timers": timers, "to": who, "role": role, "level": level})
        conn.execute("UPDATE tasks SET escalation_level=? WHERE key=?", (level, task["key"]))
        holders = [*holders, who]
        outcome = "escalated"
    else:
        # everyone above already holds it: nobody new to tell, never the holder itself; the holders are
        # reminded in their digest, and the miss is recorded so the next tick does not repeat it
        who, role, level, outcome = None, None, task["escalation_level"], "no_one_above"
        log_event(conn, now=now, actor=actor, kind="sla_missed", task_key=task["key"], from_state=task["state"],
                  to_state=task["state"], reason=f"{what}: no one above {', '.join(holders) or '-'}",
                  data={"timers": timers, "to": None, "level": level})
    conn.executemany("INSERT INTO sla_misses(task_key, timer, due_at, detected_at, escalated_to, level, outcome) "
                     "VALUES (?,?,?,?,?,?,?)",
                     [(task["key"], name, ts(due), ts(now), who or "", level, outcome) for name, due in missed])
    return {"task_key": task["key"], "category": task["category"], "tier": task["tier"],
            "title_zh": task["title_zh"], "title_en": task["title_en"], "grid_id": task["grid_id"],
            "timers": timers, "due_at": ts(first_due), "late_min": round(late_min, 1),
            "handle_due_at": task["handle_due_at"], "escalated_to": who, "role": role, "level": level,
            "outcome": outcome, "holders": holders}


def _send_digests(conn: sqlite3.Connection, digests: dict[str, dict[str, Any]], entries: list[dict[str, Any]], *,
                  now: datetime, actor: str, config: DispatchConfig) -> int:
    """One event for the tick's digests and their outbox rows: one message per person, one for a mailbox."""
    ranked = sorted(entries, key=lambda e: digest_order(e, config))
    event_id = log_event(conn, now=now, actor=actor, kind="escalation_digest",
                         reason=f"{len(entries)} task(s) escalated, {len(digests)} digest(s)",
                         data={"recipients": {r: len(d["tasks"]) for r, d in digests.items()},
                               "tasks": [e["task_key"] for e in ranked]})
    notify.enqueue_digests(conn, config, kind="escalated", event_id=event_id, now=now,
                           payloads={r: digest_message(r, d, now, config) for r, d in digests.items()},
                           summary=digest_summary_message(digests, ranked, now, config))
    return event_id


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
    dues = load_due_times(conn)
    shift = current_shift(now, config)
    now_s = ts(now)
    out = []
    for task in due_rows:
        instr = task_instruction(task)
        due_at = now + timedelta(minutes=deadline_min(instr, config))
        staff_id, role, why, _ = choose_assignee(instr, roster, load, shift, config, due_s=due_at.timestamp(),
                                                 dues=dues)
        load[staff_id] = load.get(staff_id, 0) + 1
        dues.setdefault(staff_id, []).append(due_at.timestamp())
        due = ts(due_at)
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
                                        f" (round {task['round'] + 1})", utc_offset_h=config.dispatch.utc_offset_h),
                       now=now, task_key=task["key"])
        out.append({"action": "next_round", "task_key": task["key"], "round": task["round"] + 1,
                    "assignee": staff_id})
    return out
