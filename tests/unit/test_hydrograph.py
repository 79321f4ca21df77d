"""hydrograph: the design wave's shape, its fit to the 1958 flood, scaling to a peak, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from floodtwin.errors import ConfigError, InputError
from floodtwin.hydrograph import (design_hydrograph, fit_shape_exponent, gamma_shape, hours_above,
                                  load_scenario_spec)


@pytest.fixture(scope="module")
def spec():
    return load_scenario_spec().hydrograph


def test_unit_shape_peaks_at_one_at_the_time_to_peak():
    t = np.linspace(0.0, 200.0, 2001)
    g = gamma_shape(t, 50.0, 3.0)
    assert g[0] == 0.0 and g.max() == 1.0 and t[np.argmax(g)] == 50.0
    assert np.all(np.diff(g[t <= 50.0]) > 0) and np.all(np.diff(g[t >= 50.0]) < 0)


def test_fitted_shape_keeps_the_reference_hours_above_the_threshold(spec):
    m = fit_shape_exponent(spec)
    hours = hours_above(float(spec.reference_threshold_m3s.value), float(spec.reference_peak_m3s.value),
                        float(spec.base_discharge_m3s.value), float(spec.time_to_peak_h.value), m)
    # the count runs on a grid of 40 tp / 400,000 steps: one step is the resolution
    step_h = 40 * float(spec.time_to_peak_h.value) / 400_000
    assert hours == pytest.approx(float(spec.reference_hours_above.value), abs=2 * step_h), \
        "hours_above counts grid steps of 40 tp / 400,000: two steps is its resolution"


def test_design_wave_is_scaled_to_the_peak(spec):
    h = design_hydrograph(22000, spec)
    assert h.peak_m3s == pytest.approx(22000, rel=1e-3), "600 s sampling of the wave may miss the crest by < 0.1 %"
    assert h.times_s[0] == 0.0 and np.all(np.diff(h.times_s) == 600.0)
    assert h.times_s[-1] == pytest.approx(float(spec.duration_h.value) * 3600.0), "the run lasts duration_h"
    assert h.discharge_m3s[0] == pytest.approx(float(spec.base_discharge_m3s.value)), "the wave starts at base flow"


def test_small_peak_caps_the_base_flow_below_it(spec):
    small = 0.5 * float(spec.base_discharge_m3s.value)  # below the base flow of the design wave
    h = design_hydrograph(small, spec)
    assert h.discharge_m3s[0] == pytest.approx(0.5 * small), "base flow capped at half the peak"
    assert h.peak_m3s == pytest.approx(small, rel=1e-3), "600 s sampling of the wave may miss the crest by < 0.1 %"


@pytest.mark.parametrize("peak, words", [
    (0.0, "peak discharge 0.0 m³/s: expected a finite number > 0"),
    (float("nan"), "peak discharge nan m³/s"),
    (1e6, "at most 100,000 m³/s"),
    (True, "not a number of m³/s"),
])
def test_bad_peaks_are_refused(spec, peak, words):
    with pytest.raises(InputError, match=words):
        design_hydrograph(peak, spec)


def test_bad_scenario_file_names_file_line_and_key(tmp_path):
    from floodtwin.hydrograph import default_scenario_path

    text = default_scenario_path().read_text(encoding="utf-8")
    assert "\nhydrograph:\n" in text
    bad = text.replace("\nhydrograph:\n", "\nhydrograph:\n  colour: red\n")
    line = bad.splitlines().index("  colour: red") + 1
    path = tmp_path / "design.yaml"
    path.write_text(bad, encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"design\.yaml:{line}: hydrograph.colour: unknown key"):
        load_scenario_spec(path)


# ------------------------------------------------------------------------------------------------
# Hydrograph: its checks and its exact hours above a threshold

from floodtwin.hydrograph import (BreachSpec, Hydrograph, list_scenarios, load_scenario, parse_breach,  # noqa: E402
                                  read_hydrograph_csv, scenario_dir)


def test_hours_above_finds_the_crossings_of_a_linear_series_exactly():
    # a triangle 0 -> 10 h: 0 -> 1000 -> 0 m³/s; above 500 from 2.5 h to 7.5 h
    h = Hydrograph(np.array([0.0, 5.0, 10.0]) * 3600.0, np.array([0.0, 1000.0, 0.0]))
    assert h.hours_above(500.0) == pytest.approx(5.0, abs=1e-12)
    assert h.hours_above(1000.0) == 0.0 and h.hours_above(-1.0) == pytest.approx(10.0)
    assert h.discharge_at(2.5 * 3600.0) == pytest.approx(500.0)


@pytest.mark.parametrize("t, q, words", [
    ([0.0], [1.0], "1 sample"),
    ([0.0, 10.0, 10.0], [1.0, 2.0, 3.0], "start at 0 and increase"),
    ([5.0, 10.0], [1.0, 2.0], "start at 0 and increase"),
    ([0.0, 10.0], [1.0, -2.0], r"discharge at 0.00277778 h -2.0 m³/s: expected a finite number >= 0"),
    ([0.0, 10.0], [1.0, 2.0, 3.0], "must be 1-D of one length"),
])
def test_hydrograph_refuses_bad_arrays(t, q, words):
    with pytest.raises(InputError, match=words):
        Hydrograph(np.array(t), np.array(q))


# ------------------------------------------------------------------------------------------------
# Scenario files: each loads and holds the facts docs/reach.md states for it

SHIPPED = ["1958", "1982", "2021-autumn", "bankfull", "breach-left", "breach-right", "design"]


def test_the_shipped_scenarios_are_listed_and_named_after_their_files():
    assert list_scenarios() == SHIPPED
    for name in SHIPPED:
        s = load_scenario(name)
        assert s.name == name and s.path == scenario_dir() / f"{name}.yaml"
        assert s.title_en and s.title_zh and s.sources, f"{name}: titles and sources are required"
        assert all(src.startswith(("[S]", "[D]", "[E]")) for src in s.sources), f"{name}: each source is labelled"
        assert np.all(np.diff(s.hydrograph.times_s) <= 600.0 + 1e-9), f"{name}: sampled at 10 min or finer"


def test_design_scenario_is_the_22000_design_flood():
    s = load_scenario("design")
    assert s.hydrograph.peak_m3s == pytest.approx(22000, rel=1e-3), "docs/reach.md §2: design flood 22,000 m³/s"
    assert s.breaches == ()
    # the design wave is the 1958 shape (79 h above 10,000 m³/s at 22,300): scaled to 22,000 it is a little shorter
    assert 75.0 < s.hydrograph.hours_above(10000) < 79.0


def test_1958_holds_its_three_published_facts():
    h = load_scenario("1958").hydrograph
    assert h.peak_m3s == 22300.0, "docs/reach.md §2: 1958 peak 22,300 m³/s"
    assert h.hours_above(10000.0) == pytest.approx(79.0, abs=1e-9), "docs/reach.md §2: above 10,000 m³/s for 79 h"
    assert h.hours_above(22300.0 - 1.0) == pytest.approx(2.5, abs=0.01), "docs/reach.md §2: the crest held 2.5 h"
    at_crest = np.flatnonzero(h.discharge_m3s == 22300.0)
    assert np.all(np.diff(at_crest) == 1), "one crest: the 2.5 h at the peak are one stretch"
    assert np.all(np.diff(h.discharge_m3s[: at_crest[0] + 1]) > 0), "the wave rises to the crest"
    assert np.all(np.diff(h.discharge_m3s[at_crest[-1]:]) < 0), "and falls from it"


@pytest.mark.parametrize("name, peak", [("1982", 15300.0), ("bankfull", 6500.0)])
def test_peak_scenarios_scale_the_design_shape(name, peak):
    h = load_scenario(name).hydrograph
    design = load_scenario("design").hydrograph
    assert h.peak_m3s == pytest.approx(peak, rel=1e-3), f"docs/reach.md §2: {name} peak {peak:,.0f} m³/s"
    assert h.time_of_peak_s == design.time_of_peak_s and h.duration_s == design.duration_s
    assert h.discharge_m3s[0] == design.discharge_m3s[0], "same base flow (below half the peak, not capped)"


def test_2021_autumn_holds_4900_for_15_days():
    h = load_scenario("2021-autumn").hydrograph
    assert h.peak_m3s == 4900.0, "docs/reach.md §2: about 4,900 m³/s"
    assert h.hours_above(4900.0 - 1.0) == pytest.approx(15 * 24.0, abs=0.1), "held about 15 days"
    assert h.duration_s == 456 * 3600.0, "the run: 48 h rise + 360 h held + 48 h fall"
    # the rise stays within the largest day-to-day change at HYK in the YRCC data (2,235 m³/s a day)
    rate_per_day = np.abs(np.diff(h.discharge_m3s) / np.diff(h.times_s)) * 86400.0
    assert rate_per_day.max() <= 2235.0


def test_breach_scenarios_break_each_bank_at_the_crest_of_the_design_flood():
    from floodtwin.reach import load_reach

    reach = load_reach("huayuankou")
    design = load_scenario("design").hydrograph
    right = load_scenario("breach-right")
    left = load_scenario("breach-left")
    np.testing.assert_array_equal(right.hydrograph.discharge_m3s, design.discharge_m3s)
    np.testing.assert_array_equal(left.hydrograph.discharge_m3s, design.discharge_m3s)
    (br,), (bl,) = right.breaches, left.breaches
    assert br.bank == "right" and bl.bank == "left"
    for b in (br, bl):
        assert b.start_h * 3600.0 == design.time_of_peak_s, "opens at the crest"
        assert 0.0 <= b.chainage_m <= reach.params.reach.length_m.value
    works = reach.works.set_index("works_id")
    assert works.loc["HYK", "chainage_from_m"] < br.chainage_m < works.loc["HYK", "chainage_to_m"], \
        "the right breach lies in the Huayuankou works (docs/reach.md §3: 6+663 to 16+738)"
    assert not (reach.works["bank"] == "left").any(), "no left-bank works: the left breach is placed on the dike"
    d = reach.dikes[reach.dikes["bank"] == "left"]
    head_m = d["design_flood_level_m"] - d["toe_elevation_m"]
    deepest = d.loc[head_m.idxmax()]
    assert deepest["chainage_from_m"] <= bl.chainage_m < deepest["chainage_to_m"], \
        "the left breach is where the water stands deepest against the left dike at the design flood level"


# ------------------------------------------------------------------------------------------------
# Scenario names and files: one line naming the problem and the place


def test_unknown_scenario_lists_the_known_ones():
    with pytest.raises(InputError, match=r"--scenario '1999': unknown scenario; known: 1958, 1982, 2021-autumn, "
                                         r"bankfull, breach-left, breach-right, design"):
        load_scenario("1999")


def test_scenario_by_path_and_missing_path(tmp_path):
    s = load_scenario(str(scenario_dir() / "1982.yaml"))
    assert s.name == "1982" and s.hydrograph.peak_m3s == pytest.approx(15300, rel=1e-3)
    with pytest.raises(InputError, match=r"--scenario .*nope\.yaml: file not found"):
        load_scenario(str(tmp_path / "nope.yaml"))


def _scenario(tmp_path, text: str):
    path = tmp_path / "case.yaml"
    path.write_text(text, encoding="utf-8")
    return path


HEAD = 'name: case\ntitle_en: "a case"\ntitle_zh: "案例"\nsources: ["[E] a test"]\n'


@pytest.mark.parametrize("body, line, words", [
    ("peak_m3s: {value: 5000, unit: m3/s, source: S}\n", None,
     "expected a series, or peak_m3s with hydrograph or hydrograph_from"),
    ("hydrograph_from: design\n", None, "the design shape needs a peak_m3s to scale it to"),
    ("peak_m3s: {value: 5000, unit: m3/s, source: S}\nhydrograph_from: design\nseries: []\n", None,
     "an explicit series takes no peak_m3s, hydrograph or hydrograph_from"),
    ("peak_m3s: {value: 5000, unit: m3/s, source: S}\nhydrograph_from: nowhere\n", None,
     "hydrograph_from: unknown scenario 'nowhere'; known: 1958"),
    ("peak_m3s: {value: 5000, unit: km3/s, source: S}\nhydrograph_from: design\n", 5,
     "peak_m3s: Value error, peak_m3s: unit 'km3/s', expected 'm3/s'"),
    ("peak_m3s: {value: 500000, unit: m3/s, source: S}\nhydrograph_from: design\n", 5,
     "peak_m3s: Value error, peak_m3s: 500000 m3/s, expected at most 100,000"),
    ("series:\n  - {time_h: 0, discharge_m3s: 100, source: E}\n  - {time_h: 5, discharge_m3s: 'lots', source: E}\n",
     7, "series.1.discharge_m3s: Input should be a valid number"),
    ("series:\n  - {time_h: 0, discharge_m3s: 100, source: E}\n  - {time_h: 5, discharge_m3s: -3, source: E}\n",
     7, r"series.1.discharge_m3s: Value error, expected a finite number in \[0, 100,000\] m3/s, got -3.0"),
    ("series:\n  - {time_h: 0, discharge_m3s: 100, source: E}\n  - {time_h: 0, discharge_m3s: 200, source: E}\n",
     7, "series.1.time_h: 0 h is not after the point before"),
    ("series:\n  - {time_h: 2, discharge_m3s: 100, source: E}\n  - {time_h: 5, discharge_m3s: 200, source: E}\n",
     6, "series.0.time_h: the first point is at 2 h, expected 0"),
    ("series:\n  - {time_h: 0, discharge_m3s: 100, source: X}\n  - {time_h: 5, discharge_m3s: 200, source: E}\n",
     6, "series.0.source: Input should be 'S', 'D' or 'E'"),
    ("peak_m3s: {value: 5000, unit: m3/s, source: S}\nhydrograph_from: design\nbreaches:\n"
     "  - {chainage_m: {value: 100, unit: m, source: E}, bank: up, start_h: {value: 1, unit: h, source: E}, note: x}\n",
     8, "breaches.0.bank: Input should be 'left' or 'right'"),
    ("peak_m3s: {value: 5000, unit: m3/s, source: S}\nhydrograph_from: design\nbreaches:\n"
     "  - {chainage_m: {value: -100, unit: m, source: E}, bank: left, start_h: {value: 1, unit: h, source: E}, note: x}\n",
     8, "breaches.0.chainage_m: Value error, chainage_m: -100 m, expected >= 0"),
    ("peak_m3s: {value: 5000, unit: m3/s, source: S}\nhydrograph_from: design\nbreaches:\n"
     "  - chainage_m: {value: 100, unit: m, source: E}\n    bank: left\n    note: x\n"
     "    start_h: {value: 500, unit: h, source: E}\n",
     11, "breaches.0.start_h: 500 h is not before the end of the run .96 h."),
])
def test_bad_scenario_files_name_the_line_and_the_key(tmp_path, body, line, words):
    path = _scenario(tmp_path, HEAD + body)
    where = rf"case\.yaml:{line}: " if line else r"case\.yaml: "
    with pytest.raises(ConfigError, match=where + ".*" + words):
        load_scenario(str(path))


def test_scenario_without_sources_is_refused(tmp_path):
    path = _scenario(tmp_path, 'name: case\ntitle_en: a\ntitle_zh: b\nsources: []\n'
                               'peak_m3s: {value: 5000, unit: m3/s, source: S}\nhydrograph_from: design\n')
    with pytest.raises(ConfigError, match=r"case\.yaml:4: sources: Value error, name the sources"):
        load_scenario(str(path))


def test_explicit_series_is_interpolated_on_ten_minutes_keeping_its_points(tmp_path):
    path = _scenario(tmp_path, HEAD + "series:\n  - {time_h: 0, discharge_m3s: 1000, source: E}\n"
                     "  - {time_h: 1.25, discharge_m3s: 3500, source: E}\n  - {time_h: 2, discharge_m3s: 2000, source: E}\n")
    h = load_scenario(str(path)).hydrograph
    np.testing.assert_allclose(h.times_s / 60.0, [0, 10, 20, 30, 40, 50, 60, 70, 75, 80, 90, 100, 110, 120])
    assert h.peak_m3s == 3500.0 and h.time_of_peak_s == 75 * 60.0, "the 1 h 15 min crest is not cut off"
    assert h.discharge_at(30 * 60.0) == pytest.approx(1000 + 2500 * 0.4)


# ------------------------------------------------------------------------------------------------
# --breach CHAINAGE_M[:left|right][@HOURS]

@pytest.mark.parametrize("text, chainage_m, bank, start_h", [
    ("12500", 12500.0, "right", 0.0),
    ("12500:left", 12500.0, "left", 0.0),
    ("12500:right@30", 12500.0, "right", 30.0),
    ("12500@30.5", 12500.0, "right", 30.5),
    (" 12500 : Left @ 2 ", 12500.0, "left", 2.0),
    ("12+500:left@6", 12500.0, "left", 6.0),
    ("0", 0.0, "right", 0.0),
])
def test_parse_breach(text, chainage_m, bank, start_h):
    assert parse_breach(text) == BreachSpec(chainage_m=chainage_m, bank=bank, start_h=start_h)


@pytest.mark.parametrize("text, words", [
    ("", r"--breach '': empty, expected CHAINAGE_M\[:left\|right\]\[@HOURS\]"),
    ("abc", r"--breach 'abc': chainage 'abc' is not a number"),
    ("-200", r"--breach '-200': chainage -200 m is negative, expected >= 0 m"),
    ("nan", r"--breach 'nan': chainage 'nan' is not a finite number"),
    ("12500:up", r"--breach '12500:up': bank 'up': expected left or right"),
    ("12500:", r"--breach '12500:': bank '': expected left or right"),
    ("12500@-3", r"--breach '12500@-3': hours -3 h is negative, expected >= 0 h"),
    ("12500@soon", r"--breach '12500@soon': hours 'soon' is not a number"),
    ("12500@", r"--breach '12500@': hours is empty"),
    ("12500:left:right", r"--breach '12500:left:right': expected CHAINAGE_M"),
    ("12500@1@2", r"--breach '12500@1@2': expected CHAINAGE_M"),
])
def test_bad_breach_texts_name_the_option_and_the_part(text, words):
    with pytest.raises(InputError, match=words):
        parse_breach(text)


def test_breach_option_name_is_the_callers():
    with pytest.raises(InputError, match=r"^-b 'x': chainage"):
        parse_breach("x", option="-b")


@pytest.mark.parametrize("kwargs, words", [
    ({"chainage_m": 100.0, "bank": "north"}, "breach bank 'north': expected left or right"),
    ({"chainage_m": -1.0}, "breach chainage_m -1.0: expected a finite number >= 0"),
    ({"chainage_m": 100.0, "final_width_m": 0.0}, "breach final_width_m 0.0: expected a finite number > 0"),
    ({"chainage_m": 100.0, "start_h": float("inf")}, "breach start_h inf"),
])
def test_breach_spec_checks_itself(kwargs, words):
    with pytest.raises(InputError, match=words):
        BreachSpec(**kwargs)


# ------------------------------------------------------------------------------------------------
# Hydrograph CSV files

def _csv(tmp_path, text: str, name: str = "flood.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_with_hours(tmp_path):
    path = _csv(tmp_path, "# HYK forecast, issued 08:00\ntime_h,discharge_m3s,stage_m\n0,2000,90.1\n\n"
                          "6,5000.5,91\n12,3000,90.5\n")
    h = read_hydrograph_csv(path)
    np.testing.assert_array_equal(h.times_s, [0.0, 21600.0, 43200.0])
    np.testing.assert_array_equal(h.discharge_m3s, [2000.0, 5000.5, 3000.0])


def test_csv_with_iso_times_counts_seconds_from_the_first(tmp_path):
    path = _csv(tmp_path, "\ufefftime,discharge_m3s\n2021-09-27T08:00+08:00,4000\n2021-09-27T14:30+08:00,4500\n"
                          "2021-09-28T00:00Z,4900\n")
    h = read_hydrograph_csv(path)
    np.testing.assert_array_equal(h.times_s, [0.0, 6.5 * 3600.0, 24 * 3600.0])  # 00:00Z is 08:00+08:00


@pytest.mark.parametrize("text, words", [
    ("time_h,discharge_m3s\n0,100\n1,abc\n", r"flood\.csv:3: column discharge_m3s: 'abc' is not a number"),
    ("time_h,discharge_m3s\n0,100\nsoon,200\n", r"flood\.csv:3: column time_h: 'soon' is not a number"),
    ("time_h,discharge_m3s\n0,100\n1,\n", r"flood\.csv:3: column discharge_m3s: empty cell"),
    ("time_h,discharge_m3s\n0,100\n1,-5\n", r"flood\.csv:3: column discharge_m3s -5.0 m³/s: expected a finite number >= 0"),
    ("time_h,discharge_m3s\n0,100\n1,nan\n", r"flood\.csv:3: column discharge_m3s: 'nan' is not a finite number"),
    ("time_h,discharge_m3s\n0,100\n1,inf\n", r"flood\.csv:3: column discharge_m3s: 'inf' is not a finite number"),
    ("time_h,discharge_m3s\n0,100\n1,250000\n",
     r"flood\.csv:3: column discharge_m3s 250000.0 m³/s: expected a finite number >= 0 and at most 100,000 m³/s"),
    ("time_h,discharge_m3s\n0,100\n2,200\n1,300\n", r"flood\.csv:4: column time_h: '1' is before the time of line 3"),
    ("time_h,discharge_m3s\n0,100\n2,200\n2,300\n", r"flood\.csv:4: column time_h: '2' repeats the time of line 3"),
    ("time,discharge_m3s\n2021-09-27T08:00,1\n2021-09-27T08:00,2\n",
     r"flood\.csv:3: column time: '2021-09-27T08:00' repeats the time of line 2"),
    ("time,discharge_m3s\n2021-09-27T08:00,1\n27/09/2021 09:00,2\n",
     r"flood\.csv:3: column time: '27/09/2021 09:00' is not an ISO-8601 date and time"),
    ("time,discharge_m3s\n2021-09-27T08:00,1\n2021-09-27T09:00+08:00,2\n",
     r"flood\.csv:3: column time: .* must both have a UTC offset or both have none"),
    ("time_h,discharge_m3s\n3,100\n4,200\n", r"flood\.csv:2: column time_h: the first time is 3 h, expected 0"),
    ("time_h,flow\n0,100\n1,200\n", r"flood\.csv:1: missing column discharge_m3s; the header has: time_h, flow"),
    ("t,discharge_m3s\n0,100\n1,200\n", r"flood\.csv:1: missing column time_h \(or time\); the header has: t, discharge"),
    ("time_h;discharge_m3s\n0;100\n", r"flood\.csv:1: missing column time_h \(or time\); the header has: time_h;disch"),
    ("time_h,time,discharge_m3s\n0,2021-01-01,1\n", r"flood\.csv:1: both time_h and time columns"),
    ("time_h,discharge_m3s,time_h\n0,1,0\n", r"flood\.csv:1: column time_h appears twice"),
    ("time_h,discharge_m3s\n", r"--hydrograph .*flood\.csv: no data rows after the header \(line 1\)"),
    ("# only a comment\n\n", r"--hydrograph .*flood\.csv: no header line"),
    ("time_h,discharge_m3s\n0,100\n", r"flood\.csv:2: only one data row"),
    ("time_h,discharge_m3s\n0,100\n1,200,7\n", r"flood\.csv:3: 3 cells, the header \(line 1\) has 2"),
])
def test_bad_csv_gives_one_line_naming_the_line_and_the_column(tmp_path, text, words):
    with pytest.raises(InputError, match=words) as info:
        read_hydrograph_csv(_csv(tmp_path, text))
    assert "\n" not in str(info.value)


def test_csv_file_problems_name_the_option_and_the_path(tmp_path):
    with pytest.raises(InputError, match=r"--hydrograph .*missing\.csv: file not found"):
        read_hydrograph_csv(tmp_path / "missing.csv")
    with pytest.raises(InputError, match=r"--hydrograph .*empty\.csv: file is empty"):
        read_hydrograph_csv(_csv(tmp_path, "", "empty.csv"))
    with pytest.raises(InputError, match=r"--hydrograph .*: is a directory"):
        read_hydrograph_csv(tmp_path)
    binary = tmp_path / "flood.xlsx"
    binary.write_bytes(b"PK\x03\x04\xff\xfe\x00junk")
    with pytest.raises(InputError, match=r"--hydrograph .*flood\.xlsx: not UTF-8 text \(byte 4"):
        read_hydrograph_csv(binary)
    with pytest.raises(InputError, match=r"^--flow .*missing\.csv: file not found"):
        read_hydrograph_csv(tmp_path / "missing.csv", option="--flow")
