"""Running maxima of the 2D schemes: maximum depth and speed², the time of the maximum depth and the
arrival time, updated per row after a step; the flood hazard rating and the time above a depth
(Defra/EA FD2320/FD2321). Shared by both schemes.

Part of :mod:`floodtwin.hydraulics.kernels2d` (split out of ``kernels2d.py`` by issue 13).
"""

from __future__ import annotations

import numpy as np

from floodtwin.hydraulics._jit import jit, jit_inline, jit_parallel, prange

__all__ = ["HAZARD_DF_DEPTH_M", "HAZARD_DF_SPEED_MS", "TRACK_CHUNK", "hazard_field", "hazard_rating",
           "track_hazard"]

#: depth (m) above which the debris factor of the hazard rating is no longer 0 (FD2320/FD2321)
HAZARD_DF_DEPTH_M = 0.25
#: speed (m/s) above which the debris factor is 1.0 instead of 0.5 (where deeper than HAZARD_DF_DEPTH_M)
HAZARD_DF_SPEED_MS = 2.0
#: relative slack of the division-free test for a possibly new hazard maximum (kernels2d.inertial):
#: it only selects the 64-cell chunks that are recomputed with :func:`hazard_rating`, so it must
#: err on the side of "maybe" by more than the rounding of either form (float32: ~1e-7)
HAZARD_TEST_SLACK = 1e-5


@jit_inline
def _track_cell(act, hn, s2, mh, ms2, tm, ta, t_new, arrival_h, speed_h):
    """New (max depth, max speed², time of max depth, arrival time) of one cell given its new depth
    ``hn`` and speed² ``s2``. A speed counts only where the water is deeper than ``speed_h``: in a
    film u = hu/h is the ratio of two round-off-sized numbers (a 1 m dam break on a slope put 98.8
    m/s into the maximum where no snapshot deeper than 5 cm exceeded 6.8 m/s). Written as selects and stored unconditionally by the callers: a
    conditional store vectorises to a masked store, which measured 40 ns per cell on AMD Zen 4."""
    new_max = act and hn > mh
    arrived = new_max and hn > arrival_h and not (mh > arrival_h)
    faster = act and hn > speed_h and s2 > ms2
    return (hn if new_max else mh), (s2 if faster else ms2), (t_new if new_max else tm), (t_new if arrived else ta)


#: cells per chunk of the running-maxima update: a chunk with no new maximum is only read
TRACK_CHUNK = 64


@jit
def _track_row(z_row, h_row, u_row, v_row, max_h, max_s2, t_max, arrival, t_new, arrival_h, speed_h):
    """Running maxima of depth and speed², their time and the arrival time of one row. Chunk by
    chunk: a vectorised pass looks for a new maximum and only a chunk that has one is written
    (most of a flood's cells see none in a given step; writing them all would double the memory
    traffic of the maxima). The chunk loops index ``c·TRACK_CHUNK + j`` from zero: with a chunk
    start as loop bound LLVM could not prove the index non-negative and kept them scalar (4× slower)."""
    n = h_row.size
    n_full = n // TRACK_CHUNK
    for c in range(n_full + 1):
        c0 = c * TRACK_CHUNK
        m = TRACK_CHUNK if c < n_full else n - c0
        changed = 0
        for j in range(m):
            i = c0 + j
            u = u_row[i]
            v = v_row[i]
            hn = h_row[i]
            # bitwise on the comparisons: no short-circuit branch in the vectorised search
            new = (z_row[i] == z_row[i]) & ((hn > max_h[i]) | ((hn > speed_h) & (u * u + v * v > max_s2[i])))
            changed = max(changed, 1 if new else 0)
        if changed:
            for j in range(m):
                i = c0 + j
                u = u_row[i]
                v = v_row[i]
                max_h[i], max_s2[i], t_max[i], arrival[i] = _track_cell(
                    z_row[i] == z_row[i], h_row[i], u * u + v * v, max_h[i], max_s2[i], t_max[i], arrival[i],
                    t_new, arrival_h, speed_h)


@jit_inline
def hazard_rating(h, speed, speed_h):
    """Flood hazard rating HR = h·(v + 0.5) + DF (-) of water ``h`` m deep moving at ``speed`` m/s,
    after Defra/Environment Agency R&D report FD2320/TR2 (HR Wallingford et al. 2005, "Flood risk
    assessment guidance for new development") and FD2321/TR2 (HR Wallingford et al. 2006, "Flood
    risks to people, Phase 2"). Debris factor DF = 0 for h ≤ 0.25 m, 0.5 for h > 0.25 m, 1.0 where
    also v > 2 m/s (the choice of the floodtwin hazard issue). The speed counts as 0 where
    h ≤ ``speed_h`` (m): in a film the velocity is a ratio of two round-off-sized numbers (see
    :func:`_track_cell`). Written as selects (no branch), so that the callers' loops vectorise."""
    v = speed if h > speed_h else speed * 0.0
    deep = h > HAZARD_DF_DEPTH_M
    df = (1.0 if v > HAZARD_DF_SPEED_MS else 0.5) if deep else 0.0
    return h * (v + 0.5) + df


@jit_inline
def _hazard_may_rise(h, q2, mhr):
    """True if the hazard rating of water ``h`` deep with unit discharge² ``q2`` (m⁴ s⁻², so that
    h·v = |q|, no division) may exceed ``mhr``: a superset test, for the search pass of the running
    maximum, with no square root and no division. HR > mhr needs |q| > mhr − h/2 − DF, so the test
    is q2 > max(mhr(1 − s) − h/2 − DF⁺, 0)², with DF⁺ ≥ DF (the speed test loosened by s) and the
    slack s = HAZARD_TEST_SLACK covering the rounding of either form; q2 counts in films too
    (where v counts as 0: a superset), which saves a select. Where q2 = 0 (still water, and every
    dry cell: a ≥ would rewrite every chunk of every step) the rating h/2 + DF(h) rises with h
    alone, so it can pass its maximum only with the depth, which the caller's depth test catches:
    the caller's whole test stays a superset."""
    deep = h > HAZARD_DF_DEPTH_M
    fast = q2 > ((HAZARD_DF_SPEED_MS * HAZARD_DF_SPEED_MS) * (1.0 - HAZARD_TEST_SLACK)) * (h * h)
    df = (1.0 if fast else 0.5) if deep else 0.0
    rest = max(mhr * (1.0 - HAZARD_TEST_SLACK) - 0.5 * h - df, 0.0)
    return q2 > rest * rest


@jit_inline
def _above_cell(act, hn, since, closed, t_old, dur_h):
    """New (since, closed) of the time above ``dur_h`` of one cell whose depth at the end of the
    step that started at ``t_old`` (s) is ``hn``. ``since`` is the start of the step from which the
    cell has been above (NaN while it is not), ``closed`` the time (s) of its finished spells
    above; the time above is ``closed`` plus, while above, the time since ``since``: each step
    whose end depth exceeds ``dur_h`` counts in full, and a spell costs two stores, not one per step."""
    above = act and hn > dur_h
    was = since == since
    new_since = (t_old if not was else since) if above else since * np.nan
    new_closed = closed + (t_old - since) if (was and not above) else closed
    return new_since, new_closed


@jit
def hazard_field(h, u, v, speed_h, out):
    """Hazard rating (:func:`hazard_rating`) of every cell of depth ``h`` (m) and velocity (u, v)
    (m/s) into ``out``; NaN depths give NaN."""
    ny, nx = h.shape
    for i in range(ny):
        for j in range(nx):
            out[i, j] = hazard_rating(h[i, j], np.sqrt(u[i, j] * u[i, j] + v[i, j] * v[i, j]), speed_h)


@jit_parallel
def track_hazard(h, u, v, z, block_lo, block_hi, max_hr, since, closed, t_old, dur_h, speed_h, rows_per_block):
    """After a step that started at ``t_old`` (s): the running maximum of the hazard rating and the
    time above ``dur_h`` (m) (see :func:`_above_cell`) of every cell of the blocks' windows, from
    the depth ``h`` and cell velocity (u, v) at the end of the step. For the godunov scheme (the
    inertial scheme does it inside its continuity pass). Cells outside the windows have never been
    wet, so neither changes there."""
    ny = h.shape[0]
    nblocks = block_lo.size
    for b in prange(nblocks):
        r0 = b * rows_per_block
        r1 = min(ny, r0 + rows_per_block)
        for r in range(r0, r1):
            for j in range(block_lo[b], block_hi[b]):
                act = z[r, j] == z[r, j]
                hn = h[r, j]
                hr = hazard_rating(hn, np.sqrt(u[r, j] * u[r, j] + v[r, j] * v[r, j]), speed_h)
                max_hr[r, j] = hr if (act and hr > max_hr[r, j]) else max_hr[r, j]
                since[r, j], closed[r, j] = _above_cell(act, hn, since[r, j], closed[r, j], t_old, dur_h)
