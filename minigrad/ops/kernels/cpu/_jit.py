"""How the CPU kernels are compiled: :class:`Kernel` (a parallel and a serial variant of one
loop), :func:`inline` (a scalar function compiled into the loop that calls it) and
:func:`wide_vectors` (let LLVM use 512-bit registers where the CPU has them).

Shared by every kernel module; nothing here compiles at import.
"""

from __future__ import annotations

import types as types_

import numpy as np
from numba import njit, types
from numba.extending import intrinsic, overload

__all__ = ["Kernel", "kernel", "inline", "PARALLEL_MIN_SIZE", "wide_vectors", "of_dtype"]

# ------------------------------------------------------------------------------------------------
# parallel and serial variants of one kernel

# Below this many elements (in a kernel's largest array) the serial variant runs: a parallel
# launch costs 1.5 us under TBB (150 us under workqueue) on an idle machine and measured up to
# 10 ms when the cores are busy, which dominated small-array workloads such as finite-difference
# gradient checks.
PARALLEL_MIN_SIZE = 1 << 15
_CONTRACT = {"contract"}


class Kernel:
    """A loop body compiled twice: ``parallel=True`` (``prange`` over threads) and serial.

    Calling it runs the parallel variant when its largest array argument has at least
    ``PARALLEL_MIN_SIZE`` elements. The serial copy gets its own ``__qualname__`` so that the two
    never share a Numba disk-cache entry.

    ``error_model="numpy"``: a float division by zero gives inf/NaN as IEEE says instead of
    raising ZeroDivisionError. The Python model's check on every division kept LLVM from
    vectorizing any loop that divides (sigmoid, tanh, gelu, softplus measured 2-4x slower).
    ``fastmath={"contract"}`` only lets LLVM fuse ``a * b + c`` into one FMA (one rounding
    instead of two; NaN and inf behave as before); the polynomial chains of exp/erfc ran 20-35%
    faster. ``contract=False`` leaves it out where a kernel must round exactly as NumPy does (the
    fused optimizer updates are tested bit for bit against the NumPy update).
    """

    def __init__(self, fn, contract: bool = True):
        serial = types_.FunctionType(
            fn.__code__, fn.__globals__, fn.__name__ + "_serial", fn.__defaults__, fn.__closure__
        )
        serial.__qualname__ = fn.__qualname__ + "_serial"
        serial.__module__ = fn.__module__
        opts = dict(cache=True, error_model="numpy", fastmath=_CONTRACT if contract else False)
        self.parallel = njit(parallel=True, **opts)(fn)
        self.serial = njit(**opts)(serial)
        self.__doc__ = fn.__doc__

    def __call__(self, *args):
        for a in args:  # (a plain loop: this runs for every kernel call)
            if isinstance(a, np.ndarray) and a.size >= PARALLEL_MIN_SIZE:
                return self.parallel(*args)
        return self.serial(*args)


def kernel(fn) -> Kernel:
    """Decorator: ``@kernel`` instead of ``@njit(cache=True, parallel=True)`` (see Kernel)."""
    return Kernel(fn)


def inline(fn):
    """Decorator for scalar functions called from kernel loops: ``inline="always"`` puts the body
    into the caller's loop (where it vectorises; a call would not), ``error_model="numpy"`` as in
    :class:`Kernel`. Compiled with the caller, so no cache of its own."""
    return njit(inline="always", error_model="numpy")(fn)


# ------------------------------------------------------------------------------------------------
# 512-bit vectors


@intrinsic
def wide_vectors(typingctx):
    """Call inside a loop body: the function that loop compiles into may use 512-bit vectors.

    On AVX-512 CPUs from Skylake-X on, LLVM's ``prefer-256-bit`` tuning makes the loop
    vectorizer stop at 256-bit registers (early chips lowered their clock for 512-bit work).
    PyTorch's elementwise kernels use 512 bits there, and a compute-heavy loop (an ``exp`` or
    ``erfc`` polynomial per element) then runs twice as long in ours. This marks the *enclosing*
    LLVM function with ``"prefer-vector-width"="512"``, the per-function form of clang's
    ``-mprefer-vector-width=512``. It emits no instructions, changes no arithmetic (the same
    operations, wider), and does nothing on CPUs without AVX-512.

    It must sit inside the loop body: with ``parallel=True`` Numba compiles a ``prange`` body into
    a separate function, and the attribute has to land on that one. Measured on a Sapphire Rapids
    VM with 2 cores, 4M float32 elements: sigmoid/tanh/gelu/silu forward 1.6-2x faster; relu,
    which only moves memory, unchanged.
    """

    def codegen(context, builder, signature, args):
        # llvmlite's FunctionAttributes accepts only enum attributes; a string attribute is
        # written into the IR text as given
        set.add(builder.function.attributes, '"prefer-vector-width"="512"')
        return context.get_dummy_value()

    return types.none(), codegen


# ------------------------------------------------------------------------------------------------
# a scalar in an array's dtype


def of_dtype(x, a):  # pragma: no cover - resolved at compile time by the overload below
    """``x`` converted to the dtype of the array ``a``, in jitted code: a float64 statistic
    applied to a float32 array in float32 arithmetic (a float64 scalar in a float32 loop makes
    the whole loop float64, half as many values per vector)."""
    raise NotImplementedError


@overload(of_dtype, inline="always")
def _of_dtype_impl(x, a):
    if isinstance(a, types.Array):
        dtype = a.dtype
        return lambda x, a: dtype(x)
    return None
