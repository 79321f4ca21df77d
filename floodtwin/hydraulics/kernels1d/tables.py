"""Section property tables of the 1D channel kernels and their look-ups (linear and C1 Hermite).

Part of :mod:`floodtwin.hydraulics.kernels1d` (split out of ``kernels1d.py`` by issue 13). Property
tables are sampled on a uniform stage grid per section (``z0_m[i] + k * dz_m[i]``) and read by
linear interpolation; the derivative used by Newton is the slope of that interpolant, so the
discrete equations and their Jacobian agree exactly (quadratic convergence, exact mass balance).
Kernels trust their inputs: validation lives in :mod:`floodtwin.hydraulics.channel`.
"""

from __future__ import annotations

import math

import numpy as np

from floodtwin.hydraulics._codes import CHEZY, G_MS2
from floodtwin.hydraulics._jit import jit

__all__ = [
    "N_TABLE", "T_ALPHA", "T_AREA", "T_CONVEYANCE", "T_DAREA", "T_DCONVEYANCE", "T_DMOM_AREA", "T_MOM_AREA",
    "T_WIDTH", "build_section_tables", "critical_stage", "lookup", "lookup_smooth", "pchip_slopes",
    "stage_for_conveyance",
]

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
