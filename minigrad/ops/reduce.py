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
from minigrad.ops.elementwise import as_tensor
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
            raise ValueError(f"{op}: axis {a} is out of range for a tensor of {ndim} dimensions")
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
    if x.data.size == 0:
        raise ValueError(f"{op}: reduction of an empty tensor of shape {x.shape}")
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
            raise ValueError(f"{op}: dim {d} is out of range for a 0-d tensor")
        r = _maxmin_dim(op, largest, x.reshape(1), 0, False)
        return ValuesIndices(r.values.reshape(()), r.indices.reshape(()))
    if not -x.ndim <= d < x.ndim:
        raise ValueError(f"{op}: dim {d} is out of range for a tensor of shape {x.shape}")
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
        from minigrad.ops.elementwise import maximum, minimum

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
