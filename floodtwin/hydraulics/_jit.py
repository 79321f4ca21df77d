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
#: per-face helpers, inlined at the numba IR level into the kernels that call them
jit_inline = njit(cache=True, fastmath=False, error_model="numpy", inline="always")
jit_parallel = njit(cache=True, fastmath=False, parallel=True, error_model="numpy")


# ---- bit casts (LLVM bitcast, no memory traffic) for the fast inverse cube root ----
from numba.core import types as _types  # noqa: E402
from numba.extending import intrinsic as _intrinsic  # noqa: E402


@_intrinsic
def f64_as_i64(typingctx, x):
    """Reinterpret the bits of a float64 as an int64."""
    if not isinstance(x, _types.Float) or x.bitwidth != 64:
        return None
    sig = _types.int64(_types.float64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(_types.int64))

    return sig, codegen


@_intrinsic
def i64_as_f64(typingctx, x):
    """Reinterpret the bits of an int64 as a float64."""
    if not isinstance(x, _types.Integer) or x.bitwidth != 64:
        return None
    sig = _types.float64(_types.int64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(_types.float64))

    return sig, codegen
