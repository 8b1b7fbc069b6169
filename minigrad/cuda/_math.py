"""GPU scalar functions for the ufuncs that ``minigrad.ops.math`` and ``minigrad.ops.bitwise``
call beyond the core set: the inverse trigonometric and hyperbolic functions, other bases for
log and exp, rounding, the two-argument functions, modulo, shifts and the error functions.

:mod:`minigrad.cuda._elementwise` merges :func:`scalar_table` into its table of ufuncs and
registers :func:`ufuncs` with ``CudaArray``, so these run through its map and zip kernels like
``np.exp`` does. The error functions' keys are the Numba ufuncs of :mod:`minigrad._special`,
and their device functions are compiled from the same scalar source (``erfinv_scalar``) as the
CPU loops.

Under the CUDA simulator device code runs as Python on NumPy scalars, so the functions there are
NumPy's (``math.asin(2.0)`` would raise instead of giving NaN); on a GPU they are ``math``'s, which
numba.cuda maps to libdevice. Semantics follow NumPy's ufuncs (and so PyTorch's): ``rint`` rounds
halves to even, ``floor_divide`` and ``remainder`` are Python's (floor, sign of the divisor),
``fmod`` is C's (for floats; integer fmod is composed exactly in ``ops/bitwise.py``).
``floor``, ``ceil``, ``trunc`` and ``rint`` compute in floating point (numba's ``math.floor``
returns an int64, which overflows beyond 2^63; here ``fmod(a, 1)`` is exact and inf/NaN pass
through), so this table also replaces the core table's ``floor`` and ``ceil``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["calls", "scalar_table", "ufuncs"]


def calls(fns: dict[Any, Callable[[Any], Any]]) -> dict[Any, tuple[int, Callable[[Any], Any]]]:
    """``{ufunc: (1, a -> f(a))}`` for each ``ufunc: f`` of ``fns``, the table entries of the
    ufuncs that are one call of a ``math`` function (NumPy's under the simulator): numba.cuda
    compiles a Python function calling ``math.exp`` as a device function, not ``math.exp``
    itself."""
    return {ufunc: (1, _calling(f)) for ufunc, f in fns.items()}


def _calling(f: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda a: f(a)


def ufuncs() -> tuple[Any, ...]:
    """The ufuncs this module gives GPU kernels (keys for ``CudaArray``'s dispatch)."""
    from minigrad._special import ufuncs as special

    s = special()
    return (np.tan, np.arcsin, np.arccos, np.arctan, np.arctan2, np.sinh, np.cosh, np.arcsinh,
            np.arccosh, np.arctanh, np.log2, np.log10, np.exp2, np.trunc, np.rint, np.copysign,
            np.hypot, np.signbit, np.fmod, np.remainder, np.floor_divide, np.left_shift,
            np.right_shift, s["erf"], s["erfc"], s["erfinv"])


def scalar_table(jit: Callable[[Callable], Any]) -> dict[Any, tuple[int, Callable[..., Any]]]:
    """``{ufunc: (number of inputs, scalar function)}`` for :func:`ufuncs`; ``jit`` compiles a
    helper the functions call (``cuda.jit(device=True)``)."""
    from minigrad import _special
    from minigrad.cuda import is_simulator

    sim = is_simulator()
    m: Any = np if sim else math
    tan, sinh, cosh, log10 = m.tan, m.sinh, m.cosh, m.log10
    log2, copysign, hypot, fmod = m.log2, m.copysign, m.hypot, m.fmod
    if sim:
        asin, acos, atan, atan2 = np.arcsin, np.arccos, np.arctan, np.arctan2
        asinh, acosh, atanh = np.arcsinh, np.arccosh, np.arctanh
    else:
        asin, acos, atan, atan2 = math.asin, math.acos, math.atan, math.atan2
        asinh, acosh, atanh = math.asinh, math.acosh, math.atanh
    erf, erfc = math.erf, math.erfc  # total functions: math's work on NumPy scalars too
    erfinv = jit(_special.erfinv_scalar)

    # trunc and rint in floating point only (math.floor/ceil return int64 in numba, which
    # overflows beyond 2^63): fmod(a, 1) is exact, and a float of magnitude >= 2^52 is an integer

    def trunc(a):
        if a - a != 0:  # inf or NaN
            return a
        return copysign(a - fmod(a, 1.0), a)

    trunc_dev = jit(trunc)

    def floor(a):
        t = trunc_dev(a)
        return t - 1.0 if t > a else t

    def ceil(a):
        t = trunc_dev(a)
        return t + 1.0 if t < a else t

    def rint(a):
        # round half to even (NumPy's rint, PyTorch's round)
        if a - a != 0 or abs(a) >= 4503599627370496.0:
            return a
        f = trunc_dev(a)
        if f > a:
            f = f - 1.0  # floor
        d = a - f
        if d > 0.5:
            r = f + 1.0
        elif d < 0.5:
            r = f
        else:
            r = f if fmod(f, 2.0) == 0 else f + 1.0
        return copysign(r, a)

    def remainder(a, b):
        return a % b

    def floor_divide(a, b):
        return a // b

    special = _special.ufuncs()
    table = calls({
        np.tan: tan, np.arcsin: asin, np.arccos: acos, np.arctan: atan, np.sinh: sinh,
        np.cosh: cosh, np.arcsinh: asinh, np.arccosh: acosh, np.arctanh: atanh, np.log2: log2,
        np.log10: log10, np.trunc: trunc_dev, special["erf"]: erf, special["erfc"]: erfc,
        special["erfinv"]: erfinv,
    })
    return table | {
        np.arctan2: (2, lambda a, b: atan2(a, b)),
        np.exp2: (1, lambda a: 2.0**a),
        np.floor: (1, floor),  # float-only versions of the core table's floor and ceil
        np.ceil: (1, ceil),
        np.rint: (1, rint),
        np.copysign: (2, lambda a, b: copysign(a, b)),
        np.hypot: (2, lambda a, b: hypot(a, b)),
        np.signbit: (1, lambda a: copysign(1.0, a) < 0),
        np.fmod: (2, lambda a, b: fmod(a, b)),
        np.remainder: (2, remainder),
        np.floor_divide: (2, floor_divide),
        np.left_shift: (2, lambda a, b: a << b),
        np.right_shift: (2, lambda a, b: a >> b),
    }
