"""Alarm state machine of one smart stone, thresholds from YAML, and the events it emits.

States: ``normal`` -> ``shaking`` (abnormal readings: tilt change beyond ``shake_tilt_deg``,
an acceleration spike, or a device movement event, ``confirm_readings`` of them within the
stone's confirmation window, so one noisy reading never alarms) -> ``displaced`` (after shaking, a
new attitude that persists: settled readings off the reference spanning ``displace_persist_s``)
-> ``lost`` (link or cable gone, or silence beyond ``offline_intervals``
reporting intervals, after a movement). Any alarm clears to ``normal`` only after readings stay
calm at the reference attitude for ``clear_stable_s``. Two conditions run beside the state:
``offline`` (silence beyond ``offline_intervals`` intervals, or a lost link, without a prior
movement; clears on the next reading) and ``low_battery`` (debounced, with hysteresis).

**The stone's own interval.** A stone reports a heartbeat every ``report_interval_min`` (1 to 60
minutes) and an event message at once when it moves, sometimes as a burst of a few messages seconds
apart. A fixed confirmation window shorter than the interval can never hold two readings of a
stone that moves once and then reports its new attitude at its interval, so it would never alarm.
The window is therefore :func:`confirm_window_ms`: ``confirm_window_s`` or
``confirm_window_intervals`` reporting intervals, whichever is longer (the next regular report
after an event message always falls inside it); and a lasting attitude needs
:func:`displace_readings_needed` settled readings: ``displace_persist_readings``, but never more
than the readings the stone sends in ``displace_persist_s`` plus one, and never fewer than two (a
lasting attitude is the same attitude reported twice, ``displace_persist_s`` apart at least). The
reading that confirms shaking counts as settled when it is off the reference without a shock, so
a slow stone is ``displaced`` one interval after its first settled report.

The machine is pure: :func:`step` takes the machine's state (a plain dict, stored as JSON) and
one reading and returns the transitions; :func:`sweep` applies the clock (silence). Replaying a
stone's readings in time order always gives the same events, which is how late readings are
re-evaluated (see :mod:`floodtwin.sensors.ingest`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field

from floodtwin.config import DATA_DIR, StrictModel, load_yaml

__all__ = ["STATES", "MAJOR", "DEFAULT_THRESHOLDS", "Thresholds",
           "load_thresholds", "Transition", "new_machine", "confirm_window_ms", "displace_readings_needed", "angle_diff_deg", "tilt_change_deg", "shock_g", "sweep",
           "step"]

STATES = ("normal", "shaking", "displaced", "lost")
MAJOR = ("displaced", "lost")
DEFAULT_THRESHOLDS = DATA_DIR / "sensors" / "thresholds.yaml"


class Thresholds(StrictModel):
    """Alarm thresholds (see data/sensors/thresholds.yaml for the meaning and sources)."""

    shake_tilt_deg: float = Field(gt=0, le=90)
    accel_spike_g: float = Field(gt=0)
    confirm_readings: int = Field(ge=1)
    confirm_window_s: float = Field(gt=0)
    confirm_window_intervals: float = Field(gt=0)
    displace_persist_readings: int = Field(ge=1)
    displace_persist_s: float = Field(ge=0)
    stable_tolerance_deg: float = Field(gt=0)
    clear_stable_s: float = Field(ge=0)
    offline_intervals: float = Field(gt=0)
    low_battery_v: float = Field(gt=0)
    battery_recover_v: float = Field(gt=0)
    battery_confirm_readings: int = Field(ge=1)
    future_tolerance_s: float = Field(ge=0)


def load_thresholds(path: str | Path | None = None) -> Thresholds:
    """Read the thresholds YAML (default data/sensors/thresholds.yaml); ConfigError if invalid."""
    from floodtwin.errors import ConfigError

    path = Path(path) if path is not None else DEFAULT_THRESHOLDS
    th = load_yaml(path, Thresholds)
    if th.battery_recover_v <= th.low_battery_v:
        raise ConfigError(f"{path}: battery_recover_v: must be above low_battery_v ({th.low_battery_v})")
    return th


@dataclass(frozen=True)
class Transition:
    """One alarm event: ``kind`` is ``state``, ``offline`` or ``battery``; times UTC epoch ms."""

    stone_id: str
    t_ms: int
    kind: str
    from_state: str
    to_state: str
    evidence: dict[str, Any]

    @property
    def identity(self) -> tuple:
        """What makes two events the same event (used when re-evaluating)."""
        return (self.stone_id, self.t_ms, self.kind, self.from_state, self.to_state)


def new_machine(baseline_roll_deg: float, baseline_pitch_deg: float) -> dict[str, Any]:
    """A fresh machine at the stone's installed attitude (all conditions clear)."""
    return {
        "state": "normal", "since_ms": None, "offline": False, "low_battery": False,
        "ref_roll": baseline_roll_deg, "ref_pitch": baseline_pitch_deg,
        "abnormal": [],          # recent abnormal readings (t_ms, seq, tilt, shock) while normal
        "settled": [],           # consecutive settled off-reference readings (t_ms, seq, roll, pitch)
        "calm_since_ms": None,   # first of the current run of calm readings while alarmed
        "batt_low_n": 0, "batt_ok_n": 0,
        "last_t_ms": None, "last_seq": None, "last_roll": None, "last_pitch": None, "battery_v": None,
        "swept_ms": None,        # latest clock sweep applied (replays repeat it)
        "boot": 0,               # restarts of the stone's sequence counter seen so far (the ingest's)
        "boot_start_ms": None,   # time of the first stored reading of that boot (None for boot 0)
    }


def confirm_window_ms(th: Thresholds, interval_s: float) -> float:
    """The confirmation window (ms) of a stone reporting every ``interval_s`` seconds: the longer
    of ``confirm_window_s`` and ``confirm_window_intervals`` intervals (see the module docstring)."""
    return max(th.confirm_window_s, th.confirm_window_intervals * interval_s) * 1000.0


def displace_readings_needed(th: Thresholds, interval_s: float) -> int:
    """Settled readings off the reference that make a lasting new attitude for a stone reporting
    every ``interval_s`` seconds: ``displace_persist_readings``, capped at the readings sent in
    ``displace_persist_s`` plus one, at least two."""
    per_span = 1 + math.ceil(th.displace_persist_s / interval_s) if interval_s > 0 else th.displace_persist_readings
    return max(2, min(th.displace_persist_readings, per_span))


def angle_diff_deg(a: float, b: float) -> float:
    """a - b wrapped to [-180, 180) degrees."""
    return (a - b + 180.0) % 360.0 - 180.0


def tilt_change_deg(roll: float, pitch: float, ref_roll: float, ref_pitch: float) -> float:
    """Tilt change between two attitudes (degrees): the norm of the roll and pitch differences."""
    return math.hypot(angle_diff_deg(roll, ref_roll), angle_diff_deg(pitch, ref_pitch))


def shock_g(ax: float, ay: float, az: float) -> float:
    """Departure of the acceleration magnitude from 1 g (a resting stone reads 1 g)."""
    return abs(math.sqrt(ax * ax + ay * ay + az * az) - 1.0)


def _iso(t_ms: int) -> str:
    from floodtwin.sensors.store import ms_to_iso

    return ms_to_iso(t_ms)


def _set_state(m: dict, out: list, stone_id: str, t_ms: int, to: str, evidence: dict) -> None:
    out.append(Transition(stone_id, t_ms, "state", m["state"], to, evidence))
    m["state"] = to
    m["since_ms"] = t_ms
    m["abnormal"] = []
    m["settled"] = []
    m["calm_since_ms"] = None


def _silence(m: dict, out: list, stone_id: str, t_ms: int, offline_after_ms: int, cause: str) -> None:
    """Apply a silence that began at last_t_ms and reached offline_after_ms at ``t_ms``."""
    if m["state"] in ("shaking", "displaced"):
        _set_state(m, out, stone_id, t_ms, "lost",
                   {"cause": cause, "last_seen": _iso(m["last_t_ms"]), "silent_s": offline_after_ms / 1000})
    elif m["state"] == "normal" and not m["offline"]:
        m["offline"] = True
        out.append(Transition(stone_id, t_ms, "offline", "online", "offline",
                              {"cause": cause, "last_seen": _iso(m["last_t_ms"]), "silent_s": offline_after_ms / 1000}))


def sweep(m: dict, stone_id: str, now_ms: int, offline_after_s: float) -> list[Transition]:
    """Apply the clock: a stone silent for longer than ``offline_after_s`` at ``now_ms`` goes
    offline (or lost, when it had moved). The event time is when the silence crossed the limit."""
    out: list[Transition] = []
    if m["last_t_ms"] is None:
        return out
    m["swept_ms"] = max(now_ms, m["swept_ms"] or now_ms)
    limit_ms = round(offline_after_s * 1000)
    if now_ms - m["last_t_ms"] > limit_ms:
        _silence(m, out, stone_id, m["last_t_ms"] + limit_ms, limit_ms, "no reading")
    return out


def step(m: dict, stone_id: str, r: tuple, th: Thresholds, offline_after_s: float,
         interval_s: float | None = None) -> list[Transition]:
    """Advance the machine ``m`` (mutated) by reading ``r`` (a tuple in Batch.COLUMNS order);
    return the transitions it causes, each with the readings that are its evidence.
    ``interval_s`` is the stone's reporting interval (s); by default the one ``offline_after_s``
    was made from (``offline_intervals`` intervals)."""
    (_, seq, t_ms, roll, pitch, ax, ay, az, battery, _rssi, event, link) = r
    if interval_s is None:
        interval_s = offline_after_s / th.offline_intervals
    out: list[Transition] = []
    limit_ms = round(offline_after_s * 1000)
    if m["last_t_ms"] is not None and t_ms - m["last_t_ms"] > limit_ms:
        _silence(m, out, stone_id, m["last_t_ms"] + limit_ms, limit_ms, "no reading")
    m["last_t_ms"], m["last_seq"] = t_ms, seq
    if link == "lost":
        if m["state"] in ("shaking", "displaced"):
            _set_state(m, out, stone_id, t_ms, "lost", {"cause": "link lost", "seq": seq, "time": _iso(t_ms)})
        elif m["state"] == "normal" and not m["offline"]:
            m["offline"] = True
            out.append(Transition(stone_id, t_ms, "offline", "online", "offline",
                                  {"cause": "link lost", "seq": seq, "time": _iso(t_ms)}))
        m["calm_since_ms"] = None
        m["settled"] = []
        return out
    if m["offline"]:
        m["offline"] = False
        out.append(Transition(stone_id, t_ms, "offline", "offline", "online", {"seq": seq, "time": _iso(t_ms)}))
    # battery: debounced, with hysteresis
    m["battery_v"] = battery
    if battery < th.low_battery_v:
        m["batt_low_n"] += 1
        m["batt_ok_n"] = 0
        if not m["low_battery"] and m["batt_low_n"] >= th.battery_confirm_readings:
            m["low_battery"] = True
            out.append(Transition(stone_id, t_ms, "battery", "ok", "low",
                                  {"battery_v": battery, "seq": seq, "threshold_v": th.low_battery_v}))
    elif battery > th.battery_recover_v:
        m["batt_ok_n"] += 1
        m["batt_low_n"] = 0
        if m["low_battery"] and m["batt_ok_n"] >= th.battery_confirm_readings:
            m["low_battery"] = False
            out.append(Transition(stone_id, t_ms, "battery", "low", "ok",
                                  {"battery_v": battery, "seq": seq, "threshold_v": th.battery_recover_v}))
    else:
        m["batt_low_n"] = m["batt_ok_n"] = 0
    # attitude and shock
    tilt = tilt_change_deg(roll, pitch, m["ref_roll"], m["ref_pitch"])
    shock = shock_g(ax, ay, az)
    spike = shock > th.accel_spike_g
    abnormal = tilt > th.shake_tilt_deg or spike or event == "movement"
    evidence_row = [t_ms, seq, round(tilt, 2), round(shock, 3), event]
    state = m["state"]
    window_ms = confirm_window_ms(th, interval_s)
    if state == "normal":
        if not abnormal and m["abnormal"]:
            m["abnormal"] = [a for a in m["abnormal"] if t_ms - a[0] <= window_ms]
        if abnormal:
            recent = [a for a in m["abnormal"] if t_ms - a[0] <= window_ms] + [evidence_row]
            m["abnormal"] = recent
            if len(recent) >= th.confirm_readings:
                _set_state(m, out, stone_id, t_ms, "shaking", {
                    "readings": [{"time": _iso(a[0]), "seq": a[1], "tilt_change_deg": a[2], "shock_g": a[3],
                                  "event": a[4]} for a in recent],
                    "window_s": window_ms / 1000})
                if tilt > th.shake_tilt_deg and not spike:
                    # the confirming report is already at the new attitude: it opens the settled run
                    m["settled"] = [[t_ms, seq, roll, pitch]]
    else:
        calm = not abnormal
        if calm:
            if m["calm_since_ms"] is None:
                m["calm_since_ms"] = t_ms
            if t_ms - m["calm_since_ms"] >= th.clear_stable_s * 1000:
                _set_state(m, out, stone_id, t_ms, "normal", {
                    "calm_since": _iso(m["calm_since_ms"]), "tilt_change_deg": round(tilt, 2), "seq": seq})
        else:
            m["calm_since_ms"] = None
        if state == "shaking" and m["state"] == "shaking":
            off_ref = tilt > th.shake_tilt_deg
            settled = m["settled"]
            if off_ref and not spike and (not settled or tilt_change_deg(
                    roll, pitch, settled[-1][2], settled[-1][3]) <= th.stable_tolerance_deg):
                settled.append([t_ms, seq, roll, pitch])
            elif off_ref and not spike:
                settled[:] = [[t_ms, seq, roll, pitch]]
            else:
                settled.clear()
            if (len(settled) >= displace_readings_needed(th, interval_s)
                    and settled[-1][0] - settled[0][0] >= th.displace_persist_s * 1000):
                _set_state(m, out, stone_id, t_ms, "displaced", {
                    "attitude": {"roll_deg": roll, "pitch_deg": pitch},
                    "reference": {"roll_deg": m["ref_roll"], "pitch_deg": m["ref_pitch"]},
                    "tilt_change_deg": round(tilt, 2),
                    "settled_readings": [{"time": _iso(s[0]), "seq": s[1]} for s in settled]})
    m["last_roll"], m["last_pitch"] = roll, pitch
    return out
