"""Expansion: templates x scope objects -> concrete task instructions, and the to-do diff.

The scope objects are the records of :class:`~floodtwin.preplan.tables.ReachTables`. Risk
attributes (village depth and arrival, dike freeboard and toe depth, spur freeboard) come from
:class:`RiskFacts` when given; otherwise, and for any object the facts leave out, from the
fallback rule: the water level that the stage at the reference station (Huayuankou) for the
discharge implies at the object's chainage (``Reach.fallback_water_level_m``). A village is flooded when its ground lies
below that level (and the water is assumed there already); a dike's freeboard is its crest minus
that level, the water at its toe that level minus the toe. Every task selected through such a value
says so in its note, with the level and the elevation it was compared with.
"""

from __future__ import annotations

import functools
import string
from dataclasses import dataclass
from typing import Any, Iterable

from floodtwin.errors import ConfigError, DataError
from floodtwin.preplan.filters import evaluate_filter, parse_filter, references
from floodtwin.preplan.layers import LAYERS, ScopeLayer
from floodtwin.preplan.model import PreplanModel, Template
from floodtwin.preplan.state import RiskFacts, TierDecision
from floodtwin.preplan.tables import ReachTables
from floodtwin.preplan.tables import text_or_empty as _text
from floodtwin.tasks import Material, TaskInstruction, require_material, task_key

__all__ = ["FALLBACK_NOTE_EN", "FALLBACK_NOTE_ZH", "active_templates", "tasks_for", "PreplanDiff", "diff"]

FALLBACK_NOTE_EN = "risk from the fallback rating rule, no hydraulic run"
FALLBACK_NOTE_ZH = "风险按水位流量关系推算（未做水力计算）"


# ------------------------------------------------------------------------------------------------
# risk values per object
# ------------------------------------------------------------------------------------------------
class _Risk:
    """Risk attribute values per object: from the facts, else from the fallback rule (flagged)."""

    def __init__(self, tables: ReachTables, discharge_m3s: float, facts: RiskFacts | None, station: str):
        self.tables = tables
        self.q = discharge_m3s
        self.facts = facts
        gauge = tables.record("gauges", station) if tables.layers.get("gauges") is not None else None
        # the rating's station by name, for the notes ("Huayuankou hydrological station")
        self.station = ((_text(gauge.get("name_zh")) or station, _text(gauge.get("name_en")) or station)
                        if gauge else (station, station))
        self._levels: dict[float, float | None] = {}

    def level_m(self, chainage_m: float) -> float | None:
        if self.q <= 0:
            return None  # no flow, no water above the bed
        if chainage_m not in self._levels:
            if self.tables.water_level_m is None:
                raise DataError(f"reach {self.tables.name}: no risk facts and no fallback water level "
                                f"(parameter file missing), so risk-driven scopes cannot be decided")
            self._levels[chainage_m] = float(self.tables.water_level_m(self.q, chainage_m))
        return self._levels[chainage_m]

    def values(self, layer: ScopeLayer, rec: dict[str, Any], wanted: Iterable[str]
               ) -> tuple[dict, tuple[str, str] | None]:
        """(risk attribute values, the fallback rule as applied (zh, en), or None) for one record."""
        out: dict[str, Any] = {}
        used: list[str] = []
        rid = rec[layer.id_column]
        f = self.facts
        for attr in wanted:
            known = None
            if f is not None:
                source = {("villages", "max_depth_m"): f.village_max_depth_m,
                          ("villages", "arrival_time_s"): f.village_arrival_time_s,
                          ("dike_segments", "freeboard_m"): f.segment_freeboard_m,
                          ("dike_segments", "toe_depth_m"): f.segment_toe_depth_m,
                          ("spurs", "freeboard_m"): f.spur_freeboard_m}[(layer.name, attr)]
                known = source.get(rid)
                if known is not None and known != known:
                    known = None  # NaN: the run has no value here; fall back (stated), never drop the object
                depth = f.village_max_depth_m.get(rid) if layer.name == "villages" else None
                if known is None and attr == "arrival_time_s" and depth is not None and depth == depth:
                    # the run computed this village and left out its arrival: the water never came if it
                    # stayed dry; if it got wet, the arrival is taken as now (conservative, stated)
                    if depth <= 0:
                        out[attr] = None
                        continue
            if known is not None:
                out[attr] = float(known)
                continue
            used.append(attr)
            out[attr] = self._fallback(layer.name, attr, rec)
        return out, (self._basis(layer.name, rec, used) if used else None)

    def _basis(self, layer: str, rec: dict[str, Any], used: list[str]) -> tuple[str, str]:
        """The fallback rule with this object's numbers, for its task's note."""
        s = float(rec["mid_chainage_m"] if layer == "dike_segments" else rec["chainage_m"])
        level = self.level_m(s)
        q = f"{self.q:,.0f} m³/s"
        if level is None:
            return (f"{FALLBACK_NOTE_ZH}：流量为零，无水", f"{FALLBACK_NOTE_EN}: no flow, no water")
        compared = []
        if layer == "villages":
            compared.append(("地面", "ground", rec["ground_elevation_m"]))
        if layer in ("spurs", "dike_segments") and "freeboard_m" in used:
            compared.append(("顶高", "crest", rec["crest_elevation_m"]))
        if layer == "dike_segments" and "toe_depth_m" in used:
            compared.append(("堤脚", "toe", rec["toe_elevation_m"]))
        zh = "，".join(f"{name}{float(z):.2f} m" for name, _, z in compared)
        en = ", ".join(f"{name} {float(z):.2f} m" for _, name, z in compared)
        zh_station, en_station = self.station
        return (f"{FALLBACK_NOTE_ZH}：此处水位{level:.2f} m（{zh_station}{q}相应水位按河底比降推至本处），{zh}",
                f"{FALLBACK_NOTE_EN}: water level {level:.2f} m here (the {en_station} stage for {q} "
                f"carried along the bed slope) against {en}")

    def _fallback(self, layer: str, attr: str, rec: dict[str, Any]) -> float | None:
        if layer == "villages":
            level = self.level_m(float(rec["chainage_m"]))
            depth = 0.0 if level is None else max(0.0, level - float(rec["ground_elevation_m"]))
            if attr == "max_depth_m":
                return depth
            return 0.0 if depth > 0 else None  # conservative: the water is assumed there already
        if layer == "dike_segments":
            level = self.level_m(float(rec["mid_chainage_m"]))
            if attr == "freeboard_m":
                return None if level is None else float(rec["crest_elevation_m"]) - level
            return 0.0 if level is None else max(0.0, level - float(rec["toe_elevation_m"]))
        level = self.level_m(float(rec["chainage_m"]))  # spurs
        return None if level is None else float(rec["crest_elevation_m"]) - level


# ------------------------------------------------------------------------------------------------
# rendering
# ------------------------------------------------------------------------------------------------
_BANK = {"right": ("右岸", "right"), "left": ("左岸", "left")}


def _post(chainage_m: float) -> str:
    """Chainage as a kilometre post, 9600 -> "9+600"."""
    m = int(round(float(chainage_m)))
    return f"{m // 1000}+{m % 1000:03d}"


def _fmt_m(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f} m"


def _placeholder_values(layer: ScopeLayer | None, rec: dict[str, Any] | None, risk: dict[str, Any],
                        tables: ReachTables) -> dict[str, tuple[str, str]]:
    """placeholder -> (zh, en) for one scope object."""
    if layer is None:
        return {}
    v: dict[str, tuple[str, str]] = {}
    both = lambda x: (str(x), str(x))  # noqa: E731
    for key in layer.placeholders:
        if key in rec and key not in ("grid", "works"):
            value = rec[key]
            v[key] = both(int(value) if isinstance(value, float) and value.is_integer() else _text(value))
    name = (_text(rec.get("name_zh")), _text(rec.get("name_en")) or _text(rec.get("name_zh")))
    if layer.name == "grids":
        v["grid"] = name
    elif layer.name == "works":
        v["works"] = name
        v["chainage"] = both(f"{_post(rec['chainage_from_m'])}–{_post(rec['chainage_to_m'])}")
    elif layer.name == "spurs":
        v["spur"] = name
        v["chainage"] = both(_text(rec.get("post")) or _post(rec["chainage_m"]))
    elif layer.name == "villages":
        v["village"] = name
        point = _text(rec.get("evacuation_point"))
        # the registry names evacuation points in Chinese only: the English text says whose it is
        v["evacuation_point"] = (point, f"the {name[1]} evacuation point ({point})" if point else "")
        depth = risk.get("max_depth_m")
        v["depth"] = both(_fmt_m(depth))
        arrival = risk.get("arrival_time_s")
        v["arrival"] = (("未到达", "not reached") if arrival is None else
                        ("已到达", "already there") if arrival <= 0 else
                        (f"{arrival / 3600:.1f} 小时后", f"in {arrival / 3600:.1f} h"))
    elif layer.name == "dike_segments":
        bank = _BANK.get(rec["dike_id"], (rec["dike_id"], rec["dike_id"]))
        posts = f"{_text(rec.get('post_from')) or _post(rec['chainage_from_m'])}–" \
                f"{_text(rec.get('post_to')) or _post(rec['chainage_to_m'])}"
        v["segment"] = (f"{bank[0]}堤防{posts}", f"{bank[1]} dike {posts}")
        v["chainage"] = both(posts)
        v["bank"] = bank
        v["freeboard"] = both(_fmt_m(risk.get("freeboard_m")))
        v["toe_depth"] = both(_fmt_m(risk.get("toe_depth_m")))
    elif layer.name == "depots":
        v["depot"] = name
    elif layer.name == "key_points":
        v["key_point"] = name
    elif layer.name == "gauges":
        v["gauge"] = name
    if "chainage" in layer.placeholders and "chainage" not in v:
        v["chainage"] = both(_post(rec["chainage_m"]))
    if "grid" in layer.placeholders and "grid" not in v:
        g = tables.record("grids", rec.get("grid_id") or "")
        v["grid"] = (g["name_zh"], g["name_en"]) if g else ("（镇外）", "(outside the town)")
    if "works" in layer.placeholders and "works" not in v:
        w = tables.record("works", rec.get("works_id") or "")
        v["works"] = (w["name_zh"], w["name_en"]) if w else ("", "")
    if "freeboard" in layer.placeholders and "freeboard" not in v:
        v["freeboard"] = both(_fmt_m(risk.get("freeboard_m")))
    return v


def _render(text: str, values: dict[str, str]) -> str:
    return text.format_map(values)


# ------------------------------------------------------------------------------------------------
# expansion
# ------------------------------------------------------------------------------------------------
def active_templates(model: PreplanModel, tier: str) -> list[Template]:
    """Templates that apply at ``tier`` (from their ``tiers.from`` up to ``tiers.to``), in file order."""
    rank = {t.id: i for i, t in enumerate(model.tiers)}
    if tier not in rank:
        raise ConfigError(f"unknown tier '{tier}' (tiers: {', '.join(rank)})")
    r = rank[tier]
    return [t for t in model.templates
            if rank[t.tier_from] <= r and (t.tier_to is None or r <= rank[t.tier_to])]


def _repeat(tpl: Template, model: PreplanModel, tier: str) -> float | None:
    """The repeat interval at ``tier``: a tier map gives the value of the highest tier <= ``tier``."""
    if not isinstance(tpl.repeat_min, dict):
        return tpl.repeat_min
    value = None
    for t in model.tiers:
        if t.id in tpl.repeat_min:
            value = tpl.repeat_min[t.id]
        if t.id == tier:
            break
    return value


def _chainage_of(layer: ScopeLayer | None, rec: dict[str, Any] | None) -> float | None:
    if rec is None:
        return None
    for col in ("chainage_m", "mid_chainage_m"):
        if rec.get(col) is not None:
            return float(rec[col])
    if rec.get("chainage_from_m") is not None:
        return 0.5 * (float(rec["chainage_from_m"]) + float(rec["chainage_to_m"]))
    return None


def _materials(tpl: Template, layer: ScopeLayer | None, rec: dict[str, Any] | None,
               tables: ReachTables) -> tuple[Material, ...]:
    out = []
    depots = tables.layers["depots"]
    for spec in tpl.materials:
        kind = require_material(spec.item, where=f"template {tpl.id}: materials")
        column = kind.depot_column  # the depots-layer column that stocks the item
        quantity = spec.quantity * (float(rec[spec.per] or 0) if spec.per else 1.0)
        if spec.depot == "scope":
            depot = rec
        elif spec.depot in ("works", "nearest"):
            stocked = [d for d in depots if (d.get(column) or 0) > 0]
            depot = None
            if spec.depot == "works":
                depot = next((d for d in stocked if d["works_id"] and d["works_id"] == rec.get("works_id")), None)
            if depot is None:
                s = _chainage_of(layer, rec)
                depot = (min(stocked, key=lambda d: (abs(float(d["chainage_m"]) - s), d["depot_id"]))
                         if stocked and s is not None else (stocked[0] if stocked else None))
            if depot is None:
                raise DataError(f"template {tpl.id}: no depot of reach {tables.name} holds {spec.item}")
        else:
            depot = tables.record("depots", spec.depot)
            if depot is None:
                raise DataError(f"template {tpl.id}: depot '{spec.depot}' is not in reach {tables.name}")
        out.append(Material(item=spec.item, quantity=round(quantity, 3), unit=kind.unit, depot_id=depot["depot_id"]))
    return tuple(out)


_RISK_PLACEHOLDER = {"max_depth_m": "depth", "arrival_time_s": "arrival", "freeboard_m": "freeboard",
                     "toe_depth_m": "toe_depth"}


@dataclass
class _Context:
    """What every instruction of one expansion shares."""

    model: PreplanModel
    tables: ReachTables
    tier: Any  # TierSpec
    risk: RiskFacts | None
    riskv: _Risk
    common: dict[str, tuple[str, str]]
    roles: dict[str, Any]
    order: dict[str, int]


def tasks_for(model: PreplanModel, decision: TierDecision, reach: Any,
              risk: RiskFacts | None = None) -> list[TaskInstruction]:
    """Expand the templates active at ``decision.tier`` over ``reach`` into task instructions.

    ``reach`` is a Reach or a :class:`ReachTables`. Instructions are deterministic (same tier,
    discharge, reach and risk -> same keys and texts) and ordered by deadline, then template order,
    then scope id. Risk-driven filters use ``risk`` or, without it, the fallback rule (stated in
    each such task's note).
    """
    tables = reach if isinstance(reach, ReachTables) else ReachTables.from_reach(reach)
    tier = next(t for t in model.tiers if t.id == decision.tier)
    ctx = _Context(
        model=model, tables=tables, tier=tier, risk=risk,
        riskv=_Risk(tables, float(decision.discharge_m3s), risk, model.station),
        common={"tier": (tier.id, tier.id), "tier_name": (tier.name_zh, tier.name_en),
                "colour": (tier.colour_zh, tier.colour),
                "discharge": (f"{decision.discharge_m3s:,.0f} m³/s",) * 2},
        roles={r.id: r for r in model.roles}, order={t.id: i for i, t in enumerate(model.templates)},
    )
    templates = active_templates(model, tier.id)
    made = {tpl.id: _expand_template(tpl, ctx) for tpl in templates}
    # dependencies: link each instruction to the instances of the templates it depends on
    out: list[TaskInstruction] = []
    for tpl in templates:
        layer = LAYERS.get(tpl.scope.for_each) if tpl.scope.for_each else None
        for rec, task in made[tpl.id]:
            keys: list[str] = []
            for dep in tpl.depends_on:
                keys.extend(_dependency_keys(layer, rec, model, dep, made.get(dep, [])))
            out.append(task if not keys else _with_deps(task, tuple(keys)))
    out.sort(key=lambda t: (t.deadline_min, t.extra["template_order"], t.scope_id or ""))
    return out


def _expand_template(tpl: Template, ctx: _Context) -> list[tuple[dict[str, Any] | None, TaskInstruction]]:
    """(scope record, instruction) for every object of the template's scope that passes its filter."""
    layer = LAYERS.get(tpl.scope.for_each) if tpl.scope.for_each else None
    expr = parse_filter(tpl.scope.where) if tpl.scope.where else None
    refs = {a for _, a in references(expr)} if expr is not None else set()
    texts = tpl.title_zh + tpl.title_en + tpl.note_zh + tpl.note_en
    wanted = [a for a in (layer.risk_attributes if layer else ())
              if a in refs or "{" + _RISK_PLACEHOLDER[a] + "}" in texts]
    records = (sorted(ctx.tables.layers[layer.gpkg_layer], key=lambda r: str(r[layer.id_column]))
               if layer else [None])
    out = []
    for rec in records:
        rvals, basis = ctx.riskv.values(layer, rec, wanted) if layer and wanted else ({}, None)
        if expr is not None:
            attrs = {**rec, **rvals}
            missing = [a for a in refs if a not in attrs]
            if missing:
                raise DataError(f"template {tpl.id}: reach {ctx.tables.name} layer '{layer.gpkg_layer}' has no "
                                f"attribute '{missing[0]}' used by its filter")
            try:
                if not evaluate_filter(expr, attrs):
                    continue
            except (TypeError, ValueError) as exc:
                raise DataError(f"template {tpl.id}: filter {tpl.scope.where!r} cannot be applied to "
                                f"{rec[layer.id_column]}: {exc}") from None
        out.append((rec, _instruction(tpl, layer, rec, rvals, basis, bool(wanted), ctx)))
    return out


def _instruction(tpl: Template, layer: ScopeLayer | None, rec: dict[str, Any] | None, rvals: dict[str, Any],
                 basis: tuple[str, str] | None, risk_driven: bool, ctx: _Context) -> TaskInstruction:
    """One rendered instruction of ``tpl`` for the scope object ``rec`` (None: the whole reach).

    ``basis`` is the fallback rule as applied to this object (zh, en) when a risk value came from it.
    """
    values = {**ctx.common, **_placeholder_values(layer, rec, rvals, ctx.tables)}
    for name in _used_placeholders(tpl):
        if name in values and not all(values[name]):
            # an instruction with a hole in it ("evacuate V07 to ") is worse than none: say what is missing
            raise DataError(f"template {tpl.id}: {layer.prefix if layer else 'reach'} "
                            f"{rec[layer.id_column] if layer else ''} has no value for {{{name}}} in reach "
                            f"{ctx.tables.name}; fill it in the reach data or filter the scope")
    deadline = float(tpl.deadline_min)
    values_zh = {k: v[0] for k, v in values.items()} | {"deadline": f"{deadline:g} 分钟"}
    values_en = {k: v[1] for k, v in values.items()} | {"deadline": f"{deadline:g} min"}
    scope_id = str(rec[layer.id_column]) if layer else None
    grid_id = (rec.get("grid_id") or None) if rec is not None else None
    works_id = (rec.get("works_id") or None) if rec is not None else None
    owner = ctx.roles[tpl.owner]
    if owner.in_grid and not grid_id:
        raise DataError(f"template {tpl.id}: owner '{owner.id}' works in a grid, but "
                        f"{layer.prefix} {scope_id} lies in no grid (add a filter on grid_id)")
    note_zh = _render(tpl.note_zh, values_zh)
    note_en = _render(tpl.note_en, values_en)
    if basis is not None:
        note_zh = f"{note_zh}；{basis[0]}" if note_zh else basis[0]
        note_en = f"{note_en}; {basis[1]}" if note_en else basis[1]
    extra: dict[str, Any] = {"owner_zh": owner.name_zh, "owner_en": owner.name_en,
                             "template_order": ctx.order[tpl.id]}
    if risk_driven:
        extra["risk_source"] = "fallback" if basis is not None or ctx.risk is None else ctx.risk.source
        extra["risk"] = {k: (None if v is None else round(v, 3)) for k, v in rvals.items()}
    return TaskInstruction(
        key=task_key(tpl.id, layer.prefix if layer else None, scope_id),
        template_id=tpl.id, category=tpl.category, tier=ctx.tier.id, owner_role=tpl.owner,
        title_zh=_render(tpl.title_zh, values_zh), title_en=_render(tpl.title_en, values_en),
        deadline_min=deadline, scope_kind=layer.prefix if layer else None, scope_id=scope_id,
        grid_id=grid_id, works_id=works_id, repeat_min=_repeat(tpl, ctx.model, ctx.tier.id),
        materials=_materials(tpl, layer, rec, ctx.tables), location=rec.get("_xy") if rec else None,
        note_zh=note_zh, note_en=note_en, source="preplan", extra=extra,
    )


@functools.lru_cache(maxsize=1024)
def _names_in(text: str) -> frozenset[str]:
    return frozenset(name for _, name, _, _ in string.Formatter().parse(text) if name)


def _used_placeholders(tpl: Template) -> frozenset[str]:
    return (_names_in(tpl.title_zh) | _names_in(tpl.title_en) | _names_in(tpl.note_zh)
            | _names_in(tpl.note_en))


def _with_deps(task: TaskInstruction, keys: tuple[str, ...]) -> TaskInstruction:
    from dataclasses import replace

    return replace(task, depends_on=keys)


def _dependency_keys(layer: ScopeLayer | None, rec: dict | None, model: PreplanModel, dep_id: str,
                     instances: list[tuple[dict | None, TaskInstruction]]) -> list[str]:
    """Keys of the ``dep_id`` instructions this one waits for: same object, else the same grid or
    works, else the single reach-wide instruction, else all of them."""
    if not instances:
        return []
    dep_tpl = next(t for t in model.templates if t.id == dep_id)
    dep_layer = dep_tpl.scope.for_each
    if dep_layer is None:
        return [instances[0][1].key]
    if layer is not None and dep_layer == layer.name:
        return [t.key for r, t in instances if r[layer.id_column] == rec[layer.id_column]]
    if rec is not None and dep_layer == "grids" and rec.get("grid_id"):
        return [t.key for r, t in instances if r["grid_id"] == rec["grid_id"]]
    if rec is not None and dep_layer == "works" and rec.get("works_id"):
        return [t.key for r, t in instances if r["works_id"] == rec["works_id"]]
    return [t.key for _, t in instances]


# ------------------------------------------------------------------------------------------------
# the to-do diff
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PreplanDiff:
    """The to-do list update between two expansions, matched by instruction key.

    ``activate``: new instructions; ``stand_down``: instructions no longer called for;
    ``unchanged``: instructions present in both (the ``after`` version); ``updated``: the subset of
    ``unchanged`` whose content other than the tier changed (e.g. a patrol now every 60 min).
    """

    activate: list[TaskInstruction]
    stand_down: list[TaskInstruction]
    unchanged: list[TaskInstruction]
    updated: list[TaskInstruction]

    def to_dict(self) -> dict[str, Any]:
        return {name: [t.to_dict() for t in getattr(self, name)]
                for name in ("activate", "stand_down", "unchanged", "updated")}


def _content(task: TaskInstruction) -> tuple:
    d = task.to_dict()
    d.pop("tier")
    d.pop("extra")
    return tuple(sorted((k, repr(v)) for k, v in d.items()))


def diff(before: Iterable[TaskInstruction], after: Iterable[TaskInstruction]) -> PreplanDiff:
    """Compare two instruction lists (e.g. before and after a tier change) by key."""
    before = list(before)
    after = list(after)
    old = {t.key: t for t in before}
    new = {t.key: t for t in after}
    unchanged = [t for t in after if t.key in old]
    return PreplanDiff(
        activate=[t for t in after if t.key not in old],
        stand_down=[t for t in before if t.key not in new],
        unchanged=unchanged,
        updated=[t for t in unchanged if _content(t) != _content(old[t.key])],
    )
