"""The 1D channel model: steady standard-step profiles and unsteady Preissmann runs over the
:class:`~floodtwin.hydraulics.sections.Sections` of a reach, and their downstream boundaries.

``steady_profile`` and ``simulate_1d`` return CF-annotated ``xarray.Dataset``s over ``chainage``
(m, the reach's dike chainage) and ``time`` (s since the start of the run). The sections and their
readers are in :mod:`floodtwin.hydraulics.sections` (split out of this file by issue 13).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from floodtwin.errors import InputError
from floodtwin.hydraulics import kernels1d as k1
from floodtwin.hydraulics._codes import DOWN_NORMAL, DOWN_RATING, DOWN_STAGE, G_MS2
from floodtwin._renamed import renamed
from floodtwin.hydraulics.sanity import check_1d_run, check_stages
from floodtwin.hydraulics.sections import Sections

__all__ = [
    "NormalDepth", "RatingCurve", "channel_volume_m3", "rating_at", "simulate_1d", "steady_profile", "steady_stage",
    "steady_state",
]



@dataclass(frozen=True)
class RatingCurve:
    """A stage–discharge relation (m³/s → m), linear between points; stage must rise with discharge."""

    discharge_m3s: Sequence[float]
    stage_m: Sequence[float]
    name: str = "rating curve"

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        q = np.asarray(self.discharge_m3s, float)
        z = np.asarray(self.stage_m, float)
        if q.ndim != 1 or q.shape != z.shape or q.size < 2:
            raise InputError(f"{self.name}: needs at least two (discharge, stage) pairs of equal length")
        if not (np.all(np.isfinite(q)) and np.all(np.isfinite(z))):
            raise InputError(f"{self.name}: discharge and stage must be finite numbers")
        bad = np.flatnonzero((np.diff(q) <= 0) | (np.diff(z) <= 0))
        if bad.size:
            k = int(bad[0]) + 1
            raise InputError(f"{self.name}: not monotonic at point {k} (Q {q[k]:g} m³/s, stage {z[k]:g} m): "
                             "discharge and stage must both rise")
        return q, z


@dataclass(frozen=True)
class NormalDepth:
    """Downstream boundary at normal depth for an energy slope (m/m); None = bed slope of the last reach."""

    slope: float | None = None


# --------------------------------------------------------------------------------------------
# boundaries
# --------------------------------------------------------------------------------------------
def _downstream(sections: Sections, downstream) -> tuple[int, float, RatingCurve | None, float]:
    """(kind, stage m, rating, slope) of a downstream boundary spec: a stage (float), a RatingCurve,
    a NormalDepth, or the string "normal" (normal depth on the bed slope of the last reach)."""
    if isinstance(downstream, str) and downstream == "normal":
        downstream = NormalDepth()
    if isinstance(downstream, NormalDepth):
        slope = downstream.slope if downstream.slope is not None else sections.bed_slope()
        if not slope > 0:
            raise InputError(f"downstream normal depth: slope {slope:g} must be positive (the last reach's bed "
                             "does not fall; give NormalDepth(slope=...))")
        return DOWN_NORMAL, np.nan, None, float(slope)
    if isinstance(downstream, RatingCurve):
        try:
            downstream.arrays()
        except InputError as exc:
            raise InputError(f"downstream boundary at section {sections.section_id[-1]}: {exc}") from None
        return DOWN_RATING, np.nan, downstream, 0.0
    if isinstance(downstream, (int, float)) and not isinstance(downstream, bool):
        if not np.isfinite(downstream):
            raise InputError(f"downstream stage {downstream} must be a finite number (m)")
        return DOWN_STAGE, float(downstream), None, 0.0
    raise InputError(f"downstream boundary {downstream!r}: expected a stage (m), 'normal', NormalDepth(slope) "
                     "or RatingCurve")


def _stage_down(sections: Sections, kind: int, stage: float, rating: RatingCurve | None, slope: float,
                discharge_m3s: float) -> float:
    if kind == DOWN_STAGE:
        return stage
    if kind == DOWN_RATING:
        q, z = rating.arrays()
        return float(k1.interp_rating(q, z, float(discharge_m3s))[0])
    return sections.normal_stage_m(sections.n_sections - 1, discharge_m3s, slope)


# --------------------------------------------------------------------------------------------
# steady profile
# --------------------------------------------------------------------------------------------
def steady_stage(sections: Sections, discharge_m3s: float, downstream="normal") -> tuple[np.ndarray, np.ndarray]:
    """Standard-step stage (m) per section for a discharge (m³/s), and the flags of sections where
    the flow is not subcritical (stage set to critical)."""
    # the engine's own check, not errors.require_discharge_m3s: its 100,000 m³/s cap is for river inputs,
    # and the verification runs synthetic channels 100 km wide (Bresse M1: 500,000 m³/s)
    q = float(discharge_m3s)
    if not (np.isfinite(q) and q > 0):
        raise InputError(f"discharge {discharge_m3s} m³/s must be a positive number")
    kind, stage, rating, slope = _downstream(sections, downstream)
    t, z0, dz = sections.tables
    zd = _stage_down(sections, kind, stage, rating, slope, q)
    if zd <= z0[-1]:
        raise InputError(f"downstream stage {zd:.3f} m is at or below the bed of section {sections.section_id[-1]} "
                         f"({z0[-1]:.3f} m)")
    out = np.empty(sections.n_sections)
    crit = np.zeros(sections.n_sections, dtype=np.bool_)
    k1.standard_step(t, z0, dz, sections.dx_m, np.full(sections.n_sections, q), out, crit, stage_down_m=zd)
    return out, crit


def steady_profile(sections: Sections, discharge_m3s: float, downstream="normal"):
    """Steady, subcritical water-surface profile for a discharge (m³/s) by the standard-step method.

    ``downstream``: a stage (m), ``"normal"`` / ``NormalDepth(slope)`` or a ``RatingCurve``. Returns
    an ``xarray.Dataset`` over ``chainage`` (m) with stage (m), velocity (m/s), area (m²), top width
    (m), Froude number, freeboard to the left/right dike crests (m) and a ``critical`` flag.
    """
    import xarray as xr

    from floodtwin.variables import annotate

    stage, crit = steady_stage(sections, discharge_m3s, downstream)
    check_stages(sections, stage, what=f"steady profile at {float(discharge_m3s):,.0f} m³/s")
    props = [sections.properties(i, z) for i, z in enumerate(stage)]
    area = np.array([p["area_m2"] for p in props])
    width = np.array([p["top_width_m"] for p in props])
    alpha = np.array([p["alpha"] for p in props])
    q = float(discharge_m3s)
    ds = xr.Dataset(
        {"stage": ("chainage", stage), "velocity": ("chainage", q / area), "area": ("chainage", area),
         "top_width": ("chainage", width), "froude": ("chainage", np.sqrt(alpha * q * q * width / (G_MS2 * area ** 3))),
         "bed": ("chainage", sections.thalweg_m), "critical": ("chainage", crit),
         "freeboard_left": ("chainage", sections.crest_left_m - stage),
         "freeboard_right": ("chainage", sections.crest_right_m - stage)},
        coords={"chainage": sections.chainage_m, "section_id": ("chainage", np.array(sections.section_id))},
        attrs={"discharge_m3s": q, "method": "standard step (average conveyance)"},
    )
    ds["freeboard_left"].attrs = {"long_name": "left dike crest minus water level", "units": "m"}
    ds["freeboard_right"].attrs = {"long_name": "right dike crest minus water level", "units": "m"}
    return annotate(ds)


# --------------------------------------------------------------------------------------------
# unsteady
# --------------------------------------------------------------------------------------------
def _series_at(name: str, spec, t_s: np.ndarray) -> np.ndarray:
    """A time series evaluated at ``t_s``: a number (constant), a callable f(t_s), or (times_s, values)."""
    if callable(spec):
        values = np.asarray([spec(float(t)) for t in t_s], float)
    elif np.ndim(spec) == 0:
        values = np.full(t_s.size, float(spec))
    else:
        try:
            times, vals = (np.asarray(a, float) for a in spec)
        except (TypeError, ValueError):
            raise InputError(f"{name}: expected a number, a function of time or (times_s, values)") from None
        if times.ndim != 1 or times.shape != vals.shape or times.size < 2 or np.any(np.diff(times) <= 0):
            raise InputError(f"{name}: times must rise and match the values, at least two points")
        if times[0] > t_s[0] or times[-1] < t_s[-1]:
            raise InputError(f"{name}: series covers {times[0]:g}–{times[-1]:g} s, the run needs "
                             f"{t_s[0]:g}–{t_s[-1]:g} s")
        values = np.interp(t_s, times, vals)
    if not np.all(np.isfinite(values)):
        raise InputError(f"{name}: values must be finite")
    return values


@renamed(inflow="inflow_m3s")
def simulate_1d(sections: Sections, inflow_m3s, duration_s: float, *, dt_s: float = 60.0, downstream="normal",
                output_interval_s: float = 3600.0, theta: float = 0.6, initial_discharge_m3s: float | None = None,
                tol_m: float = 1e-9, max_iter: int = 30, check: bool = True):
    """Unsteady run of the Preissmann scheme: upstream discharge hydrograph, downstream boundary.

    ``inflow_m3s``: m³/s as a number, a function of t (s) or (times_s, discharge). ``downstream``: a
    stage (m, or a stage series like the inflow wrapped as ``("stage", series)``), ``"normal"``,
    ``NormalDepth(slope)`` or a ``RatingCurve``. The run starts from the steady state of the same
    discrete equations for ``initial_discharge_m3s`` (default: the inflow at t = 0). Returns a
    Dataset with stage(time, chainage), discharge(time, chainage), max_stage and time_of_max_stage
    per section, and attributes recording the volume balance (m³).

    The result passes :func:`floodtwin.hydraulics.sanity.check_1d_run` (converged, finite, within
    the section tables, volume balanced) or a ModelError says why it is not an answer; ``check=False``
    returns it unchecked, for studying a failure (``failed_steps`` says how many steps did not converge).
    """
    import xarray as xr

    from floodtwin.variables import annotate

    if not (duration_s > 0 and dt_s > 0):
        raise InputError(f"duration_s ({duration_s}) and dt_s ({dt_s}) must be positive")
    if not 0.5 <= theta <= 1.0:
        raise InputError(f"theta = {theta}: the Preissmann scheme is stable for 0.5 <= theta <= 1")
    n_steps = int(round(duration_s / dt_s))
    out_every = int(round(output_interval_s / dt_s))
    if out_every < 1 or abs(out_every * dt_s - output_interval_s) > 1e-6 * output_interval_s:
        raise InputError(f"output_interval_s {output_interval_s} must be a multiple of dt_s {dt_s}")
    t_s = np.arange(n_steps + 1) * dt_s
    q_in = _series_at("inflow_m3s", inflow_m3s, t_s)
    if np.any(q_in <= 0):  # the engine's own check, no 100,000 m³/s cap (see steady_stage)
        raise InputError("inflow_m3s: discharge must stay positive (the model has no dry channel)")
    stage_series = None
    if isinstance(downstream, tuple) and len(downstream) == 2 and downstream[0] == "stage":
        stage_series = _series_at("downstream stage", downstream[1], t_s)
        kind, stage, rating, slope = DOWN_STAGE, float(stage_series[0]), None, 0.0
    else:
        kind, stage, rating, slope = _downstream(sections, downstream)
    bc = stage_series if stage_series is not None else np.full(t_s.size, stage if kind == DOWN_STAGE else 0.0)
    rq, rz = rating.arrays() if rating is not None else (np.zeros(2), np.array([0.0, 1.0]))
    q0 = float(q_in[0] if initial_discharge_m3s is None else initial_discharge_m3s)
    z_init = steady_state(sections, q0, downstream if stage_series is None else float(bc[0]))
    tables, z0, dz = sections.tables
    n = sections.n_sections
    n_out = n_steps // out_every + 1
    out_z = np.empty((n_out, n))
    out_q = np.empty((n_out, n))
    zmax = np.empty(n)
    tmax = np.empty(n)
    vol = np.zeros(1)
    z_end = np.empty(n)
    q_end = np.empty(n)
    failed = k1.run_preissmann(tables, z0, dz, sections.dx_m, z_init, np.full(n, q0), q_in, bc, rq, rz, out_z, out_q,
                               zmax, tmax, vol, z_end, q_end, np.zeros(n - 1), bc_kind=kind, bc_slope=slope,
                               dt_s=float(dt_s), theta=float(theta), tol_m=float(tol_m), max_iter=int(max_iter),
                               out_every=out_every, t0_s=0.0)
    ds = xr.Dataset(
        {"stage": (("time", "chainage"), out_z), "discharge": (("time", "chainage"), out_q),
         "max_stage": ("chainage", zmax), "time_of_max_stage": ("chainage", tmax),
         "bed": ("chainage", sections.thalweg_m),
         "crest_left": ("chainage", sections.crest_left_m), "crest_right": ("chainage", sections.crest_right_m)},
        coords={"time": np.arange(n_out) * out_every * float(dt_s), "chainage": sections.chainage_m,
                "section_id": ("chainage", np.array(sections.section_id))},
        attrs={"method": "Preissmann four-point implicit, Newton, block double sweep", "theta": float(theta),
               "dt_s": float(dt_s), "boundary_volume_m3": float(vol[0]), "failed_steps": int(failed),
               "volume_start_m3": channel_volume_m3(sections, out_z[0]),
               "volume_end_m3": channel_volume_m3(sections, z_end)},
    )
    ds["crest_left"].attrs = {"long_name": "left dike crest elevation", "units": "m"}
    ds["crest_right"].attrs = {"long_name": "right dike crest elevation", "units": "m"}
    if check:
        check_1d_run(ds, sections)
    return annotate(ds)


def channel_volume_m3(sections: Sections, stage_m: np.ndarray) -> float:
    """Water volume (m³) in the reach for a stage per section, as the Preissmann scheme counts it:
    trapezoidal rule of the section areas over the reach lengths."""
    tables, z0, dz = sections.tables
    area = np.array([k1.lookup_smooth(tables, z0, dz, i, float(z), k1.T_AREA, k1.T_DAREA)[0] for i, z in enumerate(stage_m)])
    return float(np.sum(0.5 * (area[:-1] + area[1:]) * sections.dx_m))


def steady_state(sections: Sections, discharge_m3s: float, downstream="normal") -> np.ndarray:
    """Stage (m) per section of the steady state of the Preissmann equations for a discharge (m³/s):
    the state a run with constant inflow keeps; the standard-step profile is its first guess."""
    guess, _ = steady_stage(sections, discharge_m3s, downstream)
    kind, stage, rating, slope = _downstream(sections, downstream)
    zd = _stage_down(sections, kind, stage, rating, slope, float(discharge_m3s))
    tables, z0, dz = sections.tables
    out = np.empty(sections.n_sections)
    k1.preissmann_steady(tables, z0, dz, sections.dx_m, guess, out, discharge_m3s=float(discharge_m3s), stage_down_m=zd,
                         tol_m=1e-11)
    return out


def rating_at(sections: Sections, chainage_m: float, discharge_m3s: Sequence[float], downstream="normal") -> np.ndarray:
    """Steady stage (m) at the section nearest ``chainage_m`` for each discharge (m³/s)."""
    i = sections.index_at(chainage_m)
    return np.array([steady_stage(sections, q, downstream)[0][i] for q in discharge_m3s])
