"""Walk a discharge series through the tier logic: drills, after-action reviews, real seasons.

``read_flows(path)`` reads a CSV with columns ``time``, ``discharge_m3s`` and optionally
``forecast_m3s``; a long table such as the YRCC daily bulletin (``date``, ``station``,
``discharge_m3s``) is read for one ``station``. ``walk(preplan, flows)`` evaluates every row with
the previous decision carried over, so hysteresis and the duration trigger act as they would have.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Iterable

from floodtwin.errors import DataError
from floodtwin.preplan.model import PreplanModel
from floodtwin.preplan.state import FlowState, TierDecision
from floodtwin.preplan.tiers import evaluate


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
    if not math.isfinite(value) or value < 0:
        raise DataError(f"{path}:{line}: {column}: {text} is not a discharge (finite, >= 0)")
    return value


def read_flows(path: str | Path, station: str | None = None) -> list[FlowRow]:
    """Read a flow series; rows must be in time order; empty discharges are kept as gaps (None)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        cols = reader.fieldnames or []
        time_col = "time" if "time" in cols else "date" if "date" in cols else None
        if time_col is None or "discharge_m3s" not in cols:
            raise DataError(f"{path}: expected columns 'time' (or 'date') and 'discharge_m3s', got {', '.join(cols)}")
        if station is not None and "station" not in cols:
            raise DataError(f"{path}: --station given but the file has no 'station' column")
        rows: list[FlowRow] = []
        for line, rec in enumerate(reader, start=2):
            if station is not None and rec["station"] != station:
                continue
            try:
                t = datetime.fromisoformat(rec[time_col].strip())
            except (ValueError, AttributeError):
                raise DataError(f"{path}:{line}: {time_col}: not an ISO 8601 time: {rec[time_col]!r}") from None
            if rows and t <= rows[-1].time:
                raise DataError(f"{path}:{line}: {time_col}: {t.isoformat()} is not after the previous row")
            rows.append(FlowRow(t, _number(rec["discharge_m3s"], path, line, "discharge_m3s"),
                                _number(rec.get("forecast_m3s"), path, line, "forecast_m3s")))
    if not rows:
        raise DataError(f"{path}: no rows" + (f" for station {station!r}" if station else ""))
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
