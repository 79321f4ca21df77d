"""What every part of the board shares: the event log, task messages, the context (settings and
roster) of a board operation, who holds a task, and stored rows back to instructions."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Any

from floodtwin.db import local_time, ts, zone_label
from floodtwin.dispatch.roster import Roster, ensure_roster
from floodtwin.dispatch.schema import ensure_schema
from floodtwin.dispatch.settings import DispatchConfig, load_config
from floodtwin.tasks import CATEGORIES, Material, TaskInstruction

__all__ = ["message", "TIMER_NAMES", "party", "digest_message", "digest_summary_message", "log_event",
           "board_context", "active_assignees", "task_instruction"]

#: SLA timer -> what was missed, Chinese and English
TIMER_NAMES = {"ack": ("未确认", "not acknowledged"), "set_out": ("未出发", "not set out"),
               "on_site": ("未到场报告", "not on site"), "handle": ("未办结", "not handled")}


def message(kind: str, task: dict[str, Any], now: datetime, extra_zh: str = "", extra_en: str = "", *,
            utc_offset_h: float | None = None) -> dict[str, Any]:
    """Payload of a task notification, in both languages.

    The texts show the deadline on the staff's clock (``utc_offset_h`` of the dispatch YAML) with the
    zone named; a caller that does not pass it gets UTC, named as such. The ``at`` and ``task`` fields
    stay UTC (machine-readable, as stored)."""
    verbs = {"dispatched": ("新任务", "New task"), "reopened": ("任务重新启动", "Task reopened"),
             "escalated": ("任务超时升级", "Task escalated"), "stood_down": ("任务撤销", "Task stood down"),
             "cancelled": ("任务取消", "Task cancelled")}
    zh, en = verbs.get(kind, (kind, kind))
    due, offset_h = task.get("handle_due_at"), utc_offset_h if utc_offset_h is not None else 0.0
    # inside the text's own brackets: "due 2026-07-20 10:30 UTC+8"
    deadline = f"{local_time(due, offset_h, zone=False)} {zone_label(offset_h)}" if due else None
    return {
        "at": ts(now), "subject_zh": f"{zh}：{task['title_zh']}", "subject_en": f"{en}: {task['title_en']}",
        "text_zh": f"{zh}：{task['title_zh']}（网格 {task.get('grid_id') or '镇'}，截止 {deadline or '-'}）{extra_zh}",
        "text_en": f"{en}: {task['title_en']} (grid {task.get('grid_id') or 'town'}, due {deadline or '-'}){extra_en}",
        "task": {k: task.get(k) for k in ("key", "template_id", "category", "tier", "title_zh", "title_en",
                                            "grid_id", "works_id", "scope_kind", "scope_id", "handle_due_at",
                                            "state")},
    }


def party(party_id: str, config: DispatchConfig) -> dict[str, str]:
    """Who ``party_id`` is, for a message: the town command and its superior by their configured
    names (and the superior's contact); staff and units by their id."""
    town = config.dispatch.town_command
    if party_id == town.id:
        return {"id": town.id, "name_zh": town.name_zh, "name_en": town.name_en}
    if town.superior is not None and party_id == town.superior.id:
        sup = town.superior
        return {"id": sup.id, "name_zh": sup.name_zh, "name_en": sup.name_en, "contact": sup.contact}
    return {"id": party_id, "name_zh": party_id, "name_en": party_id}


def _digest_line(n: int, entry: dict[str, Any], lang: str) -> str:
    """One task of a digest: category, title, grid, minutes late, what was missed, where it went."""
    zh = lang == "zh"
    cat = CATEGORIES.get(entry["category"], (entry["category"], entry["category"]))[0 if zh else 1]
    missed = ("、" if zh else ", ").join(TIMER_NAMES.get(t, (t, t))[0 if zh else 1] for t in entry["timers"])
    grid = entry.get("grid_id") or ("镇" if zh else "town")
    late = entry["late_min"]
    if zh:
        to = f"升级给{entry['escalated_to']}" if entry["escalated_to"] else "已到最高一级，无人可再升级"
        return f"{n}. {cat}：{entry['title_zh']}（网格{grid}，超时{late:.0f}分钟，{missed}，{to}）"
    to = f"escalated to {entry['escalated_to']}" if entry["escalated_to"] else "top of the chain: no one above"
    return f"{n}. {cat}: {entry['title_en']} (grid {grid}, {late:.0f} min late, {missed}; {to})"


def digest_message(recipient: str, digest: dict[str, Any], now: datetime,
                   config: DispatchConfig) -> dict[str, Any]:
    """Payload of one person's escalation digest of a tick, in both languages: how many tasks were
    escalated, how many of them to this person, how many of their open tasks are overdue, and the
    most urgent ones by name (``digest["tasks"]`` comes sorted, most urgent first)."""
    tasks = digest["tasks"]
    top = config.dispatch.digest.top_tasks
    n, mine, overdue = len(tasks), digest["to_you"], digest["overdue_total"]
    more = n - min(n, top)
    zh_lines = "；".join(_digest_line(i + 1, e, "zh") for i, e in enumerate(tasks[:top]))
    en_lines = "; ".join(_digest_line(i + 1, e, "en") for i, e in enumerate(tasks[:top]))
    return {
        "at": ts(now), "to": party(recipient, config),
        "subject_zh": f"超时升级汇总：{n}项任务，其中{mine}项升级给你",
        "subject_en": f"Escalation digest: {n} task(s), {mine} escalated to you",
        "text_zh": (f"超时升级汇总（{ts(now)}）：本轮{n}项任务超时，其中{mine}项升级给你；"
                    f"你名下共{overdue}项任务超时未办。最要紧的：{zh_lines}" + (f"；另有{more}项。" if more else "。")),
        "text_en": (f"Escalation digest ({ts(now)}): {n} task(s) overdue this tick, {mine} of them escalated to you; "
                    f"{overdue} of your open tasks are overdue. Most urgent: {en_lines}"
                    + (f"; and {more} more." if more else ".")),
        "digest": {"escalated": n, "to_you": mine, "overdue_total": overdue, "tasks": tasks},
    }


def digest_summary_message(digests: dict[str, dict[str, Any]], entries: list[dict[str, Any]], now: datetime,
                           config: DispatchConfig) -> dict[str, Any]:
    """Payload of the one message of a tick for a mailbox (the duty officer's): who got a digest with
    how many tasks, and the most urgent tasks of the whole tick (``entries`` sorted, most urgent first)."""
    top = config.dispatch.digest.top_tasks
    people = sorted(digests.items(), key=lambda kv: (-len(kv[1]["tasks"]), kv[0]))
    who_zh = "，".join(f"{r} {len(d['tasks'])}项" for r, d in people)
    who_en = ", ".join(f"{r} {len(d['tasks'])}" for r, d in people)
    zh_lines = "；".join(_digest_line(i + 1, e, "zh") for i, e in enumerate(entries[:top]))
    en_lines = "; ".join(_digest_line(i + 1, e, "en") for i, e in enumerate(entries[:top]))
    return {
        "at": ts(now),
        "subject_zh": f"超时升级汇总：{len(entries)}项任务，通知{len(people)}人",
        "subject_en": f"Escalation digest: {len(entries)} task(s), {len(people)} people told",
        "text_zh": f"超时升级汇总（{ts(now)}）：{len(entries)}项任务超时。各人：{who_zh}。最要紧的：{zh_lines}。",
        "text_en": (f"Escalation digest ({ts(now)}): {len(entries)} task(s) overdue. Per person: {who_en}. "
                    f"Most urgent: {en_lines}."),
        "digest": {"escalated": len(entries), "recipients": {r: len(d["tasks"]) for r, d in people},
                   "tasks": entries[:top]},
    }


def log_event(conn: sqlite3.Connection, *, now: datetime, actor: str, kind: str, task_key: str | None = None,
               report_id: str | None = None, from_state: str | None = None, to_state: str | None = None,
               reason: str = "", data: dict[str, Any] | None = None) -> int:
    cur = conn.execute(
        "INSERT INTO events(at, actor, kind, task_key, report_id, from_state, to_state, reason, data) "
        "VALUES (?,?,?,?,?,?,?,?,?)",
        (ts(now), actor, kind, task_key, report_id, from_state, to_state, reason,
         json.dumps(data or {}, ensure_ascii=False, sort_keys=True)))
    return int(cur.lastrowid)


def board_context(conn: sqlite3.Connection, config: DispatchConfig | None,
             roster: Roster | None) -> tuple[DispatchConfig, Roster]:
    ensure_schema(conn)
    config = config if config is not None else load_config()
    return config, ensure_roster(conn, roster)


def active_assignees(conn: sqlite3.Connection, key: str) -> list[str]:
    return [r[0] for r in conn.execute(
        "SELECT staff_id FROM assignments WHERE task_key=? AND active=1 ORDER BY level, id", (key,))]


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
