"""Calibration of the 1D channel against observed stage–discharge pairs, and the model rating.

``calibrate`` fits the channel Manning n and a channel-bed offset of the reach's 1D model so that
the modelled steady stage at a gauge matches the observed daily (discharge, stage) pairs of the fit
years. The Huayuankou bed moves with every flood season (≈ 2 m lower since 2001, and ±0.3 m within a
year around the June–July water–sediment regulation flush), so each *period* (by default a season:
Jan–Jun, Jul–Oct, Nov–Dec of each year) gets its own bed offset on top of the common one; the
per-period offsets are exact stage shifts for in-bank flows (checked when the result is written).
The floodplain n is fitted only when the data hold enough overbank days (above the reach's bankfull
discharge); otherwise it keeps its prior, and the report says so.

Validation years are never fitted: with the fitted n, each validation day's bed offset comes from
the ``assimilate_days`` observations before it (no older than 30 days) — as a duty hydrologist
shifts a rating after the latest gaugings — and the day is then predicted; the skill with no update
at all (the fit years' mean bed carried over) is reported beside it.

The calibration file (``<reach>.calibration.yaml``) has one schema,
:class:`floodtwin.hydraulics.sections.CalibrationFile`: this module writes it and
:func:`floodtwin.hydraulics.sections.load_calibration` reads it through :func:`floodtwin.config.load_yaml`. (Moved from ``floodtwin/calibration.py`` by issue 13.)
"""

from __future__ import annotations

import datetime as _dt
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from floodtwin.config import DATA_DIR
from floodtwin.errors import DataError, InputError, require_discharge_m3s
from floodtwin.hydraulics.sections import CalibrationFile

__all__ = [
    "ASSIMILATION_WINDOW_D", "CalibrationResult", "DEFAULT_OBSERVATIONS", "MIN_OVERBANK_DAYS", "PERIODS", "Skill", "calibrate", "extrapolation_check", "find_gauge", "load_observations",
    "model_rating", "parse_years", "period_label", "rating", "write_calibration",
]

log = logging.getLogger(__name__)

#: the real daily bulletin data, kept in the repository (data/yrcc/README.md says where it comes from)
DEFAULT_OBSERVATIONS = DATA_DIR / "yrcc" / "daily_lower_river_2001_2019.csv"
PERIODS = ("year", "season", "month")
MIN_OVERBANK_DAYS = 10
#: validation: the rating shift comes from observations at most this many days old
ASSIMILATION_WINDOW_D = 30


@dataclass
class Skill:
    """Stage error statistics (m): model minus observation."""

    n: int
    rmse_m: float
    bias_m: float
    max_abs_m: float

    @classmethod
    def of(cls, residual_m: np.ndarray) -> "Skill":
        r = np.asarray(residual_m, float)
        if r.size == 0:
            return cls(0, float("nan"), float("nan"), float("nan"))
        return cls(int(r.size), float(np.sqrt(np.mean(r ** 2))), float(np.mean(r)), float(np.max(np.abs(r))))


@dataclass
class CalibrationResult:
    """Fitted 1D parameters and their skill on the fit and validation years."""

    station: str
    gauge_chainage_m: float
    channel_n: float
    floodplain_n: float
    floodplain_n_fitted: bool
    bed_offset_m: float  # mean bed of the fit years (day-weighted mean of the period offsets): used by the model
    latest_period_offset_m: float
    latest_period: str
    period: str
    period_offsets_m: dict[str, float]
    fit_years: list[int]
    validate_years: list[int]
    discharge_range_m3s: tuple[float, float]
    fit: Skill  # each period's own bed shift removed
    validation: Skill
    validation_no_update: Skill
    fit_as_written: Skill  # the fit days by the model as written: one bed offset (bed_offset_m), no shifts
    assimilate_days: int
    extrapolation: dict = field(default_factory=dict)

    def to_yaml_dict(self) -> dict:
        d = asdict(self)
        d["discharge_range_m3s"] = list(self.discharge_range_m3s)
        return d


# --------------------------------------------------------------------------------------------
# observations
# --------------------------------------------------------------------------------------------
def load_observations(station: str, path: str | Path | None = None):
    """Daily (date, discharge_m3s, stage_m) of a station from the YRCC bulletin CSV, complete rows only."""
    import pandas as pd

    p = Path(path) if path else DEFAULT_OBSERVATIONS
    if p.is_dir():
        raise DataError(f"{p}: is a directory, expected the observations CSV")
    if not p.is_file():
        raise DataError(f"{p}: observations file not found")
    try:
        df = pd.read_csv(p, dtype=str, keep_default_na=False, encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{p}: not UTF-8 text (byte {exc.start}: {exc.reason})") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{p}: file is empty, expected the observations CSV with a header") from None
    except (pd.errors.ParserError, ValueError) as exc:
        raise DataError(f"{p}: not a CSV file: {' '.join(str(exc).split())[:120]}") from None
    missing = {"date", "station", "stage_m", "discharge_m3s"} - set(df.columns)
    if missing:
        raise DataError(f"{p}: missing column(s) {', '.join(sorted(missing))}")
    names = sorted(df["station"].dropna().unique())
    match = [s for s in names if s.lower() == station.lower()]
    if not match:
        raise InputError(f"station {station!r} is not in {p.name}; stations: {', '.join(names)}")
    g = df[df["station"] == match[0]].copy()
    # a blank cell is a day without a measurement (the bulletin has gaps); text where a number or a
    # date belongs is a broken file, said with its line, never dropped without a word
    for col, parse in (("date", lambda s: pd.to_datetime(s, errors="coerce")),
                       ("stage_m", lambda s: pd.to_numeric(s, errors="coerce")),
                       ("discharge_m3s", lambda s: pd.to_numeric(s, errors="coerce"))):
        text = g[col].str.strip()
        value = parse(text.where(text != "", None))
        broken = value.isna() & (text != "")
        if broken.any():
            first = broken.idxmax()
            raise DataError(f"{p}:{first + 2}: {col} {g.at[first, col]!r} is not a "
                            f"{'date' if col == 'date' else 'number'} ({int(broken.sum())} such row(s) of "
                            f"{match[0]})")
        g[col] = value
    g = g.dropna(subset=["date", "stage_m", "discharge_m3s"])
    return g[["date", "discharge_m3s", "stage_m"]].sort_values("date").reset_index(drop=True)


def parse_years(text: str) -> list[int]:
    """'2018-2019' or '2012,2014,2016-2017' -> sorted list of years."""
    years: set[int] = set()
    try:
        for part in str(text).split(","):
            part = part.strip()
            if "-" in part:
                a, b = (int(x) for x in part.split("-", 1))
                if b < a:
                    raise ValueError
                years.update(range(a, b + 1))
            elif part:
                years.add(int(part))
    except ValueError:
        raise InputError(f"years {text!r}: expected e.g. 2018-2019 or 2012,2014") from None
    if not years:
        raise InputError(f"years {text!r}: no year given")
    return sorted(years)


def period_label(dates, period: str) -> np.ndarray:
    """Label of each date's period: '2019' (year), '2019-JJ'... (season: H1 Jan–Jun, FS Jul–Oct,
    LY Nov–Dec) or '2019-07' (month)."""
    import pandas as pd

    d = pd.DatetimeIndex(dates)
    if period == "year":
        return np.array([f"{y}" for y in d.year])
    if period == "month":
        return np.array([f"{y}-{m:02d}" for y, m in zip(d.year, d.month)])
    if period == "season":
        season = np.where(d.month <= 6, "H1", np.where(d.month <= 10, "FS", "LY"))
        return np.array([f"{y}-{s}" for y, s in zip(d.year, season)])
    raise InputError(f"period {period!r}: expected one of {', '.join(PERIODS)}")


# --------------------------------------------------------------------------------------------
# model rating
# --------------------------------------------------------------------------------------------
def find_gauge(reach, gauge: str) -> tuple[str, float]:
    """(gauge id, chainage m) of a gauge by id ('HYK') or English name ('Huayuankou')."""
    g = reach.gauges
    key = gauge.strip().lower()
    for _, row in g.iterrows():
        names = {str(row["gauge_id"]).lower(), str(row.get("name_en", "")).lower(),
                 str(row.get("name_en", "")).lower().split(" ")[0], str(row.get("name_zh", ""))}
        if key in names:
            return str(row["gauge_id"]), float(row["chainage_m"])
    known = ", ".join(f"{r['gauge_id']} ({str(r.get('name_en', '')).split(' ')[0]})" for _, r in g.iterrows())
    raise InputError(f"gauge {gauge!r} is not in reach {reach.name}; gauges: {known}")


def model_rating(sections, chainage_m: float, discharge_m3s: Sequence[float]) -> np.ndarray:
    """Steady stage (m) at the section nearest ``chainage_m`` for each discharge (normal depth downstream)."""
    from floodtwin.hydraulics.channel import rating_at

    q = np.asarray(discharge_m3s, float)
    if q.ndim != 1 or q.size == 0:
        raise InputError("discharge: give one or more numbers (m³/s)")
    q = np.array([require_discharge_m3s(v, positive=True) for v in q.tolist()])
    return rating_at(sections, chainage_m, q)


def rating(reach, discharge_m3s: Sequence[float], gauge: str = "Huayuankou", *,
           calibration: str | Path | None = None, spacing_m: float = 250.0) -> np.ndarray:
    """Stage (m) at a gauge for each discharge (m³/s) from the calibrated 1D model of the reach; a
    discharge outside the model's valid range (:func:`~floodtwin.hydraulics.sanity.discharge_range_m3s`)
    is a ModelError naming the range, never a stage."""
    from floodtwin.hydraulics.sanity import require_in_range
    from floodtwin.hydraulics.sections import sections_from_reach

    _, chainage = find_gauge(reach, gauge)
    sections = sections_from_reach(reach, spacing_m, calibration=calibration)
    q = np.atleast_1d(np.asarray(discharge_m3s, dtype=float))
    for v in q.tolist():
        require_in_range(sections, v, name="discharge")
    return model_rating(sections, chainage, q)


# --------------------------------------------------------------------------------------------
# calibration
# --------------------------------------------------------------------------------------------
def _shift_by_period(residual: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, dict[str, float]]:
    """Residual with each period's mean removed, and the means (the stage shift each period needs)."""
    out = residual.copy()
    means = {}
    for lab in dict.fromkeys(labels):
        m = labels == lab
        means[str(lab)] = float(residual[m].mean())
        out[m] -= means[str(lab)]
    return out, means


def calibrate(reach, observations, fit_years: Sequence[int], validate_years: Sequence[int] = (), *,
              station: str = "Huayuankou", discharge_range_m3s: tuple[float, float] = (1000.0, 5000.0),
              period: str = "month", assimilate_days: int = 7, spacing_m: float = 250.0,
              floodplain_n: float | None = None, progress=None) -> CalibrationResult:
    """Fit channel n (and floodplain n when overbank data exist) and per-period channel-bed offsets
    of the reach's 1D model to observed daily (discharge_m3s, stage_m) pairs; see the module text.

    ``observations``: a DataFrame with date, discharge_m3s, stage_m. Returns a CalibrationResult
    with RMSE and bias (m) on the fit and validation years.
    """
    from scipy.optimize import least_squares

    from floodtwin.hydraulics.sections import sections_from_reach

    q_lo, q_hi = (float(v) for v in discharge_range_m3s)
    if not 0 < q_lo < q_hi:
        raise InputError(f"discharge range {discharge_range_m3s}: expected 0 < low < high (m³/s)")
    if assimilate_days < 1:
        raise InputError(f"assimilate_days = {assimilate_days} must be at least 1")
    gauge_id, chainage = find_gauge(reach, station)
    obs = observations[(observations["discharge_m3s"] >= q_lo) & (observations["discharge_m3s"] <= q_hi)]
    years = obs["date"].dt.year
    fit = obs[years.isin(list(fit_years))]
    val = obs[years.isin(list(validate_years))]
    overlap = sorted(set(fit_years) & set(validate_years))
    if overlap:
        raise InputError(f"validation years {overlap} are also fit years")
    if len(fit) < 10:
        raise DataError(f"station {station}: only {len(fit)} observations in {q_lo:g}–{q_hi:g} m³/s in the fit "
                        f"years {fit_years}; need at least 10")
    if len(validate_years) and len(val) == 0:  # a validation of no day is no validation (its RMSE is NaN)
        raise DataError(f"station {station}: no observation in {q_lo:g}–{q_hi:g} m³/s in the validation years "
                        f"{sorted(validate_years)}: nothing to validate on")
    base = sections_from_reach(reach, spacing_m, calibration=False)
    # the gauge's stage depends only on the sections from the gauge down: cut the rest for speed
    keep = base.chainage_m >= chainage - 2 * spacing_m
    base = _subset(base, np.flatnonzero(keep))
    bankfull = float(reach.params.rating.bankfull_discharge_m3s.value) if reach.params is not None else np.inf
    n_overbank = int((fit["discharge_m3s"] > bankfull).sum())
    fit_fp = floodplain_n is None and n_overbank >= MIN_OVERBANK_DAYS
    fp_prior = floodplain_n if floodplain_n is not None else float(base.roughness[0, 0])
    q_grid = np.geomspace(q_lo * 0.95, q_hi * 1.05, 18)
    labels_fit = period_label(fit["date"], period)
    q_fit = fit["discharge_m3s"].to_numpy(float)
    z_fit = fit["stage_m"].to_numpy(float)

    def stages(params, q):
        n_ch, offset = params[0], params[1]
        n_fp = params[2] if fit_fp else fp_prior
        sec = base.with_roughness(n_ch, n_fp, offset)
        z = model_rating(sec, chainage, q_grid)
        return np.interp(np.log(q), np.log(q_grid), z)

    calls = [0]

    def count():
        calls[0] += 1
        if progress:
            progress(calls[0])

    # 1) n (and floodplain n) with one bed offset for all fit days: puts the bed at the mean level
    def residual_common(params):
        count()
        return stages(params, q_fit) - z_fit

    x0 = [float(base.roughness[0, 1]), 0.0] + ([fp_prior] if fit_fp else [])
    lo = [0.006, -5.0] + ([0.015] if fit_fp else [])
    hi = [0.06, 5.0] + ([0.1] if fit_fp else [])
    first = least_squares(residual_common, x0, bounds=(lo, hi), diff_step=1e-3)
    common = float(first.x[1])

    # 2) the shape (n) with each period's own shift: the bed moves between periods, n does not
    def residual_periods(params):
        count()
        full = np.array([params[0], common] + ([params[1]] if fit_fp else []))
        return _shift_by_period(stages(full, q_fit) - z_fit, labels_fit)[0]

    x1 = [float(first.x[0])] + ([float(first.x[2])] if fit_fp else [])
    second = least_squares(residual_periods, x1, bounds=([lo[0]] + lo[2:], [hi[0]] + hi[2:]), diff_step=1e-3)
    sol_x = np.array([second.x[0], common] + ([second.x[1]] if fit_fp else []))
    n_ch = float(sol_x[0])
    n_fp = float(sol_x[2]) if fit_fp else fp_prior
    raw = stages(sol_x, q_fit) - z_fit
    _, shifts = _shift_by_period(raw, labels_fit)
    # a bed offset lowers/raises the in-bank stage by (nearly) the same amount: offsets = common - shift
    offsets = {lab: common - s for lab, s in shifts.items()}
    fit_res = raw - np.array([shifts[str(lab)] for lab in labels_fit])
    latest = str(labels_fit[np.argmax(fit["date"].to_numpy())])
    # validation: n fixed; each day's bed offset from the previous ``assimilate_days`` observations
    # (within ASSIMILATION_WINDOW_D days), as a hydrologist shifts a rating after the latest gaugings
    val_res, val_noupd = [], []
    mean_shift = float(np.mean([shifts[str(lab)] for lab in labels_fit]))
    if len(val):
        val_sorted = val.sort_values("date")
        z_model = stages(sol_x, val_sorted["discharge_m3s"].to_numpy(float))
        r_all = z_model - val_sorted["stage_m"].to_numpy(float)
        days = val_sorted["date"].to_numpy()
        window = np.timedelta64(ASSIMILATION_WINDOW_D, "D")
        for k in range(len(r_all)):
            val_noupd.append(r_all[k] - mean_shift)
            prev = np.flatnonzero((days[:k] >= days[k] - window))
            if prev.size >= assimilate_days:
                val_res.append(r_all[k] - float(r_all[prev[-assimilate_days:]].mean()))
    bed_offset = float(np.mean([offsets[str(lab)] for lab in labels_fit]))
    as_written = stages(np.array([n_ch, bed_offset] + ([n_fp] if fit_fp else [])), q_fit) - z_fit
    result = CalibrationResult(
        station=station, gauge_chainage_m=chainage, channel_n=n_ch, floodplain_n=n_fp, floodplain_n_fitted=fit_fp,
        bed_offset_m=bed_offset,
        latest_period_offset_m=float(offsets[latest]), latest_period=latest, period=period,
        period_offsets_m={k: round(v, 4) for k, v in offsets.items()}, fit_years=sorted(int(y) for y in fit_years),
        validate_years=sorted(int(y) for y in validate_years), discharge_range_m3s=(q_lo, q_hi),
        fit=Skill.of(fit_res), validation=Skill.of(np.array(val_res)),
        validation_no_update=Skill.of(np.array(val_noupd)), fit_as_written=Skill.of(as_written),
        assimilate_days=int(assimilate_days),
    )
    log.info("calibration %s: n=%.4f offset=%.3f rmse fit %.3f val %.3f", gauge_id, n_ch, result.bed_offset_m,
             result.fit.rmse_m, result.validation.rmse_m)
    result.extrapolation = extrapolation_check(reach, sections_from_reach(
        reach, spacing_m, channel_n=n_ch, floodplain_n=n_fp, bed_offset_m=result.bed_offset_m, calibration=False),
        chainage)
    # the per-period offsets are applied as bed shifts: check the stage shift they stand for
    check_q = np.array([q_lo, 0.5 * (q_lo + q_hi), q_hi])
    shifted = model_rating(base.with_roughness(n_ch, n_fp, result.latest_period_offset_m), chainage, check_q)
    linear = (model_rating(base.with_roughness(n_ch, n_fp, common), chainage, check_q)
              + (result.latest_period_offset_m - common))
    result.extrapolation["bed_offset_as_stage_shift_error_m"] = round(float(np.max(np.abs(shifted - linear))), 4)
    return result


def extrapolation_check(reach, sections, chainage_m: float, q_max_m3s: float = 22000.0) -> dict:
    """Model stage at the gauge up to ``q_max_m3s``: monotonic?, stage at q_max, the dike crests and
    design flood level there, and the margin below the crests (m)."""
    q = np.linspace(500.0, q_max_m3s, 44)
    z = model_rating(sections, chainage_m, q)
    d = reach.dikes
    at = d[(d["chainage_from_m"] <= chainage_m) & (d["chainage_to_m"] > chainage_m)]
    crest = float(at["crest_elevation_m"].min()) if len(at) else float("nan")
    design = float(at["design_flood_level_m"].max()) if len(at) else float("nan")
    freeboard = float(reach.params.dikes.freeboard_m.value) if reach.params is not None else float("nan")
    steps = np.diff(z)
    return {"monotonic": bool(np.all(steps > 0)), "max_step_m": round(float(steps.max()), 4),
            "stage_at_max_m": round(float(z[-1]), 3), "discharge_max_m3s": q_max_m3s,
            "crest_m": crest, "design_flood_level_m": design, "margin_below_crest_m": round(crest - float(z[-1]), 3),
            "design_freeboard_m": freeboard}


def _subset(sections, idx: np.ndarray):
    """Sections restricted to indices ``idx`` (consecutive), tables rebuilt on demand."""
    from floodtwin.hydraulics.sections import Sections

    profiles = [sections.profile(int(i)) for i in idx]
    banks = [(sections.station_m[sections.bank_left[i]], sections.station_m[sections.bank_right[i]]) for i in idx]
    return Sections.from_arrays(profiles, sections.chainage_m[idx], banks_m=banks, manning_n=sections.roughness[idx],
                                section_id=[sections.section_id[i] for i in idx],
                                crest_m=np.column_stack([sections.crest_left_m[idx], sections.crest_right_m[idx]]),
                                distance_m=sections.distance_m[idx], fill_ramp_m=sections.fill_ramp_m,
                                divided_alpha=sections.divided_alpha)


def write_calibration(result: CalibrationResult, path: str | Path, *, command: str = "") -> Path:
    """Write the fitted values (read by the 1D model and ``floodtwin rating``) as YAML."""
    import yaml

    path = Path(path)
    info = result.to_yaml_dict()
    for k in ("channel_n", "floodplain_n", "bed_offset_m"):
        info.pop(k, None)
    # validated by the schema the model reads it with: an implausible fit is refused here, not later
    data = CalibrationFile(channel_n=round(result.channel_n, 5), floodplain_n=round(result.floodplain_n, 5),
                           bed_offset_m=round(result.bed_offset_m, 4)).parameters()
    header = (f"# 1D channel calibration of the {result.station} gauge, written by floodtwin.hydraulics.calibration on "
              f"{_dt.datetime.now(_dt.timezone.utc):%Y-%m-%d %H:%M} UTC\n"
              f"# {command}\n# channel_n, floodplain_n and bed_offset_m (channel bed shift, m, negative = lower: the mean\n"
              "# bed of the fit years) are what the model reads; the rest documents the fit.\n")
    body = yaml.safe_dump({**data, "fit_info": _plain(info)}, sort_keys=False, allow_unicode=True)
    path.write_text(header + body, encoding="utf-8")
    return path


def _plain(obj):
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        return None if not np.isfinite(obj) else round(float(obj), 5)
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj
