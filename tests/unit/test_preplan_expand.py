"""Expansion of the plan over the real Huayuankou reach: counts, determinism, risk, dependencies, diff."""

from __future__ import annotations

import pytest

from floodtwin.errors import DataError
from floodtwin.preplan import FALLBACK_NOTE_EN, FALLBACK_NOTE_ZH, Preplan, ReachTables, RiskFacts, diff
from floodtwin.tasks import CATEGORIES


@pytest.fixture(scope="module")
def tables():
    return ReachTables.read("huayuankou")


@pytest.fixture(scope="module")
def tier_i(plan, tables):
    return plan.tasks_for(plan.decide(22000), tables)


def _count(tasks, template_id):
    return sum(1 for t in tasks if t.template_id == template_id)


def test_tier_i_design_flood_gives_about_300_instructions(tier_i, tables):
    # a consequence of the reach data: one per grid, per spur (坝), per works, per dike km, per village ...
    assert 280 <= len(tier_i) <= 330, len(tier_i)
    layers = tables.layers
    assert _count(tier_i, "grid.respond") == len(layers["grids"]) == 72
    assert _count(tier_i, "spur.watch") == sum(1 for s in layers["spurs"] if s["kind"] == "spur")
    right = [d for d in layers["dikes"] if d["dike_id"] == "right"]
    assert _count(tier_i, "patrol.dike") + _count(tier_i, "patrol.dike_bureau") == len(right) == 27
    assert _count(tier_i, "patrol.mass") == sum(1 for g in layers["grids"] if g["on_dike"])
    assert _count(tier_i, "works.rounds") == len(layers["works"]) == 4
    assert _count(tier_i, "depot.check") == len(layers["depots"])
    assert _count(tier_i, "keypoint.guard") == sum(1 for k in layers["key_points"] if k["kind"] == "works_head")
    assert {t.category for t in tier_i} == set(CATEGORIES)


def test_counts_grow_with_the_tier(plan, tables):
    counts = {q: len(plan.tasks_for(plan.decide(q), tables)) for q in (1000, 4500, 8000, 12000, 22000)}
    values = list(counts.values())
    assert values == sorted(values) and len(set(values)) == len(values), counts
    assert counts[1000] < 60 and counts[4500] > 100


def test_instructions_are_deterministic_unique_and_ordered(plan, tables, tier_i):
    again = plan.tasks_for(plan.decide(22000), ReachTables.read("huayuankou"))
    assert [t.key for t in again] == [t.key for t in tier_i]
    assert [t.to_dict() for t in again] == [t.to_dict() for t in tier_i]
    assert len({t.key for t in tier_i}) == len(tier_i)
    deadlines = [t.deadline_min for t in tier_i]
    assert deadlines == sorted(deadlines)
    # the same object keeps its key across tiers (the to-do list is updated, not replaced)
    iv = {t.key for t in plan.tasks_for(plan.decide(4500), tables)}
    assert iv < {t.key for t in tier_i}


def test_instruction_content(tier_i):
    first = tier_i[0]
    assert first.template_id == "cmd.activate" and first.deadline_min == 3
    assert first.title_en == "Activate the level I response (red warning) at Huayuankou 22,000 m³/s"
    assert first.title_zh == "启动Ⅰ级应急响应（红色预警），花园口22,000 m³/s"
    spur = next(t for t in tier_i if t.template_id == "spur.watch" and t.works_id == "MD")
    assert spur.scope_id.startswith("MD-") and spur.scope_kind == "spur" and spur.repeat_min == 120
    assert "马渡险工" in spur.title_zh and spur.title_en.startswith("Guard Madu dike works spur")
    assert spur.title_en.count("Madu") == 1 and spur.title_zh.count("马渡") == 1  # the works is named once
    assert spur.location is not None and 400_000 < spur.location[0] < 600_000
    patrol = next(t for t in tier_i if t.template_id == "patrol.dike" and t.scope_id == "R-009")
    assert patrol.grid_id == "G41" and patrol.owner_role == "grid_member" and patrol.repeat_min == 60
    assert patrol.title_en.startswith("Patrol right dike 9+000–10+000")
    assert patrol.extra["owner_zh"] == "网格员"


def test_patrol_density_rises_with_the_tier(plan, tables):
    def repeat(q):
        return {t.repeat_min for t in plan.tasks_for(plan.decide(q), tables) if t.template_id == "patrol.dike"}

    assert [repeat(q) for q in (1000, 4500, 8000, 12000, 22000)] == [{1440}, {720}, {240}, {120}, {60}]


def test_materials_come_from_the_right_depots(tier_i):
    mats = {t.scope_id: t.materials for t in tier_i if t.template_id == "works.materials"}
    assert [(m.item, m.quantity, m.unit, m.depot_id) for m in mats["MD"]] == [
        ("stone", 500, "m3", "D04"), ("gabions", 50, "piece", "D04")]
    assert mats["SZ"][0].depot_id == "D03"
    # per-person quantities: one life jacket per person needing special attention, nearest depot
    special = next(t for t in tier_i if t.template_id == "village.evacuate_special" and t.scope_id == "V02")
    assert special.materials[0].item == "life_jackets" and special.materials[0].quantity == 52


def test_dependencies_link_the_same_object_or_its_grid(tier_i):
    by_key = {t.key: t for t in tier_i}
    evac = next(t for t in tier_i if t.template_id == "village.evacuate" and t.scope_id == "V03")
    (dep,) = evac.depends_on
    assert by_key[dep].template_id == "village.evacuate_special" and by_key[dep].scope_id == "V03"
    notify = next(t for t in tier_i if t.template_id == "village.notify" and t.scope_id == "V03")
    (dep,) = notify.depends_on
    assert by_key[dep].template_id == "grid.respond" and by_key[dep].scope_id == "G09"  # V03 is in G09
    # every dependency exists in the same list
    assert all(k in by_key for t in tier_i for k in t.depends_on)


# --- risk ----------------------------------------------------------------------------------------
def test_fallback_rule_is_stated_and_matches_the_reach(plan, tables, tier_i):
    level = tables.water_level_m
    villages = {v["village_id"]: v for v in tables.layers["villages"]}
    evacuated = {t.scope_id for t in tier_i if t.template_id == "village.evacuate"}
    expected = {vid for vid, v in villages.items() if v["ground_elevation_m"] < level(22000, v["chainage_m"])}
    assert evacuated == expected and evacuated  # the design flood floods the floodplain villages
    for t in tier_i:
        if t.template_id in ("village.evacuate", "patrol.toe_watch", "patrol.freeboard"):
            assert FALLBACK_NOTE_EN in t.note_en and FALLBACK_NOTE_ZH in t.note_zh
            assert t.extra["risk_source"] == "fallback"
        if t.template_id in ("grid.respond", "spur.watch"):
            assert FALLBACK_NOTE_EN not in t.note_en
    # a 3,000 m³/s flow stays in the channel: nothing flooded, nobody evacuated
    low = plan.tasks_for(plan.evaluate(__import__("floodtwin").FlowState(observed_m3s=3000, command_tier="II")),
                         tables)
    assert _count(low, "village.evacuate") == 0 and _count(low, "village.notify") == 6


def test_fallback_note_gives_the_level_and_the_elevation_compared(tier_i, tables):
    level = tables.water_level_m
    for t in tier_i:
        if t.template_id == "village.evacuate":
            v = tables.record("villages", t.scope_id)
            z = level(22000, v["chainage_m"])
            assert f"water level {z:.2f} m here (the Huayuankou hydrological station stage for 22,000 m³/s" in t.note_en
            assert f"against ground {v['ground_elevation_m']:.2f} m" in t.note_en
            assert f"此处水位{z:.2f} m（花园口水文站22,000 m³/s相应水位" in t.note_zh and f"地面{v['ground_elevation_m']:.2f} m" in t.note_zh
            assert v["ground_elevation_m"] < z
        if t.template_id == "patrol.toe_watch":
            d = tables.record("dikes", t.scope_id)
            assert f"against toe {d['toe_elevation_m']:.2f} m" in t.note_en


def test_arrival_left_out_by_a_run(plan, tables):
    # a template showing the arrival time: a run that computed every village but gave arrivals only
    # where the water came: dry villages read "not reached" (no fallback), a wet one without an
    # arrival is taken as reached already, by the fallback rule, and says so
    model = plan.model
    tpl = model.templates[0].model_copy(update={
        "id": "village.arrival", "title_en": "{village}: water {arrival}", "title_zh": "{village}：洪水{arrival}",
        "scope": type(model.templates[0].scope)(for_each="villages"), "tiers": "normal"})
    custom = Preplan(model.model_copy(update={"templates": [tpl]}))
    ids = sorted(v["village_id"] for v in tables.layers["villages"])
    risk = RiskFacts(village_max_depth_m={v: (0.8 if v in ("V01", "V02") else 0.0) for v in ids},
                     village_arrival_time_s={"V01": 5400.0})
    tasks = {t.scope_id: t for t in custom.tasks_for(plan.decide(12000), tables, risk=risk)}
    assert tasks["V01"].title_en.endswith("water in 1.5 h") and FALLBACK_NOTE_EN not in tasks["V01"].note_en
    assert tasks["V02"].title_en.endswith("water already there") and FALLBACK_NOTE_EN in tasks["V02"].note_en
    for v in ids[2:]:
        assert tasks[v].title_en.endswith("water not reached") and FALLBACK_NOTE_EN not in tasks[v].note_en
        assert tasks[v].extra["risk_source"] == "hydraulic run"


def test_risk_facts_drive_the_scopes(plan, tables):
    villages = [v["village_id"] for v in tables.layers["villages"]]
    segments = [d["segment_id"] for d in tables.layers["dikes"]]
    risk = RiskFacts(
        village_max_depth_m={v: (1.2 if v == "V03" else 0.0) for v in villages},
        village_arrival_time_s={v: 7200.0 for v in villages},
        segment_freeboard_m={s: (1.6 if s == "R-010" else 3.0) for s in segments},
        segment_toe_depth_m={s: (0.5 if s in ("R-009", "R-020") else 0.0) for s in segments},
    )
    tasks = plan.tasks_for(plan.decide(22000), tables, risk=risk)
    evac = [t for t in tasks if t.template_id == "village.evacuate"]
    assert [t.scope_id for t in evac] == ["V03"]
    assert evac[0].extra["risk_source"] == "hydraulic run" and FALLBACK_NOTE_EN not in evac[0].note_en
    special = next(t for t in tasks if t.template_id == "village.evacuate_special")
    assert "expected depth 1.20 m" in special.title_en
    sub = [t for t in tasks if t.template_id == "patrol.freeboard"]
    assert [t.scope_id for t in sub] == ["R-010"] and "only 1.60 m" in sub[0].title_en
    assert [t.scope_id for t in tasks if t.template_id == "patrol.toe_watch"] == ["R-009"]
    assert [t.scope_id for t in tasks if t.template_id == "patrol.toe_watch_bureau"] == ["R-020"]
    # fewer instructions than the conservative fallback, never a silently dropped scope
    assert len(tasks) < len(plan.tasks_for(plan.decide(22000), tables))


def test_nan_in_the_risk_facts_falls_back_and_is_not_dropped(plan, tables):
    # a run without a value for a segment (NaN) must not make "toe_depth_m > 0" silently false
    segments = [d["segment_id"] for d in tables.layers["dikes"] if d["dike_id"] == "right"]
    risk = RiskFacts(segment_toe_depth_m={s: float("nan") for s in segments})
    tasks = plan.tasks_for(plan.decide(22000), tables, risk=risk)
    toe = {t.scope_id: t for t in tasks if t.template_id in ("patrol.toe_watch", "patrol.toe_watch_bureau")}
    fallback = plan.tasks_for(plan.decide(22000), tables)
    assert set(toe) == {t.scope_id for t in fallback if t.template_id in ("patrol.toe_watch",
                                                                          "patrol.toe_watch_bureau")}
    assert toe and all(FALLBACK_NOTE_EN in t.note_en and t.extra["risk_source"] == "fallback" for t in toe.values())


def test_objects_missing_from_the_risk_facts_fall_back_with_a_note(plan, tables):
    risk = RiskFacts(village_max_depth_m={"V01": 0.0})  # only V01 computed
    tasks = plan.tasks_for(plan.decide(22000), tables, risk=risk)
    evac = {t.scope_id: t for t in tasks if t.template_id == "village.evacuate"}
    assert "V01" not in evac and evac  # V01 dry by the facts; the others by the fallback
    assert all(FALLBACK_NOTE_EN in t.note_en for t in evac.values())


def test_from_reach_and_fast_read_agree():
    from floodtwin.reach import load_reach

    plan = Preplan.load()
    reach = load_reach("huayuankou")
    decision = plan.decide(22000)
    a = plan.tasks_for(decision, reach)
    b = plan.tasks_for(decision, ReachTables.read("huayuankou"))
    assert [t.to_dict() for t in a] == [t.to_dict() for t in b]
    assert "stage_at_gauge_m" not in vars(reach)  # the caller's Reach is not modified
    # beyond the GeoPackage's rating table the fast path reads the parameter file and uses the terrain
    fast = ReachTables.read("huayuankou")
    beyond = float(reach.rating_table.discharge_m3s[-1]) * 1.2
    assert not reach.rating_table.covers(beyond)
    for s in (7000.0, 12000.0, 24000.0):
        assert fast.water_level_m(beyond, s) == pytest.approx(reach.fallback_water_level_m(beyond, s), abs=1e-9), \
            "the same computation by both paths: float rounding only"
        assert fast.water_level_m(22000, s) == pytest.approx(reach.fallback_water_level_m(22000, s), abs=1e-9), \
            "the same computation by both paths: float rounding only"


def test_missing_reach(tmp_path):
    with pytest.raises(DataError, match="reach GeoPackage not found"):
        ReachTables.read(tmp_path / "nowhere.gpkg")


def test_filter_on_a_bad_attribute_value_is_an_error(plan, tables):
    broken = ReachTables(name="x", layers={k: [dict(r) for r in v] for k, v in tables.layers.items()},
                         water_level_m=tables.water_level_m)
    for v in broken.layers["villages"]:
        v["population"] = "many"
    model = plan.model
    tpl = model.templates[0].model_copy(update={"scope": type(model.templates[0].scope)(
        for_each="villages", where="village.population > 100")})
    custom = Preplan(model.model_copy(update={"templates": [tpl]}))
    with pytest.raises(DataError, match="cannot be applied to V01"):
        custom.tasks_for(plan.decide(1000), broken)


# --- diff ------------------------------------------------------------------------------------------
def test_diff_iv_to_i(plan, tables):
    before = plan.tasks_for(plan.decide(4500), tables)
    after = plan.tasks_for(plan.decide(22000), tables)
    d = diff(before, after)
    assert len(d.activate) + len(d.unchanged) == len(after)
    assert len(d.stand_down) == 0 and len(d.unchanged) == len(before)
    assert _count(d.activate, "spur.watch") == _count(after, "spur.watch")
    assert _count(d.activate, "grid.respond") == 0
    # patrols are now hourly: unchanged keys, updated content
    assert _count(d.updated, "patrol.dike") == _count(after, "patrol.dike")
    assert _count(d.updated, "depot.check") == 0
    back = diff(after, before)
    assert {t.key for t in back.stand_down} == {t.key for t in d.activate}
    same = diff(after, after)
    assert not same.activate and not same.stand_down and not same.updated and len(same.unchanged) == len(after)
    assert set(d.to_dict()) == {"activate", "stand_down", "unchanged", "updated"}


def test_filter_on_a_missing_column_is_an_error(plan, tables):
    broken = ReachTables(name="x", layers={k: [dict(r) for r in v] for k, v in tables.layers.items()},
                         water_level_m=tables.water_level_m)
    for v in broken.layers["villages"]:
        del v["special_attention"]
    with pytest.raises(DataError, match="layer 'villages' has no attribute 'special_attention'"):
        Preplan(plan.model.model_copy(update={"templates": [
            plan.model.templates[0].model_copy(update={"scope": type(plan.model.templates[0].scope)(
                for_each="villages", where="village.special_attention > 0")})]})).tasks_for(plan.decide(1000), broken)


def test_risk_facts_from_dict():
    facts = RiskFacts.from_dict({"village_max_depth_m": {"V01": 1}, "source": "library"})
    assert facts.village_max_depth_m == {"V01": 1.0} and facts.source == "library"
    from floodtwin.errors import InputError

    with pytest.raises(InputError, match="unknown key 'depth'"):
        RiskFacts.from_dict({"depth": {}})
    with pytest.raises(InputError, match=r"segment_freeboard_m.R-001: expected a number"):
        RiskFacts.from_dict({"segment_freeboard_m": {"R-001": None}})


def test_each_gauge_reports_on_one_schedule_per_tier(plan, tables):
    # one report instruction per station, hourly from IV and every 30 minutes from II (same key: updated)
    for q, want in ((4500, {60}), (8000, {60}), (12000, {30}), (22000, {30})):
        reports = [t for t in plan.tasks_for(plan.decide(q), tables) if t.scope_kind == "gauge"]
        assert len(reports) == len(tables.layers["gauges"]) and {t.repeat_min for t in reports} == want, q


def test_an_empty_placeholder_value_is_an_error_not_a_hole(plan, tables):
    broken = ReachTables(name="x", layers={k: [dict(r) for r in v] for k, v in tables.layers.items()},
                         water_level_m=tables.water_level_m)
    broken.layers["villages"][0]["evacuation_point"] = None
    vid = broken.layers["villages"][0]["village_id"]
    with pytest.raises(DataError, match=rf"template village\.evacuate_special: village {vid} has no value for "
                                        r"\{evacuation_point\} in reach x"):
        plan.tasks_for(plan.decide(22000), broken)
    # a template that does not show the point is not concerned
    assert plan.tasks_for(plan.decide(4500), broken)


def test_materials_from_a_named_depot_and_from_the_scope(plan, tables):
    from floodtwin.preplan.model import MaterialSpec

    model = plan.model
    base = model.templates[0]
    named = base.model_copy(update={"id": "m.named", "materials": [MaterialSpec(item="boats", quantity=2,
                                                                                 depot="D05")]})
    scoped = base.model_copy(update={
        "id": "m.scope", "title_en": "Count {depot}", "title_zh": "清点{depot}",
        "scope": type(base.scope)(for_each="depots", where="depot.sandbags >= 40000"),
        "materials": [MaterialSpec(item="sandbags", quantity=0.5, per="sandbags", depot="scope")]})
    custom = Preplan(model.model_copy(update={"templates": [named, scoped]}))
    tasks = custom.tasks_for(plan.decide(1000), tables)
    (n,) = [t for t in tasks if t.template_id == "m.named"]
    assert [(m.item, m.quantity, m.unit, m.depot_id) for m in n.materials] == [("boats", 2, "piece", "D05")]
    got = {t.scope_id: t.materials[0] for t in tasks if t.template_id == "m.scope"}
    want = {d["depot_id"]: d["sandbags"] for d in tables.layers["depots"] if d["sandbags"] >= 40000}
    assert set(got) == set(want) and all(got[d].depot_id == d and got[d].quantity == want[d] / 2 for d in want)
    bad = Preplan(model.model_copy(update={"templates": [named.model_copy(update={
        "materials": [MaterialSpec(item="boats", quantity=1, depot="D99")]})]}))
    with pytest.raises(DataError, match="template m.named: depot 'D99' is not in reach huayuankou"):
        bad.tasks_for(plan.decide(1000), tables)
