"""The town's four working modes (平时 normal, 节假日 holiday, 重大活动 major event, 应急战时 emergency),
beside the flow levels in the preplan: each with its duty arrangements and routine tasks, and the rules
that switch them automatically. Pure: the board's side (the current mode, the audit of every switch,
the routine tasks on the board) is :mod:`floodtwin.dispatch.modes`.

The grid model these modes come from (docs/reach.md §1; seeds 001, 003: the CBD exclusive grid of
Zhengzhou) runs "平急转换": everyday routines in the normal mode; "三保" (safety, traffic, order) with
staffed key points and mobile patrols on holidays; a joint command, consultation and support for a
major event; and in the emergency ("wartime") mode the 3/5/10/30-minute rule, the four-level response
and command escalation. Two rules switch automatically: a flood level at or above
``automatic.emergency_from_tier`` forces the emergency mode (a flood is an emergency whatever the
calendar says), and a crowd count above a threshold in a listed exclusive grid switches the listed
modes to emergency (as the CBD exclusive grid did on 31 December 2023 when its cameras counted 50,000
people: seed 003).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from floodtwin.errors import InputError
from floodtwin.preplan.model import (MODE_IDS, AutomaticRules, CrowdRule, DutyArrangement, ModeSpec, ModesSection,
                                     PreplanModel)
from floodtwin.tasks import TaskInstruction

__all__ = ["MODE_IDS", "DutyArrangement", "ModeSpec", "CrowdRule", "AutomaticRules", "ModesSection", "mode_spec",
           "tier_forces_emergency", "crowd_switch", "mode_tasks"]

def mode_spec(section: ModesSection, mode_id: str) -> ModeSpec:
    """The mode ``mode_id``; InputError naming the known modes otherwise."""
    for m in section.modes:
        if m.id == mode_id:
            return m
    raise InputError(f"unknown working mode {mode_id!r} (modes: {', '.join(m.id for m in section.modes)})")


def tier_forces_emergency(model: PreplanModel, tier: str | None) -> bool:
    """Whether the flow level ``tier`` is at or above ``automatic.emergency_from_tier`` (level IV)."""
    if model.modes is None or tier is None:
        return False
    rank = {t.id: i for i, t in enumerate(model.tiers)}
    if tier not in rank:
        raise InputError(f"unknown tier '{tier}' (tiers: {', '.join(rank)})")
    return rank[tier] >= rank[model.modes.automatic.emergency_from_tier]


def crowd_switch(section: ModesSection, current: str, grid_id: str | None, people: int) -> tuple[str, str] | None:
    """(new mode, reason) when ``people`` counted in ``grid_id`` cross a crowd rule that applies to the
    ``current`` mode; None otherwise."""
    for rule in section.automatic.crowd:
        if rule.grid == grid_id and current in rule.from_modes and people > rule.max_people:
            return rule.to, (f"crowd of {people:,} people in exclusive grid {grid_id} above {rule.max_people:,} "
                             f"({current} -> {rule.to})")
    return None


def mode_tasks(model: PreplanModel, mode_id: str, reach: Any, tier: str | None = None) -> list[TaskInstruction]:
    """The routine tasks of mode ``mode_id`` expanded over ``reach`` (a Reach or ReachTables), as the
    tier templates are (same scopes, filters, placeholders), keyed ``mode.<mode>.<template>`` and with
    ``source = "mode"``; ``tier`` (default: the lowest) is the level they are issued at."""
    from floodtwin.preplan.expand import tasks_for
    from floodtwin.preplan.state import TierDecision

    if model.modes is None:
        raise InputError(f"preplan {model.name} has no working modes")
    spec = mode_spec(model.modes, mode_id)
    if not spec.tasks:
        return []
    lowest = model.tiers[0].id
    templates = [t.model_copy(update={"id": f"mode.{mode_id}.{t.id}", "tiers": lowest, "depends_on":
                                      [f"mode.{mode_id}.{d}" for d in t.depends_on]}) for t in spec.tasks]
    sub = model.model_copy(update={"templates": templates})
    decision = TierDecision(tier=lowest, colour=model.tiers[0].colour, rank=0, reason=f"working mode {mode_id}",
                            trigger="mode", discharge_m3s=0.0, flow_tier=lowest)
    out = []
    for task in tasks_for(sub, decision, reach):
        out.append(replace(task, tier=tier or lowest, source="mode",
                           extra={**task.extra, "mode": mode_id}))
    return out
