"""Layer-norm and group-norm kernels: statistics over contiguous rows, in float64.

Both normalise independent rows of contiguous elements: layer norm the rows of an (M, D) array
(D = the product of ``normalized_shape``), group norm the rows of an (N*G, C/G * S) view of an
(N, C, S) array (one row per sample and group of channels, S = the flattened spatial axes). They
differ in the affine map: per element of the row for layer norm (``w[j]``), per channel for group
norm (``w[c]``, shared by the channel's S elements).

* forward: per row the mean (``lane_sum``) and the biased variance as the two-pass
  ``mean((x - mean)^2)`` (no cancellation for large means), then ``y = (x - mean) * rstd * w + b``
  evaluated in float64 (the folded ``x * scale + shift`` cancels in float32 when |mean| >> std;
  the row sits in L1 by then, so the wider arithmetic costs little). Rows run in parallel.
* backward, with ``xhat = (x - mean) * rstd`` and ``gh = g * w``::

      gx = rstd * (gh - mean(gh) - xhat * mean(gh * xhat))      (means over the row)
      gweight = sum over rows of g * xhat,   gbias = sum over rows of g

  Layer norm's parameter gradients are column sums over the rows: each of a fixed number of row
  chunks (``_CHUNKS``, set by the shape only, so the result does not depend on the thread count)
  accumulates its own float64 partial row, and the partials are added at the end. Group norm's
  are per-channel sums: one ``(N, C)`` float64 partial per sample, summed over N.

Shapes: see each public function. Statistics (mean, rstd) are float64 arrays, one per row.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from minigrad.ops.kernels.cpu._jit import kernel, wide_vectors
from minigrad.ops.kernels.cpu.norm import _sum_sq_dev
from minigrad.ops.kernels.cpu.softmax import lane_dot, lane_sum

__all__ = ["layer_norm_forward", "layer_norm_backward", "group_norm_forward",
           "group_norm_backward"]

_CHUNKS = 32  # row chunks of layer norm's parameter-gradient partial sums
_SUM_FLAGS = {"reassoc", "contract"}  # as softmax.lane_sum: the sums may be reordered


@njit(cache=True, error_model="numpy", fastmath=_SUM_FLAGS)
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


@kernel
def _ln_forward(x, w, b, eps, y, mean, rstd):
    m, d = x.shape
    for i in prange(m):
        wide_vectors()
        mu = lane_sum(x[i]) / d
        r = 1.0 / np.sqrt(_sum_sq_dev(x[i], mu) / d + eps)
        mean[i] = mu
        rstd[i] = r
        for j in range(d):
            y[i, j] = (x[i, j] - mu) * (r * w[j]) + b[j]


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
    n, ch, s = x.shape
    cg = ch // groups
    k = cg * s
    for row in prange(n * groups):
        wide_vectors()
        i = row // groups
        grp = row - i * groups
        mu = lane_sum(xr[row]) / k
        r = 1.0 / np.sqrt(_sum_sq_dev(xr[row], mu) / k + eps)
        mean[row] = mu
        rstd[row] = r
        for cl in range(cg):
            c = grp * cg + cl
            sc = r * w[c]
            sh = b[c]
            for j in range(s):
                y[i, c, j] = (x[i, c, j] - mu) * sc + sh


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
        for cl in range(cg):
            c = grp * cg + cl
            sg = lane_sum(g[i, c])
            sgxh = (lane_dot(g[i, c], x[i, c]) - mu * sg) * r  # sum over the channel of g * xhat
            pb[i, c] = sg
            pw[i, c] = sgxh
            a += w[c] * sg
            cc += w[c] * sgxh
        # gx = r * (g*w[c] - a/k - xhat * cc/k) = kc*g + q*(x - mu) + t
        q = -r * r * cc / k
        t = -r * a / k
        for cl in range(cg):
            c = grp * cg + cl
            kc = r * w[c]
            for j in range(s):
                gx[i, c, j] = kc * g[i, c, j] + q * (x[i, c, j] - mu) + t


def _affine(v: np.ndarray | None, n: int, fill: float) -> np.ndarray:
    """A weight or bias as a float64 vector (``fill`` when absent)."""
    return np.full(n, fill) if v is None else np.ascontiguousarray(v, dtype=np.float64)


def layer_norm_forward(x: np.ndarray, weight: np.ndarray | None, bias: np.ndarray | None,
                       eps: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Normalise each row of x: (M, D) and apply ``weight``, ``bias`` (D,) (None: 1 and 0).

    Returns y (M, D) in x.dtype, mean (M,) and rstd = 1/sqrt(var + eps) (M,) in float64.
    """
    x = np.ascontiguousarray(x)
    m, d = x.shape
    y = np.empty_like(x)
    mean, rstd = np.empty(m), np.empty(m)
    _ln_forward(x, _affine(weight, d, 1.0), _affine(bias, d, 0.0), float(eps), y, mean, rstd)
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
