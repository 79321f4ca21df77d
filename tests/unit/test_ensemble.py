"""Ensemble spec, Latin hypercube sampling, the member's hydrograph / breach / roughness, and the per-cell
and per-object statistics, each against numbers worked by hand."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest

from floodtwin.errors import ConfigError, InputError
from floodtwin.hydrograph import load_scenario
from floodtwin.scenario.ensemble.member import member_breaches, member_hydrograph, member_reach
from floodtwin.scenario.ensemble.reduce import cell_statistics, dike_table, row_bands, village_table
from floodtwin.scenario.ensemble.sampling import MemberParams, draw_dimensions, sample_members
from floodtwin.scenario.ensemble.spec import load_ensemble_spec

REPO = Path(__file__).resolve().parents[2]
SMALL = REPO / "scenarios" / "ensembles" / "test-small.yaml"
REACH = REPO / "scenarios" / "ensembles" / "reach-design.yaml"


def _members(path, **change):
    spec = load_ensemble_spec(path)
    spec = spec.model_copy(update=change)
    return spec, sample_members(spec, load_scenario(spec.base_scenario))


def test_the_shipped_ensembles_load_and_draw_reproducibly():
    spec, a = _members(REACH)
    _, b = _members(REACH)
    assert spec.members == 200 and len(a) == 200 and a == b
    _, c = _members(REACH, seed=spec.seed + 1)
    assert [m.channel_n for m in c] != [m.channel_n for m in a]
    assert len({m.name for m in a}) == 200 and a[0].name == "m0001" and a[-1].name == "m0200"


def test_latin_hypercube_puts_one_member_in_each_slice_of_every_range():
    spec, members = _members(REACH)
    n = len(members)
    for key, lo, hi in (("channel_n", 0.0105, 0.0155), ("floodplain_n", 0.025, 0.045)):
        v = np.array([getattr(m, key) for m in members])
        slices = np.floor((v - lo) / (hi - lo) * n).astype(int)
        assert sorted(slices) == list(range(n)), key  # exactly one member per 1/n of the range
    peaks = np.array([m.peak_m3s for m in members])
    assert peaks.min() >= 15000 and peaks.max() <= 28000
    assert abs(np.median(peaks) - 22000) < 150 and 1900 < peaks.std() < 2400  # the truncated normal 22,000 ± 2,200
    shapes = [m.shape for m in members]
    assert {s: shapes.count(s) for s in set(shapes)} in ({"design": 67, "1958": 67, "1982": 66},
                                                         {"design": 67, "1958": 66, "1982": 67},
                                                         {"design": 66, "1958": 67, "1982": 67})
    breached = [m for m in members if m.breaches]
    assert len(breached) == 60  # 30 % of 200, exactly: one member per slice of the occurrence dimension
    b = np.array([m.breaches[0]["chainage_m"] for m in breached])
    assert b.min() >= 1000 and b.max() <= 26000
    assert {m.breaches[0]["bank"] for m in breached} == {"left", "right"}


def test_what_is_not_drawn_keeps_the_base_scenario():
    spec, members = _members(SMALL)
    assert [k for k, _ in draw_dimensions(spec)] == ["channel_n", "floodplain_n", "peak_m3s", "shape",
                                                     "breach.occurs", "breach.chainage_m", "breach.start_after_crest_h"]
    assert sum(bool(m.breaches) for m in members) == 2  # probability 0.5 of 4 members
    for m in members:
        for b in m.breaches:
            assert b["bank"] == "left" and b["final_width_m"] == 200.0 and b["time_to_full_h"] == 1.0
    params = spec.parameters.model_copy(update={"channel_n": None, "peak_m3s": None, "breach": None, "shape": None})
    spec2 = spec.model_copy(update={"parameters": params})
    base = load_scenario("breach-left")
    m = sample_members(spec2, base)[0]
    assert m.channel_n is None and m.peak_m3s == base.hydrograph.peak_m3s and m.shape == "breach-left"
    assert m.breaches[0]["chainage_m"] == 5500 and m.breaches[0]["start_after_crest_h"] == 0.0  # opens at the crest


def _spec_file(tmp_path, text: str) -> Path:
    base = SMALL.read_text(encoding="utf-8")
    p = tmp_path / "e.yaml"
    p.write_text(base + textwrap.dedent(text), encoding="utf-8")
    return p


@pytest.mark.parametrize("replace, fragment", [
    (("members: 4", "members: 1"), "e.yaml:8: members: Value error, 1: expected 2 to 100,000 members"),
    (("low: 0.011, high: 0.015", "low: 0.015, high: 0.011"), "e.yaml:13: parameters.channel_n"),
    (("low: 0.011, high: 0.015", "low: 0.001, high: 0.015"), "leave the plausible Manning n"),
    (("values: [design, \"1982\"]", "values: [design, \"1999\"]"), "parameters.shape.values.1: unknown scenario '1999'"),
    (("base_scenario: design", "base_scenario: nowhere"), "e.yaml:7: base_scenario: unknown scenario 'nowhere'"),
    (("resolution_m: 100", "resolution_m: 70"), "resolution_m: Value error, 70: expected 25, 50 or 100"),
    (("unit: m3/s", "unit: m3/h"), "peak_m3s: unit 'm3/h', expected 'm3/s'"),
    (("probability: 0.5", "probability: 1.5"), "parameters.breach.probability"),
    (("outputs: [netcdf, gpkg, png, html]", "outputs: [netcdf, pdf]"), "outputs.1"),
    (("seed: 7", "seed: 7\ncolour: red"), "colour: unknown key"),
])
def test_a_bad_ensemble_file_is_one_line_naming_file_line_and_key(tmp_path, replace, fragment):
    p = tmp_path / "e.yaml"
    text = SMALL.read_text(encoding="utf-8")
    assert replace[0] in text
    p.write_text(text.replace(replace[0], replace[1], 1), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_ensemble_spec(p)
    assert fragment in str(err.value) and "\n" not in str(err.value)
    assert str(err.value).startswith(str(p))


def test_member_hydrograph_is_the_shape_scaled_to_the_peak_and_cut_to_the_window():
    p = MemberParams("m1", None, None, 18000.0, "design")
    full, crest = member_hydrograph(p)
    design = load_scenario("design").hydrograph
    assert full.peak_m3s == pytest.approx(18000.0) and crest == design.time_of_peak_s == 36 * 3600
    np.testing.assert_allclose(full.discharge_m3s / design.discharge_m3s, 18000.0 / design.peak_m3s)
    cut, crest_cut = member_hydrograph(p, (6.0, 3.0))
    assert cut.duration_s == 9 * 3600 and crest_cut == 6 * 3600 and cut.peak_m3s == pytest.approx(18000.0)
    assert cut.discharge_at(0.0) == pytest.approx(full.discharge_at(30 * 3600.0))
    b = member_breaches(MemberParams("m1", None, None, 18000.0, "design",
                                     ({"chainage_m": 5500.0, "bank": "left", "start_after_crest_h": -2.0,
                                       "final_width_m": 200.0, "time_to_full_h": 1.0},)), crest_cut)
    assert b[0].start_h == 4.0 and b[0].bank == "left"
    with pytest.raises(InputError, match="m1: breach at 5,500 m left opens -7 h after the crest, before the run starts"):
        member_breaches(MemberParams("m1", None, None, 18000.0, "design",
                                     ({"chainage_m": 5500.0, "bank": "left", "start_after_crest_h": -7.0,
                                       "final_width_m": 200.0, "time_to_full_h": 1.0},)), crest_cut)


def test_member_roughness_reaches_the_1d_sections_and_the_2d_floodplain(tmp_path):
    from floodtwin.hydraulics.sections import load_calibration, sections_from_reach
    from floodtwin.reach import load_reach

    reach = load_reach("huayuankou", resolution_m=100)
    calibrated = load_calibration(reach)
    same = member_reach(reach, MemberParams("m1", None, None, 20000.0, "design"), tmp_path)
    assert same is reach and not any(tmp_path.iterdir())
    mine = member_reach(reach, MemberParams("m1", 0.0111, 0.0444, 20000.0, "design"), tmp_path)
    assert load_calibration(mine) == {**calibrated, "channel_n": 0.0111, "floodplain_n": 0.0444}
    rough = sections_from_reach(mine).roughness
    assert np.all(rough[:, 1] == 0.0111) and np.all(rough[:, [0, 2]] == 0.0444)  # the 2D n is rough[0, 0]
    assert np.all(sections_from_reach(reach).roughness[:, 1] == calibrated["channel_n"])  # the reach itself unchanged


def test_cell_statistics_against_hand_counts():
    nan = np.nan
    depth = np.array([[[0.0, 0.5, nan]], [[0.2, 1.5, nan]], [[0.4, 2.5, nan]], [[0.31, 0.9, nan]]], dtype=np.float32)
    hazard = np.array([[[0, 2, 0]], [[0, 3, 0]], [[1, 4, 0]], [[1, 2, 0]]], dtype=np.int8)
    s = cell_statistics(depth, hazard)
    np.testing.assert_allclose(s["prob_depth_gt_0_3m"][0], [0.5, 1.0, nan])
    np.testing.assert_allclose(s["prob_depth_gt_1_0m"][0], [0.0, 0.5, nan])
    # median of (0, 0.2, 0.31, 0.4) and of (0.5, 0.9, 1.5, 2.5): halfway between the middle two
    np.testing.assert_allclose(s["depth_q50"][0], [0.255, 1.2, nan], rtol=1e-6)
    # 5 %: position 0.05 * 3 = 0.15 between the two smallest; 95 %: 2.85 between the two largest
    np.testing.assert_allclose(s["depth_q05"][0], [0.03, 0.5 + 0.15 * 0.4, nan], rtol=1e-6)
    np.testing.assert_allclose(s["depth_q95"][0], [0.31 + 0.85 * 0.09, 1.5 + 0.85 * 1.0, nan], rtol=1e-6)
    np.testing.assert_allclose(s["prob_hazard_significant"][0], [0.0, 0.5, nan])
    bad = depth.copy()
    bad[1, 0, 0] = nan
    with pytest.raises(Exception, match="differ in which cells"):
        cell_statistics(bad, hazard)


def test_row_bands_cover_every_row_within_the_memory_budget():
    bands = row_bands(170, 285, 200, band_bytes=4 * 200 * 285 * 7)
    assert bands[0] == (0, 7) and bands[-1] == (168, 170)
    assert [r for a, b in bands for r in range(a, b)] == list(range(170))
    assert row_bands(5, 10, 3) == [(0, 5)]


def test_village_and_dike_probabilities_from_the_members_tables(tmp_path):
    for name, flooded, hazard, fb in (("m1", [True, False], ["low", "dry"], [0.5, 2.0]),
                                      ("m2", [True, False], ["extreme", "dry"], [1.5, 2.0]),
                                      ("m3", [False, True], ["dry", "moderate"], [0.9, -0.1]),
                                      ("m4", [True, False], ["low", "dry"], [3.0, 1.0])):
        (tmp_path / name).mkdir()
        (tmp_path / name / "villages.csv").write_text(
            "village_id,flooded,hazard_class,max_depth_m\n"
            + "".join(f"{v},{f},{h},{1.0 if f else 0.0}\n" for v, f, h in zip(("V1", "V2"), flooded, hazard)))
        (tmp_path / name / "dikes.csv").write_text("segment_id,freeboard_m\n" + "".join(
            f"{s},{x}\n" for s, x in zip(("L-1", "R-1"), fb)))
    v = village_table(tmp_path, ["m1", "m2", "m3", "m4"]).set_index("village_id")
    assert v.loc["V1", "prob_flooded"] == 0.75 and v.loc["V2", "prob_flooded"] == 0.25
    assert v.loc["V1", "prob_low"] == 0.5 and v.loc["V1", "prob_extreme"] == 0.25 and v.loc["V1", "prob_dry"] == 0.25
    assert v.loc["V2", "prob_moderate"] == 0.25 and v.loc["V2", "depth_median_m"] == 0.0
    d = dike_table(tmp_path, ["m1", "m2", "m3", "m4"]).set_index("segment_id")
    assert d.loc["L-1", "prob_freeboard_lt_1m"] == 0.5 and d.loc["R-1", "prob_freeboard_lt_1m"] == 0.25  # 1.0 is not < 1
    assert d.loc["L-1", "freeboard_median_m"] == 1.2


def test_breaches_off_the_dikes_or_outside_a_run_are_refused_before_any_member_runs():
    from floodtwin.reach import load_reach
    from floodtwin.scenario.ensemble.run import check_breaches_on_reach

    spec = load_ensemble_spec(SMALL)
    reach = load_reach("huayuankou", resolution_m=100)
    ok = sample_members(spec, load_scenario(spec.base_scenario))
    check_breaches_on_reach(spec, reach, ok)

    def gap(after_h):
        return MemberParams("m0009", None, None, 20000.0, "design", ({"chainage_m": 5000.0, "bank": "left",
                            "start_after_crest_h": after_h, "final_width_m": 200.0, "time_to_full_h": 1.0},))

    with pytest.raises(InputError, match="m0009: breach at 5,000 m left opens -7 h after the crest, before the run"):
        check_breaches_on_reach(spec, reach, [gap(-7.0)])  # the window starts 6 h before the crest
    with pytest.raises(InputError, match="member m0009's breach opens at 9 h, at or after the end of its run .9 h"):
        check_breaches_on_reach(spec, reach, [gap(3.0)])
    far = spec.parameters.breach.chainage_m.model_copy(update={"high": 30000.0})
    wide = spec.model_copy(update={"parameters": spec.parameters.model_copy(
        update={"breach": spec.parameters.breach.model_copy(update={"chainage_m": far})})})
    with pytest.raises(InputError, match="breach.chainage_m: draws from 4,000 to 30,000 m leave the left dike .0–27,000 m"):
        check_breaches_on_reach(wide, reach, ok)
