"""Row blocks, wet extents and the serial helpers of the orchestration (point sources, row sums),
shared by both 2D schemes and called by :class:`floodtwin.hydraulics.floodplain.Floodplain`.

Part of :mod:`floodtwin.hydraulics.kernels2d` (split out of ``kernels2d.py`` by issue 13).
"""

from __future__ import annotations

import numpy as np

from floodtwin.hydraulics._jit import jit, jit_parallel, prange

__all__ = ["add_point_sources", "add_sources", "after_step", "balance_blocks", "block_windows", "boundary_sums",
           "cell_velocities", "grow_wet_extent", "row_sums", "row_windows"]


@jit
def grow_wet_extent(row_wet_lo, row_wet_hi, ext_lo, ext_hi):
    """Widen each row's extent [ext_lo, ext_hi) to take in its columns now holding water
    (an extent never shrinks, so cells outside it have never been wet)."""
    for r in range(ext_lo.size):
        if row_wet_hi[r] > row_wet_lo[r]:
            ext_lo[r] = min(ext_lo[r], row_wet_lo[r])
            ext_hi[r] = max(ext_hi[r], row_wet_hi[r])


@jit
def block_windows(ext_lo, ext_hi, nx, rows_per_block, margin, out_lo, out_hi):
    """Column window of each block of rows for the next step: the wet extents of the block's rows
    and of ``margin`` rows around it, widened by ``margin`` columns, clipped to the grid (empty
    where no water is near). Water moves at most one cell per step (CFL < 1) and a cell's update
    reads its neighbours' reconstructed states, so a margin of 2 keeps every cell outside the
    window dry with dry neighbours; 3 is used."""
    ny = ext_lo.size
    for b in range(out_lo.size):
        r0 = b * rows_per_block
        r1 = min(ny, r0 + rows_per_block)
        lo = nx
        hi = 0
        for r in range(max(0, r0 - margin), min(ny, r1 + margin)):
            if ext_hi[r] > ext_lo[r]:
                lo = min(lo, ext_lo[r])
                hi = max(hi, ext_hi[r])
        if hi > lo:
            out_lo[b] = max(0, lo - margin)
            out_hi[b] = min(nx, hi + margin)
        else:
            out_lo[b] = 0
            out_hi[b] = 0


#: work of a block beyond its window's cells, in cells (per row: the row's loop set-up and its edge faces)
BLOCK_ROW_COST_CELLS = 16


@jit
def row_windows(ext_lo, ext_hi, nx, margin, out_lo, out_hi):
    """Column window of each row for the next step: :func:`block_windows` with blocks of one row
    (the extents of the ``margin`` rows around it, widened by ``margin`` columns), empty as nx…0
    so that the union of two rows' windows is their (min lo, max hi). Used by the inertial step,
    whose blocks of rows compute each row over its own window: a flood band running at an angle
    to the grid fills a block's rows at different columns."""
    ny = ext_lo.size
    for r in range(ny):
        lo = nx
        hi = 0
        for k in range(max(0, r - margin), min(ny, r + margin + 1)):
            if ext_hi[k] > ext_lo[k]:
                lo = min(lo, ext_lo[k])
                hi = max(hi, ext_hi[k])
        if hi > lo:
            out_lo[r] = max(0, lo - margin)
            out_hi[r] = min(nx, hi + margin)
        else:
            out_lo[r] = nx
            out_hi[r] = 0


@jit
def balance_blocks(row_lo, row_hi, rows_per_block, out_start):
    """Split the blocks of ``rows_per_block`` rows into ``out_start.size - 1`` parts of consecutive
    blocks and about equal work (the cells of their rows' windows ``row_lo``…``row_hi``, plus
    BLOCK_ROW_COST_CELLS per computed row): part p is blocks ``out_start[p]``…``out_start[p+1]-1``,
    one task per thread. A part ends where the work so far passes its share at the middle of a
    block. Integer arithmetic: the same split on any machine (and the split changes no result)."""
    nparts = out_start.size - 1
    ny = row_lo.size
    nb = (ny + rows_per_block - 1) // rows_per_block
    total = 0
    for r in range(ny):
        if row_hi[r] > row_lo[r]:
            total += row_hi[r] - row_lo[r] + BLOCK_ROW_COST_CELLS
    out_start[0] = 0
    acc = 0
    p = 1
    for b in range(nb):
        w = 0
        for r in range(b * rows_per_block, min(ny, (b + 1) * rows_per_block)):
            if row_hi[r] > row_lo[r]:
                w += row_hi[r] - row_lo[r] + BLOCK_ROW_COST_CELLS
        while p < nparts and (2 * acc + w) * nparts > 2 * p * total:
            out_start[p] = b
            p += 1
        acc += w
    while p <= nparts:
        out_start[p] = nb
        p += 1


@jit
def add_point_sources(h, rows, cols, volume_m3, dx, out_added):
    """Add ``volume_m3[s]`` to cell (rows[s], cols[s]); a withdrawal takes at most the cell's water.
    ``out_added[s]`` gets the volume actually added (m³)."""
    area = dx * dx
    for s in range(rows.size):
        i = rows[s]
        j = cols[s]
        v = volume_m3[s]
        have = h[i, j] * area
        if v < -have:
            v = -have
        h[i, j] = h[i, j] + v / area
        if h[i, j] < 0.0:
            h[i, j] = h[i, j] * 0.0
        out_added[s] = v


@jit
def after_step(row_wet_lo, row_wet_hi, ext_lo, ext_hi, nx, rows_per_block, margin, win_lo, win_hi, row_margin, row_lo,
               row_hi, part_start):
    """The bookkeeping after a step in one call (each call from Python costs µs, a step ~0.5 ms):
    :func:`grow_wet_extent`, then for the next step :func:`block_windows` (godunov),
    :func:`row_windows` (margin ``row_margin``) and :func:`balance_blocks` (inertial)."""
    grow_wet_extent(row_wet_lo, row_wet_hi, ext_lo, ext_hi)
    block_windows(ext_lo, ext_hi, nx, rows_per_block, margin, win_lo, win_hi)
    row_windows(ext_lo, ext_hi, nx, row_margin, row_lo, row_hi)
    balance_blocks(row_lo, row_hi, rows_per_block, part_start)


@jit
def boundary_sums(bflux):
    """(outflow, inflow) sums (float64, m² s⁻¹, both ≥ 0) of the edge fluxes ``bflux`` (positive
    out) of a kernel call, in a fixed order (thread-independent); zeroes ``bflux`` for the next call."""
    out_sum = 0.0
    in_sum = 0.0
    ne, nk = bflux.shape
    for e in range(ne):
        for k in range(nk):
            v = np.float64(bflux[e, k])
            if v > 0.0:
                out_sum += v
            elif v < 0.0:
                in_sum -= v
            bflux[e, k] = 0.0
    return out_sum, in_sum


@jit
def add_sources(h, rows, cols, volume_m3, dx, out_added, link_added, n_ps):
    """:func:`add_point_sources`, then in the same call: the volumes actually added at the sources
    ``n_ps``… (the exchange links) are added to ``link_added``; returns the total volume added (m³,
    float64, in source order) and the largest depth (m) of the source cells afterwards (for the
    time-step bound)."""
    add_point_sources(h, rows, cols, volume_m3, dx, out_added)
    total = 0.0
    h_top = 0.0
    for s in range(rows.size):
        total += np.float64(out_added[s])
        if s >= n_ps:
            link_added[s - n_ps] += out_added[s]
        h_top = max(h_top, np.float64(h[rows[s], cols[s]]))
    return total, h_top


@jit_parallel
def row_sums(a, out):
    """Per-row sums of ``a`` in float64, NaN cells skipped (the caller adds rows in order)."""
    ny, nx = a.shape
    for i in prange(ny):
        s = 0.0
        for j in range(nx):
            v = a[i, j]
            if v == v:
                s += v
        out[i] = s


@jit_parallel
def cell_velocities(h, a, b, active, face_centred, h_dry, half, outside, out_h, out_u, out_v):
    """Cell depth and velocity (m, m/s) of a state into ``out_h``, ``out_u``, ``out_v`` (the output
    frames and the hazard's initial speeds), ``outside`` (NaN or 0) where not ``active``. ``a``, ``b``
    are the x and y unit discharges (m² s⁻¹): at the cells (Godunov) or, with ``face_centred``, on the
    faces (inertial: (ny, nx+1) and (ny+1, nx), averaged over a cell's two faces with ``half`` = 0.5 in
    the state's dtype, so that float32 stays float32 as in NumPy). u = a/h where h > ``h_dry``, else 0.
    One pass instead of the eight NumPy temporaries of a frame (1 ms instead of 17 ms per 10⁶ cells)."""
    ny, nx = h.shape
    for i in prange(ny):
        for j in range(nx):
            if not active[i, j]:
                out_h[i, j] = outside
                out_u[i, j] = outside
                out_v[i, j] = outside
                continue
            d = h[i, j]
            out_h[i, j] = d
            if face_centred:
                qa = (a[i, j] + a[i, j + 1]) * half
                qb = (b[i, j] + b[i + 1, j]) * half
            else:
                qa = a[i, j]
                qb = b[i, j]
            if d > h_dry:
                out_u[i, j] = qa / d
                out_v[i, j] = qb / d
            else:
                out_u[i, j] = 0.0
                out_v[i, j] = 0.0
