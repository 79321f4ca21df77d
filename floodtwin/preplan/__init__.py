"""The preplan engine: response tiers with hysteresis and triggers, and the plan's task instructions.

``Preplan.load(path)`` reads and validates a preplan (data/preplans/<reach>.yaml);
``preplan.evaluate(state)`` turns a :class:`FlowState` into a :class:`TierDecision`;
``preplan.tasks_for(decision, reach, risk=None)`` expands the templates of that tier over the reach
into :class:`~floodtwin.tasks.TaskInstruction` s; :func:`diff` gives the to-do update between two
expansions. See model.py (file format and checks), tiers.py (tier logic), tables.py (the reach as
records), expand.py (expansion and diff).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from floodtwin.config import DATA_DIR
from floodtwin.preplan.expand import FALLBACK_NOTE_EN, FALLBACK_NOTE_ZH, PreplanDiff, diff
from floodtwin.preplan.model import PreplanModel, Template, TierSpec, load_preplan_model
from floodtwin.preplan.state import Danger, FlowState, RiskFacts, TierDecision
from floodtwin.preplan.tables import ReachTables
from floodtwin.tasks import TaskInstruction

__all__ = ["Preplan", "TierDecision", "FlowState", "Danger", "RiskFacts", "ReachTables", "PreplanDiff", "diff",
           "default_preplan_path", "FALLBACK_NOTE_EN", "FALLBACK_NOTE_ZH"]


def default_preplan_path(reach: str = "huayuankou") -> Path:
    """The repository's preplan for a reach: DATA_DIR / "preplans" / "<reach>.yaml"."""
    return DATA_DIR / "preplans" / f"{reach}.yaml"


class Preplan:
    """A validated preplan: tiers, triggers, roles and task templates (see the module docstring)."""

    def __init__(self, model: PreplanModel, source: Path | None = None):
        self.model = model
        self.source = source

    @classmethod
    def load(cls, path: str | Path | None = None) -> "Preplan":
        """Load and validate a preplan file (default: :func:`default_preplan_path`); ConfigError if invalid."""
        path = Path(path) if path is not None else default_preplan_path()
        return cls(load_preplan_model(path), source=path)

    @property
    def tiers(self) -> list[TierSpec]:
        """Tiers from the lowest (normal) to the highest."""
        return list(self.model.tiers)

    @property
    def templates(self) -> list[Template]:
        return list(self.model.templates)

    def tier(self, tier_id: str) -> TierSpec:
        """The tier with this id; InputError names the known ones otherwise."""
        for t in self.model.tiers:
            if t.id == tier_id:
                return t
        from floodtwin.errors import InputError

        raise InputError(f"unknown tier '{tier_id}' (tiers: {', '.join(t.id for t in self.model.tiers)})")

    def templates_for(self, tier_id: str) -> list[Template]:
        """Templates active at a tier, in file order."""
        from floodtwin.preplan.expand import active_templates

        self.tier(tier_id)
        return active_templates(self.model, tier_id)

    def evaluate(self, state: FlowState) -> TierDecision:
        """The tier for a flow state, with its reason, honouring hysteresis against ``state.previous``."""
        from floodtwin.preplan.tiers import evaluate

        return evaluate(self.model, state)

    def decide(self, discharge_m3s: float, **state: Any) -> TierDecision:
        """Shortcut: ``evaluate(FlowState(observed_m3s=discharge_m3s, **state))``."""
        return self.evaluate(FlowState(observed_m3s=float(discharge_m3s), **state))

    def tasks_for(self, decision: TierDecision, reach: Any, risk: RiskFacts | None = None) -> list[TaskInstruction]:
        """Task instructions for a decision over a Reach (or ReachTables), ordered by deadline."""
        from floodtwin.preplan.expand import tasks_for

        return tasks_for(self.model, decision, reach, risk)
