"""The unsteady Preissmann four-point implicit scheme of the 1D channel: Newton iterations on the
discrete equations with a block double sweep, and the steady state of the same equations.

Part of :mod:`floodtwin.hydraulics.kernels1d` (split out of ``kernels1d.py`` by issue 13).
"""

from __future__ import annotations

import math

import numpy as np

from floodtwin.hydraulics._codes import DOWN_RATING, DOWN_STAGE, G_MS2
from floodtwin.hydraulics._jit import jit, jit_inline
from floodtwin.hydraulics.kernels1d.tables import (
    T_AREA, T_CONVEYANCE, T_DAREA, T_DCONVEYANCE, T_DMOM_AREA, T_MOM_AREA, critical_stage, lookup_smooth,
)

__all__ = ["interp_rating", "preissmann_steady", "preissmann_step", "run_preissmann"]

@jit
def interp_rating(rating_q, rating_z, q):
    """Stage (m) and dz/dQ of a rating table (rising discharge), linear, extrapolated at both ends."""
    n = rating_q.size
    k = 0
    if q >= rating_q[n - 1]:
        k = n - 2
    else:
        while k < n - 2 and rating_q[k + 1] < q:
            k += 1
    slope = (rating_z[k + 1] - rating_z[k]) / (rating_q[k + 1] - rating_q[k])
    return rating_z[k] + slope * (q - rating_q[k]), slope


@jit
def _block_solve(aa, bb, cc, rhs, out, cp, dp):
    """Solve the block-tridiagonal system aa[i] x[i-1] + bb[i] x[i] + cc[i] x[i+1] = rhs[i] with 2×2
    blocks by the double sweep (block Thomas algorithm); the solution goes to ``out`` (n, 2);
    ``cp`` (n, 2, 2) and ``dp`` (n, 2) are scratch."""
    n = bb.shape[0]
    for i in range(n):
        m00 = bb[i, 0, 0]
        m01 = bb[i, 0, 1]
        m10 = bb[i, 1, 0]
        m11 = bb[i, 1, 1]
        r0 = rhs[i, 0]
        r1 = rhs[i, 1]
        if i > 0:
            # m = bb - aa cp[i-1]; r = rhs - aa dp[i-1]
            for p in range(2):
                a0 = aa[i, p, 0]
                a1 = aa[i, p, 1]
                s0 = a0 * cp[i - 1, 0, 0] + a1 * cp[i - 1, 1, 0]
                s1 = a0 * cp[i - 1, 0, 1] + a1 * cp[i - 1, 1, 1]
                sr = a0 * dp[i - 1, 0] + a1 * dp[i - 1, 1]
                if p == 0:
                    m00 -= s0
                    m01 -= s1
                    r0 -= sr
                else:
                    m10 -= s0
                    m11 -= s1
                    r1 -= sr
        inv_det = 1.0 / (m00 * m11 - m01 * m10)
        i00 = m11 * inv_det
        i01 = -m01 * inv_det
        i10 = -m10 * inv_det
        i11 = m00 * inv_det
        cp[i, 0, 0] = i00 * cc[i, 0, 0] + i01 * cc[i, 1, 0]
        cp[i, 0, 1] = i00 * cc[i, 0, 1] + i01 * cc[i, 1, 1]
        cp[i, 1, 0] = i10 * cc[i, 0, 0] + i11 * cc[i, 1, 0]
        cp[i, 1, 1] = i10 * cc[i, 0, 1] + i11 * cc[i, 1, 1]
        dp[i, 0] = i00 * r0 + i01 * r1
        dp[i, 1] = i10 * r0 + i11 * r1
    out[n - 1, 0] = dp[n - 1, 0]
    out[n - 1, 1] = dp[n - 1, 1]
    for i in range(n - 2, -1, -1):
        out[i, 0] = dp[i, 0] - cp[i, 0, 0] * out[i + 1, 0] - cp[i, 0, 1] * out[i + 1, 1]
        out[i, 1] = dp[i, 1] - cp[i, 1, 0] * out[i + 1, 0] - cp[i, 1, 1] * out[i + 1, 1]
    return out


@jit
def _reach_terms(tables, z0_m, dz_m, i, z, q):
    """Area, dA/dz, conveyance, dK/dz of section i at (z, q)."""
    area, darea = lookup_smooth(tables, z0_m, dz_m, i, z, T_AREA, T_DAREA)
    kk, dk = lookup_smooth(tables, z0_m, dz_m, i, z, T_CONVEYANCE, T_DCONVEYANCE)
    if area < 1e-6:
        area = 1e-6
    if kk < 1e-6:
        kk = 1e-6
    return area, darea, kk, dk


@jit
def _momentum_area(tables, z0_m, dz_m, i, z):
    """Momentum area A/beta (m²) of section i at stage z and its derivative."""
    am, dam = lookup_smooth(tables, z0_m, dz_m, i, z, T_MOM_AREA, T_DMOM_AREA)
    if am < 1e-6:
        am = 1e-6
    return am, dam



@jit_inline
def _hermite(tables, i, j, col, dcol, h, inv_h, b00, b10, b01, b11, g00, g10, g01, g11):
    """Cubic Hermite value and derivative of table column ``col`` (slope column ``dcol``) of
    section i between rows j and j + 1 with the basis weights b (value) and g (derivative) at the
    stage's position in the interval; ``h`` the row spacing (m)."""
    y0 = tables[i, j, col]
    y1 = tables[i, j + 1, col]
    m0 = tables[i, j, dcol] * h
    m1 = tables[i, j + 1, dcol] * h
    return b00 * y0 + b10 * m0 + b01 * y1 + b11 * m1, (g00 * y0 + g10 * m0 + g01 * y1 + g11 * m1) * inv_h

@jit
def _section_terms(tables, z0_m, dz_m, z, q, out):
    """Per section: area, dA/dz, conveyance, dK/dz, momentum area, its derivative (out (n, 6)).

    The three columns share one cubic Hermite basis at each stage (the same values as three
    :func:`lookup_smooth` calls, with the floors of :func:`_reach_terms` / :func:`_momentum_area`)."""
    n_lev = tables.shape[1]
    top = n_lev - 1
    for i in range(z0_m.size):
        h = dz_m[i]
        inv_h = 1.0 / h
        x = (z[i] - z0_m[i]) * inv_h
        if x >= top:
            # linear extrapolation above the table
            e = (x - top) * h
            da = tables[i, top, T_DAREA]
            dk = tables[i, top, T_DCONVEYANCE]
            dam = tables[i, top, T_DMOM_AREA]
            a = tables[i, top, T_AREA] + da * e
            k = tables[i, top, T_CONVEYANCE] + dk * e
            am = tables[i, top, T_MOM_AREA] + dam * e
        elif x <= 0.0:
            a = tables[i, 0, T_AREA]
            da = tables[i, 0, T_DAREA]
            k = tables[i, 0, T_CONVEYANCE]
            dk = tables[i, 0, T_DCONVEYANCE]
            am = tables[i, 0, T_MOM_AREA]
            dam = tables[i, 0, T_DMOM_AREA]
        else:
            j = int(x)
            t = x - j
            t2 = t * t
            t3 = t2 * t
            b00 = 2 * t3 - 3 * t2 + 1
            b10 = t3 - 2 * t2 + t
            b01 = -2 * t3 + 3 * t2
            b11 = t3 - t2
            g00 = 6 * t2 - 6 * t
            g10 = 3 * t2 - 4 * t + 1
            g01 = -6 * t2 + 6 * t
            g11 = 3 * t2 - 2 * t
            a, da = _hermite(tables, i, j, T_AREA, T_DAREA, h, inv_h, b00, b10, b01, b11, g00, g10, g01, g11)
            k, dk = _hermite(tables, i, j, T_CONVEYANCE, T_DCONVEYANCE, h, inv_h, b00, b10, b01, b11, g00, g10,
                             g01, g11)
            am, dam = _hermite(tables, i, j, T_MOM_AREA, T_DMOM_AREA, h, inv_h, b00, b10, b01, b11, g00, g10,
                               g01, g11)
        if a < 1e-6:
            a = 1e-6
        if k < 1e-6:
            k = 1e-6
        if am < 1e-6:
            am = 1e-6
        out[i, 0] = a
        out[i, 1] = da
        out[i, 2] = k
        out[i, 3] = dk
        out[i, 4] = am
        out[i, 5] = dam


@jit
def _old_terms(sec_old, dx_m, z_old, q_old, area_old, m_old):
    """Per section area (m²) and per reach momentum terms M^n of the known time level, from that
    level's section terms (computed once, when the level was solved)."""
    n = z_old.size
    for i in range(n):
        area_old[i] = sec_old[i, 0]
    for i in range(n - 1):
        inv_dx = 1.0 / dx_m[i]
        abar = 0.5 * (sec_old[i, 0] + sec_old[i + 1, 0])
        inv_kbar = 2.0 / (sec_old[i, 2] + sec_old[i + 1, 2])
        qbar = 0.5 * (q_old[i] + q_old[i + 1])
        fr = qbar * abs(qbar) * (inv_kbar * inv_kbar)
        u1 = q_old[i] / sec_old[i, 4]
        u2 = q_old[i + 1] / sec_old[i + 1, 4]
        m_old[i] = (q_old[i + 1] * u2 - q_old[i] * u1) * inv_dx \
            + G_MS2 * abar * ((z_old[i + 1] - z_old[i]) * inv_dx + fr)


@jit
def _assemble(tables, z0_m, dz_m, dx_m, z_old, q_old, area_old, m_old, lateral_m3s, q_up_new, bc_kind, bc_new,
              rating_q, rating_z, bc_slope, dt_s, theta, z_new, q_new, sec_terms, aa, bb, cc, rhs):
    """Residuals (into ``rhs``, negated) and Jacobian blocks of the Preissmann equations at (z_new,
    q_new); returns the sum of squared residuals. Block row 0: upstream boundary + continuity of
    reach 0; block row i: momentum of reach i-1 + continuity of reach i; block row n-1: momentum of
    reach n-2 + downstream boundary. Unknown block x_i = (dQ_i, dz_i). ``lateral_m3s[i]`` is the
    lateral inflow (m³/s, negative = outflow) into reach i over the step; ``sec_terms`` is scratch
    (n, 4) for each section's area, dA/dz, conveyance, dK/dz."""
    n = z0_m.size
    th = theta
    _section_terms(tables, z0_m, dz_m, z_new, q_new, sec_terms)
    bb[0, 0, 0] = 1.0
    bb[0, 0, 1] = 0.0
    aa[0, 1, 0] = 0.0
    aa[0, 1, 1] = 0.0
    rhs[0, 0] = -(q_new[0] - q_up_new)
    # reciprocals once per reach: the loop below is otherwise bound by its ~20 divisions
    inv_2dt = 0.5 / dt_s
    for i in range(n - 1):
        inv_dx = 1.0 / dx_m[i]
        a1 = sec_terms[i, 0]
        da1 = sec_terms[i, 1]
        k1 = sec_terms[i, 2]
        dk1 = sec_terms[i, 3]
        a2 = sec_terms[i + 1, 0]
        da2 = sec_terms[i + 1, 1]
        k2 = sec_terms[i + 1, 2]
        dk2 = sec_terms[i + 1, 3]
        inv_am1 = 1.0 / sec_terms[i, 4]
        dam1 = sec_terms[i, 5]
        inv_am2 = 1.0 / sec_terms[i + 1, 4]
        dam2 = sec_terms[i + 1, 5]
        q1 = q_new[i]
        q2 = q_new[i + 1]
        # continuity, row (i, 1): involves x_i and x_{i+1} only
        cont = (a1 - area_old[i] + a2 - area_old[i + 1]) * inv_2dt \
            + (th * (q2 - q1) + (1.0 - th) * (q_old[i + 1] - q_old[i]) - lateral_m3s[i]) * inv_dx
        if i > 0:
            aa[i, 1, 0] = 0.0
            aa[i, 1, 1] = 0.0
        bb[i, 1, 0] = -th * inv_dx
        bb[i, 1, 1] = da1 * inv_2dt
        cc[i, 1, 0] = th * inv_dx
        cc[i, 1, 1] = da2 * inv_2dt
        rhs[i, 1] = -cont
        # momentum, row (i+1, 0): involves x_i and x_{i+1} only
        abar = 0.5 * (a1 + a2)
        inv_kbar = 2.0 / (k1 + k2)
        inv_kbar2 = inv_kbar * inv_kbar
        qbar = 0.5 * (q1 + q2)
        fr = qbar * abs(qbar) * inv_kbar2
        g_abar = G_MS2 * abar
        slope_term = (z_new[i + 1] - z_new[i]) * inv_dx + fr
        u1 = q1 * inv_am1
        u2 = q2 * inv_am2
        m_new = (q2 * u2 - q1 * u1) * inv_dx + g_abar * slope_term
        mom = (q1 - q_old[i] + q2 - q_old[i + 1]) * inv_2dt + th * m_new + (1.0 - th) * m_old[i]
        dfr_dq = abs(qbar) * inv_kbar2  # d fr / d q_j  (q̄ = (q1+q2)/2 → 2|q̄|/K̄² · 1/2)
        dfr_dk = -2.0 * fr * inv_kbar
        g_abar_dx = g_abar * inv_dx
        aa[i + 1, 0, 0] = inv_2dt + th * (-2.0 * u1 * inv_dx + g_abar * dfr_dq)
        aa[i + 1, 0, 1] = th * (u1 * u1 * dam1 * inv_dx - g_abar_dx
                               + G_MS2 * 0.5 * da1 * slope_term + g_abar * dfr_dk * 0.5 * dk1)
        bb[i + 1, 0, 0] = inv_2dt + th * (2.0 * u2 * inv_dx + g_abar * dfr_dq)
        bb[i + 1, 0, 1] = th * (-u2 * u2 * dam2 * inv_dx + g_abar_dx
                               + G_MS2 * 0.5 * da2 * slope_term + g_abar * dfr_dk * 0.5 * dk2)
        cc[i + 1, 0, 0] = 0.0
        cc[i + 1, 0, 1] = 0.0
        rhs[i + 1, 0] = -mom
    # downstream boundary, row (n-1, 1)
    last = n - 1
    aa[last, 1, 0] = 0.0
    aa[last, 1, 1] = 0.0
    cc[last, 1, 0] = 0.0
    cc[last, 1, 1] = 0.0
    if bc_kind == DOWN_STAGE:
        bb[last, 1, 0] = 0.0
        bb[last, 1, 1] = 1.0
        rhs[last, 1] = -(z_new[last] - bc_new)
    elif bc_kind == DOWN_RATING:
        zr, dzdq = interp_rating(rating_q, rating_z, q_new[last])
        bb[last, 1, 0] = -dzdq
        bb[last, 1, 1] = 1.0
        rhs[last, 1] = -(z_new[last] - zr)
    else:
        kk = sec_terms[last, 2]
        dk = sec_terms[last, 3]
        bb[last, 1, 0] = 1.0
        bb[last, 1, 1] = -dk * math.sqrt(bc_slope)
        rhs[last, 1] = -(q_new[last] - kk * math.sqrt(bc_slope))
    total = 0.0
    for i in range(n):
        total += rhs[i, 0] * rhs[i, 0] + rhs[i, 1] * rhs[i, 1]
    return total


@jit
def preissmann_step(tables, z0_m, dz_m, dx_m, z_old, q_old, rating_q, rating_z, z_new, q_new, lateral_m3s, *,
                    q_up_old, q_up_new, bc_kind, bc_old, bc_new, bc_slope, dt_s, theta, tol_m, max_iter):
    """Advance stage ``z`` (m) and discharge ``q`` (m³/s) at all sections by one Preissmann step.

    Four-point box scheme with space weight 1/2 and time weight ``theta``; per reach i → i+1:
      continuity  [ΔA_i + ΔA_{i+1}] / 2dt + [θ ΔxQ^{n+1} + (1-θ) ΔxQ^n] / dx = 0
      momentum    [ΔQ_i + ΔQ_{i+1}] / 2dt + θ M^{n+1} + (1-θ) M^n = 0,
                  M = Δx(Q²/A_m)/dx + g Ā Δx z / dx + g Ā Q̄|Q̄| / K̄²  (bars: means of the two sections;
                  A_m = A/beta the momentum area of divided conveyance)
    Upstream Q = inflow; downstream stage, rating z = R(Q) or normal depth Q = K(z) sqrt(S).
    Newton iterations, each one block double sweep, with a backtracking line search on the squared
    residuals (a floodplain opening makes the tables bend sharply, where plain Newton can cycle),
    until the largest stage correction is below ``tol_m`` (and the discharge correction below
    ``tol_m`` times the inflow). Returns the number of iterations, or -1 if Newton did not converge.
    ``z_new``/``q_new`` hold the initial guess on entry.
    """
    n = z0_m.size
    sec_old = np.empty((n, 6))
    _section_terms(tables, z0_m, dz_m, z_old, q_old, sec_old)
    return _newton(tables, z0_m, dz_m, dx_m, z_old, q_old, sec_old, lateral_m3s, q_up_new, bc_kind, bc_new, rating_q, rating_z,
                   bc_slope, dt_s, theta, tol_m, max_iter, z_new, q_new, np.zeros((n, 2, 2)), np.zeros((n, 2, 2)),
                   np.zeros((n, 2, 2)), np.zeros((n, 2)), np.zeros((n, 2, 2)), np.zeros((n, 2, 2)),
                   np.zeros((n, 2, 2)), np.zeros((n, 2)), np.zeros((n, 2)), np.empty(n), np.empty(n),
                   np.empty((n, 6)), np.empty(n), np.empty(n), np.empty((n, 2, 2)), np.empty((n, 2)))


@jit
def _newton(tables, z0_m, dz_m, dx_m, z_old, q_old, sec_old, lateral_m3s, q_up_new, bc_kind, bc_new, rating_q, rating_z,
            bc_slope, dt_s, theta, tol_m, max_iter, z_new, q_new, aa, bb, cc, rhs, ta, tb, tc, trhs, delta, z_try, q_try,
            sec_terms, area_old, m_old, cp, dp):
    """The Newton loop of :func:`preissmann_step` on caller-owned scratch arrays (no allocation);
    ``sec_old`` holds the known level's section terms. On return ``sec_terms`` holds the new level's."""
    n = z0_m.size
    _old_terms(sec_old, dx_m, z_old, q_old, area_old, m_old)
    q_scale = max(abs(q_up_new), 1.0)
    res = _assemble(tables, z0_m, dz_m, dx_m, z_old, q_old, area_old, m_old, lateral_m3s, q_up_new, bc_kind, bc_new,
                    rating_q, rating_z, bc_slope, dt_s, theta, z_new, q_new, sec_terms, aa, bb, cc, rhs)
    for it in range(max_iter):
        _block_solve(aa, bb, cc, rhs, delta, cp, dp)
        dz_full = 0.0
        dq_full = 0.0
        for i in range(n):
            dz_full = max(dz_full, abs(delta[i, 1]))
            dq_full = max(dq_full, abs(delta[i, 0]))
        if dz_full < tol_m and dq_full < tol_m * q_scale:
            # the full correction is already below the tolerance: take it and stop; only the section
            # terms of the new level are needed (the next step's known level), not its Jacobian
            for i in range(n):
                q_new[i] += delta[i, 0]
                z_new[i] = max(z_new[i] + delta[i, 1], z0_m[i] + 1e-4)
            _section_terms(tables, z0_m, dz_m, z_new, q_new, sec_terms)
            return it + 1
        lam = 1.0 if dz_full <= 2.0 else 2.0 / dz_full  # cap wild first steps
        res_try = res
        for _ in range(12):
            for i in range(n):
                q_try[i] = q_new[i] + lam * delta[i, 0]
                z_try[i] = max(z_new[i] + lam * delta[i, 1], z0_m[i] + 1e-4)
            res_try = _assemble(tables, z0_m, dz_m, dx_m, z_old, q_old, area_old, m_old, lateral_m3s, q_up_new, bc_kind,
                                bc_new, rating_q, rating_z, bc_slope, dt_s, theta, z_try, q_try, sec_terms, ta, tb,
                                tc, trhs)
            if res_try <= (1.0 - 1e-4 * lam) * res or res == 0.0:
                break
            lam *= 0.5
        dz_max = 0.0
        dq_max = 0.0
        for i in range(n):
            dz_max = max(dz_max, abs(z_try[i] - z_new[i]))
            dq_max = max(dq_max, abs(q_try[i] - q_new[i]))
            z_new[i] = z_try[i]
            q_new[i] = q_try[i]
        # the accepted trial's residuals and Jacobian are the next iteration's: swap, do not recompute
        aa, ta = ta, aa
        bb, tb = tb, bb
        cc, tc = tc, cc
        rhs, trhs = trhs, rhs
        res = res_try
        if dz_max < tol_m and dq_max < tol_m * q_scale:
            return it + 1
    return -1


@jit
def run_preissmann(tables, z0_m, dz_m, dx_m, z_init, q_init, inflow_m3s, bc_series, rating_q, rating_z,
                   out_stage, out_discharge, max_stage, time_of_max_s, boundary_volume_m3, z_final, q_final,
                   lateral_m3s, *, bc_kind, bc_slope, dt_s, theta, tol_m, max_iter, out_every, t0_s):
    """Time loop: ``inflow_m3s[n]`` and ``bc_series[n]`` at t = n dt; stores every ``out_every`` steps
    (row 0 = initial state). ``lateral_m3s`` (n-1) is a constant lateral inflow per reach (m³/s).
    Tracks max stage and its time (s, from ``t0_s``), and the θ-weighted volume that crossed the two
    boundaries plus the lateral volume (m³, for the mass balance); the end state goes to
    ``z_final``/``q_final``. Returns the number of failed steps (0 = all good).
    """
    n_steps = inflow_m3s.size - 1
    n = z0_m.size
    z = z_init.copy()
    q = q_init.copy()
    z_next = z.copy()
    q_next = q.copy()
    failed = 0
    out_stage[0] = z
    out_discharge[0] = q
    for i in range(n):
        max_stage[i] = z[i]
        time_of_max_s[i] = t0_s
    vol = 0.0
    z_prev = z.copy()
    q_prev = q.copy()
    aa = np.zeros((n, 2, 2))
    bb = np.zeros((n, 2, 2))
    cc = np.zeros((n, 2, 2))
    rhs = np.zeros((n, 2))
    ta = np.zeros((n, 2, 2))
    tb = np.zeros((n, 2, 2))
    tc = np.zeros((n, 2, 2))
    trhs = np.zeros((n, 2))
    delta = np.zeros((n, 2))
    z_try = np.empty(n)
    q_try = np.empty(n)
    sec_terms = np.empty((n, 6))
    area_old = np.empty(n)
    m_old = np.empty(n)
    cp = np.empty((n, 2, 2))
    dp = np.empty((n, 2))
    sec_old = np.empty((n, 6))
    _section_terms(tables, z0_m, dz_m, z, q, sec_old)
    lat_total = 0.0
    for i in range(n - 1):
        lat_total += lateral_m3s[i]
    for step in range(1, n_steps + 1):
        # predictor: the last step's change carried on (saves a Newton iteration on smooth runs)
        for i in range(n):
            z_next[i] = 2.0 * z[i] - z_prev[i]
            q_next[i] = 2.0 * q[i] - q_prev[i]
        q_next[0] = inflow_m3s[step]
        z_prev[:] = z
        q_prev[:] = q
        it = _newton(tables, z0_m, dz_m, dx_m, z, q, sec_old, lateral_m3s, inflow_m3s[step], bc_kind,
                     bc_series[step], rating_q, rating_z, bc_slope, dt_s, theta, tol_m, max_iter, z_next, q_next,
                     aa, bb, cc, rhs, ta, tb, tc, trhs, delta, z_try, q_try, sec_terms, area_old, m_old, cp, dp)
        if it < 0:
            failed += 1
        vol += dt_s * (theta * (q_next[0] - q_next[n - 1]) + (1.0 - theta) * (q[0] - q[n - 1]) + lat_total)
        z[:] = z_next
        sec_old[:, :] = sec_terms  # the new level's terms are the next step's known level
        q[:] = q_next
        t = t0_s + step * dt_s
        for i in range(n):
            if z[i] > max_stage[i]:
                max_stage[i] = z[i]
                time_of_max_s[i] = t
        if step % out_every == 0:
            row = step // out_every
            out_stage[row] = z
            out_discharge[row] = q
    boundary_volume_m3[0] = vol
    z_final[:] = z
    q_final[:] = q
    return failed


@jit
def _momentum_steady(tables, z0_m, dz_m, dx, i, z1, z2, q):
    """Steady momentum residual of reach i → i+1 (the Preissmann M with Q constant) and d/dz1."""
    a1, da1, k1, dk1 = _reach_terms(tables, z0_m, dz_m, i, z1, q)
    a2, _, k2, _ = _reach_terms(tables, z0_m, dz_m, i + 1, z2, q)
    am1, dam1 = _momentum_area(tables, z0_m, dz_m, i, z1)
    am2 = _momentum_area(tables, z0_m, dz_m, i + 1, z2)[0]
    abar = 0.5 * (a1 + a2)
    kbar = 0.5 * (k1 + k2)
    fr = q * abs(q) / (kbar * kbar)
    slope_term = (z2 - z1) / dx + fr
    m = (q * q / am2 - q * q / am1) / dx + G_MS2 * abar * slope_term
    dm = q * q / (am1 * am1) * dam1 / dx - G_MS2 * abar / dx + G_MS2 * 0.5 * da1 * slope_term \
        - G_MS2 * abar * 2.0 * fr / kbar * 0.5 * dk1
    return m, dm


@jit
def preissmann_steady(tables, z0_m, dz_m, dx_m, z_guess, out_stage, *, discharge_m3s, stage_down_m, tol_m):
    """Steady state of the Preissmann equations for a constant discharge (m³/s): the stage (m) marched
    upstream from ``stage_down_m`` reach by reach, each a scalar Newton solve of M = 0 started from
    ``z_guess`` (the standard-step profile); a bisection safeguard keeps the subcritical root.
    Returns the number of reaches where Newton fell back to bisection."""
    n = z0_m.size
    out_stage[n - 1] = stage_down_m
    fallbacks = 0
    q = discharge_m3s
    for i in range(n - 2, -1, -1):
        z2 = out_stage[i + 1]
        z = max(z_guess[i], z0_m[i] + 1e-3)
        ok = False
        for _ in range(60):
            m, dm = _momentum_steady(tables, z0_m, dz_m, dx_m[i], i, z, z2, q)
            if dm == 0.0:
                break
            step = m / dm
            z -= step
            if abs(step) < tol_m:
                ok = True
                break
        if not ok:
            # subcritical root: M falls with z1 there; bracket from the critical stage upward
            fallbacks += 1
            lo = critical_stage(tables, z0_m, dz_m, i, q)
            hi = max(z2, lo) + 1.0
            while _momentum_steady(tables, z0_m, dz_m, dx_m[i], i, hi, z2, q)[0] > 0.0:
                hi += 2.0 * (hi - lo)
            for _ in range(200):
                mid = 0.5 * (lo + hi)
                if _momentum_steady(tables, z0_m, dz_m, dx_m[i], i, mid, z2, q)[0] > 0.0:
                    lo = mid
                else:
                    hi = mid
                if hi - lo < 1e-11:
                    break
            z = 0.5 * (lo + hi)
        out_stage[i] = z
    return fallbacks
