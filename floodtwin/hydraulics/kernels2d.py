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

from floodtwin.hydraulics._codes import BC_FREE, BC_INFLOW, BC_NORMAL, BC_STAGE, BC_WALL  # noqa: F401

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
def edge_flux(code, val, h, un, ut, z, g, n2):
    """Flux through a domain edge face in outward-normal coordinates (``un`` the outward velocity
    of the edge cell): (mass out, normal momentum, tangential momentum out)."""
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


# ----------------------------------------------------------------------------------------------
# godunov: one forward-Euler stage, fused (slopes, fluxes, update, friction) per block of rows
#
# Layout: per block of rows, the limited increments of a row live in (8, nx) arrays and the face
# fluxes in (4, nx + 1) / (4, nx) arrays (structure of arrays), so that each pass runs along
# contiguous memory. The interior loops are branch-free (every case computed, the result chosen by
# selects) so that LLVM vectorises them; the rare faces next to a cell outside the domain (NaN
# bed) and the domain edges are overwritten afterwards by small scalar loops.
# ----------------------------------------------------------------------------------------------
@jit_inline
def _limiter_params(limiter):
    """(p, q, wa, wb, vanleer) of the limiter family used by :func:`_face_pair`."""
    if limiter == LIMITER_MINMOD:
        return 1.0, 1.0, 1e30, 1e30, False
    if limiter == LIMITER_MC:
        return 2.0, 2.0, 0.5, 0.5, False
    if limiter == LIMITER_SUPERBEE:
        return 2.0, 1.0, 1e30, 1e30, False
    if limiter == LIMITER_KOREN:
        return 2.0, 2.0, 2.0 / 3.0, 1.0 / 3.0, False
    if limiter == LIMITER_VANLEER:
        return 1.0, 1.0, 1e30, 1e30, True
    return 0.0, 0.0, 0.0, 0.0, False


@jit_inline
def _face_pair(dm, dp, lp, lq, wa, wb, vanleer):
    """Face increments (aR, aL) of a cell from its backward and forward differences ``dm``, ``dp``:
    the east/north face value is c + aR, the west/south one c − aL. Branch-free for every limiter:
    with a = |dm|, b = |dp|,
    aR = ½·max(min(p·a, q·b, wa·a + wb·b), min(q·a, p·b, wa·a + wb·b)) and aL the same with wa, wb
    swapped gives minmod (p = q = 1), MC (p = q = 2, w = ½), superbee (p = 2, q = 1), Koren
    (p = q = 2, w = ⅔, ⅓: third order in smooth regions, Koren 1993); van Leer is ab/(a + b).
    Zero where dm·dp ≤ 0. Every face value stays between the neighbours, so reconstructed depths
    stay ≥ 0."""
    a = abs(dm)
    b = abs(dp)
    s_r = wa * a + wb * b
    s_l = wb * a + wa * b
    ar = 0.5 * max(min(lp * a, lq * b, s_r), min(lq * a, lp * b, s_r))
    al = 0.5 * max(min(lp * a, lq * b, s_l), min(lq * a, lp * b, s_l))
    vl = a * b / (a + b)
    ar = vl if vanleer else ar
    al = vl if vanleer else al
    zero = dm * 0.0
    ar = ar if dm > 0.0 else -ar
    al = al if dm > 0.0 else -al
    same = dm * dp > 0.0
    return (ar if same else zero), (al if same else zero)


@jit_inline
def _face_pair_mc(dm, dp):
    """:func:`_face_pair` of the monotonised-central limiter (the default), which is symmetric:
    aR = aL = min(a, b, (a + b)/4) with the sign of dm."""
    a = abs(dm)
    b = abs(dp)
    s = min(min(a, b), 0.25 * (a + b))
    s = s if dm > 0.0 else -s
    return (s if dm * dp > 0.0 else dm * 0.0)


@jit_inline
def _increments(hm, unm, utm, zm, hc, unc, utc, zc, hp, unp, utp, zp, ok, lp, lq, wa, wb, vanleer, mc, hdry):
    """Limited face increments of one cell along one direction: (aR_h, aR_η, aR_un, aR_ut, aL_h,
    aL_η, aL_un, aL_ut) of depth, water level, normal and tangential velocity (see
    :func:`_face_pair`; ``mc`` and ``vanleer`` are constants at each call site, so LLVM keeps only
    the limiter in use). Zero (first order) unless ``ok`` and the cell and both neighbours are
    active and wet, which keeps wetting fronts and lakes against dry ground exact."""
    if mc:
        rh = lh = _face_pair_mc(hc - hm, hp - hc)
        re_ = le = _face_pair_mc((hc - hm) + (zc - zm), (hp - hc) + (zp - zc))
        ru = lu = _face_pair_mc(unc - unm, unp - unc)
        rt = lt = _face_pair_mc(utc - utm, utp - utc)
    else:
        rh, lh = _face_pair(hc - hm, hp - hc, lp, lq, wa, wb, vanleer)
        re_, le = _face_pair((hc - hm) + (zc - zm), (hp - hc) + (zp - zc), lp, lq, wa, wb, vanleer)
        ru, lu = _face_pair(unc - unm, unp - unc, lp, lq, wa, wb, vanleer)
        rt, lt = _face_pair(utc - utm, utp - utc, lp, lq, wa, wb, vanleer)
    # NaN beds compare false: a neighbour outside the domain makes the cell first order
    ok = ok and (zm == zm) and (zc == zc) and (zp == zp) and hm > hdry and hc > hdry and hp > hdry
    zero = hc * 0.0
    return ((rh if ok else zero), (re_ if ok else zero), (ru if ok else zero), (rt if ok else zero),
            (lh if ok else zero), (le if ok else zero), (lu if ok else zero), (lt if ok else zero))


#: velocity drop across a cell (m/s), as a fraction of its celerity, that marks it as a shock
#: for :func:`_sharpen_shock`: far above the differences of smooth flow at grid scale
SHOCK_DETECT_FRACTION = 0.05
#: 1 / the Courant number below which a shock's sharpening fades out (to none for a standing jump)
STANDING_WAVE_RAMP = 10.0
#: depth (m) below which no cell is sharpened (a shock in thinner water keeps plain MUSCL-Hancock)
SHARPEN_MIN_DEPTH_M = 0.05


@jit_inline
def _sharpen_limited(up, dn, nu):
    """Face increment of a wave moving at Courant number ``nu`` (0 < nu < 1) from its upwind and
    downwind differences ``up``, ``dn``: the largest the one-step scheme allows while it stays TVD
    for that Courant number, min((1 − ν)/ν·|up|, |dn|) with the sign of ``dn`` (Roe's "ultrabee").
    Zero at an extremum."""
    a = min((1.0 - nu) / nu * abs(up), abs(dn))
    a = a if dn > 0.0 else -a
    return a if up * dn > 0.0 else up * 0.0


@jit_inline
def _sharpen_shock(hm, unm, zm, hc, unc, zc, hp, unp, zp, ok, hi_eta, hi_un, lo_eta, lo_un, dt_dx, g, hs, cc, ih, ic):
    """Corrections (to the high-side face's water level and normal velocity, then the low side's)
    of the MUSCL-Hancock face values of a cell in a shock, along one direction.

    MUSCL-Hancock with the MC limiter smears a hydraulic jump over three cells at Courant number
    0.45 (Stoker L1 6.1e-4 m on the SWASHES grid, half of it in the jump). Where the flow
    converges (normal velocity falling by more than :data:`SHOCK_DETECT_FRACTION` of the celerity
    across the cell) the face values are split into the two acoustic waves, w± = ½(η/h ± u/c)
    linearised at the cell, and each wave whose characteristics converge there (λ± = u ± c
    falling across the cell) moves towards the face value of :func:`_sharpen_limited` on its
    downwind face and none on its upwind face (the jump is then carried over one cell, as the
    Courant number allows); the other wave, and the tangential velocity, keep the MC values. The
    move is weighted by ramps, not switched: in the velocity drop (from one to two times the
    detection fraction), in the convergence of λ, and in the wave's Courant number (none for a
    standing jump, full from 0.1): the face values stay continuous functions of the state, so that
    float32 and float64 runs, or a rounding difference, do not flip cells between two schemes. The
    wave amplitudes use the water level, so a lake at rest (no slope of η or u) is left exactly as
    it is, and the depth moves with the level (the face's bed keeps its form). Zero wherever the
    flow does not converge: smooth flow, rarefactions, wetting fronts (``ok`` false) and water
    shallower than :data:`SHARPEN_MIN_DEPTH_M` keep MUSCL-Hancock. ``hs`` = max(h, h_dry),
    ``cc`` = √(g·hs), ``ih`` = 1/hs and ``ic`` = 1/cc come from the caller (shared by both
    directions). Measured effect: Stoker L1 6.1e-4 → 4.9e-4 m, half the error of the jump gone
    (tests/verification/test_dam_break.py)."""
    zero = hc * 0.0
    du = unm - unp
    # λ± drop across the cell, with c_m − c_p ≈ g (h_m − h_p) / (2c): only its sign is used
    dc = 0.5 * g * (hm - hp) * ic
    # not in thin water: the linearisation turns a level step over a thin layer into a velocity of
    # g·Δη/c, which a film cannot carry (it collapsed the time step on Thacker's shoreline)
    ok = ok and (zm == zm) and (zc == zc) and (zp == zp) and min(hm, hc, hp) > SHARPEN_MIN_DEPTH_M
    # weights that ramp from 0 to 1 (see above)
    ramp = ic * (1.0 / SHOCK_DETECT_FRACTION)
    w_shock = min(max(du * ramp - 1.0, 0.0), 1.0)
    em = (hc + zc) - (hm + zm)
    ep = (hp + zp) - (hc + zc)
    dum = unc - unm
    dup = unp - unc
    d_hi_eta = zero
    d_hi_un = zero
    d_lo_eta = zero
    d_lo_un = zero
    for k in range(2):
        sg = 1.0 if k == 0 else -1.0
        nu = (unc + sg * cc) * dt_dx
        right = nu > 0.0
        # a standing jump is kept sharp by the upwind flux already; the ramp in ν keeps the
        # sharpened face from jumping from one side to the other as the wave turns
        w = w_shock * min(max((du + sg * dc) * ramp, 0.0), 1.0) * min(abs(nu) * STANDING_WAVE_RAMP, 1.0)
        # wave amplitudes of the current face increments and of the cell's differences
        b_hi = 0.5 * (hi_eta * ih + sg * hi_un * ic)
        b_lo = 0.5 * (lo_eta * ih + sg * lo_un * ic)
        wm = 0.5 * (em * ih + sg * dum * ic)
        wp = 0.5 * (ep * ih + sg * dup * ic)
        nu_abs = min(max(abs(nu), 1e-6), 1.0 - 1e-6)
        a = _sharpen_limited(wm if right else wp, wp if right else wm, nu_abs)
        new_hi = a if right else zero
        new_lo = zero if right else -a
        # selected last: outside the domain or by a dry cell the operands may be NaN
        c_hi = (w * (new_hi - b_hi)) if ok else zero
        c_lo = (w * (new_lo - b_lo)) if ok else zero
        # back to (η, u): r± = (h, ±c)
        d_hi_eta += hs * c_hi
        d_hi_un += sg * cc * c_hi
        d_lo_eta += hs * c_lo
        d_lo_un += sg * cc * c_lo
    return d_hi_eta, d_hi_un, d_lo_eta, d_lo_un


@jit_inline
def _prepare_cell(hw, uw, vw, zw, he, ue, ve, ze, hs, us, vs, zs, hn, un, vn, zn, hc, uc, vc, zc, x_ok, y_ok,
                  predict, sharpen, half_dt_dx, g, lim, vanleer, mc, hdry):
    """x and y increments (8 + 8, see :func:`_increments`) of a cell from its west, east, south and
    north neighbours, advanced by the MUSCL-Hancock predictor when ``predict``:
    Δh = −½Δt (u h_x + v h_y + h (u_x + v_y)), Δu = −½Δt (u u_x + v u_y + g η_x),
    Δv = −½Δt (u v_x + v v_y + g η_y) (Toro 2001, §14.4) added to every face value of the cell.
    Water level and depth move together, so the faces' bed and the well-balanced source keep their
    form, and a lake at rest (no slope of u, v or η) stays at rest. Scalars only: an inlined
    function with array arguments would put reference counting into the vectorised loop (and
    at most 30 arguments: numba cannot inline a call with more). ``lim`` = (p, q, wa, wb)."""
    lp, lq, wa, wb = lim
    x0, x1, x2, x3, x4, x5, x6, x7 = _increments(hw, uw, vw, zw, hc, uc, vc, zc, he, ue, ve, ze, x_ok,
                                                 lp, lq, wa, wb, vanleer, mc, hdry)
    y0, y1, y2, y3, y4, y5, y6, y7 = _increments(hs, vs, us, zs, hc, vc, uc, zc, hn, vn, un, zn, y_ok,
                                                 lp, lq, wa, wb, vanleer, mc, hdry)
    if predict:
        # differences across the cell (east/north face minus west/south face) = Δx · gradient
        dhx = -half_dt_dx * (uc * (x0 + x4) + hc * (x2 + x6))
        dhy = -half_dt_dx * (vc * (y0 + y4) + hc * (y2 + y6))
        dux = -half_dt_dx * (uc * (x2 + x6) + g * (x1 + x5))
        dvy = -half_dt_dx * (vc * (y2 + y6) + g * (y1 + y5))
        dh = dhx + dhy
        du = dux - half_dt_dx * vc * (y3 + y7)
        dv = dvy - half_dt_dx * uc * (x3 + x7)
        if not sharpen:
            return (x0 + dh, x1 + dh, x2 + du, x3 + dv, x4 - dh, x5 - dh, x6 - du, x7 - dv,
                    y0 + dh, y1 + dh, y2 + dv, y3 + du, y4 - dh, y5 - dh, y6 - dv, y7 - du)
        # a shock along x (y) is sharpened on the face values of the x (y) terms alone; the cell's
        # celerity and reciprocals are shared by both directions (one sqrt, one division)
        h_pos = max(hc, hdry)
        cc = math.sqrt(g * h_pos)
        ic = 1.0 / cc
        ih = g * ic * ic
        ex, eux, wx, wux = _sharpen_shock(hw, uw, zw, hc, uc, zc, he, ue, ze, x_ok, x1 + dhx, x2 + dux,
                                          dhx - x5, dux - x6, 2.0 * half_dt_dx, g, h_pos, cc, ih, ic)
        ny_, nvy, sy_, svy = _sharpen_shock(hs, vs, zs, hc, vc, zc, hn, vn, zn, y_ok, y1 + dhy, y2 + dvy,
                                            dhy - y5, dvy - y6, 2.0 * half_dt_dx, g, h_pos, cc, ih, ic)
        return (x0 + dh + ex, x1 + dh + ex, x2 + du + eux, x3 + dv, x4 - dh - wx, x5 - dh - wx, x6 - du - wux,
                x7 - dv,
                y0 + dh + ny_, y1 + dh + ny_, y2 + dv + nvy, y3 + du, y4 - dh - sy_, y5 - dh - sy_, y6 - dv - svy,
                y7 - du)
    return x0, x1, x2, x3, x4, x5, x6, x7, y0, y1, y2, y3, y4, y5, y6, y7


#: columns per span of a row that :func:`_span_may_shock` tests before it sharpens the span
SHARPEN_SPAN = 64


@jit_inline
def _span_may_shock(h_s, v_s, h_c, u_c, h_n, v_n, g, hdry):
    """False only if no interior cell of the views (columns 1…n-2 of views one column wider than
    the span on each side) can be sharpened by :func:`_sharpen_shock`: none has a velocity drop
    above 0.9 × :data:`SHOCK_DETECT_FRACTION` of its celerity (in either direction, in water
    deeper than :data:`SHARPEN_MIN_DEPTH_M`). The 10 % margin and the tests left out (domain
    edges, NaN beds) make it a superset of the cells whose sharpening weight is above zero, so a
    span that fails it gets exactly what the sharpening would give there (corrections of exactly
    zero). No sqrt (the test is on the squared drop), no min() (booleans combined with & and |),
    and the loop starts at a constant, on views of the span: 1.2 ns a cell (with min() and a
    loop from a run-time start over the whole row, 6.2 ns, about what the sharpening it skipped
    had cost)."""
    k = (0.9 * SHOCK_DETECT_FRACTION) ** 2 * g
    n = 0
    for j in range(1, h_c.size - 1):
        hc = h_c[j]
        dux = u_c[j - 1] - u_c[j + 1]
        duy = v_s[j] - v_n[j]
        deep = hc > SHARPEN_MIN_DEPTH_M
        deep_x = deep & (h_c[j - 1] > SHARPEN_MIN_DEPTH_M) & (h_c[j + 1] > SHARPEN_MIN_DEPTH_M)
        deep_y = deep & (h_s[j] > SHARPEN_MIN_DEPTH_M) & (h_n[j] > SHARPEN_MIN_DEPTH_M)
        k_h = k * max(hc, hdry)
        n += ((dux > 0.0) & (dux * dux > k_h) & deep_x) | ((duy > 0.0) & (duy * duy > k_h) & deep_y)
    return n > 0


@jit_inline
def _prepare_line_with(h_s, u_s, v_s, z_s, h_c, u_c, v_c, z_c, h_n, u_n, v_n, z_n, y_ok, predict, sharpen,
                       half_dt_dx, g, lp, lq, wa, wb, vanleer, mc, hdry, sx, sy, lo, hi):
    """:func:`_prepare_cell` along a row: the interior columns lo…hi-1 (1 ≤ lo, hi ≤ nx − 1) in a
    branch-free loop that LLVM vectorises (``sharpen``, ``mc`` and ``vanleer`` constants at the
    call site), then, if lo = 1, the first and last cell (no x neighbour: first order in x, and
    always sharpened)."""
    nx = h_c.size
    for j in range(lo, hi):
        x0, x1, x2, x3, x4, x5, x6, x7, y0, y1, y2, y3, y4, y5, y6, y7 = _prepare_cell(
            h_c[j - 1], u_c[j - 1], v_c[j - 1], z_c[j - 1], h_c[j + 1], u_c[j + 1], v_c[j + 1], z_c[j + 1],
            h_s[j], u_s[j], v_s[j], z_s[j], h_n[j], u_n[j], v_n[j], z_n[j], h_c[j], u_c[j], v_c[j], z_c[j],
            True, y_ok, predict, sharpen, half_dt_dx, g, (lp, lq, wa, wb), vanleer, mc, hdry)
        sx[0, j] = x0
        sx[1, j] = x1
        sx[2, j] = x2
        sx[3, j] = x3
        sx[4, j] = x4
        sx[5, j] = x5
        sx[6, j] = x6
        sx[7, j] = x7
        sy[0, j] = y0
        sy[1, j] = y1
        sy[2, j] = y2
        sy[3, j] = y3
        sy[4, j] = y4
        sy[5, j] = y5
        sy[6, j] = y6
        sy[7, j] = y7
    for e in range(2 if lo == 1 else 0):
        j = 0 if e == 0 else nx - 1
        inc = _prepare_cell(h_c[j], u_c[j], v_c[j], z_c[j], h_c[j], u_c[j], v_c[j], z_c[j],
                            h_s[j], u_s[j], v_s[j], z_s[j], h_n[j], u_n[j], v_n[j], z_n[j],
                            h_c[j], u_c[j], v_c[j], z_c[j], False, y_ok, predict, True, half_dt_dx, g,
                            (lp, lq, wa, wb), vanleer, mc, hdry)
        _put_increments(inc, j, sx, sy)


@jit
def _sharpen_span(h_s, u_s, v_s, z_s, h_c, u_c, v_c, z_c, h_n, u_n, v_n, z_n, y_ok, half_dt_dx, g,
                  lp, lq, wa, wb, vanleer, mc, hdry, sx, sy, lo, hi):
    """:func:`_prepare_line_with` of columns lo…hi-1 (1 ≤ lo, hi ≤ nx − 1) with the predictor and
    shock sharpening, the limiter family chosen at run time: a separate function, called only
    for the spans where :func:`_span_may_shock` finds a shock, so that the row loops stay free
    of the sharpening and numba compiles this copy once, not once per limiter family."""
    _prepare_line_with(h_s, u_s, v_s, z_s, h_c, u_c, v_c, z_c, h_n, u_n, v_n, z_n, y_ok, True, True,
                       half_dt_dx, g, lp, lq, wa, wb, vanleer, mc, hdry, sx, sy, lo, hi)


@jit
def _put_increments(inc, j, sx, sy):
    """Write the 16 values of :func:`_prepare_cell` into column j of ``sx``, ``sy``."""
    for k in range(8):
        sx[k, j] = inc[k]
        sy[k, j] = inc[8 + k]


@jit
def _godunov_prepare_row(r, lo, hi, h, u, v, z, limiter, hdry, predict, half_dt_dx, g, sx, sy):
    """Limited x and y increments of columns lo…hi-1 of row r into ``sx``, ``sy`` (8, ≥ hi − lo),
    advanced by the Hancock predictor when ``predict``; first order across the domain edges (and
    across the window's ends, which the caller keeps dry). One inlined copy of the row loop per
    limiter family (MC, van Leer, the min/max family), each with its constants folded."""
    ny = h.shape[0]
    y_ok = 0 < r < ny - 1
    rs = r - 1 if y_ok else r
    rn = r + 1 if y_ok else r
    h_s, u_s, v_s, z_s = h[rs, lo:hi], u[rs, lo:hi], v[rs, lo:hi], z[rs, lo:hi]
    h_c, u_c, v_c, z_c = h[r, lo:hi], u[r, lo:hi], v[r, lo:hi], z[r, lo:hi]
    h_n, u_n, v_n, z_n = h[rn, lo:hi], u[rn, lo:hi], v[rn, lo:hi], z[rn, lo:hi]
    lp, lq, wa, wb, vanleer = _limiter_params(limiter)
    mc = limiter == LIMITER_MC
    nx = hi - lo
    if mc:
        _prepare_line_with(h_s, u_s, v_s, z_s, h_c, u_c, v_c, z_c, h_n, u_n, v_n, z_n, y_ok,
                           predict, False, half_dt_dx, g, lp, lq, wa, wb, False, True, hdry, sx, sy, 1, nx - 1)
    elif vanleer:
        _prepare_line_with(h_s, u_s, v_s, z_s, h_c, u_c, v_c, z_c, h_n, u_n, v_n, z_n, y_ok,
                           predict, False, half_dt_dx, g, lp, lq, wa, wb, True, False, hdry, sx, sy, 1, nx - 1)
    else:
        _prepare_line_with(h_s, u_s, v_s, z_s, h_c, u_c, v_c, z_c, h_n, u_n, v_n, z_n, y_ok,
                           predict, False, half_dt_dx, g, lp, lq, wa, wb, False, False, hdry, sx, sy, 1, nx - 1)
    # the interior cells again, sharpened, in the spans with a shock (a few cells of a row: the
    # sharpening, a sqrt and five divisions per cell, cost a third of the step where the row
    # loops applied it everywhere)
    if predict:
        for s0 in range(1, nx - 1, SHARPEN_SPAN):
            s1 = min(s0 + SHARPEN_SPAN, nx - 1)
            if _span_may_shock(h_s[s0 - 1:s1 + 1], v_s[s0 - 1:s1 + 1], h_c[s0 - 1:s1 + 1], u_c[s0 - 1:s1 + 1],
                               h_n[s0 - 1:s1 + 1], v_n[s0 - 1:s1 + 1], g, hdry):
                _sharpen_span(h_s, u_s, v_s, z_s, h_c, u_c, v_c, z_c, h_n, u_n, v_n, z_n, y_ok, half_dt_dx, g,
                              lp, lq, wa, wb, vanleer and not mc, mc, hdry, sx, sy, s0, s1)


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


@jit_inline
def _cap_outflow(fh, ft, h_up, cap):
    """Scale an outgoing mass flux (and the momentum it carries) to at most h_up·cap."""
    lim = h_up * cap
    if fh > lim:
        r = lim / fh if fh > 0.0 else fh * 0.0
        return lim, ft * r
    return fh, ft


@jit_inline
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


@jit_inline
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


@jit_inline
def _track_cell(act, hn, s2, mh, ms2, tm, ta, t_new, arrival_h, hdry):
    """New (max depth, max speed², time of max depth, arrival time) of one cell given its new depth
    ``hn`` and speed² ``s2``. Written as selects and stored unconditionally by the callers: a
    conditional store vectorises to a masked store, which measured 40 ns per cell on AMD Zen 4."""
    new_max = act and hn > mh
    arrived = new_max and hn > arrival_h and not (mh > arrival_h)
    faster = act and hn > hdry and s2 > ms2
    return (hn if new_max else mh), (s2 if faster else ms2), (t_new if new_max else tm), (t_new if arrived else ta)


#: cells per chunk of the running-maxima update: a chunk with no new maximum is only read
TRACK_CHUNK = 64


@jit
def _track_row(z_row, h_row, u_row, v_row, max_h, max_s2, t_max, arrival, t_new, arrival_h, hdry):
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
            new = (z_row[i] == z_row[i]) & ((hn > max_h[i]) | ((hn > hdry) & (u * u + v * v > max_s2[i])))
            changed = max(changed, 1 if new else 0)
        if changed:
            for j in range(m):
                i = c0 + j
                u = u_row[i]
                v = v_row[i]
                max_h[i], max_s2[i], t_max[i], arrival[i] = _track_cell(
                    z_row[i] == z_row[i], h_row[i], u * u + v * v, max_h[i], max_s2[i], t_max[i], arrival[i],
                    t_new, arrival_h, hdry)


@jit_parallel
def godunov_stage(h, hu, hv, u, v, z, n2, h0, hu0, hv0, bctype, bcval,
                  out_h, out_hu, out_hv, out_u, out_v, bflux, row_speed, row_wet_lo, row_wet_hi, block_lo, block_hi,
                  slx, sly, fxb, fyb, max_h, max_s2, t_max, arrival,
                  dt, dx, g, wa, wb, limiter, hdry, t_new, arrival_h, track, predict, rows_per_block):
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
    set the running maxima (depth, speed², their time, arrival time at ``arrival_h``) are updated
    from the output state at ``t_new``. ``row_speed[i]`` receives the largest |u|+√(gh) (either
    direction) of row i of the output state, ``row_wet_lo[i]``/``row_wet_hi[i]`` its first and
    one-past-last column holding water (nx, 0 if none). Scratch per block b: ``slx[b]``, ``sly[b]``
    (3, 8, nx) rings of the x and y increments of rows r-1, r, r+1 (slot row % 3), ``fxb[b]``
    (4, nx + 1), ``fyb[b]`` (2, 4, nx) (slot face % 2).
    """
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
                           max_s2[r, lo:hi], t_max[r, lo:hi], arrival[r, lo:hi], t_new, arrival_h, hdry)


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
def _inertial_continuity_row(h_row, z_row, qx_row, qs_row, qn_row, out_h, max_h, max_s2, t_max, arrival,
                             dt_dx, hdry, t_new, arrival_h, track):
    """Depths of one row from continuity with the new face discharges into ``out_h``; updates the
    running maxima when ``track``; returns the row's largest depth and its first and one-past-last
    column holding water."""
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
        # chunk by chunk as in _track_row: only a chunk with a new maximum is written
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
                # |q|² > max|u|²·h² (no division in the search); bitwise: no short-circuit branch
                new = (z_row[i] == z_row[i]) & ((hn > max_h[i]) | ((hn > hdry) & (ux * ux + uy * uy > max_s2[i] * hn * hn)))
                changed = max(changed, 1 if new else 0)
            if changed:
                for j in range(m):
                    i = c0 + j
                    hn = out_h[i]
                    # |q|/h only for a new maximum would need a branch; dividing every cell vectorises
                    h_safe = hn if hn > hdry else hn * 0.0 + 1.0
                    ux = 0.5 * (qx_row[i] + qx_row[i + 1]) / h_safe
                    uy = 0.5 * (qs_row[i] + qn_row[i]) / h_safe
                    max_h[i], max_s2[i], t_max[i], arrival[i] = _track_cell(
                        z_row[i] == z_row[i], hn, ux * ux + uy * uy, max_h[i], max_s2[i], t_max[i], arrival[i],
                        t_new, arrival_h, hdry)
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
def inertial_step(h, qx, qy, z, n2, bctype, bcval, out_h, out_qx, out_qy, bflux, row_hmax, row_wet_lo, row_wet_hi,
                  block_lo, block_hi, qsb, max_h, max_s2, t_max, arrival,
                  dt, dx, g, theta, hflow, hdry, t_new, arrival_h, track, rows_per_block):
    """One local-inertial step: new face discharges ``out_qx`` (ny, nx+1) and ``out_qy`` (ny+1, nx)
    (m² s⁻¹) from the old state, then depths ``out_h`` from continuity with the new discharges.

    Water-surface gradients use depth differences plus bed differences (no absolute level); the
    flow depth is max(η) − max(z) (Bates et al. 2010). Edge faces follow ``bctype``/``bcval``;
    ``bflux`` (zero on entry) gets the mass flux leaving through each edge cell (m² s⁻¹).
    ``row_hmax[i]`` is the deepest wet cell of row i after the step, ``row_wet_lo[i]``,
    ``row_wet_hi[i]`` its first and one-past-last column holding water (nx, 0 if none). Block b
    of rows is computed over columns ``block_lo[b]``…``block_hi[b]``-1 only, as in
    :func:`godunov_stage`. ``qsb`` (nblocks, nx) is scratch for the y-face south of each block
    (owned and written by the block below, recomputed identically here).
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
        lo = block_lo[b]
        hi = block_hi[b]
        if hi <= lo:
            for r in range(r0, r1):
                row_hmax[r] = 0.0
                row_wet_lo[r] = nx
                row_wet_hi[r] = 0
            continue
        if r0 == 0:
            _inertial_y_edge(2, lo, hi, h, qy, z, n2, bctype, bcval, bflux, g, dt, dx, hflow, cap, out_qy[0])
            qs_first = out_qy[0, lo:hi]
        else:
            _inertial_y_row(r0, lo, hi, h, qy, z, n2, gdt, gdt_dx, theta, hflow, cap, qsb[b, lo:hi])
            qs_first = qsb[b, lo:hi]
        for r in range(r0, r1):
            # y-faces north of row r
            if r + 1 < ny:
                _inertial_y_row(r + 1, lo, hi, h, qy, z, n2, gdt, gdt_dx, theta, hflow, cap, out_qy[r + 1, lo:hi])
            else:
                _inertial_y_edge(3, lo, hi, h, qy, z, n2, bctype, bcval, bflux, g, dt, dx, hflow, cap, out_qy[ny])
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
            _inertial_x_row(h[r, lo:hi], z[r, lo:hi], n2[r, lo:hi], qx[r, lo:hi + 1], gdt, gdt_dx, theta, hflow, cap,
                            out_qx[r, lo:hi + 1])
            # continuity for row r with the new discharges
            qs_row = qs_first if r == r0 else out_qy[r, lo:hi]
            hmax, wlo, whi = _inertial_continuity_row(
                h[r, lo:hi], z[r, lo:hi], out_qx[r, lo:hi + 1], qs_row, out_qy[r + 1, lo:hi], out_h[r, lo:hi],
                max_h[r, lo:hi], max_s2[r, lo:hi], t_max[r, lo:hi], arrival[r, lo:hi], dt_dx, hdry, t_new,
                arrival_h, track)
            row_hmax[r] = hmax
            row_wet_lo[r] = lo + wlo if whi > 0 else nx
            row_wet_hi[r] = lo + whi


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
