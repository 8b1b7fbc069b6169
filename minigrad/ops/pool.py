"""2-D pooling: ``max_pool2d``, ``avg_pool2d``, ``adaptive_avg_pool2d``, ``global_avg_pool2d``,
``max_unpool2d`` (PyTorch names, arguments and floor-mode output sizes; no ceil_mode/dilation).

Functions and how they differentiate each other (so ``create_graph=True`` works):

    MaxPool2dFn        y = max over windows        dx = PlaneScatterFn(gy, argmax)
    PlaneScatterFn     z = scatter-add(src, idx)   dsrc = PlaneGatherFn(gz, idx)
    PlaneGatherFn      z = src[idx]                dsrc = PlaneScatterFn(gz, idx)
    AvgPool2dFn        y = window means            dx = AvgPool2dGradFn(gy)
    AvgPool2dGradFn    gx = spread gy / divisor    dgy = AvgPool2dFn(ggx)
    AdaptiveAvgPool2dFn / AdaptiveAvgPool2dGradFn  the same pair for adaptive windows

Shapes: input (N, C, H, W) or unbatched (C, H, W); output (N, C, OH, OW) with
``OH = (H + 2*padding - kernel) // stride + 1``. Max-pool indices are flat positions in each
H*W plane (int64); ties go to the first maximum in row-major window order. Kernels live in
:mod:`minigrad.ops.kernels.cpu.pool` and :mod:`minigrad.ops.kernels.cuda.pool`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minigrad.autograd import Function
from minigrad.ops._args import (
    conv_output_size,
    conv_transpose_output_size,
    float_tensor,
    ntuple,
    pool_window,
)
from minigrad.ops.kernels import kernels_for
from minigrad.tensor import Tensor

__all__ = [
    "max_pool2d",
    "avg_pool2d",
    "adaptive_avg_pool2d",
    "global_avg_pool2d",
    "max_unpool2d",
]

Pair = tuple[int, int]


# ------------------------------------------------------------------------------------------------
# Functions


class MaxPool2dFn(Function):
    """x: (N, C, H, W) -> (y, indices), both (N, C, OH, OW)."""

    kinks = "ties in a window: the first maximum (row-major) takes the gradient"

    @staticmethod
    def forward(ctx, x, *, kernel: Pair, stride: Pair, padding: Pair):
        y, idx = kernels_for(x.data).pool.max_pool2d_forward(x.data, kernel, stride, padding)
        # a view, not the returned array itself: a saved *output* would come back linked to this
        # node as if it were differentiable, and the indices are integer constants
        ctx.save_for_backward(idx.view())
        ctx.input_hw = x.shape[2:]
        return y, idx

    @staticmethod
    def backward(ctx, gy, _gidx):
        (idx,) = ctx.saved_tensors
        return PlaneScatterFn.apply(gy, idx, plane_hw=ctx.input_hw)


class PlaneScatterFn(Function):
    """src, idx: (N, C, *S) -> (N, C, *plane_hw), src[..., k] added at plane index idx[..., k]."""

    @staticmethod
    def forward(ctx, src, idx, *, plane_hw: Pair):
        ctx.save_for_backward(idx)
        return kernels_for(src.data).pool.scatter_add_planes(src.data, idx.data, tuple(plane_hw))

    @staticmethod
    def backward(ctx, gz):
        (idx,) = ctx.saved_tensors
        return PlaneGatherFn.apply(gz, idx), None


class PlaneGatherFn(Function):
    """src: (N, C, H, W), idx: (N, C, *S) -> (N, C, *S) = src at flat plane index idx."""

    @staticmethod
    def forward(ctx, src, idx):
        ctx.save_for_backward(idx)
        ctx.plane_hw = src.shape[2:]
        return kernels_for(src.data).pool.gather_planes(src.data, idx.data)

    @staticmethod
    def backward(ctx, gz):
        (idx,) = ctx.saved_tensors
        return PlaneScatterFn.apply(gz, idx, plane_hw=ctx.plane_hw), None


class AvgPool2dFn(Function):
    @staticmethod
    def forward(ctx, x, *, kernel: Pair, stride: Pair, padding: Pair, count_include_pad: bool):
        ctx.geometry = dict(
            kernel=kernel, stride=stride, padding=padding, count_include_pad=count_include_pad
        )
        ctx.input_hw = x.shape[2:]
        return kernels_for(x.data).pool.avg_pool2d_forward(x.data, kernel, stride, padding,
                                                           count_include_pad)

    @staticmethod
    def backward(ctx, gy):
        return AvgPool2dGradFn.apply(gy, input_hw=ctx.input_hw, **ctx.geometry)


class AvgPool2dGradFn(Function):
    """gy: (N, C, OH, OW) -> gx: (N, C, H, W); linear, its adjoint is AvgPool2d."""

    @staticmethod
    def forward(
        ctx,
        gy,
        *,
        input_hw: Pair,
        kernel: Pair,
        stride: Pair,
        padding: Pair,
        count_include_pad: bool,
    ):
        ctx.geometry = dict(
            kernel=kernel, stride=stride, padding=padding, count_include_pad=count_include_pad
        )
        return kernels_for(gy.data).pool.avg_pool2d_backward(gy.data, tuple(input_hw), kernel,
                                                             stride, padding, count_include_pad)

    @staticmethod
    def backward(ctx, ggx):
        return AvgPool2dFn.apply(ggx, **ctx.geometry)


class AdaptiveAvgPool2dFn(Function):
    @staticmethod
    def forward(ctx, x, *, output_size: Pair):
        ctx.input_hw = x.shape[2:]
        return kernels_for(x.data).pool.adaptive_avg_pool2d_forward(x.data, tuple(output_size))

    @staticmethod
    def backward(ctx, gy):
        return AdaptiveAvgPool2dGradFn.apply(gy, input_hw=ctx.input_hw)


class AdaptiveAvgPool2dGradFn(Function):
    @staticmethod
    def forward(ctx, gy, *, input_hw: Pair):
        ctx.output_size = gy.shape[2:]
        return kernels_for(gy.data).pool.adaptive_avg_pool2d_backward(gy.data, tuple(input_hw))

    @staticmethod
    def backward(ctx, ggx):
        return AdaptiveAvgPool2dFn.apply(ggx, output_size=ctx.output_size)


# ------------------------------------------------------------------------------------------------
# Argument checking (before any kernel runs)


def _input(op: str, x: Any) -> tuple[Tensor, bool]:
    """The input as (N, C, H, W) and whether it was unbatched (C, H, W)."""
    x = float_tensor(op, "input", x)
    if x.ndim not in (3, 4):
        raise ValueError(f"{op}: input must be (N, C, H, W) or (C, H, W), got shape {x.shape}")
    if 0 in x.shape[-2:] or (x.ndim == 4 and x.shape[1] == 0):
        raise ValueError(f"{op}: input has an empty spatial or channel axis: shape {x.shape}")
    return (x.reshape(1, *x.shape) if x.ndim == 3 else x), x.ndim == 3


def _windows(op: str, input: Any, kernel_size: Any, stride: Any,
             padding: Any) -> tuple[Tensor, bool, Pair, Pair, Pair]:
    """max_pool2d's and avg_pool2d's arguments checked: the (N, C, H, W) input, whether it was
    unbatched, and kernel, stride and padding pairs whose windows fit in the padded input."""
    x, unbatched = _input(op, input)
    k, s, p = pool_window(op, kernel_size, stride, padding)
    h, w = x.shape[-2:]
    oh, ow = (conv_output_size(n, kk, ss, pp) for n, kk, ss, pp in zip((h, w), k, s, p))
    if oh < 1 or ow < 1:
        raise ValueError(
            f"{op}: kernel {k} is larger than the padded input {(h + 2 * p[0], w + 2 * p[1])} "
            f"(input shape {x.shape}, padding {p}); output would be {(oh, ow)}"
        )
    return x, unbatched, k, s, p


def _output_size(op: str, x: Tensor, output_size: Any) -> Pair:
    """An int, or a pair whose None entries keep the input's size, as a pair of ints >= 1."""
    size = ntuple(op, "output_size", output_size, 2, minimum=1, allow_none=True)
    return tuple(x.shape[2 + i] if o is None else o for i, o in enumerate(size))


# ------------------------------------------------------------------------------------------------
# Public functions


def max_pool2d(input: Tensor, kernel_size: int | Pair, stride: int | Pair | None = None,
               padding: int | Pair = 0,
               return_indices: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """Max over sliding windows. input: (N, C, H, W) or (C, H, W) -> (N, C, OH, OW).

    ``stride`` defaults to ``kernel_size``; padding (at most kernel_size // 2) is never selected.
    With ``return_indices`` also returns the int64 argmax, a flat index into each H*W plane.
    """
    x, unbatched, k, s, p = _windows("max_pool2d", input, kernel_size, stride, padding)
    y, idx = MaxPool2dFn.apply(x, kernel=k, stride=s, padding=p)
    if unbatched:
        y, idx = y.reshape(*y.shape[1:]), idx.reshape(*idx.shape[1:])
    return (y, idx) if return_indices else y


def avg_pool2d(input: Tensor, kernel_size: int | Pair, stride: int | Pair | None = None,
               padding: int | Pair = 0, count_include_pad: bool = True) -> Tensor:
    """Mean over sliding windows. input: (N, C, H, W) or (C, H, W) -> (N, C, OH, OW).

    ``count_include_pad=True`` divides by the full window size (padding counts as zeros);
    ``False`` divides by the number of input elements in the window (PyTorch semantics).
    """
    x, unbatched, k, s, p = _windows("avg_pool2d", input, kernel_size, stride, padding)
    y = AvgPool2dFn.apply(x, kernel=k, stride=s, padding=p,
                          count_include_pad=bool(count_include_pad))
    return y.reshape(*y.shape[1:]) if unbatched else y


def adaptive_avg_pool2d(input: Tensor, output_size: int | tuple[int | None, int | None]) -> Tensor:
    """Average pooling to a fixed output size. input: (N, C, H, W) -> (N, C, OH, OW).

    Output cell i covers rows [floor(i*H/OH), ceil((i+1)*H/OH)) (PyTorch's windows, which may
    overlap). ``None`` in ``output_size`` keeps that input size.
    """
    x, unbatched = _input("adaptive_avg_pool2d", input)
    size = _output_size("adaptive_avg_pool2d", x, output_size)
    y = AdaptiveAvgPool2dFn.apply(x, output_size=size)
    return y.reshape(*y.shape[1:]) if unbatched else y


def global_avg_pool2d(input: Tensor) -> Tensor:
    """Mean over H and W keeping them as size 1: (N, C, H, W) -> (N, C, 1, 1)."""
    return adaptive_avg_pool2d(input, 1)


def max_unpool2d(
    input: Tensor,
    indices: Tensor,
    kernel_size: int | Pair,
    stride: int | Pair | None = None,
    padding: int | Pair = 0,
    output_size: tuple[int, ...] | None = None,
) -> Tensor:
    """Inverse of max_pool2d: put each value at its index in a zero (N, C, H, W) output.

    input, indices: (N, C, OH, OW) (indices from ``max_pool2d(..., return_indices=True)``). The
    output size defaults to ``(OH - 1) * stride - 2 * padding + kernel_size``. Values sharing an
    index are summed (PyTorch keeps an arbitrary one), so the gradient, a gather, is exact.
    """
    op = "max_unpool2d"
    float_tensor(op, "input", input)
    if not isinstance(indices, Tensor) or not np.issubdtype(indices.dtype, np.integer):
        raise TypeError(f"{op}: indices must be an integer Tensor")
    if indices.shape != input.shape:
        raise ValueError(f"{op}: indices shape {indices.shape} != input shape {input.shape}")
    x, unbatched = _input(op, input)
    idx = indices.reshape(*x.shape)
    k, s, p = pool_window(op, kernel_size, stride, padding, half_kernel_padding=False)
    if output_size is None:
        hw = tuple(conv_transpose_output_size(x.shape[2 + d], k[d], s[d], p[d]) for d in (0, 1))
    else:  # (H, W) or PyTorch's full (N, C, H, W)
        last = list(output_size)[-2:] if isinstance(output_size, tuple | list) else output_size
        hw = ntuple(op, "output_size", last, 2, minimum=1)
    if min(hw) < 1:
        raise ValueError(f"{op}: output size {hw} must be positive")
    plane = hw[0] * hw[1]
    if idx.data.size and (idx.data.min() < 0 or idx.data.max() >= plane):
        raise ValueError(f"{op}: indices must lie in [0, {plane}) for output size {hw}")
    y = PlaneScatterFn.apply(x, Tensor._make(idx.data.astype(np.int64, copy=False)), plane_hw=hw)
    return y.reshape(*y.shape[1:]) if unbatched else y
