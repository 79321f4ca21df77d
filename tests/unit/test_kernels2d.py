"""Unit tests of the 2D kernels' building blocks (floodtwin.hydraulics.kernels2d): the HLLC flux,
the hydrostatic reconstruction of a face, the semi-implicit Manning friction of the row update, the
inverse cube root, and the row/window helpers of the orchestration."""

from __future__ import annotations

import numpy as np
import pytest

from floodtwin.hydraulics._codes import BC_WALL, G_MS2
from floodtwin.hydraulics.kernels2d import add_point_sources, block_windows, edge_flux, grow_wet_extent, row_sums
from floodtwin.hydraulics.kernels2d.friction import inv_cbrt
from floodtwin.hydraulics.kernels2d.godunov import _faces_line, _godunov_update_row, _hllc_select

#: float64 rounding of a few operations on values of order 1..1e2 (a handful of ulp, 2.2e-16 each)
ROUNDING_REL = 1e-13


def test_hllc_flux_of_a_lake_at_rest_is_pressure_only():
    for h in (0.01, 1.0, 7.5):
        fh, fm, vt = _hllc_select(h, 0.0, 0.0, h, 0.0, 0.0, G_MS2)
        assert fh == 0.0, "no mass flux between two states at rest"
        assert fm == pytest.approx(0.5 * G_MS2 * h * h, rel=ROUNDING_REL), \
            "the momentum flux is the hydrostatic pressure g h²/2 (tolerance: rounding of the HLL average)"
    assert _hllc_select(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, G_MS2)[:2] == (0.0, 0.0), "two dry cells exchange nothing"


def test_hllc_flux_is_mirror_symmetric():
    """Swapping the two states and reversing the normal velocity reverses the mass flux and keeps
    the normal momentum flux (the scheme has no preferred direction)."""
    rng = np.random.default_rng(11)
    for _ in range(200):
        hl, hr = rng.uniform(0.0, 3.0, 2) * (rng.uniform(size=2) > 0.1)
        ul, ur, vl, vr = rng.uniform(-3.0, 3.0, 4)
        fh, fm, vt = _hllc_select(hl, ul, vl, hr, ur, vr, G_MS2)
        gh, gm, wt = _hllc_select(hr, -ur, vr, hl, -ul, vl, G_MS2)
        scale = 1.0 + abs(fm) + abs(fh)
        assert abs(fh + gh) <= ROUNDING_REL * 10 * scale, "mass flux reverses (tolerance: rounding of the HLLC sums)"
        assert abs(fm - gm) <= ROUNDING_REL * 10 * scale, "momentum flux is kept (tolerance: rounding)"
        if fh != 0.0:
            assert vt == wt, "the upwind tangential velocity is the same cell's"


def test_wall_edge_carries_no_mass_and_reflects_the_pressure():
    for h, un in ((1.0, 0.0), (2.0, 0.7), (0.5, -1.2)):
        fh, fm, ft = edge_flux(BC_WALL, 0.0, h, un, 0.3, 0.0, G_MS2, 0.0)
        assert fh == 0.0 and ft == 0.0, "a wall passes no mass and no tangential momentum"
        if un == 0.0:
            assert fm == pytest.approx(0.5 * G_MS2 * h * h, rel=ROUNDING_REL), "at rest: hydrostatic pressure (rounding)"
        else:
            # a flow into the wall (un > 0) raises the pressure there, one away from it lowers it
            assert (fm > 0.5 * G_MS2 * h * h) == (un > 0), "the mirror-state Riemann problem of a wall"


def _one_face(h_l, z_l, h_r, z_r, u_l=0.0, u_r=0.0):
    a = lambda v: np.array([float(v)])  # noqa: E731
    s = np.zeros((8, 1))
    out = np.full((4, 1), np.nan)
    _faces_line(a(h_l), a(u_l), a(0.0), a(z_l), s, a(h_r), a(u_r), a(0.0), a(z_r), s, 0, 0, 1, 0, G_MS2, 1e30, out)
    return out[:, 0]


def test_hydrostatic_reconstruction_keeps_a_lake_at_rest_over_a_step():
    """Audusse et al. (2004): a flat water surface over a bed step gives no mass flux, and each
    side's momentum flux is its own hydrostatic pressure, which the bed source balances."""
    fh, fm_l, fm_r, ft = _one_face(2.0, 0.0, 1.5, 0.5)
    assert fh == 0.0, "no mass flux across a step under a flat surface"
    assert fm_l == pytest.approx(0.5 * G_MS2 * 2.0 ** 2, rel=ROUNDING_REL), "left cell: its own pressure (rounding)"
    assert fm_r == pytest.approx(0.5 * G_MS2 * 1.5 ** 2, rel=ROUNDING_REL), "right cell: its own pressure (rounding)"
    assert ft == 0.0


def test_hydrostatic_reconstruction_keeps_depth_non_negative_at_a_dry_bank():
    """Water below a dry bank does not climb it: the reconstructed face depths are clipped at zero,
    so the face is a wall for the water side (pressure only) and nothing enters the bank cell."""
    fh, fm_l, fm_r, ft = _one_face(0.1, 0.0, 0.0, 1.0, u_l=2.0)
    assert fh == 0.0, "no mass onto a bank higher than the water, even flowing towards it"
    assert fm_l == pytest.approx(0.5 * G_MS2 * 0.1 ** 2, rel=ROUNDING_REL), "the water side sees a wall (rounding)"
    assert fm_r == 0.0, "the dry bank gets no pressure"
    # a bank lower than the water surface is overtopped: water flows, and never more than the cell holds
    fh2, *_ = _one_face(1.0, 0.0, 0.0, 0.5)
    assert fh2 > 0.0, "water above the bank flows onto it"


def test_semi_implicit_manning_friction_of_the_row_update():
    """With no flux divergence, the update only applies friction: q / (1 + dt·g·n²·|q| / h^(7/3))."""
    nx = 6
    h = np.array([0.05, 0.3, 1.0, 2.5, 4.0, 0.0])
    qx = np.array([0.01, 0.2, 1.5, -3.0, 2.0, 0.0])
    qy = np.array([0.0, -0.1, 0.5, 1.0, -2.5, 0.0])
    n = np.array([0.03, 0.05, 0.03, 0.02, 0.1, 0.03])
    z = np.zeros(nx)
    outs = [np.empty(nx) for _ in range(5)]
    dt = 2.0
    _godunov_update_row(h, qx, qy, z, n * n, h, qx, qy, np.zeros((4, nx + 1)), np.zeros((4, nx)),
                        np.zeros((4, nx)), np.zeros((8, nx)), np.zeros((8, nx)), *outs, dt, dt / 5.0, G_MS2, 0.0,
                        1.0, 1e-6)
    damp = 1.0 / (1.0 + dt * G_MS2 * n * n * np.hypot(qx, qy) / np.where(h > 0, h, 1.0) ** (7.0 / 3.0))
    wet = h > 1e-6
    np.testing.assert_array_equal(outs[0], h, err_msg="no flux: the depth is unchanged")
    np.testing.assert_allclose(outs[1], np.where(wet, qx * damp, 0.0), rtol=ROUNDING_REL,
                               err_msg="x discharge damped by the implicit Manning factor (rounding; h^-7/3 by inv_cbrt)")
    np.testing.assert_allclose(outs[2], np.where(wet, qy * damp, 0.0), rtol=ROUNDING_REL,
                               err_msg="y discharge likewise (rounding)")
    assert np.all(np.abs(outs[1]) <= np.abs(qx)), "friction never accelerates"
    assert outs[1][-1] == 0.0 and outs[3][-1] == 0.0, "a dry cell carries no discharge and no velocity"


def test_inverse_cube_root_to_machine_precision():
    x = np.concatenate([np.geomspace(1e-12, 1e6, 2001), [1.0, 8.0, 27.0, 0.125]])
    got = np.array([inv_cbrt(v) for v in x])
    ref = 1.0 / np.cbrt(x)
    # friction.inv_cbrt's docstring: "to machine precision" — four Newton steps: within 4 ulp
    np.testing.assert_allclose(got, ref, rtol=4 * np.finfo(float).eps,
                               err_msg="x^(-1/3) within 4 ulp (the docstring's machine precision)")


def test_wet_extent_only_grows_and_windows_cover_it_with_a_margin():
    ext_lo = np.array([10, 3, 20, 0], dtype=np.int64)
    ext_hi = np.array([12, 3, 25, 0], dtype=np.int64)  # row 1 and 3: never wet (empty extent)
    grow_wet_extent(np.array([8, 40, 22, 40]), np.array([11, 0, 30, 0]), ext_lo, ext_hi)
    assert ext_lo.tolist() == [8, 3, 20, 0] and ext_hi.tolist() == [12, 3, 30, 0], \
        "an extent widens to the new wet columns and never shrinks; a dry row keeps its empty extent"
    # 8 rows in blocks of 4, margin 1: block 0 looks at rows 0-4, block 1 at rows 3-7
    nx = 40
    ext_lo = np.full(8, nx, dtype=np.int64)
    ext_hi = np.zeros(8, dtype=np.int64)
    ext_lo[0], ext_hi[0] = 8, 12
    ext_lo[5], ext_hi[5] = 35, 40
    lo = np.empty(2, dtype=np.int64)
    hi = np.empty(2, dtype=np.int64)
    block_windows(ext_lo, ext_hi, nx, 4, 1, lo, hi)
    assert (lo[0], hi[0]) == (7, 13), "block 0: row 0's extent widened by the margin"
    assert (lo[1], hi[1]) == (34, 40), "block 1: row 5's extent widened by the margin, clipped to the grid"
    ext_lo[4], ext_hi[4] = 0, 2  # row 4 is within the margin of both blocks
    block_windows(ext_lo, ext_hi, nx, 4, 1, lo, hi)
    assert (lo[0], hi[0]) == (0, 13) and (lo[1], hi[1]) == (0, 40), "a row in the margin counts for both blocks"
    block_windows(np.full(8, nx, dtype=np.int64), np.zeros(8, dtype=np.int64), nx, 4, 1, lo, hi)
    assert lo.tolist() == [0, 0] and hi.tolist() == [0, 0], "no water near: empty windows"


def test_point_sources_add_volume_and_a_withdrawal_takes_at_most_the_water():
    h = np.array([[0.0, 0.5], [1.0, 0.0]])
    added = np.empty(3)
    add_point_sources(h, np.array([0, 1, 0]), np.array([0, 0, 1]), np.array([200.0, -1e6, -50.0]), 10.0, added)
    assert h.tolist() == [[2.0, 0.0], [0.0, 0.0]], "100 m² cells: +2 m, emptied, emptied"
    assert added.tolist() == [200.0, -100.0, -50.0], "the volume actually moved"


def test_row_sums_skip_cells_outside_the_domain():
    a = np.array([[1.0, np.nan, 2.0], [np.nan, np.nan, np.nan], [0.5, 0.25, 0.125]])
    out = np.empty(3)
    row_sums(a, out)
    np.testing.assert_array_equal(out, np.nansum(a, axis=1), err_msg="NaN (outside) cells are skipped")


def test_row_windows_are_block_windows_of_one_row_and_empty_is_nx_to_0():
    from floodtwin.hydraulics.kernels2d.rows import row_windows

    nx = 40
    ext_lo = np.full(8, nx, dtype=np.int64)
    ext_hi = np.zeros(8, dtype=np.int64)
    ext_lo[0], ext_hi[0] = 8, 12
    ext_lo[5], ext_hi[5] = 35, 40
    lo = np.empty(8, dtype=np.int64)
    hi = np.empty(8, dtype=np.int64)
    row_windows(ext_lo, ext_hi, nx, 1, lo, hi)
    assert [(a, b) for a, b in zip(lo, hi)] == [(7, 13), (7, 13), (nx, 0), (nx, 0), (34, 40), (34, 40), (34, 40),
                                                 (nx, 0)], "rows 0-1 see row 0, rows 4-6 see row 5 (margin 1)"
    blo = np.empty(8, dtype=np.int64)
    bhi = np.empty(8, dtype=np.int64)
    block_windows(ext_lo, ext_hi, nx, 1, 1, blo, bhi)
    nonempty = hi > lo
    assert (blo[nonempty] == lo[nonempty]).all() and (bhi[nonempty] == hi[nonempty]).all()


def test_balance_blocks_splits_the_work_into_consecutive_parts():
    from floodtwin.hydraulics.kernels2d.rows import BLOCK_ROW_COST_CELLS, balance_blocks

    # 6 blocks of 2 rows: blocks 0-1 dry, blocks 2-5 with 100, 100, 300, 100 cells per row
    widths = np.repeat([0, 0, 100, 100, 300, 100], 2)
    lo = np.where(widths > 0, 0, 500).astype(np.int64)
    hi = widths.astype(np.int64)
    start = np.empty(3, dtype=np.int64)
    balance_blocks(lo, hi, 2, start)
    work = [2 * (w + BLOCK_ROW_COST_CELLS) if w else 0 for w in (0, 0, 100, 100, 300, 100)]
    assert start[0] == 0 and start[-1] == 6 and np.all(np.diff(start) >= 0)
    parts = [sum(work[start[p]:start[p + 1]]) for p in range(2)]
    assert start.tolist() == [0, 4, 6], f"the split at block 4 halves the work best ({parts})"
    one = np.empty(2, dtype=np.int64)
    balance_blocks(lo, hi, 2, one)
    assert one.tolist() == [0, 6], "one thread: one part of every block"
    many = np.empty(9, dtype=np.int64)  # more parts than blocks with work: some parts are empty
    balance_blocks(lo, hi, 2, many)
    assert many[0] == 0 and many[-1] == 6 and np.all(np.diff(many) >= 0)


def test_boundary_sums_split_out_and_in_and_zero_the_fluxes():
    from floodtwin.hydraulics.kernels2d.rows import boundary_sums

    bflux = np.array([[0.5, -0.25, 0.0], [0.0, 0.0, 1.0], [-2.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    assert boundary_sums(bflux) == (1.5, 2.25), "out = sum of positive fluxes, in = minus the negative ones"
    assert not bflux.any(), "zeroed for the next kernel call"


def test_hazard_search_never_misses_a_new_maximum():
    """The inertial pass rewrites a chunk only where its division-free search says the hazard rating
    may exceed the cell's maximum (kernels2d.maxima._hazard_may_rise), or the depth passes its
    maximum. Over random states around the debris-factor steps (h near 0.25 m, v near 2 m/s), with
    the stored maximum a few ulp below or above the state's own rating (the same state twice), the
    search must say "maybe" wherever hazard_rating is really above the maximum, and "no" for a dry cell."""
    from floodtwin.hydraulics.kernels2d.maxima import _hazard_may_rise, hazard_rating

    rng = np.random.default_rng(3)
    missed = 0
    for _ in range(20000):
        h = float(rng.choice([rng.uniform(0.0, 0.6), 0.25 + rng.normal(0.0, 1e-9), rng.uniform(0.0, 0.05)]))
        v = float(rng.choice([rng.uniform(0.0, 4.0), 2.0 + rng.normal(0.0, 1e-9), 0.0]))
        ang = rng.uniform(0.0, 2 * np.pi)
        qx, qy = h * v * np.cos(ang), h * v * np.sin(ang)
        s2 = (qx / h) ** 2 + (qy / h) ** 2 if h > 1e-6 else 0.0
        hr = hazard_rating(h, np.sqrt(s2), 0.05)
        mhr = hr * (1.0 + rng.choice([-1e-15, -4e-16, 0.0, 1e-15]))
        if hr > mhr and not _hazard_may_rise(h, qx * qx + qy * qy, mhr) and not (qx == 0.0 and qy == 0.0):
            missed += 1
    assert missed == 0, "the search is a superset of the cells whose rating rises (q = 0: the depth test's)"
    assert not _hazard_may_rise(0.0, 0.0, 0.0), "a dry cell never asks for its chunk to be rewritten"
