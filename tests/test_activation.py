"""Activation kernels and ops: values against scalar `math` references, derivatives, extremes,
NaN propagation, layouts, parallel/serial agreement, argument errors, and PyTorch (if installed).

Gradients (first and second order) of every activation are fuzzed by the registry tests.
"""

from __future__ import annotations

import math
import warnings
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numba import njit

import minigrad as mg
from minigrad.ops import activation as F
from minigrad.ops.kernels.cpu import activation as K
from minigrad.ops.kernels.cpu import f32math as M
from minigrad.ops.kernels.scalar import ACTIVATIONS

# -- scalar references in float64, written from the definitions --------------------------------


def _sigmoid(v):
    return 1 / (1 + math.exp(-v)) if v >= 0 else math.exp(v) / (1 + math.exp(v))


def _softplus(v, beta, threshold):
    z = beta * v
    return v if z > threshold else (max(z, 0) + math.log1p(math.exp(-abs(z)))) / beta


_K_TANH = math.sqrt(2 / math.pi)

# name -> (params a, b, f, f')
REFERENCES = {
    "relu": (0.0, 0.0, lambda v: max(v, 0.0), lambda v: 1.0 if v > 0 else 0.0),
    "leaky_relu": (0.2, 0.0, lambda v: v if v > 0 else 0.2 * v, lambda v: 1.0 if v > 0 else 0.2),
    "elu": (
        0.7,
        1.3,
        lambda v: 1.3 * (v if v > 0 else 0.7 * math.expm1(v)),
        lambda v: 1.3 if v > 0 else 1.3 * 0.7 * math.exp(v),
    ),
    "sigmoid": (0.0, 0.0, _sigmoid, lambda v: _sigmoid(v) * _sigmoid(-v)),
    "tanh": (0.0, 0.0, math.tanh, lambda v: 1 / math.cosh(v) ** 2 if abs(v) < 300 else 0.0),
    "silu": (
        0.0,
        0.0,
        lambda v: v * _sigmoid(v),
        lambda v: _sigmoid(v) + v * _sigmoid(v) * _sigmoid(-v),
    ),
    "gelu": (
        0.0,
        0.0,
        lambda v: v * 0.5 * math.erfc(-v / math.sqrt(2)),
        lambda v: (0.5 * math.erfc(-v / math.sqrt(2))
                   + v * math.exp(-v * v / 2) / math.sqrt(2 * math.pi)),
    ),
    "gelu_tanh": (
        0.0,
        0.0,
        # 0.5 (1 + tanh u) written as sigmoid(2u): the same function, without the cancellation
        # of 1 + tanh(u) for v << 0 that would make the reference itself 0 there
        lambda v: v * _sigmoid(2 * _K_TANH * (v + 0.044715 * v**3)),
        # d/dv: 0.5 (1 + tanh u) + 0.5 v (1 - tanh^2 u) u', with 0.5 (1 - tanh^2 u) = 2 s(1 - s)
        # = 2 sigmoid(2u) sigmoid(-2u)
        lambda v: (
            _sigmoid(2 * _K_TANH * (v + 0.044715 * v**3))
            + 2 * v * _sigmoid(2 * _K_TANH * (v + 0.044715 * v**3))
            * _sigmoid(-2 * _K_TANH * (v + 0.044715 * v**3))
            * _K_TANH * (1 + 3 * 0.044715 * v * v)
        ),
    ),
    "softplus": (
        1.5,
        4.0,
        lambda v: _softplus(v, 1.5, 4.0),
        lambda v: 1.0 if 1.5 * v > 4.0 else _sigmoid(1.5 * v),
    ),
    "hardtanh": (
        -0.5,
        2.0,
        lambda v: min(max(v, -0.5), 2.0),
        lambda v: 1.0 if -0.5 < v < 2.0 else 0.0,
    ),
}
NAMES = sorted(REFERENCES)
# float64: erfc/exp in the far tails amplify a 1-ulp difference in their argument (x/sqrt2 vs
# x*(1/sqrt2)) by ~2x^2, hence 1e-12 rather than a few ulp
TOL = {np.float32: dict(rtol=1e-6, atol=1e-7), np.float64: dict(rtol=1e-12, atol=1e-300)}


def _grid(dtype):
    x = np.concatenate([np.linspace(-25, 25, 4001), np.linspace(-1e-3, 1e-3, 101)]).astype(dtype)
    return x[np.abs(x) > 1e-30]  # avoid comparing signed zeros of the kinks


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", NAMES)
def test_forward_matches_math_reference(name, dtype):
    a, b, f, _ = REFERENCES[name]
    x = _grid(dtype)
    expected = np.array([f(float(v)) for v in x])  # reference evaluated at the rounded inputs
    y = K.forward(name, x, a, b)
    assert y.dtype == dtype and y.shape == x.shape
    np.testing.assert_allclose(y, expected, **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", NAMES)
def test_derivative_matches_math_reference(name, dtype):
    a, b, _, df = REFERENCES[name]
    x = _grid(dtype)
    g = np.linspace(-2, 2, x.size).astype(dtype)
    expected = g.astype(np.float64) * np.array([df(float(v)) for v in x])
    gx = K.backward(name, g, x, a, b)
    assert gx.dtype == dtype
    tol = dict(rtol=4e-6, atol=4e-7) if dtype == np.float32 else dict(rtol=1e-11, atol=1e-300)
    np.testing.assert_allclose(gx, expected, **tol)


@pytest.mark.parametrize("name", NAMES)
def test_derivative_matches_finite_differences(name):
    a, b, f, _ = REFERENCES[name]
    kinks = {"relu": [0.0], "leaky_relu": [0.0], "elu": [0.0], "hardtanh": [a, b],
             "softplus": [b / a if a else 0.0]}.get(name, [])
    x = np.linspace(-6, 6, 241) + 0.0123
    x = x[np.min([np.abs(x - k) for k in kinks] + [np.full(x.shape, 1.0)], axis=0) > 1e-3]
    h = 1e-6
    numeric = np.array([(f(v + h) - f(v - h)) / (2 * h) for v in x])
    np.testing.assert_allclose(K.backward(name, np.ones_like(x), x, a, b), numeric, rtol=1e-6,
                               atol=1e-8)


# The second derivatives of the activation table (kernels/scalar.py) on NumPy arrays: the same
# expressions ops/activation.py evaluates on Tensors for create_graph=True.
_NUMPY_OPS = SimpleNamespace(exp=np.exp, sigmoid=lambda x: K.forward("sigmoid", x), tanh=np.tanh,
                             le=lambda u, c: (u <= c).astype(u.dtype))


@pytest.mark.parametrize("name", [n for n in NAMES if ACTIVATIONS[n].d2 is not None])
def test_second_derivatives_match_finite_differences_of_the_kernel(name):
    a, b, _, _ = REFERENCES[name]
    x = np.linspace(-6, 6, 241) + 0.0123  # no grid point within 1e-3 of a kink
    x = x[np.abs(1.5 * x - 4.0) > 1e-3] if name == "softplus" else x
    h = 1e-6
    ones = np.ones_like(x)
    numeric = (K.backward(name, ones, x + h, a, b) - K.backward(name, ones, x - h, a, b)) / (2 * h)
    np.testing.assert_allclose(ACTIVATIONS[name].d2(x, a, b, _NUMPY_OPS), numeric, rtol=1e-6,
                               atol=1e-8)


@pytest.mark.parametrize("name", sorted(K.FROM_OUTPUT))
def test_output_second_derivatives_match_finite_differences_of_the_kernel(name):
    y = np.linspace(-0.99, 0.99, 199) if name == "tanh" else np.linspace(0.005, 0.995, 199)
    h = 1e-7
    ones = np.ones_like(y)
    numeric = (K.backward_from_output(name, ones, y + h)
               - K.backward_from_output(name, ones, y - h)) / (2 * h)
    np.testing.assert_allclose(ACTIVATIONS[name].d2_output(y, _NUMPY_OPS), numeric, rtol=1e-6,
                               atol=1e-8)


def _elementwise_f32(fn):
    """A compiled loop applying the scalar float32 function ``fn`` (as the kernels inline it)."""

    @njit(error_model="numpy", fastmath={"contract"})
    def run(x):
        out = np.empty_like(x)
        for i in range(x.size):
            out[i] = fn(x[i])
        return out

    return run


def _ulps(got, exact):
    """|got - exact| in units of the float32 spacing at the exactly rounded value."""
    spacing = np.spacing(np.abs(exact.astype(np.float32))).astype(np.float64)
    return np.abs(got.astype(np.float64) - exact) / spacing


@pytest.mark.parametrize("fn, lo, hi, max_ulp", [
    (M.exp_nonpos_f32, -103.9, 0.0, 1.0),  # down to subnormal results, each rounded once
    (M.tanh_f32, -12.0, 12.0, 2.5),
    (M.expm1_f32, -88.0, 87.9, 2.0),
])
def test_float32_math_functions_against_float64(fn, lo, hi, max_ulp):
    x = np.concatenate([np.linspace(lo, hi, 400_001),
                        np.geomspace(1e-30, 1, 20_001) * (hi if hi > 0 else lo)]).astype(np.float32)
    got = _elementwise_f32(fn)(x)
    exact = {M.tanh_f32: np.tanh, M.expm1_f32: np.expm1}.get(fn, np.exp)(x.astype(np.float64))
    assert _ulps(got, exact).max() <= max_ulp


def test_float32_gelu_keeps_relative_accuracy_in_the_lower_tail():
    # where gelu(x) is a small negative number (PyTorch's float32 gelu returns 0 below -5)
    x = np.linspace(-12.5, 6, 40_001).astype(np.float32)
    exact = np.array([REFERENCES["gelu"][2](float(v)) for v in x])
    got = K.forward("gelu", x)
    tail = x < -5
    assert (np.abs(got - exact) / np.abs(exact))[tail].max() < 5e-6
    np.testing.assert_allclose(got[~tail], exact[~tail], rtol=1e-6, atol=1e-7)
    far = K.forward("gelu", np.array([np.inf, 1e30, -20.0, -1e30], np.float32))
    assert list(far) == [np.inf, 1e30, 0.0, 0.0]  # the clamp of |x| changes no value


def test_float32_tanh_saturates_exactly_and_keeps_signs():
    tanh = _elementwise_f32(M.tanh_f32)
    x = np.array([9.02, 9.1, 20.0, 1e30, np.inf], np.float32)
    np.testing.assert_array_equal(tanh(x), 1.0)
    np.testing.assert_array_equal(tanh(-x), -1.0)
    y = tanh(np.linspace(-10, 10, 100_001).astype(np.float32))
    # bounded, and monotone up to its rounding (steps back of at most 2 ulp, found next to +-1)
    assert np.abs(y).max() == 1.0 and np.diff(y).min() >= -2 * np.spacing(np.float32(0.9))
    z = tanh(np.array([0.0, -0.0, 1e-40, -1e-40, np.nan], np.float32))
    assert list(np.signbit(z[:4])) == [False, True, False, True] and np.isnan(z[4])
    assert z[2] == np.float32(1e-40)  # tanh(x) = x for tiny x, subnormals too
    e = _elementwise_f32(M.exp_nonpos_f32)(np.array([np.nan, -np.inf, -200.0, -0.0], np.float32))
    assert np.isnan(e[0]) and list(e[1:]) == [0.0, 0.0, 1.0]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_extremes_are_finite_exact_and_silent(dtype):
    x = np.array([-1e4, -100.0, -30.0, 30.0, 100.0, 1e4], dtype=dtype)
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        s = K.forward("sigmoid", x)
        sp = K.forward("softplus", x, 1.0, 20.0)
        sp_inf = K.forward("softplus", x, 1.0, math.inf)  # the log1p branch everywhere
        ds = K.backward("sigmoid", np.ones_like(x), x)
        dsp = K.backward("softplus", np.ones_like(x), x, 1.0, math.inf)
        dt = K.backward("tanh", np.ones_like(x), x)
        out = [K.forward(n, x, *REFERENCES[n][:2]) for n in NAMES]
    assert s[0] == 0 and s[-1] == 1 and ds[0] == 0 and ds[-1] == 0
    np.testing.assert_array_equal(sp[[0, -1]], [0, 1e4])
    np.testing.assert_array_equal(sp_inf[[0, -1]], [0, 1e4])
    assert dsp[0] == 0 and dsp[-1] == 1 and dt[0] == 0 and dt[-1] == 0
    assert all(np.isfinite(o).all() for o in out)
    # deep tails keep relative accuracy where the value is still a normal float
    assert s[1] == pytest.approx(math.exp(-100), rel=1e-5 if dtype == np.float32 else 1e-13)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", NAMES)
def test_nan_propagates(name, dtype):
    a, b = REFERENCES[name][:2]
    x = np.array([1.0, np.nan, -1.0], dtype=dtype)
    y = K.forward(name, x, a, b)
    assert np.isnan(y[1]) and np.isfinite(y[[0, 2]]).all()


def test_infinities_follow_pytorch():
    x = np.array([np.inf, -np.inf])
    assert list(K.forward("sigmoid", x)) == [1, 0]
    assert list(K.forward("tanh", x)) == [1, -1]
    assert list(K.forward("relu", x)) == [np.inf, 0]
    assert list(K.forward("elu", x, 1.0, 1.0)) == [np.inf, -1]
    assert list(K.forward("softplus", x, 1.0, 20.0)) == [np.inf, 0]


@pytest.mark.parametrize("name", NAMES)
def test_parallel_and_serial_variants_agree(name):
    a, b = REFERENCES[name][:2]
    n = K.PARALLEL_MIN_SIZE + 123
    x = np.random.default_rng(0).standard_normal(n).astype(np.float32) * 4
    g = np.random.default_rng(1).standard_normal(n).astype(np.float32)
    big = K.forward(name, x, a, b)  # parallel
    pieces = [K.forward(name, p, a, b) for p in np.array_split(x, 8)]  # serial
    # equal up to FMA contraction, which may round an element differently in the vector body
    # and in a loop remainder (where an element falls depends on the split and on alignment);
    # atol covers derivatives that are a difference of O(1) terms (gelu' near its root)
    np.testing.assert_allclose(big, np.concatenate(pieces), rtol=3e-7, atol=5e-8)
    big_g = K.backward(name, g, x, a, b)
    pieces_g = [K.backward(name, gp, xp, a, b) for gp, xp in
                zip(np.array_split(g, 8), np.array_split(x, 8))]
    np.testing.assert_allclose(big_g, np.concatenate(pieces_g), rtol=3e-7, atol=5e-8)


@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=3, max_side=5),
                  elements=st.floats(-5, 5)), st.sampled_from(NAMES))
def test_any_layout_gives_the_same_values(x, name):
    a, b = REFERENCES[name][:2]
    for view in (x.T, x[..., ::2], np.asfortranarray(x)):
        np.testing.assert_array_equal(K.forward(name, view, a, b),
                                      K.forward(name, np.ascontiguousarray(view), a, b))
        np.testing.assert_array_equal(K.backward(name, view, view, a, b),
                                      K.backward(name, np.ascontiguousarray(view),
                                                 np.ascontiguousarray(view), a, b))


# -- op level --------------------------------------------------------------------------------


def test_op_values_dtype_and_graph():
    x = mg.tensor(np.array([[-2.0, -0.5], [0.5, 3.0]], dtype=np.float32), requires_grad=True)
    cases = {
        F.relu(x): [[0, 0], [0.5, 3]],
        F.relu6(x * 3): [[0, 0], [1.5, 6]],
        F.leaky_relu(x, 0.1): [[-0.2, -0.05], [0.5, 3]],
        F.hardtanh(x): [[-1, -0.5], [0.5, 1]],
        F.step(x): [[0, 0], [1, 1]],
    }
    for y, expected in cases.items():
        assert y.dtype == np.float32
        np.testing.assert_allclose(y.numpy(), expected, rtol=1e-6)
    y = F.sigmoid(x)
    y.sum().backward()
    s = 1 / (1 + np.exp(-x.numpy().astype(np.float64)))
    np.testing.assert_allclose(x.grad.numpy(), s * (1 - s), rtol=1e-6)


def test_selu_celu_logsigmoid_maxout_heaviside_values():
    v = np.array([-3.0, -0.4, 0.0, 0.7, 2.5])
    x = mg.tensor(v)
    alpha, scale = 1.6732632423543772, 1.0507009873554805
    np.testing.assert_allclose(F.selu(x).numpy(), scale * np.where(v > 0, v, alpha * np.expm1(v)))
    np.testing.assert_allclose(F.celu(x, 2.0).numpy(),
                               np.maximum(v, 0) + np.minimum(0, 2 * np.expm1(v / 2)))
    np.testing.assert_allclose(F.logsigmoid(x).numpy(), -np.log1p(np.exp(-v)))
    np.testing.assert_allclose(F.logsigmoid(mg.tensor([-1e4, 1e4])).numpy(), [-1e4, 0])
    np.testing.assert_array_equal(F.heaviside(x, 0.5).numpy(), [0, 0, 0.5, 1, 1])
    m = mg.tensor(np.arange(12.0).reshape(1, 6, 2) * np.array([1, -1])[None, None, :])
    # channel c holds (2c, -(2c + 1)); groups of 3 channels: max of (0, 2, 4), of (-1, -3, -5), ...
    np.testing.assert_array_equal(F.maxout(m, 3).numpy(), [[[4, -1], [10, -7]]])


def test_gelu_and_softplus_options():
    x = mg.tensor(np.linspace(-3, 3, 7))
    tanh_approx = F.gelu(x, approximate="tanh").numpy()
    exact = F.gelu(x).numpy()
    assert np.abs(tanh_approx - exact).max() < 1e-3 and not np.array_equal(tanh_approx, exact)
    np.testing.assert_allclose(F.softplus(x, beta=2.0, threshold=1.0).numpy(),
                               np.where(2 * x.numpy() > 1, x.numpy(),
                                        np.log1p(np.exp(2 * x.numpy())) / 2))


def test_second_derivative_of_sigmoid_by_create_graph():
    x = mg.tensor([0.3, -1.2], requires_grad=True)
    (g,) = mg.grad(F.sigmoid(x).sum(), [x], create_graph=True)
    (gg,) = mg.grad(g.sum(), [x])
    s = 1 / (1 + np.exp(-x.numpy()))
    np.testing.assert_allclose(gg.numpy(), s * (1 - s) * (1 - 2 * s), rtol=1e-12)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: F.relu(mg.tensor([1, 2])), TypeError, "relu: input must be float"),
        (lambda: F.sigmoid(np.ones(3)), TypeError, "sigmoid: input must be a Tensor"),
        (lambda: F.hardtanh(mg.tensor([1.0]), 2.0, 1.0), ValueError, "min_val"),
        (lambda: F.gelu(mg.tensor([1.0]), approximate="fast"), ValueError, "approximate"),
        (lambda: F.softplus(mg.tensor([1.0]), beta=0), ValueError, "beta"),
        (lambda: F.maxout(mg.tensor(np.ones((2, 5))), 2), ValueError, "pieces"),
        (lambda: F.maxout(mg.tensor(np.ones((2, 4))), 2, dim=3), ValueError, "dim"),
        (lambda: K.forward("swish", np.ones(2)), ValueError, "unknown activation"),
        (lambda: K.forward("relu", np.ones(2, dtype=np.float16)), TypeError, "float32 or float64"),
    ],
)
def test_bad_arguments_raise_clear_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_matches_torch():
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    rng = np.random.default_rng(3)
    v = (rng.standard_normal((3, 50)) * 4).astype(np.float32)
    pairs = [
        (F.relu, tf.relu), (F.relu6, tf.relu6), (F.sigmoid, torch.sigmoid), (F.tanh, torch.tanh),
        (F.silu, tf.silu), (F.gelu, tf.gelu), (F.selu, tf.selu), (F.logsigmoid, tf.logsigmoid),
        (lambda t: F.gelu(t, approximate="tanh"), lambda t: tf.gelu(t, approximate="tanh")),
        (lambda t: F.leaky_relu(t, 0.2), lambda t: tf.leaky_relu(t, 0.2)),
        (lambda t: F.elu(t, 0.5), lambda t: tf.elu(t, 0.5)),
        (lambda t: F.celu(t, 1.5), lambda t: tf.celu(t, 1.5)),
        (lambda t: F.softplus(t, 2.0, 3.0), lambda t: tf.softplus(t, 2.0, 3.0)),
        (lambda t: F.hardtanh(t, -2.0, 1.5), lambda t: tf.hardtanh(t, -2.0, 1.5)),
    ]
    g = rng.standard_normal(v.shape).astype(np.float32)
    for ours, theirs in pairs:
        x = mg.tensor(v, requires_grad=True)
        y = ours(x)
        (y * mg.tensor(g)).sum().backward()
        xt = torch.tensor(v, requires_grad=True)
        yt = theirs(xt)
        (yt * torch.tensor(g)).sum().backward()
        np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), rtol=1e-5, atol=2e-6)
        np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-5, atol=2e-6)
