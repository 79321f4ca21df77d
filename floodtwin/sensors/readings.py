"""Smart-stone readings: the message model, parsing (JSON Lines, CSV) and stateless validation.

A reading (JSON field names; CSV uses the same names as columns, with ``accel_g`` split into
``accel_x_g``, ``accel_y_g``, ``accel_z_g``)::

    {"stone_id": "ST001", "time": "2026-07-21T08:00:00+08:00", "seq": 1042,
     "roll_deg": 1.5, "pitch_deg": 0.4, "accel_g": [0.01, -0.02, 1.0],
     "battery_v": 3.62, "rssi_dbm": -71, "event": "heartbeat", "link": "ok"}

``time`` must carry a zone (it is stored as UTC epoch milliseconds). When ``link`` is ``lost``
the gateway has no sensor values: the measured fields may be null or absent. The JSON Schema
in ``floodtwin/schemas/stone_reading.schema.json`` states the same rules for suppliers.

:func:`check_record` is the specification: it validates one decoded record and says why it is
rejected. :func:`validate_batch` gives the same verdicts for a whole batch, fast: it checks
columns with numpy and only sends the rows that fail a vectorised test through
:func:`check_record` to learn the reason. Checks that need history (duplicate, out of order)
live in :mod:`floodtwin.sensors.ingest`.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import datetime
from collections.abc import Callable
from itertools import chain, repeat
from operator import itemgetter
from typing import Any

import numpy as np
import orjson

__all__ = ["REASONS", "FIELDS", "MEASURED", "CSV_FIELDS", "EVENTS", "LINKS", "RANGES", "SEQ_MAX", "Rejected",
           "Rejection", "Batch", "parse_time_ms", "check_record", "validate_batch", "decode_json_lines",
           "decode_csv_row", "check_csv_header"]

#: Quarantine reasons, in the order the ingest summary lists them.
REASONS = ("malformed", "unknown_stone", "bad_time", "future_time", "out_of_range", "duplicate",
           "out_of_order")

FIELDS = ("stone_id", "time", "seq", "roll_deg", "pitch_deg", "accel_g", "battery_v", "rssi_dbm",
          "event", "link")
MEASURED = ("roll_deg", "pitch_deg", "accel_g", "battery_v", "rssi_dbm")
CSV_FIELDS = ("stone_id", "time", "seq", "roll_deg", "pitch_deg", "accel_x_g", "accel_y_g", "accel_z_g",
              "battery_v", "rssi_dbm", "event", "link")
EVENTS = ("heartbeat", "movement")
LINKS = ("ok", "lost")

#: Physical ranges (inclusive): attitude by definition, acceleration of a +-16 g MEMS part,
#: battery of a single lithium cell, RSSI of a radio/cable modem. A value outside is a fault.
RANGES: dict[str, tuple[float, float]] = {
    "roll_deg": (-180.0, 180.0),
    "pitch_deg": (-90.0, 90.0),
    "accel_g": (-16.0, 16.0),
    "battery_v": (0.0, 5.0),
    "rssi_dbm": (-150.0, 0.0),
}
SEQ_MAX = 2**63 - 1

_FULL_KEYS = frozenset(FIELDS)
_EVENT_SET = frozenset(EVENTS)
_NUM = (int, float)
_NUM_TYPES = frozenset(_NUM)


class Rejected(Exception):
    """A record failed validation: ``reason`` is one of :data:`REASONS`, ``detail`` says what."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass
class Rejection:
    """One rejected message, as it goes to the quarantine table."""

    raw: str
    source: str
    reason: str
    detail: str
    stone_id: str | None = None
    seq: int | None = None


@dataclass
class Batch:
    """Accepted readings of one batch, as parallel columns (arrival order).

    ``t_ms`` is UTC epoch milliseconds; measured columns hold None where ``link`` is lost.
    """

    stone_id: list[str] = field(default_factory=list)
    seq: list[int] = field(default_factory=list)
    t_ms: list[int] = field(default_factory=list)
    roll_deg: list[float | None] = field(default_factory=list)
    pitch_deg: list[float | None] = field(default_factory=list)
    accel_x_g: list[float | None] = field(default_factory=list)
    accel_y_g: list[float | None] = field(default_factory=list)
    accel_z_g: list[float | None] = field(default_factory=list)
    battery_v: list[float | None] = field(default_factory=list)
    rssi_dbm: list[float | None] = field(default_factory=list)
    event: list[str] = field(default_factory=list)
    link: list[str] = field(default_factory=list)
    raw: list[str] = field(default_factory=list)
    #: position of each accepted reading in the validated input, and where input ``i`` came from
    position: list[int] = field(default_factory=list)
    source_of: Callable[[int], str] = field(default=lambda i: f"#{i + 1}", repr=False)

    COLUMNS = ("stone_id", "seq", "t_ms", "roll_deg", "pitch_deg", "accel_x_g", "accel_y_g", "accel_z_g",
               "battery_v", "rssi_dbm", "event", "link")

    def __len__(self) -> int:
        return len(self.stone_id)

    def append(self, values: tuple, raw: str, position: int) -> None:
        """Add one normalised reading (a tuple in :attr:`COLUMNS` order) read at input ``position``."""
        for name, value in zip(self.COLUMNS, values):
            getattr(self, name).append(value)
        self.raw.append(raw)
        self.position.append(position)

    def array(self, name: str, dtype=np.float64) -> np.ndarray:
        """Column ``name`` as a numpy array (None as NaN), cached: validation fills the cache
        with the arrays it already built, so ingest does not convert the lists back."""
        cache = self.__dict__.setdefault("_arrays", {})
        if name not in cache:
            col = getattr(self, name)
            if dtype is np.float64 and any(v is None for v in col):
                col = [np.nan if v is None else v for v in col]
            cache[name] = np.array(col, dtype=dtype)
        return cache[name]

    def source(self, k: int) -> str:
        """Where accepted reading ``k`` came from (file:line, mqtt:topic)."""
        return self.source_of(self.position[k])

    def row(self, i: int) -> tuple:
        """Reading ``i`` as a tuple in :attr:`COLUMNS` order."""
        return tuple(getattr(self, name)[i] for name in self.COLUMNS)


def parse_time_ms(value: Any) -> int:
    """ISO 8601 time with a zone -> UTC epoch milliseconds; Rejected('bad_time') otherwise."""
    if type(value) is not str:
        raise Rejected("bad_time", f"time must be an ISO 8601 string, got {type(value).__name__}")
    try:
        dt = datetime.fromisoformat(_upper_z(value))
    except ValueError:
        raise Rejected("bad_time", f"time {value[:40]!r} is not ISO 8601") from None
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise Rejected("bad_time", f"time {value[:40]!r} has no zone (add Z or +08:00)")
    return round(dt.timestamp() * 1000)


def _upper_z(value: str) -> str:
    """RFC 3339 (and the supplier schema) allow a lower-case 'z' for UTC; fromisoformat does not."""
    return value[:-1] + "Z" if value.endswith("z") else value


def _number(obj: dict, name: str, nullable: bool) -> float | None:
    value = obj.get(name)
    if value is None:
        if nullable:
            return None
        raise Rejected("malformed", f"{name} is missing" if name not in obj else f"{name} is null")
    if type(value) not in _NUM:
        raise Rejected("malformed", f"{name} must be a number, got {type(value).__name__}")
    x = float(value)
    lo, hi = RANGES[name]
    if not (lo <= x <= hi):  # also catches NaN
        raise Rejected("out_of_range", f"{name} = {value} outside [{lo:g}, {hi:g}]")
    return x


def check_record(obj: Any, index: dict[str, int], now_ms: int, future_ms: int) -> tuple:
    """Validate one decoded record; return it normalised (a tuple in :attr:`Batch.COLUMNS` order).

    ``index`` is the registry's stone id -> position map; a reading more than ``future_ms`` after
    ``now_ms`` (UTC epoch ms) is rejected as from the future. Raises :class:`Rejected` with the
    first problem found: shape and types (malformed), stone id, time, ranges.
    """
    if type(obj) is not dict:
        raise Rejected("malformed", f"a reading must be a JSON object, got {type(obj).__name__}")
    unknown = obj.keys() - _FULL_KEYS
    if unknown:
        raise Rejected("malformed", f"unknown field {sorted(unknown)[0]!r}")
    for name in ("stone_id", "time", "seq", "event", "link"):
        if obj.get(name) is None:
            raise Rejected("malformed", f"{name} is missing" if name not in obj else f"{name} is null")
    stone_id, seq, event, link = obj["stone_id"], obj["seq"], obj["event"], obj["link"]
    if type(seq) is float and seq.is_integer() and abs(seq) <= 2**53:
        seq = int(seq)  # 12.0 is an integer to JSON Schema, so a supplier's validator lets it through
    if type(stone_id) is not str:
        raise Rejected("malformed", f"stone_id must be a string, got {type(stone_id).__name__}")
    if type(seq) is not int:
        raise Rejected("malformed", f"seq must be an integer, got {type(seq).__name__}")
    if event not in EVENTS:
        raise Rejected("malformed", f"event must be one of {', '.join(EVENTS)}, got {str(event)[:20]!r}")
    if link not in LINKS:
        raise Rejected("malformed", f"link must be one of {', '.join(LINKS)}, got {str(link)[:20]!r}")
    nullable = link == "lost"
    accel = obj.get("accel_g")
    if accel is None and not nullable:
        raise Rejected("malformed", "accel_g is missing" if "accel_g" not in obj else "accel_g is null")
    if accel is not None and (type(accel) is not list or len(accel) != 3 or any(type(a) not in _NUM for a in accel)):
        raise Rejected("malformed", "accel_g must be a list of three numbers")
    if stone_id not in index:
        raise Rejected("unknown_stone", f"stone_id {stone_id[:20]!r} is not in the registry")
    t_ms = parse_time_ms(obj["time"])
    if t_ms > now_ms + future_ms:
        raise Rejected("future_time", f"time {obj['time']} is {(t_ms - now_ms) / 60000:.1f} min ahead of now")
    if not 0 <= seq <= SEQ_MAX:
        raise Rejected("out_of_range", f"seq = {seq} outside [0, 2^63-1]")
    values = [_number(obj, name, nullable) for name in ("roll_deg", "pitch_deg", "battery_v", "rssi_dbm")]
    ax = ay = az = None
    if accel is not None:
        lo, hi = RANGES["accel_g"]
        for a in accel:
            if not lo <= a <= hi:
                raise Rejected("out_of_range", f"accel_g component {a} outside [{lo:g}, {hi:g}]")
        ax, ay, az = (float(a) for a in accel)
    roll, pitch, battery, rssi = values
    return (stone_id, seq, t_ms, roll, pitch, ax, ay, az, battery, rssi, event, link)


def _time_ms_or_none(value: Any) -> int | None:
    """UTC epoch ms of an ISO 8601 string with a zone, None for anything else."""
    try:
        dt = datetime.fromisoformat(_upper_z(value))
    except (TypeError, ValueError, AttributeError):
        return None
    if dt.tzinfo is None:
        return None
    return round(dt.timestamp() * 1000)


#: ISO 8601 times in the one layout the fast path converts with numpy: calendar fields in range,
#: at most millisecond digits (so numpy's truncation to ms equals check_record's rounding) and a
#: zone. Anything else (other layouts, more digits) is converted by datetime.fromisoformat.
_CANONICAL_TIME = re.compile(r"\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d"
                             r"(?:\.\d{1,3})?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)")
_EARLIEST_MS = 31_536_000_000  # 1971-01-01: numpy knows year 0, datetime does not; older goes the slow way


def _offset_ms(zone: str) -> int:
    """'Z' or '+08:00' (already matched by _CANONICAL_TIME) -> offset east of UTC in ms."""
    if zone == "Z":
        return 0
    sign = 1 if zone[0] == "+" else -1
    return sign * (int(zone[1:3]) * 3_600_000 + int(zone[4:6]) * 60_000)


def _times_ms(tim: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    """(UTC epoch ms, ok mask) of a column of times: canonical strings converted by numpy in one
    call, the rest one by one with :func:`_time_ms_or_none` (the rule check_record applies)."""
    n = len(tim)
    match = _CANONICAL_TIME.fullmatch
    canon = [type(x) is str and match(x) is not None for x in tim]
    t_ms = np.zeros(n, dtype=np.int64)
    ok = np.zeros(n, dtype=bool)
    idx = [i for i in range(n) if canon[i]] if not all(canon) else range(n)
    if len(idx):
        sub = tim if len(idx) == n else [tim[i] for i in idx]
        zones = [x[-1] if x[-1] == "Z" else x[-6:] for x in sub]
        bodies = [x[:-1] if x[-1] == "Z" else x[:-6] for x in sub]
        try:
            local = np.array(bodies, dtype="datetime64[ms]").astype(np.int64)
        except ValueError:  # e.g. 30 February: let the slow path name it
            canon = [False] * n
            idx = []
        else:
            offsets = {z: _offset_ms(z) for z in set(zones)}
            values = local - np.array([offsets[z] for z in zones], dtype=np.int64)
            pos = np.asarray(idx, dtype=np.int64)
            t_ms[pos] = values
            ok[pos] = values >= _EARLIEST_MS
    rest = [i for i in range(n) if not canon[i]]
    for i in rest:
        v = _time_ms_or_none(tim[i])
        if v is not None:
            t_ms[i] = v
            ok[i] = True
    return t_ms, ok


def _numbers(col: list[Any], name: str) -> tuple[np.ndarray, np.ndarray]:
    """(float64 values with NaN where not a number, mask of in-range numbers) of one column."""
    if set(map(type, col)) <= _NUM_TYPES:
        values = np.array(col, dtype=np.float64)
        lo, hi = RANGES[name]
        return values, (values >= lo) & (values <= hi)
    typed = np.array([type(v) in _NUM_TYPES for v in col], dtype=bool)
    values = np.array([v if t else np.nan for v, t in zip(col, typed)], dtype=np.float64)
    lo, hi = RANGES[name]
    return values, typed & (values >= lo) & (values <= hi)


def _columns(sub: list[dict]) -> tuple:
    """The reading fields of complete records as lists (KeyError if one lacks a field)."""
    return ([o["stone_id"] for o in sub], [o["seq"] for o in sub], [o["time"] for o in sub],
            [o["event"] for o in sub], [o["link"] for o in sub], [o["accel_g"] for o in sub],
            [[o[name] for o in sub] for name in ("roll_deg", "pitch_deg", "battery_v", "rssi_dbm")])


def validate_batch(objs: list[Any], raws: list[str], sources: list[str] | Callable[[int], str],
                   index: dict[str, int], now_ms: int, future_ms: int,
                   rejections: list[Rejection] | None = None) -> tuple[Batch, list[Rejection]]:
    """Validate decoded records; append the good ones to ``batch`` and the bad to ``rejections``.

    Same verdicts as :func:`check_record` on every record (tested), in arrival order, but the
    common case (complete, well-typed records with the link up) is checked column by column:
    one list comprehension per field and numpy range checks, no per-record Python branches.
    Records that fail a column test go through :func:`check_record`, which names the reason.
    ``sources`` may be a callable ``i -> str`` (sources are only needed for rejected records).
    """
    rejections = [] if rejections is None else rejections
    source_of = sources if callable(sources) else sources.__getitem__
    batch = Batch(source_of=source_of)
    n = len(objs)
    if n == 0:
        return batch, rejections
    # candidates: objects with as many keys as a complete reading; if one of them lacks a field
    # (so it has an unknown one instead), fall back to comparing key sets, which costs more
    n_fields = len(FIELDS)
    cand = [i for i, o in enumerate(objs) if type(o) is dict and len(o) == n_fields]
    try:
        sub = objs if len(cand) == n else [objs[i] for i in cand]
        sid, seq, tim, ev, ln, acc, nums = _columns(sub)
    except KeyError:
        full = _FULL_KEYS
        cand = [i for i, o in enumerate(objs) if type(o) is dict and o.keys() == full]
        sub = objs if len(cand) == n else [objs[i] for i in cand]
        sid, seq, tim, ev, ln, acc, nums = _columns(sub)
    m = len(sub)
    cols: dict[str, Any] = {}
    if m:
        # each test first on the whole column with set/min/max (C loops), per record only if that fails
        if set(map(type, sid)) == {str}:
            stone_index = np.array(list(map(index.get, sid, repeat(-1, m))), dtype=np.int64)
        else:
            stone_index = np.array([index.get(x, -1) if type(x) is str else -1 for x in sid], dtype=np.int64)
        ok = stone_index >= 0
        if set(map(type, seq)) == {int}:
            if not 0 <= min(seq) <= max(seq) <= SEQ_MAX:
                ok &= np.array([0 <= q <= SEQ_MAX for q in seq], dtype=bool)
        else:
            ok &= np.array([type(q) is int and 0 <= q <= SEQ_MAX for q in seq], dtype=bool)
        if not (set(map(type, ev)) == {str} and set(ev) <= _EVENT_SET):  # types first: a list is unhashable
            ok &= np.array([type(e) is str and e in _EVENT_SET for e in ev], dtype=bool)
        if not (set(map(type, ln)) == {str} and set(ln) == {"ok"}):
            ok &= np.array([type(x) is str and x == "ok" for x in ln], dtype=bool)
        for name, col in zip(("roll_deg", "pitch_deg", "battery_v", "rssi_dbm"), nums):
            values, good = _numbers(col, name)
            cols[name] = values
            ok &= good
        if set(map(type, acc)) == {list} and set(map(len, acc)) == {3} \
                and set(map(type, chain.from_iterable(acc))) <= _NUM_TYPES:
            aok = np.ones(m, dtype=bool)
        else:
            aok = np.array([type(a) is list and len(a) == 3 and type(a[0]) in _NUM_TYPES
                            and type(a[1]) in _NUM_TYPES and type(a[2]) in _NUM_TYPES for a in acc], dtype=bool)
        accel = np.array(acc if aok.all() else [a if t else (np.nan,) * 3 for a, t in zip(acc, aok)],
                         dtype=np.float64)
        lo, hi = RANGES["accel_g"]
        ok &= aok & ((accel >= lo) & (accel <= hi)).all(axis=1)
        t_ms, t_ok = _times_ms(tim)
        ok &= t_ok & (t_ms <= now_ms + future_ms)
        cols.update(sid=sid, seq=seq, ev=ev, t_ms=t_ms, accel=accel, stone_index=stone_index)
    else:
        ok = np.zeros(0, dtype=bool)
    good_sub = np.flatnonzero(ok)
    all_good = len(good_sub) == m
    # the fast rows, column by column (arrival order)
    if m and len(good_sub):
        pick = (lambda col: col) if all_good else (lambda col: [col[j] for j in good_sub.tolist()])
        batch.stone_id.extend(pick(cols["sid"]))
        batch.seq.extend(pick(cols["seq"]))
        batch.event.extend(pick(cols["ev"]))
        batch.t_ms.extend(cols["t_ms"][good_sub].tolist())
        for name in ("roll_deg", "pitch_deg", "battery_v", "rssi_dbm"):
            getattr(batch, name).extend(cols[name][good_sub].tolist())
        acc_good = cols["accel"][good_sub]
        batch.accel_x_g.extend(acc_good[:, 0].tolist())
        batch.accel_y_g.extend(acc_good[:, 1].tolist())
        batch.accel_z_g.extend(acc_good[:, 2].tolist())
        batch.link.extend(["ok"] * len(good_sub))
        rows_in = [cand[j] for j in good_sub.tolist()] if len(cand) != n else good_sub.tolist()
        batch.raw.extend(raws if len(rows_in) == n else [raws[i] for i in rows_in])
        batch.position.extend(rows_in)
    fast_pos = good_sub if len(cand) == n else np.asarray(cand, dtype=np.int64)[good_sub]
    if len(fast_pos) < n:
        # the others, record by record (rejections, lost links, other layouts); the accepted ones are
        # merged back in arrival order
        is_fast = np.zeros(n, dtype=bool)
        is_fast[fast_pos] = True
        late_rows = _check_records(np.flatnonzero(~is_fast).tolist(), objs, raws, source_of, index, now_ms,
                                   future_ms, rejections)
    else:
        late_rows = []
    batch._arrays = _arrays(cols, good_sub, late_rows, index)
    if late_rows:
        for i, values, raw in late_rows:
            batch.append(values, raw, i)
        position = np.array(batch.position, dtype=np.int64)
        if (np.diff(position) < 0).any():
            perm = np.argsort(position, kind="stable")
            take = itemgetter(*perm.tolist())
            for name in batch.COLUMNS + ("raw", "position"):
                col = getattr(batch, name)
                col[:] = take(col)
            for name, arr in batch._arrays.items():
                batch._arrays[name] = arr[perm]
    return batch, rejections


def _check_records(idx: list[int], objs: list[Any], raws: list[str], source_of: Callable[[int], str],
                   index: dict[str, int], now_ms: int, future_ms: int,
                   rejections: list[Rejection]) -> list[tuple[int, tuple, str]]:
    """:func:`check_record` on the records ``idx``: rejections appended, (i, values, raw) of the
    accepted ones returned."""
    accepted = []
    for i in idx:
        o = objs[i]
        if isinstance(o, _Malformed):
            rejections.append(Rejection(raws[i], source_of(i), "malformed", o.detail))
            continue
        try:
            values = check_record(o, index, now_ms, future_ms)
        except Rejected as exc:
            sid_i = o.get("stone_id") if type(o) is dict else None
            sq = o.get("seq") if type(o) is dict else None
            rejections.append(Rejection(raws[i], source_of(i), exc.reason, exc.detail,
                                        sid_i if type(sid_i) is str else None,
                                        sq if type(sq) is int and abs(sq) <= SEQ_MAX else None))
        else:
            accepted.append((i, values, raws[i]))
    return accepted


#: Batch columns the store reads as arrays, with their place in a normalised reading tuple.
_ARRAY_COLUMNS = (("t_ms", 2), ("roll_deg", 3), ("pitch_deg", 4), ("accel_x_g", 5), ("accel_y_g", 6),
                  ("accel_z_g", 7), ("battery_v", 8))


def _arrays(cols: dict[str, Any], good_sub: np.ndarray, late_rows: list[tuple[int, tuple, str]],
            index: dict[str, int]) -> dict[str, np.ndarray]:
    """The arrays of the accepted readings (fast rows first, then ``late_rows``; None as NaN), from
    the arrays validation built, so that the store does not convert the lists back."""
    if cols:
        acc = cols["accel"]
        fast = {"t_ms": cols["t_ms"], "roll_deg": cols["roll_deg"], "pitch_deg": cols["pitch_deg"],
                "accel_x_g": acc[:, 0], "accel_y_g": acc[:, 1], "accel_z_g": acc[:, 2],
                "battery_v": cols["battery_v"], "stone_index": cols["stone_index"]}
        everything = len(good_sub) == len(cols["t_ms"])
        fast = {k: (v if everything else v[good_sub]) for k, v in fast.items()}
    else:
        fast = {k: np.zeros(0) for k, _ in _ARRAY_COLUMNS} | {"t_ms": np.zeros(0, np.int64),
                                                               "stone_index": np.zeros(0, np.int64)}
    if not late_rows:
        return fast
    out = {"stone_index": np.concatenate([fast["stone_index"],
                                          np.array([index[v[0]] for _, v, _ in late_rows], dtype=np.int64)]),
           "t_ms": np.concatenate([fast["t_ms"], np.array([v[2] for _, v, _ in late_rows], dtype=np.int64)])}
    for name, k in _ARRAY_COLUMNS[1:]:
        late = np.array([np.nan if v[k] is None else v[k] for _, v, _ in late_rows], dtype=np.float64)
        out[name] = np.concatenate([fast[name], late])
    return out


class _Malformed:
    """Marker for a line that did not decode; carries the reason."""

    __slots__ = ("detail",)

    def __init__(self, detail: str):
        self.detail = detail


def _decode_one(line: str) -> Any:
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        return _Malformed(f"not JSON: {str(exc)[:60]}")


def decode_json_lines(lines: list[str]) -> list[Any]:
    """Decode JSON Lines with orjson; a line that is not JSON (NaN and Infinity are not JSON)
    becomes a :class:`_Malformed` marker carrying the decoder's message."""
    return [_decode_one(line) for line in lines]


def _csv_value(name: str, text: str) -> Any:
    if text == "":
        return None
    if name in ("stone_id", "time", "event", "link"):
        return text
    if name == "seq":
        try:
            return int(text)
        except ValueError:
            pass
        try:
            return float(text)  # "12.0" from a spreadsheet: check_record takes a whole number
        except ValueError:
            return text  # keeps the type error for check_record to name
    try:
        x = float(text)
    except ValueError:
        return text
    return x


def decode_csv_row(header: list[str], line: str) -> Any:
    """One CSV line (with its header) -> a reading dict in the JSON layout, or a malformed marker."""
    try:
        rows = list(csv.reader(io.StringIO(line)))
    except csv.Error as exc:
        return _Malformed(f"not CSV: {exc}")
    if len(rows) != 1:
        return _Malformed("not one CSV row")
    row = rows[0]
    if len(row) != len(header):
        return _Malformed(f"{len(row)} columns, header has {len(header)}")
    rec = {name: _csv_value(name, text.strip()) for name, text in zip(header, row)}
    accel = [rec.pop(k, None) for k in ("accel_x_g", "accel_y_g", "accel_z_g")]
    rec["accel_g"] = None if all(a is None for a in accel) else accel
    if rec["accel_g"] is None and rec.get("link") == "lost":
        del rec["accel_g"]
    return {k: v for k, v in rec.items() if not (v is None and rec.get("link") == "lost" and k in MEASURED)}


def check_csv_header(header: list[str], where: str) -> None:
    """Raise InputError unless the CSV header is exactly the reading columns (any order)."""
    from floodtwin.errors import InputError

    missing = [c for c in CSV_FIELDS if c not in header]
    extra = [c for c in header if c not in CSV_FIELDS]
    if missing or extra:
        what = f"missing column {missing[0]!r}" if missing else f"unknown column {extra[0]!r}"
        raise InputError(f"{where}: CSV header: {what} (expected {', '.join(CSV_FIELDS)})")
