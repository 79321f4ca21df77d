"""numba kernels of the 2D floodplain model: arrays in, ``out`` arrays, plain scalars; nothing else.

Grid: cell (i, j) is row i (south to north), column j (west to east), square cells of ``dx`` m. The
bed ``z`` is NaN outside the domain: faces between an active and a NaN cell are walls. Depth ``h``
(m) is carried, never the absolute water level, and ``z`` is relative to a local datum, so that
float32 keeps millimetres on a bed 90 m above the Dagu datum.

Boundary encoding (codes from :mod:`floodtwin.hydraulics.boundaries`): ``bctype[e, k]`` and
``bcval[e, k]`` for edge e = 0 west (cells (k, 0)), 1 east (cells (k, nx-1)), 2 south (cells (0, k)),
3 north (cells (ny-1, k)). ``bcval`` holds q (m² s⁻¹, inward) for an inflow, the stage (m, local
datum) for a stage boundary, √S/n for a normal-depth boundary. Kernels write the mass flux leaving
the domain through each edge cell, ``bflux[e, k]`` (m² s⁻¹, positive out), for the mass balance.

Parallelism: ``prange`` over fixed blocks of rows (the block size never depends on the thread
count); a face shared by two blocks is computed by both from the same inputs, so the results are
bitwise identical for any number of threads. Every reduction (maximum speed, depth) is per row and
finished serially by the caller.

Positivity: an outgoing mass flux is capped at ``h_cell·dx/(4·dt)`` per face, so a cell can never
lose more than it holds in one (sub)step; the cap is conservative (the same flux leaves one cell
and enters the other) and is inactive in ordinary flow (it needs a Courant number above 1/4 on a
thin layer).

References: Audusse et al. (2004) SIAM J. Sci. Comput. 25(6) (hydrostatic reconstruction, its
second-order form); Toro (2001) Shock-capturing methods for free-surface shallow flows (HLLC,
wave-speed estimates, dry fronts); Bates et al. (2010) J. Hydrol. 387 and de Almeida et al. (2012)
Water Resour. Res. 48 (local inertial, q-centred).
"""

from __future__ import annotations

import math

import numpy as np

from floodtwin.hydraulics._jit import f64_as_i64, i64_as_f64, jit, jit_inline, jit_parallel, prange

BC_WALL = 0
BC_INFLOW = 1
BC_STAGE = 2
BC_FREE = 3
BC_NORMAL = 4

LIMITER_NONE = 0
LIMITER_MINMOD = 1
LIMITER_VANLEER = 2
LIMITER_MC = 3
LIMITER_SUPERBEE = 4
LIMITER_KOREN = 5


# ----------------------------------------------------------------------------------------------
# small helpers (LLVM inlines them into the kernels)
# ----------------------------------------------------------------------------------------------
@jit_inline
def limited_slope(dm, dp, limiter):
    """Limited cell difference from the backward and forward differences ``dm``, ``dp``."""
    if dm * dp <= 0.0:
        return dm * 0.0
    if limiter == LIMITER_MINMOD:
        return dm if abs(dm) < abs(dp) else dp
    if limiter == LIMITER_VANLEER:
        return 2.0 * dm * dp / (dm + dp)
    if limiter == LIMITER_MC:
        c = 0.5 * (dm + dp)
        a = 2.0 * dm
        b = 2.0 * dp
        m = c
        if abs(a) < abs(m):
            m = a
        if abs(b) < abs(m):
            m = b
        return m
    if limiter == LIMITER_SUPERBEE:
        a = abs(dm)
        b = abs(dp)
        s1 = min(2.0 * a, b)
        s2 = min(a, 2.0 * b)
        m = s1 if s1 > s2 else s2
        return m if dm > 0.0 else -m
    return dm * 0.0


@jit_inline
def face_increments(dm, dp, limiter):
    """(aR, aL): the east/north face value is c + aR, the west/south one c − aL. Symmetric limiters
    give aR = aL = s/2; Koren's (1993) limiter is third-order (κ = 1/3) in smooth regions and TVD,
    with both faces bounded by the neighbours, so reconstructed depths stay ≥ 0."""
    if dm * dp <= 0.0:
        return dm * 0.0, dm * 0.0
    if limiter == LIMITER_KOREN:
        a = abs(dm)
        b = abs(dp)
        ar = min(2.0 * a, (b + 2.0 * a) * (1.0 / 3.0), 2.0 * b) * 0.5
        al = min(2.0 * b, (a + 2.0 * b) * (1.0 / 3.0), 2.0 * a) * 0.5
        if dm < 0.0:
            return -ar, -al
        return ar, al
    s = 0.5 * limited_slope(dm, dp, limiter)
    return s, s


@jit_inline
def velocity(h, q, hdry):
    """Velocity (m/s) of a cell from depth and unit discharge; zero in a dry cell."""
    if h > hdry:
        return q / h
    return q * 0.0


@jit_inline
def inv_cbrt(x):
    """x^(-1/3) for x > 0 in float64 to machine precision: a bit-level first guess (exponent / 3)
    and four division-free Newton steps; ~5× faster than ``np.cbrt``, which calls libm (39 ns).
    The division of the bit pattern by 3 is done in floating point (exact to 2⁻⁴⁴ of the guess,
    which Newton erases): an int64 division does not vectorise, a float multiply does."""
    xf = np.float64(x)
    third = np.int64(np.float64(f64_as_i64(xf)) * (1.0 / 3.0))
    r = i64_as_f64(np.int64(0x553EF0FF289DD796) - third)
    r = r * (4.0 - xf * r * r * r) * (1.0 / 3.0)
    r = r * (4.0 - xf * r * r * r) * (1.0 / 3.0)
    r = r * (4.0 - xf * r * r * r) * (1.0 / 3.0)
    r = r * (4.0 - xf * r * r * r) * (1.0 / 3.0)
    return r


@jit_inline
def cell_slopes(hm, unm, utm, zm, hc, unc, utc, zc, hp, unp, utp, zp, limiter, hdry):
    """Face increments of depth, water level, normal and tangential velocity of the centre cell
    along one direction: (aR_h, aR_η, aR_un, aR_ut, aL_h, aL_η, aL_un, aL_ut) with face values c + aR
    (east/north) and c − aL (west/south). Zero (first order) next to the domain edge, an inactive
    cell or a dry cell, which keeps wetting fronts and lakes against dry ground exact."""
    zero = hc * 0.0
    if limiter == LIMITER_NONE or not (zm == zm and zp == zp):
        return zero, zero, zero, zero, zero, zero, zero, zero
    if hm <= hdry or hc <= hdry or hp <= hdry:
        return zero, zero, zero, zero, zero, zero, zero, zero
    rh, lh = face_increments(hc - hm, hp - hc, limiter)
    re_, le = face_increments((hc - hm) + (zc - zm), (hp - hc) + (zp - zc), limiter)
    ru, lu = face_increments(unc - unm, unp - unc, limiter)
    rt, lt = face_increments(utc - utm, utp - utc, limiter)
    return rh, re_, ru, rt, lh, le, lu, lt


@jit_inline
def hllc_flux(hl, ul, vl, hr, ur, vr, g):
    """HLLC flux (mass, normal momentum, tangential momentum) across a face, in face-normal
    coordinates (u normal, v tangential); Toro (2001) wave speeds, two-rarefaction dry fronts."""
    zero = hl * 0.0
    if hl <= 0.0 and hr <= 0.0:
        return zero, zero, zero
    cl = math.sqrt(g * hl)
    cr = math.sqrt(g * hr)
    if hl <= 0.0:
        sl = ur - 2.0 * cr
        sr = ur + cr
    elif hr <= 0.0:
        sl = ul - cl
        sr = ul + 2.0 * cl
    else:
        # two-rarefaction estimate of the star state (Toro 2001, eq. 10.53): no extra sqrt; the
        # Roe-average alternative measured the same L1 on Stoker (7.86e-4 vs 7.91e-4 m)
        us = 0.5 * (ul + ur) + cl - cr
        cs = 0.5 * (cl + cr) + 0.25 * (ul - ur)
        sl = min(ul - cl, us - cs)
        sr = max(ur + cr, us + cs)
    fhl = hl * ul
    fml = fhl * ul + 0.5 * g * hl * hl
    fhr = hr * ur
    fmr = fhr * ur + 0.5 * g * hr * hr
    if sl >= 0.0:
        return fhl, fml, fhl * vl
    if sr <= 0.0:
        return fhr, fmr, fhr * vr
    inv = 1.0 / (sr - sl)
    fh = (sr * fhl - sl * fhr + sl * sr * (hr - hl)) * inv
    fm = (sr * fml - sl * fmr + sl * sr * (fhr - fhl)) * inv
    # contact speed s* = num / den with den < 0 whenever a side is wet: only its sign matters
    num = sl * hr * (ur - sr) - sr * hl * (ul - sl)
    ft = fh * (vl if num <= 0.0 else vr)
    return fh, fm, ft


@jit_inline
def interior_flux(hl, ul, vl, zl, hr, ur, vr, zr, g):
    """Hydrostatic reconstruction (Audusse et al. 2004) + HLLC: returns mass flux, normal momentum
    flux seen by the left cell, by the right cell, and tangential momentum flux."""
    dz = zr - zl
    # depths at the higher of the two beds, computed from depths so float32 keeps them exact
    if dz >= 0.0:
        hls = hl - dz
        if hls < 0.0:
            hls = hl * 0.0
        hrs = hr
    else:
        hls = hl
        hrs = hr + dz
        if hrs < 0.0:
            hrs = hr * 0.0
    fh, fm, ft = hllc_flux(hls, ul, vl, hrs, ur, vr, g)
    fml = fm + 0.5 * g * (hl * hl - hls * hls)
    fmr = fm + 0.5 * g * (hr * hr - hrs * hrs)
    return fh, fml, fmr, ft


@jit_inline
def edge_flux(code, val, h, un, ut, z, g, n2):
    """Flux through a domain edge face in outward-normal coordinates (``un`` the outward velocity
    of the edge cell): (mass out, normal momentum, tangential momentum out)."""
    zero = h * 0.0
    if code == BC_WALL:
        if h <= 0.0:
            return zero, zero, zero
        fh, fm, ft = hllc_flux(h, un, ut, h, -un, ut, g)
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
        return hllc_flux(h, un, ut, hg, un, ut, g)
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


# ----------------------------------------------------------------------------------------------
# godunov: one forward-Euler stage, fused (slopes, fluxes, update, friction) per block of rows
# ----------------------------------------------------------------------------------------------
@jit
def _godunov_y_slopes(r, h, u, v, z, limiter, hdry, out):
    """y-direction limited differences of row r into out[j, 0:8] (see cell_slopes) (normal = v)."""
    ny, nx = h.shape
    for j in range(nx):
        if r <= 0 or r >= ny - 1 or not (z[r, j] == z[r, j]):
            out[j, :] = 0.0
            continue
        a0, a1, a2, a3, a4, a5, a6, a7 = cell_slopes(h[r - 1, j], v[r - 1, j], u[r - 1, j], z[r - 1, j],
                                     h[r, j], v[r, j], u[r, j], z[r, j],
                                     h[r + 1, j], v[r + 1, j], u[r + 1, j], z[r + 1, j], limiter, hdry)
        out[j, 0] = a0
        out[j, 1] = a1
        out[j, 2] = a2
        out[j, 3] = a3
        out[j, 4] = a4
        out[j, 5] = a5
        out[j, 6] = a6
        out[j, 7] = a7


@jit
def _godunov_x_slopes(r, h, u, v, z, limiter, hdry, out):
    """x-direction limited differences of row r into out[j, 0:8] (see cell_slopes) (normal = u)."""
    nx = h.shape[1]
    out[0, :] = 0.0
    out[nx - 1, :] = 0.0
    for j in range(1, nx - 1):
        if not (z[r, j] == z[r, j]):
            out[j, :] = 0.0
            continue
        a0, a1, a2, a3, a4, a5, a6, a7 = cell_slopes(h[r, j - 1], u[r, j - 1], v[r, j - 1], z[r, j - 1],
                                     h[r, j], u[r, j], v[r, j], z[r, j],
                                     h[r, j + 1], u[r, j + 1], v[r, j + 1], z[r, j + 1], limiter, hdry)
        out[j, 0] = a0
        out[j, 1] = a1
        out[j, 2] = a2
        out[j, 3] = a3
        out[j, 4] = a4
        out[j, 5] = a5
        out[j, 6] = a6
        out[j, 7] = a7


@jit_inline
def _cap_outflow(fh, ft, h_up, cap):
    """Scale an outgoing mass flux (and the momentum it carries) to at most h_up·cap."""
    lim = h_up * cap
    if fh > lim:
        r = lim / fh if fh > 0.0 else fh * 0.0
        return lim, ft * r
    return fh, ft


@jit
def _godunov_x_faces(r, h, u, v, z, n2, sl, bctype, bcval, bflux, g, hdry, cap, out):
    """Fluxes on the x-faces of row r: out[k] = (mass, momentum for the west cell, for the east
    cell, tangential) for face k between cells k-1 and k; k = 0 and nx are the west/east edges."""
    nx = h.shape[1]
    for k in range(nx + 1):
        zero = h[r, 0] * 0.0
        if k == 0 or k == nx:
            j = 0 if k == 0 else nx - 1
            e = 0 if k == 0 else 1
            zc = z[r, j]
            if not (zc == zc):
                out[k, 0] = zero
                out[k, 1] = zero
                out[k, 2] = zero
                out[k, 3] = zero
                bflux[e, r] = zero
                continue
            hc = h[r, j]
            uc = u[r, j]
            vc = v[r, j]
            sgn = -1.0 if k == 0 else 1.0
            fo, fm, fto = edge_flux(bctype[e, r], bcval[e, r], hc, sgn * uc, vc, zc, g, n2[r, j])
            fo, fto = _cap_outflow(fo, fto, hc, cap)
            bflux[e, r] = fo
            out[k, 0] = sgn * fo
            out[k, 1] = fm
            out[k, 2] = fm
            out[k, 3] = sgn * fto
            continue
        zl = z[r, k - 1]
        zr = z[r, k]
        actl = zl == zl
        actr = zr == zr
        if not (actl and actr):
            out[k, 0] = zero
            out[k, 3] = zero
            out[k, 1] = zero
            out[k, 2] = zero
            if actl:
                hc = h[r, k - 1]
                uc = u[r, k - 1]
                _, fm, _ = edge_flux(BC_WALL, zero, hc, uc, zero, zl, g, zero)
                out[k, 1] = fm
            elif actr:
                hc = h[r, k]
                uc = u[r, k]
                _, fm, _ = edge_flux(BC_WALL, zero, hc, -uc, zero, zr, g, zero)
                out[k, 2] = fm
            continue
        h_l = h[r, k - 1]
        h_r = h[r, k]
        # reconstructed face states from the cells' face increments (cell_slopes)
        hl = h_l + sl[k - 1, 0]
        zfl = zl + (sl[k - 1, 1] - sl[k - 1, 0])
        ul = u[r, k - 1] + sl[k - 1, 2]
        vl = v[r, k - 1] + sl[k - 1, 3]
        hr = h_r - sl[k, 4]
        zfr = zr - (sl[k, 5] - sl[k, 4])
        ur = u[r, k] - sl[k, 6]
        vr = v[r, k] - sl[k, 7]
        fh, fml, fmr, ft = interior_flux(hl, ul, vl, zfl, hr, ur, vr, zfr, g)
        if fh > 0.0:
            fh, ft = _cap_outflow(fh, ft, h_l, cap)
        elif fh < 0.0:
            nfh, nft = _cap_outflow(-fh, -ft, h_r, cap)
            fh = -nfh
            ft = -nft
        out[k, 0] = fh
        out[k, 1] = fml
        out[k, 2] = fmr
        out[k, 3] = ft


@jit
def _godunov_y_face(k, h, u, v, z, n2, s_below, s_above, bctype, bcval, bflux, write_edge, g, hdry, cap, out):
    """Fluxes on y-face k (between rows k-1 and k; k = 0 south edge, k = ny north edge):
    out[j] = (mass, v-momentum for the south cell, for the north cell, u-momentum)."""
    ny, nx = h.shape
    for j in range(nx):
        zero = h[0, j] * 0.0
        if k == 0 or k == ny:
            r = 0 if k == 0 else ny - 1
            e = 2 if k == 0 else 3
            zc = z[r, j]
            if not (zc == zc):
                out[j, 0] = zero
                out[j, 1] = zero
                out[j, 2] = zero
                out[j, 3] = zero
                if write_edge:
                    bflux[e, j] = zero
                continue
            hc = h[r, j]
            uc = u[r, j]
            vc = v[r, j]
            sgn = -1.0 if k == 0 else 1.0
            fo, fm, fto = edge_flux(bctype[e, j], bcval[e, j], hc, sgn * vc, uc, zc, g, n2[r, j])
            fo, fto = _cap_outflow(fo, fto, hc, cap)
            if write_edge:
                bflux[e, j] = fo
            out[j, 0] = sgn * fo
            out[j, 1] = fm
            out[j, 2] = fm
            out[j, 3] = sgn * fto
            continue
        zl = z[k - 1, j]
        zr = z[k, j]
        actl = zl == zl
        actr = zr == zr
        if not (actl and actr):
            out[j, 0] = zero
            out[j, 1] = zero
            out[j, 2] = zero
            out[j, 3] = zero
            if actl:
                hc = h[k - 1, j]
                vc = v[k - 1, j]
                _, fm, _ = edge_flux(BC_WALL, zero, hc, vc, zero, zl, g, zero)
                out[j, 1] = fm
            elif actr:
                hc = h[k, j]
                vc = v[k, j]
                _, fm, _ = edge_flux(BC_WALL, zero, hc, -vc, zero, zr, g, zero)
                out[j, 2] = fm
            continue
        h_l = h[k - 1, j]
        h_r = h[k, j]
        hl = h_l + s_below[j, 0]
        zfl = zl + (s_below[j, 1] - s_below[j, 0])
        vl = v[k - 1, j] + s_below[j, 2]
        ul = u[k - 1, j] + s_below[j, 3]
        hr = h_r - s_above[j, 4]
        zfr = zr - (s_above[j, 5] - s_above[j, 4])
        vr = v[k, j] - s_above[j, 6]
        ur = u[k, j] - s_above[j, 7]
        fh, fml, fmr, ft = interior_flux(hl, vl, ul, zfl, hr, vr, ur, zfr, g)
        if fh > 0.0:
            fh, ft = _cap_outflow(fh, ft, h_l, cap)
        elif fh < 0.0:
            nfh, nft = _cap_outflow(-fh, -ft, h_r, cap)
            fh = -nfh
            ft = -nft
        out[j, 0] = fh
        out[j, 1] = fml
        out[j, 2] = fmr
        out[j, 3] = ft


@jit_parallel
def godunov_stage(h, hu, hv, u, v, z, n2, h0, hu0, hv0, bctype, bcval,
                  out_h, out_hu, out_hv, out_u, out_v, bflux, row_speed,
                  slx, sly, fxb, fyb, max_h, max_s2, t_max, arrival,
                  dt, dx, g, wa, wb, limiter, hdry, t_new, arrival_h, track, rows_per_block):
    """One stage of the two-stage (Heun / SSP-RK2) Godunov step. ``u``, ``v`` are the velocities of
    the input state (hu/h, zero where dry), written for the output state into ``out_u``, ``out_v``
    so that no face divides by a depth.

    ``out = wa·U0 + wb·(U + dt·L(U))`` with L the finite-volume operator (MUSCL slopes with the
    given limiter, hydrostatic reconstruction, HLLC) followed by semi-implicit Manning friction
    ``q ← q / (1 + dt·g·n²·|u| / h^(4/3))`` on the updated state. Units: m, s, m² s⁻¹.
    When ``track`` is set the running maxima (depth, speed², their time, arrival time at
    ``arrival_h``) are updated from the output state at ``t_new``. ``row_speed[i]`` receives the
    largest |u|+√(gh) (either direction) of row i of the output state.
    """
    ny, nx = h.shape
    nblocks = (ny + rows_per_block - 1) // rows_per_block
    cap = dx / (4.0 * dt)
    dt_dx = dt / dx
    for b in prange(nblocks):
        r0 = b * rows_per_block
        r1 = min(ny, r0 + rows_per_block)
        sx = slx[b]
        fx = fxb[b]
        # y-slopes of rows r-1, r, r+1 live in slots (row % 3)
        if r0 - 1 >= 0:
            _godunov_y_slopes(r0 - 1, h, u, v, z, limiter, hdry, sly[b, (r0 - 1) % 3])
        _godunov_y_slopes(r0, h, u, v, z, limiter, hdry, sly[b, r0 % 3])
        _godunov_y_face(r0, h, u, v, z, n2, sly[b, (r0 + 2) % 3], sly[b, r0 % 3], bctype, bcval, bflux,
                        r0 == 0, g, hdry, cap, fyb[b, r0 % 2])
        for r in range(r0, r1):
            if r + 1 < ny:
                _godunov_y_slopes(r + 1, h, u, v, z, limiter, hdry, sly[b, (r + 1) % 3])
            fs = fyb[b, r % 2]
            fn = fyb[b, (r + 1) % 2]
            _godunov_y_face(r + 1, h, u, v, z, n2, sly[b, r % 3], sly[b, (r + 1) % 3], bctype, bcval, bflux,
                            r + 1 == ny, g, hdry, cap, fn)
            _godunov_x_slopes(r, h, u, v, z, limiter, hdry, sx)
            _godunov_x_faces(r, h, u, v, z, n2, sx, bctype, bcval, bflux, g, hdry, cap, fx)
            sy = sly[b, r % 3]
            smax = h[r, 0] * 0.0
            for j in range(nx):
                zc = z[r, j]
                if not (zc == zc):
                    continue
                hc = h[r, j]
                dh = fx[j, 0] - fx[j + 1, 0] + fs[j, 0] - fn[j, 0]
                # well-balanced cell source (Audusse et al. 2004, second order): −g·h̄·Δz between the
                # cell's reconstructed faces, h̄ their mean depth
                dqx = (fx[j, 2] - fx[j + 1, 1] + fs[j, 3] - fn[j, 3]
                       - g * (hc + 0.5 * (sx[j, 0] - sx[j, 4])) * ((sx[j, 1] - sx[j, 0]) + (sx[j, 5] - sx[j, 4])))
                dqy = (fs[j, 2] - fn[j, 1] + fx[j, 3] - fx[j + 1, 3]
                       - g * (hc + 0.5 * (sy[j, 0] - sy[j, 4])) * ((sy[j, 1] - sy[j, 0]) + (sy[j, 5] - sy[j, 4])))
                hn = hc + dt_dx * dh
                qx = hu[r, j] + dt_dx * dqx
                qy = hv[r, j] + dt_dx * dqy
                if hn <= hdry:
                    # rounding can leave -1e-18 where a cell drained exactly; nothing to carry
                    if hn < 0.0:
                        hn = hn * 0.0
                    qx = hn * 0.0
                    qy = hn * 0.0
                else:
                    n2c = n2[r, j]
                    if n2c > 0.0:
                        speed = math.sqrt(qx * qx + qy * qy) / hn
                        ri = inv_cbrt(hn)
                        k = dt * g * n2c * speed * (ri * ri * ri * ri)
                        qx = qx / (1.0 + k)
                        qy = qy / (1.0 + k)
                hn = wa * h0[r, j] + wb * hn
                qx = wa * hu0[r, j] + wb * qx
                qy = wa * hv0[r, j] + wb * qy
                if hn <= hdry:
                    qx = hn * 0.0
                    qy = hn * 0.0
                out_h[r, j] = hn
                out_hu[r, j] = qx
                out_hv[r, j] = qy
                uu = hn * 0.0
                vv = hn * 0.0
                if hn > hdry:
                    inv_h = 1.0 / hn
                    uu = qx * inv_h
                    vv = qy * inv_h
                    c = math.sqrt(g * hn)
                    a = max(abs(uu), abs(vv)) + c
                    if a > smax:
                        smax = a
                    if track:
                        s2 = uu * uu + vv * vv
                        if s2 > max_s2[r, j]:
                            max_s2[r, j] = s2
                out_u[r, j] = uu
                out_v[r, j] = vv
                if track:
                    if hn > max_h[r, j]:
                        if hn > arrival_h and not (max_h[r, j] > arrival_h):
                            arrival[r, j] = t_new
                        max_h[r, j] = hn
                        t_max[r, j] = t_new
            row_speed[r] = smax


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
def _inertial_y_row(k, h, qy, z, n2, gdt, gdt_dx, theta, hflow, cap, out):
    """New discharges on the interior y-face row k (between rows k-1 and k) into out[0:nx]."""
    nx = h.shape[1]
    h_s, h_n, z_s, z_n, n2_s, n2_n = h[k - 1], h[k], z[k - 1], z[k], n2[k - 1], n2[k]
    q, q_s, q_n = qy[k], qy[k - 1], qy[k + 1]
    for j in range(nx):
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
def _inertial_continuity_row(h_row, z_row, qx_row, qs_row, qn_row, out_h, max_h, max_s2, t_max, arrival,
                             dt_dx, hdry, t_new, arrival_h, track):
    """Depths of one row from continuity with the new face discharges into ``out_h``; updates the
    running maxima when ``track``; returns the row's largest depth."""
    nx = h_row.size
    # depths are ≥ 0, so their bit patterns order like the numbers: an integer maximum vectorises
    # where a floating-point one would need fast-math
    hmax_bits = np.int64(0)
    for j in range(nx):
        act = z_row[j] == z_row[j]
        hn = h_row[j] + dt_dx * ((qx_row[j] - qx_row[j + 1]) + (qs_row[j] - qn_row[j]))
        hn = max(hn, hn * 0.0)
        hn = hn if act else h_row[j]
        out_h[j] = hn
        hmax_bits = max(hmax_bits, f64_as_i64(np.float64(hn)) if act else np.int64(0))
    if track:
        for j in range(nx):
            if not (z_row[j] == z_row[j]):
                continue
            hn = out_h[j]
            ux = 0.5 * (qx_row[j] + qx_row[j + 1])
            uy = 0.5 * (qs_row[j] + qn_row[j])
            # compare |q|² with max|u|²·h² so that the division happens only on a new maximum
            q2 = ux * ux + uy * uy
            h2 = hn * hn
            if hn > hdry and q2 > max_s2[j] * h2:
                max_s2[j] = q2 / h2
            mh = max_h[j]
            if hn > mh:
                if hn > arrival_h and not (mh > arrival_h):
                    arrival[j] = t_new
                max_h[j] = hn
                t_max[j] = t_new
    return i64_as_f64(hmax_bits)


@jit
def _inertial_y_edge(e, h, qy, z, n2, bctype, bcval, bflux, g, dt, dx, hflow, cap, out):
    """South (e = 2, face row 0) or north (e = 3, face row ny) edge discharges into out; positive
    northwards like every y-face; ``bflux`` gets the outflow."""
    ny, nx = h.shape
    r = 0 if e == 2 else ny - 1
    ri = 1 if e == 2 else ny - 2
    kf = 0 if e == 2 else ny
    sgn = 1.0 if e == 2 else -1.0
    for j in range(nx):
        zc = z[r, j]
        qn = h[r, j] * 0.0
        if zc == zc and bctype[e, j] != BC_WALL:
            zi = z[ri, j] if ny > 1 else zc * np.nan
            hi = h[ri, j] if ny > 1 else h[r, j]
            qn = sgn * _inertial_edge(bctype[e, j], bcval[e, j], h[r, j], zc, sgn * qy[kf, j], hi, zi,
                                      n2[r, j], g, dt, dx, hflow, cap)
        out[j] = qn
        bflux[e, j] = -sgn * qn


@jit_parallel
def inertial_step(h, qx, qy, z, n2, bctype, bcval, out_h, out_qx, out_qy, bflux, row_hmax, qsb,
                  max_h, max_s2, t_max, arrival,
                  dt, dx, g, theta, hflow, hdry, t_new, arrival_h, track, rows_per_block):
    """One local-inertial step: new face discharges ``out_qx`` (ny, nx+1) and ``out_qy`` (ny+1, nx)
    (m² s⁻¹) from the old state, then depths ``out_h`` from continuity with the new discharges.

    Water-surface gradients use depth differences plus bed differences (no absolute level); the
    flow depth is max(η) − max(z) (Bates et al. 2010). Edge faces follow ``bctype``/``bcval``;
    ``bflux`` gets the mass flux leaving through each edge cell (m² s⁻¹). ``row_hmax[i]`` is the
    deepest wet cell of row i after the step. ``qsb`` (nblocks, nx) is scratch for the y-face
    south of each block (owned and written by the block below, recomputed identically here).
    """
    ny, nx = h.shape
    nblocks = (ny + rows_per_block - 1) // rows_per_block
    cap = dx / (4.0 * dt)
    dt_dx = dt / dx
    gdt = g * dt
    gdt_dx = g * dt / dx
    for b in prange(nblocks):
        r0 = b * rows_per_block
        r1 = min(ny, r0 + rows_per_block)
        if r0 == 0:
            _inertial_y_edge(2, h, qy, z, n2, bctype, bcval, bflux, g, dt, dx, hflow, cap, out_qy[0])
            qs_first = out_qy[0]
        else:
            _inertial_y_row(r0, h, qy, z, n2, gdt, gdt_dx, theta, hflow, cap, qsb[b])
            qs_first = qsb[b]
        for r in range(r0, r1):
            # y-faces north of row r
            if r + 1 < ny:
                _inertial_y_row(r + 1, h, qy, z, n2, gdt, gdt_dx, theta, hflow, cap, out_qy[r + 1])
            else:
                _inertial_y_edge(3, h, qy, z, n2, bctype, bcval, bflux, g, dt, dx, hflow, cap, out_qy[ny])
            # x-faces of row r: west edge, interior, east edge
            for e in range(2):
                j = 0 if e == 0 else nx - 1
                ji = 1 if e == 0 else nx - 2
                kf = 0 if e == 0 else nx
                sgn = 1.0 if e == 0 else -1.0
                zc = z[r, j]
                qn = h[r, j] * 0.0
                if zc == zc and bctype[e, r] != BC_WALL:
                    zi = z[r, ji] if nx > 1 else zc * np.nan
                    hi = h[r, ji] if nx > 1 else h[r, j]
                    qn = sgn * _inertial_edge(bctype[e, r], bcval[e, r], h[r, j], zc, sgn * qx[r, kf], hi, zi,
                                              n2[r, j], g, dt, dx, hflow, cap)
                out_qx[r, kf] = qn
                bflux[e, r] = -sgn * qn
            _inertial_x_row(h[r], z[r], n2[r], qx[r], gdt, gdt_dx, theta, hflow, cap, out_qx[r])
            # continuity for row r with the new discharges
            qs_row = qs_first if r == r0 else out_qy[r]
            row_hmax[r] = _inertial_continuity_row(h[r], z[r], out_qx[r], qs_row, out_qy[r + 1], out_h[r], max_h[r],
                                                   max_s2[r], t_max[r], arrival[r], dt_dx, hdry, t_new, arrival_h,
                                                   track)


# ----------------------------------------------------------------------------------------------
# helpers for the orchestration (serial, small)
# ----------------------------------------------------------------------------------------------
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
