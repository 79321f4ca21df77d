"""Response tiers: boundaries, hysteresis, triggers, and walks over real Huayuankou seasons."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from floodtwin.errors import DataError, InputError
from floodtwin.preplan import Danger, FlowState, Preplan, RiskFacts
from floodtwin.preplan.timeline import FlowRow, changes, read_flows, walk

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "preplans"
T0 = datetime(2021, 9, 27, 8, 0)


@pytest.mark.parametrize("q, tier, colour", [
    (0, "normal", "green"), (3999, "normal", "green"), (4000, "IV", "blue"), (5999, "IV", "blue"),
    (6000, "III", "yellow"), (9999, "III", "yellow"), (10000, "II", "orange"), (14999, "II", "orange"),
    (15000, "I", "red"), (22000, "I", "red"), (22300, "I", "red"),
])
def test_tier_boundaries(plan, q, tier, colour):
    d = plan.decide(q)
    assert (d.tier, d.colour, d.flow_tier) == (tier, colour, tier)
    assert d.discharge_m3s == q
    assert d.trigger == "discharge"


def test_forecast_raises_the_tier_and_says_so(plan):
    d = plan.evaluate(FlowState(observed_m3s=3500, forecast_m3s=6200))
    assert d.tier == "III" and d.trigger == "forecast" and "forecast 6,200" in d.reason
    # a forecast below the observed flow changes nothing
    d = plan.evaluate(FlowState(observed_m3s=6500, forecast_m3s=3000))
    assert d.tier == "III" and d.trigger == "discharge"
    # forecast only
    assert plan.evaluate(FlowState(forecast_m3s=12000)).tier == "II"
    # a higher forecast in the observed flow's tier: the reason names the observed flow and its value, not the
    # forecast's value labelled "observed" (as an alert run on 2019-06-30 printed: 4,174 for an observed 4,160)
    d = plan.evaluate(FlowState(observed_m3s=4160, forecast_m3s=4174))
    assert d.tier == "IV" and "observed 4,160" in d.reason and "4,174" not in d.reason
    assert "实测流量4,160" in d.reason_zh


def _walk(plan, flows, step_h=1.0, **state):
    """Evaluate a sequence of discharges at a fixed step, carrying the decision over."""
    prev, out = None, []
    for i, q in enumerate(flows):
        prev = plan.evaluate(FlowState(observed_m3s=q, time=T0 + timedelta(hours=i * step_h), previous=prev,
                                       **state))
        out.append(prev)
    return out


def test_escalation_is_immediate(plan):
    tiers = [d.tier for d in _walk(plan, [3000, 4100, 6500, 16000])]
    assert tiers == ["normal", "IV", "III", "I"]


def test_dip_within_the_margin_does_not_de_escalate(plan):
    # III starts at 6,000: the stand-down level is 5,700 (5 % margin); 5,800 for 12 h keeps III
    ds = _walk(plan, [6500] + [5800] * 12)
    assert {d.tier for d in ds} == {"III"}
    assert ds[-1].trigger == "hold" and "5,700" in ds[-1].reason
    assert ds[-1].flow_tier == "IV"


def test_short_dip_below_the_margin_does_not_de_escalate(plan):
    # 5 hours below 5,700 (less than the 6 h hold), then up again: III throughout, the clock resets
    ds = _walk(plan, [6500] + [5000] * 6 + [6100] + [5000] * 3)
    assert {d.tier for d in ds} == {"III"}
    assert ds[6].below_since == T0 + timedelta(hours=1)
    assert ds[7].below_since is None
    assert ds[-1].below_since == T0 + timedelta(hours=8)


def test_sustained_fall_de_escalates_after_the_hold(plan):
    ds = _walk(plan, [6500] + [5000] * 8)
    tiers = [d.tier for d in ds]
    # below from hour 1; 6 h later (hour 7) the tier steps down to the one the flow holds
    assert tiers == ["III"] * 7 + ["IV", "IV"]
    assert ds[7].trigger == "stand_down" and "from III to IV" in ds[7].reason
    assert ds[7].reason_zh.startswith("由III级降为Ⅳ级应急响应")
    assert "未满6小时" in ds[3].reason_zh


def test_fall_from_i_goes_to_the_tier_the_flow_holds(plan):
    ds = _walk(plan, [22000, 3000, 3000, 3000, 3000, 3000, 3000, 3000])
    assert [d.tier for d in ds] == ["I"] * 7 + ["normal"]


def test_fall_over_several_tiers_steps_down_as_each_hold_allows(plan):
    # 12,000 (II) for 3 h, then 3,000: I may go after 6 h under 14,250 (hour 7), but the flow has been
    # under II's 9,500 only since hour 4, so II first, and normal once that is 6 h old (hour 10)
    ds = _walk(plan, [22000] + [12000] * 3 + [3000] * 8)
    assert [d.tier for d in ds] == ["I"] * 7 + ["II"] * 3 + ["normal"] * 2
    assert ds[7].trigger == "stand_down" and "from I to II" in ds[7].reason
    assert "II held: below 9,500 m³/s for 3 h of 6 h" in ds[7].reason
    assert "Ⅱ级应急响应维持" in ds[7].reason_zh
    assert ds[7].below_since == T0 + timedelta(hours=4)
    assert dict(ds[7].below_since_by_tier) == {t: T0 + timedelta(hours=4) for t in ("IV", "III", "II")}
    assert ds[8].trigger == "hold" and ds[10].trigger == "stand_down" and "from II to normal" in ds[10].reason
    assert ds[10].below_since is None and ds[10].below_since_by_tier == ()


def test_a_rise_inside_the_hold_restarts_only_the_clocks_it_crosses(plan):
    # from II: 5,000 for 3 h (under II's 9,500 and III's 5,700), 7,000 for 1 h (back over 5,700 only),
    # then 3,000: II's clock runs from hour 1, III's restarts at hour 5
    ds = _walk(plan, [12000] + [5000] * 3 + [7000] + [3000] * 7)
    assert [d.tier for d in ds] == ["II"] * 7 + ["III"] * 4 + ["normal"]
    assert dict(ds[3].below_since_by_tier) == {t: T0 + timedelta(hours=1) for t in ("III", "II")}
    assert dict(ds[4].below_since_by_tier) == {"II": T0 + timedelta(hours=1)}
    assert ds[7].trigger == "stand_down" and "III held: below 5,700 m³/s for 2 h of 6 h" in ds[7].reason
    assert ds[7].below_since == T0 + timedelta(hours=5)


def test_a_stored_decision_round_trips_through_json(plan):
    import json

    ds = _walk(plan, [22000] + [12000] * 3 + [3000] * 4)
    stored = json.loads(json.dumps(ds[-1].to_dict()))
    assert stored["below_since_by_tier"]["II"] == (T0 + timedelta(hours=4)).isoformat()
    from floodtwin.preplan import TierDecision

    back = TierDecision(**stored)
    assert back == ds[-1]
    # evaluating on from the stored decision gives what evaluating on from the live one gives
    nxt = FlowState(observed_m3s=3000, time=T0 + timedelta(hours=10), previous=back)
    assert plan.evaluate(nxt) == plan.evaluate(FlowState(observed_m3s=3000, time=T0 + timedelta(hours=10),
                                                         previous=ds[-1]))
    with pytest.raises(InputError, match="below_since: not an ISO 8601 time"):
        TierDecision(**{**stored, "below_since": "soon"})


def test_time_zones_must_not_be_mixed(plan):
    from datetime import timezone

    d = plan.evaluate(FlowState(observed_m3s=6500, time=T0))
    with pytest.raises(InputError, match="mix time-zone-aware and naive"):
        plan.evaluate(FlowState(observed_m3s=3000, time=T0.replace(tzinfo=timezone.utc) + timedelta(hours=1),
                                previous=d))


def test_stand_down_needs_times(plan):
    # without times the hold cannot be measured: the tier is kept
    prev = plan.decide(6500)
    d = plan.evaluate(FlowState(observed_m3s=1000, previous=prev))
    assert d.tier == "III" and d.trigger == "hold"


def test_duration_trigger_2021_like_long_flood(plan):
    # autumn 2021: about 4,800 m³/s for about 15 days (level III declared in Zhengzhou)
    ds = _walk(plan, [4800] * 16, step_h=24)
    tiers = [d.tier for d in ds]
    # more than 7 days above 4,000: day 8 onwards
    assert tiers == ["IV"] * 8 + ["III"] * 8
    assert ds[8].trigger == "duration" and "8.0 days" in ds[8].reason
    assert ds[8].reason_zh == "流量≥4,000 m³/s已持续8.0天（超过7天）"
    assert ds[8].above_since == T0
    # the flow falls to 3,500: the duration trigger ends, the stand-down waits for the hold
    more = [plan.evaluate(FlowState(observed_m3s=3500, time=ds[-1].time + timedelta(hours=h), previous=ds[-1]))
            for h in (1,)]
    assert more[0].tier == "III" and more[0].above_since is None
    later = plan.evaluate(FlowState(observed_m3s=3500, time=more[0].time + timedelta(hours=6), previous=more[0]))
    assert later.tier == "normal" and later.trigger == "stand_down"


def test_duration_resets_when_the_flow_drops_below_the_threshold(plan):
    flows = [4800] * 5 + [3900] + [4800] * 5
    ds = _walk(plan, flows, step_h=24)
    assert {d.tier for d in ds} == {"IV"}  # never more than 7 days in a row
    assert ds[5].above_since is None and ds[6].above_since == T0 + timedelta(days=6)


def test_duration_given_by_the_caller(plan):
    d = plan.evaluate(FlowState(observed_m3s=4800, duration_days=10))
    assert d.tier == "III" and d.trigger == "duration"
    assert plan.evaluate(FlowState(observed_m3s=4800, duration_days=7)).tier == "IV"


def test_works_danger_raises_to_ii(plan):
    danger = Danger(works_id="MD", kind="root_stone_loss", severity="major", source="stone", spur_id="MD-027")
    d = plan.evaluate(FlowState(observed_m3s=3000, dangers=(danger,)))
    assert d.tier == "II" and d.trigger == "works_danger"
    assert "works MD spur MD-027" in d.reason and "stone" in d.reason
    minor = Danger(works_id="MD", kind="seepage", severity="minor")
    assert plan.evaluate(FlowState(observed_m3s=3000, dangers=(minor,))).tier == "normal"
    # the flow tier wins when higher
    assert plan.evaluate(FlowState(observed_m3s=16000, dangers=(danger,))).tier == "I"


def test_danger_holds_the_tier_until_it_is_gone_and_the_hold_has_passed(plan):
    danger = Danger(works_id="HYK", kind="bank collapse")
    d1 = plan.evaluate(FlowState(observed_m3s=3000, time=T0, dangers=(danger,)))
    d2 = plan.evaluate(FlowState(observed_m3s=3000, time=T0 + timedelta(hours=3), dangers=(danger,), previous=d1))
    assert d2.tier == "II" and d2.below_since is None
    d3 = plan.evaluate(FlowState(observed_m3s=3000, time=T0 + timedelta(hours=4), previous=d2))
    d4 = plan.evaluate(FlowState(observed_m3s=3000, time=T0 + timedelta(hours=10), previous=d3))
    assert (d3.tier, d4.tier) == ("II", "normal")


def test_water_at_the_dike_toe_raises_to_iii(plan):
    risk = RiskFacts(segment_toe_depth_m={"R-010": 0.3, "R-011": 0.0})
    d = plan.evaluate(FlowState(observed_m3s=5000, risk=risk))
    assert d.tier == "III" and d.trigger == "dike_toe_water" and "R-010" in d.reason
    dry = RiskFacts(segment_toe_depth_m={"R-010": 0.0})
    assert plan.evaluate(FlowState(observed_m3s=5000, risk=dry)).tier == "IV"


def test_command_order(plan):
    d = plan.evaluate(FlowState(observed_m3s=2000, command_tier="II", command_note="rain forecast Sanmenxia-HYK"))
    assert d.tier == "II" and d.trigger == "command" and "rain forecast" in d.reason
    # an order never lowers the tier
    assert plan.evaluate(FlowState(observed_m3s=16000, command_tier="IV")).tier == "I"
    with pytest.raises(InputError, match="unknown tier 'V'"):
        plan.evaluate(FlowState(observed_m3s=2000, command_tier="V"))


def test_highest_trigger_wins_and_all_are_listed(plan):
    danger = Danger(works_id="SZ", kind="piping")
    d = plan.evaluate(FlowState(observed_m3s=4800, duration_days=9, dangers=(danger,)))
    assert d.tier == "II" and d.trigger == "works_danger"
    assert [a.split(":")[0] for a in d.active_triggers] == ["discharge", "duration", "works_danger"]


@pytest.mark.parametrize("state, words", [
    (FlowState(), "neither an observed nor a forecast"),
    (FlowState(observed_m3s=-5), "observed discharge -5.0 m³/s: expected a finite number >= 0"),
    (FlowState(observed_m3s=float("nan")), "observed discharge nan m³/s: expected a finite number >= 0"),
    (FlowState(forecast_m3s=1e6), r"forecast discharge 1000000.0 m³/s: .* at most 100,000 m³/s"),
])
def test_bad_flow_states(plan, state, words):
    with pytest.raises(InputError, match=words):
        plan.evaluate(state)


def test_time_must_not_go_backwards(plan):
    d = plan.evaluate(FlowState(observed_m3s=5000, time=T0))
    with pytest.raises(InputError, match="before the previous decision"):
        plan.evaluate(FlowState(observed_m3s=5000, time=T0 - timedelta(hours=1), previous=d))


def test_decision_to_dict_is_json_ready(plan):
    import json

    d = plan.evaluate(FlowState(observed_m3s=4800, time=T0))
    out = json.loads(json.dumps(d.to_dict()))
    assert out["tier"] == "IV" and out["time"] == T0.isoformat() and out["above_since"] == T0.isoformat()


# --- real seasons (fixtures extracted from the YRCC daily bulletin, data/yrcc/) ---------------
def test_timeline_2019_summer_real_data(plan):
    rows = read_flows(FIX / "hyk_2019_summer.csv")
    assert len(rows) == 108 and rows[0].time == datetime(2019, 6, 15, 8)
    found = [(r.time.date().isoformat(), d.tier, d.trigger) for r, d in changes(rows, walk(plan.model, rows))]
    assert found == [
        ("2019-06-15", "normal", "discharge"),
        ("2019-06-30", "IV", "discharge"),      # 4,160 m³/s
        ("2019-07-12", "normal", "stand_down"),  # 3,620 on 07-11 is below 3,800; held a day
        ("2019-08-07", "IV", "discharge"),      # 4,450
        ("2019-08-11", "normal", "stand_down"),
        ("2019-09-17", "IV", "discharge"),      # 4,230
        ("2019-09-24", "normal", "stand_down"),
    ]
    decisions = dict((r.time.date().isoformat(), d) for r, d in zip(rows, walk(plan.model, rows)))
    # 3,930 and 3,850 on 07-03/04 are within the 5 % margin: IV is held, not stood down
    assert decisions["2019-07-03"].tier == "IV" and decisions["2019-07-03"].trigger == "hold"
    assert decisions["2019-07-11"].tier == "IV" and decisions["2019-07-11"].below_since == datetime(2019, 7, 11, 8)


def test_timeline_reads_the_bulletin_long_format(plan):
    rows = read_flows(FIX / "yrcc_2018_07_excerpt.csv", station="Huayuankou")
    assert len(rows) == 31 and rows[18].discharge_m3s == 4120
    found = [(r.time.date().isoformat(), d.tier) for r, d in changes(rows, walk(plan.model, rows))]
    assert found == [("2018-07-01", "normal"), ("2018-07-19", "IV"), ("2018-07-24", "normal")]


def test_the_whole_bulletin_2001_2019(plan):
    # every tier change of 18 years of real Huayuankou flows obeys the rules: up on a day at or above
    # 4,000 m³/s, down only on the second day in a row under 3,800 (the first starts the 6 h clock)
    from floodtwin.config import DATA_DIR

    rows = read_flows(DATA_DIR / "yrcc" / "daily_lower_river_2001_2019.csv", station="Huayuankou")
    decisions = walk(plan.model, rows)
    assert len(rows) > 6000
    by_time = {r.time: (i, r) for i, r in enumerate(rows)}
    found = changes(rows, decisions)[1:]
    assert len(found) >= 10 and {d.tier for _, d in found} == {"IV", "normal"}  # the bulletin peaks at 4,450
    for row, d in found:
        i, _ = by_time[row.time]
        if d.tier == "IV":
            assert d.trigger == "discharge" and row.discharge_m3s >= 4000
        else:
            before = next(r for r in reversed(rows[:i]) if r.discharge_m3s is not None)
            assert d.trigger == "stand_down" and row.discharge_m3s < 3800 and before.discharge_m3s < 3800
            assert (row.time - before.time) >= timedelta(hours=6)


def test_timeline_with_a_forecast_column(plan, tmp_path):
    path = tmp_path / "flows.csv"
    path.write_text("time,discharge_m3s,forecast_m3s\n2021-09-26T08:00,3500,\n2021-09-27T08:00,3900,6300\n"
                    "2021-09-28T08:00,6400,6800\n")
    rows = read_flows(path)
    assert [r.forecast_m3s for r in rows] == [None, 6300, 6800]
    ds = walk(plan.model, rows)
    assert [(d.tier, d.trigger) for d in ds] == [("normal", "discharge"), ("III", "forecast"), ("III", "discharge")]


def test_no_hold_time_stands_down_at_once(plan):
    quick = Preplan(plan.model.model_copy(update={"hysteresis": plan.model.hysteresis.model_copy(
        update={"hold_h": 0})}))
    d = quick.decide(6500)
    assert quick.evaluate(FlowState(observed_m3s=3000, previous=d)).tier == "normal"
    assert quick.evaluate(FlowState(observed_m3s=5800, previous=d)).tier == "III"  # the margin still holds


def test_a_long_table_without_a_station_says_which_option_is_missing():
    with pytest.raises(DataError, match=r"yrcc_2018_07_excerpt.csv:\d+: date: .* is not after the previous row "
                                        r"\(several stations in one table: choose one with --station\)"):
        read_flows(FIX / "yrcc_2018_07_excerpt.csv")


def test_timeline_gaps_keep_the_last_decision(plan):
    rows = [FlowRow(T0, None), FlowRow(T0 + timedelta(days=1), 4500), FlowRow(T0 + timedelta(days=2), None)]
    ds = walk(plan.model, rows)
    assert ds[0] is None and ds[1].tier == "IV" and ds[2] is ds[1]


@pytest.mark.parametrize("content, words", [
    ("when,q\n2019-01-01,5\n", "expected columns"),
    ("time,discharge_m3s\n2019-01-01,abc\n", ":2: discharge_m3s: expected a number"),
    ("time,discharge_m3s\n2019-01-01,-3\n", r":2: discharge_m3s -3.0 m³/s: expected a finite number >= 0"),
    ("time,discharge_m3s\nyesterday,100\n", ":2: time: not an ISO 8601 time"),
    ("time,discharge_m3s\n2019-01-02,100\n2019-01-01,100\n", ":3: time: 2019-01-01T00:00:00 is not after"),
    ("time,discharge_m3s\n", "no rows"),
    ("", "got no header"),
    ("time,discharge_m3s\n2019-01-01\n2019-01-02,100\n", r":2: 1 field, but the header has 2"),
    ("time,discharge_m3s\n2019-01-01,100,7\n", r":2: 3 fields, but the header has 2"),
    ("time,time,discharge_m3s\n2019-01-01,x,5\n", ":1: column 'time' appears more than once"),
    ("time,discharge_m3s\n2019-01-01T08:00+08:00,100\n2019-01-02T08:00,100\n",
     ":3: time: 2019-01-02T08:00 mixes time-zone-aware and naive times"),
    ("time,discharge_m3s,forecast_m3s\n2019-01-01,100,lots\n", ":2: forecast_m3s: expected a number"),
    ("time,discharge_m3s\n2019-01-01,1e400\n", r":2: discharge_m3s inf m³/s: expected .* \(got '1e400'\)"),
    ("time,discharge_m3s\n2019-01-01,250000\n", r":2: discharge_m3s 250000.0 m³/s: .* at most 100,000 m³/s"),
    ("time,discharge_m3s\n2019-01-01, \n2019-01-02,\n", "no row has a discharge"),
])
def test_bad_flow_files(tmp_path, content, words):
    path = tmp_path / "flows.csv"
    path.write_text(content)
    with pytest.raises(DataError, match=words) as info:
        read_flows(path)
    assert str(info.value).startswith(f"{path}")


def test_flow_files_that_are_not_text(tmp_path):
    path = tmp_path / "flows.csv"
    path.write_bytes(b"\xff\xfe\x00t\x00i\x00m\x00e")
    with pytest.raises(DataError, match="not UTF-8 text"):
        read_flows(path)
    with pytest.raises(DataError, match="is a directory"):
        read_flows(tmp_path)
    with pytest.raises(DataError, match="file not found"):
        read_flows(tmp_path / "none.csv")


def test_blank_lines_and_aware_times_are_read(plan, tmp_path):
    path = tmp_path / "flows.csv"
    path.write_text("time,discharge_m3s\n2021-09-27T08:00+08:00,6500\n\n2021-09-27T20:00+08:00,3000\n"
                    "2021-09-28T08:00+08:00,3000\n")
    rows = read_flows(path)
    assert [r.discharge_m3s for r in rows] == [6500, 3000, 3000] and rows[0].time.utcoffset() == timedelta(hours=8)
    # the first reading under 3,800 starts the clock; 12 h later the 6 h hold has passed
    assert [d.tier for d in walk(plan.model, rows)] == ["III", "III", "normal"]


def test_fixture_matches_the_bulletin():
    from floodtwin.config import DATA_DIR

    src = DATA_DIR / "yrcc" / "daily_lower_river_2001_2019.csv"
    real = {r.time.date(): r.discharge_m3s for r in read_flows(src, station="Huayuankou")}
    for row in read_flows(FIX / "hyk_2019_summer.csv"):
        assert real[row.time.date()] == row.discharge_m3s


def test_a_high_forecast_prevents_the_stand_down(plan):
    d = plan.evaluate(FlowState(observed_m3s=6500, time=T0))
    for h in range(1, 10):
        d = plan.evaluate(FlowState(observed_m3s=3000, forecast_m3s=6100, time=T0 + timedelta(hours=h), previous=d))
    assert d.tier == "III" and d.trigger == "forecast" and d.below_since is None


def test_previous_decision_from_another_plan_version(plan):
    stale = plan.decide(6500)
    from dataclasses import replace

    stale = replace(stale, tier="III-old", rank=7)
    d = plan.evaluate(FlowState(observed_m3s=5000, previous=stale))
    assert d.tier == "IV" and d.trigger == "discharge"  # treated as no history, not as an index
