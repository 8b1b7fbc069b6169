"""Batch normalization: ``batch_norm`` with PyTorch's functional signature and semantics.

Training mode normalizes with the batch statistics (biased variance) and, when running stats are
given, updates them in place: ``running = (1 - momentum) * running + momentum * stat`` with the
UNBIASED batch variance for ``running_var``, as PyTorch does. Evaluation mode uses the running
statistics and is a per-channel affine map composed from Tensor ops.

Training-mode gradients come from one fused kernel pass. When the backward itself is recorded
(``create_graph=True``), the same formula is evaluated with Tensor ops instead, recomputing the
batch statistics from ``x`` so that they are differentiated too; the two paths agree (tested).

Shapes: input (N, C) or (N, C, *); running stats, weight, bias (C,).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minigrad._device import is_cuda
from minigrad.autograd import Function, is_grad_enabled
from minigrad.ops._args import float_tensor, positive, real
from minigrad.ops.kernels.cpu import norm as K
from minigrad.tensor import Tensor

__all__ = ["batch_norm"]


class BatchNormTrainFn(Function):
    """y = (x - mean) * invstd * w + b with batch statistics; x: (N, C, *), w, b: (C,) or None."""

    kinks = "a constant channel (variance 0): gradients scale like 1/sqrt(eps)"

    @staticmethod
    def forward(ctx, x, weight, bias, *, mean, invstd, eps):
        if is_cuda(x.data):
            return _forward_cuda(ctx, x, weight, bias, mean, invstd, eps)
        c = x.shape[1]
        w = np.ones(c) if weight is None else weight.data.astype(np.float64)
        b = np.zeros(c) if bias is None else bias.data.astype(np.float64)
        ctx.save_for_backward(x, weight)
        ctx.stats = (mean, invstd, eps)
        return K.batch_norm_forward(x.data, mean, invstd, w, b)

    @staticmethod
    def backward(ctx, gy):
        x, weight = ctx.saved_tensors
        mean, invstd, eps = ctx.stats
        need_x, need_w, need_b = ctx.needs_input_grad
        if not is_grad_enabled() and is_cuda(x.data):
            return _backward_cuda(gy, x, weight, mean, invstd, need_x, need_w, need_b)
        if not is_grad_enabled():
            w = np.ones(x.shape[1]) if weight is None else weight.data.astype(np.float64)
            gx, gw, gb = K.batch_norm_backward(gy.data, x.data, mean, invstd, w)
            pdt = x.dtype if weight is None else weight.dtype
            return (
                Tensor._make(gx) if need_x else None,
                Tensor._make(gw.astype(pdt)) if need_w else None,
                Tensor._make(gb.astype(pdt)) if need_b else None,
            )
        return _composed_backward(gy, x, weight, eps, need_x, need_w, need_b)


# GPU paths: minigrad.ops.kernels.cuda.norm on CudaArrays; statistics stay on the device


def _forward_cuda(ctx, x, weight, bias, mean, invstd, eps):
    from minigrad.ops.kernels.cuda import norm as G
    from minigrad.ops.kernels.cuda._common import from_device

    ctx.save_for_backward(x, weight)
    ctx.stats = (mean, invstd, eps)
    w = None if weight is None else weight.data
    b = None if bias is None else bias.data
    return from_device(G.batch_norm_forward(x.data, mean, invstd, w, b))


def _backward_cuda(gy, x, weight, mean, invstd, need_x, need_w, need_b):
    from minigrad.ops.kernels.cuda import norm as G
    from minigrad.ops.kernels.cuda._common import from_device

    pdt = x.dtype if weight is None else weight.dtype
    g = gy.data.astype(x.dtype, copy=False)
    gx, gw, gb = G.batch_norm_backward(g, x.data, mean, invstd,
                                       None if weight is None else weight.data, pdt)
    return (
        Tensor._make(from_device(gx)) if need_x else None,
        Tensor._make(from_device(gw)) if need_w else None,
        Tensor._make(from_device(gb)) if need_b else None,
    )


def _batch_norm_train_cuda(x, rm, rv, w, b, momentum, eps):
    """Training-mode batch norm on the GPU: one kernel computes the statistics and updates the
    running statistics in place; the normalisation is a second."""
    from minigrad.ops.kernels.cuda import norm as G
    from minigrad.ops.kernels.cuda._common import from_device

    for name, r in (("running_mean", rm), ("running_var", rv)):
        if r is not None and not is_cuda(r.data):
            raise ValueError(f"batch_norm: {name} is on the cpu but input {x.shape} is on cuda; "
                             "move the running statistics with .cuda() (they are updated in "
                             "place)")
    mean, invstd = G.batch_stats(x.data, float(eps), None if rm is None else rm.data,
                                 None if rv is None else rv.data, float(momentum))
    return BatchNormTrainFn.apply(x, w, b, mean=from_device(mean), invstd=from_device(invstd),
                                eps=float(eps))


def _channel_shape(x: Tensor) -> tuple[int, ...]:
    return (1, x.shape[1]) + (1,) * (x.ndim - 2)


def _composed_backward(gy, x, weight, eps, need_x, need_w, need_b):
    """The training-mode gradients written with Tensor ops (differentiable again)."""
    axes = (0, *range(2, x.ndim))
    cs = _channel_shape(x)
    mu = x.mean(axis=axes, keepdims=True)
    xc = x - mu
    invstd = ((xc * xc).mean(axis=axes, keepdims=True) + eps) ** -0.5
    xhat = xc * invstd
    gx = gw = gb = None
    if need_x:
        scale = invstd if weight is None else invstd * weight.reshape(*cs)
        gx = scale * (
            gy
            - gy.mean(axis=axes, keepdims=True)
            - xhat * (gy * xhat).mean(axis=axes, keepdims=True)
        )
    if need_w:
        gw = (gy * xhat).sum(axis=axes)
    if need_b:
        gb = gy.sum(axis=axes)
    return gx, gw, gb


def _as_param(op: str, name: str, v: Any, c: int) -> Tensor | None:
    """A per-channel statistic or parameter: None, or a float (C,) Tensor."""
    if v is None:
        return None
    v = float_tensor(op, name, v)
    if v.shape != (c,):
        raise ValueError(f"{op}: {name} must have shape ({c},) for {c} channels, got {v.shape}")
    return v


def batch_norm(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalize each channel (axis 1) of ``input`` (N, C, *) and apply ``weight``/``bias`` (C,).

    training=True: batch mean and biased variance; running stats (if given) are updated in place
    with the unbiased variance. training=False: running stats are required and used.
    """
    op = "batch_norm"
    x = float_tensor(op, "input", input)
    if x.ndim < 2:
        raise ValueError(f"{op}: input must be (N, C) or (N, C, *), got shape {x.shape}")
    c = x.shape[1]
    rm = _as_param(op, "running_mean", running_mean, c)
    rv = _as_param(op, "running_var", running_var, c)
    w = _as_param(op, "weight", weight, c)
    b = _as_param(op, "bias", bias, c)
    momentum = real(op, "momentum", momentum)
    eps = positive(op, "eps", eps)
    count = x.data.size // c if c else 0
    if not training:
        if rm is None or rv is None:
            raise ValueError(f"{op}: running_mean and running_var are required when training=False")
        return _eval(x, rm, rv, w, b, eps)
    if count <= 1:
        raise ValueError(
            f"{op}: expected more than 1 value per channel when training, got input shape {x.shape}"
        )
    if is_cuda(x.data):
        return _batch_norm_train_cuda(x, rm, rv, w, b, momentum, eps)
    mean, var = K.batch_stats(x.data)
    invstd = 1.0 / np.sqrt(var + eps)
    y = BatchNormTrainFn.apply(x, w, b, mean=mean, invstd=invstd, eps=float(eps))
    if rm is not None:
        rm.data[...] = (1 - momentum) * rm.data + momentum * mean
    if rv is not None:
        rv.data[...] = (1 - momentum) * rv.data + momentum * var * (count / (count - 1))
    return y


def _eval(
    x: Tensor, rm: Tensor, rv: Tensor, w: Tensor | None, b: Tensor | None, eps: float
) -> Tensor:
    cs = _channel_shape(x)
    invstd = (1.0 / np.sqrt(rv.data.astype(np.float64) + eps)).astype(x.dtype)
    y = (x - Tensor._make(rm.data.astype(x.dtype).reshape(cs))) * Tensor._make(invstd.reshape(cs))
    if w is not None:
        y = y * w.reshape(*cs)
    if b is not None:
        y = y + b.reshape(*cs)
    return y
