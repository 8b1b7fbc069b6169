"""Collectives recorded in the graph: ``all_gather``, ``all_reduce_sum``, ``sync_batch_norm``.

Their gradients follow one convention, PyTorch's (``torch.distributed.nn``): the objective is the
SUM over ranks of every rank's loss, so a tensor used on several ranks collects the gradients of
all those uses. The adjoint of an all-gather is then a reduce-scatter (each rank receives the sum
over ranks of the gradients of its own piece), and an all-reduce of sums is its own adjoint. Both
backward passes are themselves recorded ops (``AllGatherGradFn``'s backward is an all-gather), so
``create_graph=True`` works through them.

``group`` is an mpi4py communicator (default: the world, initialised on first use) or
:data:`~minigrad.distributed._comm.WORLD_OF_ONE`, on which every collective is the identity and
MPI is never touched (the op database, ``minigrad.testing.opinfo.distributed``, checks these
ops that way; the 2-rank tests check them across processes). GPU tensors go through host copies
here.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minigrad import _device
from minigrad.autograd import Function, is_grad_enabled
from minigrad.distributed._comm import _mpi, world
from minigrad.ops.normalization import _as_param
from minigrad.tensor import Tensor

__all__ = ["all_gather", "all_reduce_sum", "sync_batch_norm"]

F64 = np.float64


def _group(group: Any) -> Any:
    return world() if group is None else group


def _host(arr: Any) -> np.ndarray:
    return np.ascontiguousarray(_device.to_host(arr))


def _like(host: np.ndarray, like: Any) -> Any:
    """``host`` moved to ``like``'s device (as is when ``like`` is a NumPy array)."""
    return _device.move(host, "cuda") if _device.is_cuda(like) else host


def _allreduce_sum(arr: Any, group: Any) -> Any:
    """Sum of ``arr`` over ``group``'s ranks (a new array on ``arr``'s device)."""
    if group.size == 1:
        return arr.copy()
    MPI = _mpi()
    buf = _host(arr).copy()
    group.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
    return _like(buf, arr)


class AllGatherFn(Function):
    """x (*) on every rank -> (x from rank 0, ..., x from rank R-1), each (*).

    backward: the gradient for this rank's x is the sum over ranks of the gradients arriving at
    output ``rank`` (a reduce-scatter); with ``sum_grads=False`` it is this rank's own incoming
    gradient for that output (right when every rank computes the same thing after the gather, so
    the incoming gradients are equal and summing would count one objective R times).
    """

    kinks = "none: linear (a copy per rank)"

    @staticmethod
    def forward(ctx, x, *, group, sum_grads):
        if group.size == 1:
            return (x.data.copy(),)
        host = _host(x.data)
        out = np.empty((group.size, *host.shape), dtype=host.dtype)
        group.Allgather(host, out)
        return tuple(_like(np.ascontiguousarray(out[r]), x.data) for r in range(group.size))

    @staticmethod
    def backward(ctx, *grads):
        group = ctx.kwargs["group"]
        if not ctx.kwargs["sum_grads"]:
            return grads[group.rank]
        return AllGatherGradFn.apply(*grads, group=group)


class AllGatherGradFn(Function):
    """(g_0, ..., g_{R-1}) on every rank -> sum over ranks of g_rank: a reduce-scatter,
    AllGatherFn's backward; its own backward is AllGatherFn again."""

    kinks = "none: linear (a sum over ranks)"

    @staticmethod
    def forward(ctx, *pieces, group):
        if group.size == 1:
            return pieces[0].data.copy()
        MPI = _mpi()
        send = np.ascontiguousarray(np.stack([_host(p.data) for p in pieces]))
        recv = np.empty(send.shape[1:], dtype=send.dtype)
        group.Reduce_scatter_block(send, recv, op=MPI.SUM)
        return _like(recv, pieces[0].data)

    @staticmethod
    def backward(ctx, g):
        return AllGatherFn.apply(g, group=ctx.kwargs["group"], sum_grads=True)


class AllReduceSumFn(Function):
    """x (*) -> the sum of every rank's x (*), on every rank; backward: the same all-reduce of
    the incoming gradients."""

    kinks = "none: linear (a sum over ranks)"

    @staticmethod
    def forward(ctx, x, *, group):
        return _allreduce_sum(x.data, group)

    @staticmethod
    def backward(ctx, g):
        return AllReduceSumFn.apply(g, group=ctx.kwargs["group"])


def all_gather(tensor: Tensor, *, sum_grads: bool = True, group: Any = None) -> tuple[Tensor, ...]:
    """Every rank's ``tensor``, as a tuple indexed by rank, recorded in the graph (PyTorch's
    ``torch.distributed.nn.functional.all_gather``). Shapes and dtypes must agree across ranks.

    tensor: (*) -> R tensors (*). Concatenate them with ``minigrad.cat(..., axis=k)`` to undo a
    split of a batch or of channels over ranks. In backward, this rank's ``tensor`` receives the
    sum over ranks of the gradients of its copies; pass ``sum_grads=False`` when every rank goes on
    to compute the same function of the gathered tensors (a replicated layer or loss): then the
    ranks' gradients are equal and this rank keeps its own.
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"all_gather: expected a Tensor, got {type(tensor).__name__}")
    return AllGatherFn.apply(tensor, group=_group(group), sum_grads=bool(sum_grads))


def all_reduce_sum(tensor: Tensor, *, group: Any = None) -> Tensor:
    """The sum over ranks of ``tensor`` (*) -> (*), recorded in the graph (a new tensor; the
    in-place, unrecorded one is :func:`minigrad.distributed.all_reduce`). Its gradient is the
    all-reduced sum of the incoming gradients."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"all_reduce_sum: expected a Tensor, got {type(tensor).__name__}")
    return AllReduceSumFn.apply(tensor, group=_group(group))


# ---------------------------------------------------------------------------------------------
# Synchronised batch normalisation
# ---------------------------------------------------------------------------------------------


def _cshape(ndim: int, c: int) -> tuple[int, ...]:
    return (1, c) + (1,) * (ndim - 2)


class SyncBatchNormTrainFn(Function):
    """y = (x - mean) * invstd * w + b with statistics over every rank's batch.

    x: (N, C, *) on this rank; w, b: (C,) or None; mean, invstd: (C,) float64 over all ranks'
    ``count`` values per channel. backward: the two per-channel sums of the input gradient
    (sum dy, sum dy * xhat) are all-reduced in one call; the weight and bias gradients stay
    local (DistributedDataParallel averages them with every other parameter's).
    """

    kinks = "a constant channel (variance 0): gradients scale like 1/sqrt(eps)"

    @staticmethod
    def forward(ctx, x, weight, bias, *, mean, invstd, count, eps, group):
        cs = _cshape(x.ndim, x.shape[1])
        scale = invstd if weight is None else invstd * weight.data.astype(F64)
        shift = -mean * scale if bias is None else bias.data.astype(F64) - mean * scale
        ctx.save_for_backward(x, weight)
        return (x.data.astype(F64) * scale.reshape(cs) + shift.reshape(cs)).astype(x.dtype)

    @staticmethod
    def backward(ctx, gy):
        x, weight = ctx.saved_tensors
        kw = ctx.kwargs
        need_x, need_w, need_b = ctx.needs_input_grad
        if is_grad_enabled():  # create_graph=True: the same formula in recorded ops
            return _composed_backward(gy, x, weight, kw["count"], kw["eps"], kw["group"],
                                      need_x, need_w, need_b)
        cs = _cshape(x.ndim, x.shape[1])
        axes = (0, *range(2, x.ndim))
        mean, invstd = kw["mean"], kw["invstd"]
        xhat = (x.data.astype(F64) - mean.reshape(cs)) * invstd.reshape(cs)
        g = gy.data.astype(F64)
        sum_dy = g.sum(axis=axes)
        sum_dy_xhat = (g * xhat).sum(axis=axes)
        gx = None
        if need_x:
            c = x.shape[1]
            sums = _allreduce_sum(np.concatenate([sum_dy, sum_dy_xhat]), kw["group"])
            n = kw["count"]
            scale = invstd if weight is None else invstd * weight.data.astype(F64)
            gx = (g - (sums[:c] / n).reshape(cs) - xhat * (sums[c:] / n).reshape(cs)) \
                * scale.reshape(cs)
            gx = Tensor._make(gx.astype(x.dtype))
        pdt = x.dtype if weight is None else weight.dtype
        return (gx,
                Tensor._make(sum_dy_xhat.astype(pdt)) if need_w else None,
                Tensor._make(sum_dy.astype(pdt)) if need_b else None)


def _composed_backward(gy, x, weight, count, eps, group, need_x, need_w, need_b):
    """The training-mode gradients in recorded ops: the statistics are recomputed from ``x`` with
    differentiable all-reduces, so a second derivative sees every rank's batch."""
    axes = (0, *range(2, x.ndim))
    cs = _cshape(x.ndim, x.shape[1])
    mu = AllReduceSumFn.apply(x.sum(axis=axes, keepdims=True), group=group) / count
    xc = x - mu
    var = AllReduceSumFn.apply((xc * xc).sum(axis=axes, keepdims=True), group=group) / count
    invstd = (var + eps) ** -0.5
    xhat = xc * invstd
    gx = gw = gb = None
    if need_x:
        scale = invstd if weight is None else invstd * weight.reshape(*cs)
        mean_dy = AllReduceSumFn.apply(gy.sum(axis=axes, keepdims=True), group=group) / count
        mean_dy_xhat = AllReduceSumFn.apply((gy * xhat).sum(axis=axes, keepdims=True),
                                          group=group) / count
        gx = scale * (gy - mean_dy - xhat * mean_dy_xhat)
    if need_w:
        gw = (gy * xhat).sum(axis=axes)
    if need_b:
        gb = gy.sum(axis=axes)
    return gx, gw, gb


def sync_batch_norm(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    momentum: float = 0.1,
    eps: float = 1e-5,
    group: Any = None,
) -> Tensor:
    """Training-mode batch normalisation with statistics over the batches of every rank.

    input: (N, C, *) (this rank's part of the batch; ranks may hold different N); running stats,
    weight, bias: (C,). The per-channel count, sum and sum of squares are summed over ranks in
    one all-reduce (float64 accumulation: the variance E[x^2] - E[x]^2 loses about
    log10(1 + mean^2 / var) of float64's 16 digits); the running stats, given, are updated in
    place as ``batch_norm`` does, with the unbiased variance of the whole global batch.
    """
    op = "sync_batch_norm"
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    x = input
    if x.dtype not in (np.float32, np.float64):
        raise TypeError(f"{op}: input must be float32 or float64, got {x.dtype}")
    if x.ndim < 2:
        raise ValueError(f"{op}: input must be (N, C) or (N, C, *), got shape {x.shape}")
    if eps <= 0:
        raise ValueError(f"{op}: eps must be positive, got {eps}")
    c = x.shape[1]
    rm, rv, w, b = (_as_param(op, n, v, c) for n, v in (("running_mean", running_mean),
                                                         ("running_var", running_var),
                                                         ("weight", weight), ("bias", bias)))
    group = _group(group)
    axes = (0, *range(2, x.ndim))
    xd = x.data.astype(F64)
    n_local = x.data.size // c if c else 0
    local = np.concatenate([xd.sum(axis=axes), (xd * xd).sum(axis=axes)])
    if group.size == 1:
        sums, count = local, n_local
    else:
        host = np.concatenate([_host(local), [float(n_local)]])
        host = _allreduce_sum(host, group)
        sums, count = _like(host[:-1], xd), int(round(host[-1]))
    if count <= 1:
        raise ValueError(f"{op}: expected more than 1 value per channel over all ranks when "
                         f"training, got {count} (input {x.shape} on this rank)")
    mean = sums[:c] / count
    var = sums[c:] / count - mean * mean
    var = np.maximum(var, 0.0)  # rounding can leave a tiny negative variance
    invstd = 1.0 / (var + eps) ** 0.5
    y = SyncBatchNormTrainFn.apply(x, w, b, mean=mean, invstd=invstd, count=count,
                                 eps=float(eps), group=group)
    if rm is not None:
        rm.data[...] = (1 - momentum) * rm.data + momentum * mean.astype(rm.dtype)
    if rv is not None:
        unbiased = var * (count / (count - 1))
        rv.data[...] = (1 - momentum) * rv.data + momentum * unbiased.astype(rv.dtype)
    return y
