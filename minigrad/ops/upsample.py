"""Upsampling: ``interpolate`` (nearest, nearest-exact, linear, bilinear, area), ``pixel_shuffle``
and ``pixel_unshuffle`` (PyTorch names, arguments, output sizes and coordinate rules).

An interpolation resamples each spatial axis on its own (it is separable), so one Function pair
does all modes, one axis at a time:

    InterpolateFn      y = resample(x) along one axis      dx = InterpolateGradFn(gy)
    InterpolateGradFn  gx = resample^T(gy) (scatter-add)   dgy = InterpolateFn(ggx)

Both are linear, each the other's transpose, so gradients of any order work. What differs
between the modes is only the table of taps each output position reads (:class:`Taps`), built
here from PyTorch's rules; the kernels (``kernels/cpu/upsample.py`` and its CUDA twin) apply a
table. ``area`` is adaptive average pooling, as in PyTorch. ``pixel_shuffle``/
``pixel_unshuffle`` are a reshape, a permutation of axes and a reshape (views of the core shape
ops, no Function of their own).

Shapes: input (N, C, L) (one spatial axis: nearest, nearest-exact, linear, area) or
(N, C, H, W) (two: nearest, nearest-exact, bilinear, area), as in PyTorch (no unbatched form).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from minigrad.autograd import Function
from minigrad.ops._args import float_tensor, integer, ntuple
from minigrad.ops.kernels import kernels_for
from minigrad.tensor import Tensor

__all__ = ["interpolate", "pixel_shuffle", "pixel_unshuffle", "Taps", "nearest_taps",
           "linear_taps", "InterpolateFn", "InterpolateGradFn", "MODES"]

MODES = ("nearest", "nearest-exact", "linear", "bilinear", "area")
_INTERPOLATING = ("linear", "bilinear", "bicubic", "trilinear")  # modes that take align_corners


# ------------------------------------------------------------------------------------------------
# Tables of taps: where each output position reads the input, along one axis


@dataclass(frozen=True, eq=False)
class Taps:
    """The taps of one axis: output position ``o`` reads ``w0[o] * x[i0[o]] + w1[o] * x[i1[o]]``
    (nearest modes: ``x[i0[o]]``, and ``i1``, ``w0``, ``w1`` are None).

    ``i0``, ``i1``: int64 (OL,) positions in [0, length); ``w0``, ``w1``: (OL,) in the input's
    dtype.
    """

    mode: str
    length: int
    i0: np.ndarray
    i1: np.ndarray | None = None
    w0: np.ndarray | None = None
    w1: np.ndarray | None = None

    def __repr__(self) -> str:  # what explain() and graph reprs show
        return f"Taps({self.mode}, {self.length} -> {self.i0.size})"


def _f(dtype: np.dtype) -> type:
    """PyTorch's ``opmath`` type for the coordinate arithmetic: float32 for float32 data."""
    return np.float32 if np.dtype(dtype) == np.float32 else np.float64


def _nearest_scale(n_in: int, n_out: int, scale: float | None, f: type) -> Any:
    """Input positions per output position: ``1 / scale_factor`` when the caller's scale factor
    is used, else ``n_in / n_out`` (PyTorch's ``compute_scales_value``), in ``f``."""
    return f(1.0 / scale) if scale is not None and scale > 0 else f(n_in) / f(n_out)


def nearest_taps(n_in: int, n_out: int, scale: float | None, exact: bool,
                 dtype: Any = np.float64) -> Taps:
    """PyTorch's nearest-neighbour source index of each output position.

    ``nearest`` (OpenCV's rule, PyTorch's default): ``floor(o * s)``; ``nearest-exact`` (Pillow's,
    scikit-image's): ``floor((o + 0.5) * s)``, both clipped to ``n_in - 1``, with ``s`` from
    :func:`_nearest_scale`. PyTorch floors a float32 value (``floorf``) even for float64 data and
    computes ``(o + 0.5) * s - 0.5`` with one rounding (a fused multiply-add); the same roundings
    are reproduced here so that every index agrees with PyTorch's.
    """
    f = _f(dtype)
    s = _nearest_scale(n_in, n_out, scale, f)
    o = np.arange(n_out)
    if exact:
        real = np.maximum(f(np.float64(s) * (o + 0.5) - 0.5), f(0))
        src = (real + f(0.5)).astype(np.float32)
    else:
        src = (o.astype(f) * s).astype(np.float32)
    idx = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    return Taps("nearest-exact" if exact else "nearest", n_in, idx)


def linear_taps(n_in: int, n_out: int, scale: float | None, align_corners: bool,
                dtype: Any = np.float64) -> Taps:
    """PyTorch's linear-interpolation taps of each output position.

    The source coordinate is ``o * (n_in - 1) / (n_out - 1)`` with ``align_corners`` (the corner
    pixels' centres line up), else ``(o + 0.5) * s - 0.5`` clipped at 0 (pixel areas line up;
    ``s = 1 / scale_factor`` or ``n_in / n_out``). It falls between ``i0 = floor`` and
    ``i1 = i0 + 1`` (``i0`` at the last pixel), weighted ``1 - frac`` and ``frac``. An axis whose
    size does not change is copied (``i0 = i1 = o``), as PyTorch does whatever the scale factor.
    """
    f = _f(dtype)
    o = np.arange(n_out)
    if n_out == n_in:
        return Taps("linear", n_in, o, o, np.ones(n_out, f), np.zeros(n_out, f))
    if align_corners:
        s = f(n_in - 1) / f(n_out - 1) if n_out > 1 else f(0)
        real = s * o.astype(f)
    else:
        s = _nearest_scale(n_in, n_out, scale, f)
        real = np.maximum(s * (o.astype(f) + f(0.5)) - f(0.5), f(0))
    i0 = np.minimum(np.floor(real.astype(np.float32)).astype(np.int64), n_in - 1)
    w1 = np.clip(real - i0, 0, 1).astype(f)
    i1 = i0 + (i0 < n_in - 1)
    return Taps("linear", n_in, i0, i1, (f(1) - w1).astype(f), w1)


# ------------------------------------------------------------------------------------------------
# Functions


def _weights(taps: Taps, dtype: np.dtype) -> tuple[Any, Any]:
    if taps.w0 is None:
        return None, None
    return taps.w0.astype(dtype, copy=False), taps.w1.astype(dtype, copy=False)


class InterpolateFn(Function):
    """x: (..., L, ...) -> (..., OL, ...) along ``axis``, each output a tap or a blend of two
    (see :class:`Taps`)."""

    kinks = "none: linear in the input"

    @staticmethod
    def forward(ctx, x, *, axis: int, taps: Taps):
        ctx.axis, ctx.taps = axis, taps
        return kernels_for(x.data).upsample.resample_forward(x.data, axis, taps.i0, taps.i1,
                                                             *_weights(taps, x.dtype))

    @staticmethod
    def backward(ctx, gy):
        return InterpolateGradFn.apply(gy, axis=ctx.axis, taps=ctx.taps)


class InterpolateGradFn(Function):
    """gy: (..., OL, ...) -> gx: (..., L, ...): each output's gradient added back to the input
    positions it read, with the same weights (the transpose of :class:`InterpolateFn`)."""

    @staticmethod
    def forward(ctx, gy, *, axis: int, taps: Taps):
        ctx.axis, ctx.taps = axis, taps
        return kernels_for(gy.data).upsample.resample_backward(
            gy.data, axis, taps.length, taps.i0, taps.i1, *_weights(taps, gy.dtype))

    @staticmethod
    def backward(ctx, ggx):
        return InterpolateFn.apply(ggx, axis=ctx.axis, taps=ctx.taps)


# ------------------------------------------------------------------------------------------------
# interpolate


def _scale_factors(op: str, scale_factor: Any, spatial: int, shape: tuple[int, ...]
                   ) -> tuple[float, ...]:
    if isinstance(scale_factor, Sequence) and not isinstance(scale_factor, str):
        values = tuple(scale_factor)
        if len(values) != spatial:
            raise ValueError(f"{op}: scale_factor must give one factor per spatial axis "
                             f"({spatial} for input shape {shape}), got {scale_factor!r}")
    else:
        values = (scale_factor,) * spatial
    for v in values:
        if not isinstance(v, numbers.Real) or isinstance(v, bool | np.bool_):
            raise TypeError(f"{op}: scale_factor must be a number or a tuple of numbers, got "
                            f"{scale_factor!r}")
        if not math.isfinite(v) or v <= 0:
            raise ValueError(f"{op}: scale_factor must be finite and > 0, got {scale_factor!r}")
    return tuple(float(v) for v in values)


def _sizes(op: str, x: Tensor, size: Any, scale_factor: Any, recompute_scale_factor: Any
           ) -> tuple[tuple[int, ...], tuple[float | None, ...]]:
    """The output's spatial size and, per axis, the scale factor the coordinate rules use (None:
    recomputed from the sizes), by PyTorch's rules."""
    spatial, in_sizes = x.ndim - 2, x.shape[2:]
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{op}: give exactly one of size and scale_factor, got size={size!r}, "
                         f"scale_factor={scale_factor!r}")
    if size is not None:
        if recompute_scale_factor:
            raise ValueError(f"{op}: recompute_scale_factor is not meaningful with an explicit "
                             f"size (as in PyTorch)")
        out = ntuple(op, "size", size, spatial, minimum=1)
        return out, (None,) * spatial
    factors = _scale_factors(op, scale_factor, spatial, x.shape)
    out = tuple(math.floor(n * s) for n, s in zip(in_sizes, factors))
    if min(out) < 1:
        raise ValueError(f"{op}: scale_factor {scale_factor!r} makes the output size {out} empty "
                         f"for input shape {x.shape} (output size = floor(input size * "
                         f"scale_factor))")
    return out, ((None,) * spatial if recompute_scale_factor else factors)


def interpolate(input: Tensor, size: int | Sequence[int] | None = None,
                scale_factor: float | Sequence[float] | None = None, mode: str = "nearest",
                align_corners: bool | None = None, recompute_scale_factor: bool | None = None,
                antialias: bool = False) -> Tensor:
    """Resize the spatial axes of ``input``, as ``torch.nn.functional.interpolate``.

    input: (N, C, L) or (N, C, H, W). Give ``size`` (an int or one int per spatial axis) or
    ``scale_factor`` (a number or one per axis; output size ``floor(input size * factor)``).
    Returns (N, C, OL) or (N, C, OH, OW) in the input's dtype.

    mode: ``'nearest'`` (PyTorch's default: ``src = floor(dst * in / out)``, which shifts the image
    by up to a pixel; kept for compatibility), ``'nearest-exact'`` (``floor((dst + 0.5) * in /
    out)``, pixel centres line up), ``'linear'`` (3-D input), ``'bilinear'`` (4-D) or ``'area'``
    (adaptive average pooling to the output size). ``align_corners`` (linear modes only, default
    False): True maps the corner pixels' centres onto each other, False the pixel areas' edges.
    With a ``scale_factor`` the coordinates use ``1 / scale_factor`` (PyTorch's default
    ``recompute_scale_factor=None``), which can differ from ``in / out`` when the product is not
    a whole number; ``recompute_scale_factor=True`` uses ``in / out``.

    Differences from PyTorch: ``bicubic``, ``trilinear`` (5-D input) and ``antialias=True`` are
    not supported (a ValueError says so).
    """
    op = "interpolate"
    x = float_tensor(op, "input", input)
    if not isinstance(mode, str):
        raise TypeError(f"{op}: mode must be a string, got {mode!r}")
    if mode in ("bicubic", "trilinear"):
        raise ValueError(f"{op}: mode={mode!r} is not supported (modes: {MODES})")
    if mode not in MODES:
        raise ValueError(f"{op}: mode must be one of {MODES}, got {mode!r}")
    if x.ndim == 5:
        raise ValueError(f"{op}: 3-D spatial inputs (N, C, D, H, W) are not supported, got shape "
                         f"{x.shape}")
    if x.ndim not in (3, 4):
        raise ValueError(f"{op}: input must be (N, C, L) or (N, C, H, W), got shape {x.shape}")
    if mode == "linear" and x.ndim != 3:
        raise ValueError(f"{op}: mode='linear' needs a 3-D input (N, C, L), got shape {x.shape} "
                         f"(use 'bilinear' for (N, C, H, W))")
    if mode == "bilinear" and x.ndim != 4:
        raise ValueError(f"{op}: mode='bilinear' needs a 4-D input (N, C, H, W), got shape "
                         f"{x.shape} (use 'linear' for (N, C, L))")
    if align_corners is not None:
        if mode not in _INTERPOLATING:
            raise ValueError(f"{op}: align_corners can only be set with the interpolating modes "
                             f"linear | bilinear, not mode={mode!r}")
        if not isinstance(align_corners, bool | np.bool_):
            raise TypeError(f"{op}: align_corners must be a bool or None, got {align_corners!r}")
    if antialias:
        raise ValueError(f"{op}: antialias=True is not supported")
    if 0 in x.shape[1:]:
        raise ValueError(f"{op}: input has an empty channel or spatial axis: shape {x.shape}")
    out_sizes, scales = _sizes(op, x, size, scale_factor, recompute_scale_factor)

    if mode == "area":
        from minigrad.ops.pool import adaptive_avg_pool1d, adaptive_avg_pool2d

        pool = adaptive_avg_pool1d if x.ndim == 3 else adaptive_avg_pool2d
        return pool(x, out_sizes if x.ndim == 4 else out_sizes[0])
    y = x
    for d, (n_in, n_out, scale) in enumerate(zip(x.shape[2:], out_sizes, scales)):
        if mode in ("nearest", "nearest-exact"):
            taps = nearest_taps(n_in, n_out, scale, mode == "nearest-exact", x.dtype)
        else:
            taps = linear_taps(n_in, n_out, scale, bool(align_corners), x.dtype)
        y = InterpolateFn.apply(y, axis=2 + d, taps=taps)
    return y


# ------------------------------------------------------------------------------------------------
# pixel shuffle


def _shuffle_input(op: str, input: Any, factor_name: str, factor: Any) -> tuple[Tensor, int]:
    x = float_tensor(op, "input", input)
    r = integer(op, factor_name, factor, minimum=1)
    if x.ndim < 3:
        raise ValueError(f"{op}: input must be (*, C, H, W) with at least 3 dimensions, got "
                         f"shape {x.shape}")
    return x, r


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """(*, C * r^2, H, W) -> (*, C, H * r, W * r), r = ``upscale_factor``: each group of r^2
    channels becomes an r x r block of pixels (the sub-pixel convolution of ESPCN), as
    ``torch.nn.functional.pixel_shuffle``. Output channel c, pixel (h*r + i, w*r + j) is input
    channel c*r^2 + i*r + j, pixel (h, w)."""
    op = "pixel_shuffle"
    x, r = _shuffle_input(op, input, "upscale_factor", upscale_factor)
    *lead, c, h, w = x.shape
    if c % (r * r):
        raise ValueError(f"{op}: the channel axis ({c}, input shape {x.shape}) must be divisible "
                         f"by upscale_factor^2 = {r * r}")
    n = len(lead)
    y = x.reshape(*lead, c // (r * r), r, r, h, w)
    y = y.permute(*range(n), n, n + 3, n + 1, n + 4, n + 2)  # (*, C, H, r, W, r)
    return y.reshape(*lead, c // (r * r), h * r, w * r)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """(*, C, H * r, W * r) -> (*, C * r^2, H, W): the inverse of :func:`pixel_shuffle`, as
    ``torch.nn.functional.pixel_unshuffle``."""
    op = "pixel_unshuffle"
    x, r = _shuffle_input(op, input, "downscale_factor", downscale_factor)
    *lead, c, h, w = x.shape
    if h % r or w % r:
        raise ValueError(f"{op}: height and width ({h}, {w}; input shape {x.shape}) must be "
                         f"divisible by downscale_factor = {r}")
    n = len(lead)
    y = x.reshape(*lead, c, h // r, r, w // r, r)
    y = y.permute(*range(n), n, n + 2, n + 4, n + 1, n + 3)  # (*, C, r, r, H, W)
    return y.reshape(*lead, c * r * r, h // r, w // r)
