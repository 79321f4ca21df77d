"""The board's working mode (平时 / 节假日 / 重大活动 / 应急战时): the current mode, every switch with who
and why, and the mode's routine tasks on the board.

The modes themselves (duty arrangements, routine templates, the automatic rules) are the preplan's
(:mod:`floodtwin.preplan.modes`). A switch, by hand (``floodtwin mode set``) or automatic (a flow level
of IV or above; a crowd count in an exclusive grid), happens in one transaction: a row in
``mode_switches`` (from, to, when, who, why, what triggered it, the flow level then), a ``mode_switch``
event in the board's event log (the audit log), the new mode's routine tasks put on the board
(``source = "mode"``) and the previous mode's routine tasks stood down, and one notice per on-duty
leader (grid and unit leaders) with the new duty arrangements. While the flow level is IV or above,
only the emergency mode may be set: a flood is an emergency whatever the calendar says. Going back
from the emergency mode is always a person's decision (no rule switches it back).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from floodtwin.db import transaction, ts
from floodtwin.dispatch import notify
from floodtwin.dispatch.board._common import board_context, log_event
from floodtwin.dispatch.board.states import OPEN_STATES, change_state, require_actor
from floodtwin.dispatch.board.submit import submit_in_transaction, validate_instructions
from floodtwin.dispatch.roster import Roster
from floodtwin.dispatch.settings import DispatchConfig
from floodtwin.errors import InputError

__all__ = ["TRIGGERS", "ModeSwitch", "current_mode", "current_level", "mode_history", "switch_mode", "set_mode",
           "apply_level", "apply_crowd"]

#: what may switch a mode: a person's order, the flow level, a crowd count
TRIGGERS = ("manual", "level", "crowd")


@dataclass
class ModeSwitch:
    """What a switch did: from and to, whether anything changed, the tasks created and stood down."""

    from_mode: str
    to_mode: str
    switched: bool
    trigger: str
    reason: str
    created: list[str] = field(default_factory=list)
    stood_down: list[str] = field(default_factory=list)
    notified: int = 0
    switch_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"from": self.from_mode, "to": self.to_mode, "switched": self.switched, "trigger": self.trigger,
                "reason": self.reason, "created": self.created, "stood_down": self.stood_down,
                "notified": self.notified, "switch_id": self.switch_id}


def _plan(preplan: Any):
    from floodtwin.preplan import Preplan

    plan = preplan if isinstance(preplan, Preplan) else Preplan.load(preplan)
    if plan.model.modes is None:
        raise InputError(f"preplan {plan.model.name}: no working modes (add a modes: section)")
    return plan


def current_mode(conn: sqlite3.Connection, default: str = "normal") -> dict[str, Any]:
    """The board's working mode: ``{"mode", "since", "actor", "reason", "trigger"}`` of the last switch,
    or ``default`` (the preplan's ``modes.default``) with ``since`` None when none was ever made."""
    from floodtwin.dispatch.schema import ensure_schema

    ensure_schema(conn)
    row = conn.execute("SELECT to_mode, at, actor, reason, trigger FROM mode_switches ORDER BY id DESC LIMIT 1"
                       ).fetchone()
    if row is None:
        return {"mode": default, "since": None, "actor": None, "reason": "", "trigger": None}
    return {"mode": row[0], "since": row[1], "actor": row[2], "reason": row[3], "trigger": row[4]}


def current_level(conn: sqlite3.Connection) -> dict[str, Any] | None:
    """The flow level of the board: the tier and colour of the last activation (None before any)."""
    from floodtwin.dispatch.schema import ensure_schema

    ensure_schema(conn)
    row = conn.execute("SELECT tier, colour, at FROM activations ORDER BY id DESC LIMIT 1").fetchone()
    return None if row is None else {"tier": row[0], "colour": row[1], "since": row[2]}


def mode_history(conn: sqlite3.Connection, limit: int = 20) -> list[dict[str, Any]]:
    """The last ``limit`` switches, newest first."""
    from floodtwin.dispatch.schema import ensure_schema

    ensure_schema(conn)
    return [dict(r) for r in conn.execute("SELECT * FROM mode_switches ORDER BY id DESC LIMIT ?", (limit,))]


def switch_mode(conn: sqlite3.Connection, to_mode: str, *, now: datetime, actor: str, reason: str, trigger: str,
                instructions: list, spec: Any, default: str = "normal", level: str | None = None,
                config: DispatchConfig | None = None, roster: Roster | None = None) -> ModeSwitch:
    """Switch the board to ``to_mode`` (``spec`` its preplan ModeSpec, ``instructions`` its routine
    tasks) in one transaction (see the module docstring); nothing happens when it is already the mode."""
    if trigger not in TRIGGERS:
        raise InputError(f"mode switch: unknown trigger {trigger!r} (one of {', '.join(TRIGGERS)})")
    if not reason.strip():
        raise InputError(f"mode {to_mode}: give the reason of the switch (--reason)")
    validate_instructions(instructions)
    config, roster = board_context(conn, config, roster)
    with transaction(conn):
        before = current_mode(conn, default)["mode"]
        if before == to_mode:
            return ModeSwitch(before, to_mode, False, trigger, reason)
        cur = conn.execute("INSERT INTO mode_switches(at, from_mode, to_mode, actor, trigger, reason, tier) "
                           "VALUES (?,?,?,?,?,?,?)", (ts(now), before, to_mode, actor, trigger, reason, level))
        switch_id = int(cur.lastrowid)
        event_id = log_event(conn, now=now, actor=actor, kind="mode_switch", from_state=before, to_state=to_mode,
                             reason=reason, data={"trigger": trigger, "level": level, "switch_id": switch_id})
        created, _ = submit_in_transaction(conn, instructions, now=now, actor=actor,
                                           reason=f"{spec.name_en}: {reason}", config=config, roster=roster,
                                           activation_id=None)
        wanted = {i.key for i in instructions}
        marks = ",".join("?" * len(OPEN_STATES))
        stale = [dict(r) for r in conn.execute(
            f"SELECT * FROM tasks WHERE source = 'mode' AND state IN ({marks}) ORDER BY key", OPEN_STATES)
            if r["key"] not in wanted]
        for task in stale:
            change_state(conn, task, "stood_down", now=now, actor=actor,
                         reason=f"working mode {before} -> {to_mode}: {reason}", stamp="ended_at",
                         event_kind="stood_down", config=config, notify_kind="stood_down")
        leaders = sorted({g.leader_id for g in roster.grids.values() if g.leader_id}
                         | {u.leader_id for u in roster.units.values() if u.leader_id})
        on_duty = [p for p in leaders if p in roster.staff and roster.staff[p].on_duty]
        duty = spec.duty
        notify.enqueue(conn, config, kind="mode_switch", event_id=event_id, recipients=on_duty, now=now, payload={
            "at": ts(now), "subject_zh": f"工作模式切换：{spec.name_zh}", "subject_en": f"Working mode: {spec.name_en}",
            "text_zh": f"即日起转入{spec.name_zh}（原因：{reason}）。值班安排：{duty.summary_zh}。",
            "text_en": f"From now on the {spec.name_en} (reason: {reason}). Duty: {duty.summary_en}.",
            "mode": {"from": before, "to": to_mode, "trigger": trigger}})
    return ModeSwitch(before, to_mode, True, trigger, reason, created, [t["key"] for t in stale], len(on_duty),
                      switch_id)


def set_mode(conn: sqlite3.Connection, mode: str, *, now: datetime, actor: str, reason: str,
             trigger: str = "manual", preplan: Any = None, reach: Any = None,
             config: DispatchConfig | None = None, roster: Roster | None = None) -> ModeSwitch:
    """Switch to ``mode`` of the preplan (a Preplan, a path or None for the repository's) with its routine
    tasks expanded over ``reach`` (default: the Huayuankou tables). A person's switch (``manual``) names
    them (a staff id or the town command); while the flow level is at or above the preplan's
    ``emergency_from_tier``, a mode other than emergency is refused."""
    from floodtwin.preplan import ReachTables
    from floodtwin.preplan.modes import mode_spec, mode_tasks, tier_forces_emergency

    if not reason.strip():
        raise InputError(f"mode {mode}: give the reason of the switch (--reason)")
    plan = _plan(preplan)
    section = plan.model.modes
    spec = mode_spec(section, mode)
    if trigger == "manual":
        require_actor(conn, actor, action=f"set the working mode to {mode}", now=now, config=config, roster=roster)
    level = current_level(conn)
    tier = level["tier"] if level else None
    if mode != "emergency" and tier_forces_emergency(plan.model, tier):
        raise InputError(f"mode {mode}: the flood level is {tier} (level {section.automatic.emergency_from_tier} "
                         f"or above forces the emergency mode); stand the level down first")
    tables = reach if reach is not None else ReachTables.read("huayuankou")
    instructions = mode_tasks(plan.model, mode, tables, tier=tier)
    if roster is None and isinstance(tables, ReachTables):
        roster = Roster.from_tables(tables)
    return switch_mode(conn, mode, now=now, actor=actor, reason=reason, trigger=trigger, instructions=instructions,
                       spec=spec, default=section.default, level=tier, config=config, roster=roster)


def apply_level(conn: sqlite3.Connection, tier: str, *, now: datetime, actor: str, reason: str = "",
                preplan: Any = None, reach: Any = None, config: DispatchConfig | None = None,
                roster: Roster | None = None) -> ModeSwitch | None:
    """The automatic rule of the flow level: at ``tier`` IV or above, switch to the emergency mode
    (None when the rule does not apply or the board is already in it)."""
    from floodtwin.preplan.modes import tier_forces_emergency

    plan = _plan(preplan)
    if not tier_forces_emergency(plan.model, tier):
        return None
    out = set_mode(conn, "emergency", now=now, actor=actor, trigger="level", preplan=plan, reach=reach,
                   config=config, roster=roster,
                   reason=reason or f"flood level {tier} (level {plan.model.modes.automatic.emergency_from_tier} "
                                    "or above forces the emergency mode)")
    return out if out.switched else None


def apply_crowd(conn: sqlite3.Connection, grid_id: str, people: int, *, now: datetime, actor: str,
                evidence: str = "", preplan: Any = None, reach: Any = None, config: DispatchConfig | None = None,
                roster: Roster | None = None) -> ModeSwitch | None:
    """The automatic crowd rule: ``people`` counted in exclusive grid ``grid_id`` above its threshold
    switch the listed modes (holiday, major event) to emergency; None when no rule applies."""
    from floodtwin.preplan.modes import crowd_switch

    plan = _plan(preplan)
    section = plan.model.modes
    now_mode = current_mode(conn, section.default)["mode"]
    hit = crowd_switch(section, now_mode, grid_id, int(people))
    if hit is None:
        return None
    to_mode, why = hit
    return set_mode(conn, to_mode, now=now, actor=actor, trigger="crowd", preplan=plan, reach=reach,
                    config=config, roster=roster, reason=why + (f"; {evidence}" if evidence else ""))
