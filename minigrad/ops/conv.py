"""Convolutions: ``conv2d``, ``conv1d``, ``conv_transpose2d``, ``conv_transpose1d`` (PyTorch
names, arguments, layouts).

Three Functions, each the others' derivative, so gradients of gradients work
(``create_graph=True``):

    Conv2dFn            y  = conv(x, w) + b     dx = ConvTranspose2dFn(gy, w)
                                                dw = Conv2dWeightGradFn(x, gy),  db = sum gy
    ConvTranspose2dFn   z  = conv^T(g, w)       dg = Conv2dFn(gz, w)
                                                dw = Conv2dWeightGradFn(gz, g)
    Conv2dWeightGradFn  gw = corr(x, g)         dx = ConvTranspose2dFn(g, ggw)
                                                dg = Conv2dFn(x, ggw)

All three are bilinear, which is why the set closes. The kernels live in
:mod:`minigrad.ops.kernels.cpu.conv` and :mod:`minigrad.ops.kernels.cuda.conv` (``kernels_for``
picks the one for the input's device).

Shapes: input (N, C, H, W) (or unbatched (C, H, W)), weight (K, C // groups, R, S),
output (N, K, OH, OW) with ``OH = conv_output_size(H, R, stride, padding, dilation)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minigrad.autograd import Function
from minigrad.ops._args import (
    conv_output_size,
    conv_transpose_output_size,
    float_tensor,
    integer,
    ntuple,
    padding_pairs,
    plain,
)
from minigrad.ops.kernels import kernels_for
from minigrad.tensor import Tensor

__all__ = ["conv2d", "conv1d", "conv_transpose2d", "conv_transpose1d", "conv_output_size",
           "Conv2dFn", "ConvTranspose2dFn", "Conv2dWeightGradFn"]

Pair = tuple[int, int]
Quad = tuple[int, int, int, int]


# ------------------------------------------------------------------------------------------------
# Functions (forward on arrays, backward through each other)


class Conv2dFn(Function):
    """y = x (*) w + b. x: (N, C, H, W), w: (K, C//groups, R, S), b: (K,) or None."""

    kinks = "none: bilinear in input and weight, linear in bias"

    @staticmethod
    def forward(ctx, x, w, b, *, stride: Pair, padding: Quad, dilation: Pair, groups: int):
        ctx.save_for_backward(x, w)
        ctx.geometry = (stride, padding, dilation, groups)
        bias = None if b is None else b.data
        return kernels_for(x.data).conv.conv2d_forward(x.data, w.data, stride, padding, dilation,
                                                       groups, bias=bias)

    @staticmethod
    def backward(ctx, gy):
        x, w = ctx.saved_tensors
        return _conv2d_grads(ctx, x, w, gy)


class ConvTranspose2dFn(Function):
    """z = conv2d's input gradient: g (N, K, OH, OW), w (K, C//groups, R, S) -> (N, C, H, W).

    This is also conv_transpose2d's forward (its weight layout (C_in, C_out//groups, R, S) is
    exactly conv2d's (K, C//groups, R, S)).
    """

    @staticmethod
    def forward(ctx, g, w, *, input_hw: Pair, stride: Pair, padding: Quad, dilation: Pair,
                groups: int):
        ctx.save_for_backward(g, w)
        ctx.geometry = (stride, padding, dilation, groups)
        return kernels_for(g.data).conv.conv2d_grad_input(g.data, w.data, tuple(input_hw), stride,
                                                          padding, dilation, groups)

    @staticmethod
    def backward(ctx, gz):
        g, w = ctx.saved_tensors
        need_g, need_w = ctx.needs_input_grad
        gg = _conv_like(g, gz, w, _geo(ctx)) if need_g else None
        gw = Conv2dWeightGradFn.apply(gz, g, kernel_hw=w.shape[2:], **_geo(ctx)) if need_w else None
        return gg, gw


class Conv2dWeightGradFn(Function):
    """gw = conv2d's weight gradient: x (N, C, H, W), g (N, K, OH, OW) -> (K, C//groups, R, S)."""

    @staticmethod
    def forward(ctx, x, g, *, kernel_hw: Pair, stride: Pair, padding: Quad, dilation: Pair,
                groups: int):
        ctx.save_for_backward(x, g)
        ctx.geometry = (stride, padding, dilation, groups)
        return kernels_for(x.data).conv.conv2d_grad_weight(x.data, g.data, tuple(kernel_hw),
                                                           stride, padding, dilation, groups)

    @staticmethod
    def backward(ctx, ggw):
        x, g = ctx.saved_tensors
        need_x, need_g = ctx.needs_input_grad
        gx = ConvTranspose2dFn.apply(g, ggw, input_hw=x.shape[2:], **_geo(ctx)) if need_x else None
        gg = _conv_like(g, x, ggw, _geo(ctx)) if need_g else None
        return gx, gg


def _conv2d_grads(ctx: Function, x: Tensor, w: Tensor, gy: Tensor) -> tuple[Any, Any, Any]:
    """The gradients of conv2d's x, w and b from ``gy`` at its output, each only where needed
    (also the fused conv ops' backward, given the gradient at their convolution's output)."""
    need_x, need_w, need_b = ctx.needs_input_grad
    gx = ConvTranspose2dFn.apply(gy, w, input_hw=x.shape[2:], **_geo(ctx)) if need_x else None
    gw = Conv2dWeightGradFn.apply(x, gy, kernel_hw=w.shape[2:], **_geo(ctx)) if need_w else None
    gb = gy.sum(axis=(0, 2, 3)) if need_b else None
    return gx, gw, gb


def _geo(ctx: Function) -> dict[str, Any]:
    """The geometry a conv node saved, as keyword arguments for the next conv Function."""
    stride, padding, dilation, groups = ctx.geometry
    return dict(stride=stride, padding=padding, dilation=dilation, groups=groups)


def _conv_like(g: Tensor, x: Tensor, w: Tensor, geo: dict[str, Any]) -> Tensor:
    """conv2d(x, w) cut to ``g``'s spatial shape.

    The convolution of a conv_transpose2d output can be one row/column larger than the
    transpose's input: ``output_padding`` adds rows that no input pixel reached, and their
    windows belong to no element of ``g``.
    """
    y = Conv2dFn.apply(x, w, None, **geo)
    oh, ow = g.shape[2:]
    return y if y.shape[2:] == (oh, ow) else y[:, :, :oh, :ow]


# ------------------------------------------------------------------------------------------------
# argument checking (everything is validated before any kernel runs)


def _padding(op: str, padding: Any, kernel: tuple[int, ...], stride: tuple[int, ...],
             dilation: tuple[int, ...]) -> tuple[int, ...]:
    """Per-axis (lo, hi) pairs flattened: (top, bottom, left, right) in 2-D, (lo, hi) in 1-D."""
    return tuple(p for pair in padding_pairs(op, padding, kernel, stride, dilation) for p in pair)


def _check_bias(op: str, bias: Any, channels: int, dtype: np.dtype) -> Tensor | None:
    if bias is None:
        return None
    bias = float_tensor(op, "bias", bias)
    if bias.shape != (channels,):
        raise ValueError(f"{op}: bias must have shape ({channels},) (one per output channel), "
                         f"got {bias.shape}")
    return bias if bias.dtype == dtype else bias.astype(dtype)


def _common_dtype(*ts: Tensor) -> list[Tensor] | tuple[Tensor, ...]:
    if ts[0].dtype == ts[1].dtype:  # (a model's layers: no promotion)
        return ts
    dt = np.result_type(*(t.dtype for t in ts))
    return [t if t.dtype == dt else t.astype(dt) for t in ts]


def _check_geometry(op: str, x_shape: tuple[int, ...], w_shape: tuple[int, ...],
                    pads: tuple[int, ...], dilation: tuple[int, ...]) -> None:
    """The dilated kernel must fit in the padded input along every spatial axis."""
    spatial = x_shape[2:]
    for ax, (n, f, d) in enumerate(zip(spatial, w_shape[2:], dilation)):
        span = d * (f - 1) + 1
        padded = n + pads[2 * ax] + pads[2 * ax + 1]
        if span > padded:
            raise ValueError(
                f"{op}: kernel {tuple(w_shape[2:])} with dilation {tuple(dilation)} spans "
                f"{span} along spatial axis {ax}, larger than the padded input ({padded} = {n} + "
                f"padding {pads[2 * ax]} + {pads[2 * ax + 1]}); input {tuple(x_shape)}, weight "
                f"{tuple(w_shape)}")


def _check_ranks(op: str, x: Tensor, w: Tensor, spatial: int, weight_channels: str) -> None:
    """x must be (N, C, *spatial axes) and w (``weight_channels``, *kernel axes)."""
    nd = spatial + 2
    if w.ndim != nd:
        raise ValueError(f"{op}: weight must be {nd}-D ({weight_channels}, "
                         f"{'kH, kW' if spatial == 2 else 'kL'}), got shape {w.shape}")
    if x.ndim != nd:
        raise ValueError(f"{op}: input must be {nd}-D (N, C, {'H, W' if spatial == 2 else 'L'}) "
                         f"or {nd - 1}-D unbatched, got shape {x.shape}")


def _check_conv_args(op: str, x: Tensor, w: Tensor, groups: Any, spatial: int) -> int:
    _check_ranks(op, x, w, spatial, "out_channels, in_channels/groups")
    groups = integer(op, "groups", groups, minimum=1)
    c, k = x.shape[1], w.shape[0]
    if c % groups or k % groups:
        raise ValueError(f"{op}: groups={groups} must divide both the input channels ({c}, input "
                         f"{x.shape}) and the output channels ({k}, weight {w.shape})")
    if w.shape[1] * groups != c:
        raise ValueError(f"{op}: input {x.shape} has {c} channels but weight {w.shape} expects "
                         f"{w.shape[1]} per group x groups={groups} = {w.shape[1] * groups}")
    return groups


def _batched(op: str, x: Tensor, nd: int) -> tuple[Tensor, bool]:
    """Accept PyTorch's unbatched inputs (one dim fewer) by adding a batch axis of 1."""
    if x.ndim == nd - 1:
        return x.reshape(1, *x.shape), True
    return x, False


# ------------------------------------------------------------------------------------------------
# public ops


def _conv2d_geometry(op: str, x: Tensor, w: Tensor, stride: Any, padding: Any, dilation: Any,
                     groups: Any) -> tuple[Pair, Quad, Pair, int]:
    """conv2d's checked (stride, padding quad, dilation, groups) for a batched input ``x``."""
    groups = _check_conv_args(op, x, w, groups, 2)
    stride = ntuple(op, "stride", stride, 2, minimum=1)
    dilation = ntuple(op, "dilation", dilation, 2, minimum=1)
    pads = _padding(op, padding, w.shape[2:], stride, dilation)
    _check_geometry(op, x.shape, w.shape, pads, dilation)
    return stride, pads, dilation, groups


# (input shape, weight shape, stride, padding, dilation, groups) -> _conv2d_geometry's result: a
# layer checks the same arguments on every call (the checks cost as much as a small layer's
# kernel); only arguments of plain types key it (see _args.plain), and only checks that passed
# are kept, so an invalid call always reaches the check that raises
_CONV2D_GEOMETRY: dict[tuple, tuple[Pair, Quad, Pair, int]] = {}


def conv2d(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
           dilation: Any = 1, groups: int = 1) -> Tensor:
    """2-D cross-correlation, as ``torch.nn.functional.conv2d``.

    input: (N, C, H, W) or (C, H, W); weight: (K, C // groups, R, S); bias: (K,) or None.
    stride, dilation: int or (h, w), >= 1. padding: int or (h, w) zeros on both sides, or
    ``'valid'`` (none), ``'same'`` (output size = input size; stride must be 1, as in PyTorch;
    with an even kernel the extra row/column goes at the bottom/right), or ``'full'``
    (``dilation*(k-1)`` on each side: every partial overlap). Returns (N, K, OH, OW) with
    ``OH = conv_output_size(H, R, stride, padding, dilation)``.
    """
    op = "conv2d"
    x = float_tensor(op, "input", input)
    w = float_tensor(op, "weight", weight)
    x, unbatched = _batched(op, x, 4)
    key = (x.shape, w.shape, stride, padding, dilation, groups)
    geo = _CONV2D_GEOMETRY.get(key) if plain(stride, padding, dilation, groups) else None
    if geo is None:
        geo = _conv2d_geometry(op, x, w, stride, padding, dilation, groups)
        if plain(stride, padding, dilation, groups):
            if len(_CONV2D_GEOMETRY) >= 1024:
                _CONV2D_GEOMETRY.clear()
            _CONV2D_GEOMETRY[key] = geo
    stride, pads, dilation, groups = geo
    dt = x.dtype if x.dtype == w.dtype else np.result_type(x.dtype, w.dtype)
    b = _check_bias(op, bias, w.shape[0], dt)
    x, w = _common_dtype(x, w)
    y = Conv2dFn.apply(x, w, b, stride=stride, padding=pads, dilation=dilation, groups=groups)
    return y.reshape(*y.shape[1:]) if unbatched else y


def conv1d(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
           dilation: Any = 1, groups: int = 1) -> Tensor:
    """1-D cross-correlation, as ``torch.nn.functional.conv1d``.

    input: (N, C, L) or (C, L); weight: (K, C // groups, F); bias: (K,) or None. Options as in
    :func:`conv2d` (ints). Runs as a conv2d over a unit height axis (the reshapes are views), so
    one set of kernels is tuned and tested.
    """
    op = "conv1d"
    x = float_tensor(op, "input", input)
    w = float_tensor(op, "weight", weight)
    x, unbatched = _batched(op, x, 3)
    groups = _check_conv_args(op, x, w, groups, 1)
    (stride,) = ntuple(op, "stride", stride, 1, minimum=1)
    (dilation,) = ntuple(op, "dilation", dilation, 1, minimum=1)
    lo, hi = _padding(op, padding, w.shape[2:], (stride,), (dilation,))
    _check_geometry(op, x.shape, w.shape, (lo, hi), (dilation,))
    b = _check_bias(op, bias, w.shape[0], np.result_type(x.dtype, w.dtype))
    x, w = _common_dtype(x, w)
    n, c, length = x.shape
    y = Conv2dFn.apply(x.reshape(n, c, 1, length), w.reshape(*w.shape[:2], 1, w.shape[2]), b,
                       stride=(1, stride), padding=(0, 0, lo, hi), dilation=(1, dilation),
                       groups=groups)
    y = y.reshape(n, y.shape[1], y.shape[3])
    return y.reshape(*y.shape[1:]) if unbatched else y


def conv_transpose2d(input: Any, weight: Any, bias: Any = None, stride: Any = 1,
                     padding: Any = 0, output_padding: Any = 0, groups: int = 1,
                     dilation: Any = 1) -> Tensor:
    """Transposed 2-D convolution (the gradient of conv2d w.r.t. its input), as
    ``torch.nn.functional.conv_transpose2d``.

    input: (N, C_in, H, W) or unbatched; weight: (C_in, C_out // groups, R, S) (PyTorch's layout);
    bias: (C_out,) or None. ``padding`` (int or pair) removes that many rows/columns from each
    side of the full output (it is the padding of the conv2d this op is the transpose of);
    ``output_padding`` adds rows/columns at the bottom/right and must be smaller than stride or
    dilation. Output size: ``(H - 1)*stride - 2*padding + dilation*(R - 1) + output_padding + 1``.
    """
    return _conv_transpose("conv_transpose2d", 2, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


def conv_transpose1d(input: Any, weight: Any, bias: Any = None, stride: Any = 1,
                     padding: Any = 0, output_padding: Any = 0, groups: int = 1,
                     dilation: Any = 1) -> Tensor:
    """Transposed 1-D convolution (the gradient of conv1d w.r.t. its input; learned upsampling of
    sequences), as ``torch.nn.functional.conv_transpose1d``.

    input: (N, C_in, L) or unbatched (C_in, L); weight: (C_in, C_out // groups, K); bias:
    (C_out,) or None. Options as in :func:`conv_transpose2d`, as ints (or 1-tuples). Output
    length ``(L - 1)*stride - 2*padding + dilation*(K - 1) + output_padding + 1``. Runs as a
    conv_transpose2d over a unit height axis (the reshapes are views).
    """
    return _conv_transpose("conv_transpose1d", 1, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


def _conv_transpose(op: str, spatial: int, input: Any, weight: Any, bias: Any, stride: Any,
                    padding: Any, output_padding: Any, groups: Any, dilation: Any) -> Tensor:
    """conv_transpose1d/2d: arguments checked with ``op``'s name and ``spatial`` axes, then one
    ConvTranspose2dFn (a 1-d input gets a unit height axis)."""
    x = float_tensor(op, "input", input)
    w = float_tensor(op, "weight", weight)
    x, unbatched = _batched(op, x, spatial + 2)
    _check_ranks(op, x, w, spatial, "in_channels, out_channels/groups")
    groups = integer(op, "groups", groups, minimum=1)
    c_in = x.shape[1]
    if w.shape[0] != c_in:
        raise ValueError(f"{op}: input {x.shape} has {c_in} channels but weight {w.shape} "
                         f"expects {w.shape[0]} (weight layout: in_channels first)")
    if c_in % groups:
        raise ValueError(f"{op}: groups={groups} must divide the input channels ({c_in}, input "
                         f"{x.shape})")
    stride = ntuple(op, "stride", stride, spatial, minimum=1)
    dilation = ntuple(op, "dilation", dilation, spatial, minimum=1)
    if isinstance(padding, str):
        raise TypeError(f"{op}: padding must be an int or a tuple (no string modes, as in "
                        f"PyTorch), got {padding!r}")
    pad = ntuple(op, "padding", padding, spatial, minimum=0)
    out_pad = ntuple(op, "output_padding", output_padding, spatial, minimum=0)
    for ax in range(spatial):
        if out_pad[ax] >= max(stride[ax], dilation[ax]):
            raise ValueError(f"{op}: output_padding {out_pad} must be smaller than stride "
                             f"{stride} or dilation {dilation} along each axis")
    out_size = tuple(conv_transpose_output_size(x.shape[2 + ax], w.shape[2 + ax], stride[ax],
                                                pad[ax], dilation[ax], out_pad[ax])
                     for ax in range(spatial))
    if min(out_size) < 1:
        raise ValueError(f"{op}: output size {out_size} is empty: padding {pad} crops more than "
                         f"the full output of input {x.shape} with weight {w.shape}")
    c_out = w.shape[1] * groups
    b = _check_bias(op, bias, c_out, np.result_type(x.dtype, w.dtype))
    x, w = _common_dtype(x, w)
    if spatial == 1:  # (N, C, L) as (N, C, 1, L): a unit height axis everywhere
        x, w = x.reshape(*x.shape[:2], 1, x.shape[2]), w.reshape(*w.shape[:2], 1, w.shape[2])
        out_size, stride, dilation, pad = ((1, *out_size), (1, *stride), (1, *dilation),
                                           (0, *pad))
    y = ConvTranspose2dFn.apply(x, w, input_hw=out_size, stride=stride,
                                padding=(pad[0], pad[0], pad[1], pad[1]), dilation=dilation,
                                groups=groups)
    if spatial == 1:
        y = y.reshape(y.shape[0], y.shape[1], y.shape[3])
    if b is not None:
        y = y + b.reshape(1, c_out, *(1,) * spatial)
    return y.reshape(*y.shape[1:]) if unbatched else y
