"""Fused layer + bias + ReLU, the way oneDNN applies post-ops: ``conv2d_relu``,
``conv2d_relu_max_pool2d`` (LeNet's conv -> ReLU -> max-pool) and ``linear_relu``.

    Conv2dReluFn           y = relu(conv2d(x, w) + b)     x: (N, C, H, W), w: (K, C//groups, R, S)
    Conv2dReluMaxPool2dFn  p = max_pool2d(relu(conv2d(x, w) + b))
    LinearReluFn           y = relu(x @ w.T + b)          x: (M, in), w: (out, in)

Forward: the layer's product (the conv kernels add the bias inside the product; the linear layer
is one GEMM), then ReLU (with the linear bias) in one pass *in place* over that output, where the
unfused chain fills a second array (two for the linear layer: ``+ b``, then relu) and records
two or three graph nodes instead of one.

Backward: ``gz = gy * relu'(y)``, the mask read from the saved *output*: ``relu'(y) = relu'(x)``
for every x (``y <= 0`` exactly where ``x <= 0``, and a NaN passes both), so the pre-activation is
never kept. ``gz`` is the activation's own gradient op (:class:`ActivationGradFn`) on ``y``, then
the layer's backward: the conv Functions of :mod:`minigrad.ops.conv`, or two matrix products.
Everything in the backward is a Function or a Tensor op, so ``create_graph=True`` differentiates
it again (ReLU's second derivative is 0 away from its kink, where the mask is constant).

With the max-pool, the ReLU is applied as the pooling kernel reads the convolution's output (2x2
windows; other windows after an in-place ReLU pass), and the backward masks the *pooled*
gradient (``relu'`` of the pooled value is ``relu'`` at its argmax), then scatters it to the
argmax positions: one pass over the small pooled planes instead of one over the conv output.

The values are the unfused composition's bit for bit (the same kernels in the same order; behind
the max-pool, masking before the scatter can turn a -0.0 gradient into +0.0).
``nn.Sequential`` calls these for a ``Conv2d``/``Linear`` followed by ``ReLU`` when nothing could
observe the difference (see :class:`minigrad.nn.Sequential`).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from minigrad.autograd import Function
from minigrad.ops._args import conv_output_size, float_tensor, ntuple
from minigrad.ops.activation import ActivationGradFn
from minigrad.ops.conv import (
    _batched,
    _check_bias,
    _check_conv_args,
    _check_geometry,
    _common_dtype,
    _conv2d_grads,
    _padding,
)
from minigrad.ops.kernels import kernels_for
from minigrad.ops.linalg import MatMulFn, _check_linear
from minigrad.ops.pool import PlaneScatterFn, _windows
from minigrad.tensor import Tensor

__all__ = ["conv2d_relu", "conv2d_relu_max_pool2d", "linear_relu", "Conv2dReluFn",
           "Conv2dReluMaxPool2dFn", "LinearReluFn"]

_KINKS = "conv2d/linear output = 0: gradient 0 (relu'(0) = 0, as PyTorch)"


def _relu_grad(gy: Tensor, y: Tensor) -> Tensor:
    """``gy * relu'(y)``: relu's gradient op, its mask read from the fused op's output."""
    return ActivationGradFn.apply(gy, y, name="relu", a=0.0, b=0.0)


class Conv2dReluFn(Function):
    """y = relu(x (*) w + b). x: (N, C, H, W), w: (K, C//groups, R, S), b: (K,) or None."""

    kinks = _KINKS

    @staticmethod
    def forward(ctx, x, w, b, *, stride, padding, dilation, groups):
        k = kernels_for(x.data)
        y = k.conv.conv2d_forward(x.data, w.data, stride, padding, dilation, groups,
                                  bias=None if b is None else b.data)
        y = k.fused.relu_(y)
        ctx.save_for_backward(x, w, y)
        ctx.geometry = (stride, padding, dilation, groups)
        return y

    @staticmethod
    def backward(ctx, gy):
        x, w, y = ctx.saved_tensors
        return _conv2d_grads(ctx, x, w, _relu_grad(gy, y))


class Conv2dReluMaxPool2dFn(Function):
    """p = max_pool2d(relu(x (*) w + b)). x: (N, C, H, W), w: (K, C//groups, R, S), b: (K,) or
    None; ``pool`` = (kernel, stride, padding, dilation, ceil_mode) of the max-pool."""

    kinks = (_KINKS + "; ties in a pooling window: the first maximum (row-major) takes the "
             "gradient")

    @staticmethod
    def forward(ctx, x, w, b, *, stride, padding, dilation, groups, pool):
        k = kernels_for(x.data)
        y = k.conv.conv2d_forward(x.data, w.data, stride, padding, dilation, groups,
                                  bias=None if b is None else b.data)
        p, idx = k.fused.relu_max_pool2d(y, *pool)
        ctx.save_for_backward(x, w, p, idx)
        ctx.geometry = (stride, padding, dilation, groups)
        ctx.conv_hw = y.shape[2:]
        return p

    @staticmethod
    def backward(ctx, gp):
        x, w, p, idx = ctx.saved_tensors
        gz = PlaneScatterFn.apply(_relu_grad(gp, p), idx, plane_hw=ctx.conv_hw)
        return _conv2d_grads(ctx, x, w, gz)


class LinearReluFn(Function):
    """y = relu(x @ w.T + b). x: (M, in), w: (out, in), b: (out,) or None; y: (M, out)."""

    kinks = _KINKS

    @staticmethod
    def forward(ctx, x, w, b):
        y = x.data @ w.data.T
        y = kernels_for(y).fused.bias_relu_(y, None if b is None else b.data)
        ctx.save_for_backward(x, w, y)
        return y

    @staticmethod
    def backward(ctx, gy):
        x, w, y = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad
        gz = _relu_grad(gy, y)
        # LinearFn's products, in its order (so the same rounding as the unfused layers)
        gx = MatMulFn.apply(gz, w) if need_x else None
        gw = MatMulFn.apply(gz.T, x) if need_w else None
        gb = gz.sum(axis=0) if need_b else None
        return gx, gw, gb


def _conv_args(op: str, input: Any, weight: Any, bias: Any, stride: Any, padding: Any,
               dilation: Any, groups: Any) -> tuple[Tensor, Tensor, Tensor | None, bool,
                                                   dict[str, Any]]:
    """conv2d's argument checks under ``op``'s name: (x, w, b, unbatched, geometry kwargs)."""
    x = float_tensor(op, "input", input)
    w = float_tensor(op, "weight", weight)
    x, unbatched = _batched(op, x, 4)
    groups = _check_conv_args(op, x, w, groups, 2)
    stride = ntuple(op, "stride", stride, 2, minimum=1)
    dilation = ntuple(op, "dilation", dilation, 2, minimum=1)
    pads = _padding(op, padding, w.shape[2:], stride, dilation)
    _check_geometry(op, x.shape, w.shape, pads, dilation)
    b = _check_bias(op, bias, w.shape[0], np.result_type(x.dtype, w.dtype))
    x, w = _common_dtype(x, w)
    return x, w, b, unbatched, dict(stride=stride, padding=pads, dilation=dilation, groups=groups)


def conv2d_relu(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
                dilation: Any = 1, groups: int = 1) -> Tensor:
    """``relu(conv2d(input, weight, bias, ...))`` as one op (one graph node, ReLU applied in
    place over the convolution's output).

    Args:
        input: (N, C, H, W) or unbatched (C, H, W).
        weight: (K, C // groups, R, S).
        bias: (K,) or None.
        stride: as :func:`minigrad.nn.functional.conv2d`.
        padding: as :func:`minigrad.nn.functional.conv2d` (int, pair, ``'valid'``, ``'same'``,
            ``'full'``).
        dilation: as :func:`minigrad.nn.functional.conv2d`.
        groups: as :func:`minigrad.nn.functional.conv2d`.

    Returns:
        (N, K, OH, OW), equal to the unfused composition bit for bit.
    """
    x, w, b, unbatched, geo = _conv_args("conv2d_relu", input, weight, bias, stride, padding,
                                         dilation, groups)
    y = Conv2dReluFn.apply(x, w, b, **geo)
    return y.reshape(*y.shape[1:]) if unbatched else y


@functools.lru_cache(maxsize=256)
def _pool_args(shape: tuple[int, ...], kernel_size: Any, stride: Any, padding: Any,
               dilation: Any, ceil_mode: bool) -> tuple[Any, ...]:
    """max_pool2d's argument checks for an input of ``shape`` (the convolution's output): its
    (kernel, stride, padding, dilation, ceil_mode). Cached: a model checks the same few
    geometries every step (an error is raised every time, never cached)."""
    dummy = Tensor._make(np.broadcast_to(np.zeros((), np.float32), shape))
    _, _, k, s, p, d = _windows("conv2d_relu_max_pool2d", 2, dummy, kernel_size, stride,
                                padding, dilation, ceil_mode)
    return k, s, p, d, ceil_mode


def conv2d_relu_max_pool2d(input: Any, weight: Any, bias: Any = None, stride: Any = 1,
                           padding: Any = 0, dilation: Any = 1, groups: int = 1, *,
                           pool_kernel_size: Any = 2, pool_stride: Any = None,
                           pool_padding: Any = 0, pool_dilation: Any = 1,
                           ceil_mode: bool = False) -> Tensor:
    """``max_pool2d(relu(conv2d(input, weight, bias, ...)), pool_kernel_size, ...)`` as one op.

    Args:
        input: (N, C, H, W) or unbatched (C, H, W).
        weight: (K, C // groups, R, S).
        bias: (K,) or None.
        stride: the convolution's, as :func:`minigrad.nn.functional.conv2d`.
        padding: the convolution's.
        dilation: the convolution's.
        groups: the convolution's.
        pool_kernel_size: the max-pool's ``kernel_size``, as
            :func:`minigrad.nn.functional.max_pool2d`.
        pool_stride: the max-pool's ``stride`` (None: its kernel size).
        pool_padding: the max-pool's ``padding``.
        pool_dilation: the max-pool's ``dilation``.
        ceil_mode: the max-pool's ``ceil_mode``.

    Returns:
        (N, K, PH, PW), equal to the unfused composition bit for bit.
    """
    op = "conv2d_relu_max_pool2d"
    x, w, b, unbatched, geo = _conv_args(op, input, weight, bias, stride, padding, dilation,
                                         groups)
    pads = geo["padding"]
    oh, ow = (conv_output_size(x.shape[2 + a], w.shape[2 + a], geo["stride"][a],
                               (pads[2 * a], pads[2 * a + 1]), geo["dilation"][a])
              for a in (0, 1))
    args = ((x.shape[0], w.shape[0], oh, ow), pool_kernel_size, pool_stride, pool_padding,
            pool_dilation, bool(ceil_mode))
    try:
        pool = _pool_args(*args)
    except TypeError:  # unhashable (lists): checked without the cache
        pool = _pool_args.__wrapped__(*args)
    y = Conv2dReluMaxPool2dFn.apply(x, w, b, pool=pool, **geo)
    return y.reshape(*y.shape[1:]) if unbatched else y


def linear_relu(input: Any, weight: Any, bias: Any = None) -> Tensor:
    """``relu(linear(input, weight, bias))`` as one op: one GEMM, then bias and ReLU in one pass.

    Args:
        input: (\\*, in_features).
        weight: (out_features, in_features).
        bias: (out_features,) or None.

    Returns:
        (\\*, out_features), equal to the unfused composition bit for bit.
    """
    op = "linear_relu"
    x = float_tensor(op, "input", input)
    w = float_tensor(op, "weight", weight)
    b = None if bias is None else float_tensor(op, "bias", bias)
    _check_linear(op, x, w, b)
    ts = _common_dtype(x, w) if b is None else _common_dtype(x, w, b)
    x, w, b = ts[0], ts[1], (ts[2] if b is not None else None)
    if x.ndim == 2:
        return LinearReluFn.apply(x, w, b)
    y = LinearReluFn.apply(x.reshape(-1, x.shape[-1]), w, b)
    return y.reshape(*x.shape[:-1], w.shape[0])
