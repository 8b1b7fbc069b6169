"""Issue 14's ops without gradients on the GPU (the differentiable ones run in the registry's
``test_cuda_parity.py``): integer division and modulo, bitwise and logical ops, shifts, the
predicates, rounding of integers, type promotion, and the creation ops with ``device='cuda'``.
Each runs under ``minigrad.cuda.strict(True)``, so a host fallback fails, and is compared with the
same op on the CPU. ``multinomial`` of a GPU tensor is the one documented fallback: counted, and
refused in strict mode. Runs in numba's CUDA simulator (tests/conftest.py)."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
import minigrad.cuda as mcuda
from tests.test_cuda_ops import _need_cuda  # noqa: F401  (autouse: skip without CUDA or its simulator)

pytestmark = pytest.mark.cuda


@pytest.fixture
def strict():
    prev = mcuda.strict(True)
    yield
    mcuda.strict(prev)


def _same(fn, *arrays):
    """fn on CPU tensors and on GPU tensors (strict mode): same dtype, shape and values."""
    cpu = fn(*[mg.tensor(a) for a in arrays])
    gpu = fn(*[mg.tensor(a, device="cuda") for a in arrays])
    assert gpu.device == "cuda"
    g = gpu.numpy()
    assert g.dtype == cpu.dtype and g.shape == cpu.shape
    if g.dtype.kind == "f":
        np.testing.assert_allclose(g, cpu.numpy(), rtol=1e-6, equal_nan=True)
    else:
        np.testing.assert_array_equal(g, cpu.numpy())


INTS = np.array([[-7, -1, 0, 5], [100, -128, 3, 17]])
DIVISORS = np.array([3, -2, 5, -1])

INTEGER_OPS = [
    ("floordiv", lambda a, b: a // b),
    ("mod", lambda a, b: a % b),
    ("fmod", lambda a, b: a.fmod(b)),
    ("div_trunc", lambda a, b: a.div(b, rounding_mode="trunc")),
    ("true_div", lambda a, b: a / b),
    ("and", lambda a, b: a & b),
    ("or", lambda a, b: a | b),
    ("xor", lambda a, b: a ^ b),
    ("lshift", lambda a, b: a << (b + 2)),
    ("rshift", lambda a, b: a >> (b + 2)),
    ("logical_and", lambda a, b: mg.logical_and(a, b)),
    ("logical_xor", lambda a, b: mg.logical_xor(a, b)),
    ("pow", lambda a, b: a ** (b + 2)),
    ("compare_promoted", lambda a, b: a < b * 0.5),
]


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.int16])
@pytest.mark.parametrize("name,op", INTEGER_OPS, ids=[o[0] for o in INTEGER_OPS])
def test_integer_ops_on_gpu(strict, name, op, dtype):
    _same(op, INTS.astype(dtype), DIVISORS.astype(dtype))


def test_unary_integer_and_bool_ops_on_gpu(strict):
    for a in (INTS, INTS.astype(np.uint8), INTS > 0):
        _same(lambda x: ~x, a)
        _same(mg.logical_not, a)
        _same(mg.signbit, a)
        _same(mg.isnan, a)
        _same(mg.isfinite, a)
        _same(lambda x: x & True if x.dtype == mg.bool_ else x & 6, a)
    _same(mg.floor, INTS)
    _same(mg.square, INTS)
    _same(lambda x: x << 70, INTS)  # shifts beyond the bit width: 0 (or -1 for >> of negatives)
    _same(lambda x: x >> 70, INTS)
    _same(lambda x: x << -1, INTS)
    _same(lambda x: 6 & x, INTS)
    _same(lambda x: x ** -1, INTS.astype(np.float32))


def test_float_predicates_and_rounding_on_gpu(strict):
    a = np.array([[np.nan, np.inf, -np.inf, -0.0], [0.5, 1.5, -2.5, 3.7]], dtype=np.float32)
    for fn in (mg.isnan, mg.isinf, mg.isfinite, mg.signbit, mg.round, mg.trunc, mg.frac,
               lambda x: x.round(decimals=1), lambda x: mg.copysign(x, -1.0)):
        _same(fn, a)
    # rounding beyond int64's range and the signs of zeros, as NumPy
    big = np.array([1e20, -3e30, -0.4, 0.4, -0.5, 2.5, -1.5, 4503599627370497.0, -7.0])
    for dt in (np.float32, np.float64):
        for fn in (mg.floor, mg.ceil, mg.trunc, mg.round):
            got = fn(mg.tensor(big.astype(dt), device="cuda")).numpy()
            want = fn(mg.tensor(big.astype(dt))).numpy()
            np.testing.assert_array_equal(got, want)
            np.testing.assert_array_equal(np.signbit(got), np.signbit(want))
    b = np.array([[1.0, 2.0, -np.inf, 0.0], [0.5, 1.6, -2.5, 3.0]], dtype=np.float32)
    _same(lambda x, y: mg.isclose(x, y, rtol=0.1, equal_nan=True), a, b)
    x, y = mg.tensor(a, device="cuda"), mg.tensor(b, device="cuda")
    assert mg.allclose(x[1], x[1]) and not mg.allclose(x[1], y[1])


def test_float_division_by_zero_on_gpu(strict):
    a = np.array([1.0, -1.0, 0.0, 5.5], dtype=np.float32)
    z = np.zeros(4, dtype=np.float32)
    _same(lambda x, y: x % y, a, z)
    _same(lambda x, y: x.fmod(y), a, z)


def test_type_promotion_on_gpu(strict):
    for fn in (lambda x: x * 2.5, lambda x: x / 2, lambda x: 0.7**x, lambda x: x**2.5,
               lambda x: x + mg.tensor(1.5, dtype=mg.float64)):
        _same(fn, INTS)


def test_creation_on_gpu(strict):
    for make in (lambda d: mg.empty(2, 3, device=d), lambda d: mg.linspace(0, 1, 5, device=d),
                 lambda d: mg.logspace(0, 2, 3, device=d),
                 lambda d: mg.tril_indices(3, 3, device=d),
                 lambda d: mg.triu_indices(3, 4, 1, device=d),
                 lambda d: mg.full_like(mg.ones(2, device=d), 3.0)):
        t = make("cuda")
        assert t.device == "cuda"
        if t.dtype.kind != "f" or t.shape != (2, 3):  # empty: any content
            np.testing.assert_array_equal(t.numpy(), make("cpu").numpy())
    assert mg.empty_like(mg.ones(3, device="cuda")).device == "cuda"
    for draw in (lambda d: mg.randint(0, 9, (5,), device=d), lambda d: mg.randperm(7, device=d),
                 lambda d: mg.rand_like(mg.ones(4, device=d)),
                 lambda d: mg.randn_like(mg.ones(4, device=d)),
                 lambda d: mg.normal(0.0, 1.0, (3,), device=d),
                 lambda d: mg.normal(mg.zeros(4, device=d), mg.ones(4, device=d)),
                 lambda d: mg.bernoulli(mg.full((6,), 0.5, device=d))):
        mg.manual_seed(5)
        g = draw("cuda")
        mg.manual_seed(5)
        c = draw("cpu")
        assert g.device == "cuda"  # the same seed gives the same draws on both devices
        np.testing.assert_allclose(g.numpy(), c.numpy(), rtol=1e-6)


def test_multinomial_on_gpu_is_a_counted_fallback():
    p = mg.tensor([1.0, 2.0, 3.0], device="cuda")
    prev = mcuda.strict(True)
    try:
        with pytest.raises(mcuda.HostFallbackError, match="multinomial"):
            mg.multinomial(p, 2)
    finally:
        mcuda.strict(prev)
    mcuda.reset_fallback_counts()
    mg.manual_seed(1)
    g = mg.multinomial(p, 2)
    mg.manual_seed(1)
    c = mg.multinomial(p.cpu(), 2)
    assert g.device == "cuda" and mcuda.fallback_counts() == {"multinomial": 1}
    np.testing.assert_array_equal(g.numpy(), c.numpy())
