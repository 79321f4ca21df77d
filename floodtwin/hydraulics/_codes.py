"""The constants the hydraulic engines share: gravity and the integer codes the kernels understand.

One place for each (issue 13): ``G_MS2`` was written in floodplain.py, kernels1d.py, coupling.py and
terrain.py, and the 2D boundary codes in boundaries.py and kernels2d.py, while kernels1d.py used the
same names (``BC_STAGE``, ``BC_NORMAL``) for other values. The 1D downstream-boundary kinds are now
``DOWN_*``; the 2D edge codes keep ``BC_*``. numba reads these module-level integers as compile-time
constants, so importing them into a kernel module costs nothing at run time.
"""

from __future__ import annotations

__all__ = [
    "BC_FREE", "BC_INFLOW", "BC_NORMAL", "BC_STAGE", "BC_WALL", "CHEZY", "DOWN_NORMAL", "DOWN_RATING",
    "DOWN_STAGE", "G_MS2", "MANNING",
]

#: gravitational acceleration (m s⁻²), the value every engine and the terrain module use
G_MS2 = 9.81

# ---- 2D edge cells: bctype[e, k] of the floodplain kernels (floodtwin.hydraulics.kernels2d) ----
BC_WALL = 0
BC_INFLOW = 1
BC_STAGE = 2
BC_FREE = 3
BC_NORMAL = 4

# ---- 1D downstream boundary kinds of the channel kernels (floodtwin.hydraulics.kernels1d) ----
DOWN_STAGE = 0
DOWN_RATING = 1
DOWN_NORMAL = 2

# ---- 1D friction laws (per reach model) ----
MANNING = 0
CHEZY = 1
