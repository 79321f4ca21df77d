"""MUSCL reconstruction of the Godunov scheme: the limiters, the limited increments of a row, the
MUSCL-Hancock half-step prediction of the face states and the shock sharpening.

Part of :mod:`floodtwin.hydraulics.kernels2d` (split out of ``kernels2d.py`` by issue 13). Helpers
called from other kernels take positional arguments only: numba cannot bind a keyword-only
parameter in a call between two jitted functions ("Cannot bind ... to signature").
"""

from __future__ import annotations

import math

from floodtwin.hydraulics._jit import jit, jit_inline

__all__ = [
    "LIMITER_KOREN", "LIMITER_MC", "LIMITER_MINMOD", "LIMITER_NONE", "LIMITER_SUPERBEE", "LIMITER_VANLEER",
    "SHARPEN_MIN_DEPTH_M", "SHARPEN_SPAN", "SHOCK_DETECT_FRACTION", "STANDING_WAVE_RAMP",
]

LIMITER_NONE = 0
LIMITER_MINMOD = 1
LIMITER_VANLEER = 2
LIMITER_MC = 3
LIMITER_SUPERBEE = 4
LIMITER_KOREN = 5


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


@jit
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


@jit
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


@jit
def _sharpen_limited(up, dn, nu):
    """Face increment of a wave moving at Courant number ``nu`` (0 < nu < 1) from its upwind and
    downwind differences ``up``, ``dn``: the largest the one-step scheme allows while it stays TVD
    for that Courant number, min((1 − ν)/ν·|up|, |dn|) with the sign of ``dn`` (Roe's "ultrabee").
    Zero at an extremum."""
    a = min((1.0 - nu) / nu * abs(up), abs(dn))
    a = a if dn > 0.0 else -a
    return a if up * dn > 0.0 else up * 0.0


@jit
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


@jit
def _prepare_edge_cell(hw, uw, vw, zw, he, ue, ve, ze, hs, us, vs, zs, hn, un, vn, zn, hc, uc, vc, zc, y_ok,
                       predict, half_dt_dx, g, lim, vanleer, mc, hdry):
    """:func:`_prepare_cell` of a row's first or last cell (no x neighbour: first order in x, always
    sharpened), the limiter family chosen at run time: two cells a row, so one compiled copy per
    dtype serves every limiter, where an inlined copy in each of the four specialisations of
    :func:`_prepare_line_with` cost numba ~7 s of compiling each."""
    return _prepare_cell(hw, uw, vw, zw, he, ue, ve, ze, hs, us, vs, zs, hn, un, vn, zn, hc, uc, vc, zc, False, y_ok,
                         predict, True, half_dt_dx, g, lim, vanleer, mc, hdry)


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


@jit
def _prepare_line_with(h_s, u_s, v_s, z_s, h_c, u_c, v_c, z_c, h_n, u_n, v_n, z_n, y_ok, predict, sharpen,
                       half_dt_dx, g, lp, lq, wa, wb, vanleer, mc, hdry, sx, sy, lo, hi):
    """:func:`_prepare_cell` along a row: the interior columns lo…hi-1 (1 ≤ lo, hi ≤ nx − 1) in a
    branch-free loop that LLVM vectorises. Compiled, not inlined into its callers: ``sharpen``,
    ``mc`` and ``vanleer`` are constants at each call site, so numba compiles one copy per
    (literal) combination with the constants folded, and inlines :func:`_prepare_cell` (and what
    it calls) at the IR level into that loop alone. Inlined three times into
    :func:`_godunov_prepare_row` instead, the per-cell chain cost 240 s of compiling per dtype
    (numba's IR inlining and type inference over the copies), 12 s as it is now (with
    :func:`_face_pair`, :func:`_face_pair_mc` and the sharpening compiled once and called: LLVM
    inlines them); the loops run as fast, with bit-identical results (benchmarks/RESULTS.md,
    "Cold compile"). Then, if lo = 1, the first and last cell (no x neighbour: first order in x,
    and always sharpened)."""
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
    # the flags compared (== True) are run-time booleans, not literals: one compiled copy of
    # _prepare_edge_cell per dtype serves every specialisation of this function
    for e in range(2 if lo == 1 else 0):
        j = 0 if e == 0 else nx - 1
        inc = _prepare_edge_cell(h_c[j], u_c[j], v_c[j], z_c[j], h_c[j], u_c[j], v_c[j], z_c[j],
                                 h_s[j], u_s[j], v_s[j], z_s[j], h_n[j], u_n[j], v_n[j], z_n[j],
                                 h_c[j], u_c[j], v_c[j], z_c[j], y_ok, predict == True, half_dt_dx, g,  # noqa: E712
                                 (lp, lq, wa, wb), vanleer == True, mc == True, hdry)  # noqa: E712
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
    across the window's ends, which the caller keeps dry). One compiled copy of the row loop per
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
