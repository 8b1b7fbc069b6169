"""Elementwise ops: arithmetic, unary maths, clip, maximum/minimum, where, casts, comparisons.

Each op is a ``Function`` whose forward is one NumPy call and whose backward is written with Tensor
ops (so it can be differentiated again); a ``kinks`` attribute says where it is not differentiable
and which gradient it uses there. Broadcasting is undone centrally by the engine, so no rule here
sums over broadcast axes. The op database entries are in :mod:`minigrad.testing.opinfo.elementwise`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minigrad import _device as _device
from minigrad.autograd import Function
from minigrad.ops import activation as _activation
from minigrad.tensor import DEFAULT_DTYPE, Tensor

# ---------------------------------------------------------------------------------------------
# Argument handling
# ---------------------------------------------------------------------------------------------


def _is_float(t: Tensor) -> bool:
    return np.issubdtype(t.dtype, np.floating)


def as_tensor(x: Any, like: Tensor | None, op: str) -> Tensor:
    """Turn an operand into a Tensor: a Python/NumPy scalar takes ``like``'s float dtype, so
    ``x * 2`` stays float32 (weak scalars, as in PyTorch and NumPy 2)."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, bool | int | float | np.number) or (isinstance(x, np.ndarray) and x.ndim == 0):
        if like is not None and _is_float(like):
            dtype = like.dtype
        elif isinstance(x, float | np.floating) or (
            isinstance(x, np.ndarray) and np.issubdtype(x.dtype, np.floating)
        ):
            dtype = DEFAULT_DTYPE
        elif isinstance(x, bool | np.bool_):
            dtype = np.bool_
        elif isinstance(x, int):
            dtype = np.int64
        else:
            dtype = np.asarray(x).dtype
        return Tensor._make(np.asarray(x, dtype=dtype))
    if isinstance(x, np.ndarray):
        return Tensor._make(x)
    if isinstance(x, list | tuple):
        return Tensor(x)
    raise TypeError(f"{op}: unsupported operand of type {type(x).__name__}")


def broadcast_shape(op: str, *shapes: tuple[int, ...]) -> tuple[int, ...]:
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        joined = " and ".join(str(s) for s in shapes)
        raise ValueError(f"{op}: shapes {joined} cannot be broadcast together") from None


def floating(x: Any, op: str) -> Tensor:
    """Ops like exp/log on integer tensors compute in float32 (as PyTorch does)."""
    x = as_tensor(x, None, op)
    if _is_float(x):
        return x
    if x.dtype == np.bool_ or np.issubdtype(x.dtype, np.integer):
        return Tensor._make(x.data.astype(DEFAULT_DTYPE))
    raise TypeError(f"{op}: unsupported dtype {x.dtype}")


def binary(cls: type[Function], a: Any, b: Any) -> Any:
    """Apply a broadcasting binary op; returns NotImplemented for foreign operand types."""
    try:
        a = as_tensor(a, b if isinstance(b, Tensor) else None, cls.name)
        b = as_tensor(b, a, cls.name)
    except TypeError:
        return NotImplemented
    broadcast_shape(cls.name, a.shape, b.shape)
    if cls is DivFn and not (_is_float(a) or _is_float(b)):
        a, b = floating(a, "div"), floating(b, "div")
    return cls.apply(a, b)


def _mask(cond: np.ndarray, like: Tensor) -> Tensor:
    return Tensor._make(cond.astype(like.dtype))


# ---------------------------------------------------------------------------------------------
# Arithmetic
# ---------------------------------------------------------------------------------------------


class AddFn(Function):
    name = "add"

    @staticmethod
    def forward(ctx, a, b):
        return a.data + b.data

    @staticmethod
    def backward(ctx, g):
        return g, g


class SubFn(Function):
    name = "sub"

    @staticmethod
    def forward(ctx, a, b):
        return a.data - b.data

    @staticmethod
    def backward(ctx, g):
        return g, -g


class MulFn(Function):
    name = "mul"

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a.data * b.data

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        da, db = ctx.needs_input_grad
        return (g * b if da else None), (g * a if db else None)


class DivFn(Function):
    name = "div"
    kinks = "b = 0: a pole"

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a.data / b.data

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        da, db = ctx.needs_input_grad
        return (g / b if da else None), (-g * a / (b * b) if db else None)


class NegFn(Function):
    name = "neg"

    @staticmethod
    def forward(ctx, x):
        return -x.data

    @staticmethod
    def backward(ctx, g):
        return -g


class PowFn(Function):
    """``a ** b`` for two tensors; d/db = out * log(a) is NaN for a <= 0, as in PyTorch."""

    name = "pow"
    kinks = "a <= 0: d/db = out * log(a) is NaN (it needs a > 0)"

    @staticmethod
    def forward(ctx, a, b):
        out = a.data**b.data
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, b, out = ctx.saved_tensors
        da, db = ctx.needs_input_grad
        ga = g * b * a ** (b - 1) if da else None
        gb = g * out * a.log() if db else None
        return ga, gb


class PowScalarFn(Function):
    """``x ** p`` with a constant Python exponent (no log of x needed: works for x <= 0)."""

    name = "pow_scalar"

    @staticmethod
    def forward(ctx, x, *, exponent):
        ctx.save_for_backward(x)
        ctx.exponent = exponent
        return x.data**exponent

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        p = ctx.exponent
        if p == 0:
            return g * 0
        return g * p * (x ** (p - 1) if p != 1 else 1)


def pow(base: Any, exponent: Any) -> Tensor:  # noqa: A001
    """``base ** exponent`` (either may be a Python scalar)."""
    scalar = isinstance(exponent, int | float | np.number) and not isinstance(exponent, bool)
    if isinstance(base, Tensor) and scalar:
        base = floating(base, "pow") if isinstance(exponent, float) or exponent < 0 else base
        return PowScalarFn.apply(base, exponent=exponent)
    return binary(PowFn, base, exponent)


# ---------------------------------------------------------------------------------------------
# Unary maths
# ---------------------------------------------------------------------------------------------


class ExpFn(Function):
    @staticmethod
    def forward(ctx, x):
        out = np.exp(x.data)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g * out


class LogFn(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.log(x.data)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g / x


class SqrtFn(Function):
    kinks = "0: the gradient 1/(2 sqrt x) is infinite"

    @staticmethod
    def forward(ctx, x):
        out = np.sqrt(x.data)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g / (2 * out)


class AbsFn(Function):
    """|x|; the gradient at 0 is 0 (sign(0) = 0), as in PyTorch."""

    kinks = "0: gradient 0"

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.abs(x.data)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * Tensor._make(np.sign(x.data))


class SinFn(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.sin(x.data)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * x.cos()


class CosFn(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.cos(x.data)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return -g * x.sin()


class ClipFn(Function):
    """Clamp to [lo, hi]; the gradient passes where lo <= x <= hi (bounds included, as PyTorch)."""

    kinks = "at the bounds: gradient 1"

    @staticmethod
    def forward(ctx, x, *, lo, hi):
        ctx.save_for_backward(x)
        ctx.lo, ctx.hi = lo, hi
        return np.clip(x.data, lo, hi)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        inside = _device.full(x.shape, True, np.bool_, like=x.data)
        if ctx.lo is not None:
            inside &= x.data >= ctx.lo
        if ctx.hi is not None:
            inside &= x.data <= ctx.hi
        return g * _mask(inside, g)


class MaximumFn(Function):
    """Elementwise max; at ties each input gets half the gradient (as PyTorch's maximum)."""

    name = "maximum"
    kinks = "ties: half the gradient to each"
    pick, wins = np.maximum, np.greater  # the result, and where a is the one picked

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return ctx.pick(a.data, b.data)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        wa = ctx.wins(a.data, b.data) + 0.5 * (a.data == b.data)
        return g * _mask(wa, g), g * _mask(1.0 - wa, g)


class MinimumFn(MaximumFn):
    """Elementwise min; at ties each input gets half the gradient (MaximumFn with < for >)."""

    name = "minimum"
    pick, wins = np.minimum, np.less


class WhereFn(Function):
    kinks = "where the condition flips: the gradient moves between a and b"

    @staticmethod
    def forward(ctx, cond, a, b):
        ctx.save_for_backward(cond)
        return np.where(cond.data, a.data, b.data)

    @staticmethod
    def backward(ctx, g):
        (cond,) = ctx.saved_tensors
        c = cond.data
        return None, g * _mask(c, g), g * _mask(~c, g)


class CastFn(Function):
    @staticmethod
    def forward(ctx, x, *, dtype):
        ctx.in_dtype = x.dtype
        return x.data.astype(dtype)

    @staticmethod
    def backward(ctx, g):
        return g.astype(ctx.in_dtype)


def exp(x: Any) -> Tensor:
    return ExpFn.apply(floating(x, "exp"))


def log(x: Any) -> Tensor:
    return LogFn.apply(floating(x, "log"))


def sqrt(x: Any) -> Tensor:
    return SqrtFn.apply(floating(x, "sqrt"))


def sin(x: Any) -> Tensor:
    return SinFn.apply(floating(x, "sin"))


def cos(x: Any) -> Tensor:
    return CosFn.apply(floating(x, "cos"))


def tanh(x: Any) -> Tensor:
    """The one tanh op (``mg.tanh``, ``Tensor.tanh``, ``F.tanh``, ``nn.Tanh``): the activation
    kernel, differentiated from its output."""
    return _activation.tanh(floating(x, "tanh"))


def abs(x: Any) -> Tensor:  # noqa: A001
    x = as_tensor(x, None, "abs")
    return AbsFn.apply(x) if _is_float(x) else Tensor._make(np.abs(x.data))


def sign(x: Any) -> Tensor:
    """sign(x) in {-1, 0, 1}; a step function, so its gradient is zero (it records no graph)."""
    x = as_tensor(x, None, "sign")
    return Tensor._make(np.sign(x.data))


def clip(x: Any, min: float | None = None, max: float | None = None) -> Tensor:  # noqa: A002
    """Clamp ``x`` to ``[min, max]`` (either bound may be None)."""
    x = as_tensor(x, None, "clip")
    if min is None and max is None:
        raise ValueError("clip: at least one of min and max must be given")
    if min is not None and max is not None and min > max:
        raise ValueError(f"clip: min ({min}) is greater than max ({max})")
    if not _is_float(x):
        return Tensor._make(np.clip(x.data, min, max))
    return ClipFn.apply(x, lo=min, hi=max)


clamp = clip


def maximum(a: Any, b: Any) -> Tensor:
    return _checked(MaximumFn, a, b)


def minimum(a: Any, b: Any) -> Tensor:
    return _checked(MinimumFn, a, b)


def _checked(cls: type[Function], a: Any, b: Any) -> Tensor:
    out = binary(cls, a, b)
    if out is NotImplemented:
        raise TypeError(f"{cls.name}: unsupported operand types {type(a).__name__}, "
                        f"{type(b).__name__}")
    return out


def add(a: Any, b: Any) -> Tensor:
    return _checked(AddFn, a, b)


def sub(a: Any, b: Any) -> Tensor:
    return _checked(SubFn, a, b)


def mul(a: Any, b: Any) -> Tensor:
    return _checked(MulFn, a, b)


def div(a: Any, b: Any) -> Tensor:
    return _checked(DivFn, a, b)


def neg(x: Any) -> Tensor:
    return NegFn.apply(as_tensor(x, None, "neg"))


def where(condition: Any, a: Any, b: Any) -> Tensor:
    """``condition ? a : b`` elementwise, with broadcasting; gradients flow to a and b only."""
    cond = as_tensor(condition, None, "where")
    if cond.dtype != np.bool_:
        raise TypeError(f"where: condition must be a bool tensor, got {cond.dtype}")
    a = as_tensor(a, b if isinstance(b, Tensor) else None, "where")
    b = as_tensor(b, a, "where")
    broadcast_shape("where", cond.shape, a.shape, b.shape)
    if a.dtype != b.dtype:
        dt = np.result_type(a.dtype, b.dtype)
        a, b = (t if t.dtype == dt else t.astype(dt) for t in (a, b))
    return WhereFn.apply(cond, a, b)


def cast(x: Tensor, dtype: Any) -> Tensor:
    dt = np.dtype(dtype)
    if dt == x.dtype:
        return x
    if _is_float(x) and np.issubdtype(dt, np.floating):
        return CastFn.apply(x, dtype=dt)
    return Tensor._make(x.data.astype(dt))


def compare(fn: Any, name: str, a: Any, b: Any) -> Any:
    """A comparison or logical op: a bool tensor without graph."""
    try:
        a = as_tensor(a, None, name)
        b = as_tensor(b, a, name)
    except TypeError:
        return NotImplemented
    broadcast_shape(name, a.shape, b.shape)
    return Tensor._make(_device.wrap(fn(a.data, b.data)))
