"""Alarm state machine of one smart stone: every transition, debounce and clearing."""

from __future__ import annotations

import pytest

from floodtwin.errors import ConfigError
from floodtwin.sensors.alarms import (confirm_window_ms, displace_readings_needed, load_thresholds, new_machine, step,
                                     sweep, tilt_change_deg)

TH = load_thresholds()
SID = "ST001"
INTERVAL_S = 1800.0
OFFLINE_S = 3 * INTERVAL_S
T0 = 1_780_000_000_000  # ms
REF = (1.0, -2.0)


def reading(t_s: float, seq: int, roll: float = REF[0], pitch: float = REF[1], accel=(0.0, 0.0, 1.0),
            battery: float = 3.9, event: str = "heartbeat", link: str = "ok") -> tuple:
    t_ms = T0 + round(t_s * 1000)
    if link == "lost":
        return (SID, seq, t_ms, None, None, None, None, None, None, None, event, link)
    return (SID, seq, t_ms, roll, pitch, *accel, battery, -70.0, event, link)


def run(rows, m=None):
    m = m or new_machine(*REF)
    events = []
    for r in rows:
        events.extend(step(m, SID, r, TH, OFFLINE_S))
    return m, events


def kinds(events):
    return [(e.kind, e.from_state, e.to_state) for e in events]


SHOCK = (0.5, 0.3, 2.6)  # |a| ~ 2.7 g


def test_calm_heartbeats_raise_nothing():
    m, events = run([reading(k * INTERVAL_S, k) for k in range(48)])
    assert events == [] and m["state"] == "normal" and not m["offline"]


def test_one_noisy_reading_does_not_alarm():
    rows = [reading(0, 1), reading(1800, 2, roll=REF[0] + 20), reading(3600, 3), reading(5400, 4)]
    m, events = run(rows)
    assert events == [] and m["state"] == "normal"


def test_two_abnormal_readings_outside_the_window_do_not_alarm():
    gap = confirm_window_ms(TH, INTERVAL_S) / 1000 + 1
    rows = [reading(0, 1), reading(100, 2, accel=SHOCK), reading(100 + gap, 3, accel=SHOCK)]
    _, events = run(rows)
    assert events == []


def test_shaking_on_confirmed_tilt_change_with_evidence():
    rows = [reading(0, 1), reading(100, 2, roll=REF[0] + 12), reading(130, 3, roll=REF[0] + 12.5)]
    m, events = run(rows)
    assert kinds(events) == [("state", "normal", "shaking")]
    ev = events[0]
    assert ev.t_ms == T0 + 130_000
    assert [r["seq"] for r in ev.evidence["readings"]] == [2, 3]
    assert ev.evidence["readings"][0]["tilt_change_deg"] == pytest.approx(12.0, abs=0.01)
    assert m["state"] == "shaking"


def test_shaking_on_acceleration_spikes_without_tilt():
    rows = [reading(0, 1), reading(10, 2, accel=SHOCK), reading(12, 3, accel=SHOCK)]
    _, events = run(rows)
    assert kinds(events) == [("state", "normal", "shaking")]
    assert events[0].evidence["readings"][0]["shock_g"] > TH.accel_spike_g


def test_tilt_just_below_threshold_is_calm():
    small = TH.shake_tilt_deg - 0.1
    rows = [reading(0, 1), reading(10, 2, roll=REF[0] + small), reading(20, 3, roll=REF[0] + small)]
    assert run(rows)[1] == []


def burst(t0: float, seq0: int, roll: float):
    return [reading(t0, seq0, roll=roll, accel=SHOCK, event="movement"),
            reading(t0 + 5, seq0 + 1, roll=roll, accel=SHOCK, event="movement")]


def test_displaced_after_a_new_attitude_persists():
    new = REF[0] + 20
    rows = [reading(0, 1)] + burst(100, 2, new)
    rows += [reading(160, 4, roll=new), reading(220, 5, roll=new + 0.5)]
    m, events = run(rows)
    assert kinds(events) == [("state", "normal", "shaking")]  # two settled readings: not yet
    more = [reading(280, 6, roll=new + 0.3)]
    m, events = run(more, m)
    assert kinds(events) == [("state", "shaking", "displaced")]
    assert [r["seq"] for r in events[0].evidence["settled_readings"]] == [4, 5, 6]
    assert events[0].evidence["tilt_change_deg"] == pytest.approx(20.3, abs=0.05)


def test_unsettled_attitude_restarts_the_persistence_count():
    new = REF[0] + 20
    rows = [reading(0, 1)] + burst(100, 2, new)
    rows += [reading(160, 4, roll=new), reading(220, 5, roll=new + 6), reading(280, 6, roll=new + 6.2)]
    m, events = run(rows)
    assert kinds(events) == [("state", "normal", "shaking")]
    m, events = run([reading(340, 7, roll=new + 6.1)], m)
    assert kinds(events) == [("state", "shaking", "displaced")]


def test_shaking_clears_only_after_the_stable_period():
    rows = [reading(0, 1)] + burst(100, 2, REF[0] + 10)
    calm0 = 200
    rows += [reading(calm0, 4)]
    m, events = run(rows)
    # calm, but not for long enough
    m, events = run([reading(calm0 + TH.clear_stable_s - 60, 5)], m)
    assert events == [] and m["state"] == "shaking"
    m, events = run([reading(calm0 + TH.clear_stable_s, 6)], m)
    assert kinds(events) == [("state", "shaking", "normal")]


def test_a_new_shock_restarts_the_stable_period():
    rows = [reading(0, 1)] + burst(100, 2, REF[0] + 10) + [reading(200, 4)]
    rows += [reading(1000, 5, accel=SHOCK), reading(200 + TH.clear_stable_s, 6)]
    m, events = run(rows)
    assert m["state"] == "shaking"
    m, events = run([reading(1000 + TH.clear_stable_s + 60, 7), reading(1060 + TH.clear_stable_s + 1800, 8)], m)
    assert kinds(events) == [("state", "shaking", "normal")]


def test_displaced_clears_when_back_at_the_reference_for_the_stable_period():
    new = REF[0] + 20
    rows = [reading(0, 1)] + burst(100, 2, new) + [reading(160 + 60 * k, 4 + k, roll=new) for k in range(3)]
    m, events = run(rows)
    assert m["state"] == "displaced"
    # still at the new attitude: stays displaced however long
    m, events = run([reading(4000 + 1800 * k, 10 + k, roll=new) for k in range(5)], m)
    assert events == [] and m["state"] == "displaced"
    m, events = run([reading(13000, 20), reading(13000 + TH.clear_stable_s, 21)], m)
    assert kinds(events) == [("state", "displaced", "normal")]


def test_lost_when_the_link_goes_after_a_movement():
    rows = [reading(0, 1)] + burst(100, 2, REF[0] + 10) + [reading(160, 4, link="lost")]
    m, events = run(rows)
    assert kinds(events) == [("state", "normal", "shaking"), ("state", "shaking", "lost")]
    assert events[-1].evidence["cause"] == "link lost"
    # further link-lost reports change nothing
    m, events = run([reading(1960, 5, link="lost")], m)
    assert events == [] and m["state"] == "lost"


def test_lost_when_silent_after_a_movement():
    new = REF[0] + 20
    rows = [reading(0, 1)] + burst(100, 2, new) + [reading(160 + 60 * k, 4 + k, roll=new) for k in range(3)]
    m, _ = run(rows)
    assert m["state"] == "displaced"
    events = sweep(m, SID, T0 + round((280 + OFFLINE_S + 1) * 1000), OFFLINE_S)
    assert kinds(events) == [("state", "displaced", "lost")]
    assert events[0].t_ms == T0 + round((280 + OFFLINE_S) * 1000)


def test_link_lost_without_movement_is_offline_not_lost():
    m, events = run([reading(0, 1), reading(1800, 2, link="lost")])
    assert kinds(events) == [("offline", "online", "offline")] and m["state"] == "normal"
    m, events = run([reading(3600, 3)], m)
    assert kinds(events) == [("offline", "offline", "online")]


def test_offline_after_three_silent_intervals_from_a_gap_and_from_the_clock():
    # from a gap in the readings: the event is dated when the silence crossed the limit
    m, events = run([reading(0, 1), reading(OFFLINE_S + 100, 2)])
    assert kinds(events) == [("offline", "online", "offline"), ("offline", "offline", "online")]
    assert events[0].t_ms == T0 + round(OFFLINE_S * 1000)
    # exactly three intervals is not yet offline
    assert run([reading(0, 1), reading(OFFLINE_S, 2)])[1] == []
    # from the clock
    m, _ = run([reading(0, 1)])
    assert sweep(m, SID, T0 + round(OFFLINE_S * 1000), OFFLINE_S) == []
    events = sweep(m, SID, T0 + round(OFFLINE_S * 1000) + 1, OFFLINE_S)
    assert kinds(events) == [("offline", "online", "offline")]
    assert sweep(m, SID, T0 + round(OFFLINE_S * 2000), OFFLINE_S) == []  # once
    m, events = run([reading(OFFLINE_S * 2, 2)], m)
    assert kinds(events) == [("offline", "offline", "online")]


def test_low_battery_is_debounced_and_has_hysteresis():
    low, rec = TH.low_battery_v, TH.battery_recover_v
    rows = [reading(0, 1, battery=low - 0.05), reading(1800, 2, battery=low + 0.01),
            reading(3600, 3, battery=low - 0.05)]
    m, events = run(rows)
    assert events == []  # never two low readings in a row
    m, events = run([reading(5400, 4, battery=low - 0.06)], m)
    assert kinds(events) == [("battery", "ok", "low")]
    # between the thresholds: stays low
    m, events = run([reading(7200 + 1800 * k, 5 + k, battery=(low + rec) / 2) for k in range(4)], m)
    assert events == [] and m["low_battery"]
    m, events = run([reading(14400, 10, battery=rec + 0.1)], m)
    assert events == []
    m, events = run([reading(16200, 11, battery=rec + 0.1)], m)
    assert kinds(events) == [("battery", "low", "ok")]


def test_tilt_change_wraps_around_180_degrees():
    assert tilt_change_deg(179.0, 0.0, -179.0, 0.0) == pytest.approx(2.0)
    assert tilt_change_deg(3.0, 4.0, 0.0, 0.0) == pytest.approx(5.0)


def test_thresholds_errors_name_file_line_and_key(tmp_path):
    text = (load_thresholds.__globals__["DEFAULT_THRESHOLDS"]).read_text(encoding="utf-8")
    bad = tmp_path / "th.yaml"
    bad.write_text(text.replace("shake_tilt_deg: 8.0", "shake_tilt_deg: -3"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"th.yaml:\d+: shake_tilt_deg: .*greater than 0"):
        load_thresholds(bad)
    bad.write_text(text.replace("battery_recover_v: 3.40", "battery_recover_v: 3.10"), encoding="utf-8")
    with pytest.raises(ConfigError, match="battery_recover_v: must be above low_battery_v"):
        load_thresholds(bad)
    bad.write_text(text + "\nshake_deg: 3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="shake_deg: unknown key"):
        load_thresholds(bad)


def test_lost_when_silent_while_still_shaking():
    rows = [reading(0, 1)] + burst(100, 2, REF[0] + 10)
    m, events = run(rows)
    assert m["state"] == "shaking"
    assert sweep(m, SID, T0 + round((105 + OFFLINE_S) * 1000), OFFLINE_S) == []  # exactly the limit: not yet
    events = sweep(m, SID, T0 + round((105 + OFFLINE_S) * 1000) + 1, OFFLINE_S)
    assert kinds(events) == [("state", "shaking", "lost")]
    assert events[0].evidence["cause"] == "no reading" and events[0].evidence["silent_s"] == OFFLINE_S


def test_lost_clears_only_after_calm_readings_at_the_reference_for_the_stable_period():
    rows = [reading(0, 1)] + burst(100, 2, REF[0] + 10) + [reading(160, 4, link="lost")]
    m, _ = run(rows)
    assert m["state"] == "lost"
    # the link comes back with the stone at its place: calm, but the alarm holds for the stable period
    m, events = run([reading(2000, 5), reading(2000 + TH.clear_stable_s - 1, 6)], m)
    assert events == [] and m["state"] == "lost"
    # a lost link again restarts the stable period
    m, events = run([reading(2000 + TH.clear_stable_s + 10, 7, link="lost"), reading(2100 + TH.clear_stable_s, 8)], m)
    assert events == [] and m["state"] == "lost"
    m, events = run([reading(2100 + 2 * TH.clear_stable_s, 9)], m)
    assert kinds(events) == [("state", "lost", "normal")]
    from floodtwin.sensors.store import ms_to_iso

    assert events[0].evidence["calm_since"] == ms_to_iso(T0 + round((2100 + TH.clear_stable_s) * 1000))


# -- a stone that slides, at its own reporting interval (issue 20.1) -----------------------------
INTERVALS_MIN = (1, 10, 30, 60)
TILT_DEG = 25.0  # the new attitude, off the reference


def at_interval(interval_min: float, rows_spec, interval_s=None):
    """Readings of a stone reporting every ``interval_min``: ``rows_spec`` is a list of
    (t_s, roll, event, accel) and the machine is stepped with that stone's interval."""
    interval_s = interval_min * 60.0
    m = new_machine(*REF)
    events = []
    for seq, (t_s, roll, event, accel) in enumerate(rows_spec, start=1):
        events.extend(step(m, SID, reading(t_s, seq, roll=roll, accel=accel, event=event), TH,
                           TH.offline_intervals * interval_s, interval_s))
    return m, events


def heartbeats(interval_min, k0, k1, roll=REF[0]):
    return [(k * interval_min * 60.0, roll, "heartbeat", (0.0, 0.0, 1.0)) for k in range(k0, k1)]


@pytest.mark.parametrize("interval_min", INTERVALS_MIN)
def test_a_stone_that_tilts_and_stays_is_displaced_at_any_interval(interval_min):
    """A movement event, then the stone's regular reports from a new attitude 25 degrees off: the
    old fixed 300 s window never saw two of them and the stone stayed normal at 10-60 minutes."""
    iv = interval_min * 60.0
    t_event = 5 * iv + 7.0
    rows = heartbeats(interval_min, 0, 6)[:-1]
    rows.append((t_event, REF[0] + TILT_DEG, "movement", SHOCK))
    rows += heartbeats(interval_min, 6, 12, roll=REF[0] + TILT_DEG)
    m, events = at_interval(interval_min, rows)
    assert kinds(events) == [("state", "normal", "shaking"), ("state", "shaking", "displaced")]
    shaking, displaced = events
    assert shaking.t_ms == T0 + round(6 * iv * 1000)  # the first regular report after the event confirms it
    # lasting: at least displace_persist_s at the new attitude, and at most three reports after the event
    assert displaced.t_ms - shaking.t_ms >= TH.displace_persist_s * 1000
    assert displaced.t_ms <= T0 + round(8 * iv * 1000)
    assert m["state"] == "displaced"
    assert displaced.evidence["tilt_change_deg"] == pytest.approx(TILT_DEG, abs=0.01)


@pytest.mark.parametrize("interval_min", INTERVALS_MIN)
def test_one_noisy_reading_never_alarms_at_any_interval(interval_min):
    rows = heartbeats(interval_min, 0, 4)
    rows.append((4 * interval_min * 60.0, REF[0] + TILT_DEG, "heartbeat", (0.0, 0.0, 1.0)))
    rows += heartbeats(interval_min, 5, 12)
    m, events = at_interval(interval_min, rows)
    assert events == [] and m["state"] == "normal"


@pytest.mark.parametrize("interval_min", INTERVALS_MIN)
def test_a_movement_event_alone_with_the_stone_back_in_place_never_alarms(interval_min):
    """Tilt and return before the next report: one abnormal message, no alarm."""
    iv = interval_min * 60.0
    rows = heartbeats(interval_min, 0, 3) + [(2 * iv + 5.0, REF[0] + TILT_DEG, "movement", SHOCK)]
    rows += heartbeats(interval_min, 3, 10)
    m, events = at_interval(interval_min, rows)
    assert events == [] and m["state"] == "normal"


@pytest.mark.parametrize("interval_min", INTERVALS_MIN)
def test_a_stone_that_tilts_and_comes_back_shakes_but_is_never_displaced(interval_min):
    """A movement event, one regular report still tilted, then back at the reference: shaking,
    cleared after clear_stable_s of calm reports, never displaced."""
    iv = interval_min * 60.0
    rows = heartbeats(interval_min, 0, 3) + [(2 * iv + 5.0, REF[0] + TILT_DEG, "movement", SHOCK)]
    rows += heartbeats(interval_min, 3, 4, roll=REF[0] + TILT_DEG)
    n_calm = 2 + int(TH.clear_stable_s // iv) + 1
    rows += heartbeats(interval_min, 4, 4 + n_calm)
    m, events = at_interval(interval_min, rows)
    assert kinds(events) == [("state", "normal", "shaking"), ("state", "shaking", "normal")]
    assert events[1].t_ms - T0 >= 4 * iv * 1000 + TH.clear_stable_s * 1000
    assert m["state"] == "normal"


@pytest.mark.parametrize("interval_min", INTERVALS_MIN)
def test_a_burst_with_a_noisy_first_message_and_calm_repeats_never_alarms(interval_min):
    """A device that re-samples in a burst after an abnormal reading: calm repeats, no alarm."""
    iv = interval_min * 60.0
    rows = heartbeats(interval_min, 0, 3)
    rows += [(3 * iv, REF[0] + 12, "heartbeat", (0.0, 0.0, 1.0)),
             (3 * iv + 5, REF[0], "heartbeat", (0.0, 0.0, 1.0)), (3 * iv + 10, REF[0], "heartbeat", (0.0, 0.0, 1.0))]
    rows += heartbeats(interval_min, 4, 8)
    assert at_interval(interval_min, rows)[1] == []


@pytest.mark.parametrize("interval_min", INTERVALS_MIN)
def test_a_movement_burst_that_stays_is_displaced_after_the_next_reports(interval_min):
    """A burst of movement messages 5 s apart, then the stone reports at its interval from the new
    attitude: shaking at once, displaced once the attitude has lasted displace_persist_s."""
    iv = interval_min * 60.0
    new = REF[0] + TILT_DEG
    t_event = 2 * iv + 3.0
    rows = heartbeats(interval_min, 0, 3)
    rows += [(t_event, new, "movement", SHOCK), (t_event + 5, new, "movement", SHOCK),
             (t_event + 10, new, "heartbeat", (0.0, 0.0, 1.0))]
    rows += heartbeats(interval_min, 3, 10, roll=new)
    m, events = at_interval(interval_min, rows)
    assert kinds(events) == [("state", "normal", "shaking"), ("state", "shaking", "displaced")]
    assert events[0].t_ms == T0 + round((t_event + 5) * 1000)
    assert events[1].t_ms - round((t_event + 10) * 1000) - T0 >= TH.displace_persist_s * 1000


def test_the_window_and_the_settled_count_follow_the_interval():
    assert confirm_window_ms(TH, 60.0) == TH.confirm_window_s * 1000  # 1.5 min < 5 min
    assert confirm_window_ms(TH, 1800.0) == TH.confirm_window_intervals * 1800.0 * 1000
    assert displace_readings_needed(TH, 5.0) == TH.displace_persist_readings
    assert displace_readings_needed(TH, 60.0) == 3
    assert displace_readings_needed(TH, 600.0) == 2 and displace_readings_needed(TH, 3600.0) == 2
