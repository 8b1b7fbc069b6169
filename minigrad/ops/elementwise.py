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
# Argument handling and type promotion (PyTorch's rules)
# ---------------------------------------------------------------------------------------------


def _is_float(t: Tensor) -> bool:
    return np.issubdtype(t.dtype, np.floating)


# dtype categories, in promotion order: bool < integer < floating
_BOOL, _INT, _FLOAT = 0, 1, 2
_CATEGORY_DEFAULT = {_BOOL: np.dtype(np.bool_), _INT: np.dtype(np.int64), _FLOAT: DEFAULT_DTYPE}


def _category(dt: np.dtype) -> int:
    return _BOOL if dt.kind == "b" else (_FLOAT if dt.kind == "f" else _INT)


def _is_weak(x: Any) -> bool:
    """A Python or NumPy scalar: it takes the dtype of the tensors it meets (PyTorch's "wrapped
    numbers")."""
    return isinstance(x, bool | int | float | np.bool_ | np.number)


def promote_types(a: Any, b: Any) -> np.dtype:
    """PyTorch's ``promote_types``: within one category (bool, integer, floating) NumPy's rule
    (``int32, int64 -> int64``, ``uint8, int8 -> int16``); across categories the dtype of the
    higher category wins unchanged (``int64, float32 -> float32``, where NumPy says float64)."""
    a, b = np.dtype(a), np.dtype(b)
    ca, cb = _category(a), _category(b)
    if ca == cb:
        return np.promote_types(a, b)
    return a if ca > cb else b


def result_type(*operands: Any) -> np.dtype:
    """The dtype PyTorch gives an op on ``operands`` (Tensors, arrays, Python/NumPy scalars).

    Three tiers, each consulted only when it has a higher category than the tiers above it:
    tensors with at least one dimension; 0-d tensors; scalars (a Python float is the default
    dtype, float32; an int int64; a bool bool). So ``int64 tensor * 2.5`` is float32,
    ``float32 tensor * float64 0-d tensor`` is float32, ``int32 tensor + float64 0-d tensor`` is
    float64, and ``uint8 tensor + 300`` stays uint8 (wrapping, as PyTorch).
    """
    dims = zero = weak = None
    for x in operands:
        if x is None:
            continue
        if _is_weak(x):
            if isinstance(x, bool | np.bool_):
                cat = _BOOL
            elif isinstance(x, int | np.integer):
                cat = _INT
            elif isinstance(x, float | np.floating):
                cat = _FLOAT
            else:
                raise TypeError(f"unsupported scalar of type {type(x).__name__}")
            weak = cat if weak is None else max(weak, cat)
            continue
        if isinstance(x, Tensor) or _device.is_array(x):
            dt, nd = x.dtype, x.ndim
        elif isinstance(x, list | tuple):
            arr = Tensor(x)
            dt, nd = arr.dtype, arr.ndim
        else:
            raise TypeError(f"unsupported operand of type {type(x).__name__}")
        if nd:
            dims = dt if dims is None else promote_types(dims, dt)
        else:
            zero = dt if zero is None else promote_types(zero, dt)
    out = dims
    if zero is not None and (out is None or _category(zero) > _category(out)):
        out = zero
    if weak is not None and (out is None or weak > _category(out)):
        out = _CATEGORY_DEFAULT[weak]
    if out is None:
        raise TypeError("result_type: needs at least one operand")
    return out


def _pair_dtype(a: Any, b: Any) -> np.dtype:
    """:func:`result_type` of two operands, with the common cases (two tensors of one dtype, a
    float tensor and a Python number) decided without the general walk: the hot path of
    arithmetic in a training step."""
    ta, tb = type(a), type(b)
    if ta is Tensor:
        da = a.data.dtype
        if tb is Tensor:
            if da == b.data.dtype:
                return da
        elif (tb is float or tb is int) and da.kind == "f":
            return da
    elif tb is Tensor and (ta is float or ta is int) and b.data.dtype.kind == "f":
        return b.data.dtype
    return result_type(a, b)


def _convert(x: Any, dt: np.dtype, op: str, graph: bool = True) -> Tensor:
    """Operand ``x`` as a Tensor of dtype ``dt``: a scalar becomes a 0-d constant (out-of-range
    ints wrap, as in PyTorch), a float tensor is cast differentiably (``graph``), others
    plainly."""
    if isinstance(x, Tensor):
        if x.dtype == dt:
            return x
        if graph and _is_float(x) and dt.kind == "f":
            return CastFn.apply(x, dtype=dt)
        return Tensor._make(x.data.astype(dt))
    if _is_weak(x):
        if dt.kind == "f":
            return Tensor._make(np.array(x, dtype=dt))
        return Tensor._make(np.asarray(x).astype(dt))  # ints wrap into small dtypes
    if _device.is_array(x):
        return Tensor._make(x if x.dtype == dt else x.astype(dt))
    if isinstance(x, list | tuple):
        return Tensor(x, dtype=dt)
    raise TypeError(f"{op}: unsupported operand of type {type(x).__name__}")


def promote(op: str, *operands: Any) -> list[Tensor]:
    """``operands`` as Tensors of their :func:`result_type` (a ``TypeError`` naming ``op`` for an
    operand that is not a number, array or tensor)."""
    try:
        dt = result_type(*operands)
    except TypeError as e:
        raise TypeError(f"{op}: {e}") from None
    return [_convert(x, dt, op) for x in operands]


def as_tensor(x: Any, like: Tensor | None, op: str) -> Tensor:
    """Turn an operand into a Tensor: a Python/NumPy scalar takes ``like``'s dtype where PyTorch
    would (a float tensor's for any number; an integer tensor's for ints), so ``x * 2`` stays
    float32. Binary arithmetic uses :func:`promote` instead."""
    if isinstance(x, Tensor):
        return x
    if _is_weak(x) or (isinstance(x, np.ndarray) and x.ndim == 0):
        if like is not None and not isinstance(x, np.ndarray):
            return _convert(x, result_type(like, x), op)
        if isinstance(x, np.ndarray):
            return Tensor._make(x if like is None or not _is_float(like) else x.astype(like.dtype))
        return _convert(x, result_type(x), op)
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
    """Apply a broadcasting binary op after PyTorch's type promotion; returns NotImplemented
    for foreign operand types (so Python tries the reflected operator)."""
    if not (type(a) is Tensor and type(b) is Tensor and a.dtype == b.dtype):
        try:
            dt = _pair_dtype(a, b)
        except TypeError:
            return NotImplemented
        if cls is DivFn and dt.kind != "f":
            dt = DEFAULT_DTYPE  # true division of integers: the default float dtype
        elif cls is SubFn and (_is_bool(a) or _is_bool(b)):
            _refuse_bool_sub(a, b)
        a, b = _convert(a, dt, cls.name), _convert(b, dt, cls.name)
    elif cls is DivFn and not _is_float(a):
        a, b = floating(a, "div"), floating(b, "div")
    elif cls is SubFn and a.dtype == np.bool_:
        _refuse_bool_sub(a, b)
    broadcast_shape(cls.name, a.shape, b.shape)
    return cls.apply(a, b)


def _is_bool(x: Any) -> bool:
    return isinstance(x, bool | np.bool_) or (isinstance(x, Tensor) and x.dtype == np.bool_)


def _refuse_bool_sub(a: Any, b: Any) -> None:
    shapes = " and ".join(str(getattr(x, "shape", type(x).__name__)) for x in (a, b))
    raise TypeError(f"sub: subtraction with a bool operand is not supported (operands {shapes}), "
                    "as in PyTorch; to invert a mask use ~x or logical_not(x), for the "
                    "difference of two masks logical_xor(a, b)")


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
    """``a ** b`` for two tensors, with PyTorch's gradient conventions: d/da = 0 where b = 0
    (b * a^(b-1), with the 0 * inf at a = 0 taken as 0); d/db = 0 where a = 0 and b >= 0 (not
    out * log 0); elsewhere d/db = out * log(a), NaN for a < 0 as in PyTorch. (PyTorch masks
    d/da at every b = 0, which also zeroes d^2/da db = 1/a there; minigrad masks a = b = 0 only,
    so second derivatives stay right for a != 0.)"""

    name = "pow"
    kinks = ("a < 0: d/db = out * log(a) is NaN; a = 0: d/da is 0 for b = 0 or b > 1, 1 for "
             "b = 1, inf for 0 < b < 1; d/db is 0 for b >= 0")

    @staticmethod
    def forward(ctx, a, b):
        out = a.data**b.data
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, b, out = ctx.saved_tensors
        da, db = ctx.needs_input_grad
        ga = gb = None
        # The masked points see a = 1 inside the formulas, so neither the first derivative nor
        # its own derivative (create_graph) computes 0 * inf there.
        with np.errstate(divide="ignore", invalid="ignore"):
            if da:  # b * a^(b-1) is 0 * inf at a = b = 0; elsewhere b = 0 gives 0 anyway
                mask = Tensor._make((a.data == 0) & (b.data == 0))
                ga = where(mask, 0.0, g * b * where(mask, 1.0, a) ** (b - 1))
            if db:
                mask = Tensor._make((a.data == 0) & (b.data >= 0))
                gb = where(mask, 0.0, g * out * where(mask, 1.0, a).log())
        return ga, gb


class PowScalarFn(Function):
    """``x ** p`` with a constant Python exponent (no log of x needed: works for x <= 0);
    d/dx = 0 for p = 0, as PyTorch."""

    name = "pow_scalar"
    kinks = "x = 0: d/dx is 0 for p = 0 or p > 1, 1 for p = 1, inf for 0 < p < 1"

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


def _int_pow(base: Tensor, exponent: Tensor) -> Tensor:
    """Integer ``base ** exponent`` as PyTorch computes it: a negative exponent gives 1 for base
    1, +-1 for base -1 and 0 otherwise (the truncated reciprocal), where NumPy raises."""
    a, b = base.data, exponent.data
    if not bool(np.any(b < 0)):
        return Tensor._make(_device.wrap(a**b))
    pos = a ** np.maximum(b, 0)
    odd = (b % 2) != 0
    minus_one = np.where(odd, -1, 1).astype(pos.dtype)
    neg = np.where(a == 1, 1, np.where(a == -1, minus_one, 0)).astype(pos.dtype)
    return Tensor._make(np.where(b < 0, neg, pos))


def pow(base: Any, exponent: Any) -> Tensor:  # noqa: A001
    """``base ** exponent`` (either may be a Python scalar), with PyTorch's type promotion:
    ``int tensor ** 2.5`` and ``0.7 ** int tensor`` are float32, ``int tensor ** 2`` stays int64;
    an integer tensor to a negative Python int power raises, as in PyTorch."""
    out = power(base, exponent)
    if out is NotImplemented:
        raise TypeError(f"pow: unsupported operand types {type(base).__name__}, "
                        f"{type(exponent).__name__}")
    return out


def power(base: Any, exponent: Any) -> Any:
    """:func:`pow` for the ``**`` operators: NotImplemented for foreign operand types."""
    if isinstance(base, Tensor) and _is_weak(exponent):
        dt = _pair_dtype(base, exponent)
        if isinstance(exponent, bool | np.bool_) and dt.kind != "b":
            exponent = int(exponent)
        if dt.kind in "iu" and exponent < 0:
            raise ValueError(
                f"pow: integers to negative integer powers are not allowed ({base.dtype} tensor "
                f"of shape {base.shape} ** {exponent}); use a float base, e.g. x.float() ** "
                f"{exponent}")
        if dt.kind == "b":  # bool ** True = the base, bool ** False = True (PyTorch)
            return Tensor._make(base.data | (not exponent))
        return PowScalarFn.apply(_convert(base, dt, "pow"), exponent=exponent)
    try:
        dt = result_type(base, exponent)
    except TypeError:
        return NotImplemented
    if dt.kind == "b":
        raise TypeError("pow: not supported for bool tensors; cast to an integer or float dtype "
                        "first")
    a, b = _convert(base, dt, "pow"), _convert(exponent, dt, "pow")
    broadcast_shape("pow", a.shape, b.shape)
    if dt.kind in "iu":
        return _int_pow(a, b)
    return PowFn.apply(a, b)


# ---------------------------------------------------------------------------------------------
# Unary maths
# ---------------------------------------------------------------------------------------------


class _Unary:
    """The forward and backward shared by the unary Functions (here and in
    :mod:`minigrad.ops.math`; a mixin, not a Function: each op is its own ``...Fn`` class). A
    subclass sets ``forward_array`` (arrays in, arrays out), ``saves`` ("x" or "y") and either
    ``derivative`` (f' as Tensor ops on the saved tensor: backward ``g * f'``) or, where f' is a
    reciprocal ``1 / h``, ``reciprocal_derivative`` = h (backward ``g / h``, one rounding)."""

    saves = "x"
    derivative: Any = None
    reciprocal_derivative: Any = None

    @staticmethod
    def forward(ctx, x):
        y = ctx.forward_array(x.data)
        ctx.save_for_backward(y if ctx.saves == "y" else x)
        return y

    @staticmethod
    def backward(ctx, g):
        (saved,) = ctx.saved_tensors
        if ctx.derivative is None:
            return g / ctx.reciprocal_derivative(saved)
        return g * ctx.derivative(saved)


class _Binary:
    """The two-input counterpart of :class:`_Unary` (a mixin for ``...Fn`` classes here, in
    :mod:`minigrad.ops.math` and :mod:`minigrad.ops.linalg`). A subclass sets ``forward_array``
    (two arrays in, an array out), ``saves_y`` (save the output too) and ``grad_a``/``grad_b``:
    ``(g, a, b[, y]) -> Tensor``, each called only when its input needs a gradient. (``MulFn``
    and ``DivFn``, on every training step's path, keep their own direct forward and backward.)"""

    saves_y = False

    @staticmethod
    def forward(ctx, a, b):
        y = ctx.forward_array(a.data, b.data)
        if ctx.saves_y:
            ctx.save_for_backward(a, b, y)
        else:
            ctx.save_for_backward(a, b)
        return y

    @staticmethod
    def backward(ctx, g):
        saved = ctx.saved_tensors
        da, db = ctx.needs_input_grad
        return (ctx.grad_a(g, *saved) if da else None), (ctx.grad_b(g, *saved) if db else None)


class ExpFn(_Unary, Function):
    forward_array, saves = staticmethod(np.exp), "y"
    derivative = staticmethod(lambda y: y)


class LogFn(_Unary, Function):
    forward_array = staticmethod(np.log)
    reciprocal_derivative = staticmethod(lambda x: x)


class SqrtFn(_Unary, Function):
    kinks = "0: the gradient 1/(2 sqrt x) is infinite"
    forward_array, saves = staticmethod(np.sqrt), "y"
    reciprocal_derivative = staticmethod(lambda y: 2 * y)


class AbsFn(_Unary, Function):
    """|x|; the gradient at 0 is 0 (sign(0) = 0), as in PyTorch."""

    kinks = "0: gradient 0"
    forward_array = staticmethod(np.abs)
    derivative = staticmethod(lambda x: Tensor._make(np.sign(x.data)))


class SinFn(_Unary, Function):
    forward_array = staticmethod(np.sin)
    derivative = staticmethod(lambda x: x.cos())


class CosFn(_Unary, Function):
    forward_array = staticmethod(np.cos)
    derivative = staticmethod(lambda x: -x.sin())


class ClipFn(Function):
    """Clamp to [lo, hi]; the gradient passes where lo <= x <= hi (bounds included, as PyTorch).
    With lo > hi every output is hi (PyTorch's "max wins") and no gradient passes."""

    kinks = "at the bounds: gradient 1"

    @staticmethod
    def forward(ctx, x, *, lo, hi):
        ctx.save_for_backward(x)
        ctx.lo, ctx.hi = lo, hi
        if lo is not None and hi is not None and lo > hi:
            lo = hi  # min(max(x, lo), hi) = hi everywhere
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
    """Clamp ``x`` to ``[min, max]`` (either bound may be None); with ``min > max`` every
    element becomes ``max``, as in PyTorch. A float bound on an integer tensor gives float32
    (PyTorch's type promotion)."""
    x = as_tensor(x, None, "clip")
    if min is None and max is None:
        raise ValueError("clip: at least one of min and max must be given")
    for name, v in (("min", min), ("max", max)):
        if v is not None and (not _is_weak(v) or isinstance(v, bool | np.bool_)):
            raise TypeError(f"clip: {name} must be a number or None, got {v!r}")
    dt = result_type(x, min, max)
    x = _convert(x, dt, "clip")
    if not _is_float(x):
        lo = min if max is None or min is None or min <= max else max
        return Tensor._make(np.clip(x.data, lo, max))
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


def div(a: Any, b: Any, *, rounding_mode: str | None = None) -> Tensor:
    """``a / b``; ``rounding_mode="trunc"`` rounds the quotient toward zero, ``"floor"`` down
    (integer tensors stay integer then; see :func:`minigrad.ops.bitwise.div_rounded`)."""
    if rounding_mode is None:
        return _checked(DivFn, a, b)
    from minigrad.ops.bitwise import div_rounded

    return div_rounded(a, b, rounding_mode)


def neg(x: Any) -> Tensor:
    x = as_tensor(x, None, "neg")
    if x.dtype == np.bool_:
        raise TypeError(f"neg: negation of a bool tensor (shape {x.shape}) is not supported; to "
                        "invert a mask use ~x or logical_not(x)")
    return NegFn.apply(x)


def where(condition: Any, a: Any, b: Any) -> Tensor:
    """``condition ? a : b`` elementwise, with broadcasting and PyTorch's type promotion of
    ``a`` and ``b``; gradients flow to a and b only."""
    cond = as_tensor(condition, None, "where")
    if cond.dtype != np.bool_:
        raise TypeError(f"where: condition must be a bool tensor, got {cond.dtype}")
    a, b = promote("where", a, b)
    broadcast_shape("where", cond.shape, a.shape, b.shape)
    return WhereFn.apply(cond, a, b)


def cast(x: Tensor, dtype: Any) -> Tensor:
    dt = np.dtype(dtype)
    if dt == x.dtype:
        return x
    if _is_float(x) and np.issubdtype(dt, np.floating):
        return CastFn.apply(x, dtype=dt)
    return Tensor._make(x.data.astype(dt))


def compare(fn: Any, name: str, a: Any, b: Any) -> Any:
    """A comparison: a bool tensor without graph, computed in the operands' promoted dtype (as
    PyTorch: ``int tensor == 0.5`` compares in float32)."""
    try:
        dt = _pair_dtype(a, b)
    except TypeError:
        return NotImplemented
    a, b = _convert(a, dt, name, graph=False), _convert(b, dt, name, graph=False)
    broadcast_shape(name, a.shape, b.shape)
    return Tensor._make(_device.wrap(fn(a.data, b.data)))
