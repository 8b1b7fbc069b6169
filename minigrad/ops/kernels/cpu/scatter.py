"""Scatter-add loops for ``scatter_add``, ``index_add`` and the gradients of ``gather`` and
``index_select``; the ``gather`` loop (with its range check in the same pass: NumPy's
``take_along_axis`` builds a broadcast fancy index and needs a separate min/max pass to check).

NumPy's ``np.add.at`` (the unbuffered ``out[idx] += src`` that accumulates repeated indices) ran
5x slower than these loops on a (1000, 1000) -> (1000, 100) scatter. Both kernels work on 3-D
views ``(A, K, B)`` of C-contiguous arrays, the scatter axis in the middle, and loop over ``A`` in
parallel (each ``a`` writes its own slab ``out[a]``, so no two threads touch one element). The
index values must already be checked to lie in ``0..K-1``. The GPU twins with the same names and
signatures are in ``kernels/cuda/scatter.py``.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from minigrad.ops.kernels.cpu._jit import kernel

__all__ = ["scatter_add", "index_add", "gather"]


@kernel
def _gather3(x, index, out):
    """x: (A, K, B); index, out: (A, J, B): ``out[a, j, b] = x[a, index[a, j, b], b]``. Returns
    how many index values lie outside ``0..K-1`` (those read ``x[a, 0, b]``)."""
    bad = 0
    n = x.shape[1]
    for a in prange(index.shape[0]):
        for j in range(index.shape[1]):
            for b in range(index.shape[2]):
                k = index[a, j, b]
                if k < 0 or k >= n:
                    bad += 1
                    k = 0
                out[a, j, b] = x[a, k, b]
    return bad


@kernel
def _scatter_add3(out, index, src):
    """out: (A, K, B); index, src: (A, J, B): ``out[a, index[a, j, b], b] += src[a, j, b]``."""
    for a in prange(index.shape[0]):
        for j in range(index.shape[1]):
            for b in range(index.shape[2]):
                out[a, index[a, j, b], b] += src[a, j, b]


@kernel
def _index_add3(out, index, src):
    """out: (A, K, B); index: (J,); src: (A, J, B): ``out[a, index[j], b] += src[a, j, b]``."""
    for a in prange(src.shape[0]):
        for j in range(src.shape[1]):
            k = index[j]
            for b in range(src.shape[2]):
                out[a, k, b] += src[a, j, b]


def _three(shape: tuple[int, ...], dim: int) -> tuple[int, int, int]:
    return (int(np.prod(shape[:dim], dtype=np.int64)), shape[dim],
            int(np.prod(shape[dim + 1:], dtype=np.int64)))


def scatter_add(out: np.ndarray, dim: int, index: np.ndarray, src: np.ndarray) -> None:
    """``out[..., index[i], ...] += src[i]`` along ``dim`` (PyTorch's ``scatter_add_``), in place.

    out: C-contiguous, any shape; index (integer, values in ``0..out.shape[dim]-1``) and src: one
    shape, no larger than ``out.shape`` off ``dim`` (a smaller one is scattered into a block of
    that shape first, then added to the leading block of ``out``).
    """
    if index.size == 0:
        return
    idx = np.ascontiguousarray(index, dtype=np.int64)
    s = np.ascontiguousarray(src, dtype=out.dtype)
    a, j, b = _three(idx.shape, dim)
    if idx.shape[:dim] + idx.shape[dim + 1:] == out.shape[:dim] + out.shape[dim + 1:]:
        _scatter_add3(out.reshape(_three(out.shape, dim)), idx.reshape(a, j, b),
                      s.reshape(a, j, b))
        return
    block = np.zeros(idx.shape[:dim] + (out.shape[dim],) + idx.shape[dim + 1:], out.dtype)
    _scatter_add3(block.reshape(_three(block.shape, dim)), idx.reshape(a, j, b),
                  s.reshape(a, j, b))
    out[tuple(slice(0, n) for n in block.shape)] += block


def gather(x: np.ndarray, dim: int, index: np.ndarray) -> tuple[np.ndarray, int]:
    """``out[i] = x[i0, .., index[i], .., ik]`` along ``dim`` (PyTorch's ``gather``), checking the
    range in the same pass.

    x: any shape; index: integer, as many dims, no larger than ``x`` off ``dim``. Returns ``(out,
    bad)``: out has index's shape and x's dtype; bad counts the index values outside
    ``0..x.shape[dim]-1`` (out is meaningless unless it is 0).
    """
    out = np.empty(index.shape, x.dtype)
    if index.size == 0:
        return out, 0
    off = index.shape[:dim] + index.shape[dim + 1:]
    if off != x.shape[:dim] + x.shape[dim + 1:]:
        x = x[tuple(slice(None) if d == dim else slice(0, n) for d, n in enumerate(index.shape))]
    three = _three(index.shape, dim)
    idx = index.reshape(three)
    bad = _gather3(x.reshape(_three(x.shape, dim)), idx if idx.dtype == np.int64 else
                   idx.astype(np.int64), out.reshape(three))
    return out, int(bad)


def index_add(out: np.ndarray, dim: int, index: np.ndarray, src: np.ndarray) -> None:
    """``out[..., index[j], ...] += src[..., j, ...]`` along ``dim`` (PyTorch's ``index_add_``),
    in place. out: C-contiguous; index: 1-D integer in ``0..out.shape[dim]-1``; src: ``out.shape``
    with ``len(index)`` along ``dim``."""
    if src.size == 0:
        return
    idx = np.ascontiguousarray(index, dtype=np.int64).reshape(-1)
    s = np.ascontiguousarray(src, dtype=out.dtype)
    _index_add3(out.reshape(_three(out.shape, dim)), idx, s.reshape(_three(s.shape, dim)))
