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
from floodtwin.tasks import Material, TaskInstruction

__all__ = ["message", "log_event", "board_context", "active_assignees", "task_instruction"]


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
