"""The steady standard-step profile of the 1D channel (energy equation, section by section upstream).

Part of :mod:`floodtwin.hydraulics.kernels1d` (split out of ``kernels1d.py`` by issue 13).
"""

from __future__ import annotations

from floodtwin.hydraulics._codes import G_MS2
from floodtwin.hydraulics._jit import jit
from floodtwin.hydraulics.kernels1d.tables import (
    T_ALPHA, T_AREA, T_CONVEYANCE, T_DAREA, T_DCONVEYANCE, critical_stage, lookup, lookup_smooth,
)

__all__ = ["CONTRACTION", "EXPANSION", "standard_step"]

#: expansion / contraction loss coefficients of the standard step (HEC-RAS defaults)
EXPANSION = 0.3
CONTRACTION = 0.1

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
def standard_step(tables, z0_m, dz_m, dx_m, discharge_m3s, out_stage, out_critical, *, stage_down_m):
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
