"""Reductions: sum, mean, max, min, amax, amin, var, std, logsumexp, argmax/argmin, ``sum_to``.

Every reduction takes NumPy's ``axis``/``keepdims`` and PyTorch's ``dim``/``keepdim`` (aliases), an
int, a tuple or None (all axes), except ``max``/``min``, where the two spellings differ as they do
between the two libraries: ``max(x, dim)`` / ``max(x, dim=d)`` returns PyTorch's
``(values, indices)`` named tuple (so ``_, pred = logits.max(1)`` gives the class indices),
``max(x, axis=a)`` returns NumPy's values only, and ``max(x)`` the largest value.
``sum_to`` is the adjoint of broadcasting; the engine uses it to sum every gradient back to its
input's shape.
"""

from __future__ import annotations

import builtins
import operator
from typing import Any, NamedTuple

import numpy as np

from minigrad import _device as _device
from minigrad.autograd import Function
from minigrad.ops._args import AxisError
from minigrad.ops.elementwise import as_tensor, maximum, minimum, where
from minigrad.tensor import Tensor

AxisArg = int | tuple[int, ...] | list[int] | None


def normalize_axes(op: str, axis: AxisArg, ndim: int) -> tuple[int, ...] | None:
    """Validate ``axis`` for a tensor of ``ndim`` dims; None means all axes."""
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, int | np.integer) else tuple(axis)
    out = []
    for a in axes:
        if not isinstance(a, int | np.integer):
            raise TypeError(f"{op}: axis must be an int or a tuple of ints, got {axis!r}")
        if not -builtins.max(ndim, 1) <= a < builtins.max(ndim, 1):
            raise AxisError(op, int(a), ndim, "axis")
        out.append(int(a) % builtins.max(ndim, 1))
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: repeated axis in {axis!r}")
    return tuple(sorted(out)) if ndim else None


def _args(op: str, x: Any, axis: AxisArg, keepdims: bool, dim: AxisArg,
          keepdim: bool | None) -> tuple[Tensor, tuple[int, ...] | None, bool]:
    x = as_tensor(x, None, op)
    if dim is not None:
        if axis is not None:
            raise TypeError(f"{op}: give axis or dim, not both")
        axis = dim
    if keepdim is not None:
        keepdims = keepdim
    return x, normalize_axes(op, axis, x.ndim), bool(keepdims)


def _kept_shape(shape: tuple[int, ...], axes: tuple[int, ...] | None) -> tuple[int, ...]:
    """``shape`` with reduced axes set to 1 (the keepdims shape)."""
    if axes is None:
        return (1,) * len(shape)
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


def _count(shape: tuple[int, ...], axes: tuple[int, ...] | None) -> int:
    if axes is None:
        return int(np.prod(shape, dtype=np.int64))
    return int(np.prod([shape[a] for a in axes], dtype=np.int64))


class SumFn(Function):
    @staticmethod
    def forward(ctx, x, *, axis, keepdims):
        ctx.in_shape, ctx.axis = x.shape, axis
        return np.sum(x.data, axis=axis, keepdims=keepdims)

    @staticmethod
    def backward(ctx, g):
        return g.reshape(_kept_shape(ctx.in_shape, ctx.axis)).expand(ctx.in_shape)


class SumToFn(Function):
    """Sum ``x`` down to a shape it was broadcast from (leading axes and size-1 axes)."""

    @staticmethod
    def forward(ctx, x, *, shape):
        ctx.in_shape = x.shape
        return _device.sum_to(x.data, shape)

    @staticmethod
    def backward(ctx, g):
        return g.expand(ctx.in_shape)


class MaxMinFn(Function):
    """max/min over axes; ties share the gradient equally (as PyTorch's amax/amin)."""

    kinks = "ties: gradient shared equally"

    @staticmethod
    def forward(ctx, x, *, axis, keepdims, largest):
        fn = np.max if largest else np.min
        out = fn(x.data, axis=axis, keepdims=True)
        ctx.save_for_backward(x)
        ctx.kept = out
        ctx.axis = axis
        return out if keepdims else np.squeeze(out, axis=axis)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        mask = x.data == ctx.kept
        weight = mask / np.sum(mask, axis=ctx.axis, keepdims=True)
        g = g.reshape(ctx.kept.shape)
        return g * Tensor._make(weight.astype(x.dtype))


class MaxMinDimFn(Function):
    """max/min along one axis with its arg index given (``max(x, dim)``): the gradient goes to
    that index only (the first extremum), as PyTorch's ``max(dim)``, not shared among ties."""

    kinks = "ties: the gradient goes to the first extremum (the index returned)"

    @staticmethod
    def forward(ctx, x, *, axis, keepdims, largest, index):
        ctx.in_shape, ctx.axis, ctx.keepdims, ctx.index = x.shape, axis, keepdims, index
        fn = np.max if largest else np.min
        return fn(x.data, axis=axis, keepdims=keepdims)

    @staticmethod
    def backward(ctx, g):
        n = ctx.in_shape[ctx.axis]
        positions = np.arange(n).reshape([n if i == ctx.axis else 1
                                          for i in range(len(ctx.in_shape))])
        hit = _device.asarray(positions, like=ctx.index) == ctx.index  # one-hot along axis
        if not ctx.keepdims:
            g = g.unsqueeze(ctx.axis)
        return g * Tensor._make(hit.astype(g.dtype))


class LogSumExpFn(Function):
    """log(sum(exp(x))) computed stably around the max; the gradient is softmax(x)."""

    @staticmethod
    def forward(ctx, x, *, axis, keepdims):
        m = np.max(x.data, axis=axis, keepdims=True)
        m = np.where(np.isfinite(m), m, 0)
        with np.errstate(divide="ignore"):
            out = np.log(np.sum(np.exp(x.data - m), axis=axis, keepdims=True)) + m
        ctx.kept_shape = out.shape
        result = out if keepdims else np.squeeze(out, axis=axis)
        ctx.save_for_backward(x, result)
        return result

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        # exp(x - lse) is softmax(x); Tensor ops, so the gradient differentiates again.
        return g.reshape(ctx.kept_shape) * (x - out.reshape(ctx.kept_shape)).exp()


def sum(x: Any, axis: AxisArg = None, keepdims: bool = False, *,  # noqa: A001
        dim: AxisArg = None, keepdim: bool | None = None) -> Tensor:
    """Sum over ``axis`` (all axes when None). ``dim``/``keepdim`` are PyTorch aliases."""
    x, axes, keep = _args("sum", x, axis, keepdims, dim, keepdim)
    if not np.issubdtype(x.dtype, np.floating):
        return Tensor._make(_device.wrap(np.sum(x.data, axis=axes, keepdims=keep)))
    return SumFn.apply(x, axis=axes, keepdims=keep)


def mean(x: Any, axis: AxisArg = None, keepdims: bool = False, *,
         dim: AxisArg = None, keepdim: bool | None = None) -> Tensor:
    x, axes, keep = _args("mean", x, axis, keepdims, dim, keepdim)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float32)
    return SumFn.apply(x, axis=axes, keepdims=keep) / _count(x.shape, axes)


class ValuesIndices(NamedTuple):
    """What ``max``/``min`` with ``dim`` return, as PyTorch's ``torch.return_types.max``:
    ``values`` (differentiable) and int64 ``indices``; unpacks as ``values, indices = ...``."""

    values: Tensor
    indices: Tensor


def _maxmin_all(op: str, largest: bool, x: Tensor, axis: AxisArg, keep: bool) -> Tensor:
    axes = normalize_axes(op, axis, x.ndim)
    if _count(x.shape, axes) == 0:
        raise ValueError(f"{op}: reduction over an empty dim of a tensor of shape {x.shape} "
                         "(max and min have no identity)")
    if not np.issubdtype(x.dtype, np.floating):
        fn = np.max if largest else np.min
        return Tensor._make(_device.wrap(fn(x.data, axis=axes, keepdims=keep)))
    return MaxMinFn.apply(x, axis=axes, keepdims=keep, largest=largest)


def _maxmin_dim(op: str, largest: bool, x: Tensor, dim: Any, keep: bool) -> ValuesIndices:
    try:
        d = operator.index(dim)
    except TypeError:
        raise TypeError(
            f"{op}: dim must be an int when it asks for (values, indices), got {dim!r}; for the "
            f"{op} value over several axes use a{op}(x, dim={dim!r}) or {op}(x, axis={dim!r})"
        ) from None
    if x.ndim == 0:  # PyTorch allows dim 0 / -1 on a 0-d tensor: the value and index 0
        if d not in (0, -1):
            raise AxisError(op, d, 0)
        r = _maxmin_dim(op, largest, x.reshape(1), 0, False)
        return ValuesIndices(r.values.reshape(()), r.indices.reshape(()))
    if not -x.ndim <= d < x.ndim:
        raise AxisError(op, d, x.ndim)
    d %= x.ndim
    if x.shape[d] == 0:
        raise ValueError(f"{op}: dim {d} of the tensor of shape {x.shape} is empty")
    arg = np.argmax if largest else np.argmin
    index = _device.wrap(arg(x.data, axis=d, keepdims=True)).astype(np.int64)
    indices = Tensor._make(index if keep else np.squeeze(index, axis=d))
    if not np.issubdtype(x.dtype, np.floating):
        fn = np.max if largest else np.min
        return ValuesIndices(Tensor._make(_device.wrap(fn(x.data, axis=d, keepdims=keep))),
                             indices)
    values = MaxMinDimFn.apply(x, axis=d, keepdims=keep, largest=largest, index=index)
    return ValuesIndices(values, indices)


def _maxmin(op: str, largest: bool, x: Any, dim: Any, keepdim: bool, axis: AxisArg,
            keepdims: bool | None) -> Tensor | ValuesIndices:
    x = as_tensor(x, None, op)
    keep = bool(keepdim if keepdims is None else keepdims)
    if isinstance(dim, Tensor):  # torch.max(input, other): the elementwise maximum
        if keep or axis is not None:
            raise TypeError(f"{op}(input, other) takes no dim, axis or keepdim")
        return (maximum if largest else minimum)(x, dim)
    if dim is not None:
        if axis is not None:
            raise TypeError(f"{op}: give dim (PyTorch: values and indices) or axis (NumPy: "
                            "values only), not both")
        return _maxmin_dim(op, largest, x, dim, keep)
    return _maxmin_all(op, largest, x, axis, keep)


def max(x: Any, dim: Any = None, keepdim: bool = False, *,  # noqa: A001
        axis: AxisArg = None, keepdims: bool | None = None) -> Tensor | ValuesIndices:
    """The largest value, PyTorch's or NumPy's way depending on how the axis is named.

    - ``max(x)``: the largest element (0-d; ``keepdim=True`` keeps every axis as size 1).
    - ``max(x, dim)`` or ``max(x, dim=d, keepdim=False)`` (``dim`` an int): PyTorch's named tuple
      ``(values, indices)``, so ``_, pred = logits.max(1)`` is the predicted class. The gradient
      of ``values`` goes to the index returned (the first maximum), as PyTorch.
    - ``max(x, axis=a, keepdims=False)`` (an int, a tuple or None): NumPy's values only.
    - ``max(x, other)`` with a Tensor ``other``: the elementwise :func:`maximum`, as PyTorch.

    Without ``dim`` the gradient is shared equally among tied maxima (as PyTorch's ``max()`` and
    ``amax``). ``keepdims`` is accepted for ``keepdim`` and vice versa.
    """
    return _maxmin("max", True, x, dim, keepdim, axis, keepdims)


def min(x: Any, dim: Any = None, keepdim: bool = False, *,  # noqa: A001
        axis: AxisArg = None, keepdims: bool | None = None) -> Tensor | ValuesIndices:
    """The smallest value: ``min(x)``, ``min(x, dim)`` -> ``(values, indices)``, ``min(x,
    axis=a)`` -> values, ``min(x, other)`` -> :func:`minimum`; as :func:`max`."""
    return _maxmin("min", False, x, dim, keepdim, axis, keepdims)


def amax(x: Any, dim: AxisArg = None, keepdim: bool = False) -> Tensor:
    """Largest values over ``dim`` (an int, a tuple, or None: all axes); values only, the
    gradient shared equally among ties (PyTorch's ``amax``)."""
    x = as_tensor(x, None, "amax")
    return _maxmin_all("amax", True, x, None if dim == () else dim, bool(keepdim))


def amin(x: Any, dim: AxisArg = None, keepdim: bool = False) -> Tensor:
    """Smallest values over ``dim``: as :func:`amax`."""
    x = as_tensor(x, None, "amin")
    return _maxmin_all("amin", False, x, None if dim == () else dim, bool(keepdim))


def _correction(op: str, correction: int | None, ddof: int | None, unbiased: bool | None) -> int:
    given = [v for v in (correction, ddof, unbiased) if v is not None]
    if len(given) > 1:
        raise TypeError(f"{op}: give only one of correction, ddof, unbiased")
    if unbiased is not None:
        return 1 if unbiased else 0
    if ddof is not None:
        return int(ddof)
    return 1 if correction is None else int(correction)


def var(x: Any, axis: AxisArg = None, keepdims: bool = False, *, dim: AxisArg = None,
        keepdim: bool | None = None, correction: int | None = None, ddof: int | None = None,
        unbiased: bool | None = None) -> Tensor:
    """Variance over ``axis``. Default ``correction=1`` (unbiased, as PyTorch; NumPy's default is
    ``ddof=0``: pass ``ddof=0`` or ``correction=0`` for it)."""
    x, axes, keep = _args("var", x, axis, keepdims, dim, keepdim)
    c = _correction("var", correction, ddof, unbiased)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float32)
    d = x - mean(x, axes, keepdims=True)
    return sum(d * d, axes, keepdims=keep) / np.maximum(_count(x.shape, axes) - c, 0)


def std(x: Any, axis: AxisArg = None, keepdims: bool = False, *, dim: AxisArg = None,
        keepdim: bool | None = None, correction: int | None = None, ddof: int | None = None,
        unbiased: bool | None = None) -> Tensor:
    """Standard deviation: ``sqrt(var(...))`` with the same arguments."""
    return var(x, axis, keepdims, dim=dim, keepdim=keepdim, correction=correction, ddof=ddof,
               unbiased=unbiased).sqrt()


def logsumexp(x: Any, axis: AxisArg = None, keepdims: bool = False, *, dim: AxisArg = None,
              keepdim: bool | None = None) -> Tensor:
    """``log(sum(exp(x), axis))``, stable for large ``abs(x)``."""
    x, axes, keep = _args("logsumexp", x, axis, keepdims, dim, keepdim)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float32)
    return LogSumExpFn.apply(x, axis=axes, keepdims=keep)


def _arg(op: str, fn: Any, x: Any, axis: int | None, keepdims: bool, dim: int | None,
         keepdim: bool | None) -> Tensor:
    x, axes, keep = _args(op, x, axis, keepdims, dim, keepdim)
    if axes is not None and len(axes) != 1:
        raise ValueError(f"{op}: takes a single axis")
    a = None if axes is None else axes[0]
    return Tensor._make(_device.wrap(fn(x.data, axis=a, keepdims=keep)).astype(np.int64))


def argmax(x: Any, axis: int | None = None, keepdims: bool = False, *, dim: int | None = None,
           keepdim: bool | None = None) -> Tensor:
    """Index of the (first) largest value; int64, no gradient."""
    return _arg("argmax", np.argmax, x, axis, keepdims, dim, keepdim)


def argmin(x: Any, axis: int | None = None, keepdims: bool = False, *, dim: int | None = None,
           keepdim: bool | None = None) -> Tensor:
    """Index of the (first) smallest value; int64, no gradient."""
    return _arg("argmin", np.argmin, x, axis, keepdims, dim, keepdim)


def sum_to(x: Tensor, shape: tuple[int, ...]) -> Tensor:
    """Sum ``x`` down to ``shape``, which must broadcast to ``x.shape``."""
    shape = tuple(int(s) for s in shape)
    try:
        ok = np.broadcast_shapes(shape, x.shape) == x.shape
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"sum_to: shape {shape} does not broadcast to {x.shape}")
    if shape == x.shape:
        return x
    return SumToFn.apply(x, shape=shape)


# ---------------------------------------------------------------------------------------------
# prod, any/all, count_nonzero, var_mean/std_mean, vector norms (issue 14)
# ---------------------------------------------------------------------------------------------


def product_of_others(e: Tensor, out: Tensor, nonzero: Tensor, zeros: Any,
                      zero_sum: Tensor) -> Tensor:
    """For factors ``e`` of products ``out`` (broadcastable to ``e``): the product of the *other*
    factors at each factor's position, without dividing by zero.

    ``nonzero``: the product of the nonzero factors at each position; ``zeros``: how many factors
    there are 0 (an array); ``zero_sum``: the sum of the zero factors (0 in value, but it carries
    their derivatives). A nonzero factor's others multiply to ``out / e``; a zero factor's to
    ``nonzero`` when it is the only zero, to ``nonzero * (the other zero)`` when there are two,
    and to 0 otherwise. Every case is written with Tensor ops whose derivatives are the true ones,
    so the second derivative of a product is exact with up to two zeros (and 0, as it should be,
    with more).
    """
    ez = Tensor._make(_device.wrap(e.data == 0))
    general = out / where(ez, 1.0, e)
    one = Tensor._make(_device.wrap(zeros == 1))
    two = Tensor._make(_device.wrap(zeros == 2))
    at_zero = where(one, nonzero, where(two, nonzero * (zero_sum - e), 0.0))
    return where(ez, at_zero, general)


def _keep_with_input(ctx: Function, x: Tensor, out: Any) -> Any:
    """A reduction's output as an array (NumPy gives a scalar for a full reduction), saved with
    its input ``x`` for a backward that reads both."""
    out = _device.wrap(out)
    ctx.save_for_backward(x, out)
    return out


class ProdFn(Function):
    """The product over ``axis``; the gradient of each factor is the product of the others,
    computed without dividing by zero (one zero, several zeros)."""

    @staticmethod
    def forward(ctx, x, *, axis, keepdims):
        ctx.axis = axis
        ctx.kept_shape = _kept_shape(x.shape, axis)
        return _keep_with_input(ctx, x, np.prod(x.data, axis=axis, keepdims=keepdims))

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        g, out = g.reshape(ctx.kept_shape), out.reshape(ctx.kept_shape)
        xz = _device.wrap(x.data == 0)
        if not bool(np.any(xz)):
            return g * out / x
        x_nz = where(Tensor._make(xz), 1.0, x)
        nonzero = ProdFn.apply(x_nz, axis=ctx.axis, keepdims=True)
        zeros = np.sum(xz, axis=ctx.axis, keepdims=True)
        zero_sum = sum(where(Tensor._make(xz), x, 0.0), ctx.axis, keepdims=True)
        return g * product_of_others(x, out, nonzero, zeros, zero_sum)


def prod(x: Any, dim: AxisArg = None, keepdim: bool = False, *, dtype: Any = None,
         axis: AxisArg = None, keepdims: bool | None = None) -> Tensor:
    """The product of the elements over ``dim`` (an int, a tuple, or None: all). Integer and bool
    inputs give int64 (PyTorch); ``dtype`` casts first. The gradient at zeros is exact: with one
    zero the zero's factor gets the product of the others, every other factor 0."""
    x = as_tensor(x, None, "prod")
    if dtype is not None:
        x = x.astype(dtype)
    x, axes, keep = _args("prod", x, axis, bool(keepdims) if keepdims is not None else keepdim,
                          dim, None)
    if not np.issubdtype(x.dtype, np.floating):
        return Tensor._make(_device.wrap(np.prod(x.data, axis=axes, keepdims=keep,
                                                 dtype=np.int64)))
    return ProdFn.apply(x, axis=axes, keepdims=keep)


def _truth(op: str, fn: Any, x: Any, dim: AxisArg, keepdim: bool, axis: AxisArg,
           keepdims: bool | None) -> Tensor:
    x, axes, keep = _args(op, x, axis, bool(keepdims) if keepdims is not None else keepdim,
                          dim, None)
    return Tensor._make(_device.wrap(fn(x.data, axis=axes, keepdims=keep)).astype(np.bool_))


def any(x: Any, dim: AxisArg = None, keepdim: bool = False, *,  # noqa: A001
        axis: AxisArg = None, keepdims: bool | None = None) -> Tensor:
    """Whether any element over ``dim`` (int, tuple or None: all) is nonzero: a bool tensor (a
    0-d one without ``dim``, which ``if t.any():`` reads as a Python bool)."""
    return _truth("any", np.any, x, dim, keepdim, axis, keepdims)


def all(x: Any, dim: AxisArg = None, keepdim: bool = False, *,  # noqa: A001
        axis: AxisArg = None, keepdims: bool | None = None) -> Tensor:
    """Whether every element over ``dim`` is nonzero: a bool tensor (see :func:`any`)."""
    return _truth("all", np.all, x, dim, keepdim, axis, keepdims)


def count_nonzero(x: Any, dim: AxisArg = None) -> Tensor:
    """How many elements over ``dim`` (int, tuple or None: all) are nonzero; int64."""
    x, axes, _ = _args("count_nonzero", x, None, False, dim, None)
    return Tensor._make(_device.wrap(np.sum(x.data != 0, axis=axes)).astype(np.int64))


def var_mean(x: Any, dim: AxisArg = None, keepdim: bool = False, *,
             correction: int | None = None, unbiased: bool | None = None,
             axis: AxisArg = None, keepdims: bool | None = None) -> tuple[Tensor, Tensor]:
    """``(var(x, dim), mean(x, dim))`` with :func:`var`'s arguments (default ``correction=1``)."""
    keep = bool(keepdims) if keepdims is not None else keepdim
    if dim is not None and axis is not None:
        raise TypeError("var_mean: give axis or dim, not both")
    d = dim if dim is not None else axis
    return (var(x, d, keep, correction=correction, unbiased=unbiased), mean(x, d, keep))


def std_mean(x: Any, dim: AxisArg = None, keepdim: bool = False, *,
             correction: int | None = None, unbiased: bool | None = None,
             axis: AxisArg = None, keepdims: bool | None = None) -> tuple[Tensor, Tensor]:
    """``(std(x, dim), mean(x, dim))`` with :func:`std`'s arguments (default ``correction=1``)."""
    v, m = var_mean(x, dim, keepdim, correction=correction, unbiased=unbiased, axis=axis,
                    keepdims=keepdims)
    return v.sqrt(), m


class VectorNormFn(Function):
    """``(sum |x|^p)^(1/p)`` over ``axis`` for a finite ``p > 0``."""

    kinks = ("x = 0: where the norm is 0 the gradient is 0 (PyTorch's convention); p = 1: "
             "sign(0) = 0; p < 1: 0 at x = 0")

    @staticmethod
    def forward(ctx, x, *, p, axis, keepdims):
        ctx.p, ctx.kept_shape = p, _kept_shape(x.shape, axis)
        if p == 2:
            out = np.sqrt(np.sum(x.data * x.data, axis=axis, keepdims=keepdims))
        elif p == 1:
            out = np.sum(np.abs(x.data), axis=axis, keepdims=keepdims)
        else:
            out = np.sum(np.abs(x.data) ** p, axis=axis, keepdims=keepdims) ** (1.0 / p)
        return _keep_with_input(ctx, x, out)

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        p = ctx.p
        g = g.reshape(ctx.kept_shape)
        if p == 1:
            return g * x.sign()
        out = out.reshape(ctx.kept_shape)
        zero = Tensor._make(_device.wrap(out.data == 0))
        safe = where(zero, 1.0, out)
        if p == 2:
            return g * x / safe
        xz = Tensor._make(_device.wrap(x.data == 0))
        mag = where(xz, 1.0, x.abs()) ** (p - 1)  # |x|^(p-1), kept finite at 0 for p < 1
        return where(xz, 0.0, g * x.sign() * mag / safe ** (p - 1))


def in_graph(value: Tensor, x: Tensor, axes: tuple[int, ...] | None, keep: bool) -> Tensor:
    """``value`` (a constant reduction of ``x`` over ``axes``) as an output of ``x``'s graph with
    a zero gradient, as PyTorch gives it (so ``value.backward()`` works): ``where(False,
    sum(x), value)``, which neither reads ``x``'s NaNs into the value nor the gradient."""
    if not x.requires_grad:
        return value
    never = Tensor._make(_device.zeros(value.shape, np.bool_, like=x.data))
    return where(never, sum(x, axes, keepdims=keep), value)


def vector_norm(x: Any, ord: float = 2, dim: AxisArg = None,  # noqa: A002
                keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    """The vector ``ord``-norm over ``dim`` (int, tuple, or None: all elements flattened), as
    ``torch.linalg.vector_norm``: ``ord`` = 2 (default), 1, ``inf`` (largest ``|x|``; ties share
    the gradient), ``-inf`` (smallest), 0 (the number of nonzeros; no gradient) or any other
    number ``p`` (``(sum |x|^p)^(1/p)``). The gradient is 0 where the norm is 0."""
    op = "vector_norm"
    x = as_tensor(x, None, op)
    if dtype is not None:
        x = x.astype(dtype)
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"{op}: expected a floating tensor, got {x.dtype} (use .float())")
    if isinstance(ord, str) or not isinstance(ord, int | float | np.number) or \
            isinstance(ord, bool) or np.isnan(ord):
        raise TypeError(f"{op}: ord must be a number (2, 1, inf, -inf, 0, p), got {ord!r}")
    x, axes, keep = _args(op, x, None, keepdim, dim, None)
    if ord == np.inf or ord == -np.inf:
        a = x.abs()
        return _maxmin_all(op, ord > 0, a, axes, keep)
    if ord == 0:
        out = np.sum(x.data != 0, axis=axes, keepdims=keep)
        return in_graph(Tensor._make(_device.wrap(out).astype(x.dtype)), x, axes, keep)
    return VectorNormFn.apply(x, p=float(ord), axis=axes, keepdims=keep)


def norm(x: Any, p: Any = "fro", dim: AxisArg = None, keepdim: bool = False,
         dtype: Any = None) -> Tensor:
    """``torch.norm``: ``p='fro'`` (default) or 2 is the 2-norm over ``dim`` (None: all
    elements); ``p`` = 1, ``inf``, ``-inf``, 0 or a number: the vector p-norm
    (:func:`vector_norm`). ``'nuc'`` (nuclear norm) is not supported."""
    if isinstance(p, str):
        if p != "fro":
            raise ValueError(f"norm: p must be 'fro' or a number, got {p!r} (the nuclear norm is "
                             "not supported)")
        if dim is not None and not isinstance(dim, int | np.integer) and len(dim) > 2:
            raise ValueError(f"norm: the Frobenius norm takes one or two dims, got dim={dim!r} "
                             "(use p=2 for a vector norm over more)")
        p = 2
    return vector_norm(x, p, dim, keepdim, dtype=dtype)
