"""Issue 14's elementwise maths, integer ops, creation ops and type promotion: what the registry
and the PyTorch differential tests do not cover: argument errors, the creation ops (seeding,
shapes, distributions, devices), erfinv's accuracy against SciPy, the promotion table as
documented, and gradient conventions that need no torch."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad.testing import gradcheck, gradgradcheck

# ---------------------------------------------------------------------------------------------
# Bad input: a clear error naming the op (and the shapes), never a NumPy traceback
# ---------------------------------------------------------------------------------------------

BAD = [
    (lambda: mg.atan2(mg.ones(2), mg.ones(3)), ValueError, r"atan2: shapes \(2,\) and \(3,\)"),
    (lambda: mg.hypot(mg.ones(2, 1), mg.ones(4, 3, 2)), ValueError, "hypot: shapes"),
    (lambda: mg.lerp(mg.ones(2), mg.ones(3), 0.5), ValueError, "lerp: shapes"),
    (lambda: mg.remainder(mg.ones(2), mg.ones(3)), ValueError, "remainder: shapes"),
    (lambda: mg.tensor([1, 2]) & mg.tensor([1, 2, 3]), ValueError, "bitwise_and: shapes"),
    (lambda: mg.logical_xor(mg.ones(2), mg.ones(3)), ValueError, "logical_xor: shapes"),
    (lambda: mg.isclose(mg.ones(2), mg.ones(3)), ValueError, "isclose: shapes"),
    (lambda: mg.tan("a"), TypeError, "tan: unsupported operand of type str"),
    (lambda: mg.erfinv(None), TypeError, "erfinv: unsupported operand"),
    (lambda: mg.copysign(mg.ones(2), "x"), TypeError, "copysign: unsupported operand"),
    (lambda: mg.where(mg.tensor([True]), "a", 1.0), TypeError, "where: unsupported operand"),
    (lambda: mg.frac(mg.tensor([1, 2])), TypeError, r"frac: needs a float tensor, got int64"),
    (lambda: mg.round(mg.ones(2), decimals=1.5), TypeError, "round: decimals must be an int"),
    (lambda: mg.isclose(mg.ones(2), mg.ones(2), rtol=-1), ValueError, "isclose: rtol"),
    (lambda: mg.allclose(mg.ones(2), mg.ones(2), atol="x"), TypeError, "allclose: atol"),
    (lambda: mg.lerp(mg.ones(2), mg.ones(2), "w"), TypeError, "lerp: weight"),
    (lambda: mg.clip(mg.ones(2), "a"), TypeError, "clip: min must be a number"),
    (lambda: mg.tensor([1.0]) & 1, TypeError, "bitwise_and: needs integer or bool tensors, got "
                                              "float32"),
    (lambda: ~mg.tensor([1.5]), TypeError, "bitwise_not: needs integer or bool"),
    (lambda: mg.tensor([1, 2]) << mg.tensor([1.0]), TypeError, "bitwise_left_shift: needs "
                                                               "integer tensors"),
    (lambda: mg.tensor([True]) << mg.tensor([True]), TypeError, "bitwise_left_shift: needs "
                                                                "integer tensors, got bool"),
    (lambda: mg.tensor([1, 2]) // 0, ZeroDivisionError, "floor_divide: integer division by zero"),
    (lambda: mg.fmod(mg.tensor([1]), mg.tensor([0])), ZeroDivisionError, "fmod: integer"),
    (lambda: mg.tensor([True]) % True, TypeError, "remainder: not supported for bool"),
    (lambda: mg.div(mg.ones(2), 2, rounding_mode="round"), ValueError, "div: rounding_mode must"),
    (lambda: mg.tensor([3]) ** -2, ValueError, "pow: integers to negative integer powers"),
    (lambda: mg.tensor([True]) - mg.tensor([False]), TypeError, "sub: subtraction with a bool"),
    (lambda: -mg.tensor([True]), TypeError, "neg: negation of a bool tensor"),
    (lambda: F.hardswish(mg.tensor([1, 2])), TypeError, "hardswish: input must be float32"),
    (lambda: F.mish([1.0]), TypeError, "mish: input must be a Tensor"),
    (lambda: F.softshrink(mg.ones(2), -0.5), ValueError, "softshrink: lambd must be >= 0"),
    (lambda: F.threshold(mg.ones(2), "a", 1.0), TypeError, "threshold: threshold must be a "
                                                           "number"),
    (lambda: F.glu(mg.ones(2, 3), 1), ValueError, r"glu: halving dimension must be even.*\(2, 3\)"),
    (lambda: F.glu(mg.ones(2, 4), 2), ValueError, r"glu: dim 2 out of range.*\(2, 4\)"),
    (lambda: F.glu(mg.tensor(1.0)), ValueError, "glu: input must have at least one dimension"),
    (lambda: F.softmin(mg.ones(2, 3)), TypeError, "softmin: dim must be given"),
    (lambda: F.softmin(mg.ones(2, 3), 5), ValueError, r"softmin: dim 5 is out of range.* 2 dim"),
    (lambda: nn.Softshrink(-1.0), ValueError, "Softshrink: lambd must be >= 0"),
    (lambda: nn.Threshold("a", 1.0), TypeError, "Threshold: threshold must be a number"),
    (lambda: nn.GLU(1.5), TypeError, "GLU: dim must be an int"),
    (lambda: mg.empty(-1), ValueError, r"empty: negative dimension in shape \(-1,\)"),
    (lambda: mg.empty(2, dtype="U3"), TypeError, "unsupported dtype"),
    (lambda: mg.empty_like(np.ones(2)), TypeError, "empty_like: input must be a Tensor"),
    (lambda: mg.full_like(mg.ones(2), "a"), TypeError, "full_like: fill_value must be a number"),
    (lambda: mg.linspace(0, 1, -1), ValueError, "linspace: steps must be >= 0"),
    (lambda: mg.linspace(0, 1, 2.5), TypeError, "linspace: steps must be an int"),
    (lambda: mg.linspace(mg.ones(2), 1, 3), ValueError, r"linspace: start must be a number or "
                                                         r"a one-element tensor, got shape \(2,\)"),
    (lambda: mg.logspace(0, 1, 3, base="e"), TypeError, "logspace: base must be a number"),
    (lambda: mg.tril_indices(3, -1), ValueError, "tril_indices: col must be >= 0"),
    (lambda: mg.triu_indices(3, 3, dtype=mg.float32), TypeError, "triu_indices: dtype must be "
                                                                 "an integer dtype"),
    (lambda: mg.randint(5, 2, (3,)), ValueError, r"randint: high \(2\) must be greater than low"),
    (lambda: mg.randint(5), TypeError, "randint: expected randint"),
    (lambda: mg.randint(1.5, (2,)), TypeError, "randint: high must be an int"),
    (lambda: mg.randint(5, (2,), generator=3), TypeError, "randint: generator must be a "
                                                          "numpy.random.Generator"),
    (lambda: mg.randperm(-2), ValueError, "randperm: n must be >= 0"),
    (lambda: mg.rand_like(mg.tensor([1, 2])), TypeError, "rand_like: needs a float dtype"),
    (lambda: mg.normal(0.0, -1.0, (2,)), ValueError, "normal: std must be >= 0"),
    (lambda: mg.normal(0.0, 1.0), TypeError, "normal: with a number mean and std, size must"),
    (lambda: mg.normal(mg.ones(2), mg.ones(3)), ValueError, r"normal: mean and std of shapes "
                                                            r"\(2,\) and \(3,\)"),
    (lambda: mg.normal(mg.zeros(2), -mg.ones(2)), ValueError, "normal: std must be >= 0"),
    (lambda: mg.bernoulli(mg.tensor([1.5])), ValueError, r"bernoulli: every probability in "
                                                         r"input \(shape \(1,\)\)"),
    (lambda: mg.bernoulli(mg.ones(2), p=2.0), ValueError, "bernoulli: p must lie in"),
    (lambda: mg.bernoulli(mg.tensor([1])), TypeError, "bernoulli: input must be a float"),
    (lambda: mg.multinomial(mg.tensor([0.0, 0.0]), 1), ValueError, "multinomial: row 0 of the "
                                                                   "weights sums to 0"),
    (lambda: mg.multinomial(mg.tensor([1.0, -1.0]), 1), ValueError, "multinomial: weights "
                                                                    "must be finite and >= 0"),
    (lambda: mg.multinomial(mg.ones(3), 4), ValueError, "multinomial: cannot draw 4 samples "
                                                        "without replacement from 3"),
    (lambda: mg.multinomial(mg.tensor([1.0, 0.0, 0.0]), 2), ValueError, "multinomial: cannot "
                                                                        "draw 2 samples"),
    (lambda: mg.multinomial(mg.ones(2, 2, 2), 1), ValueError, r"multinomial: input must be 1-D "
                                                              r"or 2-D.*\(2, 2, 2\)"),
    (lambda: mg.multinomial(mg.ones(3), 0), ValueError, "multinomial: num_samples must be >= 1"),
]


@pytest.mark.parametrize("call,exc,match", BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_input_gives_a_clear_error(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_failed_op_changes_nothing():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    before = x.numpy().copy()
    with pytest.raises(ValueError):
        mg.lerp(x, mg.ones(3), 0.5)
    with pytest.raises(TypeError):
        x & 1
    np.testing.assert_array_equal(x.numpy(), before)
    assert x.grad is None


# ---------------------------------------------------------------------------------------------
# Type promotion, as the README's table says
# ---------------------------------------------------------------------------------------------

PROMOTION = [
    (lambda: mg.tensor([1, 2]) * 2.5, mg.float32),
    (lambda: mg.tensor([1, 2]) / mg.tensor([2, 4]), mg.float32),
    (lambda: mg.tensor([1, 2]) / 2, mg.float32),
    (lambda: mg.tensor([1, 2], dtype=mg.int32) / mg.tensor([2]), mg.float32),
    (lambda: mg.tensor([1, 2]) ** 2.5, mg.float32),
    (lambda: 0.7 ** mg.tensor([1, 2]), mg.float32),
    (lambda: 2 ** mg.tensor([1, 2]), mg.int64),
    (lambda: mg.tensor([1, 2]) + mg.tensor([1.0, 2.0]), mg.float32),
    (lambda: mg.tensor([1, 2]) + mg.tensor(2.0), mg.float32),
    (lambda: mg.tensor([1, 2]) + mg.tensor(2.0, dtype=mg.float64), mg.float64),
    (lambda: mg.tensor([1.0, 2.0]) + mg.tensor(2.0, dtype=mg.float64), mg.float32),
    (lambda: mg.tensor([1.0], dtype=mg.float64) + mg.tensor([2.0]), mg.float64),
    (lambda: mg.tensor([1, 2], dtype=mg.int32) + 5, mg.int32),
    (lambda: mg.tensor([1, 2], dtype=mg.int32) + mg.tensor(5), mg.int32),
    (lambda: mg.tensor([1, 2], dtype=np.uint8) + mg.tensor([1], dtype=np.int8), np.int16),
    (lambda: mg.tensor([True]) + 1, mg.int64),
    (lambda: mg.tensor([True]) * 1.5, mg.float32),
    (lambda: mg.where(mg.tensor([True]), mg.tensor([1]), 2.5), mg.float32),
    (lambda: mg.clip(mg.tensor([1, 5]), 2.5), mg.float32),
    (lambda: mg.maximum(mg.tensor([1]), mg.tensor([1.5])), mg.float32),
    (lambda: mg.atan2(mg.tensor([1]), mg.tensor([2])), mg.float32),
    (lambda: mg.tensor([1, 2]) // 2, mg.int64),
    (lambda: mg.tensor([1, 2]) // 2.0, mg.float32),
    (lambda: mg.tensor([1, 2]).div(2, rounding_mode="trunc"), mg.int64),
]


@pytest.mark.parametrize("expr,dtype", PROMOTION, ids=[str(i) for i in range(len(PROMOTION))])
def test_type_promotion_table(expr, dtype):
    assert expr().dtype == np.dtype(dtype)


def test_uint8_plus_large_int_wraps_as_pytorch():
    np.testing.assert_array_equal((mg.tensor([1, 2], dtype=np.uint8) + 300).numpy(), [45, 46])


def test_mixed_float_dtypes_cast_the_gradient_back():
    x = mg.tensor([1.0, 2.0], requires_grad=True)  # float32
    s = mg.tensor(3.0, dtype=mg.float64, requires_grad=True)  # 0-d float64: weaker
    y = x * s
    assert y.dtype == mg.float32
    y.sum().backward()
    assert x.grad.dtype == mg.float32 and s.grad.dtype == mg.float64
    np.testing.assert_allclose(s.grad.numpy(), 3.0)


def test_comparisons_promote_like_pytorch():
    # 16777217 is not a float32: PyTorch compares in float32, where it equals 16777216
    assert bool((mg.tensor([16777217]) == 16777216.0).all())
    np.testing.assert_array_equal((mg.tensor([1, 2]) < 1.5).numpy(), [True, False])


# ---------------------------------------------------------------------------------------------
# Gradient conventions that need no torch
# ---------------------------------------------------------------------------------------------


def test_pow_gradients_at_zero():
    x = mg.tensor([0.0, 0.0, 0.0, 0.0], dtype=mg.float64, requires_grad=True)
    y = mg.tensor([2.0, 1.0, 0.0, 3.5], dtype=mg.float64, requires_grad=True)
    (x**y).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 1.0, 0.0, 0.0])
    np.testing.assert_array_equal(y.grad.numpy(), [0.0, 0.0, 0.0, 0.0])
    t = mg.tensor([0.0, 1.0, 2.0], requires_grad=True)
    (0.0**t).sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), [0.0, 0.0, 0.0])  # not NaN or -inf


def test_pow_second_order_at_zero_exponent_is_finite():
    x = mg.tensor([0.0, 1.5], dtype=mg.float64, requires_grad=True)
    y = mg.tensor([0.0, 0.0], dtype=mg.float64, requires_grad=True)
    (gx,) = mg.grad((x**y).sum(), x, create_graph=True)
    gx.sum().backward()
    assert np.isfinite(x.grad.numpy()).all() and np.isfinite(y.grad.numpy()).all()
    # d/dy of d/dx (x^y) = x^(y-1) (1 + y log x) = 1/x at y = 0, x = 1.5
    np.testing.assert_allclose(y.grad.numpy()[1], 1 / 1.5)


def test_rounding_ops_have_zero_gradient_and_frac_one():
    x = mg.tensor([-1.5, -0.2, 0.0, 0.7, 2.5], requires_grad=True)
    for op in (mg.floor, mg.ceil, mg.trunc, mg.round, lambda t: t // 0.5):
        x.grad = None
        y = op(x)
        assert y.requires_grad  # as PyTorch: part of the graph, with a zero gradient
        y.sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), 0.0)
    x.grad = None
    mg.frac(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 1.0)


def test_integer_rounding_ops_keep_the_tensor():
    x = mg.tensor([-3, 4])
    for op in (mg.floor, mg.ceil, mg.trunc, mg.round):
        y = op(x)
        assert y.dtype == mg.int64 and y.data is not x.data
        np.testing.assert_array_equal(y.numpy(), [-3, 4])


def test_higher_order_through_the_new_ops():
    x = mg.tensor(np.linspace(0.2, 0.8, 5), requires_grad=True)
    for fn in (mg.tan, mg.asin, mg.atanh, mg.erfinv, mg.rsqrt, mg.expm1, F.mish, F.softsign,
               lambda t: mg.logaddexp(t, t * t), lambda t: mg.hypot(t, 1 - t),
               lambda t: mg.lerp(t, t * t, t)):
        assert gradgradcheck(fn, [x])


def test_round_decimals_matches_numpy():
    a = np.array([1.2345, -2.5, 1234.5, 0.125])
    np.testing.assert_allclose(mg.round(mg.tensor(a), decimals=2).numpy(), np.round(a, 2))
    np.testing.assert_allclose(mg.round(mg.tensor(a), decimals=-2).numpy(), np.round(a, -2))


def test_erfinv_matches_scipy_to_a_few_ulp():
    special = pytest.importorskip("scipy.special")
    y = np.concatenate([np.linspace(-1, 1, 20001), 1 - np.logspace(-16, -1, 200),
                        -1 + np.logspace(-16, -1, 200), np.logspace(-300, -1, 100)])
    got, want = mg.erfinv(mg.tensor(y)).numpy(), special.erfinv(y)
    finite = np.isfinite(want)
    np.testing.assert_array_equal(np.isfinite(got), finite)
    np.testing.assert_allclose(got[finite], want[finite], rtol=2e-15, atol=0)
    y32 = y.astype(np.float32)
    got32 = mg.erfinv(mg.tensor(y32)).numpy()
    assert got32.dtype == np.float32
    np.testing.assert_allclose(got32[finite], special.erfinv(y32.astype(np.float64))[finite],
                               rtol=2e-7, atol=1e-44)  # float32 subnormals: absolute
    assert gradcheck(mg.erfinv, [mg.tensor(np.linspace(-0.99, 0.99, 9), requires_grad=True)])


def test_isclose_and_allclose():
    a = mg.tensor([1.0, np.nan, np.inf, 1.0])
    b = mg.tensor([1.0 + 1e-9, np.nan, np.inf, 1.1])
    np.testing.assert_array_equal(mg.isclose(a, b).numpy(), [True, False, True, False])
    np.testing.assert_array_equal(a.isclose(b, equal_nan=True).numpy(), [True, True, True, False])
    assert mg.allclose(a[:1], b[:1]) and not mg.allclose(a, b)
    assert mg.allclose(mg.tensor([1, 2]), mg.tensor([1, 3]), atol=1)
    assert isinstance(mg.allclose(a, a, equal_nan=True), bool)


# ---------------------------------------------------------------------------------------------
# Creation
# ---------------------------------------------------------------------------------------------

SEEDED = [
    lambda: mg.randint(0, 10, (5,)),
    lambda: mg.randint(7, size=(2, 3)),
    lambda: mg.rand_like(mg.ones(2, 3)),
    lambda: mg.randn_like(mg.ones(4)),
    lambda: mg.randperm(9),
    lambda: mg.normal(0.0, 1.0, (3,)),
    lambda: mg.normal(mg.zeros(3), mg.ones(3)),
    lambda: mg.normal(mg.zeros(3), 2.0),
    lambda: mg.normal(1.0, mg.ones(3)),
    lambda: mg.bernoulli(mg.full((6,), 0.5)),
    lambda: (mg.ones(6) * 0.5).bernoulli(),
    lambda: mg.multinomial(mg.tensor([1.0, 2.0, 3.0, 4.0]), 3),
    lambda: mg.tensor([[1.0, 2.0], [3.0, 0.5]]).multinomial(4, replacement=True),
]


@pytest.mark.parametrize("draw", SEEDED, ids=[str(i) for i in range(len(SEEDED))])
def test_random_constructors_follow_manual_seed(draw):
    mg.manual_seed(3)
    a = draw().numpy()
    mg.manual_seed(3)
    b = draw().numpy()
    mg.manual_seed(4)
    c = np.concatenate([draw().numpy().ravel() for _ in range(5)])
    np.testing.assert_array_equal(a, b)
    assert not all(np.array_equal(a.ravel(), c[i * a.size:(i + 1) * a.size]) for i in range(5))


def test_randint_overloads():
    for call in (lambda: mg.randint(3, 9, (4,)), lambda: mg.randint(3, 9, size=(4,)),
                 lambda: mg.randint(low=3, high=9, size=(4,)), lambda: mg.randint(3, high=9,
                                                                                  size=(4,))):
        mg.manual_seed(2)
        r = call()
        assert r.shape == (4,) and r.dtype == mg.int64
        assert 3 <= r.numpy().min() and r.numpy().max() < 9
    for call in (lambda: mg.randint(9, (4,)), lambda: mg.randint(9, size=(4,)),
                 lambda: mg.randint(high=9, size=(4,))):
        assert call().numpy().max() < 9
    with pytest.raises(TypeError, match="randint: expected"):
        mg.randint(1, 2, 3, (4,))
    with pytest.raises(TypeError, match="randint: expected"):
        mg.randint(low=1, size=(2,))


def test_generator_argument_is_used_instead_of_the_global_one():
    a = mg.randint(0, 1000, (5,), generator=np.random.default_rng(1)).numpy()
    b = mg.randint(0, 1000, (5,), generator=np.random.default_rng(1)).numpy()
    np.testing.assert_array_equal(a, b)


def test_distributions():
    mg.manual_seed(0)
    r = mg.randint(-3, 4, (20000,)).numpy()
    assert r.dtype == np.int64 and r.min() == -3 and r.max() == 3
    assert abs(np.mean(r == 0) - 1 / 7) < 0.02
    p = mg.randperm(50).numpy()
    np.testing.assert_array_equal(np.sort(p), np.arange(50))
    z = mg.normal(2.0, 3.0, (40000,)).numpy()
    assert abs(z.mean() - 2) < 0.1 and abs(z.std() - 3) < 0.1
    z = mg.normal(mg.tensor([-5.0, 5.0]).reshape(2, 1).expand(2, 20000), 0.5).numpy()
    assert abs(z[0].mean() + 5) < 0.05 and abs(z[1].std() - 0.5) < 0.05
    b = mg.bernoulli(mg.full((40000,), 0.3)).numpy()
    assert set(np.unique(b)) <= {0.0, 1.0} and abs(b.mean() - 0.3) < 0.02
    assert mg.bernoulli(mg.ones(5), p=0.0).numpy().sum() == 0
    m = mg.multinomial(mg.tensor([1.0, 3.0]), 20000, replacement=True).numpy()
    assert abs(m.mean() - 0.75) < 0.02
    rows = mg.multinomial(mg.rand(50, 6) + 0.01, 6).numpy()
    assert rows.shape == (50, 6) and all(sorted(r) == list(range(6)) for r in rows)
    assert mg.rand_like(mg.ones(3, dtype=mg.float64)).dtype == mg.float64


def test_deterministic_constructors():
    e = mg.empty(2, 3)
    assert e.shape == (2, 3) and e.dtype == mg.float32
    assert mg.empty((4,), dtype=mg.int32).dtype == mg.int32
    assert mg.empty_like(mg.ones(2, dtype=mg.float64)).dtype == mg.float64
    f = mg.full_like(mg.tensor([1, 2]), 7)
    assert f.dtype == mg.int64 and f.tolist() == [7, 7]
    assert mg.full_like(mg.tensor([1, 2]), 2.5, dtype=mg.float32).tolist() == [2.5, 2.5]
    np.testing.assert_allclose(mg.linspace(0, 1, 5).numpy(), [0, 0.25, 0.5, 0.75, 1])
    assert mg.linspace(0, 1, 0).shape == (0,) and mg.linspace(3, 9, 1).tolist() == [3.0]
    assert mg.linspace(0, 10, 4, dtype=mg.int64).tolist() == [0, 3, 6, 10]
    np.testing.assert_allclose(mg.logspace(0, 2, 3).numpy(), [1, 10, 100])
    np.testing.assert_allclose(mg.logspace(0, 3, 4, base=2).numpy(), [1, 2, 4, 8])
    np.testing.assert_array_equal(mg.tril_indices(3, 3).numpy(), np.stack(np.tril_indices(3)))
    np.testing.assert_array_equal(mg.triu_indices(3, 4, 1).numpy(),
                                  np.stack(np.triu_indices(3, 1, 4)))
    assert mg.tril_indices(0, 0).shape == (2, 0)
    x = mg.linspace(0, 1, 3, requires_grad=True)
    assert x.requires_grad and x.is_leaf
    with pytest.raises(TypeError, match="requires_grad"):
        mg.randint(0, 2, (2,), requires_grad=True)


def test_deterministic_constructors_match_torch():
    torch = pytest.importorskip("torch")
    for args in [(0, 1, 5), (-2.5, 7, 11), (3, -3, 7), (0, 1, 1), (1, 1, 0)]:
        np.testing.assert_allclose(mg.linspace(*args).numpy(), torch.linspace(*args).numpy(),
                                   rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(mg.logspace(*args).numpy(), torch.logspace(*args).numpy(),
                                   rtol=1e-5)
    np.testing.assert_array_equal(mg.linspace(0, 10, 4, dtype=mg.int64).numpy(),
                                  torch.linspace(0, 10, 4, dtype=torch.int64).numpy())
    for r, c, off in [(3, 3, 0), (4, 2, -1), (2, 5, 2), (3, 3, -5), (0, 3, 0)]:
        np.testing.assert_array_equal(mg.tril_indices(r, c, off).numpy(),
                                      torch.tril_indices(r, c, off).numpy())
        np.testing.assert_array_equal(mg.triu_indices(r, c, off).numpy(),
                                      torch.triu_indices(r, c, off).numpy())
    t = torch.ones(2, 3, dtype=torch.int32)
    assert str(torch.full_like(t, 7).dtype) == "torch.int32"
    assert mg.full_like(mg.ones(2, 3, dtype=mg.int32), 7).dtype == mg.int32
