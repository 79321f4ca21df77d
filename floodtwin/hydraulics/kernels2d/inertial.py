"""The local-inertial scheme of the 2D floodplain model (Bates et al. 2010, q-centred after de Almeida
et al. 2012): face discharges from the water-surface gradient, then continuity, fused per block of
rows; :func:`inertial_step`, one step per call.

Part of :mod:`floodtwin.hydraulics.kernels2d` (split out of ``kernels2d.py`` by issue 13).
"""

from __future__ import annotations

import numpy as np

from floodtwin.hydraulics._codes import BC_FREE, BC_INFLOW, BC_NORMAL, BC_STAGE, BC_WALL
from floodtwin.hydraulics._jit import f64_as_i64, i64_as_f64, jit, jit_inline, jit_parallel, prange
from floodtwin.hydraulics.kernels2d.friction import inv_cbrt
from floodtwin.hydraulics.kernels2d.maxima import TRACK_CHUNK, _above_cell, _hazard_may_rise, _track_cell, hazard_rating

__all__ = ["inertial_step"]


# ----------------------------------------------------------------------------------------------
# inertial: q-centred local-inertial step (faces, then continuity), fused per block of rows
#
# The face and continuity loops are written without branches (every quantity computed, the result
# chosen by a select), so that LLVM vectorises them (AVX2/AVX-512 on the machines measured): the
# interior loops carry no test on NaN beds or dry faces, only comparisons feeding selects.
# ----------------------------------------------------------------------------------------------
@jit_inline
def _inertial_face(hl, zl, hr, zr, q, qm, qp, n2f, gdt, gdt_dx, theta, hflow, cap):
    """New unit discharge (m² s⁻¹, positive towards the right cell) on one interior face:
    de Almeida et al. (2012) eq. 11 with semi-implicit Manning friction, h^(-7/3) = r⁷ with
    r = inv_cbrt(h) (no pow, no division for the friction). Zero on a face with a NaN bed on
    either side or a flow depth ≤ ``hflow``."""
    dz = zr - zl
    zero = dz * 0.0
    # flow depth max(η) − max(z), from depths so that float32 keeps it exact
    hf = max(hl - max(dz, zero), hr - max(-dz, zero))
    deta = (hr - hl) + dz
    qc = theta * q + (0.5 * (1.0 - theta)) * (qm + qp)
    num = qc - gdt_dx * hf * deta
    r = inv_cbrt(hf)
    r3 = r * r * r
    qn = num / (1.0 + gdt * n2f * abs(q) * (r3 * r3 * r))
    # positivity cap on the outgoing side (hl·cap ≥ 0 ≥ −hr·cap, so only one bound can act)
    qn = min(qn, hl * cap)
    qn = max(qn, -hr * cap)
    flows = (hf > hflow) and (zl == zl) and (zr == zr)  # NaN compares false: outside = wall
    return qn if flows else q * 0.0


@jit
def _inertial_edge(code, val, hc, zc, q_in_old, h_inner, z_inner, n2c, g, dt, dx, hflow, cap):
    """New inward unit discharge (m² s⁻¹) through an edge face of cell (hc, zc)."""
    zero = hc * 0.0
    if code == BC_INFLOW:
        return val
    if code == BC_STAGE:
        hg = val - zc
        hf = hc if hc > hg else hg
        if hf <= hflow:
            return zero
        r = inv_cbrt(hf)
        r3 = r * r * r
        num = q_in_old - g * hf * dt * (hc - hg) / dx
        qn = num / (1.0 + g * dt * n2c * abs(q_in_old) * (r3 * r3 * r))
        if qn < -hc * cap:
            qn = -hc * cap
        return qn
    if code == BC_FREE:
        if hc <= hflow:
            return zero
        # outward water-surface slope extrapolated from the next cell inward (zero if none)
        s = zero
        if z_inner == z_inner:
            s = ((h_inner - hc) + (z_inner - zc)) / dx
            if s < 0.0:
                s = zero
        q_out = -q_in_old
        if q_out < 0.0:
            q_out = zero
        r = inv_cbrt(hc)
        r3 = r * r * r
        qn = (q_out + g * hc * dt * s) / (1.0 + g * dt * n2c * q_out * (r3 * r3 * r))
        if qn > hc * cap:
            qn = hc * cap
        return -qn
    if code == BC_NORMAL:
        if hc <= hflow:
            return zero
        c = np.cbrt(hc)
        qn = val * hc * c * c
        if qn > hc * cap:
            qn = hc * cap
        return -qn
    return zero


@jit
def _inertial_y_row(k, lo, hi, h, qy, z, n2, gdt, gdt_dx, theta, hflow, cap, out):
    """New discharges on the interior y-face row k (between rows k-1 and k), columns lo…hi-1, into
    out[0:hi-lo]."""
    h_s, h_n, z_s, z_n = h[k - 1, lo:hi], h[k, lo:hi], z[k - 1, lo:hi], z[k, lo:hi]
    n2_s, n2_n = n2[k - 1, lo:hi], n2[k, lo:hi]
    q, q_s, q_n = qy[k, lo:hi], qy[k - 1, lo:hi], qy[k + 1, lo:hi]
    for j in range(hi - lo):
        out[j] = _inertial_face(h_s[j], z_s[j], h_n[j], z_n[j], q[j], q_s[j], q_n[j], 0.5 * (n2_s[j] + n2_n[j]),
                                gdt, gdt_dx, theta, hflow, cap)


@jit
def _inertial_x_row(h_row, z_row, n2_row, qx_row, gdt, gdt_dx, theta, hflow, cap, out):
    """New discharges on the interior x-faces 1…nx-1 of one row into out (length nx + 1)."""
    nx = h_row.size
    for k in range(1, nx):
        out[k] = _inertial_face(h_row[k - 1], z_row[k - 1], h_row[k], z_row[k], qx_row[k], qx_row[k - 1],
                                qx_row[k + 1], 0.5 * (n2_row[k - 1] + n2_row[k]), gdt, gdt_dx, theta, hflow, cap)


@jit
def _inertial_continuity_row(h_row, z_row, qx_row, qs_row, qn_row, out_h, max_h, max_s2, t_max, arrival, max_hr,
                             since, closed, dt_dx, hdry, t_new, arrival_h, speed_h, t_old, dur_h, track):
    """Depths of one row from continuity with the new face discharges into ``out_h``; updates the
    running maxima, the hazard rating maximum and the time above ``dur_h`` (kernels2d.maxima) when
    ``track``; returns the row's largest depth and its first and one-past-last column holding water."""
    nx = h_row.size
    # depths are ≥ 0, so their bit patterns order like the numbers: an integer maximum vectorises
    # where a floating-point one would need fast-math
    hmax_bits = np.int64(0)
    wet_lo = nx
    wet_hi = 0
    for j in range(nx):
        act = z_row[j] == z_row[j]
        hn = h_row[j] + dt_dx * ((qx_row[j] - qx_row[j + 1]) + (qs_row[j] - qn_row[j]))
        hn = max(hn, hn * 0.0)
        hn = hn if act else h_row[j]
        out_h[j] = hn
        hmax_bits = max(hmax_bits, f64_as_i64(np.float64(hn)) if act else np.int64(0))
        holds = act and hn > 0.0
        wet_lo = min(wet_lo, j if holds else nx)
        wet_hi = max(wet_hi, j + 1 if holds else 0)
    if track:
        # chunk by chunk as in _track_row: only a chunk where something changes is written
        n_full = nx // TRACK_CHUNK
        for c in range(n_full + 1):
            c0 = c * TRACK_CHUNK
            m = TRACK_CHUNK if c < n_full else nx - c0
            changed = 0
            for j in range(m):
                i = c0 + j
                hn = out_h[i]
                ux = 0.5 * (qx_row[i] + qx_row[i + 1])
                uy = 0.5 * (qs_row[i] + qn_row[i])
                q2 = ux * ux + uy * uy
                # |q|² > max|u|²·h² (no division in the search); a spell above dur_h starts or ends;
                # the hazard rating may rise (division-free superset); bitwise: no short-circuit branch
                new = (z_row[i] == z_row[i]) & ((hn > max_h[i]) | ((hn > speed_h) & (q2 > max_s2[i] * hn * hn))
                                                | ((hn > dur_h) != (since[i] == since[i]))
                                                | _hazard_may_rise(hn, q2, max_hr[i]))
                changed = max(changed, 1 if new else 0)
            if changed:
                for j in range(m):
                    i = c0 + j
                    hn = out_h[i]
                    act = z_row[i] == z_row[i]
                    # |q|/h only for a new maximum would need a branch; dividing every cell vectorises
                    h_safe = hn if hn > hdry else hn * 0.0 + 1.0
                    ux = 0.5 * (qx_row[i] + qx_row[i + 1]) / h_safe
                    uy = 0.5 * (qs_row[i] + qn_row[i]) / h_safe
                    s2 = ux * ux + uy * uy
                    max_h[i], max_s2[i], t_max[i], arrival[i] = _track_cell(
                        act, hn, s2, max_h[i], max_s2[i], t_max[i], arrival[i], t_new, arrival_h, speed_h)
                    hr = hazard_rating(hn, np.sqrt(s2), speed_h)
                    max_hr[i] = hr if (act and hr > max_hr[i]) else max_hr[i]
                    since[i], closed[i] = _above_cell(act, hn, since[i], closed[i], t_old, dur_h)
    return i64_as_f64(hmax_bits), wet_lo, wet_hi


@jit
def _inertial_y_edge(e, lo, hi, h, qy, z, n2, bctype, bcval, bflux, g, dt, dx, hflow, cap, out):
    """South (e = 2, face row 0) or north (e = 3, face row ny) edge discharges of columns lo…hi-1
    into out (the whole face row); positive northwards like every y-face; ``bflux`` gets the
    outflow."""
    ny = h.shape[0]
    r = 0 if e == 2 else ny - 1
    ri = 1 if e == 2 else ny - 2
    kf = 0 if e == 2 else ny
    sgn = 1.0 if e == 2 else -1.0
    for j in range(lo, hi):
        zc = z[r, j]
        qn = h[r, j] * 0.0
        if zc == zc and bctype[e, j] != BC_WALL:
            zi = z[ri, j] if ny > 1 else zc * np.nan
            h_in = h[ri, j] if ny > 1 else h[r, j]
            qn = sgn * _inertial_edge(bctype[e, j], bcval[e, j], h[r, j], zc, sgn * qy[kf, j], h_in, zi,
                                      n2[r, j], g, dt, dx, hflow, cap)
        out[j] = qn
        bflux[e, j] = -sgn * qn


@jit_parallel
def inertial_step(state, bed, edges, out, rows, windows, qsb, maxima, *,
                  dt, dx, g, theta, hflow, hdry, t_new, arrival_h, speed_h, t_old, duration_h, track, rows_per_block):
    """One local-inertial step: new face discharges ``out_qx`` (ny, nx+1) and ``out_qy`` (ny+1, nx)
    (m² s⁻¹) from the old state, then depths ``out_h`` from continuity with the new discharges.

    Water-surface gradients use depth differences plus bed differences (no absolute level); the
    flow depth is max(η) − max(z) (Bates et al. 2010). Edge faces follow ``bctype``/``bcval``;
    ``bflux`` (zero on entry) gets the mass flux leaving through each edge cell (m² s⁻¹).
    ``row_hmax[i]`` is the deepest wet cell of row i after the step, ``row_wet_lo[i]``,
    ``row_wet_hi[i]`` its first and one-past-last column holding water (nx, 0 if none). Row i is
    computed over columns ``row_lo[i]``…``row_hi[i]``-1 only (rows.row_windows; empty: nx…0), the
    y-faces between two rows over both rows' windows. ``qsb`` (nblocks, nx) is scratch for the
    y-face south of each block (owned and written by the block below, recomputed identically here).

    The arrays come in tuples, unpacked below, as in :func:`godunov_stage`: ``state`` (h, qx, qy),
    ``bed`` (z, n2), ``edges`` (bctype, bcval, bflux), ``out`` (out_h, out_qx, out_qy), ``rows``
    (row_hmax, row_wet_lo, row_wet_hi), ``windows`` (row_lo, row_hi, part_start: the blocks
    part_start[p]…part_start[p+1]-1 are one parallel task), ``maxima`` (max_h,
    max_s2, t_max, arrival, max_hr, since, closed: the hazard rating maximum and the time above
    ``duration_h`` of kernels2d.maxima, with ``t_old`` (s, float64) the start of the step); the
    scalars are keyword-only.
    """
    h, qx, qy = state
    z, n2 = bed
    bctype, bcval, bflux = edges
    out_h, out_qx, out_qy = out
    row_hmax, row_wet_lo, row_wet_hi = rows
    row_lo, row_hi, part_start = windows
    max_h, max_s2, t_max, arrival, max_hr, since, closed = maxima
    ny, nx = h.shape
    nblocks = (ny + rows_per_block - 1) // rows_per_block
    cap = dx / (4.0 * dt)
    dt_dx = dt / dx
    gdt = g * dt
    gdt_dx = g * dt / dx
    # one part of contiguous blocks per thread, of about equal work (rows.balance_blocks): a flood
    # fills the blocks unevenly, and prange's equal split of the blocks left one thread idle ~40 %
    # of the step; which thread computes a block changes nothing in it
    for p in prange(part_start.size - 1):
        for b in range(part_start[p], part_start[p + 1]):
            r0 = b * rows_per_block
            r1 = min(ny, r0 + rows_per_block)
            # the y-face row south of the block: over both rows' windows (an empty window is nx…0)
            lo = row_lo[r0]
            hi = row_hi[r0]
            if r0 == 0:
                if hi > lo:
                    _inertial_y_edge(2, lo, hi, h, qy, z, n2, bctype, bcval, bflux, g, dt, dx, hflow, cap, out_qy[0])
            else:
                ulo = min(lo, row_lo[r0 - 1])
                uhi = max(hi, row_hi[r0 - 1])
                if uhi > ulo:
                    _inertial_y_row(r0, ulo, uhi, h, qy, z, n2, gdt, gdt_dx, theta, hflow, cap, qsb[b, ulo:uhi])
            for r in range(r0, r1):
                lo = row_lo[r]
                hi = row_hi[r]
                # y-faces north of row r, over the windows of rows r and r + 1
                if r + 1 < ny:
                    ulo = min(lo, row_lo[r + 1])
                    uhi = max(hi, row_hi[r + 1])
                    if uhi > ulo:
                        _inertial_y_row(r + 1, ulo, uhi, h, qy, z, n2, gdt, gdt_dx, theta, hflow, cap,
                                        out_qy[r + 1, ulo:uhi])
                elif hi > lo:
                    _inertial_y_edge(3, lo, hi, h, qy, z, n2, bctype, bcval, bflux, g, dt, dx, hflow, cap, out_qy[ny])
                if hi <= lo:
                    row_hmax[r] = 0.0
                    row_wet_lo[r] = nx
                    row_wet_hi[r] = 0
                    continue
                # x-faces of row r: the window's end faces (domain edges where it reaches them, else
                # faces between dry cells), then the interior
                for e in range(2):
                    j = lo if e == 0 else hi - 1
                    kf = lo if e == 0 else hi
                    qn = h[r, j] * 0.0
                    at_edge = lo == 0 if e == 0 else hi == nx
                    if at_edge:
                        ji = 1 if e == 0 else nx - 2
                        sgn = 1.0 if e == 0 else -1.0
                        zc = z[r, j]
                        if zc == zc and bctype[e, r] != BC_WALL:
                            zi = z[r, ji] if nx > 1 else zc * np.nan
                            h_in = h[r, ji] if nx > 1 else h[r, j]
                            qn = sgn * _inertial_edge(bctype[e, r], bcval[e, r], h[r, j], zc, sgn * qx[r, kf], h_in, zi,
                                                      n2[r, j], g, dt, dx, hflow, cap)
                        bflux[e, r] = -sgn * qn
                    out_qx[r, kf] = qn
                _inertial_x_row(h[r, lo:hi], z[r, lo:hi], n2[r, lo:hi], qx[r, lo:hi + 1], gdt, gdt_dx, theta, hflow,
                                cap, out_qx[r, lo:hi + 1])
                # continuity for row r with the new discharges
                if r == r0:
                    qs_row = out_qy[0, lo:hi] if r0 == 0 else qsb[b, lo:hi]
                else:
                    qs_row = out_qy[r, lo:hi]
                hmax, wlo, whi = _inertial_continuity_row(
                    h[r, lo:hi], z[r, lo:hi], out_qx[r, lo:hi + 1], qs_row, out_qy[r + 1, lo:hi], out_h[r, lo:hi],
                    max_h[r, lo:hi], max_s2[r, lo:hi], t_max[r, lo:hi], arrival[r, lo:hi], max_hr[r, lo:hi],
                    since[r, lo:hi], closed[r, lo:hi], dt_dx, hdry, t_new, arrival_h, speed_h, t_old, duration_h, track)
                row_hmax[r] = hmax
                row_wet_lo[r] = lo + wlo if whi > 0 else nx
                row_wet_hi[r] = lo + whi
