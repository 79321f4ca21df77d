"""The one numba configuration of the hydraulic kernels.

Every kernel is compiled with ``cache=True`` so that the compile cost is paid once per machine (per
change of the sources), not once per process, and lazily: a kernel compiles, for the argument types
of its first call, when a model first runs it (no eager signatures), so a run compiles only the
scheme and dtype it uses (the godunov reconstruction compiles its three limiter families' row loops
together; the cold compile is measured by benchmarks/bench_compile.py).

``fastmath`` stays off: the verification tests rely on IEEE semantics (bitwise identical results
with 1 and 2 threads, exact lake-at-rest balance), and the measured gain was nil once the per-face
``pow`` was gone (see benchmarks/RESULTS.md).
"""

from __future__ import annotations

import os

# numba's OpenMP threading layer (GNU libgomp) spins its idle threads by default; on a machine whose
# cores are shared with other work a spinning thread steals the core the other thread needs, and a
# parallel region of a trivial kernel measured 7.8 ms instead of 13 µs with 2 threads on 2 busy
# cores (benchmarks/RESULTS.md). Passive waiting is set unless the user chose otherwise; libgomp
# reads it when numba first loads the threading layer, after this import.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import llvmlite.binding as _llvm  # noqa: E402
from numba import njit, prange  # noqa: F401  (prange re-exported for the kernels)

__all__ = ["f64_as_i64", "i64_as_f64", "jit", "jit_inline", "jit_parallel", "prange"]

# LLVM's loop vectoriser gives up on a loop that needs more than 8 run-time alias checks between
# its arrays ("too many memory checks needed"); the fused Godunov row update reads 13 arrays and
# writes 5, so it stayed scalar. Allowing more checks (one comparison of two pointer ranges each,
# once per row) lets it vectorise. Set before the first kernel is compiled; the cached machine code
# keeps the effect.
_llvm.set_option("", "-runtime-memory-check-threshold=256")
_llvm.set_option("", "-vectorize-memory-check-threshold=1024")

#: serial kernels (small helpers, per-boundary work). A call between two of them is compiled once
#: per argument types, a constant argument as a literal: calling one with ``True``/``False`` flags
#: compiles a copy with the flags folded (kernels2d.reconstruction uses this per limiter family)
jit = njit(cache=True, fastmath=False, error_model="numpy")
#: per-cell helpers, inlined at the numba IR level into the loops that call them, where a call that
#: LLVM does not inline would keep the loop from vectorising (the reconstruction's _prepare_cell and
#: _increments as calls: godunov 40-50 % slower, benchmarks/RESULTS.md "Cold compile"; a helper of a
#: few operations, such as _face_pair, LLVM inlines by itself). IR inlining re-types the helper's
#: body at every call site, nested ones included, so it multiplies compile time: keep it to the
#: innermost loop bodies and compile larger pieces once with ``jit`` (the reconstruction inlined
#: three times into one function cost 240 s of compiling per dtype; 12 s as it is now)
jit_inline = njit(cache=True, fastmath=False, error_model="numpy", inline="always")
#: row-parallel kernels: prange over blocks of rows, each thread owns whole rows
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
