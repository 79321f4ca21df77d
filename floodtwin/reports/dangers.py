"""The danger table (``data/config/dangers.yaml``): the kinds of dike danger (险情, docs/reach.md §5),
their severities and map colours, and the response tasks each sets off, for a field report and
for a smart-stone alarm alike (the one place where a danger's response is written)."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field

from floodtwin.config import DATA_DIR, StrictModel, load_yaml
from floodtwin.errors import ConfigError, InputError
from floodtwin.reports.place import Place
from floodtwin.tasks import Material, TaskInstruction, require_material, task_key

__all__ = ["DangerTable", "STONE_DANGER_KIND", "default_dangers_path", "load_dangers", "danger_instructions"]


class _Severity(StrictModel):
    zh: str
    en: str
    rank: int


class _DangerTask(StrictModel):
    id: str
    category: str
    owner_role: str
    deadline_min: float = Field(gt=0)
    zh: str
    en: str
    #: (item, quantity, unit): items and units of the one materials table (floodtwin.tasks.MATERIALS)
    materials: tuple[tuple[str, float, str], ...] = ()
    #: minutes between rounds of a recurring task (a patrol kept up while the danger lasts)
    repeat_min: float | None = Field(default=None, gt=0)
    #: "place": one task per reported place; "works": one per works (two dangers at one works, one patrol)
    scope: Literal["place", "works"] = "place"


class _DangerKind(StrictModel):
    zh: str
    en: str
    colour: str = Field(pattern=r"^#[0-9a-fA-F]{6}$")
    default_severity: str
    tasks: tuple[_DangerTask, ...] = ()


class DangerTable(StrictModel):
    """The danger table; ``stone_alarms`` maps a smart stone's alarm state (displaced, lost) to
    the severity of the root-stone loss it means."""

    severities: dict[str, _Severity]
    major_from: str
    kinds: dict[str, _DangerKind]
    stone_alarms: dict[Literal["displaced", "lost"], str]

    def rank(self, severity: str) -> int:
        """The order of ``severity`` (general 1 < major 2 < critical 3)."""
        return self.severities[severity].rank


#: the danger kind a smart-stone alarm reports (docs/reach.md §4: the stones watch the root stones)
STONE_DANGER_KIND = "root_stone_loss"


def default_dangers_path() -> Path:
    """The repository's danger table."""
    return DATA_DIR / "config" / "dangers.yaml"


def _check_table(table: DangerTable, lines: Callable[[], dict[tuple, int]], path: Path) -> None:
    """What the shape cannot say: severities named exist, materials are of the materials table,
    the root-stone kind the stones report is there. ConfigError naming file:line: key."""
    def fail(loc: tuple, message: str) -> None:
        line = lines().get(loc)
        raise ConfigError(f"{path}{f':{line}' if line else ''}: {'.'.join(map(str, loc))}: {message}")

    for name, kind in table.kinds.items():
        if kind.default_severity not in table.severities:
            fail(("kinds", name, "default_severity"), f"unknown severity {kind.default_severity!r}")
        for k, task in enumerate(kind.tasks):
            for m, (item, _, unit) in enumerate(task.materials):
                try:
                    require_material(item, unit, where="material")
                except InputError as exc:
                    fail(("kinds", name, "tasks", k, "materials", m), str(exc).removeprefix("material: "))
    if table.major_from not in table.severities:
        fail(("major_from",), f"unknown severity {table.major_from!r}")
    if STONE_DANGER_KIND not in table.kinds:
        fail(("kinds",), f"no {STONE_DANGER_KIND} kind: smart-stone alarms are answered through it")
    for state, severity in table.stone_alarms.items():
        if severity not in table.severities:
            fail(("stone_alarms", state), f"unknown severity {severity!r}")


@lru_cache(maxsize=4)
def load_dangers(path: str | None = None) -> DangerTable:
    """The danger kinds, severities and response tasks (ConfigError naming file:line: key)."""
    p = Path(path) if path else default_dangers_path()
    return load_yaml(p, DangerTable, kind="danger table", check=lambda table, lines: _check_table(table, lines, p))


def danger_instructions(report_id: str, kind: str, severity: str, place: Place, table: DangerTable,
                        exclusive_grid: bool, *, source: str = "report", scope: tuple[str, str] | None = None,
                        depot_id: str | None = None, note_zh: str = "", note_en: str = "") -> list[TaskInstruction]:
    """The response tasks of a danger of ``kind`` and ``severity`` at ``place`` (from the danger table).

    A field report passes its id; a smart-stone alarm passes ``source="sensor"``, its spur as
    ``scope`` (one response per spur however many stones there alarm) and its nearest depot for the
    materials. Keys are deterministic in (task, scope), so the same danger again adds nothing.
    """
    spec = table.kinds[kind]
    sev = table.severities[severity]
    scope_kind, scope_id = scope if scope is not None else ("report", report_id)
    fmt = {"where_zh": place.where_zh, "where_en": place.where_en, "severity_zh": sev.zh, "severity_en": sev.en}
    out = []
    for t in spec.tasks:
        role = t.owner_role
        if role == "auto":
            role = "team_member" if exclusive_grid else "grid_member"
        town_level = role not in ("grid_leader", "micro_grid_leader", "grid_member", "team_member")
        t_kind, t_id = ("works", place.works_id) if t.scope == "works" and place.works_id else (scope_kind, scope_id)
        out.append(TaskInstruction(
            key=task_key(t.id, t_kind, t_id), template_id=t.id, category=t.category, tier="danger",
            owner_role=role, title_zh=t.zh.format(**fmt), title_en=t.en.format(**fmt), deadline_min=t.deadline_min,
            scope_kind=t_kind, scope_id=t_id, grid_id=None if town_level else place.grid_id,
            works_id=place.works_id, repeat_min=t.repeat_min,
            materials=tuple(Material(m[0], m[1], m[2], depot_id) for m in t.materials),
            location=(place.x, place.y), source=source,
            note_zh=f"{spec.zh}（{sev.zh}）{note_zh}",
            note_en=f"{spec.en} ({sev.en}){'. ' if note_en else ''}{note_en}",
            extra={"report_id": report_id, "danger_kind": kind, "severity": severity}))
    return out
