"""Running maxima of the 2D schemes: maximum depth and speed², the time of the maximum depth and the
arrival time, updated per row after a step. Shared by both schemes.

Part of :mod:`floodtwin.hydraulics.kernels2d` (split out of ``kernels2d.py`` by issue 13).
"""

from __future__ import annotations

from floodtwin.hydraulics._jit import jit, jit_inline

__all__ = ["TRACK_CHUNK"]


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
