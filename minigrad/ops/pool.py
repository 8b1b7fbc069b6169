"""Pooling: ``max_pool2d``, ``max_pool1d``, ``avg_pool2d``, ``avg_pool1d``,
``adaptive_avg_pool2d``/``1d``, ``adaptive_max_pool2d``/``1d``, ``global_avg_pool2d``,
``max_unpool2d`` (PyTorch names, arguments and output sizes, with ``ceil_mode``, ``dilation`` for
max pooling and ``count_include_pad``/``divisor_override`` for average pooling).

Functions and how they differentiate each other (so ``create_graph=True`` works):

    MaxPool2dFn        y = max over windows        dx = PlaneScatterFn(gy, argmax)
    AdaptiveMaxPool2dFn  the same over adaptive windows
    PlaneScatterFn     z = scatter-add(src, idx)   dsrc = PlaneGatherFn(gz, idx)
    PlaneGatherFn      z = src[idx]                dsrc = PlaneScatterFn(gz, idx)
    AvgPool2dFn        y = window means            dx = AvgPool2dGradFn(gy)
    AvgPool2dGradFn    gx = spread gy / divisor    dgy = AvgPool2dFn(ggx)
    AdaptiveAvgPool2dFn / AdaptiveAvgPool2dGradFn  the same pair for adaptive windows

Shapes: input (N, C, H, W) or unbatched (C, H, W); output (N, C, OH, OW) with
``OH = (H + 2*padding - dilation*(kernel - 1) - 1) // stride + 1``, the division rounded up with
``ceil_mode`` (but the last window must start inside the input or the left padding, PyTorch's
rule). The 1-d ops take (N, C, L) or (C, L) and run the 2-d Functions on (N, C, 1, L). Max-pool
indices are flat positions in each H*W plane (int64; positions along L in 1-d); ties go to the
first maximum in row-major window order. Kernels live in
:mod:`minigrad.ops.kernels.cpu.pool` and :mod:`minigrad.ops.kernels.cuda.pool`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minigrad.autograd import Function
from minigrad.ops._args import (
    conv_transpose_output_size,
    float_tensor,
    integer,
    ntuple,
    plain,
    pool_window,
)
from minigrad.ops.kernels import kernels_for
from minigrad.ops.kernels.cpu.pool import pool_output_size
from minigrad.tensor import Tensor

__all__ = [
    "max_pool2d",
    "avg_pool2d",
    "adaptive_avg_pool2d",
    "global_avg_pool2d",
    "max_unpool2d",
    "max_pool1d",
    "avg_pool1d",
    "adaptive_avg_pool1d",
    "adaptive_max_pool2d",
    "adaptive_max_pool1d",
]

Pair = tuple[int, int]


# ------------------------------------------------------------------------------------------------
# Functions


class MaxPool2dFn(Function):
    """x: (N, C, H, W) -> (y, indices), both (N, C, OH, OW)."""

    kinks = "ties in a window: the first maximum (row-major) takes the gradient"

    @staticmethod
    def forward(ctx, x, *, kernel: Pair, stride: Pair, padding: Pair, dilation: Pair = (1, 1),
                ceil_mode: bool = False):
        y, idx = kernels_for(x.data).pool.max_pool2d_forward(x.data, kernel, stride, padding,
                                                             dilation, ceil_mode)
        return MaxPool2dFn.keep_indices(ctx, x, y, idx)

    @staticmethod
    def keep_indices(ctx, x, y, idx):
        """Save the argmax indices and the input's H, W for backward; returns (y, idx)."""
        # a view, not the returned array itself: a saved *output* would come back linked to this
        # node as if it were differentiable, and the indices are integer constants
        ctx.save_for_backward(idx.view())
        ctx.input_hw = x.shape[2:]
        return y, idx

    @staticmethod
    def backward(ctx, gy, _gidx):
        (idx,) = ctx.saved_tensors
        return PlaneScatterFn.apply(gy, idx, plane_hw=ctx.input_hw)


class AdaptiveMaxPool2dFn(MaxPool2dFn):
    """x: (N, C, H, W) -> (y, indices), both (N, C, OH, OW), over adaptive windows; backward is
    MaxPool2dFn's (the gradient goes back to each window's argmax)."""

    kinks = MaxPool2dFn.kinks

    @staticmethod
    def forward(ctx, x, *, output_size: Pair):
        y, idx = kernels_for(x.data).pool.adaptive_max_pool2d_forward(x.data, tuple(output_size))
        return MaxPool2dFn.keep_indices(ctx, x, y, idx)


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
    """x: (N, C, H, W) -> window means (N, C, OH, OW). ``geometry``: the kernels' keyword
    arguments ``kernel``, ``stride``, ``padding``, ``count_include_pad``, ``ceil_mode``,
    ``divisor_override``, handed on unchanged to the gradient pair."""

    @staticmethod
    def forward(ctx, x, **geometry):
        ctx.geometry = geometry
        ctx.input_hw = x.shape[2:]
        return kernels_for(x.data).pool.avg_pool2d_forward(x.data, **geometry)

    @staticmethod
    def backward(ctx, gy):
        return AvgPool2dGradFn.apply(gy, input_hw=ctx.input_hw, **ctx.geometry)


class AvgPool2dGradFn(Function):
    """gy: (N, C, OH, OW) -> gx: (N, C, H, W); linear, its adjoint is AvgPool2dFn (same
    ``geometry``)."""

    @staticmethod
    def forward(ctx, gy, *, input_hw: Pair, **geometry):
        ctx.geometry = geometry
        return kernels_for(gy.data).pool.avg_pool2d_backward(gy.data, tuple(input_hw),
                                                             **geometry)

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
# Argument checking (before any kernel runs). The 1-d ops run the 2-d ones on (N, C, 1, L).


def _input(op: str, x: Any, spatial: int = 2) -> tuple[Tensor, bool]:
    """The input as (N, C, H, W) and whether it was unbatched; a 1-d op's (N, C, L) or (C, L)
    becomes (N, C, 1, L)."""
    x = float_tensor(op, "input", x)
    if x.ndim not in (spatial + 1, spatial + 2):
        axes = "(N, C, H, W) or (C, H, W)" if spatial == 2 else "(N, C, L) or (C, L)"
        raise ValueError(f"{op}: input must be {axes}, got shape {x.shape}")
    if 0 in x.shape[-spatial:] or (x.ndim == spatial + 2 and x.shape[1] == 0):
        raise ValueError(f"{op}: input has an empty spatial or channel axis: shape {x.shape}")
    unbatched = x.ndim == spatial + 1
    x = x.reshape(1, *x.shape) if unbatched else x
    return (x.reshape(x.shape[0], x.shape[1], 1, x.shape[2]) if spatial == 1 else x), unbatched


def _result(y: Tensor, spatial: int, unbatched: bool) -> Tensor:
    """A (N, C, OH, OW) result back in the input's form: (N, C, OL) for a 1-d op, no batch axis
    for an unbatched input."""
    if spatial == 1:
        y = y.reshape(y.shape[0], y.shape[1], y.shape[3])
    return y.reshape(*y.shape[1:]) if unbatched else y


def _pairs(spatial: int, *values: tuple[int, ...]) -> tuple[Pair, ...]:
    """Per-axis tuples (kernel, stride, padding, dilation) as (h, w) pairs; a 1-d op's (v,)
    becomes (unit, v): kernel, stride and dilation 1 and padding 0 along the added height axis."""
    if spatial == 2:
        return values
    return tuple((0 if i == 2 else 1, v[0]) for i, v in enumerate(values))


def _windows(op: str, spatial: int, input: Any, kernel_size: Any, stride: Any, padding: Any,
             dilation: Any = 1, ceil_mode: Any = False) -> tuple[Any, ...]:
    """max and avg pooling's arguments checked: the (N, C, H, W) input, whether it was
    unbatched, and the kernel, stride, padding and dilation pairs, whose windows fit in the
    padded input and (with a dilation) each read at least one input element."""
    x, unbatched = _input(op, input, spatial)
    # a layer checks the same window on every call: checks that passed are kept, keyed by
    # arguments of plain types only (see _args.plain)
    key = (op, input.shape, kernel_size, stride, padding, dilation, bool(ceil_mode))
    fast = plain(kernel_size, stride, padding, dilation)
    geo = _WINDOWS.get(key) if fast else None
    if geo is None:
        geo = _window_geometry(op, spatial, input, kernel_size, stride, padding, dilation,
                               ceil_mode)
        if fast:
            if len(_WINDOWS) >= 1024:
                _WINDOWS.clear()
            _WINDOWS[key] = geo
    return (x, unbatched, *geo)


_WINDOWS: dict[tuple, tuple[Pair, ...]] = {}


def _window_geometry(op: str, spatial: int, input: Tensor, kernel_size: Any, stride: Any,
                     padding: Any, dilation: Any, ceil_mode: Any) -> tuple[Pair, ...]:
    """:func:`_windows`' kernel, stride, padding and dilation pairs, checked."""
    k, s, p = pool_window(op, kernel_size, stride, padding, n=spatial)
    d = ntuple(op, "dilation", dilation, spatial, minimum=1)
    size = tuple(input.shape[-spatial:])
    out = tuple(pool_output_size(n, kk, ss, pp, dd, bool(ceil_mode))
                for n, kk, ss, pp, dd in zip(size, k, s, p, d))
    if min(out) < 1:
        span = tuple(dd * (kk - 1) + 1 for kk, dd in zip(k, d))
        padded = tuple(n + 2 * pp for n, pp in zip(size, p))
        raise ValueError(
            f"{op}: kernel {k} (dilation {d}: a window spans {span}) is larger than the padded "
            f"input {padded} (input shape {tuple(input.shape)}, padding {p}); output would be "
            f"{out}")
    # without a dilation every window reaches the input (padding is at most half the kernel,
    # and the last window starts inside the input or the left padding)
    for axis, (n, kk, ss, pp, dd, o) in enumerate(zip(size, k, s, p, d, out)):
        if dd == 1:
            continue
        taps = (np.arange(o)[:, None] * ss - pp) + np.arange(kk) * dd
        empty = np.flatnonzero(~((taps >= 0) & (taps < n)).any(axis=1))
        if empty.size:  # only a dilation can step over the whole input
            raise ValueError(
                f"{op}: window {int(empty[0])} along spatial axis {axis} reads only padding "
                f"(positions {taps[empty[0]].tolist()} of an input of length {n}; kernel {k}, "
                f"dilation {d}, padding {p}, input shape {tuple(input.shape)})")
    return _pairs(spatial, k, s, p, d)


def _output_size(op: str, x: Tensor, output_size: Any, spatial: int = 2) -> Pair:
    """An int, or a tuple (None entries keep the input's size), as a pair of ints >= 1."""
    size = ntuple(op, "output_size", output_size, spatial, minimum=1, allow_none=True)
    size = tuple(x.shape[4 - spatial + i] if o is None else o for i, o in enumerate(size))
    return (1, size[0]) if spatial == 1 else size


# ------------------------------------------------------------------------------------------------
# Public functions


def max_pool2d(input: Tensor, kernel_size: int | Pair, stride: int | Pair | None = None,
               padding: int | Pair = 0, dilation: int | Pair = 1, ceil_mode: bool = False,
               return_indices: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """Max over sliding windows, as ``torch.nn.functional.max_pool2d``.

    input: (N, C, H, W) or (C, H, W) -> (N, C, OH, OW), ``OH = (H + 2*padding -
    dilation*(kernel - 1) - 1) // stride + 1``. ``stride`` defaults to ``kernel_size``; padding
    (at most kernel_size // 2) is never selected; ``dilation`` spaces a window's taps.
    ``ceil_mode`` rounds the division up: a last, partial window covers the leftover rows and
    columns, unless it would start in the right padding (PyTorch's rule). With
    ``return_indices`` also returns the int64 argmax, a flat index into each H*W plane.

    Difference from PyTorch: a dilated window whose taps all fall in the padding (possible only
    with a dilation) is a ValueError; PyTorch returns -inf there, with an index outside the input.
    """
    op = "max_pool2d"
    x, unbatched, k, s, p, d = _windows(op, 2, input, kernel_size, stride, padding, dilation,
                                        ceil_mode)
    y, idx = MaxPool2dFn.apply(x, kernel=k, stride=s, padding=p, dilation=d,
                               ceil_mode=bool(ceil_mode))
    y, idx = _result(y, 2, unbatched), _result(idx, 2, unbatched)
    return (y, idx) if return_indices else y


def max_pool1d(input: Tensor, kernel_size: int | tuple[int], stride: int | tuple[int] | None = None,
               padding: int | tuple[int] = 0, dilation: int | tuple[int] = 1,
               ceil_mode: bool = False,
               return_indices: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """Max over sliding windows of a sequence, as ``torch.nn.functional.max_pool1d``.

    input: (N, C, L) or (C, L) -> (N, C, OL); options as :func:`max_pool2d`, as ints. Indices
    are positions along L. Runs as max_pool2d on (N, C, 1, L).
    """
    op = "max_pool1d"
    x, unbatched, k, s, p, d = _windows(op, 1, input, kernel_size, stride, padding, dilation,
                                        ceil_mode)
    y, idx = MaxPool2dFn.apply(x, kernel=k, stride=s, padding=p, dilation=d,
                               ceil_mode=bool(ceil_mode))
    y, idx = _result(y, 1, unbatched), _result(idx, 1, unbatched)
    return (y, idx) if return_indices else y


def avg_pool2d(input: Tensor, kernel_size: int | Pair, stride: int | Pair | None = None,
               padding: int | Pair = 0, ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> Tensor:
    """Mean over sliding windows, as ``torch.nn.functional.avg_pool2d``.

    input: (N, C, H, W) or (C, H, W) -> (N, C, OH, OW), sizes as :func:`max_pool2d`'s
    (``ceil_mode`` included). ``count_include_pad=True`` divides by the window's size within the
    padded input (padding counts as zeros, what a ``ceil_mode`` window reaches past the padding
    does not); ``False`` divides by the number of input elements in the window;
    ``divisor_override`` (an int >= 1) divides every window sum by that number instead (PyTorch
    semantics).
    """
    op = "avg_pool2d"
    if divisor_override is not None:
        divisor_override = integer(op, "divisor_override", divisor_override, minimum=1)
    x, unbatched, k, s, p, _ = _windows(op, 2, input, kernel_size, stride, padding, 1,
                                        ceil_mode)
    y = AvgPool2dFn.apply(x, kernel=k, stride=s, padding=p, ceil_mode=bool(ceil_mode),
                          count_include_pad=bool(count_include_pad),
                          divisor_override=divisor_override)
    return _result(y, 2, unbatched)


def avg_pool1d(input: Tensor, kernel_size: int | tuple[int], stride: int | tuple[int] | None = None,
               padding: int | tuple[int] = 0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    """Mean over sliding windows of a sequence, as ``torch.nn.functional.avg_pool1d``.

    input: (N, C, L) or (C, L) -> (N, C, OL); options as :func:`avg_pool2d`, as ints. Runs as
    avg_pool2d on (N, C, 1, L).
    """
    op = "avg_pool1d"
    x, unbatched, k, s, p, _ = _windows(op, 1, input, kernel_size, stride, padding, 1,
                                        ceil_mode)
    y = AvgPool2dFn.apply(x, kernel=k, stride=s, padding=p, ceil_mode=bool(ceil_mode),
                          count_include_pad=bool(count_include_pad), divisor_override=None)
    return _result(y, 1, unbatched)


def adaptive_avg_pool2d(input: Tensor, output_size: int | tuple[int | None, int | None]) -> Tensor:
    """Average pooling to a fixed output size. input: (N, C, H, W) -> (N, C, OH, OW).

    Output cell i covers rows [floor(i*H/OH), ceil((i+1)*H/OH)) (PyTorch's windows, which may
    overlap). ``None`` in ``output_size`` keeps that input size.
    """
    x, unbatched = _input("adaptive_avg_pool2d", input)
    size = _output_size("adaptive_avg_pool2d", x, output_size)
    return _result(AdaptiveAvgPool2dFn.apply(x, output_size=size), 2, unbatched)


def adaptive_avg_pool1d(input: Tensor, output_size: int | tuple[int]) -> Tensor:
    """Average pooling of a sequence to a fixed length: (N, C, L) or (C, L) -> (N, C, OL), with
    the windows of :func:`adaptive_avg_pool2d`."""
    x, unbatched = _input("adaptive_avg_pool1d", input, 1)
    size = _output_size("adaptive_avg_pool1d", x, output_size, 1)
    return _result(AdaptiveAvgPool2dFn.apply(x, output_size=size), 1, unbatched)


def adaptive_max_pool2d(input: Tensor, output_size: int | tuple[int | None, int | None],
                        return_indices: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """Max pooling to a fixed output size, as ``torch.nn.functional.adaptive_max_pool2d``.

    input: (N, C, H, W) or (C, H, W) -> (N, C, OH, OW); output cell i covers rows
    [floor(i*H/OH), ceil((i+1)*H/OH)) and the same for columns. ``None`` in ``output_size``
    keeps that input size. ``return_indices``: also the int64 argmax, a flat index into each
    H*W plane (ties: the first maximum in row-major order).
    """
    op = "adaptive_max_pool2d"
    x, unbatched = _input(op, input)
    y, idx = AdaptiveMaxPool2dFn.apply(x, output_size=_output_size(op, x, output_size))
    y, idx = _result(y, 2, unbatched), _result(idx, 2, unbatched)
    return (y, idx) if return_indices else y


def adaptive_max_pool1d(input: Tensor, output_size: int | tuple[int],
                        return_indices: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """Max pooling of a sequence to a fixed length: (N, C, L) or (C, L) -> (N, C, OL), windows
    as :func:`adaptive_max_pool2d`; indices are positions along L."""
    op = "adaptive_max_pool1d"
    x, unbatched = _input(op, input, 1)
    y, idx = AdaptiveMaxPool2dFn.apply(x, output_size=_output_size(op, x, output_size, 1))
    y, idx = _result(y, 1, unbatched), _result(idx, 1, unbatched)
    return (y, idx) if return_indices else y


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
