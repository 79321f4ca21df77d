"""Inflow series: design hydrographs scaled to a peak, explicit series, CSV files, breaches, scenarios.

A design flood is a single-peaked wave ``Q(t) = Qb + (Qp - Qb) * [(t/tp) exp(1 - t/tp)]^m`` (a
gamma-type unit shape). Its sharpness ``m`` is fitted so that a reference flood keeps its published
duration above a threshold (the 1958 flood: 22,300 m³/s at the peak, above 10,000 m³/s for 79 h),
and the same shape is then scaled to the peak a duty officer asks about.

A scenario (``scenarios/NAME.yaml``) is that shape scaled to its ``peak_m3s``, or an explicit table of
(time_h, discharge_m3s) points interpolated on a 10-minute grid, plus optional dike breaches and the
sources of its numbers. A hydrograph file is a CSV of ``time_h`` (or ISO-8601 ``time``) and
``discharge_m3s``. Every bad input is one InputError/ConfigError line naming the file, line and column.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable, Literal

import numpy as np
from pydantic import field_validator, model_validator

from floodtwin.config import DATA_DIR, StrictModel, line_of, load_yaml, read_yaml
from floodtwin.errors import MAX_DISCHARGE_M3S, ConfigError, InputError, require_discharge_m3s
from floodtwin.files import require_file_to_read
from floodtwin.reach.build import post_chainage_m
from floodtwin.reach.params import Param

__all__ = ["BreachSpec", "Hydrograph", "HydrographSpec", "Scenario", "ScenarioSpec", "SCENARIO_STEP_S",
           "default_scenario_path", "design_hydrograph", "fit_shape_exponent", "gamma_shape", "hours_above",
           "list_scenarios", "load_scenario", "load_scenario_spec", "parse_breach", "read_hydrograph_csv",
           "scenario_dir"]

#: Sampling step of scenario hydrographs (s): 10 min resolves a crest held for 2.5 h (1958) and is
#: the output interval of the unsteady runs.
SCENARIO_STEP_S = 600.0

_BANKS = ("left", "right")
_BREACH_FORM = "CHAINAGE_M[:left|right][@HOURS], e.g. 12500, 12500:left, 12500:right@30"


# --------------------------------------------------------------------------------------------------
# Hydrograph


@dataclass(frozen=True)
class Hydrograph:
    """Discharge (m³/s) at times (s) from the start of the run; between samples it is linear.

    Checked on construction (InputError): 1-D arrays of equal length, at least two samples, times
    finite, starting at 0 and strictly increasing, discharges finite in [0, 100,000] m³/s.
    """

    times_s: np.ndarray
    discharge_m3s: np.ndarray

    def __post_init__(self) -> None:
        t = np.asarray(self.times_s, dtype=float)
        q = np.asarray(self.discharge_m3s, dtype=float)
        if t.ndim != 1 or q.ndim != 1 or t.shape != q.shape:
            raise InputError(f"hydrograph: times_s {t.shape} and discharge_m3s {q.shape} must be 1-D of one length")
        if t.size < 2:
            raise InputError(f"hydrograph: {t.size} sample(s), need at least two times")
        if not np.all(np.isfinite(t)) or t[0] != 0.0 or np.any(np.diff(t) <= 0.0):
            raise InputError("hydrograph: times_s must be finite, start at 0 and increase")
        bad = ~np.isfinite(q) | (q < 0.0) | (q > MAX_DISCHARGE_M3S)
        if bad.any():
            i = int(np.argmax(bad))
            require_discharge_m3s(q[i], name=f"hydrograph: discharge at {t[i] / 3600.0:g} h")
        object.__setattr__(self, "times_s", t)
        object.__setattr__(self, "discharge_m3s", q)

    @property
    def peak_m3s(self) -> float:
        return float(self.discharge_m3s.max())

    @property
    def time_of_peak_s(self) -> float:
        return float(self.times_s[int(np.argmax(self.discharge_m3s))])

    @property
    def duration_s(self) -> float:
        return float(self.times_s[-1])

    def discharge_at(self, t_s: float | np.ndarray) -> np.ndarray:
        """Discharge (m³/s) at times ``t_s`` (s), linear between samples, held at the ends."""
        return np.interp(t_s, self.times_s, self.discharge_m3s)

    def hours_above(self, threshold_m3s: float) -> float:
        """Hours the (piecewise-linear) series is above ``threshold_m3s``, crossings found exactly."""
        t0, t1 = self.times_s[:-1], self.times_s[1:]
        q0, q1 = self.discharge_m3s[:-1] - threshold_m3s, self.discharge_m3s[1:] - threshold_m3s
        dt = t1 - t0
        both = (q0 > 0) & (q1 > 0)
        cross = (q0 > 0) != (q1 > 0)
        # in a crossing segment the part above is the fraction of the step on the positive side
        with np.errstate(divide="ignore", invalid="ignore"):
            frac = np.where(cross, np.maximum(q0, q1) / np.abs(q1 - q0), 0.0)
        return float((dt * both).sum() + (dt * frac).sum()) / 3600.0


# --------------------------------------------------------------------------------------------------
# The design shape


def _number(p: Param, name: str, unit: str, *, low: float | None = None, low_inclusive: bool = True,
            high: float | None = None) -> Param:
    """A Param holding a finite number in its stated unit (a ValueError, placed by load_yaml, if not)."""
    v = p.value
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ValueError(f"{name}: expected a finite number, got {v!r}")
    if p.unit != unit:
        raise ValueError(f"{name}: unit {p.unit!r}, expected {unit!r}")
    if low is not None and (v < low or (v == low and not low_inclusive)):
        raise ValueError(f"{name}: {v!r} {unit}, expected {'>=' if low_inclusive else '>'} {low:g}")
    if high is not None and v > high:
        raise ValueError(f"{name}: {v!r} {unit}, expected at most {high:,.0f}")
    return p


class HydrographSpec(StrictModel):
    base_discharge_m3s: Param
    time_to_peak_h: Param
    duration_h: Param
    reference_peak_m3s: Param
    reference_threshold_m3s: Param
    reference_hours_above: Param

    @field_validator("base_discharge_m3s", "reference_peak_m3s", "reference_threshold_m3s")
    @classmethod
    def _discharge(cls, p: Param, info) -> Param:
        return _number(p, info.field_name, "m3/s", low=0.0, high=MAX_DISCHARGE_M3S)

    @field_validator("time_to_peak_h", "duration_h", "reference_hours_above")
    @classmethod
    def _hours(cls, p: Param, info) -> Param:
        return _number(p, info.field_name, "h", low=0.0, low_inclusive=False)


def gamma_shape(t_h: np.ndarray, time_to_peak_h: float, m: float) -> np.ndarray:
    """Unit wave shape in [0, 1] with its peak (1) at ``time_to_peak_h``."""
    r = np.maximum(np.asarray(t_h, float), 0.0) / time_to_peak_h
    return (r * np.exp(1.0 - r)) ** m


def hours_above(threshold_m3s: float, peak_m3s: float, base_m3s: float, time_to_peak_h: float, m: float) -> float:
    """Hours the wave stays above a threshold (analytic roots found numerically on a fine grid)."""
    t = np.linspace(0.0, 40 * time_to_peak_h, 400_001)
    q = base_m3s + (peak_m3s - base_m3s) * gamma_shape(t, time_to_peak_h, m)
    return float(np.count_nonzero(q > threshold_m3s) * (t[1] - t[0]))


def fit_shape_exponent(spec: HydrographSpec) -> float:
    """Exponent m that gives the reference flood its published hours above the threshold."""
    from scipy.optimize import brentq

    qb = float(spec.base_discharge_m3s.value)
    tp = float(spec.time_to_peak_h.value)
    qp = float(spec.reference_peak_m3s.value)
    qt = float(spec.reference_threshold_m3s.value)
    target = float(spec.reference_hours_above.value)
    f = lambda m: hours_above(qt, qp, qb, tp, m) - target
    lo, hi = 0.2, 200.0
    if f(lo) < 0 or f(hi) > 0:
        raise InputError(f"hydrograph: no wave rising in {tp} h stays {target} h above {qt:.0f} m³/s")
    return float(brentq(f, lo, hi, xtol=1e-6))


def design_hydrograph(peak_m3s: float, spec: HydrographSpec | None = None, *,
                      step_s: float = SCENARIO_STEP_S) -> Hydrograph:
    """The design wave scaled to ``peak_m3s`` (the base flow is capped below the peak)."""
    peak_m3s = require_discharge_m3s(peak_m3s, name="peak discharge", positive=True)
    spec = spec if spec is not None else load_scenario_spec().hydrograph
    m = fit_shape_exponent(spec)
    qb = min(float(spec.base_discharge_m3s.value), 0.5 * peak_m3s)
    tp = float(spec.time_to_peak_h.value)
    t_s = np.arange(0.0, float(spec.duration_h.value) * 3600.0 + step_s / 2, step_s)
    q = qb + (peak_m3s - qb) * gamma_shape(t_s / 3600.0, tp, m)
    return Hydrograph(t_s, q)


# --------------------------------------------------------------------------------------------------
# Breaches


@dataclass(frozen=True)
class BreachSpec:
    """A dike breach: where (chainage m along the reach axis, bank), when it opens (h from the start
    of the run), how wide it ends (m) and how long it takes to get there (h)."""

    chainage_m: float
    bank: str = "right"
    start_h: float = 0.0
    final_width_m: float = 200.0
    time_to_full_h: float = 3.0

    def __post_init__(self) -> None:
        if self.bank not in _BANKS:
            raise InputError(f"breach bank {self.bank!r}: expected left or right")
        for name, low_ok in (("chainage_m", True), ("start_h", True), ("final_width_m", False),
                             ("time_to_full_h", False)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0 \
                    or (v == 0 and not low_ok):
                raise InputError(f"breach {name} {v!r}: expected a finite number {'>=' if low_ok else '>'} 0")
            object.__setattr__(self, name, float(v))


def _breach_number(text: str, part: str, what: str, option: str, original: str) -> float:
    where = f"{option} {original!r}"
    if part == "":
        raise InputError(f"{where}: {what} is empty ({_BREACH_FORM})")
    post = post_chainage_m(part) if what == "chainage" else None
    try:
        # a dike post "12+500" is km + m, the way the dike's chainage posts are written
        v = post if post is not None else float(part)
    except ValueError:
        raise InputError(f"{where}: {what} {part!r} is not a number ({_BREACH_FORM})") from None
    if not math.isfinite(v):
        raise InputError(f"{where}: {what} {part!r} is not a finite number")
    if v < 0:
        unit = "m" if what == "chainage" else "h"
        raise InputError(f"{where}: {what} {v:g} {unit} is negative, expected >= 0 {unit}")
    return v


def parse_breach(text: str, *, option: str = "--breach") -> BreachSpec:
    """``"CHAINAGE_M[:left|right][@HOURS]"`` as a BreachSpec: chainage in m (or a dike post such as
    ``12+500``), the bank (default right, the town's side), the hour the breach opens (default 0).
    Width and opening time keep the BreachSpec defaults. A text that does not parse is an InputError
    naming ``option`` and the text."""
    original = text
    if not isinstance(text, str) or not text.strip():
        raise InputError(f"{option} {original!r}: empty, expected {_BREACH_FORM}")
    text = text.strip()
    if text.count("@") > 1 or text.count(":") > 1:
        raise InputError(f"{option} {original!r}: expected {_BREACH_FORM}")
    head, at, hours = text.partition("@")
    chain, colon, bank = head.partition(":")
    chainage_m = _breach_number(text, chain.strip(), "chainage", option, original)
    bank = bank.strip().lower() if colon else "right"
    if bank not in _BANKS:
        raise InputError(f"{option} {original!r}: bank {bank!r}: expected left or right")
    start_h = _breach_number(text, hours.strip(), "hours", option, original) if at else 0.0
    return BreachSpec(chainage_m=chainage_m, bank=bank, start_h=start_h)


# --------------------------------------------------------------------------------------------------
# Hydrograph CSV files


def _csv_number(cell: str, where: str, column: str) -> float:
    if cell.strip() == "":
        raise InputError(f"{where}: column {column}: empty cell, expected a number")
    try:
        v = float(cell)
    except ValueError:
        raise InputError(f"{where}: column {column}: {cell.strip()!r} is not a number") from None
    if not math.isfinite(v):
        raise InputError(f"{where}: column {column}: {cell.strip()!r} is not a finite number")
    return v


def _csv_time(cell: str, where: str) -> datetime:
    if cell.strip() == "":
        raise InputError(f"{where}: column time: empty cell, expected an ISO-8601 date and time")
    try:
        return datetime.fromisoformat(cell.strip())
    except ValueError:
        raise InputError(f"{where}: column time: {cell.strip()!r} is not an ISO-8601 date and time "
                         "(e.g. 2021-09-27T08:00+08:00)") from None


def read_hydrograph_csv(path: str | Path, *, option: str = "--hydrograph") -> Hydrograph:
    """Read a hydrograph CSV: a ``discharge_m3s`` column (m³/s) and either ``time_h`` (hours from the
    start, the first 0) or ``time`` (ISO-8601 date-times, all with or all without a UTC offset; the
    series starts at the first). Lines starting with ``#`` and blank lines are skipped; other columns
    are ignored. Times must increase; discharges must be finite in [0, 100,000] m³/s. Any problem is
    one InputError naming the file, the line and the column."""
    p = require_file_to_read(path, option=option)
    try:
        text = p.read_text(encoding="utf-8-sig")  # -sig: a spreadsheet's byte-order mark is not a column
    except UnicodeDecodeError as exc:
        raise InputError(f"{option} {p}: not UTF-8 text (byte {exc.start}: {exc.reason})") from None
    except OSError as exc:
        raise InputError(f"{option} {p}: cannot read: {exc.strerror or exc}") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    rows: list[tuple[int, list[str]]] = []
    try:
        for cells in reader:
            if not cells or all(c.strip() == "" for c in cells) or cells[0].lstrip().startswith("#"):
                continue
            if header is None:
                header = [c.strip() for c in cells]
                header_line = reader.line_num
            else:
                rows.append((reader.line_num, cells))
    except csv.Error as exc:
        raise InputError(f"{p}:{reader.line_num}: not valid CSV: {exc}") from None
    if header is None:
        raise InputError(f"{option} {p}: no header line, expected columns time_h (or time) and discharge_m3s")
    shown = ", ".join(header)
    for name in header:
        if header.count(name) > 1:
            raise InputError(f"{p}:{header_line}: column {name} appears twice")
    if "time_h" in header and "time" in header:
        raise InputError(f"{p}:{header_line}: both time_h and time columns: give one")
    if "time_h" not in header and "time" not in header:
        raise InputError(f"{p}:{header_line}: missing column time_h (or time); the header has: {shown}")
    if "discharge_m3s" not in header:
        raise InputError(f"{p}:{header_line}: missing column discharge_m3s; the header has: {shown}")
    time_col = "time_h" if "time_h" in header else "time"
    it, iq = header.index(time_col), header.index("discharge_m3s")
    if not rows:
        raise InputError(f"{option} {p}: no data rows after the header (line {header_line})")
    if len(rows) < 2:
        raise InputError(f"{p}:{rows[0][0]}: only one data row, a hydrograph needs at least two times")
    times_s = np.empty(len(rows))
    q = np.empty(len(rows))
    t_first: datetime | None = None
    for k, (line, cells) in enumerate(rows):
        where = f"{p}:{line}"
        if len(cells) != len(header):
            raise InputError(f"{where}: {len(cells)} cells, the header (line {header_line}) has {len(header)}")
        if time_col == "time_h":
            t_h = _csv_number(cells[it], where, "time_h")
            if k == 0 and t_h != 0.0:
                raise InputError(f"{where}: column time_h: the first time is {t_h:g} h, expected 0 "
                                 "(hours from the start of the run)")
            times_s[k] = t_h * 3600.0
        else:
            t = _csv_time(cells[it], where)
            if t_first is None:
                t_first = t
            elif (t.tzinfo is None) != (t_first.tzinfo is None):
                raise InputError(f"{where}: column time: {cells[it].strip()!r} and the first time "
                                 f"(line {rows[0][0]}) must both have a UTC offset or both have none")
            times_s[k] = (t - t_first).total_seconds()
        if k > 0 and times_s[k] <= times_s[k - 1]:
            prev = rows[k - 1][0]
            what = "repeats the time of" if times_s[k] == times_s[k - 1] else "is before the time of"
            raise InputError(f"{where}: column {time_col}: {cells[it].strip()!r} {what} line {prev} "
                             "(times must increase)")
        v = _csv_number(cells[iq], where, "discharge_m3s")
        try:
            q[k] = require_discharge_m3s(v, name="discharge_m3s")
        except InputError as exc:
            raise InputError(f"{where}: column {exc}") from None
    return Hydrograph(times_s, q)


# --------------------------------------------------------------------------------------------------
# Scenario files


class SeriesPoint(StrictModel):
    """One point of an explicit hydrograph: hours from the start, discharge, the source of the pair."""

    time_h: float
    discharge_m3s: float
    source: Literal["S", "D", "E"]
    note: str = ""

    @field_validator("time_h")
    @classmethod
    def _time(cls, v: float) -> float:
        if not math.isfinite(v) or v < 0:
            raise ValueError(f"expected a finite number of hours >= 0, got {v!r}")
        return v

    @field_validator("discharge_m3s")
    @classmethod
    def _discharge(cls, v: float) -> float:
        if not math.isfinite(v) or v < 0 or v > MAX_DISCHARGE_M3S:
            raise ValueError(f"expected a finite number in [0, {MAX_DISCHARGE_M3S:,.0f}] m3/s, got {v!r}")
        return v


class BreachEntry(StrictModel):
    """A breach in a scenario file; ``note`` says why here and then."""

    chainage_m: Param
    bank: Literal["left", "right"]
    start_h: Param
    final_width_m: Param | None = None
    time_to_full_h: Param | None = None
    note: str

    @field_validator("chainage_m", "start_h", "final_width_m", "time_to_full_h")
    @classmethod
    def _num(cls, p: Param | None, info) -> Param | None:
        if p is None:
            return p
        unit = "m" if info.field_name.endswith("_m") else "h"
        strict = info.field_name in ("final_width_m", "time_to_full_h")
        return _number(p, info.field_name, unit, low=0.0, low_inclusive=not strict)

    def spec(self) -> BreachSpec:
        extra = {k: float(getattr(self, k).value) for k in ("final_width_m", "time_to_full_h")
                 if getattr(self, k) is not None}
        return BreachSpec(chainage_m=float(self.chainage_m.value), bank=self.bank,
                          start_h=float(self.start_h.value), **extra)


class ScenarioSpec(StrictModel):
    """A scenario YAML: the design shape scaled to ``peak_m3s`` (``hydrograph`` inline, or
    ``hydrograph_from`` another scenario's), or an explicit ``series``; breaches; sources."""

    name: str
    title_en: str
    title_zh: str
    peak_m3s: Param | None = None
    hydrograph: HydrographSpec | None = None
    hydrograph_from: str | None = None
    series: list[SeriesPoint] | None = None
    breaches: list[BreachEntry] = []
    sources: list[str]

    @field_validator("sources")
    @classmethod
    def _sources(cls, v: list[str]) -> list[str]:
        if not v or any(not s.strip() for s in v):
            raise ValueError("name the sources of the scenario's numbers, one non-empty line each")
        return v

    @field_validator("peak_m3s")
    @classmethod
    def _peak(cls, p: Param | None) -> Param | None:
        return p if p is None else _number(p, "peak_m3s", "m3/s", low=0.0, low_inclusive=False,
                                           high=MAX_DISCHARGE_M3S)

    @model_validator(mode="after")
    def _one_shape(self) -> "ScenarioSpec":
        shape = self.hydrograph is not None or self.hydrograph_from is not None
        if self.hydrograph is not None and self.hydrograph_from is not None:
            raise ValueError("give hydrograph or hydrograph_from, not both")
        if self.series is not None and (shape or self.peak_m3s is not None):
            raise ValueError("an explicit series takes no peak_m3s, hydrograph or hydrograph_from")
        if self.series is None and not shape:
            raise ValueError("expected a series, or peak_m3s with hydrograph or hydrograph_from")
        if shape and self.peak_m3s is None:
            raise ValueError("the design shape needs a peak_m3s to scale it to")
        if self.series is not None and len(self.series) < 2:
            raise ValueError("a series needs at least two points")
        return self


@dataclass(frozen=True)
class Scenario:
    """A loaded scenario: its hydrograph (10-min samples), breaches, sources and file."""

    name: str
    title_en: str
    title_zh: str
    hydrograph: Hydrograph
    breaches: tuple[BreachSpec, ...]
    sources: tuple[str, ...]
    path: Path | None


def scenario_dir() -> Path:
    """The folder of the named scenarios (``scenarios/`` beside the data folder)."""
    return DATA_DIR.parent / "scenarios"


def default_scenario_path() -> Path:
    return scenario_dir() / "design.yaml"


def list_scenarios() -> list[str]:
    """Names of the scenarios in ``scenarios/`` (their file stems), sorted."""
    return sorted(p.stem for p in scenario_dir().glob("*.yaml") if p.is_file())


def _check_scenario(spec: ScenarioSpec, lines: Callable[[], dict[tuple, int]], path: Path) -> None:
    """Checks across keys, each a ConfigError at the line of the key it names."""

    def fail(loc: tuple, msg: str) -> None:
        line = lines().get(loc) or lines().get(loc[:1])
        raise ConfigError(f"{path}:{line}: {'.'.join(map(str, loc))}: {msg}" if line else f"{path}: {msg}")

    if spec.series is not None:
        if spec.series[0].time_h != 0:
            fail(("series", 0, "time_h"), f"the first point is at {spec.series[0].time_h:g} h, expected 0")
        for i in range(1, len(spec.series)):
            if spec.series[i].time_h <= spec.series[i - 1].time_h:
                fail(("series", i, "time_h"), f"{spec.series[i].time_h:g} h is not after the point before "
                     f"({spec.series[i - 1].time_h:g} h): times must increase")


def load_scenario_spec(path: str | Path | None = None) -> ScenarioSpec:
    """Read a scenario YAML (default scenarios/design.yaml); ConfigError names file, line and key."""
    path = Path(path) if path is not None else default_scenario_path()
    return load_yaml(path, ScenarioSpec, kind="scenario",
                     check=lambda spec, lines: _check_scenario(spec, lines, path))


def _series_hydrograph(points: list[SeriesPoint]) -> Hydrograph:
    t_pts = np.array([pt.time_h for pt in points]) * 3600.0
    q_pts = np.array([pt.discharge_m3s for pt in points])
    # the table's own times join the 10-min grid so that no stated point (a crest) is cut off
    t = np.union1d(np.arange(0.0, t_pts[-1], SCENARIO_STEP_S), t_pts)
    return Hydrograph(t, np.interp(t, t_pts, q_pts))


def load_scenario(name_or_path: str | Path, *, option: str = "--scenario") -> Scenario:
    """A scenario by name (``scenarios/NAME.yaml``) or by the path of a YAML file. An unknown name is
    an InputError listing the known ones; a bad file is a ConfigError naming file, line and key."""
    text = str(name_or_path).strip()
    looks_like_path = isinstance(name_or_path, Path) or "/" in text or "\\" in text or \
        text.lower().endswith((".yaml", ".yml"))
    if looks_like_path:
        path = require_file_to_read(text, option=option)
    else:
        path = scenario_dir() / f"{text}.yaml"
        if not text or not path.is_file():
            known = ", ".join(list_scenarios()) or "none"
            raise InputError(f"{option} {text!r}: unknown scenario; known: {known} (files in {scenario_dir()})")
    spec = load_scenario_spec(path)
    if spec.series is not None:
        hydro = _series_hydrograph(spec.series)
    else:
        shape = spec.hydrograph
        if shape is None:
            ref = spec.hydrograph_from
            ref_path = scenario_dir() / f"{ref}.yaml"
            if not ref_path.is_file() or "/" in ref:
                raise ConfigError(f"{path}: hydrograph_from: unknown scenario {ref!r}; known: "
                                  f"{', '.join(list_scenarios())}")
            shape = load_scenario_spec(ref_path).hydrograph
            if shape is None:
                raise ConfigError(f"{path}: hydrograph_from: {ref_path} has no hydrograph section of its own")
        try:
            hydro = design_hydrograph(float(spec.peak_m3s.value), shape)  # type: ignore[union-attr]
        except InputError as exc:
            raise ConfigError(f"{path}: {exc}") from None
    breaches = tuple(b.spec() for b in spec.breaches)
    end_h = hydro.duration_s / 3600.0
    for i, b in enumerate(breaches):
        if b.start_h >= end_h:
            line = line_of(read_yaml(path)[1], ("breaches", i, "start_h"))
            raise ConfigError(f"{path}:{line}: breaches.{i}.start_h: {b.start_h:g} h is not before the end of "
                              f"the run ({end_h:g} h)")
    return Scenario(name=spec.name, title_en=spec.title_en, title_zh=spec.title_zh, hydrograph=hydro,
                    breaches=breaches, sources=tuple(spec.sources), path=path)

