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

from minigrad._device import device_of
from minigrad.autograd import Function, is_grad_enabled
from minigrad.ops._args import float_tensor, positive, real
from minigrad.ops.kernels import kernels_for
from minigrad.tensor import Tensor

__all__ = ["batch_norm"]


class BatchNormTrainFn(Function):
    """y = (x - mean) * invstd * w + b with batch statistics; x: (N, C, *), w, b: (C,) or None."""

    kinks = "a constant channel (variance 0): gradients scale like 1/sqrt(eps)"

    @staticmethod
    def forward(ctx, x, weight, bias, *, mean, invstd, eps):
        ctx.save_for_backward(x, weight)
        ctx.stats = (mean, invstd, eps)
        w = None if weight is None else weight.data
        b = None if bias is None else bias.data
        return kernels_for(x.data).norm.batch_norm_forward(x.data, mean, invstd, w, b)

    @staticmethod
    def backward(ctx, gy):
        x, weight = ctx.saved_tensors
        mean, invstd, eps = ctx.stats
        need_x, need_w, need_b = ctx.needs_input_grad
        if not is_grad_enabled():
            pdt = x.dtype if weight is None else weight.dtype
            gx, gw, gb = kernels_for(x.data).norm.batch_norm_backward(
                gy.data.astype(x.dtype, copy=False), x.data, mean, invstd,
                None if weight is None else weight.data, pdt)
            return (
                Tensor._make(gx) if need_x else None,
                Tensor._make(gw) if need_w else None,
                Tensor._make(gb) if need_b else None,
            )
        return _composed_backward(gy, x, weight, eps, need_x, need_w, need_b)


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
    """Normalize each channel (axis 1) of ``input`` ``(N, C, *)``; apply ``weight``, ``bias`` (C,).

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
    for name, r in (("running_mean", rm), ("running_var", rv)):
        if r is not None and device_of(r.data) != device_of(x.data):
            dev = device_of(x.data)
            raise ValueError(f"{op}: {name} is on the {device_of(r.data)} but input {x.shape} "
                             f"is on {dev}; move the running statistics with .{dev}() (they "
                             "are updated in place)")
    # one pass: the statistics, and the running statistics updated in place
    mean, invstd = kernels_for(x.data).norm.batch_stats(
        x.data, float(eps), None if rm is None else rm.data, None if rv is None else rv.data,
        float(momentum))
    return BatchNormTrainFn.apply(x, w, b, mean=mean, invstd=invstd, eps=float(eps))


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
