"""Batch-norm kernels on (N, C, S) arrays (S = the flattened spatial axes, 1 for (N, C) input).

Channels are independent and run in parallel; each channel's data is N contiguous runs of S
elements, reduced with the vectorized float64 sums of the softmax module. The variance is the
two-pass ``mean((x - mean)^2)`` (no cancellation for large means).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit, prange

from minigrad.ops.kernels import api
from minigrad.ops.kernels.cpu._jit import kernel, wide_vectors
from minigrad.ops.kernels.cpu.softmax import lane_dot, lane_sum

__all__ = list(api.NORM)


@njit(cache=True, error_model="numpy", fastmath={"reassoc", "contract"})
def _sum_sq_dev(a, m):
    """sum((a - m)^2) over a 1-D array in float64, order left to LLVM (as softmax.lane_sum)."""
    wide_vectors()
    s = 0.0
    for k in range(a.size):
        d = a[k] - m
        s += d * d
    return s


@kernel
def _stats(x, mean, var):
    n, c, s = x.shape
    for ch in prange(c):
        total = 0.0
        for i in range(n):
            total += lane_sum(x[i, ch])
        m = total / (n * s)
        sq = 0.0
        for i in range(n):
            sq += _sum_sq_dev(x[i, ch], m)
        mean[ch] = m
        var[ch] = sq / (n * s)


@kernel
def _normalize(x, mean, scale, bias, y):
    # (x - mean) * scale + bias in float64: the folded form x * scale + shift cancels
    # catastrophically in float32 when |mean| >> std (measured 3e-3 relative error at mean 1e3,
    # std 1e-2); float64 per element costs little, the loop is memory-bound
    n, c, s = x.shape
    for ch in prange(c):
        m, sc, b = mean[ch], scale[ch], bias[ch]
        for i in range(n):
            for k in range(s):
                y[i, ch, k] = (x[i, ch, k] - m) * sc + b


@kernel
def _backward(g, x, mean, invstd, weight, gx, gw, gb):
    n, c, s = x.shape
    count = n * s
    for ch in prange(c):
        sum_g = 0.0
        sum_gx = 0.0
        for i in range(n):
            sum_g += lane_sum(g[i, ch])
            sum_gx += lane_dot(g[i, ch], x[i, ch])
        # sum(g * xhat) with xhat = (x - mean) * invstd
        sum_gxhat = (sum_gx - mean[ch] * sum_g) * invstd[ch]
        gb[ch] = sum_g
        gw[ch] = sum_gxhat
        # gx = w * invstd * (g - mean(g) - xhat * mean(g * xhat)) as k*g + q*(x - mean) + r, in
        # float64 for the same reason as the forward
        k = weight[ch] * invstd[ch]
        q = -k * invstd[ch] * sum_gxhat / count
        r = -k * sum_g / count
        m = mean[ch]
        for i in range(n):
            for j in range(s):
                gx[i, ch, j] = k * g[i, ch, j] + q * (x[i, ch, j] - m) + r


def _ncs(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x).reshape(x.shape[0], x.shape[1], -1)


def batch_stats(x: np.ndarray, eps: float, running_mean: np.ndarray | None = None,
                running_var: np.ndarray | None = None,
                momentum: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and ``1/sqrt(biased var + eps)`` (float64 (C,)) of x: (N, C, *).

    Updates ``running_mean`` / ``running_var`` ((C,), any float dtype) in place when given:
    ``running = (1 - momentum) * running + momentum * stat``, the variance unbiased.
    """
    c = x.shape[1]
    mean, var = np.empty(c), np.empty(c)
    _stats(_ncs(x), mean, var)
    count = x.size // c
    if running_mean is not None:
        running_mean[...] = (1 - momentum) * running_mean + momentum * mean
    if running_var is not None:
        running_var[...] = (1 - momentum) * running_var + momentum * var * (count / (count - 1))
    return mean, 1.0 / np.sqrt(var + eps)


def batch_norm_forward(x: np.ndarray, mean: np.ndarray, invstd: np.ndarray,
                       weight: np.ndarray | None = None,
                       bias: np.ndarray | None = None) -> np.ndarray:
    """y = (x - mean) * invstd * weight + bias per channel. x: (N, C, *); others (C,) or None
    (weight 1, bias 0)."""
    y = np.empty(x.shape, dtype=x.dtype)
    f64 = np.float64
    c = x.shape[1]
    w = np.ones(c) if weight is None else weight.astype(f64)
    b = np.zeros(c) if bias is None else bias.astype(f64)
    scale = invstd.astype(f64) * w
    _normalize(_ncs(x), mean.astype(f64), scale, b, y.reshape(y.shape[0], y.shape[1], -1))
    return y


def batch_norm_backward(g: np.ndarray, x: np.ndarray, mean: np.ndarray, invstd: np.ndarray,
                        weight: np.ndarray | None = None,
                        param_dtype: Any = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Training-mode gradients: gx (N, C, *) in x.dtype; gweight, gbias (C,) in
    ``param_dtype`` (default x.dtype), summed in float64."""
    c = x.shape[1]
    gx = np.empty(x.shape, dtype=x.dtype)
    gw, gb = np.empty(c), np.empty(c)
    f64 = np.float64
    _backward(
        _ncs(g.astype(x.dtype, copy=False)),
        _ncs(x),
        mean.astype(f64),
        invstd.astype(f64),
        np.ones(c) if weight is None else weight.astype(f64),
        gx.reshape(x.shape[0], c, -1),
        gw,
        gb,
    )
    pdt = x.dtype if param_dtype is None else np.dtype(param_dtype)
    return gx, gw.astype(pdt), gb.astype(pdt)
