"""Unit tests of the 1D channel kernels' building blocks (floodtwin.hydraulics.kernels1d): table
look-ups against numpy and scipy on known tables, and the mass balance of one Preissmann step."""

from __future__ import annotations

import numpy as np
import pytest

from floodtwin.hydraulics import kernels1d as k1
from floodtwin.hydraulics._codes import DOWN_NORMAL
from floodtwin.hydraulics.channel import channel_volume_m3, steady_state
from test_channel import _trapezoid  # the prismatic channel of the channel tests (tests/unit on sys.path)

#: float64 rounding of a few operations on values of order 1..1e3 (a handful of ulp, 2.2e-16 each)
ROUNDING_REL = 1e-13


def _table(values: np.ndarray, dz: float, z0: float = 10.0):
    """A one-section table whose column T_AREA holds ``values`` at stages z0 + k·dz, with PCHIP
    node slopes in T_DAREA."""
    tables = np.zeros((1, values.size, k1.N_TABLE))
    tables[0, :, k1.T_AREA] = values
    k1.pchip_slopes(tables, np.array([dz]), k1.T_AREA, k1.T_DAREA)
    return tables, np.array([z0]), np.array([dz])


def test_lookup_matches_numpy_interp_inside_and_extrapolates_above():
    rng = np.random.default_rng(3)
    values = np.cumsum(rng.uniform(0.0, 5.0, 41))
    tables, z0, dz = _table(values, 0.25)
    levels = z0[0] + dz[0] * np.arange(values.size)
    for z in rng.uniform(levels[0], levels[-1], 200):
        v, d = k1.lookup(tables, z0, dz, 0, z, k1.T_AREA)
        assert v == pytest.approx(np.interp(z, levels, values), rel=ROUNDING_REL), \
            "linear look-up = np.interp inside the table (tolerance: float64 rounding)"
        k = min(int((z - levels[0]) / dz[0]), values.size - 2)
        assert d == pytest.approx((values[k + 1] - values[k]) / dz[0], rel=ROUNDING_REL), \
            "its derivative is the interval's slope (tolerance: float64 rounding)"
    # above the table: the last interval's straight line; below: clamped to the first interval
    top = levels[-1] + 2.0
    slope = (values[-1] - values[-2]) / dz[0]
    assert k1.lookup(tables, z0, dz, 0, top, k1.T_AREA)[0] == pytest.approx(values[-1] + 2.0 * slope, rel=ROUNDING_REL), \
        "linear extrapolation above the table (tolerance: float64 rounding)"


def test_hermite_lookup_is_exact_on_a_linear_table_and_pchip_on_a_curved_one():
    from scipy.interpolate import PchipInterpolator

    dz = 0.5
    levels = 10.0 + dz * np.arange(30)
    # a straight line: PCHIP slopes equal the line's, and the cubic Hermite reproduces it
    tables, z0, dz_a = _table(3.0 * (levels - 10.0) + 7.0, dz)
    for z in (10.0, 10.3, 17.77, 24.5):
        v, d = k1.lookup_smooth(tables, z0, dz_a, 0, z, k1.T_AREA, k1.T_DAREA)
        assert v == pytest.approx(3.0 * (z - 10.0) + 7.0, rel=ROUNDING_REL), "Hermite of a line is the line (rounding)"
        assert d == pytest.approx(3.0, rel=ROUNDING_REL), "and its slope (rounding)"
    # a convex area curve (a trapezoid: A = h(b + s h)): the interior node slopes are scipy's PCHIP
    h = levels - 10.0
    area = h * (40.0 + 2.0 * h)
    tables, z0, dz_a = _table(area, dz)
    ref = PchipInterpolator(levels, area)
    slopes = tables[0, 1:-1, k1.T_DAREA]
    np.testing.assert_allclose(slopes, ref.derivative()(levels[1:-1]), rtol=ROUNDING_REL,
                               err_msg="interior Fritsch-Carlson slopes = scipy's PCHIP (same harmonic mean; rounding)")
    z = 13.37
    v, _ = k1.lookup_smooth(tables, z0, dz_a, 0, z, k1.T_AREA, k1.T_DAREA)
    assert abs(v - ref(z)) < 1e-9 * area.max(), "away from the ends the Hermite value is scipy's PCHIP (rounding)"
    # a flat stretch stays flat (no overshoot): monotone data, monotone interpolant
    step = np.where(levels < 15.0, 0.0, 10.0)
    tables, z0, dz_a = _table(step, dz)
    vals = [k1.lookup_smooth(tables, z0, dz_a, 0, z, k1.T_AREA, k1.T_DAREA)[0] for z in np.linspace(10.0, 24.0, 300)]
    # (tolerance: the Hermite basis sums to 1 only up to rounding, ~1 ulp of 10)
    assert min(vals) >= 0.0 and max(vals) <= 10.0 * (1 + ROUNDING_REL), "PCHIP does not overshoot (rounding)"
    assert np.all(np.diff(vals) >= -10.0 * ROUNDING_REL), "monotone data, monotone interpolant (rounding)"


def test_one_preissmann_step_balances_mass():
    """Storage change of one step = the boundary discharges integrated with the scheme's θ weights
    (continuity telescopes over the reaches): what the kernel conserves exactly up to Newton's tolerance."""
    sec = _trapezoid(n_sec=9)
    tables, z0, dz = sec.tables
    n = sec.n_sections
    q_old, q_up_new, dt, theta, tol = 120.0, 260.0, 300.0, 0.6, 1e-10
    z_old = steady_state(sec, q_old, "normal")
    q_old_a = np.full(n, q_old)
    z_new, q_new = z_old.copy(), q_old_a.copy()
    iters = k1.preissmann_step(tables, z0, dz, sec.dx_m, z_old, q_old_a, np.zeros(2), np.array([0.0, 1.0]), z_new,
                               q_new, np.zeros(n - 1), q_up_old=q_old, q_up_new=q_up_new, bc_kind=DOWN_NORMAL,
                               bc_old=0.0, bc_new=0.0, bc_slope=sec.bed_slope(), dt_s=dt, theta=theta, tol_m=tol,
                               max_iter=30)
    assert iters > 0, "Newton converged"
    assert q_new[0] == q_up_new, "the upstream boundary imposes the inflow"
    storage = channel_volume_m3(sec, z_new) - channel_volume_m3(sec, z_old)
    through = dt * (theta * (q_new[0] - q_new[-1]) + (1 - theta) * (q_old_a[0] - q_old_a[-1]))
    assert through > 1e4, "the step stores water (the check is not vacuous)"
    # Newton stops with stage corrections below tol: a residual of tol × the plan area wetted (~1e-5 m³)
    plan_area = float(np.sum(sec.dx_m) * 70.0)  # 70 m: the trapezoid's top width
    assert storage == pytest.approx(through, abs=10 * tol * plan_area), \
        "storage change = boundary inflow minus outflow (tolerance: Newton's stage tolerance × plan area)"


def test_standard_step_reaches_normal_depth_on_a_uniform_channel():
    """On a prismatic channel at normal depth downstream, the standard step keeps normal depth: the
    energy slope equals the bed slope everywhere."""
    sec = _trapezoid(n_sec=9)
    q = 150.0
    n_sec = sec.n_sections - 1
    zn = sec.normal_stage_m(n_sec, q, sec.bed_slope())
    tables, z0, dz = sec.tables
    out = np.empty(sec.n_sections)
    crit = np.zeros(sec.n_sections, dtype=np.bool_)
    k1.standard_step(tables, z0, dz, sec.dx_m, np.full(sec.n_sections, q), out, crit, stage_down_m=zn)
    depth = out - sec.thalweg_m
    assert not crit.any(), "subcritical flow: no section falls back to critical depth"
    # the tables are sampled every dz (~1.7 cm): interpolation error of the conveyance << 1 mm of depth
    np.testing.assert_allclose(depth, depth[n_sec], atol=2e-3,
                               err_msg="uniform depth along a uniform channel (tolerance: table interpolation, 2 mm)")
