"""numba kernels of the 2D floodplain model: arrays in, ``out`` arrays, plain scalars; nothing else.

A package of concepts (issue 13 split ``kernels2d.py``), so that an edit to one scheme no longer
recompiles the other:

- :mod:`~floodtwin.hydraulics.kernels2d.godunov`: HLLC faces, the fused row update and
  :func:`godunov_stage`; :mod:`~floodtwin.hydraulics.kernels2d.reconstruction`: its MUSCL(-Hancock)
  reconstruction, limiters and shock sharpening;
- :mod:`~floodtwin.hydraulics.kernels2d.inertial`: the local-inertial scheme, :func:`inertial_step`;
- shared by both: :mod:`~floodtwin.hydraulics.kernels2d.friction` (the inverse cube root of the
  Manning term), :mod:`~floodtwin.hydraulics.kernels2d.maxima` (running maxima and arrival) and
  :mod:`~floodtwin.hydraulics.kernels2d.rows` (row blocks, wet extents, point sources, row sums).

Grid: cell (i, j) is row i (south to north), column j (west to east), square cells of ``dx`` m. The
bed ``z`` is NaN outside the domain: faces between an active and a NaN cell are walls. Depth ``h``
(m) is carried, never the absolute water level, and ``z`` is relative to a local datum, so that
float32 keeps millimetres on a bed 90 m above the Dagu datum.

Boundary encoding (codes from :mod:`floodtwin.hydraulics._codes`): ``bctype[e, k]`` and
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

Calling convention: the two step kernels take their arrays grouped in tuples and their scalars as
keyword-only arguments; every helper a kernel calls is positional, because numba cannot bind a
keyword-only parameter in a call between two jitted functions.

Caching: numba invalidates the cache of a kernel only when the file that defines it changes, not
when a file it calls into does. After editing ``friction.py``, ``maxima.py`` or
``reconstruction.py``, clear ``__pycache__`` here (or touch ``godunov.py`` and ``inertial.py``), or
stale machine code is loaded.
"""

from __future__ import annotations

from floodtwin.hydraulics.kernels2d.godunov import edge_flux, godunov_stage
from floodtwin.hydraulics.kernels2d.inertial import inertial_step
from floodtwin.hydraulics.kernels2d.reconstruction import (
    LIMITER_KOREN, LIMITER_MC, LIMITER_MINMOD, LIMITER_NONE, LIMITER_SUPERBEE, LIMITER_VANLEER,
)
from floodtwin.hydraulics.kernels2d.rows import add_point_sources, block_windows, grow_wet_extent, row_sums

__all__ = [
    "LIMITER_KOREN", "LIMITER_MC", "LIMITER_MINMOD", "LIMITER_NONE", "LIMITER_SUPERBEE", "LIMITER_VANLEER",
    "add_point_sources", "block_windows", "edge_flux", "godunov_stage", "grow_wet_extent", "inertial_step",
    "row_sums",
]
