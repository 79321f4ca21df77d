"""The one numba configuration of the hydraulic kernels.

Every kernel is compiled with ``cache=True`` so that the compile cost (seconds) is paid once per
machine, not once per process. ``fastmath`` stays off: the verification tests rely on IEEE
semantics (bitwise identical results with 1 and 2 threads, exact lake-at-rest balance), and the
measured gain was nil once the per-face ``pow`` was gone (see benchmarks/RESULTS.md).
"""

from __future__ import annotations

from numba import njit, prange  # noqa: F401  (prange re-exported for the kernels)

#: serial kernels (small helpers, per-boundary work)
jit = njit(cache=True, fastmath=False, error_model="numpy")
#: row-parallel kernels: prange over blocks of rows, each thread owns whole rows
jit_parallel = njit(cache=True, fastmath=False, parallel=True, error_model="numpy")
