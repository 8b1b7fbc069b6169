"""Normalisation kernels: batch norm on (N, C, S) arrays (S = the flattened spatial axes, 1 for
(N, C) input), layer norm on (M, D) rows and group norm on (N, C, S) arrays.

Batch norm: channels are independent and run in parallel; each channel's data is N contiguous
runs of S elements, reduced with the vectorized float64 sums of the softmax module. The variance
is the two-pass ``mean((x - mean)^2)`` (no cancellation for large means).

Layer norm and group norm normalise independent rows of contiguous elements: layer norm the rows
of an (M, D) array (D = the product of ``normalized_shape``), group norm the rows of an
(N*G, C/G * S) view of an (N, C, S) array (one row per sample and group of channels). They differ
in the affine map: per element of the row for layer norm (``w[j]``), per channel for group norm
(``w[c]``, shared by the channel's S elements).

* forward: per row the mean (``lane_sum``) and the two-pass biased variance in float64, then
  ``y = (x - mean) * rstd * w + b`` in x's dtype with the mean split in two (``mean = hi + lo``,
  both of x's dtype): ``(x - hi) - lo`` is the deviation to about one rounding even when
  ``abs(mean) >> std``, where both the folded ``x * scale + shift`` and ``x - float32(mean)``
  cancel. (Evaluating it in float64 instead made layer norm 1.2x slower than torch's at
  (8192, 512) float32: half as many values per vector.) Rows run in parallel.
* backward, with ``xhat = (x - mean) * rstd`` and ``gh = g * w``::

      gx = rstd * (gh - mean(gh) - xhat * mean(gh * xhat))      (means over the row)
      gweight = sum over rows of g * xhat,   gbias = sum over rows of g

  Layer norm's parameter gradients are column sums over the rows: each of a fixed number of row
  chunks (``_CHUNKS``, set by the shape only, so the result does not depend on the thread count)
  accumulates its own float64 partial row, and the partials are added at the end. Group norm's
  are per-channel sums: one ``(N, C)`` float64 partial per sample, summed over N.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit, prange

from minigrad.ops.kernels import api
from minigrad.ops.kernels.cpu._jit import kernel, of_dtype, wide_vectors
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
    """Per-channel mean and ``1/sqrt(biased var + eps)`` (float64 (C,)) of ``x: (N, C, *)``.

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
    """y = (x - mean) * invstd * weight + bias per channel. ``x: (N, C, *)``; others (C,) or None
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
    """Training-mode gradients: gx ``(N, C, *)`` in x.dtype; gweight, gbias (C,) in
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


# ------------------------------------------------------------------------------------------------
# layer norm and group norm

_CHUNKS = 32  # row chunks of layer norm's parameter-gradient partial sums


@njit(cache=True, error_model="numpy", fastmath={"reassoc", "contract"})
def _row_gw_sums(g, w, x, m):
    """(sum g*w, sum g*w*(x - m)) over 1-D arrays, in float64."""
    wide_vectors()
    a = 0.0
    c = 0.0
    for k in range(g.size):
        gh = np.float64(g[k]) * w[k]
        a += gh
        c += gh * (x[k] - m)
    return a, c


@njit(cache=True, inline="always")
def _row_stats(v, eps):
    """(mean, 1/sqrt(biased variance + eps)) of the 1-D array v, two passes in float64: a layer
    norm row, or a group norm group's (channels x positions) block."""
    mu = lane_sum(v) / v.size
    return mu, 1.0 / np.sqrt(_sum_sq_dev(v, mu) / v.size + eps)


@njit(cache=True, inline="always")
def _split_mean(mu, x):
    """The float64 mean ``mu`` as ``hi + lo``, both of x's dtype (lo = 0 for float64 x)."""
    hi = of_dtype(mu, x)
    return hi, of_dtype(mu - hi, x)


@kernel
def _ln_forward(x, w, b, eps, y, mean, rstd):
    m, d = x.shape
    for i in prange(m):
        wide_vectors()
        mu, r = _row_stats(x[i], eps)
        mean[i] = mu
        rstd[i] = r
        (hi, lo), r_ = _split_mean(mu, x), of_dtype(r, x)
        for j in range(d):
            y[i, j] = ((x[i, j] - hi) - lo) * (r_ * w[j]) + b[j]


@kernel
def _ln_backward(g, x, mean, rstd, w, gx, pw, pb):
    m, d = x.shape
    chunks = pw.shape[0]
    for c in prange(chunks):
        wide_vectors()
        for i in range(c * m // chunks, (c + 1) * m // chunks):
            mu = mean[i]
            r = rstd[i]
            a, cc = _row_gw_sums(g[i], w, x[i], mu)
            # gx = r * (g*w - a/d - xhat * r*cc/d) = k_j*g + q*(x - mu) + s
            q = -r * r * r * cc / d
            s = -r * a / d
            for j in range(d):
                gv = np.float64(g[i, j])
                xc = x[i, j] - mu
                gx[i, j] = (r * w[j]) * gv + q * xc + s
                pw[c, j] += gv * (xc * r)
                pb[c, j] += gv


@kernel
def _gn_forward(x, xr, groups, w, b, eps, y, mean, rstd):
    _, ch, s = x.shape
    cg = ch // groups
    for row in prange(xr.shape[0]):
        wide_vectors()
        i = row // groups
        grp = row - i * groups
        mu, r = _row_stats(xr[row], eps)
        mean[row] = mu
        rstd[row] = r
        hi, lo = _split_mean(mu, x)  # as layer norm's
        for c in range(grp * cg, (grp + 1) * cg):
            sc = of_dtype(r * w[c], x)
            sh = of_dtype(b[c], x)
            for j in range(s):
                y[i, c, j] = ((x[i, c, j] - hi) - lo) * sc + sh


@kernel
def _gn_backward(g, x, groups, mean, rstd, w, gx, pw, pb):
    n, ch, s = x.shape
    cg = ch // groups
    k = cg * s
    for row in prange(n * groups):
        wide_vectors()
        i = row // groups
        grp = row - i * groups
        mu = mean[row]
        r = rstd[row]
        a = 0.0
        cc = 0.0
        for c in range(grp * cg, (grp + 1) * cg):
            sg = lane_sum(g[i, c])
            sgxh = (lane_dot(g[i, c], x[i, c]) - mu * sg) * r  # sum over the channel of g * xhat
            pb[i, c] = sg
            pw[i, c] = sgxh
            a += w[c] * sg
            cc += w[c] * sgxh
        # gx = r * (g*w[c] - a/k - xhat * cc/k) = kc*g + q*(x - mu) + t
        q = -r * r * cc / k
        t = -r * a / k
        for c in range(grp * cg, (grp + 1) * cg):
            kc = r * w[c]
            for j in range(s):
                gx[i, c, j] = kc * g[i, c, j] + q * (x[i, c, j] - mu) + t


def _affine(v: np.ndarray | None, n: int, fill: float,
            dtype: np.dtype = np.float64) -> np.ndarray:
    """A weight or bias as a vector of ``dtype`` (``fill`` when absent)."""
    return np.full(n, fill, dtype) if v is None else np.ascontiguousarray(v, dtype=dtype)


def layer_norm_forward(x: np.ndarray, weight: np.ndarray | None, bias: np.ndarray | None,
                       eps: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Normalise each row of x: (M, D) and apply ``weight``, ``bias`` (D,) (None: 1 and 0).

    Returns y (M, D) in x.dtype, mean (M,) and rstd = 1/sqrt(var + eps) (M,) in float64.
    """
    x = np.ascontiguousarray(x)
    m, d = x.shape
    y = np.empty_like(x)
    mean, rstd = np.empty(m), np.empty(m)
    _ln_forward(x, _affine(weight, d, 1.0, x.dtype), _affine(bias, d, 0.0, x.dtype), float(eps),
                y, mean, rstd)
    return y, mean, rstd


def layer_norm_backward(g: np.ndarray, x: np.ndarray, mean: np.ndarray, rstd: np.ndarray,
                        weight: np.ndarray | None, param_dtype: np.dtype
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of layer norm: gx (M, D) in x.dtype; gweight, gbias (D,) in ``param_dtype``.

    g, x: (M, D); mean, rstd: (M,) float64 from the forward; weight (D,) or None.
    """
    x = np.ascontiguousarray(x)
    m, d = x.shape
    g = np.ascontiguousarray(g, dtype=x.dtype)
    gx = np.empty_like(x)
    chunks = max(1, min(m, _CHUNKS))
    pw, pb = np.zeros((chunks, d)), np.zeros((chunks, d))
    _ln_backward(g, x, np.ascontiguousarray(mean, dtype=np.float64),
                 np.ascontiguousarray(rstd, dtype=np.float64), _affine(weight, d, 1.0), gx, pw, pb)
    return gx, pw.sum(axis=0).astype(param_dtype), pb.sum(axis=0).astype(param_dtype)


def group_norm_forward(x: np.ndarray, num_groups: int, weight: np.ndarray | None,
                       bias: np.ndarray | None, eps: float
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Normalise each group of channels of each sample: x (N, C, S), C divisible by
    ``num_groups``; weight, bias (C,) or None.

    Returns y (N, C, S) in x.dtype, mean and rstd (N, num_groups) in float64.
    """
    x = np.ascontiguousarray(x)
    n, c, s = x.shape
    y = np.empty_like(x)
    mean, rstd = np.empty(n * num_groups), np.empty(n * num_groups)
    _gn_forward(x, x.reshape(n * num_groups, -1), num_groups, _affine(weight, c, 1.0),
                _affine(bias, c, 0.0), float(eps), y, mean, rstd)
    return y, mean.reshape(n, num_groups), rstd.reshape(n, num_groups)


def group_norm_backward(g: np.ndarray, x: np.ndarray, num_groups: int, mean: np.ndarray,
                        rstd: np.ndarray, weight: np.ndarray | None, param_dtype: np.dtype
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of group norm: gx (N, C, S) in x.dtype; gweight, gbias (C,) in
    ``param_dtype``. mean, rstd: (N, num_groups) float64 from the forward."""
    x = np.ascontiguousarray(x)
    n, c, _ = x.shape
    g = np.ascontiguousarray(g, dtype=x.dtype)
    gx = np.empty_like(x)
    pw, pb = np.empty((n, c)), np.empty((n, c))
    _gn_backward(g, x, num_groups, np.ascontiguousarray(mean, dtype=np.float64).reshape(-1),
                 np.ascontiguousarray(rstd, dtype=np.float64).reshape(-1), _affine(weight, c, 1.0),
                 gx, pw, pb)
    return gx, pw.sum(axis=0).astype(param_dtype), pb.sum(axis=0).astype(param_dtype)
