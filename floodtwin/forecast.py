"""Huayuankou discharge one and two days ahead: Xiaolangdi + Heishiguan + Wuzhi routed to
Huayuankou by a Muskingum reach with a one-day lag, fitted on the real daily bulletin.

The three stations gauge almost all the water that reaches Huayuankou: the Yellow River below the
Xiaolangdi dam, the Yiluo River at Heishiguan and the Qin River at Wuzhi (docs/reach.md, data/yrcc).
Their sum ``U`` [m³/s] enters a Muskingum reach (storage constant ``K`` [d], weight ``X`` [-],
time step 1 d) after a lag of one day (the travel time of about 130 km of channel), scaled by a
``gain`` [-] for the ungauged inflow and the losses (irrigation off-takes, seepage) between them:

    O(t+1) = C0·g·U(t) + C1·g·U(t-1) + C2·O(t)

with the Muskingum coefficients C0 = (Δt/2 − KX)/D, C1 = (Δt/2 + KX)/D, C2 = (K(1−X) − Δt/2)/D,
D = K(1−X) + Δt/2 (Chow, Maidment & Mays 1988, Applied Hydrology, §8.4), and ``O(t)`` the observed
Huayuankou flow, so each forecast starts from today's measurement. Two days ahead, tomorrow's
inflow is taken as today's (the reservoir release persists) and the one-day forecast stands in
for tomorrow's observation. ``K``, ``X`` and ``g`` are fitted by least squares on the years of the
fit; :func:`skill` scores the forecasts on years held out of the fit: the Nash–Sutcliffe
efficiency and the hits, misses and false alarms of the level-IV threshold (4,000 m³/s).
"""

from __future__ import annotations

import functools
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from floodtwin.config import DATA_DIR
from floodtwin.errors import DataError, InputError

__all__ = ["UPSTREAM", "TARGET", "DAILY_FILE", "FIT_YEARS", "TEST_YEARS", "LEVEL_IV_M3S", "Routing",
           "muskingum_coefficients", "load_daily", "fit_routing", "forecast_series", "forecast_next",
           "nse", "threshold_table", "skill", "default_routing"]

log = logging.getLogger(__name__)

#: the stations whose sum is routed (pinyin names of the bulletin) and the target station
UPSTREAM = ("Xiaolangdi", "Heishiguan", "Wuzhi")
TARGET = "Huayuankou"
#: the real daily bulletin shipped in the repository (data/yrcc/README.md)
DAILY_FILE = DATA_DIR / "yrcc" / "daily_lower_river_2001_2019.csv"
#: years of the fit and years held out for the skill (both contain level-IV days: 2007–2013 and 2018–2019)
FIT_YEARS = tuple(range(2001, 2015))
TEST_YEARS = tuple(range(2015, 2020))
#: the level-IV threshold at Huayuankou (data/preplans/huayuankou.yaml, docs/reach.md §2)
LEVEL_IV_M3S = 4000.0
DT_D = 1.0


@dataclass(frozen=True)
class Routing:
    """Fitted routing parameters: ``k_d`` Muskingum storage constant [d], ``x`` weight [-], ``gain``
    [-] on the upstream sum; ``fit_years`` the years they were fitted on."""

    k_d: float
    x: float
    gain: float
    fit_years: tuple[int, ...] = FIT_YEARS

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def muskingum_coefficients(k_d: float, x: float, dt_d: float = DT_D) -> tuple[float, float, float]:
    """(C0, C1, C2) of a Muskingum reach for a time step ``dt_d`` [d]; they sum to one. InputError
    where one would be negative (the reach would create water out of nothing)."""
    d = k_d * (1.0 - x) + dt_d / 2.0
    c = ((dt_d / 2.0 - k_d * x) / d, (dt_d / 2.0 + k_d * x) / d, (k_d * (1.0 - x) - dt_d / 2.0) / d)
    if min(c) < -1e-12:
        raise InputError(f"Muskingum K = {k_d:g} d, X = {x:g}: a coefficient is negative at Δt = {dt_d:g} d "
                         f"(need 2KX ≤ Δt ≤ 2K(1−X))")
    return c


def load_daily(path: str | Path | None = None) -> pd.DataFrame:
    """The bulletin's daily discharges [m³/s], one column per station (pinyin), indexed by date.
    Wuzhi's empty days are taken as 0 m³/s (the Qin River is often dry at its mouth; the bulletin
    prints "-"); a day missing Xiaolangdi, Heishiguan or Huayuankou stays NaN and is skipped."""
    path = Path(path) if path is not None else DAILY_FILE
    if not path.is_file():
        raise DataError(f"{path}: daily bulletin file not found")
    try:
        df = pd.read_csv(path, usecols=["date", "station", "discharge_m3s"])
    except (ValueError, pd.errors.ParserError) as exc:
        raise DataError(f"{path}: not the daily bulletin CSV (date, station, discharge_m3s): {exc}") from None
    wide = df[df["station"].isin((*UPSTREAM, TARGET))].pivot_table(
        index="date", columns="station", values="discharge_m3s", aggfunc="first")
    missing = [s for s in (*UPSTREAM, TARGET) if s not in wide.columns]
    if missing:
        raise DataError(f"{path}: no rows for station(s) {', '.join(missing)}")
    wide.index = pd.to_datetime(wide.index)
    wide = wide.asfreq("D")
    wide["Wuzhi"] = wide["Wuzhi"].fillna(0.0)
    return wide


def _upstream(df: pd.DataFrame) -> pd.Series:
    return df[list(UPSTREAM)].sum(axis=1, min_count=len(UPSTREAM))


def forecast_series(df: pd.DataFrame, routing: Routing) -> pd.DataFrame:
    """One- and two-day forecasts issued each day ``t`` from the data of ``t`` and ``t−1``:
    columns ``issued`` (t), ``obs_t``, ``fc1`` (for t+1), ``fc2`` (for t+2), ``obs1``, ``obs2``
    (what was then observed); m³/s. Days without the inputs are NaN."""
    c0, c1, c2 = muskingum_coefficients(routing.k_d, routing.x)
    u = _upstream(df) * routing.gain
    o = df[TARGET]
    fc1 = c0 * u + c1 * u.shift(1) + c2 * o
    fc2 = c0 * u + c1 * u + c2 * fc1
    return pd.DataFrame({"obs_t": o, "fc1": fc1, "fc2": fc2, "obs1": o.shift(-1), "obs2": o.shift(-2)})


def forecast_next(observed_m3s: float, upstream_m3s: float, upstream_yesterday_m3s: float | None,
                  routing: Routing) -> tuple[float, float]:
    """(one-day, two-day) forecasts at Huayuankou [m³/s] from today's observed flow there and the
    upstream sum today and yesterday (None: taken as today's)."""
    c0, c1, c2 = muskingum_coefficients(routing.k_d, routing.x)
    u0 = upstream_m3s * routing.gain
    um1 = (upstream_yesterday_m3s if upstream_yesterday_m3s is not None else upstream_m3s) * routing.gain
    f1 = c0 * u0 + c1 * um1 + c2 * observed_m3s
    return float(f1), float(c0 * u0 + c1 * u0 + c2 * f1)


def _in_years(index: pd.DatetimeIndex, years: tuple[int, ...]) -> np.ndarray:
    return np.isin(index.year, list(years))


def _x_max(k_d: float) -> float:
    """The largest X that keeps every coefficient ≥ 0 at Δt = 1 d (2KX ≤ Δt and 2K(1−X) ≥ Δt)."""
    return max(0.0, min(0.5, DT_D / (2 * k_d), 1.0 - DT_D / (2 * k_d)))


def fit_routing(df: pd.DataFrame, years: tuple[int, ...] = FIT_YEARS) -> Routing:
    """Least-squares K, X and gain of the one-day forecast over ``years`` (bounded so that every
    Muskingum coefficient stays ≥ 0: K in [0.5, 5] d, 2KX ≤ Δt ≤ 2K(1−X)). DataError when the years hold
    too few complete days."""
    from scipy.optimize import least_squares

    mask = _in_years(df.index, years)

    def residuals(p: np.ndarray) -> np.ndarray:
        k, xr, g = p
        x = xr * _x_max(k)  # xr in [0, 1] maps onto the admissible X for this K
        fs = forecast_series(df, Routing(k, x, g, years))
        r = (fs["fc1"] - fs["obs1"])[mask].to_numpy()
        return r[np.isfinite(r)]

    n = residuals(np.array([1.0, 0.5, 1.0])).size
    if n < 300:
        raise DataError(f"routing fit: only {n} complete days in {years[0]}–{years[-1]}")
    sol = least_squares(residuals, x0=[1.0, 0.5, 1.0], bounds=([0.5, 0.0, 0.5], [5.0, 1.0, 1.5]))
    k, xr, g = (float(v) for v in sol.x)
    routing = Routing(round(k, 4), round(xr * _x_max(k), 4), round(g, 4), tuple(years))
    log.info("routing fitted on %d days: K = %.3f d, X = %.3f, gain = %.3f", n, routing.k_d, routing.x,
             routing.gain)
    return routing


def nse(sim: np.ndarray, obs: np.ndarray) -> float:
    """Nash–Sutcliffe efficiency (1 perfect, 0 as good as the mean of the observations)."""
    sim, obs = np.asarray(sim, float), np.asarray(obs, float)
    ok = np.isfinite(sim) & np.isfinite(obs)
    sim, obs = sim[ok], obs[ok]
    return float(1.0 - np.sum((sim - obs) ** 2) / np.sum((obs - obs.mean()) ** 2))


def threshold_table(sim: np.ndarray, obs: np.ndarray, threshold_m3s: float = LEVEL_IV_M3S) -> dict[str, int]:
    """Days the forecast and the observation reach ``threshold_m3s``: hits (both), misses (observed
    only), false alarms (forecast only), correct negatives."""
    sim, obs = np.asarray(sim, float), np.asarray(obs, float)
    ok = np.isfinite(sim) & np.isfinite(obs)
    f, o = sim[ok] >= threshold_m3s, obs[ok] >= threshold_m3s
    return {"hits": int(np.sum(f & o)), "misses": int(np.sum(~f & o)), "false_alarms": int(np.sum(f & ~o)),
            "correct_negatives": int(np.sum(~f & ~o))}


def skill(df: pd.DataFrame, routing: Routing, years: tuple[int, ...] = TEST_YEARS) -> dict[str, Any]:
    """Scores on ``years`` (held out of the fit): NSE and the level-IV table of the one- and two-day
    forecasts, with persistence (tomorrow = today) as the baseline to beat."""
    overlap = sorted(set(years) & set(routing.fit_years))
    if overlap:
        raise InputError(f"skill: year(s) {', '.join(map(str, overlap))} were used in the fit; score on held-out years")
    fs = forecast_series(df, routing)[_in_years(df.index, years)]
    out: dict[str, Any] = {"years": [int(y) for y in years], "routing": routing.to_dict(),
                           "days": int(np.isfinite(fs["fc1"] - fs["obs1"]).sum())}
    for lead, col, obs in ((1, "fc1", "obs1"), (2, "fc2", "obs2")):
        out[f"lead_{lead}d"] = {"nse": round(nse(fs[col], fs[obs]), 4),
                                "nse_persistence": round(nse(fs["obs_t"], fs[obs]), 4),
                                "level_iv": threshold_table(fs[col], fs[obs]),
                                "level_iv_persistence": threshold_table(fs["obs_t"], fs[obs])}
    return out


@functools.lru_cache(maxsize=4)
def default_routing(path: str | None = None) -> Routing:
    """The routing fitted on :data:`FIT_YEARS` of the shipped bulletin (once per process)."""
    return fit_routing(load_daily(path))
