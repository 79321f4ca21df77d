"""Realistic smart-stone traffic for drills, demos and tests, with the truth of what was injected.

Every stone sends a heartbeat each reporting interval (with jitter), attitude and acceleration
noise, a slowly draining battery and a fluctuating RSSI. On top of that, ``events`` injected
events, each on its own stone, in a rotating mix:

* ``displacement``: a burst of movement messages (shock, changing attitude), then fast reports
  once a minute at a new attitude 15-30 deg off -> ``shaking`` then ``displaced``;
* ``loss``: a burst, then the cable goes: the gateway reports ``link: lost`` -> ``shaking``, ``lost``;
* ``rock``: a burst, then the stone settles back -> ``shaking``, then ``normal`` after the calm period;
* ``noise``: one heartbeat with a wild tilt -> nothing (debounce);
* ``outage``: silence for two intervals more than ``offline_intervals`` -> ``offline``, then ``online``;
* ``battery``: the cell drains through the low-battery threshold -> ``low``;
* ``restart``: the sequence counter starts again at 1 (a battery change), then a burst and the
  cable goes -> ``shaking``, ``lost``: the stone still alarms after its counter restarted;

and ``bad`` messages per quarantine reason (malformed, unknown stone, bad or future time, out of
range, duplicate: the seq of a stored reading with other values, out of order) plus as many valid
readings delivered late and as many identical redeliveries (QoS 1 delivers at least once: counted
as already stored, not quarantined). The truth lists, per stone, the transitions the alarm machine
must produce and the time window of each, the counter restarts, and the quarantine counts by
reason, so a test can demand an exact match.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from floodtwin.sensors.alarms import Thresholds
from floodtwin.sensors.registry import Registry
from floodtwin.sensors.store import BEIJING

__all__ = ["EVENT_KINDS", "CST", "BURST_S", "FAST_S", "Simulation", "simulate", "compare_alarms"]

EVENT_KINDS = ("displacement", "loss", "rock", "noise", "outage", "battery", "restart")
#: Stones report in local time (China Standard Time); the store keeps UTC.
CST = BEIJING
BURST_S = (0.0, 5.0, 10.0)
FAST_S = tuple(range(60, 601, 60))


@dataclass
class Simulation:
    """Messages in delivery order (``(stone_id, payload)``; the MQTT topic is built from the id)
    and the truth: expected transitions per stone, quarantine counts, late readings."""

    messages: list[tuple[str, str]]
    expected: dict[str, list[dict[str, Any]]]
    quarantine: dict[str, int]
    late: int
    valid: int
    start: datetime
    end: datetime
    injected: list[dict[str, Any]] = field(default_factory=list)
    #: identical redeliveries (the ingest counts them as already stored)
    redelivered: int = 0
    #: counter restarts: stone_id, the time of the first reading after it, from_seq, to_seq
    restarts: list[dict[str, Any]] = field(default_factory=list)

    def truth(self) -> dict[str, Any]:
        """The truth as a JSON-ready dict."""
        return {"start": self.start.isoformat(), "end": self.end.isoformat(), "valid_readings": self.valid,
                "late": self.late, "redelivered": self.redelivered, "quarantine": self.quarantine,
                "restarts": self.restarts, "injected": self.injected, "expected": self.expected}


def _iso(t: datetime) -> str:
    return t.astimezone(CST).isoformat(timespec="milliseconds")


def _window(kind: str, frm: str, to: str, after: datetime, before: datetime) -> dict[str, Any]:
    return {"kind": kind, "from": frm, "to": to, "after": after.isoformat(), "before": before.isoformat()}


def simulate(registry: Registry, thresholds: Thresholds, *, start: datetime, hours: float = 24.0,
             events: int = 12, bad: int = 2, seed: int = 0) -> Simulation:
    """Generate ``hours`` of traffic from every stone of ``registry`` from ``start`` (aware).

    ``events`` injected events go to distinct stones (at most one per stone); ``bad`` messages per
    quarantine reason and ``bad`` late deliveries are mixed in. Deterministic for a ``seed``.
    Events start between 1 h and ``hours`` - 4 h so that their consequences complete in the run.
    """
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    if not hours > 0:
        raise ValueError(f"hours = {hours}: must be positive")
    if events < 0 or bad < 0:
        raise ValueError(f"events = {events}, bad = {bad}: must not be negative")
    if hours < 6 and events:
        raise ValueError("injected events need at least 6 hours of simulation")
    rng = np.random.default_rng(seed)
    th = thresholds
    end = start + timedelta(hours=hours)
    ids = list(registry.ids)
    # each event, late delivery and out-of-order reading has a stone of its own; the other bad
    # messages need at least one quiet stone
    most = len(ids) - 2 * bad - (1 if bad else 0)
    if events > most:
        raise ValueError(f"at most {most} events for {len(ids)} stones with {bad} bad messages per reason")
    # an outage and its online event must fit in the 4 h an event has to complete
    outage_total_s = (thresholds.offline_intervals + 3) * max(s.report_interval_min for s in registry) * 60.0
    if "outage" in EVENT_KINDS[:events] and outage_total_s > 4 * 3600.0 - 60.0:
        raise ValueError(f"an outage of offline_intervals = {thresholds.offline_intervals:g} intervals does not fit "
                         "in the 4 h an injected event has to complete")
    chosen = rng.choice(len(ids), size=events + 2 * bad, replace=False)
    event_stones = {ids[k]: EVENT_KINDS[j % len(EVENT_KINDS)] for j, k in enumerate(chosen[:events])}
    late_stones = [ids[k] for k in chosen[events:events + bad]]
    order_stones = [ids[k] for k in chosen[events + bad:]]
    span_s = hours * 3600.0
    per_stone: dict[str, list[dict[str, Any]]] = {}
    expected: dict[str, list[dict[str, Any]]] = {}
    injected: list[dict[str, Any]] = []
    restarts: list[dict[str, Any]] = []
    for sid in ids:
        stone = registry[sid]
        interval_s = stone.report_interval_min * 60.0
        kind = event_stones.get(sid)
        te_s = float(rng.uniform(3600.0, span_s - 4 * 3600.0)) if kind else None
        times = list(np.arange(rng.uniform(0, interval_s), span_s, interval_s) + rng.uniform(-20, 20))
        times = [t for t in times if 0 <= t < span_s]
        battery0 = float(rng.uniform(3.6, 4.1))
        rows: list[dict[str, Any]] = []
        new_roll = new_pitch = None
        if kind in ("displacement",):
            off = float(rng.uniform(15, 30))
            ang = float(rng.uniform(0, 2 * np.pi))
            new_roll = stone.baseline_roll_deg + off * np.cos(ang)
            new_pitch = stone.baseline_pitch_deg + off * np.sin(ang)
        te = start + timedelta(seconds=te_s) if te_s is not None else None
        outage_s = (th.offline_intervals + 2) * interval_s
        if kind == "outage":
            gap = (te_s, te_s + outage_s)
            times = [t for t in times if not gap[0] <= t < gap[1]]
        if kind in ("displacement", "loss", "rock", "restart"):
            # heartbeats during the burst and the fast reports would only blur the scenario's timing
            times = [t for t in times if not te_s - 1 <= t < te_s + 660]
        for t in times:
            rows.append({"t": t, "type": "heartbeat"})
        if kind in ("displacement", "loss", "rock", "restart"):
            for k, dt in enumerate(BURST_S):
                rows.append({"t": te_s + dt, "type": "burst", "k": k})
            if kind in ("loss", "restart"):
                rows.append({"t": te_s + 60, "type": "heartbeat"})
                rows.append({"t": te_s + 120, "type": "link_lost"})
            else:
                for dt in FAST_S:
                    rows.append({"t": te_s + dt, "type": "heartbeat"})
        if kind == "noise":
            mid = [r for r in rows if r["t"] >= te_s]
            mid[0]["type"] = "noise"
        rows.sort(key=lambda r: r["t"])
        seq = int(rng.integers(100, 50_000))  # >= 100: a restart to 1 always falls back
        restart_at = None
        for r in rows:
            t = r["t"]
            if kind == "restart" and restart_at is None and t >= te_s - 600:
                restart_at = (seq, t)  # the battery is changed ten minutes before the burst: counting from 1
                seq = 0
            seq += 1
            r["seq"] = seq
            moved = kind == "displacement" and t >= te_s + 30
            lost = kind in ("loss", "restart") and t >= te_s + 120
            roll = (new_roll if moved else stone.baseline_roll_deg) + rng.normal(0, 0.2)
            pitch = (new_pitch if moved else stone.baseline_pitch_deg) + rng.normal(0, 0.2)
            accel = [rng.normal(0, 0.01), rng.normal(0, 0.01), 1 + rng.normal(0, 0.01)]
            event = "heartbeat"
            if r["type"] == "burst":
                event = "movement"
                accel = [rng.normal(0, 0.8), rng.normal(0, 0.8), 1 + float(rng.uniform(1.0, 2.0))]
                frac = (r["k"] + 1) / len(BURST_S)
                if kind == "displacement":
                    roll = stone.baseline_roll_deg + frac * (new_roll - stone.baseline_roll_deg)
                    pitch = stone.baseline_pitch_deg + frac * (new_pitch - stone.baseline_pitch_deg)
                else:
                    roll = stone.baseline_roll_deg + float(rng.uniform(3, 12))
            elif r["type"] == "noise":
                roll = stone.baseline_roll_deg + 12.0
            battery = battery0 - 0.004 * t / 86400 + rng.normal(0, 0.003)
            if kind == "battery":
                battery = th.low_battery_v + 0.12 - 0.24 * t / span_s + rng.normal(0, 0.003)
            msg = {"stone_id": sid, "time": _iso(start + timedelta(seconds=float(t))), "seq": seq,
                   "roll_deg": round(float(roll), 3), "pitch_deg": round(float(pitch), 3),
                   "accel_g": [round(float(a), 4) for a in accel], "battery_v": round(float(battery), 3),
                   "rssi_dbm": int(np.clip(rng.normal(-75, 4), -120, -30)), "event": event, "link": "ok"}
            if lost or r["type"] == "link_lost":
                msg = {"stone_id": sid, "time": msg["time"], "seq": seq, "event": "heartbeat", "link": "lost"}
            r["msg"] = msg
        per_stone[sid] = rows
        if restart_at is not None:
            restarts.append({"stone_id": sid, "time": _iso(start + timedelta(seconds=float(restart_at[1]))),
                             "from_seq": restart_at[0], "to_seq": 1})
        if kind:
            injected.append({"stone_id": sid, "kind": kind, "time": te.isoformat()})
        exp: list[dict[str, Any]] = []
        if kind in ("displacement", "loss", "rock", "restart"):
            exp.append(_window("state", "normal", "shaking", te, te + timedelta(seconds=BURST_S[-1] + 1)))
        if kind == "displacement":
            exp.append(_window("state", "shaking", "displaced", te + timedelta(seconds=FAST_S[0]),
                               te + timedelta(seconds=FAST_S[-1] + 1)))
        elif kind in ("loss", "restart"):
            exp.append(_window("state", "shaking", "lost", te + timedelta(seconds=119), te + timedelta(seconds=121)))
        elif kind == "rock":
            calm0 = te + timedelta(seconds=FAST_S[0])
            exp.append(_window("state", "shaking", "normal", calm0 + timedelta(seconds=th.clear_stable_s),
                               calm0 + timedelta(seconds=th.clear_stable_s + interval_s + 60)))
        elif kind == "outage":
            # the last heartbeat before the gap came up to one interval (and its jitter) before te
            off_at = te + timedelta(seconds=-interval_s - 60 + th.offline_intervals * interval_s)
            exp.append(_window("offline", "online", "offline", off_at, off_at + timedelta(seconds=interval_s + 120)))
            back = te + timedelta(seconds=outage_s)
            exp.append(_window("offline", "offline", "online", back, back + timedelta(seconds=interval_s + 60)))
        elif kind == "battery":
            exp.append(_window("battery", "ok", "low", start + timedelta(seconds=span_s * 0.45),
                               start + timedelta(seconds=span_s * 0.6)))
        if exp:
            expected[sid] = exp
    # delivery order: by time across stones; then the late ones and the bad ones are mixed in
    stream = sorted(((r["t"], sid, r["seq"], json.dumps(r["msg"], separators=(",", ":")))
                     for sid, rows in per_stone.items() for r in rows))
    messages = [(sid, payload) for _, sid, _, payload in stream]
    valid = len(messages)
    positions = {(sid, json.loads(p)["seq"]): i for i, (sid, p) in enumerate(messages)}
    # a late delivery moves a reading from the middle past the next two; an out-of-order reading
    # takes the time of one three readings before the middle: both need six readings of the stone
    short = [sid for sid in late_stones + order_stones if len(per_stone[sid]) < 6]
    if short:
        raise ValueError(f"bad messages need at least 6 readings of a stone ({short[0]} has "
                         f"{len(per_stone[short[0]])} in {hours:g} h): simulate longer or with no bad messages")
    # late deliveries: a heartbeat of a quiet stone arrives after the stone's next two readings
    late_moves = []
    for sid in late_stones:
        rows = per_stone[sid]
        r = rows[len(rows) // 2]
        late_moves.append((positions[(sid, r["seq"])], positions[(sid, rows[len(rows) // 2 + 2]["seq"])]))
    for src, dst in sorted(late_moves, reverse=True):
        item = messages.pop(src)
        messages.insert(dst, item)
    quarantine = {"malformed": 0, "unknown_stone": 0, "bad_time": 0, "future_time": 0, "out_of_range": 0,
                  "duplicate": 0, "out_of_order": 0}
    inserts: list[tuple[int, tuple[str, str]]] = []
    redelivered = 0
    n = len(messages)
    quiet = [s for s in ids if s not in event_stones and s not in late_stones and s not in order_stones]
    for b in range(bad):
        pos = int(rng.integers(n // 10, n - n // 10))
        sid = quiet[int(rng.integers(len(quiet)))]
        base = json.loads(messages[pos][1]) if messages[pos][0] == sid else json.loads(
            next(p for s, p in messages if s == sid))
        garbage = ['{"stone_id": "' + sid + '", "time": ', "[1, 2, 3]", "\x00\x01 not json"][b % 3]
        inserts.append((pos, (sid, garbage)))
        quarantine["malformed"] += 1
        inserts.append((pos, ("ST999", json.dumps({**base, "stone_id": "ST999"}))))
        quarantine["unknown_stone"] += 1
        inserts.append((pos, (sid, json.dumps({**base, "time": base["time"][:19]}))))  # no zone
        quarantine["bad_time"] += 1
        inserts.append((pos, (sid, json.dumps({**base, "time": _iso(end + timedelta(hours=2))}))))
        quarantine["future_time"] += 1
        inserts.append((pos, (sid, json.dumps({**base, "battery_v": 9.9} if b % 2 else {**base, "roll_deg": 400.0}))))
        quarantine["out_of_range"] += 1
        # a redelivery of an earlier message (QoS 1 allows it) must not be stored twice; the same seq
        # with other values contradicts the stored reading
        dup_pos = int(rng.integers(0, pos))
        inserts.append((pos, messages[dup_pos]))
        redelivered += 1
        orig = json.loads(messages[dup_pos][1])
        inserts.append((pos, (orig["stone_id"], json.dumps({**orig, "battery_v": round(orig.get("battery_v", 3.7)
                                                                                         + 0.05, 3)}))))
        quarantine["duplicate"] += 1
    for sid in order_stones:
        # a reading whose seq runs ahead of one whose time is earlier: contradictory, quarantined
        rows = per_stone[sid]
        r = rows[len(rows) // 2]
        bad_msg = {**r["msg"], "seq": r["seq"] + 10_000_000,
                   "time": _iso(start + timedelta(seconds=float(rows[len(rows) // 2 - 3]["t"])))}
        after = rows[-1]
        inserts.append((len(messages) if after is None else positions.get((sid, after["seq"]), len(messages)) + 1,
                        (sid, json.dumps(bad_msg))))
        quarantine["out_of_order"] += 1
    # the out-of-order readings arrive after the stone's last reading, so the contradiction is
    # against that stone's newest stored reading
    for pos, item in sorted(inserts, key=lambda x: x[0], reverse=True):
        messages.insert(min(pos, len(messages)), item)
    return Simulation(messages=messages, expected=expected, quarantine=quarantine, late=len(late_stones),
                      valid=valid, start=start, end=end, injected=injected, redelivered=redelivered,
                      restarts=restarts)


def compare_alarms(expected: dict[str, list[dict[str, Any]]], events: list[dict[str, Any]]) -> list[str]:
    """Differences between the expected transitions of a simulation and the alarm events found
    (dicts with stone_id, kind, from, to, time ISO): missing, unexpected, out of their window.
    An empty list means the alarms match the injected events exactly."""
    got: dict[str, list[dict[str, Any]]] = {}
    for e in events:
        got.setdefault(e["stone_id"], []).append(e)
    problems = []
    for sid in sorted(set(expected) | set(got)):
        want = expected.get(sid, [])
        have = sorted(got.get(sid, []), key=lambda e: e["time"])
        want_seq = [(w["kind"], w["from"], w["to"]) for w in want]
        have_seq = [(h["kind"], h["from"], h["to"]) for h in have]
        if want_seq != have_seq:
            problems.append(f"{sid}: expected {want_seq}, got {have_seq}")
            continue
        for w, h in zip(want, have):
            t = datetime.fromisoformat(h["time"].replace("Z", "+00:00"))
            if not datetime.fromisoformat(w["after"]) <= t <= datetime.fromisoformat(w["before"]):
                problems.append(f"{sid}: {w['kind']} {w['from']}->{w['to']} at {h['time']}, expected between "
                                f"{w['after']} and {w['before']}")
    return problems
