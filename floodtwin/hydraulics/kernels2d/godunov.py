"""The Godunov scheme of the 2D floodplain model: HLLC fluxes on the reconstructed faces, the fused
row update with semi-implicit friction, and :func:`godunov_stage`, one stage per call.

Grid, boundary encoding, parallelism and the positivity cap: see :mod:`floodtwin.hydraulics.kernels2d`.
References: Audusse et al. (2004) SIAM J. Sci. Comput. 25(6) (hydrostatic reconstruction, its
second-order form); Toro (2001) Shock-capturing methods for free-surface shallow flows (HLLC,
wave-speed estimates, dry fronts).

Part of :mod:`floodtwin.hydraulics.kernels2d` (split out of ``kernels2d.py`` by issue 13); the
reconstruction is in :mod:`~floodtwin.hydraulics.kernels2d.reconstruction`.
"""

from __future__ import annotations

import math

import numpy as np

from floodtwin.hydraulics._codes import BC_FREE, BC_INFLOW, BC_NORMAL, BC_STAGE, BC_WALL
from floodtwin.hydraulics._jit import f64_as_i64, i64_as_f64, jit, jit_inline, jit_parallel, prange
from floodtwin.hydraulics.kernels2d.friction import inv_cbrt
from floodtwin.hydraulics.kernels2d.maxima import _track_row
from floodtwin.hydraulics.kernels2d.reconstruction import _godunov_prepare_row

__all__ = ["edge_flux", "godunov_stage"]


@jit
def edge_flux(code, val, h, un, ut, z, g, n2):
    """Flux through a domain edge face in outward-normal coordinates (``un`` the outward velocity
    of the edge cell): (mass out, normal momentum, tangential momentum out).

    This and the other edge helpers (:func:`_cap_outflow`, :func:`_edge_face`,
    :func:`_closed_face`) are compiled once and called, not inlined at the IR level: they run in
    the scalar loops over a row's two end faces and the faces by a NaN bed, where a call costs
    nothing measurable, and the six inlined copies of edge_flux (twelve of :func:`_hllc_select`)
    in the x- and y-face kernels cost ~25 s of compiling per dtype."""
    zero = h * 0.0
    if code == BC_WALL:
        if h <= 0.0:
            return zero, zero, zero
        fh, fm, vt = _hllc_select(h, un, ut, h, -un, ut, g)
        return zero, fm, zero
    if code == BC_INFLOW:
        q = val
        if q <= 0.0:
            return zero, 0.5 * g * h * h, zero
        # inflow velocity: q over the depth, never above the critical velocity of q
        hcrit = np.cbrt(q * q / g)
        hin = h if h > hcrit else hcrit
        uin = q / hin
        return -q, q * uin + 0.5 * g * h * h, zero
    if code == BC_STAGE:
        hg = val - z
        if hg < 0.0:
            hg = zero
        fh, fm, vt = _hllc_select(h, un, ut, hg, un, ut, g)
        return fh, fm, fh * vt
    if code == BC_FREE:
        u = un if un > 0.0 else zero
        fh = h * u
        return fh, fh * u + 0.5 * g * h * h, fh * ut
    if code == BC_NORMAL:
        if h <= 0.0:
            return zero, zero, zero
        c = np.cbrt(h)
        u = val * c * c
        fh = h * u
        return fh, fh * u + 0.5 * g * h * h, fh * ut
    return zero, zero, zero


@jit_inline
def _hllc_select(hl, ul, vl, hr, ur, vr, g):
    """HLLC flux across a face in face-normal coordinates (u normal, v tangential): (mass flux,
    normal momentum flux, upwind tangential velocity); the tangential momentum flux is mass flux ×
    that velocity in every case (left, right or star state), so a caller that caps the mass flux
    caps it with the same factor. Toro (2001) wave speeds, two-rarefaction star-state estimate
    (eq. 10.53) and dry-front speeds. Branch-free: every wave-speed case is computed and the flux
    chosen by selects."""
    zero = hl * 0.0
    cl = math.sqrt(g * hl)
    cr = math.sqrt(g * hr)
    us = 0.5 * (ul + ur) + cl - cr
    cs = 0.5 * (cl + cr) + 0.25 * (ul - ur)
    dry_l = hl <= 0.0
    dry_r = hr <= 0.0
    sl = min(ul - cl, us - cs)
    sr = max(ur + cr, us + cs)
    sl = (ur - 2.0 * cr) if dry_l else ((ul - cl) if dry_r else sl)
    sr = (ur + cr) if dry_l else ((ul + 2.0 * cl) if dry_r else sr)
    fhl = hl * ul
    fml = fhl * ul + 0.5 * g * hl * hl
    fhr = hr * ur
    fmr = fhr * ur + 0.5 * g * hr * hr
    inv = 1.0 / (sr - sl)
    fh = (sr * fhl - sl * fhr + sl * sr * (hr - hl)) * inv
    fm = (sr * fml - sl * fmr + sl * sr * (fhr - fhl)) * inv
    # contact speed s* = num / den with den < 0 whenever a side is wet: only its sign matters
    num = sl * hr * (ur - sr) - sr * hl * (ul - sl)
    vt = vl if num <= 0.0 else vr
    left = sl >= 0.0
    right = sr <= 0.0
    fh = fhl if left else (fhr if right else fh)
    fm = fml if left else (fmr if right else fm)
    vt = vl if left else (vr if right else vt)
    both_dry = dry_l and dry_r
    return (zero if both_dry else fh), (zero if both_dry else fm), vt


@jit_inline
def _faces_line(h_l, un_l, ut_l, z_l, s_l, h_r, un_r, ut_r, z_r, s_r, o_l, o_r, n, o_out, g, cap, out):
    """Interior fluxes of n faces into out[0:4, o_out + k] (mass, normal momentum for the left cell,
    for the right cell, tangential momentum): face k between cell (h_l[o_l + k], …) with
    increments s_l[:, o_l + k] and cell (h_r[o_r + k], …) with s_r[:, o_r + k]. Second-order
    hydrostatic reconstruction (Audusse et al. 2004), HLLC, and the positivity cap of the module
    docstring. Faces touching a NaN bed come out NaN: the caller overwrites them."""
    for k in range(n):
        il = o_l + k
        ir = o_r + k
        hc_l = h_l[il]
        hc_r = h_r[ir]
        zc_l = z_l[il]
        zc_r = z_r[ir]
        zl = zc_l + (s_l[1, il] - s_l[0, il])
        ul = un_l[il] + s_l[2, il]
        vl = ut_l[il] + s_l[3, il]
        zr = zc_r - (s_r[5, ir] - s_r[4, ir])
        ur = un_r[ir] - s_r[6, ir]
        vr = ut_r[ir] - s_r[7, ir]
        dz = zr - zl
        zero = dz * 0.0
        # a limited reconstruction keeps face depths ≥ 0; the Hancock predictor may not: clip
        hl = max(hc_l + s_l[0, il], zero)
        hr = max(hc_r - s_r[4, ir], zero)
        hls = max(hl - max(dz, zero), zero)
        hrs = max(hr - max(-dz, zero), zero)
        fh, fm, vt = _hllc_select(hls, ul, vl, hrs, ur, vr, g)
        # an outgoing mass flux takes at most h·cap from its upwind cell (and its momentum with it)
        fh = min(fh, hc_l * cap)
        fh = max(fh, -hc_r * cap)
        ft = fh * vt
        o = o_out + k
        out[0, o] = fh
        out[1, o] = fm + 0.5 * g * (hl * hl - hls * hls)
        out[2, o] = fm + 0.5 * g * (hr * hr - hrs * hrs)
        out[3, o] = ft


@jit
def _cap_outflow(fh, ft, h_up, cap):
    """Scale an outgoing mass flux (and the momentum it carries) to at most h_up·cap."""
    lim = h_up * cap
    if fh > lim:
        r = lim / fh if fh > 0.0 else fh * 0.0
        return lim, ft * r
    return fh, ft


@jit
def _edge_face(code, val, hc, hf, un, ut, zc, sgn, g, n2c, cap):
    """Fluxes through a domain-edge face from the cell's (reconstructed, predicted) face state
    ``hf``, ``un`` (along the grid axis), ``ut``; ``sgn`` = −1 on the west/south edge, +1 east/north.
    Returns (mass flux out of the domain, then the face's four fluxes in the grid's convention:
    mass, normal momentum for the cells on both sides, tangential momentum)."""
    fo, fm, fto = edge_flux(code, val, hf, sgn * un, ut, zc, g, n2c)
    fo, fto = _cap_outflow(fo, fto, hc, cap)
    return fo, sgn * fo, fm, fm, sgn * fto


@jit_inline
def _any_nan(a):
    """Whether a row of bed elevations has a cell outside the domain: a vectorised search, so
    that the scalar pass over closed faces runs only on the rows that need it."""
    found = 0
    for j in range(a.size):
        found = max(found, 0 if a[j] == a[j] else 1)
    return found > 0


@jit
def _closed_face(z_l, h_l, un_l, z_r, h_r, un_r, g, out, o):
    """A face with a NaN bed on one side: a wall for the active cell (no mass, its pressure)."""
    zero = h_l * 0.0
    out[0, o] = zero
    out[1, o] = zero
    out[2, o] = zero
    out[3, o] = zero
    if z_l == z_l:
        _, fm, _ = edge_flux(BC_WALL, zero, h_l, un_l, zero, z_l, g, zero)
        out[1, o] = fm
    elif z_r == z_r:
        _, fm, _ = edge_flux(BC_WALL, zero, h_r, -un_r, zero, z_r, g, zero)
        out[2, o] = fm


@jit
def _godunov_x_faces(r, lo, hi, h, u, v, z, n2, sl, bctype, bcval, bflux, g, cap, out):
    """Fluxes on the x-faces of columns lo…hi-1 of row r into out[0:4, k] (see :func:`_faces_line`)
    for face k between window cells k-1 and k. The window's end faces are the west/east domain
    edges where the window reaches them, else faces between dry cells (zero flux)."""
    nx = h.shape[1]
    n = hi - lo
    h_row, u_row, v_row, z_row = h[r, lo:hi], u[r, lo:hi], v[r, lo:hi], z[r, lo:hi]
    if n > 1:
        _faces_line(h_row, u_row, v_row, z_row, sl, h_row, u_row, v_row, z_row, sl, 0, 1, n - 1, 1, g, cap, out)
        for k in range(1, n if _any_nan(z_row) else 0):
            if not (z_row[k - 1] == z_row[k - 1] and z_row[k] == z_row[k]):
                _closed_face(z_row[k - 1], h_row[k - 1] + sl[0, k - 1], u_row[k - 1] + sl[2, k - 1],
                             z_row[k], h_row[k] - sl[4, k], u_row[k] - sl[6, k], g, out, k)
    for e in range(2):
        k = 0 if e == 0 else n
        j = 0 if e == 0 else n - 1
        zc = z_row[j]
        zero = h_row[j] * 0.0
        out[0, k] = zero
        out[1, k] = zero
        out[2, k] = zero
        out[3, k] = zero
        at_edge = lo == 0 if e == 0 else hi == nx
        if not (at_edge and zc == zc):
            continue
        hc = h_row[j]
        sgn = -1.0 if e == 0 else 1.0
        # the cell's (reconstructed, predicted) state on its edge face
        o = 4 if e == 0 else 0
        hf = max(hc + sgn * sl[o, j], zero)
        uf = u_row[j] + sgn * sl[o + 2, j]
        vf = v_row[j] + sgn * sl[o + 3, j]
        fo, out[0, k], out[1, k], out[2, k], out[3, k] = _edge_face(bctype[e, r], bcval[e, r], hc, hf, uf, vf, zc,
                                                                    sgn, g, n2[r, lo + j], cap)
        bflux[e, r] = fo


@jit
def _godunov_y_face(k, lo, hi, h, u, v, z, n2, s_below, s_above, bctype, bcval, bflux, write_edge, g, cap, out):
    """Fluxes on y-face row k (between rows k-1 and k; k = 0 south edge, k = ny north edge) over
    columns lo…hi-1 into out[0:4, j - lo] (mass, v-momentum for the south cell, for the north cell,
    u-momentum); ``s_below``, ``s_above`` are the rows' increments over the same window."""
    ny = h.shape[0]
    n = hi - lo
    if 0 < k < ny:
        h_s, v_s, u_s, z_s = h[k - 1, lo:hi], v[k - 1, lo:hi], u[k - 1, lo:hi], z[k - 1, lo:hi]
        h_n, v_n, u_n, z_n = h[k, lo:hi], v[k, lo:hi], u[k, lo:hi], z[k, lo:hi]
        _faces_line(h_s, v_s, u_s, z_s, s_below, h_n, v_n, u_n, z_n, s_above, 0, 0, n, 0, g, cap, out)
        for j in range(n if (_any_nan(z_s) or _any_nan(z_n)) else 0):
            if not (z_s[j] == z_s[j] and z_n[j] == z_n[j]):
                _closed_face(z_s[j], h_s[j] + s_below[0, j], v_s[j] + s_below[2, j],
                             z_n[j], h_n[j] - s_above[4, j], v_n[j] - s_above[6, j], g, out, j)
        return
    r = 0 if k == 0 else ny - 1
    e = 2 if k == 0 else 3
    sgn = -1.0 if k == 0 else 1.0
    # the edge row's increments: south edge = row 0 (s_above, its aL), north = row ny-1 (s_below, aR)
    se = s_above if k == 0 else s_below
    o = 4 if k == 0 else 0
    for jw in range(n):
        j = lo + jw
        zc = z[r, j]
        zero = h[r, j] * 0.0
        if not (zc == zc):
            out[0, jw] = zero
            out[1, jw] = zero
            out[2, jw] = zero
            out[3, jw] = zero
            if write_edge:
                bflux[e, j] = zero
            continue
        hc = h[r, j]
        hf = max(hc + sgn * se[o, jw], zero)
        vf = v[r, j] + sgn * se[o + 2, jw]
        uf = u[r, j] + sgn * se[o + 3, jw]
        fo, out[0, jw], out[1, jw], out[2, jw], out[3, jw] = _edge_face(bctype[e, j], bcval[e, j], hc, hf, vf, uf, zc,
                                                                        sgn, g, n2[r, j], cap)
        if write_edge:
            bflux[e, j] = fo


@jit_inline
def _update_line_with(h_row, hu_row, hv_row, z_row, n2_row, h0_row, hu0_row, hv0_row, fx, fs, fn, sx, sy,
                      out_h, out_hu, out_hv, out_u, out_v, dt, dt_dx, g, wa, wb, combine, hdry):
    """Finite-volume update of one row from its face fluxes, the well-balanced bed source,
    semi-implicit friction; returns the row's largest |u|+√(gh) (either direction) of the new state
    and the first and one-past-last column holding water. With ``combine`` the result is
    wa·U0 + wb·(the update), the Runge-Kutta combination."""
    nx = h_row.size
    # wave speeds are ≥ 0, so their bit patterns order like the numbers (an integer maximum vectorises)
    smax_bits = np.int64(0)
    wet_lo = nx
    wet_hi = 0
    dry = dt * 0.0
    for j in range(nx):
        zc = z_row[j]
        act = zc == zc
        hc = h_row[j]
        dh = fx[0, j] - fx[0, j + 1] + fs[0, j] - fn[0, j]
        # well-balanced cell source (Audusse et al. 2004, second order): −g·h̄·Δz between the
        # cell's reconstructed faces, h̄ their mean depth
        dqx = (fx[2, j] - fx[1, j + 1] + fs[3, j] - fn[3, j]
               - g * (hc + 0.5 * (sx[0, j] - sx[4, j])) * ((sx[1, j] - sx[0, j]) + (sx[5, j] - sx[4, j])))
        dqy = (fs[2, j] - fn[1, j] + fx[3, j] - fx[3, j + 1]
               - g * (hc + 0.5 * (sy[0, j] - sy[4, j])) * ((sy[1, j] - sy[0, j]) + (sy[5, j] - sy[4, j])))
        hn = hc + dt_dx * dh
        qx = hu_row[j] + dt_dx * dqx
        qy = hv_row[j] + dt_dx * dqy
        zero = hn * 0.0
        wet = hn > hdry
        # semi-implicit Manning friction q / (1 + dt·g·n²·|q|/h^(7/3)); h^(-7/3) = r⁷ with
        # r = inv_cbrt(h): one reciprocal, no pow
        hs = hn if wet else zero + 1.0
        ri = inv_cbrt(hs)
        ri3 = ri * ri * ri
        kf = dt * g * n2_row[j] * math.sqrt(qx * qx + qy * qy) * (ri3 * ri3 * ri)
        damp = 1.0 / (1.0 + kf)
        qx = qx * damp if wet else zero
        qy = qy * damp if wet else zero
        # rounding can leave -1e-18 where a cell drained exactly; nothing to carry
        hn = max(hn, zero)
        if combine:  # a constant at each call site: the loads of U0 exist only where used
            hn = wa * h0_row[j] + wb * hn
            qx = wa * hu0_row[j] + wb * qx
            qy = wa * hv0_row[j] + wb * qy
        wet = hn > hdry
        qx = qx if wet else zero
        qy = qy if wet else zero
        inv_h = 1.0 / (hn if wet else zero + 1.0)
        uu = qx * inv_h if wet else zero
        vv = qy * inv_h if wet else zero
        a = max(abs(uu), abs(vv)) + math.sqrt(g * hn)
        # stored unconditionally (a masked store is slow): a cell outside the domain stays dry
        out_h[j] = hn if act else dry
        out_hu[j] = qx if act else dry
        out_hv[j] = qy if act else dry
        out_u[j] = uu if act else dry
        out_v[j] = vv if act else dry
        smax_bits = max(smax_bits, f64_as_i64(np.float64(a)) if (act and wet) else np.int64(0))
        holds = act and hn > 0.0
        wet_lo = min(wet_lo, j if holds else nx)
        wet_hi = max(wet_hi, j + 1 if holds else 0)
    return i64_as_f64(smax_bits), wet_lo, wet_hi


@jit
def _godunov_update_row(h_row, hu_row, hv_row, z_row, n2_row, h0_row, hu0_row, hv0_row, fx, fs, fn, sx, sy,
                        out_h, out_hu, out_hv, out_u, out_v, dt, dt_dx, g, wa, wb, hdry):
    """:func:`_update_line_with` of one row, combined with U0 unless (wa, wb) = (0, 1)."""
    if wa == 0.0 and wb == 1.0:
        return _update_line_with(h_row, hu_row, hv_row, z_row, n2_row, h0_row, hu0_row, hv0_row, fx, fs, fn, sx, sy,
                                 out_h, out_hu, out_hv, out_u, out_v, dt, dt_dx, g, wa, wb, False, hdry)
    return _update_line_with(h_row, hu_row, hv_row, z_row, n2_row, h0_row, hu0_row, hv0_row, fx, fs, fn, sx, sy,
                             out_h, out_hu, out_hv, out_u, out_v, dt, dt_dx, g, wa, wb, True, hdry)


@jit_parallel
def godunov_stage(state, base, bed, edges, out, rows, windows, scratch, maxima, *,
                  dt, dx, g, wa, wb, limiter, hdry, t_new, arrival_h, speed_h, track, predict, rows_per_block):
    """One stage of the Godunov scheme: ``out = wa·U0 + wb·(U + dt·L(U))`` with L the
    finite-volume operator (MUSCL increments with the given limiter, hydrostatic reconstruction,
    HLLC) followed by semi-implicit Manning friction ``q ← q / (1 + dt·g·n²·|q| / h^(7/3))`` on the
    updated state. Units: m, s, m² s⁻¹. Two such stages with (wa, wb) = (0, 1), (½, ½) are Heun's
    SSP-RK2 step; one stage with ``predict`` set is the MUSCL-Hancock step (face states advanced
    half a step by :func:`_prepare_cell` before the Riemann problems).

    Block b of ``rows_per_block`` rows is computed over columns ``block_lo[b]``…``block_hi[b]``-1
    only (none when empty): the caller chooses windows whose cells outside stay dry this step and
    have been dry all along (see :func:`block_windows`), so they need no work. ``bflux`` must be
    zero on entry (edge cells outside the windows carry nothing).

    ``u``, ``v`` are the velocities of the input state (hu/h, zero where dry), written for the
    output state into ``out_u``, ``out_v`` so that no face divides by a depth. When ``track`` is
    set the running maxima (depth, speed² where deeper than ``speed_h``, their time, arrival time at
    ``arrival_h``) are updated from the output state at ``t_new``. ``row_speed[i]`` receives the largest |u|+√(gh) (either
    direction) of row i of the output state, ``row_wet_lo[i]``/``row_wet_hi[i]`` its first and
    one-past-last column holding water (nx, 0 if none). Scratch per block b: ``slx[b]``, ``sly[b]``
    (3, 8, nx) rings of the x and y increments of rows r-1, r, r+1 (slot row % 3), ``fxb[b]``
    (4, nx + 1), ``fyb[b]`` (2, 4, nx) (slot face % 2).

    The arrays come in tuples, unpacked below: ``state`` (h, hu, hv, u, v), ``base`` (h0, hu0, hv0)
    = U0, ``bed`` (z, n2) with n2 = Manning n², ``edges`` (bctype, bcval, bflux), ``out`` (out_h,
    out_hu, out_hv, out_u, out_v), ``rows`` (row_speed, row_wet_lo, row_wet_hi), ``windows``
    (block_lo, block_hi), ``scratch`` (slx, sly, fxb, fyb), ``maxima`` (max_h, max_s2, t_max,
    arrival); the scalars are keyword-only. Plain tuples, not namedtuples: numba's dispatcher types a
    namedtuple argument in Python (measured +2.5 µs per argument and call, +0.4 µs for a tuple),
    which small grids would feel at one call per (half) step.
    """
    h, hu, hv, u, v = state
    h0, hu0, hv0 = base
    z, n2 = bed
    bctype, bcval, bflux = edges
    out_h, out_hu, out_hv, out_u, out_v = out
    row_speed, row_wet_lo, row_wet_hi = rows
    block_lo, block_hi = windows
    slx, sly, fxb, fyb = scratch
    max_h, max_s2, t_max, arrival = maxima
    ny, nx = h.shape
    nblocks = (ny + rows_per_block - 1) // rows_per_block
    cap = dx / (4.0 * dt)
    dt_dx = dt / dx
    half_dt_dx = 0.5 * dt_dx
    for b in prange(nblocks):
        r0 = b * rows_per_block
        r1 = min(ny, r0 + rows_per_block)
        lo = block_lo[b]
        hi = block_hi[b]
        if hi <= lo:
            for r in range(r0, r1):
                row_speed[r] = 0.0
                row_wet_lo[r] = nx
                row_wet_hi[r] = 0
            continue
        fx = fxb[b]
        if r0 - 1 >= 0:
            _godunov_prepare_row(r0 - 1, lo, hi, h, u, v, z, limiter, hdry, predict, half_dt_dx, g,
                                 slx[b, (r0 - 1) % 3], sly[b, (r0 - 1) % 3])
        _godunov_prepare_row(r0, lo, hi, h, u, v, z, limiter, hdry, predict, half_dt_dx, g, slx[b, r0 % 3],
                             sly[b, r0 % 3])
        _godunov_y_face(r0, lo, hi, h, u, v, z, n2, sly[b, (r0 + 2) % 3], sly[b, r0 % 3], bctype, bcval, bflux,
                        r0 == 0, g, cap, fyb[b, r0 % 2])
        for r in range(r0, r1):
            if r + 1 < ny:
                _godunov_prepare_row(r + 1, lo, hi, h, u, v, z, limiter, hdry, predict, half_dt_dx, g,
                                     slx[b, (r + 1) % 3], sly[b, (r + 1) % 3])
            fs = fyb[b, r % 2]
            fn = fyb[b, (r + 1) % 2]
            _godunov_y_face(r + 1, lo, hi, h, u, v, z, n2, sly[b, r % 3], sly[b, (r + 1) % 3], bctype, bcval, bflux,
                            r + 1 == ny, g, cap, fn)
            sx = slx[b, r % 3]
            _godunov_x_faces(r, lo, hi, h, u, v, z, n2, sx, bctype, bcval, bflux, g, cap, fx)
            smax, wlo, whi = _godunov_update_row(
                h[r, lo:hi], hu[r, lo:hi], hv[r, lo:hi], z[r, lo:hi], n2[r, lo:hi], h0[r, lo:hi], hu0[r, lo:hi],
                hv0[r, lo:hi], fx, fs, fn, sx, sly[b, r % 3], out_h[r, lo:hi], out_hu[r, lo:hi], out_hv[r, lo:hi],
                out_u[r, lo:hi], out_v[r, lo:hi], dt, dt_dx, g, wa, wb, hdry)
            row_speed[r] = smax
            row_wet_lo[r] = lo + wlo if whi > 0 else nx
            row_wet_hi[r] = lo + whi
            if track:
                _track_row(z[r, lo:hi], out_h[r, lo:hi], out_u[r, lo:hi], out_v[r, lo:hi], max_h[r, lo:hi],
                           max_s2[r, lo:hi], t_max[r, lo:hi], arrival[r, lo:hi], t_new, arrival_h, speed_h)
