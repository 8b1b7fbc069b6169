"""CudaArray's reductions, matmul and indexing kernels (minigrad/cuda/_reduce.py, _linalg.py,
_index.py) against NumPy on host copies.

Runs in the CUDA simulator (tests/conftest.py) under ``strict(True)``, so a silent host fallback
fails. Shapes are tiny (the simulator runs each GPU thread as a Python thread).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minigrad import cuda
from minigrad.cuda import array as ca

pytestmark = pytest.mark.cuda

G = ca.from_host
SPECIALS = [np.nan, np.inf, -np.inf, 0.0, 1.0, -1.0]


@pytest.fixture(autouse=True)
def _strict():
    prev = cuda.strict(True)
    yield
    cuda.strict(prev)


def _same(got, want, tol=None):
    assert type(got) is ca.CudaArray, type(got)
    want = np.asarray(want)
    host = got.get()
    assert host.shape == want.shape and host.dtype == want.dtype, (host.shape, host.dtype,
                                                                   want.shape, want.dtype)
    if want.dtype.kind == "f":
        if tol is None:
            tol = 2e-6 if want.dtype == np.float32 else 1e-12
        np.testing.assert_allclose(host, want, rtol=tol, atol=tol, equal_nan=True)
    else:
        np.testing.assert_array_equal(host, want)


@st.composite
def _arrays(draw, dtype=np.float32, max_dims=3, max_side=4, min_side=0, specials=False):
    nd = draw(st.integers(0, max_dims))
    shape = tuple(draw(st.lists(st.integers(min_side, max_side), min_size=nd, max_size=nd)))
    n = int(np.prod(shape))
    if np.dtype(dtype).kind == "f":
        vals = draw(st.lists(st.floats(-3, 3, width=32), min_size=n, max_size=n))
        a = np.asarray(vals, dtype=dtype).reshape(shape)
        if specials and n:
            k = draw(st.integers(0, min(n, 3)))
            for _ in range(k):
                a.flat[draw(st.integers(0, n - 1))] = draw(st.sampled_from(SPECIALS))
    elif np.dtype(dtype).kind == "b":
        a = np.asarray(draw(st.lists(st.booleans(), min_size=n, max_size=n)),
                       dtype=bool).reshape(shape)
    else:
        a = np.asarray(draw(st.lists(st.integers(-4, 4), min_size=n, max_size=n)),
                       dtype=dtype).reshape(shape)
    return a


@st.composite
def _axis(draw, ndim, allow_tuple=True):
    choice = draw(st.sampled_from(["none", "int", "tuple"] if allow_tuple and ndim
                                  else ["none", "int"] if ndim else ["none"]))
    if choice == "none":
        return None
    if choice == "int":
        return draw(st.integers(-ndim, ndim - 1))
    axes = draw(st.lists(st.integers(0, ndim - 1), unique=True, max_size=ndim))
    return tuple(a - ndim if draw(st.booleans()) else a for a in axes)


def _compare(fn, x, **kw):
    """fn on the GPU vs NumPy on the host: same value/dtype, or the same exception type."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            want = fn(x, **kw)
        except (ValueError, TypeError) as e:
            with pytest.raises(type(e)):
                fn(G(x), **kw)
            return
        got = fn(G(x), **kw)
    _same(got, want)


# ---------------------------------------------------------------------------------------------
# Reductions
# ---------------------------------------------------------------------------------------------

REDUCTIONS = [np.sum, np.mean, np.max, np.min, np.prod, np.any, np.all, np.nanmax, np.nanmin,
              np.var, np.std, np.ptp]


@settings(max_examples=10)
@given(data=st.data())
@pytest.mark.parametrize("fn", REDUCTIONS, ids=lambda f: f.__name__)
def test_reductions_match_numpy(fn, data):
    dtype = data.draw(st.sampled_from([np.float32, np.float64]))
    x = data.draw(_arrays(dtype, specials=fn not in (np.var, np.std)))
    axis = data.draw(_axis(x.ndim))
    _compare(fn, x, axis=axis, keepdims=data.draw(st.booleans()))


@settings(max_examples=6)
@given(data=st.data())
@pytest.mark.parametrize("fn", [np.sum, np.mean, np.max, np.min, np.any, np.all, np.prod],
                         ids=lambda f: f.__name__)
def test_reductions_of_ints_and_bools_keep_numpy_dtypes(fn, data):
    dtype = data.draw(st.sampled_from([np.int32, np.int64, np.uint8, np.bool_]))
    x = data.draw(_arrays(dtype, max_dims=2, min_side=1) if dtype != np.uint8
                  else _arrays(np.int64, max_dims=2, min_side=1).map(lambda a: np.abs(a)
                                                                      .astype(np.uint8)))
    _compare(fn, x, axis=data.draw(_axis(x.ndim)))


@settings(max_examples=8)
@given(data=st.data())
@pytest.mark.parametrize("fn", [np.argmax, np.argmin], ids=lambda f: f.__name__)
def test_argmax_argmin_first_extremum_and_first_nan(fn, data):
    dtype = data.draw(st.sampled_from([np.float32, np.float64, np.int32]))
    x = data.draw(_arrays(dtype, specials=True))
    if dtype != np.int32 and x.size:  # ties: round to few values
        x = np.round(x)
    axis = data.draw(st.none() | st.integers(-max(x.ndim, 1), max(x.ndim, 1) - 1)) \
        if x.ndim else None
    _compare(fn, x, axis=axis, keepdims=data.draw(st.booleans()))


@pytest.mark.parametrize("fn", [np.argmax, np.argmin, np.max, np.min, np.nanmax, np.nanmin],
                         ids=lambda f: f.__name__)
def test_extrema_ties_and_several_nans_across_threads(fn):
    """Rows longer than a block: ties and NaNs meet inside a thread and in the tree."""
    x = np.zeros((4, 37), np.float32)
    x[0, [3, 11, 19, 30]] = 5.0  # ties of the max, 8 apart (same thread) and not
    x[0, [5, 13, 29]] = -5.0
    x[1, [20, 4, 12, 33]] = np.nan  # several NaNs: the first one wins argmax/argmin
    x[2, :] = np.nan
    x[3, [2, 36]] = [np.inf, -np.inf]
    _compare(fn, x, axis=1)
    _compare(fn, x.T.copy(), axis=0)
    _compare(fn, x, axis=None)


def test_reduction_dtype_argument_and_ufunc_reduce():
    x = np.arange(12, dtype=np.int32).reshape(3, 4)
    _same(np.sum(G(x), axis=1, dtype=np.float32), np.sum(x, axis=1, dtype=np.float32))
    _same(np.mean(G(x.astype(np.float32)), dtype=np.float64), np.mean(x, dtype=np.float64))
    _same(G(x).sum(), x.sum())
    _same(np.add.reduce(G(x)), np.add.reduce(x))
    _same(np.maximum.reduce(G(x), axis=1), np.maximum.reduce(x, axis=1))
    _same(np.var(G(x.astype(np.float64)), axis=0, ddof=1), np.var(x.astype(np.float64), 0,
                                                                     ddof=1))
    _same(np.std(G(x.astype(np.float32)), ddof=1), np.std(x.astype(np.float32), ddof=1))


def test_empty_reductions_raise_or_give_numpy_constants():
    x = np.zeros((0, 3), np.float32)
    _compare(np.sum, x, axis=0)
    _compare(np.max, x, axis=1)
    _compare(np.argmax, x, axis=1)
    _compare(np.mean, x, axis=0)
    _compare(np.all, x, axis=0)
    with pytest.raises(ValueError):
        np.max(G(x), axis=0)
    with pytest.raises(ValueError):
        np.argmax(G(x))
    with pytest.raises(np.exceptions.AxisError):
        np.sum(G(x), axis=2)


@pytest.mark.parametrize("shape,axis", [((1, 300), None), ((3, 70), (0, 1)), ((2, 40, 3), 1),
                                        ((70, 3), 0), ((2, 9), 1)])
def test_long_rows_use_the_split_paths(shape, axis):
    """Rows long enough for the two-pass (split) schemes of both kernels."""
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32) * 100
    _same(np.sum(G(x), axis=axis), np.sum(x, axis=axis), tol=1e-4)
    _same(np.max(G(x), axis=axis), np.max(x, axis=axis))
    _same(np.mean(G(x), axis=axis), np.mean(x, axis=axis), tol=1e-5)


def test_float32_sum_accuracy_vs_float64():
    x = np.random.default_rng(1).standard_normal(1000).astype(np.float32)
    got = float(np.sum(G(x)).item())
    exact = float(np.sum(x.astype(np.float64)))
    assert abs(got - exact) <= 1e-6 * np.abs(x).sum()


# ---------------------------------------------------------------------------------------------
# matmul / dot / norm
# ---------------------------------------------------------------------------------------------


@st.composite
def _matmul_shapes(draw):
    m, k, n = (draw(st.integers(1, 10)) for _ in range(3))
    batch = draw(st.lists(st.integers(1, 3), max_size=2))
    ba = [b if draw(st.booleans()) else 1 for b in batch]
    bb = [b if draw(st.booleans()) else 1 for b in batch]
    ba = ba[draw(st.integers(0, len(ba))):]  # broadcast over missing leading batch axes too
    sa = tuple(ba) + (m, k) if draw(st.integers(0, 4)) else (k,)
    sb = tuple(bb) + (k, n) if draw(st.integers(0, 4)) else (k,)
    return sa, sb


@settings(max_examples=25)
@given(shapes=_matmul_shapes(), dtype=st.sampled_from([np.float32, np.float64, np.int64]),
       seed=st.integers(0, 2**16))
def test_matmul_matches_numpy(shapes, dtype, seed):
    rng = np.random.default_rng(seed)
    a = (rng.standard_normal(shapes[0]) * 3).astype(dtype)
    b = (rng.standard_normal(shapes[1]) * 3).astype(dtype)
    _same(G(a) @ G(b), a @ b, tol=1e-5 if dtype == np.float32 else None)


def test_matmul_mixed_dtypes_empty_and_errors():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = np.arange(12, dtype=np.float64).reshape(3, 4)
    _same(np.matmul(G(a), G(b)), a @ b)
    _same(G(np.ones((2, 0), np.float32)) @ G(np.ones((0, 3), np.float32)),
          np.ones((2, 0), np.float32) @ np.ones((0, 3), np.float32))
    _same(G(np.ones((0, 2), np.float32)) @ G(np.ones((2, 3), np.float32)),
          np.ones((0, 2), np.float32) @ np.ones((2, 3), np.float32))
    with pytest.raises(ValueError, match="mismatch"):
        G(a) @ G(a)
    with pytest.raises(ValueError):
        np.matmul(G(np.float32(1.0)), G(a))
    with pytest.raises(ValueError):
        G(np.ones((2, 2, 3))) @ G(np.ones((3, 3, 4)))
    with pytest.raises(TypeError):
        G(a) @ b


def test_dot_and_norm():
    rng = np.random.default_rng(2)
    v, m = rng.standard_normal(5), rng.standard_normal((3, 5))
    _same(np.dot(G(m), G(v)), np.dot(m, v))
    _same(np.dot(G(v), G(v)), np.asarray(np.dot(v, v)))
    for o in (None, 2, 1, np.inf, -np.inf, 0, 3):
        _same(np.linalg.norm(G(v), o), np.asarray(np.linalg.norm(v, o)))
    _same(np.linalg.norm(G(m)), np.asarray(np.linalg.norm(m)))


# ---------------------------------------------------------------------------------------------
# Indexing
# ---------------------------------------------------------------------------------------------


@st.composite
def _basic_index(draw, shape):
    items = []
    d = 0
    while d < len(shape) and draw(st.booleans()):
        n = shape[d]
        kind = draw(st.sampled_from(["int", "slice", "none", "ellipsis"] if n else
                                    ["slice", "none"]))
        if kind == "int":
            items.append(draw(st.integers(-n, n - 1)))
        elif kind == "slice":
            items.append(slice(draw(st.none() | st.integers(-5, 5)),
                               draw(st.none() | st.integers(-5, 5)),
                               draw(st.none() | st.sampled_from([1, 2, -1, -2, 3]))))
        elif kind == "none":
            items.append(None)
            continue
        else:
            if Ellipsis not in items:
                items.append(Ellipsis)
                break
        d += 1
    return tuple(items)


@settings(max_examples=25)
@given(x=_arrays(np.float32, min_side=1), data=st.data())
def test_basic_getitem_and_setitem(x, data):
    idx = data.draw(_basic_index(x.shape))
    _same(G(x)[idx], x[idx])
    want = x.copy()
    v = np.full(want[idx].shape, 7.5, np.float32) if data.draw(st.booleans()) else np.float32(-2)
    want[idx] = v
    got = G(x)
    got[idx] = G(v) if isinstance(v, np.ndarray) else v
    _same(got, want)


@st.composite
def _advanced_index(draw, shape):
    """Integer-array indices (host or GPU, possibly negative, repeated) mixed with slices/ints."""
    nd = len(shape)
    form = draw(st.sampled_from(["lead", "pair", "split", "with_int", "mask", "list"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))

    def arr(axis, size):
        return rng.integers(-shape[axis], shape[axis], size=size)

    k = draw(st.integers(1, 4))
    if form == "lead" or nd == 1:
        return (arr(0, (k,)),)
    if form == "pair":  # x[arange(n), target]
        return (arr(0, (k,)), arr(1, (k,)))
    if form == "split" and nd == 3:  # non-adjacent: broadcast axes go first
        return (arr(0, (k, 1)), slice(None, None, -1), arr(2, (1, 2)))
    if form == "with_int":
        if nd == 2:
            return (slice(1, None), arr(1, (k,)))
        return (shape[0] - 1, slice(None), arr(2, (k,)))
    if form == "mask":
        return (rng.random(shape[:1]) > 0.5,)
    return (slice(None), [0, -1])


@settings(max_examples=30)
@given(x=_arrays(np.float64, min_side=1).filter(lambda a: a.ndim >= 1), data=st.data())
def test_advanced_getitem_setitem_add_at(x, data):
    idx = data.draw(_advanced_index(x.shape))
    on_gpu = data.draw(st.booleans())
    didx = tuple(G(i) if on_gpu and isinstance(i, np.ndarray) else i for i in idx)
    want = x[idx]
    _same(G(x)[didx], want)
    v = np.arange(want.size, dtype=np.float64).reshape(want.shape) + 1
    ref = x.copy()
    np.add.at(ref, idx, v)
    got = G(x)
    np.add.at(got, didx, G(v))
    _same(got, ref)
    ref = x.copy()
    ref[idx] = 3.0
    got = G(x)
    got[didx] = 3.0
    _same(got, ref)
    flat = [i for i in idx if isinstance(i, np.ndarray) and i.dtype != bool]
    if all(len(np.unique(np.asarray(i) % s)) == i.size for i, s in zip(flat, x.shape)):
        ref = x.copy()
        ref[idx] = -v  # unique targets: the result is defined
        got = G(x)
        got[didx] = G(-v)
        _same(got, ref)


def test_index_errors_and_add_at_repeats():
    x = np.zeros((3, 4), np.float32)
    with pytest.raises(IndexError):
        G(x)[3]
    with pytest.raises(IndexError):
        G(x)[np.array([0, 4])]
    with pytest.raises(IndexError):
        G(x)[G(np.array([-4]))]
    with pytest.raises(IndexError):
        G(x)[0, 0, 0]
    with pytest.raises(IndexError):
        G(x)[np.array([0, 1]), np.array([0, 1, 2])]
    with pytest.raises(ValueError):
        G(x)[0] = G(np.ones(3, np.float32))
    got = G(x)
    np.add.at(got, (np.array([0, 0, 0, 2]), np.array([1, 1, 1, 3])), 1.5)
    ref = x.copy()
    np.add.at(ref, (np.array([0, 0, 0, 2]), np.array([1, 1, 1, 3])), 1.5)
    _same(got, ref)


# ---------------------------------------------------------------------------------------------
# Joining, splitting, padding, flipping
# ---------------------------------------------------------------------------------------------


@settings(max_examples=10)
@given(x=_arrays(np.float32, min_side=1).filter(lambda a: a.ndim >= 1), data=st.data())
def test_concatenate_stack_split_pad_flip(x, data):
    ax = data.draw(st.integers(-x.ndim, x.ndim - 1))
    y = (x * 2).astype(np.float64)
    _same(np.concatenate([G(x), G(y), G(x)], axis=ax), np.concatenate([x, y, x], axis=ax))
    _same(np.concatenate([G(x), G(x)], axis=None), np.concatenate([x, x], axis=None))
    sax = data.draw(st.integers(-x.ndim - 1, x.ndim))
    _same(np.stack([G(x), G(x)], axis=sax), np.stack([x, x], axis=sax))
    parts = data.draw(st.integers(1, 3))
    for got, want in zip(np.array_split(G(x), parts, axis=ax), np.array_split(x, parts, axis=ax)):
        _same(got, want)
    if x.shape[ax] % parts == 0:
        for got, want in zip(np.split(G(x), parts, axis=ax), np.split(x, parts, axis=ax)):
            _same(got, want)
    widths = tuple((data.draw(st.integers(0, 2)), data.draw(st.integers(0, 2)))
                   for _ in range(x.ndim))
    _same(np.pad(G(x), widths, mode="constant", constant_values=0.5),
          np.pad(x, widths, mode="constant", constant_values=0.5))
    _same(np.pad(G(x), 1), np.pad(x, 1))
    _same(np.flip(G(x), ax), np.flip(x, ax))
    _same(np.flip(G(x)), np.flip(x))


def test_join_errors_match_numpy():
    a, b = np.zeros((2, 3), np.float32), np.zeros((3, 2), np.float32)
    with pytest.raises(ValueError):
        np.concatenate([G(a), G(b)], axis=0)
    with pytest.raises(ValueError):
        np.stack([G(a), G(b)])
    with pytest.raises(ValueError):
        np.split(G(a), 4, axis=1)
    with pytest.raises(TypeError):
        np.concatenate([G(a), a])
