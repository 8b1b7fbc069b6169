"""Scans along a dim: ``cumsum``, ``cumprod``, ``cummax``, ``cummin``, ``logcumsumexp``.

Each is a ``Function`` whose forward is one NumPy accumulation (``np.cumsum``, ``np.cumprod``,
``np.maximum.accumulate``, ``np.logaddexp.accumulate``) and whose backward is written with Tensor
ops, so it differentiates again:

- ``cumsum``'s gradient is the reversed cumulative sum (:class:`CumsumFn` with ``reverse``);
- ``cumprod``'s is ``revcumsum(g * y) / x`` where ``x`` is nonzero, and for the first zero of a
  row the product of the elements before it times ``sum_k g_k prod(x after it up to k)`` (exact
  with any number of zeros; second derivatives are exact with at most one zero per row);
- ``cummax``/``cummin`` return ``(values, indices)`` and the values gather ``x`` at the indices,
  so the gradient goes to the index returned (at ties the latest, as PyTorch);
- ``logcumsumexp``'s is ``exp(x_i) * sum_{k>=i} g_k exp(-y_k)``, evaluated in log space with the
  reversed ``logcumsumexp`` of the positive and negative parts of ``g`` (PyTorch's and
  TensorFlow's method), so it neither overflows nor underflows.

On the GPU the accumulations have no kernel: they run on the host, counted as fallbacks (listed in
the README); the gradients' other steps stay on the device.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minigrad import _device
from minigrad.autograd import Function
from minigrad.ops import _args
from minigrad.ops.elementwise import as_tensor, where
from minigrad.ops.reduce import ValuesIndices
from minigrad.ops.reduce import prod as _prod
from minigrad.ops.reduce import sum as _sum
from minigrad.tensor import DEFAULT_DTYPE, Tensor

__all__ = ["cumsum", "cumprod", "cummax", "cummin", "logcumsumexp"]


def _scan_args(op: str, x: Any, dim: Any, dtype: Any = None) -> tuple[Tensor, int]:
    x = as_tensor(x, None, op)
    if dtype is not None:
        x = x.astype(dtype)
    d = _args.dim(op, dim, x.ndim)
    return x, d


def _flip(a: Any, axis: int) -> Any:
    return np.flip(a, axis)


class CumsumFn(Function):
    """Cumulative sum along ``axis`` (``reverse``: from the end); the gradient is the cumulative
    sum the other way."""

    @staticmethod
    def forward(ctx, x, *, axis, reverse):
        ctx.axis, ctx.reverse = axis, reverse
        if reverse:
            return _flip(np.cumsum(_flip(x.data, axis), axis=axis), axis)
        return np.cumsum(x.data, axis=axis)

    @staticmethod
    def backward(ctx, g):
        return CumsumFn.apply(g, axis=ctx.axis, reverse=not ctx.reverse)


def _revcumsum(t: Tensor, axis: int) -> Tensor:
    return CumsumFn.apply(t, axis=axis, reverse=True)


def cumsum(input: Any, dim: int, *, dtype: Any = None) -> Tensor:  # noqa: A002
    """``out[.., i, ..] = sum(input[.., :i+1, ..])`` along ``dim``. Integer and bool inputs give
    int64 (PyTorch); ``dtype`` casts first."""
    x, d = _scan_args("cumsum", input, dim, dtype)
    if x.ndim == 0:
        return cumsum(x.reshape(1), 0).reshape(())
    if not np.issubdtype(x.dtype, np.floating):
        return Tensor._make(_device.wrap(np.cumsum(x.data, axis=d, dtype=np.int64)))
    return CumsumFn.apply(x, axis=d, reverse=False)


class _SavesInputAndOutput:
    """The forward of a scan whose gradient reads its input and its output (a mixin for
    :class:`CumprodFn` and :class:`LogCumSumExpFn`, as ``_Unary`` is for the elementwise ops): a
    subclass sets ``forward_array`` (an array and ``axis=`` in, an array out)."""

    @staticmethod
    def forward(ctx, x, *, axis):
        ctx.axis = axis
        out = ctx.forward_array(x.data, axis=axis)
        ctx.save_for_backward(x, out)
        return out


class CumprodFn(_SavesInputAndOutput, Function):
    """Cumulative product along ``axis``."""

    kinks = ("none (smooth); zeros are handled exactly for first derivatives, and second "
             "derivatives are exact with at most one zero per row")
    forward_array = staticmethod(np.cumprod)

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        d = ctx.axis
        xz = x.data == 0
        if not bool(np.any(xz)):
            return _revcumsum(g * y, d) / x
        zt = Tensor._make(xz)
        general = _revcumsum(g * y, d) / where(zt, 1.0, x)  # exact where x != 0
        seen = np.cumsum(xz, axis=d)  # zeros at or before each position
        first = Tensor._make(xz & (seen == 1))
        before = Tensor._make(seen == 0)
        after = Tensor._make((seen >= 1) & ~(xz & (seen == 1)))
        from_first = Tensor._make(seen >= 1)
        left = _prod(where(before, x, 1.0), d, keepdim=True)  # the product before the zero
        right = CumprodFn.apply(where(after, x, 1.0), axis=d)  # prod(x after the zero up to k)
        at_first = left * _sum(where(from_first, g * right, 0.0), d, keepdims=True)
        return where(first, at_first, where(zt, 0.0, general))


def cumprod(input: Any, dim: int, *, dtype: Any = None) -> Tensor:  # noqa: A002
    """``out[.., i, ..] = prod(input[.., :i+1, ..])`` along ``dim``; integer and bool inputs give
    int64. The gradient is exact with zeros in the input."""
    x, d = _scan_args("cumprod", input, dim, dtype)
    if x.ndim == 0:
        return cumprod(x.reshape(1), 0).reshape(())
    if not np.issubdtype(x.dtype, np.floating):
        return Tensor._make(_device.wrap(np.cumprod(x.data, axis=d, dtype=np.int64)))
    return CumprodFn.apply(x, axis=d)


def _cum_extreme(op: str, largest: bool, input: Any, dim: int) -> ValuesIndices:
    from minigrad.ops.index import GatherFn

    x, d = _scan_args(op, input, dim)
    if x.ndim == 0:
        r = _cum_extreme(op, largest, x.reshape(1), 0)
        return ValuesIndices(r.values.reshape(()), r.indices.reshape(()))
    a = x.data
    ufunc = np.maximum if largest else np.minimum
    vals = ufunc.accumulate(a, axis=d)
    # an index moves to i when x_i reaches the running extreme (ties: the latest), or when the
    # first NaN appears (the running value stays NaN and the index stays there, as PyTorch)
    event = a == vals
    n = a.shape[d]
    if a.dtype.kind == "f" and n:
        nan = np.isnan(vals)
        lead = (slice(None),) * d
        prev = np.concatenate([np.zeros_like(nan[lead + (slice(0, 1),)]),
                               nan[lead + (slice(0, n - 1),)]], axis=d)  # nan one step back
        event = event | (nan & ~prev)
    pos = _device.asarray(np.arange(n, dtype=np.int64).reshape(
        [n if k == d else 1 for k in range(a.ndim)]), like=a)
    indices = np.maximum.accumulate(np.where(event, pos, 0), axis=d) if n else \
        _device.zeros(a.shape, np.int64, like=a)
    indices = _device.wrap(indices).astype(np.int64)
    if np.issubdtype(x.dtype, np.floating) and x.requires_grad:
        values = GatherFn.apply(x, dim=d, index=indices)
    else:
        values = Tensor._make(_device.wrap(vals))
    return ValuesIndices(values, Tensor._make(indices))


def cummax(input: Any, dim: int) -> ValuesIndices:  # noqa: A002
    """``(values, indices)``: the running maximum along ``dim`` and where it was reached (the
    latest index at ties; NaN propagates, with the index of the first NaN), as PyTorch. The
    gradient goes to the index returned."""
    return _cum_extreme("cummax", True, input, dim)


def cummin(input: Any, dim: int) -> ValuesIndices:  # noqa: A002
    """``(values, indices)``: the running minimum along ``dim`` (see :func:`cummax`)."""
    return _cum_extreme("cummin", False, input, dim)


def _lowest(dtype: np.dtype) -> float:
    return float(np.finfo(dtype).min)


class LogCumSumExpFn(_SavesInputAndOutput, Function):
    """``y_i = log(sum_{j<=i} exp(x_j))`` along ``axis`` (``np.logaddexp.accumulate``: exact)."""

    forward_array = staticmethod(np.logaddexp.accumulate)

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        d = ctx.axis

        def rev_lcse(t: Tensor) -> Tensor:
            return _flip_t(LogCumSumExpFn.apply(_flip_t(t, d), axis=d), d)

        lowest = _lowest(g.dtype)
        log_abs = where(Tensor._make(g.data == 0), lowest, g).abs().log()
        pos = where(Tensor._make(g.data > 0), log_abs, lowest)
        neg = where(Tensor._make(g.data < 0), log_abs, lowest)
        return (rev_lcse(pos - y) + x).exp() - (rev_lcse(neg - y) + x).exp()


def _flip_t(t: Tensor, d: int) -> Tensor:
    return t[(slice(None),) * d + (slice(None, None, -1),)]


def logcumsumexp(input: Any, dim: int) -> Tensor:  # noqa: A002
    """``log(cumsum(exp(input)))`` along ``dim``, computed without overflow; integer inputs are
    computed in float32."""
    x, d = _scan_args("logcumsumexp", input, dim)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(DEFAULT_DTYPE)
    if x.ndim == 0:
        return LogCumSumExpFn.apply(x.reshape(1), axis=0).reshape(())
    return LogCumSumExpFn.apply(x, axis=d)
