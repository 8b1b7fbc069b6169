"""Normalization ops with PyTorch's functional signatures and semantics: ``batch_norm``,
``instance_norm``, ``layer_norm``, ``group_norm``, ``rms_norm``.

Batch norm: training mode normalizes with the batch statistics (biased variance) and, when running
stats are given, updates them in place: ``running = (1 - momentum) * running + momentum * stat``
with the UNBIASED batch variance for ``running_var``, as PyTorch does. Evaluation mode uses the
running statistics and is a per-channel affine map composed from Tensor ops. Instance norm is
batch norm of the input seen as one sample with N*C channels (as PyTorch computes it).

Layer norm and group norm normalise rows of contiguous elements (the trailing
``normalized_shape`` axes; each sample's group of channels) with fused kernels
(``kernels/{cpu,cuda}/norm.py``; statistics in float64). RMS norm is a composition of
Tensor ops.

Training-mode batch norm, layer norm and group norm get their gradients from one fused kernel
pass. When the backward itself is recorded (``create_graph=True``), the same formula is evaluated
with Tensor ops instead, recomputing the statistics from ``x`` so that they are differentiated
too; the two paths agree (tested).

Shapes: batch/instance/group norm input (N, C) or ``(N, C, *)``, per-channel tensors (C,); layer and
RMS norm input ``(*, *normalized_shape)``, weight and bias ``normalized_shape``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from minigrad import _device
from minigrad._device import device_of
from minigrad.autograd import Function, is_grad_enabled
from minigrad.ops._args import float_tensor, int_tuple, integer, positive, real
from minigrad.ops.kernels import kernels_for
from minigrad.tensor import Tensor

__all__ = ["batch_norm", "instance_norm", "layer_norm", "group_norm", "rms_norm"]


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


# ------------------------------------------------------------------------------------------------
# instance norm: batch norm of (1, N*C, *)


def instance_norm(
    input: Tensor,
    running_mean: Tensor | None = None,
    running_var: Tensor | None = None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    use_input_stats: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalize each channel of each sample of ``input: (N, C, *)`` over its spatial axes, then
    apply ``weight``/``bias`` (C,).

    ``use_input_stats=True``: each (sample, channel)'s own mean and biased variance; running
    stats (C,), if given, are updated in place with the average over the batch of the
    per-sample statistics (unbiased variance), as PyTorch does. ``use_input_stats=False``: the
    running stats are used. Computed as PyTorch computes it: batch norm of the input reshaped to
    ``(1, N*C, *)``.
    """
    op = "instance_norm"
    x = float_tensor(op, "input", input)
    if x.ndim < 3:
        raise ValueError(f"{op}: input must be (N, C, *) with at least one spatial axis, got "
                         f"shape {x.shape}")
    n, c = x.shape[:2]
    rm = _as_param(op, "running_mean", running_mean, c)
    rv = _as_param(op, "running_var", running_var, c)
    w = _as_param(op, "weight", weight, c)
    b = _as_param(op, "bias", bias, c)
    spatial = x.data.size // max(1, n * c)
    if use_input_stats and spatial <= 1:
        raise ValueError(f"{op}: expected more than 1 spatial element when training, got input "
                         f"shape {x.shape}")
    if not use_input_stats and (rm is None or rv is None):
        raise ValueError(f"{op}: running_mean and running_var are required when "
                         "use_input_stats=False")

    def per_sample(t: Tensor | None) -> Tensor | None:  # (C,) -> (N*C,), differentiable
        return None if t is None else t.reshape(1, c).expand(n, c).reshape(n * c)

    def tiled(t: Tensor | None) -> Tensor | None:  # a running stat repeated N times (a copy)
        if t is None:
            return None
        return Tensor._make((_device.zeros((n, c), t.dtype, like=t.data)
                             + t.data.reshape(1, c)).reshape(n * c))

    rm_rep, rv_rep = tiled(rm), tiled(rv)
    y = batch_norm(x.reshape(1, n * c, *x.shape[2:]), rm_rep, rv_rep, per_sample(w),
                   per_sample(b), use_input_stats, momentum, eps)
    for r, rep in ((rm, rm_rep), (rv, rv_rep)):
        if r is not None:
            r.data[...] = rep.data.reshape(n, c).mean(axis=0)
    return y.reshape(*x.shape)


# ------------------------------------------------------------------------------------------------
# layer norm and group norm: fused row kernels


class _FusedNormFn(Function):
    """LayerNormFn and GroupNormFn: the forward kernel's statistics are saved with x and the
    weight; the backward runs the backward kernel (``_kernel_backward``: arrays in, the three
    gradients out, shaped as x, weight and bias), or while a graph is recorded
    (``create_graph=True``) ``_composed_backward`` in Tensor ops, differentiable again."""

    @staticmethod
    def _kernel_backward(gy, x, weight, geometry, mean, rstd, param_dtype):
        raise NotImplementedError

    @staticmethod
    def _composed_backward(gy, x, weight, geometry, eps, need_x, need_w, need_b):
        raise NotImplementedError

    @staticmethod
    def _save(ctx, x, weight, y, mean, rstd, geometry, eps):
        """Saves what backward needs; returns y shaped as x."""
        ctx.save_for_backward(x, weight)
        ctx.stats = (mean, rstd, geometry, eps)
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx, gy):
        x, weight = ctx.saved_tensors
        mean, rstd, geometry, eps = ctx.stats
        needs = ctx.needs_input_grad
        if is_grad_enabled():
            return type(ctx)._composed_backward(gy, x, weight, geometry, eps, *needs)
        grads = type(ctx)._kernel_backward(
            gy.data.astype(x.dtype, copy=False), x.data, None if weight is None else weight.data,
            geometry, mean, rstd, x.dtype if weight is None else weight.dtype)
        return tuple(Tensor._make(g) if need else None for g, need in zip(grads, needs))


class LayerNormFn(_FusedNormFn):
    """y = (x - mean) * rstd * w + b with each row's statistics. x: (*, *shape) seen as (M, D)
    rows, D = prod(shape) (``shape`` = normalized_shape); w, b: ``shape`` or None."""

    kinks = "a constant row (variance 0): gradients scale like 1/sqrt(eps)"

    @staticmethod
    def forward(ctx, x, weight, bias, *, shape, eps):
        d = int(np.prod(shape))
        xr = x.data.reshape(-1, d)
        w = None if weight is None else weight.data.reshape(d)
        b = None if bias is None else bias.data.reshape(d)
        y, mean, rstd = kernels_for(x.data).norm.layer_norm_forward(xr, w, b, eps)
        return LayerNormFn._save(ctx, x, weight, y, mean, rstd, shape, eps)

    @staticmethod
    def _kernel_backward(gy, x, weight, shape, mean, rstd, param_dtype):
        d = int(np.prod(shape))
        gx, gw, gb = kernels_for(x).norm.layer_norm_backward(
            gy.reshape(-1, d), x.reshape(-1, d), mean, rstd,
            None if weight is None else weight.reshape(d), param_dtype)
        return gx.reshape(x.shape), gw.reshape(shape), gb.reshape(shape)

    @staticmethod
    def _composed_backward(gy, x, weight, shape, eps, need_x, need_w, need_b):
        return _layer_norm_composed_backward(gy, x, weight, shape, eps, need_x, need_w, need_b)


def _row_norm_grads(g: Tensor, x: Tensor, eps: float) -> tuple[Tensor, Tensor]:
    """(gx, xhat) for normalising each row of x (R, K) into xhat, given the gradient g (R, K)
    with respect to xhat, in Tensor ops."""
    mu = x.mean(axis=1, keepdims=True)
    xc = x - mu
    rstd = ((xc * xc).mean(axis=1, keepdims=True) + eps) ** -0.5
    xhat = xc * rstd
    return rstd * (g - g.mean(axis=1, keepdims=True)
                   - xhat * (g * xhat).mean(axis=1, keepdims=True)), xhat


def _layer_norm_composed_backward(gy, x, weight, shape, eps, need_x, need_w, need_b):
    """The layer-norm gradients written with Tensor ops (differentiable again)."""
    d = int(np.prod(shape))
    g2 = gy.reshape(-1, d)
    gh = g2 if weight is None else g2 * weight.reshape(1, d)
    gx2, xhat = _row_norm_grads(gh, x.reshape(-1, d), eps)
    gx = gx2.reshape(*x.shape) if need_x else None
    gw = (g2 * xhat).sum(axis=0).reshape(*shape) if need_w else None
    gb = g2.sum(axis=0).reshape(*shape) if need_b else None
    return gx, gw, gb


def _affine_param(op: str, name: str, v: Any, shape: tuple[int, ...], x: Tensor
                  ) -> Tensor | None:
    """A weight or bias of ``shape`` with the input's dtype and device, or None."""
    if v is None:
        return None
    v = float_tensor(op, name, v)
    if v.shape != shape:
        raise ValueError(f"{op}: {name} must have shape {shape}, got {v.shape}")
    if v.dtype != x.dtype:
        raise TypeError(f"{op}: {name} dtype {v.dtype} does not match the input's {x.dtype}")
    return v


def _trailing_norm_args(op: str, input: Any, normalized_shape: int | Sequence[int],
                        weight: Any) -> tuple[Tensor, tuple[int, ...], Tensor | None]:
    """layer_norm's and rms_norm's checks: (x, normalized_shape as a tuple, weight or None),
    the input's trailing axes being normalized_shape."""
    x = float_tensor(op, "input", input)
    shape = int_tuple(op, "normalized_shape", normalized_shape, minimum=1)
    if not shape or x.ndim < len(shape) or x.shape[x.ndim - len(shape):] != shape:
        raise ValueError(f"{op}: given normalized_shape={list(shape)}, expected input with shape "
                         f"[*, {', '.join(map(str, shape))}], but got input of size {x.shape}")
    return x, shape, _affine_param(op, "weight", weight, shape, x)


def layer_norm(
    input: Tensor,
    normalized_shape: int | Sequence[int],
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalize ``input: (*, *normalized_shape)`` over its trailing ``normalized_shape`` axes
    (mean and biased variance of each such slice), then ``* weight + bias`` (both of shape
    ``normalized_shape``, or None).

    ``y = (x - mean) / sqrt(var + eps) * weight + bias``. Statistics in float64 (one fused
    kernel); output in the input's dtype. weight and bias must have the input's dtype.
    """
    op = "layer_norm"
    x, shape, w = _trailing_norm_args(op, input, normalized_shape, weight)
    b = _affine_param(op, "bias", bias, shape, x)
    eps = positive(op, "eps", eps)
    return LayerNormFn.apply(x, w, b, shape=shape, eps=eps)


class GroupNormFn(_FusedNormFn):
    """Group norm: ``x: (N, C, *)`` with C = groups * C/G; each sample's group of C/G channels is
    normalised with its own statistics, then ``* w[c] + b[c]``; w, b: (C,) or None."""

    kinks = "a constant group (variance 0): gradients scale like 1/sqrt(eps)"

    @staticmethod
    def forward(ctx, x, weight, bias, *, groups, eps):
        n, c = x.shape[:2]
        xr = x.data.reshape(n, c, -1)
        y, mean, rstd = kernels_for(x.data).norm.group_norm_forward(
            xr, groups, None if weight is None else weight.data,
            None if bias is None else bias.data, eps)
        return GroupNormFn._save(ctx, x, weight, y, mean, rstd, groups, eps)

    @staticmethod
    def _kernel_backward(gy, x, weight, groups, mean, rstd, param_dtype):
        n, c = x.shape[:2]
        gx, gw, gb = kernels_for(x).norm.group_norm_backward(
            gy.reshape(n, c, -1), x.reshape(n, c, -1), groups, mean, rstd, weight, param_dtype)
        return gx.reshape(x.shape), gw, gb

    @staticmethod
    def _composed_backward(gy, x, weight, groups, eps, need_x, need_w, need_b):
        return _group_norm_composed_backward(gy, x, weight, groups, eps, need_x, need_w, need_b)


def _group_norm_composed_backward(gy, x, weight, groups, eps, need_x, need_w, need_b):
    """The group-norm gradients written with Tensor ops (differentiable again)."""
    n, c = x.shape[:2]
    cs = _channel_shape(x)
    axes = (0, *range(2, x.ndim))
    gh = gy if weight is None else gy * weight.reshape(*cs)
    gxr, xhat = _row_norm_grads(gh.reshape(n * groups, -1), x.reshape(n * groups, -1), eps)
    gx = gxr.reshape(*x.shape) if need_x else None
    gw = (gy * xhat.reshape(*x.shape)).sum(axis=axes) if need_w else None
    gb = gy.sum(axis=axes) if need_b else None
    return gx, gw, gb


def group_norm(
    input: Tensor,
    num_groups: int,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Split the C channels of ``input: (N, C, *)`` into ``num_groups`` groups of C/G
    consecutive channels and normalize each sample's group (mean and biased variance over its
    C/G channels and spatial axes), then ``* weight + bias`` per channel ((C,) each, or None).

    C must be divisible by ``num_groups``. Statistics in float64 (one fused kernel).
    """
    op = "group_norm"
    x = float_tensor(op, "input", input)
    if x.ndim < 2:
        raise ValueError(f"{op}: input must be (N, C) or (N, C, *), got shape {x.shape}")
    groups = integer(op, "num_groups", num_groups, minimum=1)
    c = x.shape[1]
    if c % groups:
        raise ValueError(f"{op}: expected the number of channels of input {x.shape} ({c}) to be "
                         f"divisible by num_groups={groups}")
    w = _affine_param(op, "weight", weight, (c,), x)
    b = _affine_param(op, "bias", bias, (c,), x)
    eps = positive(op, "eps", eps)
    return GroupNormFn.apply(x, w, b, groups=groups, eps=eps)


def rms_norm(
    input: Tensor,
    normalized_shape: int | Sequence[int],
    weight: Tensor | None = None,
    eps: float | None = None,
) -> Tensor:
    """Root-mean-square normalization over the trailing ``normalized_shape`` axes:
    ``y = x / sqrt(mean(x^2) + eps) * weight``. ``input: (*, *normalized_shape)``; weight of shape
    ``normalized_shape`` or None; ``eps=None`` is the machine epsilon of the input's dtype (as
    PyTorch). A composition of Tensor ops (differentiable to any order).
    """
    op = "rms_norm"
    x, shape, w = _trailing_norm_args(op, input, normalized_shape, weight)
    eps = float(np.finfo(x.dtype).eps) if eps is None else positive(op, "eps", eps)
    axes = tuple(range(x.ndim - len(shape), x.ndim))
    y = x * ((x * x).mean(axis=axes, keepdims=True) + eps) ** -0.5
    return y if w is None else y * w
