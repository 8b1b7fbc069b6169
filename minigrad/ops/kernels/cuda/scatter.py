"""GPU twins of ``kernels/cpu/scatter.py`` (same names and signatures): ``np.add.at`` on
``CudaArray`` operands, which runs minigrad's atomic-add indexing kernel
(:mod:`minigrad.cuda._index`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from minigrad import _device

__all__ = ["scatter_add", "index_add", "gather"]


def _arange_along(n: int, d: int, ndim: int, like: Any) -> Any:
    shape = [1] * ndim
    shape[d] = n
    return _device.asarray(np.arange(n, dtype=np.int64).reshape(shape), like=like)


def scatter_add(out: Any, dim: int, index: Any, src: Any) -> None:
    """``out[..., index[i], ...] += src[i]`` along ``dim``, in place (see the CPU kernel)."""
    if index.size == 0:
        return
    fancy = tuple(index if d == dim else _arange_along(n, d, index.ndim, out)
                  for d, n in enumerate(index.shape))
    np.add.at(out, fancy, src)


def index_add(out: Any, dim: int, index: Any, src: Any) -> None:
    """``out[..., index[j], ...] += src[..., j, ...]`` along ``dim``, in place."""
    if src.size == 0:
        return
    np.add.at(out, (slice(None),) * dim + (index.reshape(-1),), src)


def gather(x: Any, dim: int, index: Any) -> tuple[Any, int]:
    """``out[i] = x[i0, .., index[i], .., ik]`` along ``dim``; returns ``(out, bad)`` as the CPU
    kernel (bad: nonzero when some index value lies outside ``0..x.shape[dim]-1``)."""
    if index.size == 0:
        return _device.zeros(index.shape, x.dtype, like=x), 0
    n = x.shape[dim]
    bad = int(int(np.min(index)) < 0 or int(np.max(index)) >= n)
    if bad:
        return _device.zeros(index.shape, x.dtype, like=x), bad
    fancy = tuple(index if d == dim else _arange_along(k, d, index.ndim, x)
                  for d, k in enumerate(index.shape))
    return x[fancy], 0
