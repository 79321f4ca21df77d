"""Quality checks of feed observations: negative or absurd values, unit mistakes, spikes, gaps,
values from the future, stale stations; and the value the run may use for each station.

The checks are a table of rules (:data:`RULES`, name -> what it catches) applied in order to each
station's series, oldest first, against the last accepted value before it (from this answer or
from the stored history). A rejected value is kept in the table with its reason and never becomes
the reference of the next one, so a spike or a unit slip cannot drag the series along. The status
of each station (:class:`StationStatus`) says which value the run uses, how old it is, whether it
is stale and whether it is a fall-back to an earlier good value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

from floodtwin.errors import MAX_DISCHARGE_M3S, StaleDataError
from floodtwin.feeds.model import OBS_COLUMNS, FeedsConfig

__all__ = ["RULES", "ALREADY_REJECTED", "StationStatus", "check_observations", "station_status", "require_fresh"]

#: the rules, in the order they are applied (docs/feeds.md explains each)
RULES = {
    "future": "a time more than 1 h after the run's clock",
    "negative": "a discharge or stage below zero",
    "absurd": f"a discharge above the station's plausible maximum (at most {MAX_DISCHARGE_M3S:,.0f} m³/s)",
    "unit": "a value about 1,000 times off the station's last good value, or below its plausible minimum "
            "(a feed in 1,000 m³/s, or in litres per second)",
    "spike": "a change from the last good value faster than the station's plausible rate (a second value "
             "agreeing with it confirms a real jump, and is accepted)",
    "gap": "the value follows the previous one after more than max_gap_h (kept, flagged)",
}

FUTURE_TOLERANCE_H = 1.0
#: the unit-ratio rule applies from this last good value up [m³/s]: a river near dry (the Qin at
#: Wuzhi, 0.016 m³/s the day before 136 m³/s on 2019-08-06) rises by thousands of times for real
UNIT_CHECK_MIN_M3S = 50.0
#: the reason of a value received again that was rejected when it first came (not warned twice)
ALREADY_REJECTED = "already rejected: "


@dataclass
class StationStatus:
    """What the run knows of one station and variable: the value it uses (m³/s or m) and its time,
    its age at the run's clock (h), whether it is ``stale`` (older than max_age_h, or none at all),
    whether it is a ``fallback`` (no good value in this run's answers: the last stored one), and the
    problems found (one line each)."""

    station_id: str
    variable: str
    value: float | None
    time: datetime | None
    age_h: float | None
    stale: bool
    fallback: bool
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"station_id": self.station_id, "variable": self.variable, "value": self.value,
                "time": self.time.isoformat() if self.time is not None else None,
                "age_h": None if self.age_h is None else round(self.age_h, 2), "stale": self.stale,
                "fallback": self.fallback, "problems": list(self.problems)}


def _judge(value: float, t: pd.Timestamp, ref: tuple[pd.Timestamp, float] | None, station: Any,
           variable: str, now: pd.Timestamp, unit_ratio: float) -> tuple[str, str]:
    """(qc, reason) of one value against the last accepted one ``ref`` (time, value)."""
    if (t - now).total_seconds() > FUTURE_TOLERANCE_H * 3600:
        return "rejected", f"future: time {t.isoformat()} is after the run's clock {now.isoformat()}"
    if value < 0:
        return "rejected", f"negative: {value:g}"
    if variable != "discharge":
        return "ok", ""
    top = min(station.max_discharge_m3s, MAX_DISCHARGE_M3S) if station is not None else MAX_DISCHARGE_M3S
    if value > top:
        hint = f"; in L/s it would be {value / 1000:,.0f} m³/s" if value / 1000 <= top else ""
        return "rejected", f"absurd: {value:,.0f} m³/s is above the plausible maximum {top:,.0f} m³/s{hint}"
    if ref is not None and ref[1] >= UNIT_CHECK_MIN_M3S and value > 0:
        ratio = value / ref[1]
        if ratio <= 1.0 / unit_ratio:
            return "rejected", (f"unit: {value:g} is {1 / ratio:,.0f} times below the last good value "
                                f"{ref[1]:,.0f} m³/s (a feed in 1,000 m³/s?)")
        if ratio >= unit_ratio:
            return "rejected", (f"unit: {value:,.0f} is {ratio:,.0f} times the last good value {ref[1]:,.0f} m³/s "
                                f"(a feed in L/s?)")
    low = station.min_discharge_m3s if station is not None else 0.0
    if value < low:
        return "rejected", (f"unit: {value:g} m³/s is below the station's plausible minimum {low:,.0f} m³/s "
                            f"(a feed in 1,000 m³/s?)")
    if ref is not None and station is not None:
        dt_h = (t - ref[0]).total_seconds() / 3600.0
        allowed = station.max_rate_m3s_per_h * max(dt_h, 1.0)
        if abs(value - ref[1]) > allowed:
            return "rejected", (f"spike: {ref[1]:,.0f} -> {value:,.0f} m³/s in {dt_h:.1f} h (more than "
                                f"{station.max_rate_m3s_per_h:,.0f} m³/s per hour)")
    return "ok", ""


def _confirm_jump(value: float, t: pd.Timestamp, ref: tuple[pd.Timestamp, float],
                  spikes: list[tuple[pd.Timestamp, float]], station: Any, reason: str) -> tuple[str, str]:
    """A value rejected as a spike is accepted when an earlier spike since the last good value
    agrees with it (within the station's rate, on the same side of the last good value): two values
    in a row do not lie the same way, a real fast rise does. Otherwise it waits as a spike."""
    for t0, v0 in reversed(spikes):
        if not ref[0] < t0 < t:
            continue
        dt_h = (t - t0).total_seconds() / 3600.0
        same_side = (v0 - ref[1]) * (value - ref[1]) > 0
        if same_side and abs(value - v0) <= station.max_rate_m3s_per_h * max(dt_h, 1.0):
            return "ok", (f"jump confirmed: {v0:,.0f} then {value:,.0f} m³/s agree after {ref[1]:,.0f} m³/s "
                          f"(a real change, not a spike)")
    spikes.append((t, value))
    return "rejected", reason


def check_observations(obs: pd.DataFrame, history: pd.DataFrame, *, now: datetime,
                       cfg: FeedsConfig) -> pd.DataFrame:
    """``obs`` with ``qc``/``reason`` set by the rules (rows already rejected by the reader stay so).

    ``history`` holds stored values (the same columns; only ``qc == "ok"`` rows are used as
    references). A row identical to a stored one (station, variable, time, value, source) keeps the
    verdict it had: ``duplicate`` if it was good, rejected again (reason :data:`ALREADY_REJECTED` ...)
    if it was not — a bad value the feed keeps serving is never used.
    """
    now_ts = pd.Timestamp(now).tz_convert("UTC")
    out = obs.copy()
    stations = {s.id: s for s in cfg.stations}
    hist = history[history["qc"] == "ok"] if len(history) else history
    # what was stored of each value already received: its flag and reason (a value the feed serves
    # again keeps the verdict it had; a rejected one stays rejected)
    seen = {k: (qc, reason) for k, qc, reason in zip(
        zip(history["station_id"], history["variable"], history["value_time"], history["raw_value"],
            history["source"]), history["qc"], history["reason"])} if len(history) else {}
    limits = cfg.quality
    for (sid, var), idx in out[out["qc"] == "ok"].groupby(["station_id", "variable"]).groups.items():
        h = hist[(hist["station_id"] == sid) & (hist["variable"] == var)].sort_values("value_time")
        accepted: list[tuple[pd.Timestamp, float]] = list(zip(h["value_time"], h["value"]))
        # values rejected as spikes: a second value agreeing with one confirms a real jump
        spikes: list[tuple[pd.Timestamp, float]] = []
        if len(history):
            hs = history[(history["station_id"] == sid) & (history["variable"] == var)
                         & history["reason"].str.startswith("spike")]
            spikes = list(zip(hs["value_time"], hs["value"]))
        for i in out.loc[idx].sort_values("value_time").index:
            row = out.loc[i]
            key = (sid, var, row["value_time"], row["raw_value"], row["source"])
            if key in seen:
                qc, reason = seen[key]
                out.loc[i, ["qc", "reason"]] = (["duplicate", "already stored"] if qc == "ok" else
                                                ["rejected", f"{ALREADY_REJECTED}{reason}"])
                continue
            seen[key] = ("ok", "")
            before = [a for a in accepted if a[0] < row["value_time"]]
            ref = before[-1] if before else None
            qc, reason = _judge(float(row["value"]), row["value_time"], ref, stations.get(sid), var, now_ts,
                                limits.unit_ratio)
            if reason.startswith("spike"):
                qc, reason = _confirm_jump(float(row["value"]), row["value_time"], ref, spikes, stations[sid],
                                           reason)
            if qc == "ok":
                if ref is not None and (row["value_time"] - ref[0]).total_seconds() > limits.max_gap_h * 3600:
                    gap_h = (row["value_time"] - ref[0]).total_seconds() / 3600
                    reason = f"gap: {gap_h:.0f} h since the previous value"
                accepted.append((row["value_time"], float(row["value"])))
                accepted.sort(key=lambda a: a[0])
            out.loc[i, ["qc", "reason"]] = [qc, reason]
    return out[OBS_COLUMNS]


def station_status(checked: pd.DataFrame, history: pd.DataFrame, *, now: datetime, cfg: FeedsConfig,
                   variable: str = "discharge") -> dict[str, StationStatus]:
    """For each configured station: the newest good ``variable`` value of this run's answers and
    the store (a ``fallback`` when this run's answers had none), with its age and whether it is
    stale; the problems of this run's rows (rejections, gaps) as lines."""
    now_ts = pd.Timestamp(now).tz_convert("UTC")
    max_age_h = cfg.quality.max_age_h
    out: dict[str, StationStatus] = {}
    for st in cfg.stations:
        rows = checked[(checked["station_id"] == st.id) & (checked["variable"] == variable)]
        problems = [f"{r.value_time.isoformat() if pd.notna(r.value_time) else '?'} {r.source}: {r.reason}"
                    for r in rows.itertuples() if r.reason and r.qc not in ("duplicate", "ignored")
                    and not r.reason.startswith(ALREADY_REJECTED)]
        good = rows[rows["qc"].isin(["ok", "duplicate"]) & (rows["value_time"] <= now_ts + pd.Timedelta(hours=1))]
        fallback = good.empty
        if len(history):  # the newest good value known, even if this answer lags behind the store
            stored = history[(history["station_id"] == st.id) & (history["variable"] == variable)
                             & (history["qc"] == "ok") & (history["value_time"] <= now_ts)]
            good = pd.concat([good, stored], ignore_index=True) if len(stored) else good
        if good.empty:
            out[st.id] = StationStatus(st.id, variable, None, None, None, True, fallback,
                                       problems + ["no good value received or stored"])
            continue
        last = good.sort_values("value_time").iloc[-1]
        age_h = max((now_ts - last["value_time"]).total_seconds() / 3600.0, 0.0)
        stale = age_h > max_age_h
        if stale:
            problems.append(f"stale: newest good value is {age_h:.1f} h old (limit {max_age_h:g} h)")
        if fallback:
            problems.append(f"fall-back: no good value in this run's answers; using the stored one of "
                            f"{last['value_time'].isoformat()}")
        out[st.id] = StationStatus(st.id, variable, float(last["value"]), last["value_time"].to_pydatetime(),
                                   age_h, stale, fallback, problems)
    return out


def require_fresh(status: StationStatus, *, max_age_h: float) -> float:
    """The value of ``status`` if there is one no older than ``max_age_h``; StaleDataError otherwise."""
    if status.value is None or status.age_h is None:
        raise StaleDataError(f"{status.station_id} {status.variable}: no good value received or stored")
    if status.age_h > max_age_h:
        raise StaleDataError(f"{status.station_id} {status.variable}: newest good value is {status.age_h:.1f} h old "
                             f"(limit {max_age_h:g} h)")
    return status.value
