"""2-D pooling: ``max_pool2d``, ``avg_pool2d``, ``adaptive_avg_pool2d``, ``global_avg_pool2d``,
``max_unpool2d`` (PyTorch names, arguments and floor-mode output sizes; no ceil_mode/dilation).

Functions and how they differentiate each other (so ``create_graph=True`` works):

    MaxPool2d            y = max over windows        dx = PlaneScatter(gy, argmax)
    PlaneScatter         z = scatter-add(src, idx)   dsrc = PlaneGather(gz, idx)
    PlaneGather          z = src[idx]                dsrc = PlaneScatter(gz, idx)
    AvgPool2d            y = window means            dx = AvgPool2dBackward(gy)
    AvgPool2dBackward    gx = spread gy / divisor    dgy = AvgPool2d(ggx)
    AdaptiveAvgPool2d / AdaptiveAvgPool2dBackward    the same pair for adaptive windows

Shapes: input (N, C, H, W) or unbatched (C, H, W); output (N, C, OH, OW) with
``OH = (H + 2*padding - kernel) // stride + 1``. Max-pool indices are flat positions in each
H*W plane (int64); ties go to the first maximum in row-major window order. Kernels live in
:mod:`minigrad.ops.kernels.cpu.pool` and :mod:`minigrad.ops.kernels.cuda.pool`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minigrad.autograd import Function
from minigrad.ops.kernels import kernels_for
from minigrad.ops.kernels.cpu import pool as K
from minigrad.ops.registry import OpInfo, Sample, register
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


class MaxPool2d(Function):
    """x: (N, C, H, W) -> (y, indices), both (N, C, OH, OW)."""

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
        return PlaneScatter.apply(gy, idx, plane_hw=ctx.input_hw)


class PlaneScatter(Function):
    """src, idx: (N, C, *S) -> (N, C, *plane_hw), src[..., k] added at plane index idx[..., k]."""

    @staticmethod
    def forward(ctx, src, idx, *, plane_hw: Pair):
        ctx.save_for_backward(idx)
        return kernels_for(src.data).pool.scatter_add_planes(src.data, idx.data, tuple(plane_hw))

    @staticmethod
    def backward(ctx, gz):
        (idx,) = ctx.saved_tensors
        return PlaneGather.apply(gz, idx), None


class PlaneGather(Function):
    """src: (N, C, H, W), idx: (N, C, *S) -> (N, C, *S) = src at flat plane index idx."""

    @staticmethod
    def forward(ctx, src, idx):
        ctx.save_for_backward(idx)
        ctx.plane_hw = src.shape[2:]
        return kernels_for(src.data).pool.gather_planes(src.data, idx.data)

    @staticmethod
    def backward(ctx, gz):
        (idx,) = ctx.saved_tensors
        return PlaneScatter.apply(gz, idx, plane_hw=ctx.plane_hw), None


class AvgPool2d(Function):
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
        return AvgPool2dBackward.apply(gy, input_hw=ctx.input_hw, **ctx.geometry)


class AvgPool2dBackward(Function):
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
        return AvgPool2d.apply(ggx, **ctx.geometry)


class AdaptiveAvgPool2d(Function):
    @staticmethod
    def forward(ctx, x, *, output_size: Pair):
        ctx.input_hw = x.shape[2:]
        return kernels_for(x.data).pool.adaptive_avg_pool2d_forward(x.data, tuple(output_size))

    @staticmethod
    def backward(ctx, gy):
        return AdaptiveAvgPool2dBackward.apply(gy, input_hw=ctx.input_hw)


class AdaptiveAvgPool2dBackward(Function):
    @staticmethod
    def forward(ctx, gy, *, input_hw: Pair):
        ctx.output_size = gy.shape[2:]
        return kernels_for(gy.data).pool.adaptive_avg_pool2d_backward(gy.data, tuple(input_hw))

    @staticmethod
    def backward(ctx, ggx):
        return AdaptiveAvgPool2d.apply(ggx, output_size=ctx.output_size)


# ------------------------------------------------------------------------------------------------
# Argument checking (before any kernel runs)


def _pair(op: str, name: str, v: Any) -> Pair:
    if isinstance(v, int | np.integer) and not isinstance(v, bool):
        return int(v), int(v)
    if (
        isinstance(v, tuple | list)
        and len(v) == 2
        and all(isinstance(e, int | np.integer) and not isinstance(e, bool) for e in v)
    ):
        return int(v[0]), int(v[1])
    raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {v!r}")


def _input(op: str, x: Any) -> tuple[Tensor, bool]:
    """The input as (N, C, H, W) and whether it was unbatched (C, H, W)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(x).__name__}")
    if x.dtype not in (np.float32, np.float64):
        raise TypeError(f"{op}: input must be float32 or float64, got {x.dtype}")
    if x.ndim not in (3, 4):
        raise ValueError(f"{op}: input must be (N, C, H, W) or (C, H, W), got shape {x.shape}")
    if 0 in x.shape[-2:] or (x.ndim == 4 and x.shape[1] == 0):
        raise ValueError(f"{op}: input has an empty spatial or channel axis: shape {x.shape}")
    return (x.reshape(1, *x.shape) if x.ndim == 3 else x), x.ndim == 3


def _geometry(op: str, x: Tensor, kernel_size: Any, stride: Any, padding: Any) -> tuple[Pair, ...]:
    k = _pair(op, "kernel_size", kernel_size)
    s = (
        k
        if stride is None or (isinstance(stride, tuple | list) and len(stride) == 0)
        else _pair(op, "stride", stride)
    )
    p = _pair(op, "padding", padding)
    if min(k) < 1:
        raise ValueError(f"{op}: kernel_size must be positive, got {k}")
    if min(s) < 1:
        raise ValueError(f"{op}: stride must be at least 1, got {s}")
    if min(p) < 0 or p[0] > k[0] // 2 or p[1] > k[1] // 2:
        raise ValueError(
            f"{op}: padding {p} must be non-negative and at most half the kernel size {k}"
        )
    h, w = x.shape[-2:]
    oh, ow = (K.pool_output_size(n, kk, ss, pp) for n, kk, ss, pp in zip((h, w), k, s, p))
    if oh < 1 or ow < 1:
        raise ValueError(
            f"{op}: kernel {k} is larger than the padded input {(h + 2 * p[0], w + 2 * p[1])} "
            f"(input shape {x.shape}, padding {p}); output would be {(oh, ow)}"
        )
    return k, s, p


# ------------------------------------------------------------------------------------------------
# Public functions


def max_pool2d(
    input: Tensor,
    kernel_size: int | Pair,
    stride: int | Pair | None = None,
    padding: int | Pair = 0,
    return_indices: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """Max over sliding windows. input: (N, C, H, W) or (C, H, W) -> (N, C, OH, OW).

    ``stride`` defaults to ``kernel_size``; padding (at most kernel_size // 2) is never selected.
    With ``return_indices`` also returns the int64 argmax, a flat index into each H*W plane.
    """
    x, unbatched = _input("max_pool2d", input)
    k, s, p = _geometry("max_pool2d", x, kernel_size, stride, padding)
    y, idx = MaxPool2d.apply(x, kernel=k, stride=s, padding=p)
    if unbatched:
        y, idx = y.reshape(*y.shape[1:]), idx.reshape(*idx.shape[1:])
    return (y, idx) if return_indices else y


def avg_pool2d(
    input: Tensor,
    kernel_size: int | Pair,
    stride: int | Pair | None = None,
    padding: int | Pair = 0,
    count_include_pad: bool = True,
) -> Tensor:
    """Mean over sliding windows. input: (N, C, H, W) or (C, H, W) -> (N, C, OH, OW).

    ``count_include_pad=True`` divides by the full window size (padding counts as zeros);
    ``False`` divides by the number of input elements in the window (PyTorch semantics).
    """
    x, unbatched = _input("avg_pool2d", input)
    k, s, p = _geometry("avg_pool2d", x, kernel_size, stride, padding)
    y = AvgPool2d.apply(x, kernel=k, stride=s, padding=p, count_include_pad=bool(count_include_pad))
    return y.reshape(*y.shape[1:]) if unbatched else y


def adaptive_avg_pool2d(input: Tensor, output_size: int | tuple[int | None, int | None]) -> Tensor:
    """Average pooling to a fixed output size. input: (N, C, H, W) -> (N, C, OH, OW).

    Output cell i covers rows [floor(i*H/OH), ceil((i+1)*H/OH)) (PyTorch's windows, which may
    overlap). ``None`` in ``output_size`` keeps that input size.
    """
    x, unbatched = _input("adaptive_avg_pool2d", input)
    if isinstance(output_size, int | np.integer) and not isinstance(output_size, bool):
        output_size = (int(output_size), int(output_size))
    if not (isinstance(output_size, tuple | list) and len(output_size) == 2):
        raise TypeError(
            f"adaptive_avg_pool2d: output_size must be an int or a pair, got {output_size!r}"
        )
    size = tuple(x.shape[2 + i] if o is None else o for i, o in enumerate(output_size))
    if not all(isinstance(o, int | np.integer) and o >= 1 for o in size):
        raise ValueError(f"adaptive_avg_pool2d: output_size must be positive, got {output_size}")
    y = AdaptiveAvgPool2d.apply(x, output_size=(int(size[0]), int(size[1])))
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
    if not isinstance(input, Tensor) or input.dtype not in (np.float32, np.float64):
        raise TypeError(f"{op}: input must be a float32/float64 Tensor")
    if not isinstance(indices, Tensor) or not np.issubdtype(indices.dtype, np.integer):
        raise TypeError(f"{op}: indices must be an integer Tensor")
    if indices.shape != input.shape:
        raise ValueError(f"{op}: indices shape {indices.shape} != input shape {input.shape}")
    x, unbatched = _input(op, input)
    idx = indices.reshape(*x.shape)
    k = _pair(op, "kernel_size", kernel_size)
    s = k if stride is None else _pair(op, "stride", stride)
    p = _pair(op, "padding", padding)
    if output_size is None:
        hw = tuple((x.shape[2 + d] - 1) * s[d] - 2 * p[d] + k[d] for d in (0, 1))
    else:
        hw = tuple(int(v) for v in tuple(output_size)[-2:])
    if min(hw) < 1:
        raise ValueError(f"{op}: output size {hw} must be positive")
    plane = hw[0] * hw[1]
    if idx.data.size and (idx.data.min() < 0 or idx.data.max() >= plane):
        raise ValueError(f"{op}: indices must lie in [0, {plane}) for output size {hw}")
    y = PlaneScatter.apply(x, Tensor._make(idx.data.astype(np.int64, copy=False)), plane_hw=hw)
    return y.reshape(*y.shape[1:]) if unbatched else y


# ------------------------------------------------------------------------------------------------
# Registry: NumPy-loop references written from the definitions, not from the kernels


def _ref_max_pool2d(x, kernel_size, stride=None, padding=0):
    k = _pair("ref", "k", kernel_size)
    s = k if stride is None else _pair("ref", "s", stride)
    p = _pair("ref", "p", padding)
    n, c, h, w = x.shape
    xp = np.full((n, c, h + 2 * p[0], w + 2 * p[1]), -np.inf)
    xp[:, :, p[0] : p[0] + h, p[1] : p[1] + w] = x
    oh, ow = (h + 2 * p[0] - k[0]) // s[0] + 1, (w + 2 * p[1] - k[1]) // s[1] + 1
    y = np.empty((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            win = xp[:, :, i * s[0] : i * s[0] + k[0], j * s[1] : j * s[1] + k[1]]
            y[:, :, i, j] = win.max(axis=(2, 3))
    return y


def _ref_avg_pool2d(x, kernel_size, stride=None, padding=0, count_include_pad=True):
    k = _pair("ref", "k", kernel_size)
    s = k if stride is None else _pair("ref", "s", stride)
    p = _pair("ref", "p", padding)
    n, c, h, w = x.shape
    xp = np.zeros((n, c, h + 2 * p[0], w + 2 * p[1]))
    ones = np.zeros((h + 2 * p[0], w + 2 * p[1]))
    xp[:, :, p[0] : p[0] + h, p[1] : p[1] + w] = x
    ones[p[0] : p[0] + h, p[1] : p[1] + w] = 1
    oh, ow = (h + 2 * p[0] - k[0]) // s[0] + 1, (w + 2 * p[1] - k[1]) // s[1] + 1
    y = np.empty((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            rows, cols = slice(i * s[0], i * s[0] + k[0]), slice(j * s[1], j * s[1] + k[1])
            count = k[0] * k[1] if count_include_pad else ones[rows, cols].sum()
            y[:, :, i, j] = xp[:, :, rows, cols].sum(axis=(2, 3)) / count
    return y


def _ref_adaptive_avg_pool2d(x, output_size):
    oh, ow = (output_size, output_size) if isinstance(output_size, int) else output_size
    n, c, h, w = x.shape
    y = np.empty((n, c, oh, ow))
    for i in range(oh):
        r0, r1 = int(np.floor(i * h / oh)), int(np.ceil((i + 1) * h / oh))
        for j in range(ow):
            c0, c1 = int(np.floor(j * w / ow)), int(np.ceil((j + 1) * w / ow))
            y[:, :, i, j] = x[:, :, r0:r1, c0:c1].mean(axis=(2, 3))
    return y


def _ref_max_unpool_roundtrip(x, kernel_size):
    """max_unpool2d(max_pool2d(x)): keep each window's maximum in place, zero elsewhere."""
    k = kernel_size
    n, c, h, w = x.shape
    out = np.zeros_like(x)
    for i in range(h // k):
        for j in range(w // k):
            win = x[:, :, i * k : (i + 1) * k, j * k : (j + 1) * k]
            m = win.max(axis=(2, 3), keepdims=True)
            out[:, :, i * k : (i + 1) * k, j * k : (j + 1) * k] += np.where(win == m, win, 0)
    return out


def _distinct(d, shape):
    """Values spaced 0.2 apart in random order (window maxima are unique: no ties)."""
    from hypothesis import strategies as st

    n = int(np.prod(shape))
    perm = np.asarray(d(st.permutations(range(n))), dtype=np.float64)
    return (perm * 0.2 - 0.1 * n).reshape(shape)


def _pool_samples(kind: str):
    def strategy():
        from hypothesis import strategies as st

        @st.composite
        def draw(d):
            kh, kw = d(st.integers(1, 3)), d(st.integers(1, 3))
            sh, sw = d(st.integers(1, 3)), d(st.integers(1, 3))
            ph, pw = d(st.integers(0, kh // 2)), d(st.integers(0, kw // 2))
            h = d(st.integers(max(1, kh - 2 * ph), 6))
            w = d(st.integers(max(1, kw - 2 * pw), 6))
            shape = (d(st.integers(1, 2)), d(st.integers(1, 2)), h, w)
            kwargs: dict[str, Any] = {
                "kernel_size": (kh, kw),
                "stride": (sh, sw),
                "padding": (ph, pw),
            }
            if kind == "avg":
                kwargs["count_include_pad"] = d(st.booleans())
            if kind == "unpool":
                k = d(st.integers(1, 3))
                shape = shape[:2] + (k * d(st.integers(1, 3)), k * d(st.integers(1, 3)))
                kwargs = {"kernel_size": k}
            return Sample((_distinct(d, shape),), kwargs)

        return draw()

    return strategy


def _adaptive_samples():
    from hypothesis import strategies as st

    @st.composite
    def draw(d):
        shape = (
            d(st.integers(1, 2)),
            d(st.integers(1, 2)),
            d(st.integers(1, 7)),
            d(st.integers(1, 7)),
        )
        out = (d(st.integers(1, shape[2] + 1)), d(st.integers(1, shape[3] + 1)))
        return Sample((d(_arrays(shape)),), {"output_size": out})

    return draw()


def _arrays(shape):
    from minigrad.testing import strategies as S

    return S.arrays(shape)


def _global_samples():
    from minigrad.testing import strategies as S

    return S.arrays(S.shapes(min_dims=4, max_dims=4)).map(lambda a: Sample((a,)))


def _unpool_roundtrip(x, kernel_size):
    y, idx = max_pool2d(x, kernel_size, return_indices=True)
    return max_unpool2d(y, idx, kernel_size, output_size=x.shape)


register(
    OpInfo(
        "max_pool2d",
        max_pool2d,
        _pool_samples("max"),
        ref=_ref_max_pool2d,
        kinks="ties in a window: the first maximum (row-major) takes the gradient",
    )
)
register(OpInfo("avg_pool2d", avg_pool2d, _pool_samples("avg"), ref=_ref_avg_pool2d))
register(
    OpInfo(
        "adaptive_avg_pool2d", adaptive_avg_pool2d, _adaptive_samples, ref=_ref_adaptive_avg_pool2d
    )
)
register(
    OpInfo(
        "global_avg_pool2d",
        global_avg_pool2d,
        _global_samples,
        ref=lambda x: x.mean(axis=(2, 3), keepdims=True),
    )
)
register(
    OpInfo(
        "max_unpool2d",
        _unpool_roundtrip,
        _pool_samples("unpool"),
        ref=_ref_max_unpool_roundtrip,
        kinks="ties in a window (values drawn distinct)",
    )
)
