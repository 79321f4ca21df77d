"""Numba kernels of the 1D channel model, a package of three concepts (issue 13 split ``kernels1d.py``):

- :mod:`~floodtwin.hydraulics.kernels1d.tables`: section property tables and their look-ups;
- :mod:`~floodtwin.hydraulics.kernels1d.steady`: the standard-step steady profile;
- :mod:`~floodtwin.hydraulics.kernels1d.preissmann`: the Preissmann four-point implicit scheme with
  Newton iterations and a block double sweep, and its steady state.

Kernels write into preallocated arrays and trust their inputs: validation lives in
:mod:`floodtwin.hydraulics.channel` and :mod:`floodtwin.hydraulics.sections`. The entry points called
from Python (``standard_step``, ``preissmann_step``, ``run_preissmann``, ``preissmann_steady``) take
their scalars as keyword-only arguments; the helpers they call stay positional, because numba cannot
bind a keyword-only parameter in a call between two jitted functions. Units: metres, seconds, m³/s. The codes
(downstream kinds, friction laws) and ``G_MS2`` are in :mod:`floodtwin.hydraulics._codes`.

numba's cache of a kernel is invalidated only by an edit to the file that defines it, not by one to
a file it calls into (numba checks the defining file's time stamp): after editing ``tables.py``,
clear ``__pycache__`` here (or touch ``steady.py`` and ``preissmann.py``) so that no stale machine
code is loaded.
"""

from __future__ import annotations

from floodtwin.hydraulics.kernels1d.preissmann import interp_rating, preissmann_steady, preissmann_step, run_preissmann
from floodtwin.hydraulics.kernels1d.steady import CONTRACTION, EXPANSION, standard_step
from floodtwin.hydraulics.kernels1d.tables import (
    N_TABLE, T_ALPHA, T_AREA, T_CONVEYANCE, T_DAREA, T_DCONVEYANCE, T_DMOM_AREA, T_MOM_AREA, T_WIDTH,
    build_section_tables, critical_stage, lookup, lookup_smooth, pchip_slopes, stage_for_conveyance,
)

__all__ = [
    "CONTRACTION", "EXPANSION", "N_TABLE", "T_ALPHA", "T_AREA", "T_CONVEYANCE", "T_DAREA", "T_DCONVEYANCE",
    "T_DMOM_AREA", "T_MOM_AREA", "T_WIDTH", "build_section_tables", "critical_stage", "interp_rating", "lookup",
    "lookup_smooth",
    "pchip_slopes", "preissmann_steady", "preissmann_step", "run_preissmann", "stage_for_conveyance",
    "standard_step",
]
