"""CudaArray's elementwise kernels (minigrad/cuda/_elementwise.py) against NumPy.

Every ufunc the GPU implements, with broadcasting, Python and NumPy scalars, mixed dtypes, NaN and
infinities, in place and with ``out=``; plus where/clip/astype/transpose/broadcast_to. Runs in the
CUDA simulator (tests/conftest.py) under ``strict(True)``, so a silent host fallback fails.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minigrad import cuda
from minigrad.cuda import array as ca
from minigrad.testing import strategies as mst

pytestmark = pytest.mark.cuda

UNARY = [np.negative, np.absolute, np.sign, np.exp, np.log, np.sqrt, np.square, np.reciprocal,
         np.sin, np.cos, np.tanh, np.log1p, np.expm1, np.floor, np.ceil, np.isnan, np.isfinite,
         np.isinf]
BINARY = [np.add, np.subtract, np.multiply, np.true_divide, np.power, np.maximum, np.minimum,
          np.logaddexp, np.greater, np.greater_equal, np.less, np.less_equal, np.equal,
          np.not_equal]
SPECIALS = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0], dtype=np.float64)


@pytest.fixture(autouse=True)
def _strict():
    prev = cuda.strict(True)
    yield
    cuda.strict(prev)


def _same(got: ca.CudaArray, want: np.ndarray) -> None:
    assert type(got) is ca.CudaArray
    host = got.get()
    assert host.shape == want.shape and host.dtype == want.dtype, (host.shape, host.dtype,
                                                                   want.shape, want.dtype)
    if want.dtype.kind == "f":
        tol = 1e-6 if want.dtype == np.float32 else 1e-13
        np.testing.assert_allclose(host, want, rtol=tol, atol=tol, equal_nan=True)
    else:
        np.testing.assert_array_equal(host, want)


def _arrays(dtype):
    return mst.arrays(mst.shapes(max_dims=3, max_side=4), dtype=dtype, lo=-3.0, hi=3.0)


@settings(max_examples=8)
@given(data=st.data())
@pytest.mark.parametrize("ufunc", UNARY, ids=lambda u: u.__name__)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_unary_ufuncs_match_numpy(ufunc, dtype, data):
    x = data.draw(_arrays(dtype))
    x.flat[: min(x.size, len(SPECIALS))] = SPECIALS[: min(x.size, len(SPECIALS))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        want = ufunc(x)
        got = ufunc(ca.from_host(x))
    _same(got, want)


@settings(max_examples=8)
@given(data=st.data())
@pytest.mark.parametrize("ufunc", BINARY, ids=lambda u: u.__name__)
def test_binary_ufuncs_broadcast_like_numpy(ufunc, data):
    sa = data.draw(mst.shapes(max_dims=3, max_side=3))
    sb = data.draw(mst.broadcastable_shapes(sa, max_dims=3, max_side=3))
    dt_a, dt_b = data.draw(st.sampled_from([(np.float32, np.float32), (np.float64, np.float64),
                                            (np.float32, np.float64), (np.int64, np.float32)]))
    a = data.draw(mst.arrays(sa, np.float64, -3.0, 3.0)).astype(dt_a)
    b = data.draw(mst.arrays(sb, np.float64, -3.0, 3.0)).astype(dt_b)
    if b.size and dt_b != np.int64:
        b.flat[0] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        want = ufunc(a, b)
        got = ufunc(ca.from_host(a), ca.from_host(b))
    _same(got, want)


@pytest.mark.parametrize("scalar", [2, 0.5, np.float64(0.25), True, np.array(1.5)],
                         ids=["int", "float", "np.float64", "bool", "0-d array"])
@pytest.mark.parametrize("ufunc", [np.add, np.multiply, np.true_divide, np.power, np.maximum,
                                   np.greater], ids=lambda u: u.__name__)
def test_scalar_operands_follow_numpy_promotion(ufunc, scalar):
    x = np.linspace(0.5, 2.0, 6, dtype=np.float32).reshape(2, 3)
    for args in ((x, scalar), (scalar, x)):
        dev = tuple(ca.from_host(v) if v is x else v for v in args)
        _same(ufunc(*dev), ufunc(*args))


def test_operators_in_place_and_out():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = np.array([1.0, -2.0, 0.5], dtype=np.float32)
    g, gb = ca.from_host(x), ca.from_host(b)
    _same(g * 2 - gb / 4, x * 2 - b / 4)
    _same(-g ** 2, -(x ** 2))
    _same((g > 2) & (g < 5), (x > 2) & (x < 5))
    buf = g._buf
    g += gb
    g *= 3
    assert g._buf is buf, "in-place ops must write into the same device buffer"
    _same(g, (x + b) * 3)
    out = ca.empty((2, 3), np.float32)
    r = np.multiply(ca.from_host(x), gb, out=out)
    assert r is out
    _same(out, x * b)


def test_where_clip_astype_transpose_broadcast():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    g = ca.from_host(x)
    _same(np.where(g > 0, g, 0.0), np.where(x > 0, x, 0.0))
    _same(np.where(ca.from_host(x[0] > 0), 1.0, g), np.where(x[0] > 0, 1.0, x))
    _same(np.clip(g, -0.5, 0.5), np.clip(x, -0.5, 0.5))
    _same(np.clip(g, None, 0.1), np.clip(x, None, 0.1))
    _same(g.astype(np.float64), x.astype(np.float64))
    _same(g.astype(np.int64), x.astype(np.int64))
    _same(g.T, x.T)
    _same(np.transpose(g, (1, 0, 2)), np.transpose(x, (1, 0, 2)))
    _same(np.swapaxes(g, 0, 2), np.swapaxes(x, 0, 2))
    _same(np.moveaxis(g, 0, -1), np.moveaxis(x, 0, -1))
    _same(np.broadcast_to(ca.from_host(x[0, :1]), (5, 3, 4)), np.broadcast_to(x[0, :1], (5, 3, 4)))
    _same(g.reshape(6, -1), x.reshape(6, -1))
    _same(np.zeros_like(g), np.zeros_like(x))
    _same(np.full_like(g, 3.0), np.full_like(x, 3.0))


def test_zero_size_and_zero_dim():
    e = np.zeros((0, 3), np.float32)
    _same(ca.from_host(e) + 1, e + 1)
    s = np.array(2.5, np.float32)
    _same(ca.from_host(s) * 2, s * 2)


def test_host_arrays_do_not_mix_and_implicit_conversion_raises():
    g = ca.from_host(np.ones(3, np.float32))
    with pytest.raises(TypeError, match="host array"):
        np.add(g, np.ones(3, np.float32))
    with pytest.raises(TypeError, match="GPU"):
        np.asarray(g)


def test_strict_mode_reports_a_host_fallback_and_counts_it():
    g = ca.from_host(np.arange(4, dtype=np.float32))
    with pytest.raises(cuda.HostFallbackError, match="cbrt"):  # a ufunc with no GPU kernel
        np.cbrt(g)
    cuda.strict(False)
    cuda.reset_fallback_counts()
    _same(np.cbrt(g), np.cbrt(np.arange(4, dtype=np.float32)))
    assert cuda.fallback_counts() == {"cbrt": 1}
