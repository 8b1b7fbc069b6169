"""The error function family as NumPy ufuncs: ``erf``, ``erfc`` and ``erfinv``.

NumPy has no error function, and SciPy is not a dependency of minigrad, so these are Numba
``vectorize`` ufuncs (float32 and float64 loops, compiled on first use and cached on disk) over
scalar functions written once in this module. The same scalar functions are compiled for the GPU
by :mod:`minigrad.cuda._math`, and the ufunc objects returned here are the keys under which
``CudaArray`` finds those kernels, so ``erf(x.data)`` runs on the device of ``x``.

Accuracy: ``erf``/``erfc`` are libm's (``math.erf``, ``math.erfc``: correctly rounded to about
1 ulp). ``erfinv`` has no libm function; it starts from Giles' single-precision approximation
("Approximating the erfinv function", GPU Computing Gems, 2010; relative error < 4e-7) and
refines it: for |y| < 1/2 with two Halley steps on ``erf(x) - y`` (each triples the number of
correct digits), for |y| >= 1/2 with Newton steps on ``log(erfc(x)) - log(1 - |y|)`` (``1 - |y|``
is exact there, so the tails keep their relative accuracy, and the log makes the equation nearly
quadratic, so Newton converges even where the approximation is poor, |y| within 1e-16 of 1).
The result is correct to a few float64 ulp (checked against
``scipy.special.erfinv`` in the tests, which is a test-only dependency). ``erfinv(+-1) = +-inf``,
NaN outside [-1, 1].
"""

from __future__ import annotations

import functools
import math
from typing import Any

__all__ = ["erf_scalar", "erfc_scalar", "erfinv_scalar", "ufuncs"]

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_NAN = math.nan
_INF = math.inf


def erf_scalar(x):
    return math.erf(x)


def erfc_scalar(x):
    return math.erfc(x)


def erfinv_scalar(y):
    """The inverse of ``erf`` on [-1, 1], computed in float64 (see the module docstring)."""
    y = float(y)
    if y != y or y < -1.0 or y > 1.0:
        return _NAN
    if y == 1.0:
        return _INF
    if y == -1.0:
        return -_INF
    a = abs(y)
    # Giles' approximation of erfinv(a) / a, in w = -log(1 - a^2)
    w = -math.log((1.0 - a) * (1.0 + a))
    if w < 5.0:
        w = w - 2.5
        p = 2.81022636e-08
        p = 3.43273939e-07 + p * w
        p = -3.5233877e-06 + p * w
        p = -4.39150654e-06 + p * w
        p = 0.00021858087 + p * w
        p = -0.00125372503 + p * w
        p = -0.00417768164 + p * w
        p = 0.246640727 + p * w
        p = 1.50140941 + p * w
    else:
        w = math.sqrt(w) - 3.0
        p = -0.000200214257
        p = 0.000100950558 + p * w
        p = 0.00134934322 + p * w
        p = -0.00367342844 + p * w
        p = 0.00573950773 + p * w
        p = -0.0076224613 + p * w
        p = 0.00943887047 + p * w
        p = 1.00167406 + p * w
        p = 2.83297682 + p * w
    x = p * a
    if a < 0.5:
        # Halley on f(x) = erf(x) - a: f' = d, f'' = -2 x d, step f / (d + x f)
        for _ in range(2):
            f = math.erf(x) - a
            x = x - f / (_TWO_OVER_SQRT_PI * math.exp(-x * x) + x * f)
    else:
        # Newton on h(x) = log(erfc(x)) - log(q), q = 1 - a exact: nearly quadratic in x, so it
        # converges from the approximation's extrapolation too (|y| within 1e-16 of 1)
        log_q = math.log(1.0 - a)
        for _ in range(8):
            e = math.erfc(x)
            step = (math.log(e) - log_q) * e / (_TWO_OVER_SQRT_PI * math.exp(-x * x))
            x = x + step
            if abs(step) <= 1e-17 * x:
                break
    return math.copysign(x, y)


@functools.cache
def ufuncs() -> dict[str, Any]:
    """``{"erf": ufunc, "erfc": ufunc, "erfinv": ufunc}``: NumPy ufuncs with float32 and float64
    loops (compiled here on the first call, from Numba's disk cache afterwards)."""
    import numba

    sigs = ["float32(float32)", "float64(float64)"]
    out = {}
    for name, fn in (("erf", erf_scalar), ("erfc", erfc_scalar), ("erfinv", erfinv_scalar)):
        out[name] = numba.vectorize(sigs, cache=True)(fn).ufunc
    return out
