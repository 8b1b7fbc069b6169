"""Sorting and order statistics along a dim: ``sort``, ``argsort``, ``topk``, ``kthvalue``,
``median``, ``mode``.

Every one sorts with NumPy's stable sort (``np.argsort(kind="stable")``; descending sorts run it
on the reversed axis and reverse back, which keeps equal elements in their original order and puts
NaN first, as PyTorch's ``sort(descending=True, stable=True)``), then picks values with
:class:`~minigrad.ops.index.GatherFn`: the gradient goes to the index returned. At ties that is
the stable order's choice (``sort``/``topk``/``kthvalue``: equal elements keep their input order;
``median``: the lower median's position in that order; ``mode``: the last occurrence, as
PyTorch). PyTorch's default ``sort`` is not stable; its ties may come out in another order.

On the GPU the sort itself has no kernel: it runs on the host, counted as a fallback (listed in
the README); the gathers and the gradients stay on the device.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minigrad import _device
from minigrad.ops import _args
from minigrad.ops.elementwise import as_tensor
from minigrad.ops.index import GatherFn, _contiguous, _fancy
from minigrad.ops.reduce import ValuesIndices, in_graph
from minigrad.tensor import Tensor

__all__ = ["sort", "argsort", "topk", "kthvalue", "median", "mode"]


def _stable_argsort(a: Any, d: int, descending: bool) -> Any:
    """int64 indices that sort ``a`` along ``d``, equal elements in input order."""
    if not descending:
        return _argsort(a, d)
    n = a.shape[d]
    return np.flip((n - 1) - _argsort(np.flip(a, d), d), d)


def _argsort(a: Any, d: int) -> Any:
    """Stable ascending argsort along ``d`` (NaN last).

    For float arrays on the CPU NumPy's default sort (SIMD quicksort) runs first, 4x faster than
    its stable sort on float32; only the rows where it found equal values (or NaNs) are sorted
    again with the stable sort, so the result is the stable order either way.
    """
    if _device.is_cuda(a) or a.dtype.kind != "f" or a.ndim == 0 or a.shape[d] < 2:
        return _device.wrap(np.argsort(a, axis=d, kind="stable")).astype(np.int64)
    rows = np.moveaxis(a, d, -1)
    shape = rows.shape
    rows = rows.reshape(-1, shape[-1])
    idx = np.argsort(rows, axis=1)
    s = np.take_along_axis(rows, idx, axis=1)
    tied = (s[:, 1:] == s[:, :-1]) | np.isnan(s[:, 1:])
    redo = np.flatnonzero(tied.any(axis=1))
    if redo.size:
        idx[redo] = np.argsort(rows[redo], axis=1, kind="stable")
    return np.moveaxis(idx.reshape(shape), -1, d).astype(np.int64, copy=False)


def _take(x: Tensor, d: int, idx: Any) -> Tensor:
    """``x``'s values at ``idx`` along ``d`` (differentiable when ``x`` requires grad)."""
    idx = _contiguous(idx)
    if x.requires_grad and np.issubdtype(x.dtype, np.floating):
        return GatherFn.apply(x, dim=d, index=idx)
    return Tensor._make(_device.wrap(x.data[_fancy(idx, d, x.data)]))


def _along(d: int, ndim: int, s: slice) -> tuple[slice, ...]:
    return (slice(None),) * d + (s,) + (slice(None),) * (ndim - d - 1)


def _prepare(op: str, input: Any, dim: Any) -> tuple[Tensor, int, bool]:
    """``(x as at least 1-D, dim, whether the input was 0-d)``."""
    x = as_tensor(input, None, op)
    d = _args.dim(op, dim, x.ndim)
    if x.ndim == 0:
        return x.reshape(1), 0, True
    return x, d, False


def sort(input: Any, dim: int = -1, descending: bool = False,  # noqa: A002
         stable: bool = False) -> ValuesIndices:
    """``(values, indices)``: ``input`` sorted along ``dim`` and where each value came from.

    Always stable (equal elements keep their order, ``stable`` is accepted for PyTorch's
    signature); NaN sorts as the largest value. The gradient of ``values`` goes back to
    ``indices``.
    """
    x, d, scalar = _prepare("sort", input, dim)
    idx = _stable_argsort(x.data, d, bool(descending))
    values = _take(x, d, idx)
    if scalar:
        return ValuesIndices(values.reshape(()), Tensor._make(idx.reshape(())))
    return ValuesIndices(values, Tensor._make(idx))


def argsort(input: Any, dim: int = -1, descending: bool = False,  # noqa: A002
            stable: bool = False) -> Tensor:
    """The int64 indices that sort ``input`` along ``dim`` (stable; see :func:`sort`)."""
    x, d, scalar = _prepare("argsort", input, dim)
    idx = _stable_argsort(x.data, d, bool(descending))
    return Tensor._make(idx.reshape(()) if scalar else idx)


def topk(input: Any, k: int, dim: int = -1, largest: bool = True,  # noqa: A002
         sorted: bool = True) -> ValuesIndices:  # noqa: A002
    """``(values, indices)`` of the ``k`` largest (``largest=False``: smallest) elements along
    ``dim``, in sorted order; equal elements in input order."""
    op = "topk"
    x, d, scalar = _prepare(op, input, dim)
    n = x.shape[d]
    k = _args.integer(op, "k", k, minimum=0)
    if k > n:
        raise ValueError(f"{op}: k = {k} is larger than dim {d} of size {n} (input shape "
                         f"{np.shape(input.data if isinstance(input, Tensor) else input)})")
    idx = _stable_argsort(x.data, d, bool(largest))[_along(d, x.ndim, slice(0, k))]
    values = _take(x, d, idx)
    if scalar:  # a 0-d input keeps its shape (k is 0 or 1), as PyTorch
        shape = () if k == 1 else (0,)
        return ValuesIndices(values.reshape(shape), Tensor._make(idx.reshape(shape)))
    return ValuesIndices(values, Tensor._make(_device.wrap(idx)))


def _select(op: str, x: Tensor, d: int, scalar: bool, idx: Any, keepdim: bool) -> ValuesIndices:
    """Values at ``idx`` (size 1 along ``d``), squeezed unless ``keepdim``."""
    idx = _device.wrap(idx)
    values = _take(x, d, idx)
    if scalar:
        return ValuesIndices(values.reshape(()), Tensor._make(idx.reshape(())))
    if not keepdim:
        values, idx = values.squeeze(d), np.squeeze(idx, axis=d)
    return ValuesIndices(values, Tensor._make(idx))


def _nonempty(op: str, x: Tensor, d: int, input: Any) -> int:
    n = x.shape[d]
    if n == 0:
        raise ValueError(f"{op}: dim {d} of the input of shape {x.shape} is empty")
    return n


def kthvalue(input: Any, k: int, dim: int = -1, keepdim: bool = False) -> ValuesIndices:  # noqa: A002
    """``(values, indices)`` of the ``k``-th smallest element along ``dim`` (``k`` from 1); at
    ties, the ``k``-th in the stable order."""
    op = "kthvalue"
    x, d, scalar = _prepare(op, input, dim)
    n = _nonempty(op, x, d, input)
    k = _args.integer(op, "k", k, minimum=1)
    if k > n:
        raise ValueError(f"{op}: k = {k} is out of range for dim {d} of size {n} (input shape "
                         f"{x.shape})")
    idx = _stable_argsort(x.data, d, False)[_along(d, x.ndim, slice(k - 1, k))]
    return _select(op, x, d, scalar, idx, bool(keepdim))


def median(input: Any, dim: int | None = None, keepdim: bool = False) -> Any:  # noqa: A002
    """The lower median (for an even count, the smaller of the two middle values), as PyTorch.

    ``median(x)``: a 0-d tensor over all elements; ``median(x, dim)``: ``(values, indices)``.
    A NaN makes the median NaN (its index: the first NaN). The gradient goes to the index of the
    median element (for ``median(x)``, its position in the stable order).
    """
    op = "median"
    x = as_tensor(input, None, op)
    if dim is None:
        if x.data.size == 0:  # PyTorch: NaN
            if x.dtype.kind != "f":
                raise ValueError(f"{op}: the integer input of shape {x.shape} is empty")
            nan = Tensor._make(_device.full((), np.nan, x.dtype, like=x.data))
            return in_graph(nan, x, None, False)
        return median(x.reshape(-1), 0).values
    x, d, scalar = _prepare(op, x, dim)
    n = _nonempty(op, x, d, input)
    idx = _stable_argsort(x.data, d, False)[_along(d, x.ndim, slice((n - 1) // 2, (n + 1) // 2))]
    if x.dtype.kind == "f":
        nan = np.isnan(x.data)
        first_nan = _device.wrap(np.argmax(nan, axis=d, keepdims=True)).astype(np.int64)
        idx = np.where(np.any(nan, axis=d, keepdims=True), first_nan, idx)
    return _select(op, x, d, scalar, idx, bool(keepdim))


def mode(input: Any, dim: int = -1, keepdim: bool = False) -> ValuesIndices:  # noqa: A002
    """``(values, indices)``: the most frequent value along ``dim`` (the smallest of the most
    frequent ones at a tie) and the index of its last occurrence, as PyTorch."""
    op = "mode"
    x, d, scalar = _prepare(op, input, dim)
    _nonempty(op, x, d, input)
    if _device.is_cuda(x.data):  # run lengths on the host: a counted fallback ("mode")
        from minigrad.cuda.array import dispatch

        idx = dispatch("mode", _mode_indices, (x.data, d), {})
    else:
        idx = _mode_indices(x.data, d)
    return _select(op, x, d, scalar, idx, bool(keepdim))


def _mode_indices(a: np.ndarray, d: int) -> np.ndarray:
    """Index (size 1 along ``d``) of the last occurrence of each row's mode: sort each row
    (stable), find the runs of equal values, take the first longest run (the smallest value)."""
    moved = np.moveaxis(a, d, -1)
    rows = moved.reshape(-1, moved.shape[-1])
    order = np.argsort(rows, axis=1, kind="stable")
    s = np.take_along_axis(rows, order, axis=1)
    n = s.shape[1]
    pos = np.broadcast_to(np.arange(n), s.shape)
    new = np.ones(s.shape, bool)  # a run starts here
    new[:, 1:] = s[:, 1:] != s[:, :-1]
    last = np.ones(s.shape, bool)  # a run ends here
    last[:, :-1] = new[:, 1:]
    start = np.maximum.accumulate(np.where(new, pos, 0), axis=1)
    end = np.flip(np.minimum.accumulate(np.flip(np.where(last, pos, n), 1), axis=1), 1)
    best = np.argmax(end - start, axis=1)
    r = np.arange(len(rows))
    idx = order[r, end[r, best]].reshape(moved.shape[:-1] + (1,))
    return np.moveaxis(idx, -1, d).astype(np.int64)
