"""Elementwise maths beyond the core ops: trigonometric and hyperbolic functions and their
inverses, logarithms and exponentials in other bases, the error functions, rounding, the
two-argument functions (``atan2``, ``copysign``, ``logaddexp``, ``hypot``), ``lerp``, and the
float predicates (``isnan``, ``isinf``, ``isfinite``, ``isclose``, ``allclose``, ``signbit``).

The unary ops read as a table of derivatives (PyTorch's ``derivatives.yaml``, HIPS autograd's
``defvjp``): each is a small ``Function`` naming its NumPy forward, whether the backward needs the
input ``x`` or the output ``y``, and ``f'`` as a Tensor expression, so every rule can be
differentiated again. Forwards are NumPy ufuncs, which run on the GPU through ``CudaArray``'s
ufunc protocol (the error functions are Numba ufuncs from :mod:`minigrad._special`, with GPU
twins in :mod:`minigrad.cuda._math`).

Integer inputs compute in float32 (PyTorch's rule), except rounding, which keeps them. Two-input
ops promote their operands with PyTorch's rules (:func:`minigrad.ops.elementwise.result_type`).
Rounding ops (floor, ceil, trunc, round) are step functions: their gradient is zero everywhere, as
PyTorch defines it. The database entries are in :mod:`minigrad.testing.opinfo.math`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from minigrad import _device, _special
from minigrad.autograd import Function
from minigrad.ops._args import real
from minigrad.ops.elementwise import (
    _Binary,
    _Unary,
    as_tensor,
    broadcast_shape,
    exp,
    floating,
    promote,
    sqrt,
)
from minigrad.tensor import DEFAULT_DTYPE, Tensor

__all__ = [
    "tan", "asin", "acos", "atan", "atan2", "sinh", "cosh", "asinh", "acosh", "atanh",
    "arcsin", "arccos", "arctan", "arctan2", "arcsinh", "arccosh", "arctanh",
    "log2", "log10", "log1p", "expm1", "exp2", "rsqrt", "reciprocal", "square",
    "erf", "erfc", "erfinv", "floor", "ceil", "trunc", "fix", "round", "frac",
    "copysign", "logaddexp", "lerp", "hypot",
    "isinf", "isnan", "isfinite", "isclose", "allclose", "signbit",
]

_LN2 = math.log(2.0)
_LN10 = math.log(10.0)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_SQRT_PI_OVER_TWO = math.sqrt(math.pi) / 2.0


def _special_ufunc(name: str) -> Any:
    return _special.ufuncs()[name]


# ---------------------------------------------------------------------------------------------
# Unary ops: y = f(x), backward g * f'(x or y)
# ---------------------------------------------------------------------------------------------


class TanFn(_Unary, Function):
    kinks = "x = pi/2 + k pi: poles"
    forward_array, saves = staticmethod(np.tan), "y"
    derivative = staticmethod(lambda y: 1 + y * y)


class AsinFn(_Unary, Function):
    kinks = "x = +-1: the gradient 1/sqrt(1 - x^2) is infinite; NaN outside [-1, 1]"
    forward_array = staticmethod(np.arcsin)
    derivative = staticmethod(lambda x: 1 / sqrt(1 - x * x))


class AcosFn(_Unary, Function):
    kinks = "x = +-1: the gradient -1/sqrt(1 - x^2) is infinite; NaN outside [-1, 1]"
    forward_array = staticmethod(np.arccos)
    derivative = staticmethod(lambda x: -1 / sqrt(1 - x * x))


class AtanFn(_Unary, Function):
    forward_array = staticmethod(np.arctan)
    derivative = staticmethod(lambda x: 1 / (1 + x * x))


class SinhFn(_Unary, Function):
    forward_array = staticmethod(np.sinh)
    derivative = staticmethod(lambda x: cosh(x))


class CoshFn(_Unary, Function):
    forward_array = staticmethod(np.cosh)
    derivative = staticmethod(lambda x: sinh(x))


class AsinhFn(_Unary, Function):
    forward_array = staticmethod(np.arcsinh)
    derivative = staticmethod(lambda x: 1 / sqrt(x * x + 1))


class AcoshFn(_Unary, Function):
    kinks = "x = 1: the gradient 1/sqrt(x^2 - 1) is infinite; NaN below 1"
    forward_array = staticmethod(np.arccosh)
    derivative = staticmethod(lambda x: 1 / sqrt((x - 1) * (x + 1)))


class AtanhFn(_Unary, Function):
    kinks = "x = +-1: poles; NaN outside [-1, 1]"
    forward_array = staticmethod(np.arctanh)
    derivative = staticmethod(lambda x: 1 / ((1 - x) * (1 + x)))


class Log2Fn(_Unary, Function):
    kinks = "x = 0: a pole; NaN below 0"
    forward_array = staticmethod(np.log2)
    derivative = staticmethod(lambda x: 1 / (x * _LN2))


class Log10Fn(_Unary, Function):
    kinks = "x = 0: a pole; NaN below 0"
    forward_array = staticmethod(np.log10)
    derivative = staticmethod(lambda x: 1 / (x * _LN10))


class Log1pFn(_Unary, Function):
    kinks = "x = -1: a pole; NaN below -1"
    forward_array = staticmethod(np.log1p)
    derivative = staticmethod(lambda x: 1 / (1 + x))


class Expm1Fn(_Unary, Function):
    forward_array, saves = staticmethod(np.expm1), "y"
    derivative = staticmethod(lambda y: y + 1)


class Exp2Fn(_Unary, Function):
    forward_array, saves = staticmethod(np.exp2), "y"
    derivative = staticmethod(lambda y: y * _LN2)


class RsqrtFn(_Unary, Function):
    """1 / sqrt(x); d/dx = -x^(-3/2) / 2 = -y^3 / 2."""

    kinks = "x = 0: a pole; NaN below 0"
    forward_array, saves = staticmethod(lambda a: np.reciprocal(np.sqrt(a))), "y"
    derivative = staticmethod(lambda y: y * y * y * -0.5)


class ReciprocalFn(_Unary, Function):
    kinks = "x = 0: a pole"
    forward_array, saves = staticmethod(np.reciprocal), "y"
    derivative = staticmethod(lambda y: -(y * y))


class SquareFn(_Unary, Function):
    forward_array = staticmethod(np.square)
    derivative = staticmethod(lambda x: 2 * x)


class ErfFn(_Unary, Function):
    forward_array = staticmethod(lambda a: _special_ufunc("erf")(a))
    derivative = staticmethod(lambda x: exp(-(x * x)) * _TWO_OVER_SQRT_PI)


class ErfcFn(_Unary, Function):
    forward_array = staticmethod(lambda a: _special_ufunc("erfc")(a))
    derivative = staticmethod(lambda x: exp(-(x * x)) * -_TWO_OVER_SQRT_PI)


class ErfinvFn(_Unary, Function):
    kinks = "y = +-1: erfinv is infinite, and so is its gradient; NaN outside [-1, 1]"
    forward_array, saves = staticmethod(lambda a: _special_ufunc("erfinv")(a)), "y"
    derivative = staticmethod(lambda y: exp(y * y) * _SQRT_PI_OVER_TWO)


class FracFn(_Unary, Function):
    """x - trunc(x) (the sign of x, as PyTorch); its gradient is 1 (trunc's is 0)."""

    kinks = "integers: frac jumps; gradient 1 there too"
    forward_array = staticmethod(lambda a: a - np.trunc(a))

    @staticmethod
    def backward(ctx, g):
        return g


class _Step:
    """Rounding: piecewise constant, so the gradient is zero everywhere (PyTorch's rule), jumps
    included. The backward returns a constant zero tensor (its own derivative is zero too)."""

    kinks = "the jumps (integers; round: half-integers): gradient 0 everywhere"

    @staticmethod
    def forward(ctx, x, **params):
        return ctx.step(x.data, **params)

    @staticmethod
    def backward(ctx, g):
        return Tensor._make(_device.zeros(g.shape, g.dtype, like=g.data))


class FloorFn(_Step, Function):
    step = staticmethod(np.floor)


class CeilFn(_Step, Function):
    step = staticmethod(np.ceil)


class TruncFn(_Step, Function):
    step = staticmethod(np.trunc)


def _round_array(a: Any, decimals: int = 0) -> Any:
    """Round half to even (``np.rint``), at ``decimals`` digits as PyTorch computes it:
    ``rint(x * 10^d) / 10^d`` for d > 0, ``rint(x / 10^-d) * 10^-d`` for d < 0."""
    if decimals == 0:
        return np.rint(a)
    if decimals > 0:
        scale = 10.0**decimals
        return np.rint(a * scale) / scale
    scale = 10.0 ** (-decimals)
    return np.rint(a / scale) * scale


class RoundFn(_Step, Function):
    step = staticmethod(_round_array)


# ---------------------------------------------------------------------------------------------
# Two-input ops
# ---------------------------------------------------------------------------------------------


class Atan2Fn(_Binary, Function):
    """atan2(a, b), the angle of the point (b, a); d/da = b / r^2, d/db = -a / r^2."""

    name = "atan2"
    kinks = "(a, b) = (0, 0): r = 0, the gradient is NaN; the branch cut b < 0, a = 0 jumps by 2 pi"
    forward_array = staticmethod(np.arctan2)
    grad_a = staticmethod(lambda g, a, b: g / (a * a + b * b) * b)
    grad_b = staticmethod(lambda g, a, b: -(g / (a * a + b * b)) * a)


def _copysign_grad_a(g: Tensor, a: Tensor, b: Tensor) -> Tensor:
    flip = np.signbit(a.data) != np.signbit(b.data)
    sign = np.where(a.data == 0, 0, np.where(flip, -1, 1)).astype(g.dtype)
    return g * Tensor._make(sign)


class CopysignFn(_Binary, Function):
    """|a| with the sign of b. d/da = +-1 (-1 where the signs of a and b differ), 0 at a = 0;
    d/db = 0 (as PyTorch)."""

    name = "copysign"
    kinks = "a = 0: gradient 0 for a; b = 0 (where the sign flips): gradient 0 for b everywhere"
    forward_array = staticmethod(np.copysign)
    grad_a = staticmethod(_copysign_grad_a)
    grad_b = staticmethod(lambda g, a, b: Tensor._make(_device.zeros(b.shape, g.dtype,
                                                                     like=g.data)))


class LogaddexpFn(_Binary, Function):
    """log(e^a + e^b) without overflow; d/da = e^(a - y), d/db = e^(b - y) (softmax weights)."""

    name = "logaddexp"
    forward_array, saves_y = staticmethod(np.logaddexp), True
    grad_a = staticmethod(lambda g, a, b, y: g * exp(a - y))
    grad_b = staticmethod(lambda g, a, b, y: g * exp(b - y))


class HypotFn(_Binary, Function):
    """sqrt(a^2 + b^2) without overflow; d/da = a / y, d/db = b / y."""

    name = "hypot"
    kinks = "(a, b) = (0, 0): the gradient is NaN (0/0)"
    forward_array, saves_y = staticmethod(np.hypot), True
    grad_a = staticmethod(lambda g, a, b, y: g * a / y)
    grad_b = staticmethod(lambda g, a, b, y: g * b / y)


class LerpFn(Function):
    """start + weight * (end - start), computed as PyTorch does for accuracy at both ends
    (``end - (end - start) * (1 - weight)`` for weight >= 1/2, so weight = 1 gives end exactly).
    d/dstart = 1 - weight, d/dend = weight, d/dweight = end - start."""

    name = "lerp"

    @staticmethod
    def forward(ctx, start, end, weight):
        ctx.save_for_backward(start, end, weight)
        s, e, w = start.data, end.data, weight.data
        d = e - s
        return np.where(np.abs(w) < 0.5, s + w * d, e - d * (1 - w))

    @staticmethod
    def backward(ctx, g):
        start, end, weight = ctx.saved_tensors
        ds, de, dw = ctx.needs_input_grad
        return ((g * (1 - weight) if ds else None), (g * weight if de else None),
                (g * (end - start) if dw else None))


# ---------------------------------------------------------------------------------------------
# Public functions
# ---------------------------------------------------------------------------------------------


def _unary(cls: type[Function], x: Any, op: str) -> Tensor:
    return cls.apply(floating(x, op))


def tan(input: Any) -> Tensor:
    """Tangent, elementwise (any shape; integer input computes in float32)."""
    return _unary(TanFn, input, "tan")


def asin(input: Any) -> Tensor:
    """Inverse sine on [-1, 1] (NaN outside)."""
    return _unary(AsinFn, input, "asin")


def acos(input: Any) -> Tensor:
    """Inverse cosine on [-1, 1] (NaN outside)."""
    return _unary(AcosFn, input, "acos")


def atan(input: Any) -> Tensor:
    return _unary(AtanFn, input, "atan")


def sinh(input: Any) -> Tensor:
    return _unary(SinhFn, input, "sinh")


def cosh(input: Any) -> Tensor:
    return _unary(CoshFn, input, "cosh")


def asinh(input: Any) -> Tensor:
    return _unary(AsinhFn, input, "asinh")


def acosh(input: Any) -> Tensor:
    """Inverse hyperbolic cosine on [1, inf) (NaN below 1)."""
    return _unary(AcoshFn, input, "acosh")


def atanh(input: Any) -> Tensor:
    """Inverse hyperbolic tangent on (-1, 1) (+-inf at +-1, NaN outside)."""
    return _unary(AtanhFn, input, "atanh")


def log2(input: Any) -> Tensor:
    return _unary(Log2Fn, input, "log2")


def log10(input: Any) -> Tensor:
    return _unary(Log10Fn, input, "log10")


def log1p(input: Any) -> Tensor:
    """log(1 + x), accurate for small x."""
    return _unary(Log1pFn, input, "log1p")


def expm1(input: Any) -> Tensor:
    """exp(x) - 1, accurate for small x."""
    return _unary(Expm1Fn, input, "expm1")


def exp2(input: Any) -> Tensor:
    return _unary(Exp2Fn, input, "exp2")


def rsqrt(input: Any) -> Tensor:
    """1 / sqrt(x)."""
    return _unary(RsqrtFn, input, "rsqrt")


def reciprocal(input: Any) -> Tensor:
    """1 / x (integer input gives float32, as PyTorch)."""
    return _unary(ReciprocalFn, input, "reciprocal")


def square(input: Any) -> Tensor:
    """x * x; integer tensors stay integer (no graph)."""
    x = as_tensor(input, None, "square")
    if x.dtype.kind != "f":
        if x.dtype == np.bool_:
            x = Tensor._make(x.data.astype(np.int64))
        return Tensor._make(_device.wrap(np.square(x.data)))
    return SquareFn.apply(x)


def erf(input: Any) -> Tensor:
    """The error function 2/sqrt(pi) * integral_0^x exp(-t^2) dt (libm's, to about 1 ulp)."""
    return _unary(ErfFn, input, "erf")


def erfc(input: Any) -> Tensor:
    """1 - erf(x), accurate where erf(x) is close to 1."""
    return _unary(ErfcFn, input, "erfc")


def erfinv(input: Any) -> Tensor:
    """The inverse of erf on [-1, 1] (+-inf at +-1, NaN outside); accurate to a few float64 ulp
    (see :mod:`minigrad._special`)."""
    return _unary(ErfinvFn, input, "erfinv")


def _rounding(cls: type[Function], x: Any, op: str, **params: Any) -> Tensor:
    x = as_tensor(x, None, op)
    if x.dtype.kind != "f":
        if x.dtype.kind not in "iub":
            raise TypeError(f"{op}: unsupported dtype {x.dtype}")
        return Tensor._make(x.data.copy())  # integers are already rounded (PyTorch: a copy)
    return cls.apply(x, **params)


def floor(input: Any) -> Tensor:
    """The largest integer <= x (as a float for float input; integer tensors are copied).
    Gradient zero everywhere."""
    return _rounding(FloorFn, input, "floor")


def ceil(input: Any) -> Tensor:
    """The smallest integer >= x; gradient zero everywhere."""
    return _rounding(CeilFn, input, "ceil")


def trunc(input: Any) -> Tensor:
    """x rounded toward zero; gradient zero everywhere."""
    return _rounding(TruncFn, input, "trunc")


fix = trunc


def round(input: Any, *, decimals: int = 0) -> Tensor:  # noqa: A001
    """x rounded to ``decimals`` digits, halves to even (PyTorch's and NumPy's rule: round(0.5)
    = 0, round(1.5) = 2); gradient zero everywhere."""
    if not isinstance(decimals, int | np.integer) or isinstance(decimals, bool):
        raise TypeError(f"round: decimals must be an int, got {decimals!r}")
    return _rounding(RoundFn, input, "round", decimals=int(decimals))


def frac(input: Any) -> Tensor:
    """x - trunc(x): the fractional part with the sign of x. Float tensors only (PyTorch)."""
    x = as_tensor(input, None, "frac")
    if x.dtype.kind != "f":
        raise TypeError(f"frac: needs a float tensor, got {x.dtype} (shape {x.shape})")
    return FracFn.apply(x)


def _binary(cls: type[Function], op: str, *operands: Any) -> Tensor:
    ts = promote(op, *operands)
    if ts[0].dtype.kind != "f":
        ts = [Tensor._make(t.data.astype(DEFAULT_DTYPE)) for t in ts]
    broadcast_shape(op, *(t.shape for t in ts))
    return cls.apply(*ts)


def atan2(input: Any, other: Any) -> Tensor:
    """The angle of the point (other, input) in (-pi, pi], elementwise with broadcasting."""
    return _binary(Atan2Fn, "atan2", input, other)


def copysign(input: Any, other: Any) -> Tensor:
    """``abs(input)`` with the sign of ``other`` (signed zeros count), elementwise."""
    return _binary(CopysignFn, "copysign", input, other)


def logaddexp(input: Any, other: Any) -> Tensor:
    """log(exp(input) + exp(other)) without overflow."""
    return _binary(LogaddexpFn, "logaddexp", input, other)


def hypot(input: Any, other: Any) -> Tensor:
    """sqrt(input^2 + other^2) without overflow."""
    return _binary(HypotFn, "hypot", input, other)


def lerp(input: Any, end: Any, weight: Any) -> Tensor:
    """``input + weight * (end - input)``; ``weight`` a number or a tensor, all broadcast."""
    if isinstance(weight, bool) or not isinstance(weight, Tensor | float | int | np.number):
        raise TypeError(f"lerp: weight must be a number or a Tensor, got {type(weight).__name__}")
    return _binary(LerpFn, "lerp", input, end, weight)


arcsin, arccos, arctan, arctan2 = asin, acos, atan, atan2
arcsinh, arccosh, arctanh = asinh, acosh, atanh


# ---------------------------------------------------------------------------------------------
# Predicates: bool tensors, no graph
# ---------------------------------------------------------------------------------------------


def _bool(arr: Any) -> Tensor:
    return Tensor._make(_device.wrap(arr))


def _constant(x: Tensor, value: bool) -> Tensor:
    return Tensor._make(_device.full(x.shape, value, np.bool_, like=x.data))


def isnan(input: Any) -> Tensor:
    """Where x is NaN (never for integer tensors)."""
    x = as_tensor(input, None, "isnan")
    return _bool(np.isnan(x.data)) if x.dtype.kind == "f" else _constant(x, False)


def isinf(input: Any) -> Tensor:
    """Where x is +inf or -inf."""
    x = as_tensor(input, None, "isinf")
    return _bool(np.isinf(x.data)) if x.dtype.kind == "f" else _constant(x, False)


def isfinite(input: Any) -> Tensor:
    """Where x is neither NaN nor infinite (always for integer tensors)."""
    x = as_tensor(input, None, "isfinite")
    return _bool(np.isfinite(x.data)) if x.dtype.kind == "f" else _constant(x, True)


def signbit(input: Any) -> Tensor:
    """Where the sign bit is set (x < 0, and -0.0 too)."""
    x = as_tensor(input, None, "signbit")
    if x.dtype.kind == "f":
        return _bool(np.signbit(x.data))
    return _bool(np.less(x.data, 0)) if x.dtype.kind == "i" else _constant(x, False)


def _tolerances(op: str, rtol: Any, atol: Any) -> tuple[float, float]:
    rtol, atol = real(op, "rtol", rtol), real(op, "atol", atol)
    for name, v in (("rtol", rtol), ("atol", atol)):
        if v < 0:
            raise ValueError(f"{op}: {name} must be >= 0, got {v!r}")
    return rtol, atol


def isclose(input: Any, other: Any, rtol: float = 1e-05, atol: float = 1e-08,
            equal_nan: bool = False) -> Tensor:
    """Where ``|input - other| <= atol + rtol * |other|`` (or the two are equal, infinities
    included; with ``equal_nan`` two NaNs count as close), elementwise with broadcasting."""
    return _isclose("isclose", input, other, rtol, atol, equal_nan)


def allclose(input: Any, other: Any, rtol: float = 1e-05, atol: float = 1e-08,
             equal_nan: bool = False) -> bool:
    """Whether :func:`isclose` holds everywhere (a Python bool)."""
    return bool(np.all(_isclose("allclose", input, other, rtol, atol, equal_nan).data))


def _isclose(op: str, input: Any, other: Any, rtol: Any, atol: Any, equal_nan: bool) -> Tensor:
    rtol, atol = _tolerances(op, rtol, atol)
    a, b = promote(op, input, other)
    broadcast_shape(op, a.shape, b.shape)
    x, y = a.data, b.data
    if x.dtype.kind != "f":
        x, y = x.astype(np.float64), y.astype(np.float64)
    close = np.equal(x, y)
    finite = np.logical_and(np.isfinite(x), np.isfinite(y))
    with np.errstate(invalid="ignore"):  # inf - inf: the finite mask decides there
        near = np.less_equal(np.abs(x - y), atol + rtol * np.abs(y))
    close = np.logical_or(close, np.logical_and(finite, near))
    if equal_nan:
        close = np.logical_or(close, np.logical_and(np.isnan(x), np.isnan(y)))
    return _bool(close)
