"""Hypothesis strategies for tensors, shapes and op inputs, composable with ``@given``.

    >>> from hypothesis import given
    >>> from minigrad.testing import strategies as mst, gradcheck
    >>> @given(mst.tensors(shape=mst.shapes(max_dims=2), dtype="float64", requires_grad=True))
    ... def test_square(x):
    ...     assert gradcheck(lambda t: t * t, [x])

The ``*_samples`` strategies draw :class:`minigrad.testing.opinfo.Sample` objects for the op
database: small shapes (finite differences cost one forward per input element), size-1 and
broadcast axes, and values kept away from each op's kinks.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from minigrad.tensor import Tensor
from minigrad.testing.opinfo.core import Sample

__all__ = [
    "shapes",
    "broadcastable_shapes",
    "arrays",
    "tensors",
    "unary_samples",
    "binary_samples",
    "reduction_samples",
    "sum_to_samples",
    "getitem_samples",
    "cat_samples",
    "matmul_samples",
    "push_away",
]


def shapes(min_dims: int = 0, max_dims: int = 3, min_side: int = 1,
           max_side: int = 4) -> st.SearchStrategy[tuple[int, ...]]:
    """Array shapes (tuples of ints)."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side)


def broadcastable_shapes(shape: tuple[int, ...], min_dims: int = 0,
                         max_dims: int | None = None, min_side: int = 1,
                         max_side: int = 4) -> st.SearchStrategy[tuple[int, ...]]:
    """Shapes that broadcast with ``shape`` (size-1 axes and missing leading axes included)."""
    return hnp.broadcastable_shapes(shape, min_dims=min_dims, max_dims=max_dims,
                                    min_side=min_side, max_side=max_side)


def push_away(a: np.ndarray, points: tuple[float, ...], gap: float) -> np.ndarray:
    """Move values closer than ``gap`` to any of ``points`` out to distance ``gap``."""
    a = np.array(a, dtype=np.float64 if a.dtype.kind != "f" else a.dtype)
    for p in points:
        d = a - p
        near = np.abs(d) < gap
        a[near] = p + np.where(d[near] >= 0, gap, -gap)
    return a


def arrays(shape: Any, dtype: Any = np.float64, lo: float = -2.0, hi: float = 2.0,
           away_from: tuple[float, ...] = (), gap: float = 0.05) -> st.SearchStrategy[np.ndarray]:
    """Float arrays with finite values in [lo, hi], pushed at least ``gap`` from ``away_from``.

    ``shape`` is a tuple or a strategy of tuples.
    """
    dt = np.dtype(dtype)
    elements = st.floats(lo, hi, allow_nan=False, allow_infinity=False, allow_subnormal=False,
                         width=32 if dt == np.float32 else 64)
    out = hnp.arrays(dt, shape, elements=elements)
    if away_from:
        out = out.map(lambda a: push_away(a, away_from, gap).astype(dt))
    return out


def tensors(shape: Any = None, dtype: Any = np.float64, elements: Any = None,
            requires_grad: bool = False, lo: float = -2.0, hi: float = 2.0,
            away_from: tuple[float, ...] = (), gap: float = 0.05) -> st.SearchStrategy[Tensor]:
    """minigrad Tensors. ``shape``: a tuple, a strategy of tuples, or None (any small shape);
    ``elements``: a Hypothesis strategy for the values (default: floats in [lo, hi], at least
    ``gap`` from each point in ``away_from`` — your function's kinks)."""
    shape = shapes() if shape is None else shape
    dt = np.dtype(dtype)
    if elements is None:
        arr = arrays(shape, dt, lo, hi, away_from=away_from, gap=gap)
    else:
        arr = hnp.arrays(dt, shape, elements=elements)
    return arr.map(lambda a: Tensor(a, requires_grad=requires_grad and dt.kind == "f"))


# ---------------------------------------------------------------------------------------------
# Samples for the op registry
# ---------------------------------------------------------------------------------------------


def unary_samples(lo: float = -2.0, hi: float = 2.0, away_from: tuple[float, ...] = (),
                  gap: float = 0.05, min_dims: int = 0) -> st.SearchStrategy[Sample]:
    """``Sample((x,))`` for an elementwise or shape op."""
    return arrays(shapes(min_dims=min_dims), lo=lo, hi=hi, away_from=away_from,
                  gap=gap).map(lambda a: Sample((a,)))


@st.composite
def binary_samples(draw: Any, lo: float = -2.0, hi: float = 2.0,
                   away_from_b: tuple[float, ...] = (), lo_a: float | None = None,
                   apart: float = 0.0) -> Sample:
    """``Sample((a, b))`` with mutually broadcastable shapes; ``apart`` keeps a and b at
    least that far apart elementwise (ties are kinks of max/min/where)."""
    pair = hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3)
    sa, sb = draw(pair).input_shapes
    a = draw(arrays(sa, lo=lo if lo_a is None else lo_a, hi=hi))
    b = draw(arrays(sb, lo=lo, hi=hi, away_from=away_from_b, gap=0.25))
    if apart:
        ab, bb = np.broadcast_arrays(a, b)
        if np.any(np.abs(ab - bb) < apart):
            # shift b as a whole so no broadcast pair is closer than `apart`
            for shift in np.linspace(0.37, 3.0, 12):
                if not np.any(np.abs(ab - (bb + shift)) < apart):
                    b = b + shift
                    break
            else:
                from hypothesis import reject

                reject()
    return Sample((a, b))


@st.composite
def reduction_samples(draw: Any, distinct: bool = False, min_reduced: int = 1) -> Sample:
    """``Sample((x,), {"axis": ..., "keepdims": ...})`` with axis None, an int or a tuple.

    ``distinct`` spaces values apart (max/min ties are kinks); ``min_reduced`` is the least number
    of elements each reduction sees.
    """
    shape = draw(shapes(min_dims=1, max_dims=3))
    ndim = len(shape)
    axis = draw(st.one_of(
        st.none(),
        st.integers(-ndim, ndim - 1),
        st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True).map(tuple),
    ))
    axes = range(ndim) if axis is None else ([axis % ndim] if isinstance(axis, int) else axis)
    if int(np.prod([shape[i] for i in axes])) < min_reduced:
        from hypothesis import reject

        reject()
    keepdims = draw(st.booleans())
    if distinct:
        n = int(np.prod(shape))
        perm = draw(st.permutations(range(n)))
        a = (np.asarray(perm, dtype=np.float64) * 0.2 - 0.1 * n).reshape(shape)
        a = a + draw(arrays(shape, lo=-0.05, hi=0.05))
    else:
        a = draw(arrays(shape))
    return Sample((a,), {"axis": axis, "keepdims": keepdims})


@st.composite
def sum_to_samples(draw: Any) -> Sample:
    """``Sample((x,), {"shape": s})`` where ``s`` broadcasts to ``x.shape``."""
    small = draw(shapes(min_dims=0, max_dims=3, max_side=3))
    other = draw(broadcastable_shapes(small, max_side=3))
    big = np.broadcast_shapes(small, other)
    return Sample((draw(arrays(big)),), {"shape": small})


@st.composite
def getitem_samples(draw: Any) -> Sample:
    """Ints, slices (with steps), None, Ellipsis, integer arrays (with repeats) and bool masks."""
    shape = draw(shapes(min_dims=1, max_dims=3))
    a = draw(arrays(shape))
    kind = draw(st.sampled_from(["basic", "int_array", "mask"]))
    if kind == "mask":
        mask = draw(hnp.arrays(np.bool_, shape))
        return Sample((a,), {"index": mask})
    if kind == "int_array":
        idx = draw(hnp.arrays(np.int64, draw(shapes(min_dims=1, max_dims=2, max_side=5)),
                              elements=st.integers(-shape[0], shape[0] - 1)))
        return Sample((a,), {"index": (idx, Ellipsis)})
    index = []
    for n in shape:
        index.append(draw(st.one_of(
            st.integers(-n, n - 1),
            st.builds(slice, st.none() | st.integers(-n, n), st.none() | st.integers(-n, n),
                      st.none() | st.integers(1, 3)),
        )))
        if draw(st.booleans()):
            index.append(None)
    cut = draw(st.integers(0, len(index)))
    index = index[:cut] + [Ellipsis] if cut < len(index) else index
    return Sample((a,), {"index": tuple(index)})


@st.composite
def cat_samples(draw: Any) -> Sample:
    shape = draw(shapes(min_dims=1, max_dims=3))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    other = list(shape)
    other[axis] = draw(st.integers(1, 3))
    return Sample((draw(arrays(shape)), draw(arrays(tuple(other)))), {"axis": axis})


@st.composite
def matmul_samples(draw: Any) -> Sample:
    """1-D, 2-D and batched operands with broadcast batch axes."""
    n, k, m = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    batch_a, batch_b = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=2,
                                                              max_side=3)).input_shapes
    a_shape = draw(st.sampled_from([(k,), batch_a + (n, k)]))
    b_shape = draw(st.sampled_from([(k,), batch_b + (k, m)]))
    return Sample((draw(arrays(a_shape)), draw(arrays(b_shape))))
