"""Preplan files: the repository's plan loads; every kind of invalid plan fails with file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from floodtwin.errors import ConfigError
from floodtwin.preplan import Preplan, default_preplan_path
from floodtwin.preplan.filters import FilterSyntaxError, evaluate_filter, parse_filter, references
from floodtwin.tasks import CATEGORIES

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "preplans"


def test_repository_preplan_loads():
    plan = Preplan.load()
    assert plan.source == default_preplan_path()
    assert [t.id for t in plan.tiers] == ["normal", "IV", "III", "II", "I"]
    assert [t.colour for t in plan.tiers] == ["green", "blue", "yellow", "orange", "red"]
    # docs/reach.md §2 defaults
    assert [t.min_discharge_m3s for t in plan.tiers] == [0, 4000, 6000, 10000, 15000]
    assert plan.model.hysteresis.margin_fraction == 0.05 and plan.model.hysteresis.hold_h == 6
    assert plan.model.triggers.duration.days == 7 and plan.model.triggers.duration.tier == "III"
    # every category of the plan is used, and every template has texts in both languages
    assert {t.category for t in plan.templates} == set(CATEGORIES)
    assert all(t.title_zh and t.title_en for t in plan.templates)


def test_templates_for_grows_with_the_tier():
    plan = Preplan.load()
    counts = [len(plan.templates_for(t.id)) for t in plan.tiers]
    assert counts == sorted(counts) and counts[0] < counts[-1]
    assert "cmd.activate" not in {t.id for t in plan.templates_for("normal")}
    assert "spur.watch" in {t.id for t in plan.templates_for("I")}


def test_minimal_fixture_is_valid():
    plan = Preplan.load(FIX / "minimal.yaml")
    assert [t.id for t in plan.templates] == ["cmd.activate", "village.evacuate"]


# fixture -> (line, key, words of the message)
BROKEN = {
    "duplicate_id": (22, "templates.1.id", "duplicate template id 'cmd.activate'"),
    "duplicate_role": (13, "roles.1.id", "duplicate role id 'town_command'"),
    "duplicate_tier": (5, "tiers.1.id", "duplicate tier id 'normal'"),
    "trigger_tier": (9, "triggers.works_danger.tier", "unknown tier 'II'"),
    "tier_start": (4, "tiers.0.min_discharge_m3s", "the lowest tier must start at 0 m³/s, not 100"),
    "placeholder_spec": (17, "templates.0.title_en", "placeholder {tier_name} has a format spec or conversion"),
    "unknown_dependency": (30, "templates.1.depends_on.0", "unknown template 'cmd.start'"),
    "unknown_role": (20, "templates.0.owner", "unknown role 'mayor'"),
    "unknown_layer": (28, "templates.1.scope.for_each", "unknown layer 'farms'"),
    "unknown_attribute": (28, "templates.1.scope.where", "unknown attribute 'flood_depth_m' of village"),
    "filter_syntax": (28, "templates.1.scope.where", "cannot parse filter"),
    "filter_layer": (28, "templates.1.scope.where", "filter refers to 'dike_segment.freeboard_m'"),
    "placeholder": (24, "templates.1.title_en", "placeholder {works} cannot be filled by scope 'villages'"),
    "cycle": (31, "templates.1.depends_on", "dependency cycle: cmd.activate -> village.evacuate -> cmd.activate"),
    "dependency_tier": (22, "templates.0.depends_on.0", "'village.evacuate' applies only from tier III"),
    "tier_overlap": (6, "tiers.2.min_discharge_m3s", "overlapping tier IV"),
    "tier_gap": (6, "tiers.2.min_discharge_m3s", "leaving a gap after tier IV"),
    "tier_closed": (6, "tiers.2.max_discharge_m3s", "must be open-ended"),
    "negative_deadline": (29, "templates.1.deadline_min", "deadline -5 min is negative"),
    "unknown_tier": (26, "templates.1.tiers", "unknown tier 'II'"),
    "unknown_category": (25, "templates.1.category", "unknown category 'sightseeing'"),
    "grid_owner": (20, "templates.0.owner", "works in a grid, but a template without scope has no grid"),
    "unknown_key": (21, "templates.0.dead_line_min", "unknown key"),
    "wrong_type": (21, "templates.0.deadline_min", "valid number"),
    "yaml_syntax": (24, None, "not valid YAML"),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_preplan_names_file_line_and_key(name):
    path = FIX / f"broken_{name}.yaml"
    line, key, words = BROKEN[name]
    with pytest.raises(ConfigError) as info:
        Preplan.load(path)
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith(f"{path}:{line}: "), msg
    if key is not None:
        assert msg.startswith(f"{path}:{line}: {key}: "), msg
    assert words in msg, msg


def test_every_broken_fixture_is_covered():
    names = {p.stem.removeprefix("broken_") for p in FIX.glob("broken_*.yaml")}
    assert names == set(BROKEN)


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        Preplan.load(tmp_path / "nope.yaml")
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing\n")
    with pytest.raises(ConfigError, match="file is empty"):
        Preplan.load(empty)
    listy = tmp_path / "list.yaml"
    listy.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="mapping"):
        Preplan.load(listy)


# --- the filter language ------------------------------------------------------------------------
def test_filter_grammar_and_evaluation():
    expr = parse_filter('village.max_depth_m > 0 and (village.population >= 500 or not village.grid_id == "G01")')
    assert references(expr) == [("village", "max_depth_m"), ("village", "population"), ("village", "grid_id")]
    assert evaluate_filter(expr, {"max_depth_m": 0.4, "population": 820, "grid_id": "G01"})
    assert evaluate_filter(expr, {"max_depth_m": 0.4, "population": 100, "grid_id": "G05"})
    assert not evaluate_filter(expr, {"max_depth_m": 0.4, "population": 100, "grid_id": "G01"})
    assert not evaluate_filter(expr, {"max_depth_m": 0.0, "population": 820, "grid_id": "G05"})
    # and binds tighter than or
    expr = parse_filter("x.a == 1 or x.b == 1 and x.c == 1")
    assert evaluate_filter(expr, {"a": 1, "b": 0, "c": 0})
    assert not evaluate_filter(expr, {"a": 0, "b": 1, "c": 0})
    # booleans and missing values: a missing value fails every comparison but !=
    assert evaluate_filter(parse_filter("g.on_dike == true"), {"on_dike": 1})
    assert not evaluate_filter(parse_filter("v.arrival_time_s < 3600"), {"arrival_time_s": None})
    assert evaluate_filter(parse_filter("v.arrival_time_s != 3600"), {"arrival_time_s": float("nan")})


@pytest.mark.parametrize("text", [
    "__import__('os').system('true')",  # no Python, ever
    "village.population > ",
    "village.population >> 3",
    "village.population > 1 and",
    "(village.population > 1",
    "population > 1",
    "village.population > abc",
    "",
])
def test_filter_rejects_what_is_not_the_grammar(text):
    with pytest.raises(FilterSyntaxError):
        parse_filter(text)


def test_tier_ranges_and_repeat_maps(tmp_path):
    text = (FIX / "minimal.yaml").read_text(encoding="utf-8")
    text = text.replace("    tiers: IV\n    owner: town_command\n    deadline_min: 3\n",
                        "    tiers: {from: IV, to: IV}\n    owner: town_command\n    deadline_min: 3\n"
                        "    repeat_min: {IV: 60}\n")
    text = text.replace("    depends_on: [cmd.activate]\n", "")
    path = tmp_path / "ranged.yaml"
    path.write_text(text, encoding="utf-8")
    plan = Preplan.load(path)
    assert [t.id for t in plan.templates_for("IV")] == ["cmd.activate"]
    assert [t.id for t in plan.templates_for("III")] == ["village.evacuate"]
    assert plan.templates_for("normal") == []
    # a template that goes on above a dependency's last tier is refused
    path.write_text(text.replace("    deadline_min: 60\n", "    deadline_min: 60\n    depends_on: [cmd.activate]\n"),
                    encoding="utf-8")
    with pytest.raises(ConfigError, match="'cmd.activate' stops at tier IV"):
        Preplan.load(path)
    # repeat maps name known tiers with positive intervals
    path.write_text(text.replace("repeat_min: {IV: 60}", "repeat_min: {IV: 0}"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"repeat_min.IV: repeat interval 0 min must be positive"):
        Preplan.load(path)
    path.write_text(text.replace("repeat_min: {IV: 60}", "repeat_min: {V: 60}"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"repeat_min.V: unknown tier 'V'"):
        Preplan.load(path)


def test_material_checks(tmp_path):
    text = (FIX / "minimal.yaml").read_text(encoding="utf-8")
    path = tmp_path / "materials.yaml"
    for materials, words in [
        ("[{item: gold, quantity: 1}]", "unknown material 'gold'"),
        # the depots-layer column is not an item: items are those of floodtwin.tasks.MATERIALS
        ("[{item: stone_m3, quantity: 1}]", r"unknown material 'stone_m3' \(one of stone, gabions, sandbags"),
        ("[{item: boats, quantity: 0}]", "quantity 0 must be positive"),
        ("[{item: boats, quantity: 1, per: name_en}]", "'name_en' is not a numeric attribute"),
        ("[{item: boats, quantity: 1, depot: works}]", "depot 'works' needs a scope with a works"),
    ]:
        path.write_text(text.replace("    depends_on: [cmd.activate]\n",
                                     f"    depends_on: [cmd.activate]\n    materials: {materials}\n"), encoding="utf-8")
        with pytest.raises(ConfigError, match=words) as info:
            Preplan.load(path)
        assert f"{path}:" in str(info.value) and "templates.1.materials.0" in str(info.value)
