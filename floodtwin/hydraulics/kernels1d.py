"""Numba kernels of the 1D channel model: section property tables, table look-ups, the standard step
and the Preissmann four-point implicit scheme with Newton iterations and a block double sweep.

Kernels take arrays and keyword-free scalars, write into preallocated arrays, and trust their inputs:
validation lives in :mod:`floodtwin.hydraulics.channel`. Units: metres, seconds, m³/s.

Property tables are sampled on a uniform stage grid per section (``z0_m[i] + k * dz_m[i]``) and read
by linear interpolation; the derivative used by Newton is the slope of that interpolant, so the
discrete equations and their Jacobian agree exactly (quadratic convergence, exact mass balance).
"""

from __future__ import annotations

import math

import numpy as np
from floodtwin.hydraulics._codes import CHEZY, DOWN_NORMAL, DOWN_RATING, DOWN_STAGE, G_MS2, MANNING  # noqa: F401
from floodtwin.hydraulics._jit import jit, jit_inline

#: expansion / contraction loss coefficients of the standard step (HEC-RAS defaults)
EXPANSION = 0.3
CONTRACTION = 0.1

#: table columns
T_AREA = 0
T_WIDTH = 1
T_CONVEYANCE = 2
T_ALPHA = 3
T_DAREA = 4  # d(area)/dz at the nodes (monotone PCHIP slopes), for the C1 Hermite look-up
T_DCONVEYANCE = 5
T_MOM_AREA = 6  # momentum area A/beta = K² / sum(K_p²/A_p): the area that carries the momentum flux
T_DMOM_AREA = 7
N_TABLE = 8  # 64 bytes per level: a look-up reads two cache lines (a ninth column costs ~15 % run time)


# --------------------------------------------------------------------------------------------
# section property tables
# --------------------------------------------------------------------------------------------
@jit
def _segment_wet(s1, e1, s2, e2, z):
    """Wet area (m²), wetted perimeter (m) and top width (m) of one ground segment below stage z."""
    w = s2 - s1
    d1 = z - e1
    d2 = z - e2
    if d1 <= 0.0 and d2 <= 0.0:
        return 0.0, 0.0, 0.0
    length = math.hypot(w, e2 - e1)
    if d1 > 0.0 and d2 > 0.0:
        return 0.5 * (d1 + d2) * w, length, w
    # the water line crosses the segment: keep the wet fraction
    if d1 > 0.0:
        f = d1 / (d1 - d2)
        return 0.5 * d1 * f * w, f * length, f * w
    f = d2 / (d2 - d1)
    return 0.5 * d2 * f * w, f * length, f * w


@jit
def _smoothstep(t):
    """0 below 0, 1 above 1, 3t² − 2t³ between: a fill fraction with a continuous derivative, so the
    storage width of a section has no jump when a levee is overtopped (Newton would cycle on it)."""
    if t <= 0.0:
        return 0.0
    if t >= 1.0:
        return 1.0
    return t * t * (3.0 - 2.0 * t)


@jit
def build_section_tables(station_m, elevation_m, offsets, bank_left, bank_right, roughness, z0_m, dz_m,
                         friction_law, fill_ramp_m, out, out_perimeter):
    """Fill ``out[i, k, :]`` = (area m², top width m, conveyance m³/s, energy coefficient alpha, ...,
    momentum area m², ...) and ``out_perimeter[i, k]`` = wetted perimeter (m) of section i at stage
    ``z0_m[i] + k * dz_m[i]`` by divided conveyance (HEC-RAS style); the slope columns are filled by
    :func:`pchip_slopes`.

    Points of section i are ``offsets[i]:offsets[i+1]`` (station rising from the left bank looking
    downstream); ``bank_left/right`` are point indices of the bank stations (they are points of the
    section). Inside the banks every point below the stage is wet; an overbank is wet only where it
    connects to the channel over ground below the stage (so a natural levee keeps the low dike-toe
    zone dry until it is overtopped). Above the section's end points, vertical walls confine the water.
    Subsection conveyance is A R^(2/3) / n (Manning) or C A R^(1/2) (Chezy), ``roughness[i, 0..2]`` for
    left overbank, channel, right overbank.
    """
    n_sec = offsets.size - 1
    n_lev = out.shape[1]
    for i in range(n_sec):
        a = offsets[i]
        b = offsets[i + 1]
        bl = bank_left[i]
        br = bank_right[i]
        for k in range(n_lev):
            z = z0_m[i] + k * dz_m[i]
            area = np.zeros(3)
            perim = np.zeros(3)
            width = 0.0
            # channel: all segments between the bank stations
            for j in range(bl, br):
                da, dp, dw = _segment_wet(station_m[j], elevation_m[j], station_m[j + 1], elevation_m[j + 1], z)
                area[1] += da
                perim[1] += dp
                width += dw
            # overbanks: walk outward from each bank while the ground stays below the stage. Ground
            # behind a ridge (a natural levee, 滩唇) is a pond that fills while the stage rises
            # ``fill_ramp_m`` above the ridge: its level climbs from the overbank floor to the stage,
            # so storage and conveyance grow fast but smoothly (Newton keeps converging and the
            # rating stays monotonic)
            floor = elevation_m[a]
            for j in range(a, bl + 1):
                floor = min(floor, elevation_m[j])
            ridge = elevation_m[bl]
            z_eff = z
            j = bl
            while j > a and elevation_m[j] < z:
                e_in = elevation_m[j]
                e_out = elevation_m[j - 1]
                ridge = max(ridge, e_in)
                z_eff = z
                if e_in < ridge or e_out < e_in:
                    w = _smoothstep((z - ridge) / fill_ramp_m)
                    z_eff = floor + w * (z - floor)
                da, dp, dw = _segment_wet(station_m[j - 1], e_out, station_m[j], e_in, z_eff)
                area[0] += da
                perim[0] += dp
                width += dw
                j -= 1
            if j == a and a != bl and elevation_m[a] < z_eff:
                perim[0] += z_eff - elevation_m[a]  # glass wall at the section's end
            floor = elevation_m[b - 1]
            for j in range(br, b):
                floor = min(floor, elevation_m[j])
            ridge = elevation_m[br]
            z_eff = z
            j = br
            while j < b - 1 and elevation_m[j] < z:
                e_in = elevation_m[j]
                e_out = elevation_m[j + 1]
                ridge = max(ridge, e_in)
                z_eff = z
                if e_in < ridge or e_out < e_in:
                    w = _smoothstep((z - ridge) / fill_ramp_m)
                    z_eff = floor + w * (z - floor)
                da, dp, dw = _segment_wet(station_m[j], e_in, station_m[j + 1], e_out, z_eff)
                area[2] += da
                perim[2] += dp
                width += dw
                j += 1
            if j == b - 1 and b - 1 != br and elevation_m[b - 1] < z_eff:
                perim[2] += z_eff - elevation_m[b - 1]
            if bl == a and elevation_m[a] < z:
                perim[1] += z - elevation_m[a]
            if br == b - 1 and elevation_m[b - 1] < z:
                perim[1] += z - elevation_m[b - 1]
            total_area = 0.0
            total_perim = 0.0
            total_k = 0.0
            k3a2 = 0.0
            k2a = 0.0
            for p in range(3):
                if area[p] > 0.0 and perim[p] > 0.0:
                    radius = area[p] / perim[p]
                    if friction_law == CHEZY:
                        kp = roughness[i, p] * area[p] * math.sqrt(radius)
                    else:
                        kp = area[p] * radius ** (2.0 / 3.0) / roughness[i, p]
                    total_area += area[p]
                    total_perim += perim[p]
                    total_k += kp
                    k3a2 += kp * kp * kp / (area[p] * area[p])
                    k2a += kp * kp / area[p]
            out[i, k, T_AREA] = total_area
            out[i, k, T_WIDTH] = width
            out_perimeter[i, k] = total_perim
            # divided conveyance can dip when a shallow strip joins a subsection (its perimeter grows
            # faster than its area); a falling K(z) gives a rating with several stages for one
            # discharge, so keep K rising (as 1D codes commonly do)
            if k > 0 and total_k < out[i, k - 1, T_CONVEYANCE] * (1.0 + 1e-4):
                total_k = out[i, k - 1, T_CONVEYANCE] * (1.0 + 1e-4)
            out[i, k, T_CONVEYANCE] = total_k
            out[i, k, T_ALPHA] = total_area * total_area * k3a2 / total_k ** 3 if total_k > 0.0 else 1.0
            # momentum area (Q²/A_m = beta Q²/A): storage that barely conveys (a filling dike-toe
            # zone) does not dilute the momentum flux, which keeps the convective term smooth
            raw_k = 0.0
            for p in range(3):
                if area[p] > 0.0 and perim[p] > 0.0:
                    radius = area[p] / perim[p]
                    if friction_law == CHEZY:
                        raw_k += roughness[i, p] * area[p] * math.sqrt(radius)
                    else:
                        raw_k += area[p] * radius ** (2.0 / 3.0) / roughness[i, p]
            m_area = raw_k * raw_k / k2a if k2a > 0.0 else 0.0
            if k > 0 and m_area < out[i, k - 1, T_MOM_AREA]:
                m_area = out[i, k - 1, T_MOM_AREA]
            out[i, k, T_MOM_AREA] = m_area
    return out


@jit
def lookup(tables, z0_m, dz_m, i, z, col):
    """Value of table column ``col`` of section i at stage z (m) and its derivative d/dz (linear
    interpolation; linear extrapolation above the table, clamped to the first interval below it)."""
    n_lev = tables.shape[1]
    x = (z - z0_m[i]) / dz_m[i]
    k = int(math.floor(x))
    if k < 0:
        k = 0
    elif k > n_lev - 2:
        k = n_lev - 2
    f = x - k
    v0 = tables[i, k, col]
    v1 = tables[i, k + 1, col]
    return v0 + f * (v1 - v0), (v1 - v0) / dz_m[i]


@jit
def lookup_smooth(tables, z0_m, dz_m, i, z, col, dcol):
    """Value of column ``col`` of section i at stage z (m) and its derivative, by cubic Hermite
    interpolation with the node slopes of column ``dcol``: continuous derivative, so Newton converges
    quadratically across the table's nodes (linear extrapolation above the table, clamped below)."""
    n_lev = tables.shape[1]
    h = dz_m[i]
    x = (z - z0_m[i]) / h
    if x >= n_lev - 1:
        top = tables[i, n_lev - 1, col]
        slope = tables[i, n_lev - 1, dcol]
        return top + slope * (x - (n_lev - 1)) * h, slope
    if x <= 0.0:
        return tables[i, 0, col], tables[i, 0, dcol]
    k = int(math.floor(x))
    t = x - k
    y0 = tables[i, k, col]
    y1 = tables[i, k + 1, col]
    m0 = tables[i, k, dcol] * h
    m1 = tables[i, k + 1, dcol] * h
    t2 = t * t
    t3 = t2 * t
    value = (2 * t3 - 3 * t2 + 1) * y0 + (t3 - 2 * t2 + t) * m0 + (-2 * t3 + 3 * t2) * y1 + (t3 - t2) * m1
    deriv = ((6 * t2 - 6 * t) * y0 + (3 * t2 - 4 * t + 1) * m0 + (-6 * t2 + 6 * t) * y1 + (3 * t2 - 2 * t) * m1) / h
    return value, deriv


@jit
def pchip_slopes(tables, dz_m, col, dcol):
    """Fritsch–Carlson monotone node slopes of column ``col`` into ``dcol`` (uniform spacing)."""
    n_sec = tables.shape[0]
    n_lev = tables.shape[1]
    for i in range(n_sec):
        h = dz_m[i]
        for k in range(n_lev):
            if k == 0:
                tables[i, k, dcol] = (tables[i, 1, col] - tables[i, 0, col]) / h
            elif k == n_lev - 1:
                tables[i, k, dcol] = (tables[i, k, col] - tables[i, k - 1, col]) / h
            else:
                d0 = (tables[i, k, col] - tables[i, k - 1, col]) / h
                d1 = (tables[i, k + 1, col] - tables[i, k, col]) / h
                if d0 * d1 <= 0.0:
                    tables[i, k, dcol] = 0.0
                else:
                    tables[i, k, dcol] = 2.0 / (1.0 / d0 + 1.0 / d1)  # harmonic mean keeps monotonicity
    return tables


@jit
def stage_for_conveyance(tables, z0_m, dz_m, i, conveyance):
    """Lowest stage (m) at which section i reaches ``conveyance`` (m³/s), by bisection on the table."""
    lo = z0_m[i]
    hi = z0_m[i] + (tables.shape[1] - 1) * dz_m[i]
    while lookup_smooth(tables, z0_m, dz_m, i, hi, T_CONVEYANCE, T_DCONVEYANCE)[0] < conveyance:
        hi += (hi - lo)  # extrapolate above the table (glass walls)
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if lookup_smooth(tables, z0_m, dz_m, i, mid, T_CONVEYANCE, T_DCONVEYANCE)[0] < conveyance:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12:
            break
    return 0.5 * (lo + hi)


@jit
def critical_stage(tables, z0_m, dz_m, i, discharge_m3s):
    """Stage (m) at which the Froude number alpha Q² B / (g A³) equals one in section i."""
    lo = z0_m[i] + 1e-9
    hi = z0_m[i] + (tables.shape[1] - 1) * dz_m[i]
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        area = lookup_smooth(tables, z0_m, dz_m, i, mid, T_AREA, T_DAREA)[0]
        width = lookup(tables, z0_m, dz_m, i, mid, T_WIDTH)[0]
        alpha = lookup(tables, z0_m, dz_m, i, mid, T_ALPHA)[0]
        fr2 = alpha * discharge_m3s * discharge_m3s * width / (G_MS2 * area ** 3) if area > 0.0 else 1e30
        if fr2 > 1.0:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-10:
            break
    return 0.5 * (lo + hi)


# --------------------------------------------------------------------------------------------
# steady standard step
# --------------------------------------------------------------------------------------------
@jit
def _energy_residual(tables, z0_m, dz_m, i, z, q, head_down, vh_down, dx_m, k_down):
    area = lookup_smooth(tables, z0_m, dz_m, i, z, T_AREA, T_DAREA)[0]
    kz = lookup_smooth(tables, z0_m, dz_m, i, z, T_CONVEYANCE, T_DCONVEYANCE)[0]
    alpha = lookup(tables, z0_m, dz_m, i, z, T_ALPHA)[0]
    v = q / area
    vh = alpha * v * v / (2.0 * G_MS2)
    kbar = 0.5 * (kz + k_down)
    # expansion (velocity head falling downstream) and contraction losses, HEC-RAS coefficients 0.3 / 0.1
    loss = (EXPANSION if vh > vh_down else CONTRACTION) * abs(vh - vh_down)
    return z + vh - head_down - dx_m * q * abs(q) / (kbar * kbar) - loss


@jit
def standard_step(tables, z0_m, dz_m, dx_m, discharge_m3s, stage_down_m, out_stage, out_critical):
    """Subcritical energy profile (m) upstream from ``stage_down_m`` at the last section.

    Energy between sections i and i+1: z_i + alpha_i V_i²/2g = z_{i+1} + alpha_{i+1} V_{i+1}²/2g +
    dx_i Q|Q|/K̄² + C |Δ(alpha V²/2g)|, K̄ the mean conveyance of the two sections (HEC-RAS "average
    conveyance"), C = 0.3 where the velocity head falls downstream (expansion), 0.1 otherwise. The
    highest root above critical stage is taken (subcritical); where there is none the stage is critical and ``out_critical[i]`` is set (the flow there is not subcritical).
    ``discharge_m3s`` is per section (lateral inflow allowed).
    """
    n = z0_m.size
    zc = critical_stage(tables, z0_m, dz_m, n - 1, discharge_m3s[n - 1])
    if stage_down_m < zc:
        out_stage[n - 1] = zc
        out_critical[n - 1] = True
    else:
        out_stage[n - 1] = stage_down_m
        out_critical[n - 1] = False
    for i in range(n - 2, -1, -1):
        zd = out_stage[i + 1]
        qd = discharge_m3s[i + 1]
        ad = lookup_smooth(tables, z0_m, dz_m, i + 1, zd, T_AREA, T_DAREA)[0]
        alphad = lookup(tables, z0_m, dz_m, i + 1, zd, T_ALPHA)[0]
        kd = lookup_smooth(tables, z0_m, dz_m, i + 1, zd, T_CONVEYANCE, T_DCONVEYANCE)[0]
        vh_down = alphad * (qd / ad) ** 2 / (2.0 * G_MS2)
        head_down = zd + vh_down
        q = discharge_m3s[i]
        zc = critical_stage(tables, z0_m, dz_m, i, q)
        # In a compound section the energy can fall again above a first critical stage (the floodplain
        # opens and alpha jumps), so the residual may have several roots: take the highest, the
        # subcritical one, by scanning down from a stage where the residual is positive.
        hi = max(zd, zc) + 1.0
        while _energy_residual(tables, z0_m, dz_m, i, hi, q, head_down, vh_down, dx_m[i], kd) < 0.0:
            hi += 2.0 * (hi - zc)
        scan = 0.02
        lo = hi - scan
        while lo > zc and _energy_residual(tables, z0_m, dz_m, i, lo, q, head_down, vh_down, dx_m[i], kd) >= 0.0:
            hi = lo
            lo -= scan
        if lo <= zc:
            lo = zc
            if _energy_residual(tables, z0_m, dz_m, i, lo, q, head_down, vh_down, dx_m[i], kd) >= 0.0:
                out_stage[i] = zc
                out_critical[i] = True
                continue
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            if _energy_residual(tables, z0_m, dz_m, i, mid, q, head_down, vh_down, dx_m[i], kd) < 0.0:
                lo = mid
            else:
                hi = mid
            if hi - lo < 1e-11:
                break
        out_stage[i] = 0.5 * (lo + hi)
        out_critical[i] = False
    return out_stage


# --------------------------------------------------------------------------------------------
# unsteady Preissmann
# --------------------------------------------------------------------------------------------
@jit
def _interp_rating(rating_q, rating_z, q):
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
        zr, dzdq = _interp_rating(rating_q, rating_z, q_new[last])
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
def preissmann_step(tables, z0_m, dz_m, dx_m, z_old, q_old, q_up_old, q_up_new, bc_kind, bc_old, bc_new,
                    rating_q, rating_z, bc_slope, dt_s, theta, tol_m, max_iter, z_new, q_new, lateral_m3s):
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
def run_preissmann(tables, z0_m, dz_m, dx_m, z_init, q_init, inflow_m3s, bc_kind, bc_series, rating_q,
                   rating_z, bc_slope, dt_s, theta, tol_m, max_iter, out_every, out_stage, out_discharge,
                   max_stage, time_of_max_s, boundary_volume_m3, z_final, q_final, lateral_m3s, t0_s):
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
def preissmann_steady(tables, z0_m, dz_m, dx_m, discharge_m3s, stage_down_m, z_guess, tol_m, out_stage):
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
