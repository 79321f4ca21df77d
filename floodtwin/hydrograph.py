"""Inflow series: design hydrographs scaled to a peak.

A design flood is a single-peaked wave ``Q(t) = Qb + (Qp - Qb) * [(t/tp) exp(1 - t/tp)]^m`` (a
gamma-type unit shape). Its sharpness ``m`` is fitted so that a reference flood keeps its published
duration above a threshold (the 1958 flood: 22,300 m³/s at the peak, above 10,000 m³/s for 79 h),
and the same shape is then scaled to the peak a duty officer asks about.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from floodtwin.config import DATA_DIR, StrictModel, load_yaml
from floodtwin.errors import InputError, require_discharge_m3s
from floodtwin.reach.params import Param

__all__ = ["Hydrograph", "HydrographSpec", "ScenarioSpec", "default_scenario_path", "design_hydrograph",
           "fit_shape_exponent", "gamma_shape", "hours_above", "load_scenario_spec"]


class HydrographSpec(StrictModel):
    base_discharge_m3s: Param
    time_to_peak_h: Param
    duration_h: Param
    reference_peak_m3s: Param
    reference_threshold_m3s: Param
    reference_hours_above: Param


class ScenarioSpec(StrictModel):
    name: str
    hydrograph: HydrographSpec


def default_scenario_path() -> Path:
    return DATA_DIR.parent / "scenarios" / "design.yaml"


def load_scenario_spec(path: str | Path | None = None) -> ScenarioSpec:
    """Read a scenario YAML (default scenarios/design.yaml); ConfigError names file, line and key."""
    return load_yaml(Path(path) if path is not None else default_scenario_path(), ScenarioSpec)


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


@dataclass(frozen=True)
class Hydrograph:
    """Discharge (m³/s) at times (s) from the start of the run."""

    times_s: np.ndarray
    discharge_m3s: np.ndarray

    @property
    def peak_m3s(self) -> float:
        return float(self.discharge_m3s.max())

    @property
    def time_of_peak_s(self) -> float:
        return float(self.times_s[int(np.argmax(self.discharge_m3s))])


def design_hydrograph(peak_m3s: float, spec: HydrographSpec | None = None, *, step_s: float = 600.0) -> Hydrograph:
    """The design wave scaled to ``peak_m3s`` (the base flow is capped below the peak)."""
    peak_m3s = require_discharge_m3s(peak_m3s, name="peak discharge", positive=True)
    spec = spec if spec is not None else load_scenario_spec().hydrograph
    m = fit_shape_exponent(spec)
    qb = min(float(spec.base_discharge_m3s.value), 0.5 * peak_m3s)
    tp = float(spec.time_to_peak_h.value)
    t_s = np.arange(0.0, float(spec.duration_h.value) * 3600.0 + step_s / 2, step_s)
    q = qb + (peak_m3s - qb) * gamma_shape(t_s / 3600.0, tp, m)
    return Hydrograph(t_s, q)
