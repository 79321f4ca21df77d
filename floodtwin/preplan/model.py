"""The preplan as data: pydantic models of data/preplans/<reach>.yaml and their semantic checks.

``load_preplan_model(path)`` validates the file's shape with pydantic (unknown keys, wrong types)
and then its meaning: duplicate ids, tiers that overlap or leave gaps, unknown roles, layers,
categories or attributes, filters that do not parse, placeholders the scope cannot fill,
dependency cycles, negative deadlines. Every error is one ``ConfigError`` line
``file:line: key.path: problem``.
"""

from __future__ import annotations

import string
from pathlib import Path
from typing import Callable, Union

from pydantic import Field

from floodtwin.config import StrictModel, line_of, load_yaml
from floodtwin.errors import ConfigError
from floodtwin.preplan.filters import FilterSyntaxError, parse_filter
from floodtwin.preplan.layers import BOOL, COMMON_PLACEHOLDERS, LAYERS, NUM, STR
from floodtwin.tasks import CATEGORIES, MATERIALS

__all__ = ["MODE_IDS", "DutyArrangement", "ModeTemplate", "ModeSpec", "CrowdRule", "AutomaticRules", "ModesSection",
           "TierSpec", "Hysteresis", "DurationTrigger", "WorksDangerTrigger", "DikeToeTrigger", "CommandTrigger",
           "Triggers", "Role", "TierRange", "Scope", "MaterialSpec", "Template", "PreplanModel", "check_semantics",
           "load_preplan_model"]


class TierSpec(StrictModel):
    """One response tier: a discharge band [min, max) at the reference station."""

    id: str
    name_zh: str
    name_en: str
    colour: str
    colour_zh: str
    min_discharge_m3s: float
    max_discharge_m3s: float | None = None


class Hysteresis(StrictModel):
    """De-escalation only after the flow stays below (lower threshold x (1 - margin)) for ``hold_h``."""

    margin_fraction: float = Field(0.05, ge=0.0, lt=1.0)
    hold_h: float = Field(6.0, ge=0.0)


class DurationTrigger(StrictModel):
    """Raise to ``tier`` when the flow has stayed >= ``min_discharge_m3s`` for more than ``days``."""

    min_discharge_m3s: float = 4000.0
    days: float = Field(7.0, gt=0.0)
    tier: str = "III"


class WorksDangerTrigger(StrictModel):
    """Raise to ``tier`` on a dike danger of one of ``severities`` at a works (report or stone alarm)."""

    severities: list[str] = ["major"]
    tier: str = "II"


class DikeToeTrigger(StrictModel):
    """Raise to ``tier`` when the risk result puts more than ``min_depth_m`` of water at a dike toe."""

    min_depth_m: float = Field(0.0, ge=0.0)
    tier: str = "III"


class CommandTrigger(StrictModel):
    """Whether an explicit order from the flood command may raise the tier."""

    enabled: bool = True


class Triggers(StrictModel):
    duration: DurationTrigger = DurationTrigger()
    works_danger: WorksDangerTrigger = WorksDangerTrigger()
    dike_toe_water: DikeToeTrigger = DikeToeTrigger()
    command_order: CommandTrigger = CommandTrigger()


class Role(StrictModel):
    """An owner of tasks; ``in_grid`` roles are carried out by the staff of the scope's grid."""

    id: str
    name_zh: str
    name_en: str
    in_grid: bool = False


class TierRange(StrictModel):
    from_: str = Field(alias="from")
    to: str | None = None


class Scope(StrictModel):
    """``for_each`` a reach layer (None: one instruction for the whole reach), filtered by ``where``."""

    for_each: str | None = None
    where: str | None = None


class MaterialSpec(StrictModel):
    """Material to move: ``quantity`` of ``item`` (times the scope attribute ``per``) from ``depot``.

    ``item`` is a key of :data:`floodtwin.tasks.MATERIALS` (stone, gabions, sandbags, ...), counted in
    that table's unit.

    ``depot``: "works" (the depot of the scope's works), "nearest" (nearest by chainage holding the
    item), "scope" (the scope is the depot) or a depot id.
    """

    item: str
    quantity: float
    per: str | None = None
    depot: str = "nearest"


class Template(StrictModel):
    """A task template of the plan; expanded over its scope into task instructions."""

    id: str
    title_zh: str
    title_en: str
    category: str
    tiers: Union[str, TierRange]
    owner: str
    scope: Scope = Scope()
    deadline_min: float
    repeat_min: Union[float, dict[str, float], None] = None
    depends_on: list[str] = []
    materials: list[MaterialSpec] = []
    note_zh: str = ""
    note_en: str = ""

    @property
    def tier_from(self) -> str:
        return self.tiers if isinstance(self.tiers, str) else self.tiers.from_

    @property
    def tier_to(self) -> str | None:
        return None if isinstance(self.tiers, str) else self.tiers.to


#: the four working modes of the grid model (平时, 节假日, 重大活动, 应急战时), in this order everywhere
MODE_IDS = ("normal", "holiday", "major_event", "emergency")


class DutyArrangement(StrictModel):
    """Who is on duty in a working mode, as the staff are told on a switch (both languages)."""

    summary_zh: str = Field(min_length=1)
    summary_en: str = Field(min_length=1)
    #: staffed key points (重点点位) and mobile patrol teams (流动巡查队) the mode keeps [E]
    key_points: int = Field(ge=0)
    patrol_teams: int = Field(ge=0)
    #: a leader on duty around the clock (领导带班)
    leader_24h: bool


class ModeTemplate(Template):
    """A routine task of a working mode: a preplan template whose ``tiers`` is not given (a mode's
    routine holds at every flow level)."""

    tiers: Union[str, TierRange, None] = None


class ModeSpec(StrictModel):
    """One working mode: names, duty arrangements and its routine task templates."""

    id: str
    name_zh: str
    name_en: str
    duty: DutyArrangement
    tasks: list[ModeTemplate] = []


class CrowdRule(StrictModel):
    """A crowd count above ``max_people`` in exclusive grid ``grid`` switches ``from_modes`` to ``to``."""

    grid: str
    max_people: int = Field(gt=0)
    from_modes: list[str]
    to: str = "emergency"
    note: str = ""


class AutomaticRules(StrictModel):
    """A flow level at or above ``emergency_from_tier`` forces the emergency mode; crowd rules."""

    emergency_from_tier: str = "IV"
    crowd: list[CrowdRule] = []


class ModesSection(StrictModel):
    """The ``modes:`` section of a preplan, beside the flow levels."""

    default: str = "normal"
    modes: list[ModeSpec]
    automatic: AutomaticRules = AutomaticRules()


class PreplanModel(StrictModel):
    """The whole preplan file."""

    name: str
    name_zh: str = ""
    station: str = "HYK"
    tiers: list[TierSpec]
    hysteresis: Hysteresis = Hysteresis()
    triggers: Triggers = Triggers()
    roles: list[Role]
    templates: list[Template]
    modes: ModesSection | None = None


# ------------------------------------------------------------------------------------------------
# semantic checks
# ------------------------------------------------------------------------------------------------
class _Checker:
    """Raises the first semantic problem as one line; key lines are only looked up on failure."""

    def __init__(self, path: Path, lines: dict[tuple, int] | Callable[[], dict[tuple, int]]):
        self.path = path
        self._lines = lines

    def fail(self, loc: tuple, message: str) -> None:
        lines = self._lines() if callable(self._lines) else self._lines
        line = line_of(lines, loc)
        where = f"{self.path}:{line}" if line else str(self.path)
        key = ".".join(str(p) for p in loc)
        raise ConfigError(f"{where}: {key}: {message}")


class _ModeChecker(_Checker):
    """A checker for the routine templates of mode number ``k``: ``templates.i...`` keys are reported
    (and their lines looked up) as ``modes.modes.k.tasks.i...``."""

    def __init__(self, parent: _Checker, k: int):
        super().__init__(parent.path, parent._lines)
        self.k = k

    def fail(self, loc: tuple, message: str) -> None:
        if loc and loc[0] == "templates":
            loc = ("modes", "modes", self.k, "tasks") + tuple(loc[1:])
        super().fail(loc, message)


def _placeholders(text: str) -> list[str]:
    """Field names used in a title; format specs and conversions are rejected."""
    out = []
    for _, name, spec, conv in string.Formatter().parse(text):
        if name is None:
            continue
        if spec or conv:
            raise ValueError(f"placeholder {{{name}}} has a format spec or conversion, which is not supported")
        if not name:
            raise ValueError("empty placeholder {}")
        out.append(name)
    return out


def check_semantics(model: PreplanModel, path: Path,
                    lines: dict[tuple, int] | Callable[[], dict[tuple, int]]) -> None:
    """Raise ConfigError on the first semantic problem of a shape-valid preplan."""
    ck = _Checker(path, lines)
    _check_tiers(model, ck)
    rank = {t.id: i for i, t in enumerate(model.tiers)}
    for name in ("duration", "works_danger", "dike_toe_water"):
        tier = getattr(model.triggers, name).tier
        if tier not in rank:
            ck.fail(("triggers", name, "tier"), f"unknown tier '{tier}' (the default unless set here; "
                                                f"tiers: {', '.join(rank)})")
    roles: dict[str, Role] = {}
    for i, role in enumerate(model.roles):
        if role.id in roles:
            ck.fail(("roles", i, "id"), f"duplicate role id '{role.id}'")
        roles[role.id] = role
    ids: dict[str, int] = {}
    for i, tpl in enumerate(model.templates):
        if tpl.id in ids:
            ck.fail(("templates", i, "id"), f"duplicate template id '{tpl.id}' (first at templates.{ids[tpl.id]})")
        ids[tpl.id] = i
    for i, tpl in enumerate(model.templates):
        _check_template(tpl, i, model, roles, rank, ids, ck)
    _check_cycles(model, ids, ck)
    if model.modes is not None:
        _check_modes(model, roles, rank, ck)


def _check_modes(model: PreplanModel, roles: dict[str, Role], rank: dict[str, int], ck: _Checker) -> None:
    """The four working modes, each once; their routine templates as the tier templates; the rules."""
    section = model.modes
    got = [m.id for m in section.modes]
    for i, mode_id in enumerate(got):
        if mode_id not in MODE_IDS:
            ck.fail(("modes", "modes", i, "id"), f"unknown working mode '{mode_id}' (one of {', '.join(MODE_IDS)})")
        if got.count(mode_id) > 1:
            ck.fail(("modes", "modes", i, "id"), f"working mode '{mode_id}' is defined twice")
    missing = [m for m in MODE_IDS if m not in got]
    if missing:
        ck.fail(("modes", "modes"), f"working modes {', '.join(missing)} are missing (all of {', '.join(MODE_IDS)})")
    if section.default not in got:
        ck.fail(("modes", "default"), f"unknown working mode '{section.default}'")
    if section.automatic.emergency_from_tier not in rank:
        ck.fail(("modes", "automatic", "emergency_from_tier"),
                f"unknown tier '{section.automatic.emergency_from_tier}' (tiers: {', '.join(rank)})")
    for i, rule in enumerate(section.automatic.crowd):
        for j, mode_id in enumerate(rule.from_modes):
            if mode_id not in got:
                ck.fail(("modes", "automatic", "crowd", i, "from_modes", j), f"unknown working mode '{mode_id}'")
        if rule.to not in got:
            ck.fail(("modes", "automatic", "crowd", i, "to"), f"unknown working mode '{rule.to}'")
    lowest = model.tiers[0].id
    for k, spec in enumerate(section.modes):
        sub = model.model_copy(update={"templates": [t.model_copy(update={"tiers": lowest}) for t in spec.tasks]})
        ids: dict[str, int] = {}
        for i, tpl in enumerate(spec.tasks):
            if tpl.id in ids:
                ck.fail(("modes", "modes", k, "tasks", i, "id"), f"duplicate task id '{tpl.id}' in mode {spec.id}")
            ids[tpl.id] = i
        sub_ck = _ModeChecker(ck, k)
        for i, tpl in enumerate(sub.templates):
            _check_template(tpl, i, sub, roles, rank, ids, sub_ck)
        _check_cycles(sub, ids, sub_ck)


def _check_tiers(model: PreplanModel, ck: _Checker) -> None:
    if not model.tiers:
        ck.fail(("tiers",), "no tiers defined")
    seen = set()
    for i, tier in enumerate(model.tiers):
        if tier.id in seen:
            ck.fail(("tiers", i, "id"), f"duplicate tier id '{tier.id}'")
        seen.add(tier.id)
    first = model.tiers[0]
    if first.min_discharge_m3s != 0:
        ck.fail(("tiers", 0, "min_discharge_m3s"),
                f"the lowest tier must start at 0 m³/s, not {first.min_discharge_m3s:g} (gap below it)")
    for i, tier in enumerate(model.tiers):
        last = i == len(model.tiers) - 1
        if tier.max_discharge_m3s is None:
            if not last:
                ck.fail(("tiers", i, "max_discharge_m3s"),
                        f"tier {tier.id} has no upper bound but is not the highest tier")
            continue
        if last:
            ck.fail(("tiers", i, "max_discharge_m3s"),
                    f"the highest tier {tier.id} must be open-ended (max_discharge_m3s: null), "
                    f"else flows above {tier.max_discharge_m3s:g} m³/s have no tier")
        if tier.max_discharge_m3s <= tier.min_discharge_m3s:
            ck.fail(("tiers", i, "max_discharge_m3s"),
                    f"tier {tier.id}: max {tier.max_discharge_m3s:g} m³/s is not above min {tier.min_discharge_m3s:g}")
        nxt = model.tiers[i + 1]
        if nxt.min_discharge_m3s < tier.max_discharge_m3s:
            ck.fail(("tiers", i + 1, "min_discharge_m3s"),
                    f"tier {nxt.id} starts at {nxt.min_discharge_m3s:g} m³/s, overlapping tier {tier.id} "
                    f"(up to {tier.max_discharge_m3s:g})")
        if nxt.min_discharge_m3s > tier.max_discharge_m3s:
            ck.fail(("tiers", i + 1, "min_discharge_m3s"),
                    f"tier {nxt.id} starts at {nxt.min_discharge_m3s:g} m³/s, leaving a gap after tier {tier.id} "
                    f"(up to {tier.max_discharge_m3s:g})")


def _check_template(tpl: Template, i: int, model: PreplanModel, roles: dict[str, Role], rank: dict[str, int],
                    ids: dict[str, int], ck: _Checker) -> None:
    loc = ("templates", i)
    if tpl.category not in CATEGORIES:
        ck.fail(loc + ("category",), f"unknown category '{tpl.category}' (one of {', '.join(CATEGORIES)})")
    tiers_loc = loc + ("tiers",) if isinstance(tpl.tiers, str) else loc + ("tiers", "from")
    if tpl.tier_from not in rank:
        ck.fail(tiers_loc, f"unknown tier '{tpl.tier_from}' (tiers: {', '.join(rank)})")
    if tpl.tier_to is not None:
        if tpl.tier_to not in rank:
            ck.fail(loc + ("tiers", "to"), f"unknown tier '{tpl.tier_to}' (tiers: {', '.join(rank)})")
        if rank[tpl.tier_to] < rank[tpl.tier_from]:
            ck.fail(loc + ("tiers", "to"), f"tier range {tpl.tier_from}..{tpl.tier_to} is empty")
    if tpl.owner not in roles:
        ck.fail(loc + ("owner",), f"unknown role '{tpl.owner}' (roles: {', '.join(roles)})")
    if tpl.deadline_min < 0:
        ck.fail(loc + ("deadline_min",), f"deadline {tpl.deadline_min:g} min is negative")
    if isinstance(tpl.repeat_min, dict):
        for tier, minutes in tpl.repeat_min.items():
            if tier not in rank:
                ck.fail(loc + ("repeat_min", tier), f"unknown tier '{tier}' (tiers: {', '.join(rank)})")
            if minutes <= 0:
                ck.fail(loc + ("repeat_min", tier), f"repeat interval {minutes:g} min must be positive")
    elif tpl.repeat_min is not None and tpl.repeat_min <= 0:
        ck.fail(loc + ("repeat_min",), f"repeat interval {tpl.repeat_min:g} min must be positive")
    layer = None
    if tpl.scope.for_each is not None:
        layer = LAYERS.get(tpl.scope.for_each)
        if layer is None:
            ck.fail(loc + ("scope", "for_each"),
                    f"unknown layer '{tpl.scope.for_each}' (layers: {', '.join(LAYERS)})")
    if tpl.scope.where is not None:
        if layer is None:
            ck.fail(loc + ("scope", "where"), "a filter needs a scope layer (scope.for_each)")
        try:
            expr = parse_filter(tpl.scope.where)
        except FilterSyntaxError as exc:
            ck.fail(loc + ("scope", "where"), f"cannot parse filter {tpl.scope.where!r}: {exc}")
        _check_filter_refs(expr, layer, loc + ("scope", "where"), ck)
    allowed = set(COMMON_PLACEHOLDERS) | set(layer.placeholders if layer else ())
    for field in ("title_zh", "title_en", "note_zh", "note_en"):
        try:
            names = _placeholders(getattr(tpl, field))
        except ValueError as exc:
            ck.fail(loc + (field,), str(exc))
        for name in names:
            if name not in allowed:
                scope = f"scope '{layer.name}'" if layer else "a template without scope"
                ck.fail(loc + (field,), f"placeholder {{{name}}} cannot be filled by {scope} "
                                        f"(available: {', '.join(sorted(allowed))})")
    if roles[tpl.owner].in_grid and (layer is None or "grid_id" not in layer.attributes):
        scope = f"scope '{layer.name}'" if layer else "a template without scope"
        ck.fail(loc + ("owner",), f"owner '{tpl.owner}' works in a grid, but {scope} has no grid")
    for j, dep in enumerate(tpl.depends_on):
        dloc = loc + ("depends_on", j)
        if dep not in ids:
            ck.fail(dloc, f"unknown template '{dep}'")
        if dep == tpl.id:
            ck.fail(dloc, f"template '{tpl.id}' depends on itself")
        other = model.templates[ids[dep]]
        if other.tier_from in rank and rank[other.tier_from] > rank[tpl.tier_from]:
            ck.fail(dloc, f"'{dep}' applies only from tier {other.tier_from}, but '{tpl.id}' applies from "
                          f"{tpl.tier_from}: the dependency would be missing")
        if other.tier_to is not None and (tpl.tier_to is None or rank[other.tier_to] < rank[tpl.tier_to]):
            ck.fail(dloc, f"'{dep}' stops at tier {other.tier_to}, but '{tpl.id}' goes on above it")
    for j, mat in enumerate(tpl.materials):
        mloc = loc + ("materials", j)
        if mat.item not in MATERIALS:  # the one materials table (floodtwin.tasks)
            ck.fail(mloc + ("item",), f"unknown material '{mat.item}' (one of {', '.join(MATERIALS)})")
        if mat.quantity <= 0:
            ck.fail(mloc + ("quantity",), f"quantity {mat.quantity:g} must be positive")
        if mat.per is not None and (layer is None or layer.attributes.get(mat.per) != NUM):
            ck.fail(mloc + ("per",), f"'{mat.per}' is not a numeric attribute of the scope")
        if mat.depot == "works" and (layer is None or "works_id" not in layer.attributes):
            ck.fail(mloc + ("depot",), "depot 'works' needs a scope with a works (works, spurs, depots)")
        if mat.depot == "scope" and (layer is None or layer.name != "depots"):
            ck.fail(mloc + ("depot",), "depot 'scope' needs scope.for_each: depots")


def _check_filter_refs(expr, layer, loc: tuple, ck: _Checker) -> None:
    from floodtwin.preplan.filters import BoolOp, Compare, Not

    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, Not):
            stack.append(node.term)
        elif isinstance(node, BoolOp):
            stack.extend(node.terms)
        elif isinstance(node, Compare):
            if node.layer != layer.prefix:
                ck.fail(loc, f"filter refers to '{node.layer}.{node.attr}' but the scope is "
                             f"'{layer.name}' (use {layer.prefix}.<attribute>)")
            kind = layer.attributes.get(node.attr)
            if kind is None:
                ck.fail(loc, f"unknown attribute '{node.attr}' of {layer.prefix} "
                             f"(known: {', '.join(sorted(layer.attributes))})")
            got = BOOL if isinstance(node.value, bool) else NUM if isinstance(node.value, float) else STR
            if got != kind:
                ck.fail(loc, f"{node.layer}.{node.attr} is a {kind}, compared with a {got}")
            if kind == BOOL and node.op not in ("==", "!="):
                ck.fail(loc, f"{node.layer}.{node.attr} is a boolean: only == and != apply")


def _check_cycles(model: PreplanModel, ids: dict[str, int], ck: _Checker) -> None:
    """Depth-first search for a dependency cycle; report it as a -> b -> a."""
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(tid: str, chain: list[str]) -> None:
        state[tid] = 1
        for dep in model.templates[ids[tid]].depends_on:
            if state.get(dep) == 1:
                path = chain + [tid]
                cycle = path[path.index(dep):] + [dep]
                ck.fail(("templates", ids[tid], "depends_on"), f"dependency cycle: {' -> '.join(cycle)}")
            if state.get(dep) is None:
                visit(dep, chain + [tid])
        state[tid] = 2

    for tpl in model.templates:
        if state.get(tpl.id) is None:
            visit(tpl.id, [])


def load_preplan_model(path: str | Path) -> PreplanModel:
    """Read and fully validate a preplan file; ConfigError names file, line and key on any problem.

    Through the one loader, :func:`floodtwin.config.load_yaml` (libyaml for a valid file, so the CLI
    answers in well under a second; the line-tracking parser only to report a problem), with
    :func:`check_semantics` as its check.
    """
    path = Path(path)
    return load_yaml(path, PreplanModel, kind="preplan",
                     check=lambda model, lines: check_semantics(model, path, lines))
