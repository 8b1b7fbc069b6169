"""Embedding lookups (PyTorch's ``F.embedding`` and ``F.embedding_bag``) on two Functions:

    GatherRowsFn      out[i] = x[index[i]]                      (the lookup)
    ScatterAddRowsFn  out = zeros; out[index[i]] += g[i]         (its gradient; a bag's sum)

Each is the other's backward, so the lookup is differentiable to any order. The lookup's
gradient may use other rows than its forward (``grad_index``): PyTorch's ``padding_idx`` entries
return their row but send it no gradient (their gradient index is -1, "no row"), and
``scale_grad_by_freq`` divides each entry's gradient by the number of times its index occurs in
the batch (``grad_scale``). A bag reduction is ``ScatterAddRowsFn`` with each entry's bag as its
row. Repeated indices accumulate (a Numba kernel, much faster than ``np.add.at``; see
``kernels/cpu/embedding.py``).

Indices are checked before anything happens (integer dtype, range, device), so a bad call
raises a clear error and leaves the weight untouched; ``max_norm`` then renormalises the
referenced rows in place, under ``no_grad``, as PyTorch does.

Shapes: weight (V, D); ``embedding`` input any shape of int64/int32 ``-> (*input.shape, D)``;
``embedding_bag`` input (B, L), or (n,) with offsets (B,) -> (B, D).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minigrad import _device
from minigrad.autograd import Function, no_grad, versions
from minigrad.ops._args import float_tensor, one_of, positive
from minigrad.ops.elementwise import where as mg_where
from minigrad.ops.kernels import kernels_for
from minigrad.tensor import Tensor

__all__ = ["embedding", "embedding_bag", "check_indices", "renorm_rows"]


class GatherRowsFn(Function):
    """out[i] = scale[i] * x[index[i]] (zeros where index[i] < 0): x (V, D), index (n,) -> (n, D).

    The gradient scatters back to ``grad_index`` with ``grad_scale`` when given (an embedding's
    padding and frequency rules), else to ``index`` with ``scale`` (the exact adjoint).
    """

    @staticmethod
    def forward(ctx, x, *, index, scale=None, grad_index=None, grad_scale=None):
        ctx.rows = x.shape[0]
        if grad_index is None:
            grad_index, grad_scale = index, scale
        ctx.grad = (grad_index, grad_scale)
        return kernels_for(x.data).embedding.gather_rows(x.data, index, scale)

    @staticmethod
    def backward(ctx, g):
        index, scale = ctx.grad
        return ScatterAddRowsFn.apply(g, index=index, num_rows=ctx.rows, scale=scale)


class ScatterAddRowsFn(Function):
    """out = zeros((num_rows, D)); out[index[i]] += scale[i] * g[i] for index[i] >= 0:
    g (n, D), index (n,) -> (num_rows, D). Repeated indices accumulate."""

    @staticmethod
    def forward(ctx, g, *, index, num_rows, scale=None):
        ctx.index, ctx.scale = index, scale
        return kernels_for(g.data).embedding.scatter_add_rows(g.data, index, num_rows, scale)

    @staticmethod
    def backward(ctx, gg):
        return GatherRowsFn.apply(gg, index=ctx.index, scale=ctx.scale)


def check_indices(op: str, input: Any, weight: Tensor) -> Any:
    """The indices of ``input`` (an int64/int32 Tensor on the weight's device, values in
    [0, V)) as an int64 array on that device; otherwise a ``TypeError`` (not an integer Tensor)
    or ``IndexError`` (out of range; negative indices are not wrapped) naming ``op`` and the
    shapes."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor of indices (int64), got "
                        f"{type(input).__name__}")
    if input.dtype.kind not in "iu":
        raise TypeError(f"{op}: input must hold integer indices (int64 or int32), got dtype "
                        f"{input.dtype} for input of shape {input.shape} (convert with .long())")
    if input.device != weight.device:
        raise ValueError(f"{op}: input {input.shape} is on {input.device} but weight "
                         f"{weight.shape} is on {weight.device}; move them to one device")
    idx = input.data.astype(np.int64, copy=False)
    v = weight.shape[0]
    if idx.size:
        lo, hi = int(idx.min()), int(idx.max())
        if lo < 0 or hi >= v:
            bad = lo if lo < 0 else hi
            raise IndexError(f"{op}: index {bad} is out of range for num_embeddings={v} (input "
                             f"shape {input.shape}, weight shape {weight.shape}); indices must "
                             f"lie in [0, {v - 1}]")
    return idx


def _padding_idx(op: str, padding_idx: Any, v: int) -> int | None:
    """PyTorch's rule: None, or an int in [-V, V) (negative counts from the end)."""
    if padding_idx is None:
        return None
    if isinstance(padding_idx, bool) or not isinstance(padding_idx, int | np.integer):
        raise TypeError(f"{op}: padding_idx must be an int or None, got {padding_idx!r}")
    if not -v <= padding_idx < v:
        raise ValueError(f"{op}: padding_idx must be within num_embeddings={v}, got "
                         f"{padding_idx}")
    return int(padding_idx) % v


def renorm_rows(weight: Tensor, idx: Any, max_norm: float, norm_type: float) -> None:
    """PyTorch's ``embedding_renorm_``: each row of ``weight`` referenced in ``idx`` whose
    ``norm_type``-norm exceeds ``max_norm`` is scaled in place to norm ``max_norm`` (by
    ``max_norm / (norm + 1e-7)``), under ``no_grad``."""
    rows = np.unique(_device.to_host(idx).reshape(-1))
    with no_grad():
        sub = _device.to_host(weight.data[_device.asarray(rows, like=weight.data)]).astype(
            np.float64)
        if np.isinf(norm_type):
            norms = np.abs(sub).max(axis=1) if sub.size else np.zeros(len(rows))
        else:
            norms = (np.abs(sub) ** norm_type).sum(axis=1) ** (1.0 / norm_type)
        big = norms > max_norm
        if not big.any():
            return
        scale = (max_norm / (norms[big] + 1e-7)).astype(weight.dtype)
        target = _device.asarray(rows[big], like=weight.data)
        weight.data[target] = weight.data[target] * _device.asarray(scale[:, None],
                                                                    like=weight.data)
        versions.bump(weight.data)


def _grad_rule(idx: Any, padding_idx: int | None, scale_grad_by_freq: bool,
               dtype: np.dtype) -> tuple[Any, Any]:
    """(gradient index, gradient scale) for the lookup of ``idx`` (flat int64)."""
    gidx = idx if padding_idx is None else _device.asarray(
        np.where(_device.to_host(idx) == padding_idx, -1, _device.to_host(idx)), like=idx)
    gscale = None
    if scale_grad_by_freq:
        host = _device.to_host(idx)
        _, inverse, counts = np.unique(host, return_inverse=True, return_counts=True)
        gscale = _device.asarray((1.0 / counts[inverse]).astype(dtype), like=idx)
    return gidx, gscale


def _check_common(op: str, weight: Any, max_norm: Any, norm_type: Any, sparse: bool) -> Tensor:
    w = float_tensor(op, "weight", weight)
    if w.ndim != 2:
        raise ValueError(f"{op}: weight must be 2-D (num_embeddings, embedding_dim), got shape "
                         f"{w.shape}")
    if max_norm is not None:
        positive(op, "max_norm", max_norm)
    if not isinstance(norm_type, int | float | np.number) or isinstance(norm_type, bool) \
            or not float(norm_type) > 0:
        raise ValueError(f"{op}: norm_type must be a number > 0 (inf allowed), got "
                         f"{norm_type!r}")
    if sparse:
        raise ValueError(f"{op}: sparse=True (sparse gradients) is not supported; minigrad's "
                         "gradients are dense (use sparse=False)")
    return w


def embedding(
    input: Tensor,
    weight: Tensor,
    padding_idx: int | None = None,
    max_norm: float | None = None,
    norm_type: float = 2.0,
    scale_grad_by_freq: bool = False,
    sparse: bool = False,
) -> Tensor:
    """Look up rows of ``weight: (V, D)``: ``input: (*)`` int64 indices in [0, V) ``-> (*, D)``.

    ``padding_idx``: entries equal to it return their row but send it no gradient.
    ``max_norm``: referenced rows whose ``norm_type``-norm exceeds it are first renormalised in
    place (under ``no_grad``, as PyTorch). ``scale_grad_by_freq``: each entry's gradient is divided
    by how often its index occurs in ``input``. ``sparse=True`` is not supported (ValueError).
    """
    op = "embedding"
    w = _check_common(op, weight, max_norm, norm_type, sparse)
    idx = check_indices(op, input, w)
    pad = _padding_idx(op, padding_idx, w.shape[0])
    if max_norm is not None:
        renorm_rows(w, idx, float(max_norm), float(norm_type))
    flat = idx.reshape(-1)
    gidx, gscale = _grad_rule(flat, pad, scale_grad_by_freq, w.dtype)
    out = GatherRowsFn.apply(w, index=flat, grad_index=gidx, grad_scale=gscale)
    return out.reshape(*input.shape, w.shape[1])


_BAG_MODES = ("sum", "mean", "max")


def _bags(op: str, input: Tensor, offsets: Any, include_last_offset: bool
          ) -> tuple[np.ndarray, int]:
    """(bag of each flattened entry (n,) int64, number of bags) from a 2-D input or a 1-D
    input with offsets (PyTorch's rules)."""
    if input.ndim == 2:
        if offsets is not None:
            raise ValueError(f"{op}: offsets must be None when input is 2-D {input.shape} (each "
                             "row is a bag)")
        b, length = input.shape
        return np.repeat(np.arange(b, dtype=np.int64), length), b
    if input.ndim != 1:
        raise ValueError(f"{op}: input must be 1-D (with offsets) or 2-D (B, L), got shape "
                         f"{input.shape}")
    if offsets is None:
        raise ValueError(f"{op}: offsets are required when input is 1-D {input.shape}")
    if not isinstance(offsets, Tensor) or offsets.dtype.kind not in "iu" or offsets.ndim != 1:
        raise TypeError(f"{op}: offsets must be a 1-D integer Tensor, got "
                        f"{getattr(offsets, 'dtype', type(offsets).__name__)} of shape "
                        f"{getattr(offsets, 'shape', None)}")
    off = _device.to_host(offsets.data).astype(np.int64)
    n = input.shape[0]
    if off.size and off[0] != 0:
        raise ValueError(f"{op}: offsets[0] must be 0 (the first bag starts at the first "
                         f"entry), got {off[0]}")
    if np.any(np.diff(off) < 0) or (off.size and off[-1] > n):
        raise ValueError(f"{op}: offsets must be non-decreasing and at most len(input) = {n}, "
                         f"got {off.tolist()}")
    if include_last_offset and (off.size == 0 or off[-1] != n):
        # PyTorch's CSR convention; with another last offset its mean divides by a wrong count
        raise ValueError(f"{op}: with include_last_offset=True the last offset must be "
                         f"len(input) = {n}, got {off.tolist()}")
    ends = off if include_last_offset else np.append(off, n)
    nbags = ends.size - 1
    return np.repeat(np.arange(nbags, dtype=np.int64), np.diff(ends)), nbags


def _bag_max(rows: Tensor, bag: np.ndarray, nbags: int) -> Tensor:
    """Per bag and column, the largest of the bag's rows (n, D) -> (B, D); 0 for an empty bag.

    The rows are laid out as (B, Lmax, D) with -inf in the unused slots and reduced with
    ``max(dim=1)``, so the gradient goes to the first maximum of each column (PyTorch's rule).
    """
    like = rows.data
    counts = np.bincount(bag[bag >= 0], minlength=nbags)
    lmax = max(1, int(counts.max()) if counts.size else 1)
    slot = np.full(nbags * lmax, -1, dtype=np.int64)
    order = np.flatnonzero(bag >= 0)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]]) if nbags else counts
    pos = np.arange(order.size) - np.repeat(first, counts)  # each entry's place in its bag
    slot[bag[order] * lmax + pos] = order
    dense = GatherRowsFn.apply(rows, index=_device.asarray(slot, like=like))
    empty = _device.asarray(np.where(slot < 0, -np.inf, 0.0).astype(rows.dtype)[:, None],
                            like=like)
    dense = (dense + Tensor._make(empty)).reshape(nbags, lmax, rows.shape[1])
    best = dense.max(dim=1).values
    keep = Tensor._make(_device.asarray((counts > 0)[:, None], like=like))
    return mg_where(keep, best, 0.0)


def embedding_bag(
    input: Tensor,
    weight: Tensor,
    offsets: Tensor | None = None,
    max_norm: float | None = None,
    norm_type: float = 2.0,
    scale_grad_by_freq: bool = False,
    mode: str = "mean",
    sparse: bool = False,
    per_sample_weights: Tensor | None = None,
    include_last_offset: bool = False,
    padding_idx: int | None = None,
) -> Tensor:
    """Sums or means of bags of embeddings without materialising the lookups' shape:
    weight (V, D) -> (B, D).

    Bags: the rows of a 2-D input (B, L), or for a 1-D input of n indices, ``offsets`` (B,)
    giving where each bag starts (``offsets[0] == 0``; ``include_last_offset``: offsets has B+1
    entries, the last one the end). ``mode``: ``"sum"`` or ``"mean"`` (an empty bag gives
    zeros) or ``"max"`` (per column; the gradient goes to the first maximum, an empty bag gives
    zeros). ``per_sample_weights`` (same shape as input,
    ``mode="sum"`` only) weight each entry and get a gradient. ``padding_idx`` entries are left
    out of their bag (and of its count for the mean). ``max_norm``, ``norm_type``,
    ``scale_grad_by_freq`` as in :func:`embedding`.

    Differences from PyTorch 2.13's CPU kernel, whose answers there are bugs: with
    ``scale_grad_by_freq`` each entry's gradient is divided by its own index's count (PyTorch's
    CPU backward divides some by another index's count, pytorch/pytorch#190063; its CUDA
    backward and ``F.embedding`` agree with us); with ``include_last_offset`` the last offset
    must be ``len(input)`` (ValueError otherwise: PyTorch's mean then divides by a wrong count).
    """
    op = "embedding_bag"
    w = _check_common(op, weight, max_norm, norm_type, sparse)
    one_of(op, "mode", mode, _BAG_MODES)
    idx = check_indices(op, input, w)
    bag, nbags = _bags(op, input, offsets, include_last_offset)
    psw = None
    if per_sample_weights is not None:
        if mode != "sum":
            raise ValueError(f"{op}: per_sample_weights is only supported for mode='sum' (got "
                             f"mode={mode!r})")
        psw = float_tensor(op, "per_sample_weights", per_sample_weights)
        if psw.shape != input.shape:
            raise ValueError(f"{op}: per_sample_weights of shape {psw.shape} must have the "
                             f"input's shape {input.shape}")
        if psw.dtype != w.dtype:
            raise TypeError(f"{op}: per_sample_weights dtype {psw.dtype} does not match the "
                            f"weight's {w.dtype}")
    pad = _padding_idx(op, padding_idx, w.shape[0])
    if max_norm is not None:
        renorm_rows(w, idx, float(max_norm), float(norm_type))
    flat = idx.reshape(-1)
    if pad is not None:
        bag = np.where(_device.to_host(flat) == pad, -1, bag)
    gidx, gscale = _grad_rule(flat, pad, scale_grad_by_freq, w.dtype)
    rows = GatherRowsFn.apply(w, index=flat, grad_index=gidx, grad_scale=gscale)
    if mode == "max":
        return _bag_max(rows, bag, nbags)
    if psw is not None:
        rows = rows * psw.reshape(-1, 1)
    scale = None
    if mode == "mean":
        counts = np.bincount(bag[bag >= 0], minlength=nbags)[bag.clip(min=0)]
        scale = np.where(bag >= 0, 1.0 / np.maximum(counts, 1), 0.0).astype(w.dtype)
        scale = _device.asarray(scale, like=w.data)
    return ScatterAddRowsFn.apply(rows, index=_device.asarray(bag, like=w.data), num_rows=nbags,
                                  scale=scale)
