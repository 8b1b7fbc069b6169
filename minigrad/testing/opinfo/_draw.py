"""Hypothesis building blocks for the issue-14 families (index, scan, sort, einsum and the new
reduce/shape/linalg entries): a shape with a chosen dim, values with no ties, index arrays."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from minigrad.testing import strategies as S


def shape_and_dim(draw: Any, min_dims: int = 1, max_dims: int = 3, max_side: int = 4,
                  min_side: int = 1) -> tuple[tuple[int, ...], int]:
    """A shape and one of its dims (negative half the time)."""
    shape = draw(S.shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                          max_side=max_side))
    d = draw(st.integers(-len(shape), len(shape) - 1))
    return shape, d


def distinct(draw: Any, shape: tuple[int, ...], gap: float = 0.2) -> np.ndarray:
    """Float64 values at least ``gap`` apart (ties are kinks of sorts and extrema), in random
    order."""
    n = int(np.prod(shape, dtype=np.int64))
    perm = np.asarray(draw(st.permutations(range(n))), dtype=np.float64)
    jitter = draw(S.arrays((n,), lo=-0.2 * gap, hi=0.2 * gap)) if n else np.zeros(0)
    return ((perm - n / 2) * gap + jitter).reshape(shape)


def ints(draw: Any, shape: tuple[int, ...], lo: int, hi: int) -> np.ndarray:
    """int64 values in ``lo..hi`` (inclusive)."""
    return draw(hnp.arrays(np.int64, shape, elements=st.integers(lo, hi)))


def unique_rows(draw: Any, shape: tuple[int, ...], dim: int, n: int) -> np.ndarray:
    """int64 indices of ``shape``, values in ``0..n-1``, no value twice along ``dim``
    (``shape[dim] <= n``)."""
    moved = list(shape)
    k = moved.pop(dim)
    rows = int(np.prod(moved, dtype=np.int64))
    out = np.empty((rows, k), np.int64)
    for r in range(rows):
        out[r] = np.asarray(draw(st.permutations(range(n))))[:k]
    return np.moveaxis(out.reshape(tuple(moved) + (k,)), -1, dim)


def with_zeros(draw: Any, a: np.ndarray, max_zeros: int = 2) -> np.ndarray:
    """``a`` with up to ``max_zeros`` entries set to exactly 0."""
    a = a.copy()
    if a.size:
        for i in draw(st.lists(st.integers(0, a.size - 1), max_size=max_zeros, unique=True)):
            a.flat[i] = 0.0
    return a
