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
import json
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

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
_NUM = (int, float)


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
    source: list[str] = field(default_factory=list)

    COLUMNS = ("stone_id", "seq", "t_ms", "roll_deg", "pitch_deg", "accel_x_g", "accel_y_g", "accel_z_g",
               "battery_v", "rssi_dbm", "event", "link")

    def __len__(self) -> int:
        return len(self.stone_id)

    def append(self, values: tuple, raw: str, source: str) -> None:
        """Add one normalised reading (a tuple in :attr:`COLUMNS` order)."""
        for name, value in zip(self.COLUMNS, values):
            getattr(self, name).append(value)
        self.raw.append(raw)
        self.source.append(source)

    def row(self, i: int) -> tuple:
        """Reading ``i`` as a tuple in :attr:`COLUMNS` order."""
        return tuple(getattr(self, name)[i] for name in self.COLUMNS)


def parse_time_ms(value: Any) -> int:
    """ISO 8601 time with a zone -> UTC epoch milliseconds; Rejected('bad_time') otherwise."""
    if type(value) is not str:
        raise Rejected("bad_time", f"time must be an ISO 8601 string, got {type(value).__name__}")
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise Rejected("bad_time", f"time {value[:40]!r} is not ISO 8601") from None
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise Rejected("bad_time", f"time {value[:40]!r} has no zone (add Z or +08:00)")
    return round(dt.timestamp() * 1000)


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


def _column_ok(values: np.ndarray, name: str) -> np.ndarray:
    lo, hi = RANGES[name]
    return (values >= lo) & (values <= hi)


def validate_batch(objs: list[Any], raws: list[str], sources: list[str], index: dict[str, int],
                   now_ms: int, future_ms: int, batch: Batch | None = None,
                   rejections: list[Rejection] | None = None) -> tuple[Batch, list[Rejection]]:
    """Validate decoded records; append the good ones to ``batch`` and the bad to ``rejections``.

    Same verdicts as :func:`check_record` on every record (tested), in arrival order, but the
    common case (complete, well-typed records) is checked column by column with numpy.
    """
    batch = Batch() if batch is None else batch
    rejections = [] if rejections is None else rejections
    n = len(objs)
    if n == 0:
        return batch, rejections
    full = _FULL_KEYS
    # rows that may take the fast path: complete objects of the right types
    fast = [type(o) is dict and o.keys() == full for o in objs]
    cand = [i for i in range(n) if fast[i]]
    good = np.zeros(n, dtype=bool)
    cols: dict[str, Any] = {}
    t_list: list[int] = []
    if cand:
        sub = [objs[i] for i in cand]
        sid = [o["stone_id"] for o in sub]
        seq = [o["seq"] for o in sub]
        tim = [o["time"] for o in sub]
        ev = [o["event"] for o in sub]
        ln = [o["link"] for o in sub]
        nums = {name: [o[name] for o in sub] for name in ("roll_deg", "pitch_deg", "battery_v", "rssi_dbm")}
        acc = [o["accel_g"] for o in sub]
        ok = np.fromiter((type(s) is str and s in index for s in sid), dtype=bool, count=len(sub))
        ok &= np.fromiter((type(q) is int and 0 <= q <= SEQ_MAX for q in seq), dtype=bool, count=len(sub))
        ok &= np.fromiter((e == "heartbeat" or e == "movement" for e in ev), dtype=bool, count=len(sub))
        ok &= np.fromiter((x == "ok" for x in ln), dtype=bool, count=len(sub))
        arrays = {}
        for name, col in nums.items():
            tok = np.fromiter((type(v) is float or type(v) is int for v in col), dtype=bool, count=len(sub))
            ok &= tok
            arr = np.array([v if t else np.nan for v, t in zip(col, tok)], dtype=np.float64) if not tok.all() \
                else np.array(col, dtype=np.float64)
            ok &= _column_ok(arr, name)
            arrays[name] = arr
        aok = np.fromiter((type(a) is list and len(a) == 3 and type(a[0]) in _NUM and type(a[1]) in _NUM
                           and type(a[2]) in _NUM for a in acc), dtype=bool, count=len(sub))
        ok &= aok
        accel = np.array([a if t else (np.nan, np.nan, np.nan) for a, t in zip(acc, aok)], dtype=np.float64) \
            if not aok.all() else np.array(acc, dtype=np.float64)
        ok &= _column_ok(accel, "accel_g").all(axis=1)
        # times: fromisoformat per value (fast C parser); any failure sends the row to the slow path
        t_ms = np.zeros(len(sub), dtype=np.int64)
        for j, s in enumerate(tim):
            if not ok[j]:
                continue
            try:
                dt = datetime.fromisoformat(s)
            except (TypeError, ValueError):
                ok[j] = False
                continue
            if dt.tzinfo is None:
                ok[j] = False
                continue
            t_ms[j] = round(dt.timestamp() * 1000)
        ok &= t_ms <= now_ms + future_ms
        good[cand] = ok
        cols = {"sid": sid, "seq": seq, "ev": ev, "ln": ln, "arrays": arrays, "accel": accel, "t_ms": t_ms,
                "pos": {i: j for j, i in enumerate(cand)}}
        t_list = t_ms.tolist()
    if cand:
        arrays, accel = cols["arrays"], cols["accel"]
        roll, pitch = arrays["roll_deg"].tolist(), arrays["pitch_deg"].tolist()
        batt, rssi = arrays["battery_v"].tolist(), arrays["rssi_dbm"].tolist()
        ax, ay, az = accel[:, 0].tolist(), accel[:, 1].tolist(), accel[:, 2].tolist()
        pos = cols["pos"]
    for i in range(n):
        if good[i]:
            j = pos[i]
            batch.stone_id.append(cols["sid"][j])
            batch.seq.append(cols["seq"][j])
            batch.t_ms.append(t_list[j])
            batch.roll_deg.append(roll[j])
            batch.pitch_deg.append(pitch[j])
            batch.accel_x_g.append(ax[j])
            batch.accel_y_g.append(ay[j])
            batch.accel_z_g.append(az[j])
            batch.battery_v.append(batt[j])
            batch.rssi_dbm.append(rssi[j])
            batch.event.append(cols["ev"][j])
            batch.link.append("ok")
            batch.raw.append(raws[i])
            batch.source.append(sources[i])
            continue
        try:
            values = check_record(objs[i], index, now_ms, future_ms)
        except Rejected as exc:
            o = objs[i]
            sid = o.get("stone_id") if type(o) is dict else None
            sq = o.get("seq") if type(o) is dict else None
            rejections.append(Rejection(raws[i], sources[i], exc.reason, exc.detail,
                                        sid if type(sid) is str else None,
                                        sq if type(sq) is int and abs(sq) <= SEQ_MAX else None))
        else:
            batch.append(values, raws[i], sources[i])
    return batch, rejections


class _Malformed:
    """Marker for a line that did not decode; carries the reason."""

    __slots__ = ("detail",)

    def __init__(self, detail: str):
        self.detail = detail


def decode_json_lines(lines: list[str]) -> list[Any]:
    """Decode JSON Lines; a line that is not JSON becomes a :class:`_Malformed` marker.

    Decodes the whole batch as one JSON array first (one C call instead of one per line) and
    falls back to line by line only when that fails.
    """
    try:
        objs = json.loads("[" + ",".join(lines) + "]")
        if len(objs) == len(lines):
            return objs
    except (ValueError, RecursionError):
        pass
    out: list[Any] = []
    for line in lines:
        try:
            out.append(json.loads(line))
        except (ValueError, RecursionError) as exc:
            out.append(_Malformed(f"not JSON: {str(exc)[:60]}"))
    return out


def malformed_marker(obj: Any) -> str | None:
    """The decode error of a record that did not decode, else None."""
    return obj.detail if isinstance(obj, _Malformed) else None


def _csv_value(name: str, text: str) -> Any:
    if text == "":
        return None
    if name in ("stone_id", "time", "event", "link"):
        return text
    if name == "seq":
        try:
            return int(text)
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


def reading_to_json(values: dict[str, Any]) -> str:
    """One reading dict -> its compact JSON line."""
    return json.dumps(values, separators=(",", ":"), ensure_ascii=False, allow_nan=True)


def is_finite(x: Any) -> bool:
    """True for a finite int/float (not bool)."""
    return type(x) in _NUM and math.isfinite(x)
