"""Physical sanity checks of the hydraulic results, and the valid discharge range of a reach model.

A result that fails one of them is not an answer: it raises :class:`~floodtwin.errors.ModelError`
with its reason, before anything (a tier, a freeboard, a task) is decided from it. The checks:

- **converged**: every time step's Newton iteration converged (``failed_steps`` 0);
- **finite**: no NaN or infinity in a stage or a discharge;
- **within the section tables**: every stage lies between the section's bed and the top of its
  property tables (above the top the tables extrapolate: a number, not a model);
- **volume balanced**: the change of the volume in the reach equals what crossed its boundaries,
  to :data:`VOLUME_BALANCE_REL` of the volume that passed (the scheme conserves it to round-off).

The valid discharge range of a 1D reach model comes from its sections: from the smallest discharge
whose steady profile is at least :data:`MIN_DEPTH_LEVELS` table levels deep in every section (below
it the channel is a film the tables do not resolve) to the largest whose steady profile stays below
the lowest dike crest of every section, or the top of the section where it has no dike (above it
water leaves the channel over the dikes, which a channel model between the dikes cannot follow:
the coupled 1D–2D model can).
"""

from __future__ import annotations

import numpy as np

from floodtwin.errors import MAX_DISCHARGE_M3S, ModelError, require_discharge_m3s

__all__ = ["MIN_DEPTH_LEVELS", "VOLUME_BALANCE_REL", "discharge_range_m3s", "require_in_range",
           "check_stages", "check_1d_run", "check_2d_fields"]

#: least depth of a valid steady profile, in levels of the section tables (a level is ~2 cm at Huayuankou)
MIN_DEPTH_LEVELS = 10
#: largest volume imbalance of a 1D run, as a share of the volume that passed through the reach
#: (the Preissmann scheme conserves volume to the Newton tolerance: measured ≤ 1e-12 of it)
VOLUME_BALANCE_REL = 1e-6


def _table_top_m(sections) -> np.ndarray:
    _, z0, dz = sections.tables
    levels = sections.tables[0].shape[1]
    return z0 + dz * (levels - 1)


def _containment_m(sections) -> np.ndarray:
    """The level each section holds water up to: its lowest dike crest, or where it has no dike the
    highest point of its cross-section (above it the section's table extrapolates glass walls)."""
    crest = np.minimum(sections.crest_left_m, sections.crest_right_m)
    top = np.array([np.max(sections.profile(i)[1]) for i in range(sections.n_sections)])
    return np.where(np.isfinite(crest), crest, top)


def _steady(sections, q: float) -> np.ndarray:
    from floodtwin.hydraulics.channel import steady_stage

    return steady_stage(sections, q)[0]


def _bisect(ok, lo: float, hi: float, rel: float = 1e-3) -> float:
    """Largest q in [lo, hi] with ok(q) (ok true at lo, false at hi), on a log scale."""
    while hi / lo > 1.0 + rel:
        mid = float(np.sqrt(lo * hi))
        lo, hi = (mid, hi) if ok(mid) else (lo, mid)
    return lo


def _range(sections) -> tuple[float, float]:
    _, z0, dz = sections.tables
    crest = _containment_m(sections)
    deep = lambda q: bool(np.all(_steady(sections, q) - z0 >= MIN_DEPTH_LEVELS * dz))  # noqa: E731
    contained = lambda q: bool(np.all(_steady(sections, q) < crest))  # noqa: E731
    lo_probe, hi_probe = 1e-2, MAX_DISCHARGE_M3S
    if not contained(lo_probe):
        raise ModelError("the reach model's sections stand above their dike crests at any flow: check the sections")
    q_max = MAX_DISCHARGE_M3S if contained(hi_probe) else _bisect(contained, lo_probe, hi_probe)
    if deep(lo_probe):
        q_min = lo_probe
    else:
        # the smallest deep-enough discharge: the complement of "largest not deep" on the same scale
        q_min = _bisect(lambda q: not deep(q), lo_probe, q_max) * (1.0 + 1e-3)
    if q_min >= q_max:
        raise ModelError(f"the reach model has no valid discharge: it is too shallow below {q_min:,.0f} m³/s and "
                         f"overtops its dikes above {q_max:,.0f} m³/s")
    return float(q_min), float(q_max)


def discharge_range_m3s(sections) -> tuple[float, float]:
    """(smallest, largest) discharge (m³/s) the 1D model of ``sections`` is valid for (see the module);
    found by bisection on steady profiles once per Sections object (about 40 profiles, ~0.1 s)."""
    cached = getattr(sections, "_discharge_range_m3s", None)
    if cached is None:
        cached = _range(sections)
        sections._discharge_range_m3s = cached
    return cached


def require_in_range(sections, discharge_m3s: float, *, name: str = "discharge") -> float:
    """``discharge_m3s`` if it lies in the model's valid range, else a ModelError naming the range."""
    q = require_discharge_m3s(discharge_m3s, name=name, positive=True)
    q_min, q_max = discharge_range_m3s(sections)
    if q < q_min:
        raise ModelError(f"{name} {q:,.3g} m³/s is below the valid range of the reach model ({q_min:,.0f}–"
                         f"{q_max:,.0f} m³/s): the channel would be shallower than its section tables resolve")
    if q > q_max:
        raise ModelError(f"{name} {q:,.0f} m³/s is above the valid range of the reach model ({q_min:,.0f}–"
                         f"{q_max:,.0f} m³/s): the water would stand above a dike crest, where the 1D channel "
                         f"model cannot follow it")
    return q


def check_stages(sections, stage_m: np.ndarray, *, what: str) -> None:
    """Stages (..., section) finite and between each section's bed and the top of its tables."""
    stage_m = np.asarray(stage_m, dtype=float)
    if not np.all(np.isfinite(stage_m)):
        bad = int(np.count_nonzero(~np.isfinite(stage_m)))
        raise ModelError(f"{what}: {bad} stage value(s) are not finite: the run diverged, no level is given")
    _, z0, _ = sections.tables
    top = _table_top_m(sections)
    over = stage_m - top
    under = z0 - stage_m
    if over.max() > 0:
        i = int(np.unravel_index(np.argmax(over), over.shape)[-1])
        raise ModelError(f"{what}: stage {stage_m.max():,.2f} m at section {sections.section_id[i]} is above the "
                         f"top of its tables ({top[i]:.2f} m): the run left the model, no level is given")
    if under.max() > 1e-6:
        i = int(np.unravel_index(np.argmax(under), under.shape)[-1])
        raise ModelError(f"{what}: stage {stage_m.min():,.2f} m at section {sections.section_id[i]} is below its "
                         f"bed ({z0[i]:.2f} m): the run left the model, no level is given")


def check_1d_run(ds, sections, *, what: str = "simulate_1d") -> None:
    """An unsteady 1D result (:func:`~floodtwin.hydraulics.channel.simulate_1d`): converged, finite,
    within the tables, volume balanced. ModelError with the reason otherwise."""
    failed = int(ds.attrs.get("failed_steps", 0))
    n_steps = int(round(float(ds["time"].values[-1]) / float(ds.attrs["dt_s"]))) if ds["time"].size else 0
    if failed:
        raise ModelError(f"{what}: Newton did not converge in {failed} of {n_steps} steps: the result is not an "
                         f"answer, no level is given (a smaller dt_s may converge)")
    check_stages(sections, ds["stage"].values, what=what)
    if not np.all(np.isfinite(ds["discharge"].values)):
        raise ModelError(f"{what}: discharges are not finite: the run diverged, no level is given")
    start, end = float(ds.attrs["volume_start_m3"]), float(ds.attrs["volume_end_m3"])
    through = abs(float(ds.attrs["boundary_volume_m3"]))
    passed = float(np.abs(ds["discharge"].isel(chainage=0)).mean()) * float(ds["time"].values[-1])
    scale = max(passed, through, start, 1.0)
    imbalance = (end - start) - float(ds.attrs["boundary_volume_m3"])
    if abs(imbalance) > VOLUME_BALANCE_REL * scale:
        raise ModelError(f"{what}: the volume is not balanced: the reach gained {end - start:,.0f} m³ but "
                         f"{float(ds.attrs['boundary_volume_m3']):,.0f} m³ crossed its ends ({imbalance:,.0f} m³ "
                         f"unaccounted, more than {VOLUME_BALANCE_REL:g} of {scale:,.0f} m³)")


def check_2d_fields(ds, *, what: str) -> None:
    """A 2D or coupled result: depths finite and not negative where the domain is, speeds finite,
    and the volume balanced (the ``mass_balance_relative_error`` attribute within
    :data:`VOLUME_BALANCE_REL`; the schemes conserve to round-off, measured < 1e-12)."""
    for name in ("depth", "max_depth", "max_speed"):
        if name not in ds:
            continue
        values = np.asarray(ds[name].values, dtype=float)
        if np.isinf(values).any():
            raise ModelError(f"{what}: {name} is infinite in {int(np.isinf(values).sum())} cell(s): the run diverged, "
                             f"no map is given")
        if name != "max_speed" and (values < 0).any():
            raise ModelError(f"{what}: {name} is negative in {int((values < 0).sum())} cell(s): no map is given")
    error = ds.attrs.get("mass_balance_relative_error")
    if error is not None and not (float(error) <= VOLUME_BALANCE_REL):  # NaN fails too
        raise ModelError(f"{what}: the volume is not balanced (relative error {float(error):.3g} > "
                         f"{VOLUME_BALANCE_REL:g}): no map is given")
