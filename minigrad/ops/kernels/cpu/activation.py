"""Elementwise activation kernels: ``y = f(x)`` and ``gx = gy * f'(x)``, float32 and float64.

Two kernel shapes are written once (MiniTorch's ``map`` and ``zip``) and every activation is a
pair of scalar functions handed to them, so adding an activation means writing ``f`` and ``f'``,
not a loop. Measured: a kernel built this way runs as fast as a hand-written loop, because the
scalar function is resolved at compile time and inlines (passing it as a runtime argument does not
inline and was 2.5x slower).

The scalar functions are instantiated once per float type by :func:`_scalars`. That keeps every
constant in the input's type (``float32 * 0.5`` would silently compute in float64) and lets float32
use the polynomial ``exp``/``tanh``/``erfc`` below: libm calls do not vectorize (no SVML here),
while these do, which is what brings sigmoid/tanh/gelu to PyTorch's speed. float64 uses libm.
No fastmath beyond FMA contraction (see ``_jit.Kernel``): NaN and inf propagate like PyTorch.
The loops use 512-bit vectors where the CPU has them (``_jit.wide_vectors``).

The float32 functions were checked against float64 on 1.6e6 points in [-80, 80] (exp and expm1:
[-104, 88]) plus 4e4 points near 0: exp 1 ulp, expm1 1.4 ulp, tanh 2.1 ulp, sigmoid 2.5 ulp,
silu 3.1 ulp, softplus 3.3 ulp, elu 0.8 ulp. gelu's relative error is below 8e-7 on [-5, 6],
2.2e-6 on [-9, -5] and 4e-6 down to -13, where it underflows. PyTorch's float32 gelu, measured
the same way, is off by up to 1.2e-6 absolute: 27% relative on [-5, 5], and it returns 0 below
-5.

Public entry points take arrays of any layout and return new C-contiguous arrays:
:func:`forward` and :func:`backward`, selected by activation name (see ``ACTIVATIONS``).
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.extending import intrinsic, overload

from minigrad.ops.kernels.cpu._jit import PARALLEL_MIN_SIZE, Kernel, kernel, wide_vectors

__all__ = [
    "ACTIVATIONS",
    "FROM_OUTPUT",
    "forward",
    "backward",
    "backward_from_output",
    "exp_nonpos",
    "kernel",
    "Kernel",
    "PARALLEL_MIN_SIZE",
]

# name -> meaning of the two scalar parameters (a, b) passed to every scalar function
ACTIVATIONS: dict[str, tuple[str, str]] = {
    "relu": ("", ""),
    "leaky_relu": ("negative_slope", ""),
    "elu": ("alpha", "scale"),  # selu = elu with PyTorch's fixed alpha and scale
    "sigmoid": ("", ""),
    "tanh": ("", ""),
    "silu": ("", ""),
    "gelu": ("", ""),
    "gelu_tanh": ("", ""),
    "softplus": ("beta", "threshold"),
    "hardtanh": ("min_val", "max_val"),
}


# ------------------------------------------------------------------------------------------------
# float32 math that LLVM can vectorize


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
def _horner8(c, t):
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
def _gelu_parts_f32(x):
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
    half_erfc = _F05 * t * _horner8(_Q, t) * e
    return (half_erfc if x < _F0 else _F1 - half_erfc), e


@njit(cache=True, inline="always", error_model="numpy")
def log1p_unit_f32(u):
    """float32 ``log(1 + u)`` for u in [0, 1] (all softplus needs), via 2 atanh(u / (2 + u))."""
    s = u / (_F2 + u)
    return s * _horner8(_L, s * s)


def exp_nonpos(x):  # pragma: no cover - resolved at compile time by the overload below
    """``exp`` of ``x <= 0`` (or NaN) for jitted code: :func:`exp_nonpos_f32` for float32, libm
    for float64."""
    raise NotImplementedError


@overload(exp_nonpos, inline="always")
def _exp_nonpos_impl(x):
    if x == types.float32:
        return lambda x: exp_nonpos_f32(x)
    if isinstance(x, types.Float):
        return lambda x: math.exp(x)
    return None


# ------------------------------------------------------------------------------------------------
# scalar activations, instantiated per float type


def _scalars(ft: type, output_derivatives: dict) -> dict[str, tuple]:
    """``{name: (f, df)}``: ``f(x, a, b) -> y``, ``df(x, a, b) -> f'(x)`` for float type ``ft``.

    Conventions at kinks follow PyTorch: relu'(0) = 0, leaky_relu'(0) = slope, hardtanh' = 0 at
    the clip values, elu'(0) = alpha * scale.
    """
    zero, half, one, two, four = ft(0), ft(0.5), ft(1), ft(2), ft(4)
    inv_sqrt2 = ft(1 / math.sqrt(2))
    inv_sqrt_2pi = ft(1 / math.sqrt(2 * math.pi))
    k_tanh = ft(math.sqrt(2 / math.pi))
    k_cube, k_cube3 = ft(0.044715), ft(3 * 0.044715)
    if ft is np.float32:
        # exp_np: exp of a non-positive argument, which is all these activations need
        exp_np, expm1, tanh, log1p_unit = exp_nonpos_f32, expm1_f32, tanh_f32, log1p_unit_f32
        gelu_parts = _gelu_parts_f32
    else:
        exp_np, expm1, tanh, log1p_unit = math.exp, math.expm1, math.tanh, math.log1p

        @njit(inline="always", error_model="numpy")
        def gelu_parts(x):  # (Phi(x), exp(-x*x/2)), from libm
            return half * math.erfc(-x * inv_sqrt2), math.exp(-half * x * x)

    def jit(fn):
        return njit(inline="always", error_model="numpy")(fn)

    @jit
    def relu(x, a, b):
        return zero if x <= zero else x  # NaN <= 0 is False: NaN passes through

    @jit
    def d_relu(x, a, b):
        return zero if x <= zero else one

    @jit
    def leaky_relu(x, a, b):
        return x if x > zero else x * a

    @jit
    def d_leaky_relu(x, a, b):
        return one if x > zero else a

    @jit
    def elu(x, a, b):
        # both branches computed, then selected: with expm1 inside the conditional LLVM emitted
        # predicated code that ran 4x slower
        negative = b * a * expm1(x)
        return b * x if x > zero else negative

    @jit
    def d_elu(x, a, b):
        negative = b * a * exp_np(min(x, zero))
        return b if x > zero else negative

    @jit
    def sigmoid(x, a, b):
        # exp of a non-positive number only: no overflow for any x
        e = exp_np(-abs(x))
        s = one / (one + e)
        return s if x >= zero else (e * s if x < zero else x)

    @jit
    def d_sigmoid(x, a, b):
        # s(1-s) = e/(1+e)^2 with e = exp(-|x|): accurate in both tails, unlike s*(1-s)
        e = exp_np(-abs(x))
        s = one / (one + e)
        return e * s * s

    @jit
    def tanh_(x, a, b):
        return tanh(x)

    @jit
    def d_tanh(x, a, b):
        # 1 - tanh^2 = 4e/(1+e)^2 with e = exp(-2|x|): keeps relative accuracy for large |x|
        e = exp_np(-two * abs(x))
        s = one / (one + e)
        return four * e * s * s

    @jit
    def silu(x, a, b):
        return x * sigmoid(x, a, b)

    @jit
    def d_silu(x, a, b):
        s = sigmoid(x, a, b)
        return s * (one + x * (one - s))

    @jit
    def gelu(x, a, b):
        # x * Phi(x) with Phi(x) = erfc(-x/sqrt2)/2: no cancellation in the negative tail
        phi, _ = gelu_parts(x)
        return x * phi

    @jit
    def d_gelu(x, a, b):
        phi, e = gelu_parts(x)
        return phi + x * inv_sqrt_2pi * e

    @jit
    def gelu_tanh(x, a, b):
        # 0.5 x (1 + tanh(u)) = x sigmoid(2u): 1 + tanh(u) cancels for x << 0, the sigmoid does not
        u2 = two * k_tanh * (x + k_cube * x * x * x)
        return x * sigmoid(u2, a, b)

    @jit
    def d_gelu_tanh(x, a, b):
        # with s = sigmoid(2u): 0.5(1 + tanh u) = s and 0.5(1 - tanh^2 u) = 2 s(1 - s)
        u2 = two * k_tanh * (x + k_cube * x * x * x)
        return sigmoid(u2, a, b) + two * x * d_sigmoid(u2, a, b) * k_tanh * (one + k_cube3 * x * x)

    @jit
    def softplus(x, a, b):
        z = a * x
        # log(1 + e^z) = max(z, 0) + log1p(e^-|z|): never overflows
        soft = (max(z, zero) + log1p_unit(exp_np(-abs(z)))) / a
        return x if z > b else soft

    @jit
    def d_softplus(x, a, b):
        z = a * x
        s = sigmoid(z, a, b)
        return one if z > b else s

    @jit
    def hardtanh(x, a, b):
        return a if x < a else (b if x > b else x)

    @jit
    def d_hardtanh(x, a, b):
        return zero if (x <= a or x >= b) else one

    # derivatives from the output y = f(x) (PyTorch's sigmoid_backward / tanh_backward): a fused
    # multiply instead of a second exp in the backward pass
    @jit
    def dy_sigmoid(y, a, b):
        return y * (one - y)

    @jit
    def dy_tanh(y, a, b):
        return one - y * y

    output_derivatives["sigmoid"] = dy_sigmoid
    output_derivatives["tanh"] = dy_tanh

    return {
        "relu": (relu, d_relu),
        "leaky_relu": (leaky_relu, d_leaky_relu),
        "elu": (elu, d_elu),
        "sigmoid": (sigmoid, d_sigmoid),
        "tanh": (tanh_, d_tanh),
        "silu": (silu, d_silu),
        "gelu": (gelu, d_gelu),
        "gelu_tanh": (gelu_tanh, d_gelu_tanh),
        "softplus": (softplus, d_softplus),
        "hardtanh": (hardtanh, d_hardtanh),
    }


# ------------------------------------------------------------------------------------------------
# the two kernel shapes

_OUTPUT_DERIVATIVES: dict = {types.float32: {}, types.float64: {}}
_SCALARS = {
    t: _scalars(ft, _OUTPUT_DERIVATIVES[t])
    for t, ft in ((types.float32, np.float32), (types.float64, np.float64))
}
# activations whose derivative is computed from the output y (see backward_from_output)
FROM_OUTPUT = frozenset(_OUTPUT_DERIVATIVES[types.float64])


def _apply_f(name, x, a, b):  # pragma: no cover - resolved at compile time by the overload below
    raise NotImplementedError


def _apply_df(name, x, a, b):  # pragma: no cover
    raise NotImplementedError


@overload(_apply_f, inline="always")
def _f_impl(name, x, a, b):
    if isinstance(name, types.StringLiteral) and x in _SCALARS:
        f = _SCALARS[x][name.literal_value][0]
        return lambda name, x, a, b: f(x, a, b)
    return None


@overload(_apply_df, inline="always")
def _df_impl(name, x, a, b):
    if isinstance(name, types.StringLiteral) and x in _SCALARS:
        df = _SCALARS[x][name.literal_value][1]
        return lambda name, x, a, b: df(x, a, b)
    return None


def _apply_dy(name, y, a, b):  # pragma: no cover
    raise NotImplementedError


@overload(_apply_dy, inline="always")
def _dy_impl(name, y, a, b):
    if isinstance(name, types.StringLiteral) and y in _OUTPUT_DERIVATIVES:
        dy = _OUTPUT_DERIVATIVES[y][name.literal_value]
        return lambda name, y, a, b: dy(y, a, b)
    return None


# The kernels close over the activation's *name* only and reach its scalar functions through the
# overloads above: Numba keys its disk cache on the pickled closure, and a captured dispatcher
# pickles differently in every process (the cache would never be hit).
def _make_map(name):
    @kernel
    def map_kernel(x, a, b, out):
        for i in prange(x.size):
            wide_vectors()
            out[i] = _apply_f(name, x[i], a, b)

    return map_kernel


def _make_grad(name):
    @kernel
    def grad_kernel(gy, x, a, b, out):
        for i in prange(x.size):
            wide_vectors()
            out[i] = gy[i] * _apply_df(name, x[i], a, b)

    return grad_kernel


def _make_output_grad(name):
    @kernel
    def output_grad_kernel(gy, y, a, b, out):
        for i in prange(y.size):
            wide_vectors()
            out[i] = gy[i] * _apply_dy(name, y[i], a, b)

    return output_grad_kernel


# name -> (map kernel, grad kernel, output-grad kernel or None); building compiles nothing
_KERNELS: dict[str, tuple] = {
    name: (
        _make_map(name),
        _make_grad(name),
        _make_output_grad(name) if name in FROM_OUTPUT else None,
    )
    for name in ACTIVATIONS
}


def _lookup(name: str, dtype: np.dtype) -> tuple:
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; known: {sorted(ACTIVATIONS)}")
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"activation {name}: dtype must be float32 or float64, got {dtype}")
    return _KERNELS[name]


def forward(name: str, x: np.ndarray, a: float = 0.0, b: float = 0.0) -> np.ndarray:
    """``y = f(x)`` for activation ``name``. x: any shape, float32/float64; y: same shape, dtype."""
    kernel = _lookup(name, x.dtype)[0]
    # the result owns its memory (not a reshape view), so autograd can hand it on uncopied
    out = np.empty(x.shape, x.dtype)
    kernel(np.ascontiguousarray(x).reshape(-1), x.dtype.type(a), x.dtype.type(b), out.reshape(-1))
    return out


def backward(
    name: str, gy: np.ndarray, x: np.ndarray, a: float = 0.0, b: float = 0.0
) -> np.ndarray:
    """``gx = gy * f'(x)``; gy, x: same shape and dtype."""
    if gy.shape != x.shape or gy.dtype != x.dtype:
        raise ValueError(
            f"activation {name} backward: gy {gy.shape} {gy.dtype} must match x {x.shape} {x.dtype}"
        )
    kernel = _lookup(name, x.dtype)[1]
    xf = np.ascontiguousarray(x).reshape(-1)
    gf = np.ascontiguousarray(gy).reshape(-1)
    out = np.empty(x.shape, x.dtype)
    kernel(gf, xf, x.dtype.type(a), x.dtype.type(b), out.reshape(-1))
    return out


def backward_from_output(
    name: str, gy: np.ndarray, y: np.ndarray, a: float = 0.0, b: float = 0.0
) -> np.ndarray:
    """``gx = gy * f'(x)`` computed from the output ``y = f(x)``; only for ``FROM_OUTPUT``."""
    if name not in FROM_OUTPUT:
        raise ValueError(f"activation {name}: no derivative from the output; use backward()")
    if gy.shape != y.shape or gy.dtype != y.dtype:
        raise ValueError(
            f"activation {name} backward: gy {gy.shape} {gy.dtype} must match y {y.shape} {y.dtype}"
        )
    kernel = _lookup(name, y.dtype)[2]
    yf = np.ascontiguousarray(y).reshape(-1)
    out = np.empty(y.shape, y.dtype)
    kernel(np.ascontiguousarray(gy).reshape(-1), yf, y.dtype.type(a), y.dtype.type(b),
           out.reshape(-1))
    return out
