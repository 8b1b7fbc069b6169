"""float32 maths that LLVM can vectorise: ``exp`` (of x <= 0), ``expm1``, ``tanh``, the normal
CDF through a fitted ``erfc``, and ``log1p`` on [0, 1], for the CPU kernels.

libm's float32 functions are calls that the loop vectoriser cannot widen (there is no SVML
here), so a loop of ``math.exp`` runs one element at a time. These are polynomials and bit
manipulations written in Numba, ``inline="always"``, which the kernels' loops vectorise (8 or 16
lanes): that is what brings sigmoid, tanh, gelu, silu and softmax to PyTorch's speed. float64
kernels keep libm. No fastmath beyond the FMA contraction of ``_jit.Kernel``: NaN and inf
propagate as in PyTorch.

Accuracy, checked against float64 on 1.6e6 points in [-80, 80] (exp and expm1: [-104, 88]) plus
4e4 points near 0: exp 1 ulp, expm1 1.4 ulp, tanh 2.1 ulp; the activations built on them:
sigmoid 2.5 ulp, silu 3.1 ulp, softplus 3.3 ulp, elu 0.8 ulp; gelu's relative error is below
8e-7 on [-5, 6], 2.2e-6 on [-9, -5] and 4e-6 down to -13, where it underflows (PyTorch's float32
gelu, measured the same way, is off by up to 1.2e-6 absolute: 27% relative on [-5, 5], and it
returns 0 below -5).

:data:`CPU_MATHS` hands these (float32) and libm (float64) to the activation table
(``kernels/scalar.py``); :func:`exp_nonpos` picks one of the two by type inside other kernels
(softmax).
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic, overload

from minigrad.ops.kernels.cpu._jit import inline
from minigrad.ops.kernels.scalar import Maths, libm_maths

__all__ = [
    "CPU_MATHS",
    "exp_nonpos",
    "exp_nonpos_f32",
    "expm1_f32",
    "tanh_f32",
    "gelu_parts_f32",
    "log1p_unit_f32",
    "horner8",
]

_f = np.float32
# Cephes expf: exp(x) = 2**n * exp(r), |r| <= ln2/2, ln2 split in two so that r is exact.
_LOG2E = _f(1.44269504088896341)
_LN2_HI = _f(0.693359375)
_LN2_LO = _f(-2.12194440e-4)
_E0, _E1, _E2 = _f(1.9875691500e-4), _f(1.3981999507e-3), _f(8.3334519073e-3)
_E3, _E4, _E5 = _f(4.1665795894e-2), _f(1.6666665459e-1), _f(5.0000001201e-1)
# below -104 exp underflows to 0 even as a subnormal
_EXP_LO = _f(-104.0)
# exp_nonpos_f32: t = x*log2(e) + 1.5*2**23 rounds x*log2(e) to the nearest integer n, which
# then sits in t's low mantissa bits; 2**64 shifts the scale factor into the normal range
_ROUND = _f(12582912.0)  # 1.5 * 2**23
_ROUND_BITS = np.int32(0x4B400000)
_TWO_M64 = _f(2.0**-64)
# tanh(x) = +-1 in float32 from |x| = 9.01 on; clamping there keeps expm1(2|x|) finite
_TANH_CLAMP = _f(9.1)
# expm1 is -1 in float32 below -17.3; above 88 the scale factor 2**n would overflow
_EXPM1_LO, _EXPM1_HI = _f(-88.0), _f(88.0)
# erfc(z) = t exp(-z^2) Q(t), t = 1/(1 + 0.3 z), z >= 0: Q fitted by tools/fit_erfcx.py
# (relative error 2e-8 before float32 rounding)
_ERFC_P = _f(0.3)
_GELU_CLAMP = _f(14.5)
_Q = tuple(_f(c) for c in (0.16918958723545074, 0.17069239914417267, 0.14847899973392487,
                           0.2144501954317093, -0.09366508573293686, 0.5464456677436829,
                           -0.511272132396698, 0.4851192235946655, -0.12943890690803528))
_F0, _F05, _F1, _F2 = _f(0.0), _f(0.5), _f(1.0), _f(2.0)
_INV_SQRT2 = _f(1 / math.sqrt(2))
_INF = _f(np.inf)
# 2/(2k+1) for log1p(u) = 2 atanh(s), s = u/(2+u) <= 1/3 on [0, 1]
_L = tuple(_f(2 / (2 * k + 1)) for k in range(9))


@intrinsic
def _bits_f32(typingctx, x):
    """The bits of a float32 as an int32 (a reinterpretation, no conversion)."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(32))

    return types.int32(types.float32), codegen


@intrinsic
def _f32_bits(typingctx, n):
    """The float32 whose bits are the int32 ``n``."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())

    return types.float32(types.int32), codegen


@njit(cache=True, inline="always", error_model="numpy")
def _exp_nonpos_core(x):
    """:func:`exp_nonpos_f32` without its NaN handling (NaN in, some number out)."""
    xc = max(x, _EXP_LO)
    t = xc * _LOG2E + _ROUND
    fn = t - _ROUND
    r = xc - fn * _LN2_HI - fn * _LN2_LO
    p = ((((_E0 * r + _E1) * r + _E2) * r + _E3) * r + _E4) * r + _E5
    p = p * (r * r) + r + _F1
    scale = _f32_bits((_bits_f32(t) - _ROUND_BITS + np.int32(127 + 64)) << np.int32(23))
    return p * scale * _TWO_M64


@njit(cache=True, inline="always", error_model="numpy")
def exp_nonpos_f32(x):
    """float32 ``exp`` for ``x <= 40`` (meant for x <= 0), within 1 ulp, subnormal results
    rounded once; NaN propagates. About 40% fewer instructions than the general exp it
    replaced: no overflow handling, rounding by the 1.5*2**23 shift instead of floor + convert,
    and one scale factor instead of two (``p * 2**(n+64) * 2**-64`` is exact until the last
    multiply, which rounds a subnormal result correctly). Sigmoid, silu, softplus, gelu and
    softmax only take ``exp`` of non-positive numbers."""
    y = _exp_nonpos_core(x)
    return y if x == x else x


@njit(cache=True, inline="always", error_model="numpy")
def _expm1_core(x):
    """:func:`expm1_f32` for -88 <= x <= 88 only: no clamps, no inf or NaN handling."""
    t = x * _LOG2E + _ROUND
    fn = t - _ROUND
    r = x - fn * _LN2_HI - fn * _LN2_LO
    p = ((((_E0 * r + _E1) * r + _E2) * r + _E3) * r + _E4) * r + _E5
    u = p * (r * r) + r
    scale = _f32_bits((_bits_f32(t) - _ROUND_BITS + np.int32(127)) << np.int32(23))
    return scale * u + (scale - _F1)


@njit(cache=True, inline="always", error_model="numpy")
def expm1_f32(x):
    """float32 ``exp(x) - 1`` within 1.4 ulp, without cancellation near 0; branch-free.

    With ``x = n ln2 + r``: ``expm1(x) = 2**n expm1(r) + (2**n - 1)``, one FMA. For n = 0 that is
    expm1(r) itself, whose polynomial ``r + r**2 P(r)`` is accurate near 0, so no second branch
    for small x is needed (the Taylor-or-exp version computed both: 2x the instructions).
    Gives inf from x = 88 on (the true value overflows from 88.72; elu, the caller, keeps the
    result only for x <= 0; tanh calls the core directly with x <= 18.2)."""
    y = _expm1_core(min(max(x, _EXPM1_LO), _EXPM1_HI))
    y = _INF if x > _EXPM1_HI else y  # a float32 constant: math.inf would promote y to float64
    return y if x == x else x


@njit(cache=True, inline="always", error_model="numpy")
def tanh_f32(x):
    """float32 ``tanh`` within 2.1 ulp as ``d / (d + 2)`` with ``d = expm1(2|x|)``, sign restored;
    exactly +-1 from |x| = 9.01 on; keeps the sign of zero; NaN propagates. (Measured against a
    rational approximation of x*x: that one was 1.1x faster but 5 ulp off, with steps back of up
    to 7 ulp near +-1, where tanh's derivative 1 - y**2 is read from the output.)"""
    a = min(abs(x), _TANH_CLAMP)
    d = _expm1_core(_F2 * a)
    y = d / (d + _F2)
    return math.copysign(y, x) if x == x else x


@njit(cache=True, inline="always", error_model="numpy")
def horner8(c, t):
    """``c[0] + c[1] t + ... + c[8] t**8`` by Horner's rule (9 coefficients)."""
    p = c[7] + t * c[8]
    p = c[6] + t * p
    p = c[5] + t * p
    p = c[4] + t * p
    p = c[3] + t * p
    p = c[2] + t * p
    p = c[1] + t * p
    return c[0] + t * p


@njit(cache=True, inline="always", error_model="numpy")
def gelu_parts_f32(x):
    """``(Phi(x), exp(-x*x/2))`` in float32: the normal CDF, relatively accurate in the lower
    tail, and the exponential gelu's derivative needs too (one exp serves both).

    ``Phi(x) = erfc(|x|/sqrt2)/2`` for x < 0 (and 1 minus that for x >= 0), with
    ``erfc(z) = t exp(-z*z) Q(t)``. ``x*x`` is split into its rounded value h and the exact
    remainder l (one FMA), and ``exp(-(h + l)/2) = exp(-h/2) (1 - l/2)``: the rounding of x*x
    would otherwise cost a relative error of 6e-8 * x*x/2 (7e-6 at x = -13). NaN in, some number
    out: gelu multiplies by x, which gives the NaN.
    """
    # beyond 14.5, Phi(-|x|) rounds to 0 in float32 anyway; the clamp keeps x*x finite (inf - inf
    # in the remainder below would make gelu(inf) NaN)
    a = min(abs(x), _GELU_CLAMP)
    h = a * a
    lo = a * a - h  # contracted into fma(a, a, -h): the part of a*a that h rounded away
    e = _exp_nonpos_core(-_F05 * h) * (_F1 - _F05 * lo)
    t = _F1 / (_F1 + _ERFC_P * _INV_SQRT2 * a)
    half_erfc = _F05 * t * horner8(_Q, t) * e
    return (half_erfc if x < _F0 else _F1 - half_erfc), e


@njit(cache=True, inline="always", error_model="numpy")
def log1p_unit_f32(u):
    """float32 ``log(1 + u)`` for u in [0, 1] (all softplus needs), via 2 atanh(u / (2 + u))."""
    s = u / (_F2 + u)
    return s * horner8(_L, s * s)


def _by_float_type(f32, libm):
    """An overload body for a scalar function of jitted code: ``f32`` for float32 arguments,
    ``libm`` (a :mod:`math` function) for other floats."""

    def impl(x):
        if x == types.float32:
            return lambda x: f32(x)
        if isinstance(x, types.Float):
            return lambda x: libm(x)
        return None

    return impl


def exp_nonpos(x):  # pragma: no cover - resolved at compile time by the overload below
    """``exp`` of ``x <= 0`` (or NaN) for jitted code: :func:`exp_nonpos_f32` for float32, libm
    for float64."""
    raise NotImplementedError


def tanh_any(x):  # pragma: no cover - resolved at compile time by the overload below
    """``tanh`` for jitted code: :func:`tanh_f32` for float32, libm for float64."""
    raise NotImplementedError


overload(exp_nonpos, inline="always")(_by_float_type(exp_nonpos_f32, math.exp))
overload(tanh_any)(_by_float_type(tanh_f32, math.tanh))


# float type -> the maths the activation table is compiled with on the CPU
CPU_MATHS: dict[type, Maths] = {
    np.float32: Maths(exp_nonpos_f32, expm1_f32, tanh_f32, log1p_unit_f32, gelu_parts_f32),
    np.float64: libm_maths(inline, np.float64, math, math.erfc),
}
