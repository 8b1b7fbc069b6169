"""Row gather and scatter-add kernels: an embedding lookup and its gradient.

* ``gather_rows(x, index, scale)``: ``out[i] = scale[i] * x[index[i]]``, a row of zeros where
  ``index[i] < 0`` (the op layer uses -1 for "no row": a padding entry). Rows in parallel.
* ``scatter_add_rows(g, index, num_rows, scale)``: ``out = zeros((num_rows, D))`` and
  ``out[index[i]] += scale[i] * g[i]`` for every ``i`` with ``index[i] >= 0``; repeated indices
  accumulate. Columns are split into blocks that run in parallel, and each block walks the rows
  in order, so every output element is summed in the same order whatever the thread count
  (deterministic) and no two threads write one element. ``np.add.at`` does the same work one
  element at a time through NumPy's generic ufunc loop and measured 5-20x slower (see
  bench/RESULTS.md).

Accumulation is in the gradient's dtype (as PyTorch's CPU embedding backward).
"""

from __future__ import annotations

import numba
import numpy as np
from numba import prange

from minigrad.ops.kernels import api
from minigrad.ops.kernels.cpu._jit import kernel, wide_vectors

__all__ = list(api.EMBEDDING)

_MIN_BLOCK = 16  # columns per parallel block, at least


@kernel
def _gather(x, index, scale, out):
    n, d = out.shape
    for i in prange(n):
        wide_vectors()
        r = index[i]
        s = scale[i]
        if r < 0:
            for j in range(d):
                out[i, j] = 0
        else:
            for j in range(d):
                out[i, j] = x[r, j] * s


@kernel
def _scatter_add(g, index, scale, blocks, out):
    n, d = g.shape
    for blk in prange(blocks):
        wide_vectors()
        lo = blk * d // blocks
        hi = (blk + 1) * d // blocks
        for i in range(n):
            r = index[i]
            if r >= 0:
                s = scale[i]
                for j in range(lo, hi):
                    out[r, j] += g[i, j] * s


def _scale(scale: np.ndarray | None, n: int, dtype: np.dtype) -> np.ndarray:
    if scale is None:
        return np.ones(n, dtype=dtype)
    return np.ascontiguousarray(scale, dtype=dtype)


def gather_rows(x: np.ndarray, index: np.ndarray, scale: np.ndarray | None = None) -> np.ndarray:
    """x: (V, D); index: (n,) int64 (< 0: a zero row); scale: (n,) or None -> (n, D) x.dtype."""
    x = np.ascontiguousarray(x)
    index = np.ascontiguousarray(index, dtype=np.int64)
    out = np.empty((index.size, x.shape[1]), dtype=x.dtype)
    _gather(x, index, _scale(scale, index.size, x.dtype), out)
    return out


def scatter_add_rows(g: np.ndarray, index: np.ndarray, num_rows: int,
                     scale: np.ndarray | None = None) -> np.ndarray:
    """g: (n, D); index: (n,) int64 (< 0: skipped) -> (num_rows, D) in g.dtype with
    ``out[index[i]] += scale[i] * g[i]``."""
    g = np.ascontiguousarray(g)
    index = np.ascontiguousarray(index, dtype=np.int64)
    d = g.shape[1]
    out = np.zeros((num_rows, d), dtype=g.dtype)
    blocks = max(1, min(numba.get_num_threads(), d // _MIN_BLOCK))
    _scatter_add(g, index, _scale(scale, index.size, g.dtype), blocks, out)
    return out
