"""Ingest smart-stone readings: validate, order-check, store, advance the alarms.

One :class:`Ingestor` serves every source (JSON Lines and CSV files, the MQTT subscriber): each
batch is validated (:mod:`floodtwin.sensors.readings`), checked against the stone's history and
written in **one transaction** together with its quarantine rows, restarts, alarm events and
machine states, so a crash loses a whole batch or nothing. The alarm transitions come back in each
batch's :class:`Summary` (``events``); answering them (the root-stone tasks on the board) is the
orchestrator's part, :mod:`floodtwin.alerts`, so the sensors never reach into dispatch.

**Order rules.** A stone's readings are numbered by its sequence counter (``seq``) within a
*boot*: boot 0 until the counter first restarts, then 1, and so on. Within a boot, seq and time
rise together. For a reading of a stone whose newest stored reading is (seq *S*, time *T*):

* seq > *S* and time >= *T*: in order, stored.
* the same values as a stored reading (time included, any boot): an identical redelivery (QoS 1
  delivers at least once; a file ingested twice). Counted as ``already_stored``, not quarantined:
  the reading itself is stored, so nothing received is lost, and a quarantine row per redelivery
  would bury the real problems under copies after every broker restart.
* seq < *S* and time > *T* (the time moves past the newest reading while the counter falls back):
  a **restart** of the counter (battery change, reset). It is recorded in ``seq_restarts`` (when,
  from which seq to which), the stone's boot goes up by one and the reading is stored in it; the
  alarm machine carries on, so the stone can alarm again. A seq that falls back while the time does
  not move past *T* is not a restart (see the next rules).
* seq = *S* with other values: ``duplicate`` (quarantined with both times).
* seq > *S* but time < *T*: ``out_of_order`` (its time contradicts the sequence).
* seq < *S* and time <= *T*: checked against its neighbours by seq in its boot: the same seq stored
  with other values is a ``duplicate``; a time before the previous seq's or after the next seq's is
  ``out_of_order``; otherwise it is a *late* reading: stored, and the stone's alarms re-evaluated
  in time order (events that no longer hold are retracted, new ones added).

A reading older than the first reading of the stone's newest boot belongs to an earlier boot:
it is checked in the boot whose time span holds it; one that falls in the silence between two boots
extends the earlier boot when its seq is above that boot's last, the later boot when its seq is below
that boot's first, and is ``out_of_order`` otherwise. Restarts are only detected against the newest
boot.
"""

from __future__ import annotations

import contextlib
import gc
import json
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from floodtwin.db import migrate, transaction
from floodtwin.errors import DataError, InputError
from floodtwin.sensors import readings as rd
from floodtwin.sensors.alarms import (Thresholds, Transition, confirm_window_ms, load_thresholds, new_machine, step,
                                     sweep)
from floodtwin.sensors.registry import Registry, ensure_registry, save_registry
from floodtwin.sensors.store import COMPONENT, MIGRATIONS, ms_to_iso

__all__ = ["BATCH_SIZE", "to_ms", "Summary", "Ingestor", "gc_paused", "iter_lines", "active_major_dangers"]


BATCH_SIZE = 20000
#: a row in the readings layout: stone_no, seq, t_ms, the 7 measured values, movement, link_lost, boot
_INSERT = ("INSERT INTO readings (stone_no, seq, t_ms, roll_deg, pitch_deg, accel_x_g, accel_y_g, accel_z_g, "
           "battery_v, rssi_dbm, movement, link_lost, boot, received_ms, late) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
_VALUES = "t_ms, roll_deg, pitch_deg, accel_x_g, accel_y_g, accel_z_g, battery_v, rssi_dbm, movement, link_lost"


def to_ms(now: datetime) -> int:
    """Aware datetime -> UTC epoch ms (InputError for a naive one: the clock must carry a zone)."""
    if now.tzinfo is None:
        raise InputError(f"time {now.isoformat()} has no zone")
    return round(now.timestamp() * 1000)


@dataclass
class Summary:
    """What an ingest did: counts by outcome and the alarm events (transitions) it stored.

    ``tasks_created`` / ``task_errors`` are filled by whoever answers the events
    (:class:`floodtwin.alerts.StoneAlarmAnswer`); the ingest itself creates no task."""

    received: int = 0
    accepted: int = 0
    late: int = 0
    already_stored: int = 0
    quarantined: Counter = field(default_factory=Counter)
    events: list[dict[str, Any]] = field(default_factory=list)
    restarts: list[dict[str, Any]] = field(default_factory=list)
    retracted: int = 0
    tasks_created: list[str] = field(default_factory=list)
    task_errors: list[str] = field(default_factory=list)

    def add(self, other: "Summary") -> None:
        """Accumulate another batch's summary into this one."""
        self.received += other.received
        self.accepted += other.accepted
        self.late += other.late
        self.already_stored += other.already_stored
        self.quarantined.update(other.quarantined)
        self.events.extend(other.events)
        self.restarts.extend(other.restarts)
        self.retracted += other.retracted
        self.tasks_created.extend(other.tasks_created)
        self.task_errors.extend(other.task_errors)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (quarantine counts by reason, every reason listed). ``received`` =
        ``accepted`` + ``already_stored`` + ``quarantined``."""
        return {
            "received": self.received, "accepted": self.accepted, "late": self.late,
            "already_stored": self.already_stored,
            "quarantined": sum(self.quarantined.values()),
            "quarantined_by_reason": {r: self.quarantined.get(r, 0) for r in rd.REASONS},
            "restarts": self.restarts,
            "alarm_events": self.events, "retracted_events": self.retracted,
            "tasks_created": self.tasks_created, "task_errors": self.task_errors,
        }


@dataclass(frozen=True)
class _Restart:
    """A restart of a stone's sequence counter: the first reading of boot ``boot`` (``to_seq`` at
    ``t_ms``) after the newest of the boot before (``from_seq`` at ``from_t_ms``)."""

    stone_id: str
    boot: int
    t_ms: int
    from_seq: int
    from_t_ms: int
    to_seq: int
    source: str

    def to_dict(self) -> dict[str, Any]:
        return {"stone_id": self.stone_id, "boot": self.boot, "time": ms_to_iso(self.t_ms),
                "from_seq": self.from_seq, "from_time": ms_to_iso(self.from_t_ms), "to_seq": self.to_seq,
                "source": self.source}


@dataclass
class _Stored:
    """What :meth:`Ingestor._store` did with a batch (inside its transaction)."""

    transitions: list[Transition]
    touched: set[str]
    replay: set[str]
    accepted: int = 0
    late: int = 0
    already_stored: int = 0
    restarts: list[_Restart] = field(default_factory=list)


def _event_dict(tr: Transition) -> dict[str, Any]:
    return {"stone_id": tr.stone_id, "time": ms_to_iso(tr.t_ms), "kind": tr.kind,
            "from": tr.from_state, "to": tr.to_state, "evidence": tr.evidence}


class Ingestor:
    """Stateful ingest into one database: keeps each stone's alarm machine in memory between
    batches and reloads them when another connection has written (``PRAGMA data_version``).

    ``clock`` returns the current time (aware datetime).
    """

    def __init__(self, conn: sqlite3.Connection, *, registry: Registry | None = None,
                 thresholds: Thresholds | None = None, clock: Callable[[], datetime] | None = None):
        self.conn = conn
        self.registry = registry if registry is not None else ensure_registry(conn)
        self.numbers = _stone_numbers(conn, self.registry)
        self.th = thresholds if thresholds is not None else load_thresholds()
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.future_ms = round(self.th.future_tolerance_s * 1000)
        self.offline_after_s = {s.stone_id: s.offline_after_s(self.th.offline_intervals) for s in self.registry}
        self.interval_s = {s.stone_id: s.report_interval_min * 60.0 for s in self.registry}
        self.machines: dict[str, dict] = {}
        self._data_version: int | None = None
        self._load_machines()

    # -- machine state ------------------------------------------------------------------------
    def _load_machines(self) -> None:
        stored = {r[0]: json.loads(r[1]) for r in self.conn.execute("SELECT stone_id, machine FROM stone_state")}
        self.machines = {s.stone_id: stored.get(s.stone_id) or new_machine(s.baseline_roll_deg, s.baseline_pitch_deg)
                         for s in self.registry}
        for m in self.machines.values():  # machines stored before counter restarts were tracked: boot 0
            m.setdefault("boot", 0)
            m.setdefault("boot_start_ms", None)
        self._data_version = self.conn.execute("PRAGMA data_version").fetchone()[0]

    def _refresh(self) -> None:
        if self._data_version is None or \
                self.conn.execute("PRAGMA data_version").fetchone()[0] != self._data_version:
            self._load_machines()

    def _save_machines(self, stone_ids: Iterable[str], now_ms: int) -> None:
        rows = []
        for sid in stone_ids:
            m = self.machines[sid]
            rows.append((sid, m["state"], m["since_ms"], int(m["offline"]), int(m["low_battery"]), m["last_seq"],
                         m["last_t_ms"], now_ms, m["battery_v"], json.dumps(m)))
        self.conn.executemany(
            "INSERT INTO stone_state (stone_id, state, since_ms, offline, low_battery, last_seq, last_t_ms, "
            "last_received_ms, battery_v, machine) VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT(stone_id) DO UPDATE SET "
            "state=excluded.state, since_ms=excluded.since_ms, offline=excluded.offline, "
            "low_battery=excluded.low_battery, last_seq=excluded.last_seq, last_t_ms=excluded.last_t_ms, "
            "last_received_ms=excluded.last_received_ms, battery_v=excluded.battery_v, machine=excluded.machine",
            rows)

    # -- one batch ----------------------------------------------------------------------------
    def ingest_batch(self, objs: list[Any], raws: list[str], sources: list[str] | Callable[[int], str],
                     now: datetime | None = None) -> Summary:
        """Validate and store one batch of decoded records (``raws`` their payloads, ``sources``
        where each came from, a list or ``i -> str``) in one transaction; the summary holds the
        alarm transitions and the counter restarts."""
        now = now or self.clock()
        now_ms = to_ms(now)
        summary = Summary(received=len(objs))
        batch, rejections = rd.validate_batch(objs, raws, sources, self.registry.index, now_ms, self.future_ms)
        try:
            with transaction(self.conn):
                self._refresh()
                out = self._store(batch, rejections, now_ms)
                transitions = out.transitions
                for sid in out.replay:
                    transitions.extend(self._replay(sid, summary))
                event_ids = self._insert_events(transitions, now_ms)
                self._save_machines(out.touched | out.replay, now_ms)
                if out.restarts:
                    self.conn.executemany(
                        "INSERT INTO seq_restarts (stone_id, boot, t_ms, from_seq, from_t_ms, to_seq, detected_ms, "
                        "source) VALUES (?,?,?,?,?,?,?,?)",
                        [(r.stone_id, r.boot, r.t_ms, r.from_seq, r.from_t_ms, r.to_seq, now_ms, r.source)
                         for r in out.restarts])
                if rejections:
                    self.conn.executemany(
                        "INSERT INTO quarantine (received_ms, source, reason, detail, stone_id, seq, raw) "
                        "VALUES (?,?,?,?,?,?,?)",
                        [(now_ms, q.source, q.reason, q.detail, q.stone_id, q.seq, q.raw) for q in rejections])
        except BaseException as exc:
            # the machines in memory ran ahead of the rolled-back database: reload them before the
            # next batch, or a retry of this one would find its own readings "already stored"
            self._data_version = None
            if isinstance(exc, sqlite3.DatabaseError):  # disk full, I/O error, a corrupt file
                raise DataError(f"{self._where()}: {exc}: the batch of {len(objs)} readings was rolled back, "
                                "none of it is stored") from None
            raise
        self._data_version = self.conn.execute("PRAGMA data_version").fetchone()[0]
        summary.accepted = out.accepted
        summary.late = out.late
        summary.already_stored = out.already_stored
        summary.quarantined.update(q.reason for q in rejections)
        summary.restarts.extend(r.to_dict() for r in out.restarts)
        summary.events.extend(_event_dict(t) for t, _ in zip(transitions, event_ids))
        return summary

    def _where(self) -> str:
        return str(getattr(self.conn, "db_path", "database"))

    def _store(self, batch: rd.Batch, rejections: list[rd.Rejection], now_ms: int):
        """Order-check the batch against each stone's history, insert it, advance the machines.

        Stones whose rows are all in order and calm, and whose machine is quiescent, are handled
        with numpy in one go (the machine would only record the last reading); the others go
        reading by reading through :func:`~floodtwin.sensors.alarms.step`.
        """
        import numpy as np

        n = len(batch)
        transitions: list[Transition] = []
        touched: set[str] = set()
        replay: set[str] = set()
        if n == 0:
            return _Stored(transitions=transitions, touched=touched, replay=replay)
        machines, th, index = self.machines, self.th, self.registry.index
        numbers = self.numbers
        cache = batch.__dict__.get("_arrays", {})
        sidx = cache["stone_index"] if "stone_index" in cache else np.array([index[s] for s in batch.stone_id],
                                                                            dtype=np.int64)
        seq = np.array(batch.seq, dtype=np.int64)
        t = batch.array("t_ms", np.int64)
        lost = np.array([x == "lost" for x in batch.link], dtype=bool)
        movement = np.array([e == "movement" for e in batch.event], dtype=bool)
        roll, pitch, ax, ay, az, battery = (batch.array(c) for c in (
            "roll_deg", "pitch_deg", "accel_x_g", "accel_y_g", "accel_z_g", "battery_v"))
        # per-stone context as arrays indexed by registry position
        ids = self.registry.ids
        ms = [machines[sid] for sid in ids]
        last_seq = np.array([-1 if m["last_seq"] is None else m["last_seq"] for m in ms], dtype=np.int64)
        last_t = np.array([np.iinfo(np.int64).min if m["last_t_ms"] is None else m["last_t_ms"] for m in ms],
                          dtype=np.int64)
        has_last = np.array([m["last_t_ms"] is not None for m in ms])
        ref_roll = np.array([m["ref_roll"] for m in ms])
        ref_pitch = np.array([m["ref_pitch"] for m in ms])
        limit = np.array([round(self.offline_after_s[sid] * 1000) for sid in ids], dtype=np.int64)
        quiet = np.array([m["state"] == "normal" and not m["offline"] and not m["low_battery"] for m in ms])
        # each stone's own confirmation window (it scales with its reporting interval)
        window_ms = np.array([confirm_window_ms(th, self.interval_s[sid]) for sid in ids])
        pending_abnormal = np.array([max((a[0] for a in m["abnormal"]), default=None) or 0 for m in ms],
                                    dtype=np.float64)
        has_abnormal = np.array([bool(m["abnormal"]) for m in ms])
        # previous row of the same stone (arrival order), or the stone's stored last reading
        order = np.argsort(sidx, kind="stable")
        s_sorted = sidx[order]
        first = np.ones(n, dtype=bool)
        first[1:] = s_sorted[1:] != s_sorted[:-1]
        prev_seq = np.empty(n, dtype=np.int64)
        prev_t = np.empty(n, dtype=np.int64)
        prev_seq[order[1:]] = seq[order[:-1]]
        prev_t[order[1:]] = t[order[:-1]]
        prev_has = np.ones(n, dtype=bool)
        firsts = order[first]
        prev_seq[firsts] = last_seq[sidx[firsts]]
        prev_t[firsts] = last_t[sidx[firsts]]
        prev_has[firsts] = has_last[sidx[firsts]]
        in_order = (seq > prev_seq) & ((t >= prev_t) | ~prev_has)
        gap = prev_has & (t - np.where(prev_has, prev_t, t) > limit[sidx])
        with np.errstate(invalid="ignore"):
            droll = (roll - ref_roll[sidx] + 180.0) % 360.0 - 180.0
            dpitch = (pitch - ref_pitch[sidx] + 180.0) % 360.0 - 180.0
            tilt = np.hypot(droll, dpitch)
            shock = np.abs(np.sqrt(ax * ax + ay * ay + az * az) - 1.0)
            calm = (~lost & ~movement & (tilt <= th.shake_tilt_deg) & (shock <= th.accel_spike_g)
                    & (battery >= th.low_battery_v))
        row_ok = in_order & calm & ~gap
        bad_per_stone = np.bincount(sidx, weights=~row_ok, minlength=len(ids)) > 0
        first_t = np.full(len(ids), np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(first_t, sidx, t)
        stale_abnormal = ~has_abnormal | (first_t - pending_abnormal > window_ms)
        fast_stone = quiet & stale_abnormal & ~bad_per_stone
        fast_row = fast_stone[sidx]
        # fast stones: the machine keeps only the last reading
        last_rows = order[np.r_[first[1:], True]]  # last row of each stone group (arrival order)
        for i in last_rows.tolist():
            k = int(sidx[i])
            if not fast_stone[k]:
                continue
            m = ms[k]
            m["last_seq"], m["last_t_ms"] = int(seq[i]), int(t[i])
            m["last_roll"], m["last_pitch"], m["battery_v"] = float(roll[i]), float(pitch[i]), float(battery[i])
            m["abnormal"] = []
            m["batt_low_n"] = 0
            touched.add(ids[k])
        sno = [numbers[s] for s in batch.stone_id]
        mov = movement.astype(np.int64).tolist()
        lst = lost.astype(np.int64).tolist()
        boots = [machines[s]["boot"] for s in batch.stone_id]
        cols = [sno, batch.seq, batch.t_ms, batch.roll_deg, batch.pitch_deg, batch.accel_x_g, batch.accel_y_g,
                batch.accel_z_g, batch.battery_v, batch.rssi_dbm, mov, lst, boots]
        # received time and the late flag are the same for the whole batch: SQL literals, not 2 binds per row
        insert = _INSERT.replace("?,?)", f"{int(now_ms)},0)")
        fast_idx = np.flatnonzero(fast_row).tolist()
        rows = list(zip(*cols))
        pending = [rows[i] for i in fast_idx] if len(fast_idx) < n else rows
        out = _Stored(transitions=transitions, touched=touched, replay=replay, accepted=len(pending))
        if len(fast_idx) < n:
            for i in np.flatnonzero(~fast_row).tolist():
                sid, sq, t_ms = batch.stone_id[i], batch.seq[i], batch.t_ms[i]
                m = machines[sid]
                last = m["last_seq"]
                row = rows[i][:12] + (m["boot"],)  # an earlier row of the batch may have restarted the counter
                if last is None or (sq > last and t_ms >= m["last_t_ms"]):
                    self._accept(out, m, sid, row, batch, i, pending)
                    continue
                # everything else is decided against the stored history: store what is pending first
                if pending:
                    self.conn.executemany(insert, pending)
                    pending = []
                verdict = self._verdict(sid, m, row)
                if verdict[0] == "stored":
                    out.already_stored += 1
                elif verdict[0] == "restart":
                    out.restarts.append(_Restart(sid, m["boot"] + 1, t_ms, last, m["last_t_ms"], sq, batch.source(i)))
                    m["boot"] += 1
                    m["boot_start_ms"] = t_ms
                    self._accept(out, m, sid, row[:12] + (m["boot"],), batch, i, pending)
                elif verdict[0] == "late":
                    self.conn.execute(_INSERT, row[:12] + (verdict[1], now_ms, 1))
                    out.accepted += 1
                    out.late += 1
                    replay.add(sid)
                else:
                    reason, detail = verdict
                    rejections.append(rd.Rejection(batch.raw[i], batch.source(i), reason, detail, sid, sq))
        if pending:
            self.conn.executemany(insert, pending)
        return out

    def _accept(self, out: _Stored, m: dict, sid: str, row: tuple, batch: rd.Batch, i: int,
                pending: list[tuple]) -> None:
        """Queue an in-order reading for insertion and advance the stone's machine by it."""
        pending.append(row)
        out.accepted += 1
        out.touched.add(sid)
        if sid in out.replay:
            m["last_seq"], m["last_t_ms"] = row[1], row[2]  # the replay after the batch redoes the rest
            return
        out.transitions.extend(step(m, sid, batch.row(i), self.th, self.offline_after_s[sid],
                                          self.interval_s[sid]))

    def _verdict(self, sid: str, m: dict, row: tuple) -> tuple:
        """Where a reading that is not simply next in its stone's newest boot belongs (the rules
        of the module docstring): ``("stored",)`` for an identical redelivery, ``("restart",)``,
        ``("late", boot)``, or ``(reason, detail)`` to quarantine."""
        stone_no, sq, t_ms = row[0], row[1], row[2]
        same = self.conn.execute(f"SELECT {_VALUES} FROM readings WHERE stone_no = ? AND seq = ?",
                                 (stone_no, sq)).fetchall()
        if any(tuple(r) == tuple(row[2:12]) for r in same):
            return ("stored",)
        last, last_t = m["last_seq"], m["last_t_ms"]
        if sq < last and t_ms > last_t:
            return ("restart",)
        boot, start = m["boot"], m["boot_start_ms"]
        if start is None or t_ms >= start:
            if sq == last:
                return "duplicate", self._duplicate_detail(sid, row, boot)
            if sq > last:
                return "out_of_order", (f"seq {sq} after seq {last} but its time {ms_to_iso(t_ms)} "
                                        f"is before {ms_to_iso(last_t)}")
            verdict = self._check_late(sid, row, boot)
            return ("late", boot) if verdict is None else verdict
        return self._earlier_boot(sid, row)

    def _earlier_boot(self, sid: str, row: tuple) -> tuple:
        """Verdict on a reading older than the first of its stone's newest boot: checked in the boot
        whose time span holds it, or, in the silence between two boots, the one it continues."""
        stone_no, sq, t_ms = row[0], row[1], row[2]
        spans = self.conn.execute(
            "SELECT boot, min(t_ms), max(t_ms), min(seq), max(seq) FROM readings WHERE stone_no = ? "
            "GROUP BY boot ORDER BY boot", (stone_no,)).fetchall()
        if not spans:  # nothing stored (cannot be while the machine has a boot; decide as in boot 0)
            verdict = self._check_late(sid, row, 0)
            return ("late", 0) if verdict is None else verdict
        k = max([j for j, s in enumerate(spans) if s[1] <= t_ms], default=0)
        boot, _, end_t, _, last_seq = spans[k]
        if t_ms > end_t and k + 1 < len(spans):  # between boot k and boot k + 1
            nxt_boot, _, _, nxt_first, _ = spans[k + 1]
            if sq > last_seq:
                return ("late", boot)
            if sq < nxt_first:
                return ("late", nxt_boot)
            return "out_of_order", (f"seq {sq} at {ms_to_iso(t_ms)} falls between the counter restart of boot "
                                    f"{nxt_boot} and the boot before, but continues neither (boot {boot} ends at seq "
                                    f"{last_seq}, boot {nxt_boot} starts at seq {nxt_first})")
        verdict = self._check_late(sid, row, boot)
        return ("late", boot) if verdict is None else verdict

    def _duplicate_detail(self, sid: str, row: tuple, boot: int) -> str:
        """What a (stone, seq) already stored in ``boot`` with other values says."""
        stored = self.conn.execute("SELECT t_ms FROM readings WHERE stone_no = ? AND seq = ? AND boot = ?",
                                   (row[0], row[1], boot)).fetchone()
        when = ms_to_iso(stored[0]) if stored is not None else "?"
        return f"{sid} seq {row[1]} already stored with different values (stored time {when})"

    def _check_late(self, sid: str, row: tuple, boot: int) -> tuple[str, str] | None:
        """Verdict on an older seq in ``boot`` (row in the readings-table layout): duplicate, out of
        order, or None for a late reading that fits between its neighbours."""
        conn = self.conn
        stone_no, seq, t_ms = row[0], row[1], row[2]
        if conn.execute("SELECT 1 FROM readings WHERE stone_no = ? AND seq = ? AND boot = ?",
                        (stone_no, seq, boot)).fetchone():
            return "duplicate", self._duplicate_detail(sid, row, boot)
        prev = conn.execute("SELECT seq, t_ms FROM readings WHERE stone_no = ? AND seq < ? AND boot = ? "
                            "ORDER BY seq DESC LIMIT 1", (stone_no, seq, boot)).fetchone()
        nxt = conn.execute("SELECT seq, t_ms FROM readings WHERE stone_no = ? AND seq > ? AND boot = ? "
                           "ORDER BY seq LIMIT 1", (stone_no, seq, boot)).fetchone()
        if prev is not None and t_ms < prev[1]:
            return "out_of_order", (f"seq {seq} follows seq {prev[0]} but its time {ms_to_iso(t_ms)} is before "
                                    f"{ms_to_iso(prev[1])}")
        if nxt is not None and t_ms > nxt[1]:
            return "out_of_order", (f"seq {seq} precedes seq {nxt[0]} but its time {ms_to_iso(t_ms)} is after "
                                    f"{ms_to_iso(nxt[1])}")
        return None

    def _replay(self, sid: str, summary: Summary) -> list[Transition]:
        """Re-run ``sid``'s machine over all its stored readings in time order; reconcile its events
        (retract those that no longer hold) and return the new ones."""
        stone = self.registry[sid]
        old = self.machines[sid]
        m = new_machine(stone.baseline_roll_deg, stone.baseline_pitch_deg)
        m["ref_roll"], m["ref_pitch"] = old["ref_roll"], old["ref_pitch"]
        m["boot"] = old["boot"]
        # a late reading may have extended the newest boot backwards
        m["boot_start_ms"] = self.conn.execute("SELECT min(t_ms) FROM readings WHERE stone_no = ? AND boot = ?",
                                               (self.numbers[sid], m["boot"])).fetchone()[0] if m["boot"] else None
        fresh: list[Transition] = []
        rows = self.conn.execute(
            "SELECT ?, seq, t_ms, roll_deg, pitch_deg, accel_x_g, accel_y_g, accel_z_g, battery_v, rssi_dbm, "
            "CASE movement WHEN 1 THEN 'movement' ELSE 'heartbeat' END, "
            "CASE link_lost WHEN 1 THEN 'lost' ELSE 'ok' END "
            "FROM readings WHERE stone_no = ? ORDER BY t_ms, boot, seq", (sid, self.numbers[sid])).fetchall()
        for row in rows:
            fresh.extend(step(m, sid, tuple(row), self.th, self.offline_after_s[sid], self.interval_s[sid]))
        if old.get("swept_ms") is not None:
            fresh.extend(sweep(m, sid, old["swept_ms"], self.offline_after_s[sid]))
        self.machines[sid] = m
        stored = self.conn.execute(
            "SELECT id, stone_id, t_ms, kind, from_state, to_state FROM alarm_events "
            "WHERE stone_id = ? AND retracted_ms IS NULL", (sid,)).fetchall()
        fresh_ids = {t.identity for t in fresh}
        stored_ids = {tuple(r)[1:]: r[0] for r in stored}
        gone = [eid for ident, eid in stored_ids.items() if ident not in fresh_ids]
        if gone:
            now_ms = to_ms(self.clock())
            self.conn.executemany("UPDATE alarm_events SET retracted_ms = ? WHERE id = ?", [(now_ms, e) for e in gone])
            summary.retracted += len(gone)
        return [t for t in fresh if t.identity not in stored_ids]

    def _insert_events(self, transitions: list[Transition], now_ms: int) -> list[int]:
        ids = []
        for t in transitions:
            cur = self.conn.execute(
                "INSERT INTO alarm_events (stone_id, t_ms, kind, from_state, to_state, evidence, created_ms) "
                "VALUES (?,?,?,?,?,?,?)",
                (t.stone_id, t.t_ms, t.kind, t.from_state, t.to_state, json.dumps(t.evidence, ensure_ascii=False),
                 now_ms))
            ids.append(cur.lastrowid)
        return ids

    # -- the clock ----------------------------------------------------------------------------
    def sweep(self, now: datetime | None = None) -> Summary:
        """Apply the clock to every stone: silent ones go offline (or lost after a movement)."""
        now = now or self.clock()
        now_ms = to_ms(now)
        summary = Summary()
        try:
            with transaction(self.conn):
                self._refresh()
                transitions = []
                for sid, m in self.machines.items():
                    transitions.extend(sweep(m, sid, now_ms, self.offline_after_s[sid]))
                self._insert_events(transitions, now_ms)
                self._save_machines([sid for sid, m in self.machines.items() if m["last_t_ms"] is not None],
                                    now_ms)
        except BaseException as exc:
            self._data_version = None  # reload the machines before the next batch (see ingest_batch)
            if isinstance(exc, sqlite3.DatabaseError):
                raise DataError(f"{self._where()}: {exc}: the clock sweep was rolled back") from None
            raise
        self._data_version = self.conn.execute("PRAGMA data_version").fetchone()[0]
        summary.events.extend(_event_dict(t) for t in transitions)
        return summary

    # -- files --------------------------------------------------------------------------------
    def ingest_file(self, path: str | Path, *, now: datetime | None = None, batch_size: int = BATCH_SIZE,
                    progress: Callable[[int], None] | None = None) -> Summary:
        """Ingest a JSON Lines (``.jsonl``/``.ndjson``/``.json``) or CSV (``.csv``) file in batches."""
        path = Path(path)
        if path.is_dir():
            raise InputError(f"{path}: is a directory, expected a JSON Lines or CSV file")
        if not path.is_file():
            raise InputError(f"{path}: file not found")
        total = Summary()
        for lines, header, sources in iter_lines(path, batch_size):
            with gc_paused():
                total.add(self.ingest_batch(_decode(lines, header), lines, sources, now=now))
            if progress:
                progress(total.received)
        return total


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for one batch. Decoding allocates a dict and a
    list per reading, all alive until the batch is stored; without the pause the collector
    rescans them again and again (measured: it doubles the decoding time of a 20,000-line batch)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _stone_numbers(conn: sqlite3.Connection, registry: Registry) -> dict[str, int]:
    """stone_id -> stone_no in this database, storing the registry first if it is not there."""
    numbers = {r[0]: r[1] for r in conn.execute("SELECT stone_id, stone_no FROM stones")}
    if any(sid not in numbers for sid in registry.ids):
        save_registry(conn, registry)
        numbers = {r[0]: r[1] for r in conn.execute("SELECT stone_id, stone_no FROM stones")}
    return numbers


def iter_lines(path: Path, batch_size: int = BATCH_SIZE) \
        -> Iterator[tuple[list[str], list[str] | None, Callable[[int], str]]]:
    """Batches (raw lines, CSV header or None, ``i -> "file:line"``) of a JSON Lines or CSV file;
    blank lines are skipped, the CSV header is checked."""
    suffix = path.suffix.lower()
    if suffix not in (".jsonl", ".ndjson", ".json", ".csv"):
        raise InputError(f"{path}: unknown file type {suffix!r} (expected .jsonl, .ndjson or .csv)")
    is_csv = suffix == ".csv"
    name = path.name
    try:
        fh = path.open("r", encoding="utf-8", errors="backslashreplace", newline="")
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror}") from None
    with fh:
        header: list[str] | None = None
        base = 0  # lines read before this chunk
        while True:
            chunk = list(islice(fh, batch_size))
            if not chunk:
                break
            lines = [line.rstrip("\r\n") for line in chunk]
            if base == 0 and lines[0].startswith("\ufeff"):  # a byte-order mark (spreadsheet exports)
                lines[0] = lines[0][1:]
            numbers = range(base + 1, base + 1 + len(lines))
            base += len(chunk)
            if is_csv and header is None:
                import csv

                first = next((k for k, line in enumerate(lines) if line.strip()), None)
                if first is None:
                    continue
                header = [h.strip() for h in next(csv.reader([lines[first]]))]
                rd.check_csv_header(header, f"{path}:{numbers[first]}")
                lines, numbers = lines[first + 1:], numbers[first + 1:]
            if any(not line or line.isspace() for line in lines):
                keep = [k for k, line in enumerate(lines) if line and not line.isspace()]
                lines, numbers = [lines[k] for k in keep], [numbers[k] for k in keep]
            if lines:
                yield lines, header, (lambda i, nums=numbers: f"{name}:{nums[i]}")


def _decode(lines: list[str], header: list[str] | None) -> list[Any]:
    if header is None:
        return rd.decode_json_lines(lines)
    return [rd.decode_csv_row(header, line) for line in lines]


def active_major_dangers(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Stones now displaced or lost, for the preplan's "major danger at a works" trigger:
    dicts with works_id, spur_id, stone_id, state and since (ISO 8601 UTC)."""
    migrate(conn, COMPONENT, MIGRATIONS)
    rows = conn.execute(
        "SELECT s.works_id, s.spur_id, st.stone_id, st.state, st.since_ms FROM stone_state st "
        "JOIN stones s ON s.stone_id = st.stone_id WHERE st.state IN ('displaced', 'lost') "
        "ORDER BY s.works_id, s.spur_number, st.stone_id").fetchall()
    return [{"works_id": r[0], "spur_id": r[1], "stone_id": r[2], "state": r[3], "since": ms_to_iso(r[4])}
            for r in rows]
