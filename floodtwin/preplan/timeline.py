"""Walk a discharge series through the tier logic: drills, after-action reviews, real seasons.

``read_flows(path)`` reads a CSV with columns ``time``, ``discharge_m3s`` and optionally
``forecast_m3s``; a long table such as the YRCC daily bulletin (``date``, ``station``,
``discharge_m3s``) is read for one ``station``. ``walk(preplan, flows)`` evaluates every row with
the previous decision carried over, so hysteresis and the duration trigger act as they would have.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Iterable

from floodtwin.errors import DataError, InputError, require_discharge_m3s
from floodtwin.preplan.model import PreplanModel
from floodtwin.preplan.state import FlowState, TierDecision
from floodtwin.preplan.tiers import evaluate

__all__ = ["FlowRow", "read_flows", "walk", "changes"]


@dataclass(frozen=True)
class FlowRow:
    """One row of a flow series (discharges in m³/s; a missing forecast is None)."""

    time: datetime
    discharge_m3s: float | None
    forecast_m3s: float | None = None


def _number(text: str | None, path: Path, line: int, column: str) -> float | None:
    if text is None or text.strip() == "":
        return None
    try:
        value = float(text)
    except ValueError:
        raise DataError(f"{path}:{line}: {column}: expected a number, got {text!r}") from None
    try:
        return require_discharge_m3s(value, name=column)
    except InputError as exc:  # a bad value in a data file is a DataError, with the file's line
        raise DataError(f"{path}:{line}: {exc} (got {text!r})") from None


def read_flows(path: str | Path, station: str | None = None) -> list[FlowRow]:
    """Read a flow series; rows must be in time order; empty discharges are kept as gaps (None).

    DataError (``file:line: column: problem``) on anything else: a file that is not UTF-8 text, a
    header without the columns or with a column twice, a row with too few or too many fields, a
    time that is not ISO 8601 or mixes time-zone-aware and naive times, a value that is not a
    discharge, rows out of order, or no discharge at all.
    """
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{path}: is a directory, not a CSV file")
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            return _read_rows(csv.reader(fh), path, station)
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason}); save the CSV as UTF-8") from None
    except csv.Error as exc:
        raise DataError(f"{path}: not a readable CSV: {exc}") from None


def _read_rows(reader, path: Path, station: str | None) -> list[FlowRow]:
    header = next(reader, None)
    cols = [c.strip() for c in header] if header else []
    dup = sorted({c for c in cols if cols.count(c) > 1})
    if dup:
        raise DataError(f"{path}:1: column '{dup[0]}' appears more than once")
    time_col = "time" if "time" in cols else "date" if "date" in cols else None
    if time_col is None or "discharge_m3s" not in cols:
        raise DataError(f"{path}: expected columns 'time' (or 'date') and 'discharge_m3s', "
                        f"got {', '.join(cols) if cols else 'no header'}")
    if station is not None and "station" not in cols:
        raise DataError(f"{path}: --station given but the file has no 'station' column")
    at = {c: cols.index(c) for c in cols}
    rows: list[FlowRow] = []
    for fields in reader:
        line = reader.line_num
        if not fields or all(not f.strip() for f in fields):
            continue  # blank line
        if len(fields) != len(cols):
            n = len(fields)
            raise DataError(f"{path}:{line}: {n} field{'s' if n != 1 else ''}, but the header has {len(cols)} "
                            f"({', '.join(cols)})")
        rec = dict(zip(cols, fields))
        if station is not None and rec["station"] != station:
            continue
        text = rec[time_col].strip()
        try:
            t = datetime.fromisoformat(text)
        except ValueError:
            raise DataError(f"{path}:{line}: {time_col}: not an ISO 8601 time: {text!r}") from None
        if rows and (t.tzinfo is None) != (rows[0].time.tzinfo is None):
            raise DataError(f"{path}:{line}: {time_col}: {text} mixes time-zone-aware and naive times "
                            f"(row 1 of the series: {rows[0].time.isoformat()})")
        if rows and t <= rows[-1].time:
            hint = (" (several stations in one table: choose one with --station)"
                    if station is None and "station" in at else "")
            raise DataError(f"{path}:{line}: {time_col}: {t.isoformat()} is not after the previous row{hint}")
        rows.append(FlowRow(t, _number(rec["discharge_m3s"], path, line, "discharge_m3s"),
                            _number(rec["forecast_m3s"], path, line, "forecast_m3s") if "forecast_m3s" in at
                            else None))
    if not rows:
        raise DataError(f"{path}: no rows" + (f" for station {station!r}" if station else ""))
    if all(r.discharge_m3s is None and r.forecast_m3s is None for r in rows):
        raise DataError(f"{path}: no row has a discharge (discharge_m3s and forecast_m3s all empty)")
    return rows


def walk(model: PreplanModel, flows: Iterable[FlowRow]) -> list[TierDecision | None]:
    """Evaluate each row in turn; a row with no discharge at all keeps the last decision (None first)."""
    out: list[TierDecision | None] = []
    prev: TierDecision | None = None
    for row in flows:
        if row.discharge_m3s is None and row.forecast_m3s is None:
            out.append(prev)
            continue
        prev = evaluate(model, FlowState(observed_m3s=row.discharge_m3s, forecast_m3s=row.forecast_m3s,
                                         time=row.time, previous=prev))
        out.append(prev)
    return out


def changes(flows: list[FlowRow], decisions: list[TierDecision | None]) -> list[tuple[FlowRow, TierDecision]]:
    """The rows where the tier changed (the first decision counts as a change)."""
    out, last = [], None
    for row, dec in zip(flows, decisions):
        if dec is not None and dec.tier != last:
            out.append((row, dec))
            last = dec.tier
    return out
