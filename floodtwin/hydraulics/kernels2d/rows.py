"""Row blocks, wet extents and the serial helpers of the orchestration (point sources, row sums),
shared by both 2D schemes and called by :class:`floodtwin.hydraulics.floodplain.Floodplain`.

Part of :mod:`floodtwin.hydraulics.kernels2d` (split out of ``kernels2d.py`` by issue 13).
"""

from __future__ import annotations

from floodtwin.hydraulics._jit import jit, jit_parallel, prange

__all__ = ["add_point_sources", "block_windows", "grow_wet_extent", "row_sums"]


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
