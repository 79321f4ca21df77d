"""Expansion: templates x scope objects -> concrete task instructions, and the to-do diff.

``ReachTables`` holds what the expansion needs from a reach: one record (a plain dict) per
feature of the layers a template may iterate over, with a representative location and derived
attributes (staff per grid, the grid a dike segment runs through, ...), plus the fallback water
level. It is built from a loaded :class:`~floodtwin.reach.Reach` or read straight from the
reach's GeoPackage (a SQLite file) for the sub-second CLI path.

Risk attributes (village depth and arrival, dike freeboard and toe depth, spur freeboard) come
from :class:`RiskFacts` when given; otherwise, and for any object the facts leave out, from the
fallback rule: the water level that the Huayuankou stage for the discharge implies at the
object's chainage (``Reach.fallback_water_level_m``). A village is flooded when its ground lies
below that level (and the water is assumed there already); a dike's freeboard is its crest minus
that level. Every task selected through such a value says so in its note.
"""

from __future__ import annotations

import copy
import functools
import math
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from floodtwin.errors import ConfigError, DataError
from floodtwin.preplan.filters import evaluate_filter, parse_filter, references
from floodtwin.preplan.layers import LAYERS, MATERIAL_ITEMS, ScopeLayer
from floodtwin.preplan.model import PreplanModel, Template
from floodtwin.preplan.state import RiskFacts, TierDecision
from floodtwin.tasks import Material, TaskInstruction, task_key

FALLBACK_NOTE_EN = "risk from the fallback rating rule, no hydraulic run"
FALLBACK_NOTE_ZH = "风险按花园口水位流量关系推算（未做水力计算）"
#: a dike segment belongs to the town grid that holds its midpoint (or lies within this distance)
GRID_SNAP_M = 100.0


# ------------------------------------------------------------------------------------------------
# the reach as plain records
# ------------------------------------------------------------------------------------------------
@dataclass
class ReachTables:
    """Records of the scope layers (GeoPackage layer -> list of dicts) and the fallback water level.

    Each record holds the layer's columns, ``_xy`` (a representative (x, y) in the reach CRS, m)
    and the derived attributes of :data:`floodtwin.preplan.layers.LAYERS`. ``water_level_m(q, s)``
    is the fallback water level (m) for discharge q (m³/s) at chainage s (m).
    """

    name: str
    layers: dict[str, list[dict[str, Any]]]
    water_level_m: Callable[[float, float], float] | None = None
    _index: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict, repr=False)

    def record(self, gpkg_layer: str, feature_id: str) -> dict[str, Any] | None:
        """The record of one feature by id, or None."""
        if gpkg_layer not in self._index:
            id_col = next(l.id_column for l in LAYERS.values() if l.gpkg_layer == gpkg_layer)
            self._index[gpkg_layer] = {r[id_col]: r for r in self.layers[gpkg_layer]}
        return self._index[gpkg_layer].get(feature_id)

    @classmethod
    def from_reach(cls, reach: Any) -> "ReachTables":
        """Records from a loaded Reach (GeoDataFrames); the fallback is ``reach.fallback_water_level_m``."""
        raw = {}
        for layer in _needed_layers():
            gdf = getattr(reach, layer)
            cols = [c for c in gdf.columns if c != gdf.geometry.name]
            records = gdf[cols].to_dict("records")
            for rec, geom in zip(records, gdf.geometry.values):
                rec["_geom"] = geom
            raw[layer] = records
        level = _fallback_of_caller_reach(reach) if hasattr(reach, "fallback_water_level_m") else None
        return cls(name=str(getattr(reach, "name", "reach")), layers=_derive(raw), water_level_m=level)

    @classmethod
    def read(cls, name_or_gpkg: str | Path = "huayuankou") -> "ReachTables":
        """Read the scope layers straight from a reach GeoPackage (no DEM, no pandas): the fast path.

        The fallback water level comes from the reach's own ``Reach.fallback_water_level_m`` built
        on its parameter file (the terrain is only built when a risk value is first needed).
        """
        from floodtwin.reach.load import _reach_paths

        gpkg, yaml_path, name = _reach_paths(name_or_gpkg)
        if not gpkg.is_file():
            raise DataError(f"{gpkg}: reach GeoPackage not found (run `floodtwin reach build`)")
        raw = _read_gpkg(gpkg, _needed_layers())
        return cls(name=name, layers=_derive(raw), water_level_m=_light_fallback(name, yaml_path, raw))


def _needed_layers() -> list[str]:
    return sorted({l.gpkg_layer for l in LAYERS.values()} | {"staff"})


def _read_gpkg(gpkg: Path, layers: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """Attribute rows and geometries of GeoPackage layers, read with sqlite3 and shapely."""
    import shapely

    try:
        con = sqlite3.connect(f"file:{gpkg}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise DataError(f"{gpkg}: cannot open: {exc}") from None
    out = {}
    try:
        geom_cols = dict(con.execute("SELECT table_name, column_name FROM gpkg_geometry_columns"))
        for layer in layers:
            if layer not in geom_cols:
                raise DataError(f"{gpkg}: layer '{layer}' is missing")
            cur = con.execute(f'SELECT * FROM "{layer}"')
            cols = [d[0] for d in cur.description]
            g = cols.index(geom_cols[layer])
            rows = cur.fetchall()
            geoms = shapely.from_wkb([_gpkg_wkb(r[g], gpkg, layer) for r in rows])
            out[layer] = [{**{c: v for c, v in zip(cols, r) if c not in (cols[g], "fid")}, "_geom": geom}
                          for r, geom in zip(rows, geoms)]
    except sqlite3.Error as exc:
        raise DataError(f"{gpkg}: cannot read as a GeoPackage: {exc}") from None
    finally:
        con.close()
    return out


def _gpkg_wkb(blob: bytes, gpkg: Path, layer: str) -> bytes:
    """The WKB inside a GeoPackage geometry blob (OGC 12-128r18 §2.1.3: header, envelope, WKB)."""
    if blob is None or len(blob) < 8 or blob[:2] != b"GP":
        raise DataError(f"{gpkg}: layer '{layer}': a geometry is not a GeoPackage geometry blob")
    envelope = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}.get((blob[3] >> 1) & 0x07)
    if envelope is None:
        raise DataError(f"{gpkg}: layer '{layer}': invalid envelope code in a geometry blob")
    return bytes(blob[8 + envelope:])


def _light_fallback(name: str, yaml_path: Path | None, raw: dict) -> Callable[[float, float], float] | None:
    """``Reach.fallback_water_level_m`` of a Reach holding only its parameters (terrain built lazily)."""
    if yaml_path is None:
        return None
    from floodtwin.reach.load import Reach
    from floodtwin.reach.params import load_params

    reach = Reach(name=name, crs=None, dem=None, layers={}, params=load_params(yaml_path))
    # the gauge chainage is all the fallback needs from the layers (a cached_property of Reach)
    reach.__dict__["gauge_chainage_m"] = float(raw["gauges"][0]["chainage_m"])
    return _memoized_fallback(reach)


def _fallback_of_caller_reach(reach: Any) -> Callable[[float, float], float]:
    """The fallback of a caller's Reach, memoised on a private copy (built on first use).

    The terrain is built through the caller's ``reach.terrain`` (the Reach's own lazy cache, so
    the next expansion over the same Reach does not build it again); the stage memo lives on a
    shallow copy, so the caller's object keeps its methods.
    """
    private: list[Callable[[float, float], float]] = []

    def level(discharge_m3s: float, chainage_m: float) -> float:
        if not private:
            if getattr(reach, "params", None) is not None:
                reach.terrain  # noqa: B018 - builds and keeps the terrain on the caller's Reach
            private.append(_memoized_fallback(copy.copy(reach)))
        return private[0](discharge_m3s, chainage_m)

    return level


def _memoized_fallback(reach: Any) -> Callable[[float, float], float]:
    """``reach.fallback_water_level_m`` with the gauge stage solved once per discharge, not per object.

    The stage at the gauge is a root-finding on the compound section; an expansion asks for the
    level at dozens of chainages of one discharge, so the per-discharge stage is memoised on this
    (private) Reach object.
    """
    if hasattr(reach, "stage_at_gauge_m"):
        reach.stage_at_gauge_m = functools.lru_cache(maxsize=32)(reach.stage_at_gauge_m)
    return reach.fallback_water_level_m


def _xy(geom) -> tuple[float, float] | None:
    """A representative point: the point itself, a line's midpoint, a polygon's inner point."""
    if geom is None or geom.is_empty:
        return None
    kind = geom.geom_type
    if kind == "Point":
        p = geom
    elif kind in ("LineString", "MultiLineString"):
        p = geom.interpolate(0.5, normalized=True)
    else:
        p = geom.point_on_surface()
    return (round(float(p.x), 2), round(float(p.y), 2))


def _s(value: Any) -> str:
    """Strings as stored, missing values as ''."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def _derive(raw: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """Add locations and derived attributes (see layers.LAYERS) to the raw records."""
    import shapely

    for records in raw.values():
        for rec in records:
            rec["_xy"] = _xy(rec.get("_geom"))
            for key, value in list(rec.items()):
                if isinstance(value, float) and math.isnan(value):
                    rec[key] = None
    staff = raw["staff"]
    grids = raw["grids"]
    town = [g for g in grids if g["level"] == "grid"]
    right = [d for d in raw["dikes"] if d["dike_id"] == "right"]
    right_lines = shapely.union_all([d["_geom"] for d in right]) if right else None
    for g in grids:
        g["n_staff"] = sum(1 for s in staff if s["grid_id"] == g["grid_id"])
        g["n_on_duty"] = sum(1 for s in staff if s["grid_id"] == g["grid_id"] and bool(s["on_duty"]))
        g["n_villages"] = sum(1 for v in raw["villages"] if v["grid_id"] == g["grid_id"])
        g["on_dike"] = bool(g["level"] == "grid" and right_lines is not None
                            and g["_geom"].distance(right_lines) <= 1.0)
        g["grid_id"] = _s(g["grid_id"])
    for d in raw["dikes"]:
        d["mid_chainage_m"] = 0.5 * (float(d["chainage_from_m"]) + float(d["chainage_to_m"]))
        d["grid_id"] = ""
        if d["dike_id"] == "right" and town:
            mid = d["_geom"].interpolate(0.5, normalized=True)
            dist = [(g["_geom"].distance(mid), g["grid_id"]) for g in town]
            best = min(dist)
            if best[0] <= GRID_SNAP_M:
                d["grid_id"] = best[1]
        d["in_town"] = bool(d["grid_id"])
    for layer in ("villages", "depots", "key_points", "spurs", "gauges"):
        for rec in raw[layer]:
            for col in ("grid_id", "works_id"):
                if col in rec:
                    rec[col] = _s(rec[col])
    return raw


# ------------------------------------------------------------------------------------------------
# risk values per object
# ------------------------------------------------------------------------------------------------
class _Risk:
    """Risk attribute values per object: from the facts, else from the fallback rule (flagged)."""

    def __init__(self, tables: ReachTables, discharge_m3s: float, facts: RiskFacts | None):
        self.tables = tables
        self.q = discharge_m3s
        self.facts = facts
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

    def values(self, layer: ScopeLayer, rec: dict[str, Any], wanted: Iterable[str]) -> tuple[dict, bool]:
        """(risk attribute values, whether any came from the fallback) for one record."""
        out, fallback = {}, False
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
            if known is not None:
                out[attr] = float(known)
                continue
            fallback = True
            out[attr] = self._fallback(layer.name, attr, rec)
        return out, fallback

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
            v[key] = both(int(value) if isinstance(value, float) and value.is_integer() else _s(value))
    name = (_s(rec.get("name_zh")), _s(rec.get("name_en")) or _s(rec.get("name_zh")))
    if layer.name == "grids":
        v["grid"] = name
    elif layer.name == "works":
        v["works"] = name
        v["chainage"] = both(f"{_post(rec['chainage_from_m'])}–{_post(rec['chainage_to_m'])}")
    elif layer.name == "spurs":
        v["spur"] = name
        v["chainage"] = both(_s(rec.get("post")) or _post(rec["chainage_m"]))
    elif layer.name == "villages":
        v["village"] = name
        point = _s(rec.get("evacuation_point"))
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
        posts = f"{_s(rec.get('post_from')) or _post(rec['chainage_from_m'])}–" \
                f"{_s(rec.get('post_to')) or _post(rec['chainage_to_m'])}"
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
        unit = MATERIAL_ITEMS[spec.item][0]
        quantity = spec.quantity * (float(rec[spec.per] or 0) if spec.per else 1.0)
        if spec.depot == "scope":
            depot = rec
        elif spec.depot in ("works", "nearest"):
            stocked = [d for d in depots if (d.get(spec.item) or 0) > 0]
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
        out.append(Material(item=spec.item, quantity=round(quantity, 3), unit=unit, depot_id=depot["depot_id"]))
    return tuple(out)


def tasks_for(model: PreplanModel, decision: TierDecision, reach: Any, risk: RiskFacts | None = None,
              *, roles: dict | None = None) -> list[TaskInstruction]:
    """Expand the templates active at ``decision.tier`` over ``reach`` into task instructions.

    ``reach`` is a Reach or a :class:`ReachTables`. Instructions are deterministic (same tier,
    discharge, reach and risk -> same keys and texts) and ordered by deadline, then template order,
    then scope id. Risk-driven filters use ``risk`` or, without it, the fallback rule (stated in
    each such task's note).
    """
    tables = reach if isinstance(reach, ReachTables) else ReachTables.from_reach(reach)
    roles = {r.id: r for r in model.roles}
    tier = next(t for t in model.tiers if t.id == decision.tier)
    riskv = _Risk(tables, float(decision.discharge_m3s), risk)
    common = {
        "tier": (tier.id, tier.id),
        "tier_name": (tier.name_zh, tier.name_en),
        "colour": (tier.colour_zh, tier.colour),
        "discharge": (f"{decision.discharge_m3s:,.0f} m³/s",) * 2,
    }
    templates = active_templates(model, tier.id)
    order = {t.id: i for i, t in enumerate(model.templates)}
    made: dict[str, list[tuple[dict[str, Any] | None, TaskInstruction]]] = {}
    pending_deps: list[tuple[int, Template, dict | None]] = []
    out: list[TaskInstruction] = []
    for tpl in templates:
        layer = LAYERS.get(tpl.scope.for_each) if tpl.scope.for_each else None
        expr = parse_filter(tpl.scope.where) if tpl.scope.where else None
        refs = {a for _, a in references(expr)} if expr is not None else set()
        texts = tpl.title_zh + tpl.title_en + tpl.note_zh + tpl.note_en
        wanted = [a for a in (layer.risk_attributes if layer else ())
                  if a in refs or "{" + {"max_depth_m": "depth", "arrival_time_s": "arrival",
                                         "freeboard_m": "freeboard", "toe_depth_m": "toe_depth"}[a] + "}" in texts]
        records = (sorted(tables.layers[layer.gpkg_layer], key=lambda r: str(r[layer.id_column]))
                   if layer else [None])
        made[tpl.id] = []
        for rec in records:
            rvals, fallback = riskv.values(layer, rec, wanted) if layer and wanted else ({}, False)
            if expr is not None:
                attrs = {**rec, **rvals}
                missing = [a for a in refs if a not in attrs]
                if missing:
                    raise DataError(f"template {tpl.id}: reach {tables.name} layer '{layer.gpkg_layer}' has no "
                                    f"attribute '{missing[0]}' used by its filter")
                try:
                    if not evaluate_filter(expr, attrs):
                        continue
                except (TypeError, ValueError) as exc:
                    raise DataError(f"template {tpl.id}: filter {tpl.scope.where!r} cannot be applied to "
                                    f"{rec[layer.id_column]}: {exc}") from None
            tpl_vals = _placeholder_values(layer, rec, rvals, tables)
            deadline = float(tpl.deadline_min)
            values_zh = {k: v[0] for k, v in {**common, **tpl_vals}.items()}
            values_en = {k: v[1] for k, v in {**common, **tpl_vals}.items()}
            values_zh["deadline"] = f"{deadline:g} 分钟"
            values_en["deadline"] = f"{deadline:g} min"
            scope_id = str(rec[layer.id_column]) if layer else None
            grid_id = (rec.get("grid_id") or None) if rec is not None else None
            works_id = (rec.get("works_id") or None) if rec is not None else None
            owner = roles[tpl.owner]
            if owner.in_grid and not grid_id:
                raise DataError(f"template {tpl.id}: owner '{owner.id}' works in a grid, but "
                                f"{layer.prefix} {scope_id} lies in no grid (add a filter on grid_id)")
            note_zh = _render(tpl.note_zh, values_zh)
            note_en = _render(tpl.note_en, values_en)
            if fallback:
                note_zh = f"{note_zh}；{FALLBACK_NOTE_ZH}" if note_zh else FALLBACK_NOTE_ZH
                note_en = f"{note_en}; {FALLBACK_NOTE_EN}" if note_en else FALLBACK_NOTE_EN
            extra = {"owner_zh": owner.name_zh, "owner_en": owner.name_en,
                     "template_order": order[tpl.id]}
            if wanted:
                extra["risk_source"] = "fallback" if fallback else (risk.source if risk else "fallback")
                extra["risk"] = {k: (None if v is None else round(v, 3)) for k, v in rvals.items()}
            task = TaskInstruction(
                key=task_key(tpl.id, layer.name if layer else None, scope_id),
                template_id=tpl.id, category=tpl.category, tier=tier.id, owner_role=tpl.owner,
                title_zh=_render(tpl.title_zh, values_zh), title_en=_render(tpl.title_en, values_en),
                deadline_min=deadline, scope_kind=layer.name if layer else None, scope_id=scope_id,
                grid_id=grid_id, works_id=works_id, repeat_min=_repeat(tpl, model, tier.id),
                materials=_materials(tpl, layer, rec, tables), location=rec.get("_xy") if rec else None,
                note_zh=note_zh, note_en=note_en, source="preplan", extra=extra,
            )
            made[tpl.id].append((rec, task))
    # dependencies: link each instruction to the instances of the templates it depends on
    for tpl in templates:
        layer = LAYERS.get(tpl.scope.for_each) if tpl.scope.for_each else None
        for rec, task in made[tpl.id]:
            keys: list[str] = []
            for dep in tpl.depends_on:
                keys.extend(_dependency_keys(layer, rec, model, dep, made.get(dep, [])))
            out.append(task if not keys else _with_deps(task, tuple(keys)))
    out.sort(key=lambda t: (t.deadline_min, t.extra["template_order"], t.scope_id or ""))
    return out


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
