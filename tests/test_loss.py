"""Softmax and losses: values and gradients against NumPy references written from the
definitions, extreme logits, label smoothing, ignore_index, class weights, argument errors, and
PyTorch (if installed)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigrad as mg
from minigrad.ops import loss as F
from minigrad.ops import softmax as SM
from minigrad.ops.kernels.cpu import softmax as K


def ref_log_softmax(x, dim):
    x = np.asarray(x, dtype=np.float64)
    m = x.max(axis=dim, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=dim, keepdims=True))


def ref_cross_entropy_rows(x, t, w, ignore_index, eps):
    """Per-row loss, and the mean's denominator, by a loop over rows."""
    c = x.shape[1]
    rows, denom = [], 0.0
    for i in range(x.shape[0]):
        if t[i] == ignore_index:
            rows.append(0.0)
            continue
        logp = ref_log_softmax(x[i], 0)
        rows.append((1 - eps) * -w[t[i]] * logp[t[i]] + eps / c * -(w * logp).sum())
        denom += w[t[i]]
    return np.array(rows), denom


# -- softmax / log_softmax -----------------------------------------------------------------------


@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=6),
                  elements=st.floats(-50, 50)),
       st.data(), st.sampled_from([np.float32, np.float64]))
def test_softmax_and_log_softmax_any_dim(x, data, dtype):
    dim = data.draw(st.integers(-x.ndim, x.ndim - 1))
    xt = mg.tensor(x.astype(dtype))
    tol = dict(rtol=2e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-14)
    ls = SM.log_softmax(xt, dim)
    assert ls.dtype == dtype and ls.shape == x.shape
    np.testing.assert_allclose(ls.numpy(), ref_log_softmax(x.astype(dtype), dim), **tol)
    np.testing.assert_allclose(SM.softmax(xt, dim).numpy(),
                               np.exp(ref_log_softmax(x.astype(dtype), dim)), **tol)


def test_softmax_backward_kernels_match_the_formulas():
    rng = np.random.default_rng(0)
    x, g = rng.standard_normal((5, 7)), rng.standard_normal((5, 7))
    y = np.exp(ref_log_softmax(x, 1))
    np.testing.assert_allclose(K.softmax_backward(g, y), y * (g - (g * y).sum(1, keepdims=True)),
                               rtol=1e-12)
    np.testing.assert_allclose(K.log_softmax_backward(g, np.log(y)),
                               g - y * g.sum(1, keepdims=True), rtol=1e-12, atol=1e-14)


def test_extreme_logits_do_not_overflow_and_nan_rows_stay_nan():
    x = np.array([[1e4, -1e4, 0.0], [3e38, 0.0, -3e38], [1.0, np.nan, 2.0]], dtype=np.float32)
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        ls = K.log_softmax_forward(x)
        sm = K.softmax_forward(x)
    np.testing.assert_allclose(ls[0], [0, -2e4, -1e4])
    np.testing.assert_allclose(sm[1], [1, 0, 0])
    assert np.isnan(ls[2]).all() and np.isnan(sm[2]).all()


def test_large_rows_parallel_path():
    x = np.random.default_rng(1).standard_normal((300, 1000)).astype(np.float32) * 10
    np.testing.assert_allclose(K.log_softmax_forward(x), ref_log_softmax(x, 1), rtol=1e-5,
                               atol=2e-5)


def test_large_rows_parallel_path_backward_and_cross_entropy():
    """Every row kernel above the parallel threshold (300 rows: not a multiple of the chunk of
    rows the cross-entropy forward gives each scratch buffer), against float64 references."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((300, 1000)) * 5
    gy = rng.standard_normal(x.shape)
    logp = ref_log_softmax(x, 1)
    p = np.exp(logp)
    np.testing.assert_allclose(K.softmax_forward(x), p, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(K.softmax_backward(gy, p),
                               p * (gy - (gy * p).sum(1, keepdims=True)), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(K.log_softmax_backward(gy, logp),
                               gy - p * gy.sum(1, keepdims=True), rtol=1e-10, atol=1e-12)

    t = rng.integers(0, 1000, 300)
    t[::7] = -100
    w = rng.uniform(0.5, 2.0, 1000)
    eps = 0.1
    loss, lse = K.cross_entropy_forward(x, t, w, -100, eps)
    np.testing.assert_allclose(loss, ref_cross_entropy_rows(x, t, w, -100, eps)[0], rtol=1e-12)
    g = rng.standard_normal(300)
    kept = t != -100
    onehot = np.zeros_like(x)
    onehot[np.arange(300)[kept], t[kept]] = 1.0
    w_t = np.where(kept, w[np.where(kept, t, 0)], 0.0)[:, None]
    expected = g[:, None] * ((1 - eps) * w_t * (p - onehot)
                             + kept[:, None] * eps / 1000 * (p * w.sum() - w))
    np.testing.assert_allclose(K.cross_entropy_backward(g, x, t, w, lse, -100, eps), expected,
                               rtol=1e-10, atol=1e-13)


# -- cross-entropy -------------------------------------------------------------------------------


@st.composite
def ce_cases(draw):
    n, c = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    x = draw(hnp.arrays(np.float64, (n, c), elements=st.floats(-20, 20)))
    t = draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, c - 1)))
    if draw(st.booleans()):
        t[draw(st.integers(0, n - 1))] = -100
    w = draw(st.none() | hnp.arrays(np.float64, (c,), elements=st.floats(0.1, 3)))
    eps = draw(st.sampled_from([0.0, 0.1, 0.5, 1.0]))
    return x, t, w, eps


@given(ce_cases(), st.sampled_from(["none", "sum", "mean"]))
def test_cross_entropy_values_and_gradients(case, reduction):
    x, t, w, eps = case
    rows, denom = ref_cross_entropy_rows(x, t, np.ones(x.shape[1]) if w is None else w, -100, eps)
    if reduction == "mean" and denom == 0:
        return  # all ignored: NaN, tested separately
    expected = {"none": rows, "sum": rows.sum(), "mean": rows.sum() / (denom or 1)}[reduction]
    xt = mg.tensor(x, requires_grad=True)
    loss = F.cross_entropy(xt, t, None if w is None else mg.tensor(w), reduction=reduction,
                           label_smoothing=eps)
    np.testing.assert_allclose(loss.numpy(), expected, rtol=1e-10, atol=1e-12)
    # gradient against central differences of the reference
    gy = np.linspace(0.5, 1.5, rows.size) if reduction == "none" else 1.0
    (loss * mg.tensor(gy)).sum().backward()
    num = np.zeros_like(x)
    h = 1e-6
    wv = np.ones(x.shape[1]) if w is None else w
    for idx in np.ndindex(*x.shape):
        xp, xm = x.copy(), x.copy()
        xp[idx] += h
        xm[idx] -= h
        rp, dp = ref_cross_entropy_rows(xp, t, wv, -100, eps)
        rm, _ = ref_cross_entropy_rows(xm, t, wv, -100, eps)
        scale = 1 / dp if reduction == "mean" else 1.0
        num[idx] = ((rp - rm) * gy).sum() * scale / (2 * h)
    np.testing.assert_allclose(xt.grad.numpy(), num, rtol=1e-5, atol=1e-7)


def test_cross_entropy_spatial_targets_and_unbatched():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 4, 3, 5))
    t = rng.integers(0, 4, (2, 3, 5))
    rows = np.moveaxis(x, 1, -1).reshape(-1, 4)
    expected, denom = ref_cross_entropy_rows(rows, t.reshape(-1), np.ones(4), -100, 0.0)
    out = F.cross_entropy(mg.tensor(x), t, reduction="none")
    assert out.shape == (2, 3, 5)
    np.testing.assert_allclose(out.numpy(), expected.reshape(2, 3, 5), rtol=1e-12)
    np.testing.assert_allclose(F.cross_entropy(mg.tensor(x), t).item(), expected.sum() / denom)
    one = F.cross_entropy(mg.tensor(x[0, :, 0, 0]), np.int64(t[0, 0, 0]))
    assert one.shape == () and one.item() == pytest.approx(expected[0])


def test_cross_entropy_extreme_logits_and_all_ignored():
    x = mg.tensor(np.array([[1e4, -1e4], [-1e4, 1e4]], dtype=np.float32), requires_grad=True)
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        loss = F.cross_entropy(x, np.array([1, 1]))
        loss.backward()
    assert loss.item() == pytest.approx(1e4)
    np.testing.assert_allclose(x.grad.numpy(), [[0.5, -0.5], [0, 0]])
    nan = F.cross_entropy(mg.tensor([[1.0, 2.0]]), np.array([-100]))
    assert math.isnan(nan.item())


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: F.cross_entropy(mg.tensor(np.zeros((2, 3))), np.array([0.0, 1.0])), TypeError,
         "integer class indices"),
        (lambda: F.cross_entropy(mg.tensor(np.zeros((2, 3))), np.array([0, 3])), ValueError,
         "out of range"),
        (lambda: F.cross_entropy(mg.tensor(np.zeros((2, 3))), np.array([0, 1, 2])), ValueError,
         "target shape"),
        (lambda: F.cross_entropy(mg.tensor(np.zeros((2, 3))), np.array([0, 1]), reduction="avg"),
         ValueError, "reduction"),
        (lambda: F.cross_entropy(mg.tensor(np.zeros((2, 3))), np.array([0, 1]),
                                 label_smoothing=1.5), ValueError, "label_smoothing"),
        (lambda: F.cross_entropy(mg.tensor(np.zeros((2, 3))), np.array([0, 1]),
                                 mg.tensor(np.ones(2))), ValueError, "weight"),
        (lambda: F.cross_entropy(mg.tensor(np.zeros((2, 3), dtype=np.int64)), np.array([0, 1])),
         TypeError, "float32 or float64"),
        (lambda: F.nll_loss(mg.tensor(np.zeros((2, 3))), np.array([0, -1])), ValueError,
         "out of range"),
        (lambda: SM.softmax(mg.tensor(np.zeros((2, 3))), 2), ValueError, "dim"),
        (lambda: SM.log_softmax(mg.tensor(np.zeros((2, 3)))), TypeError, "dim must be given"),
        (lambda: F.mse_loss(mg.tensor(np.zeros(3)), mg.tensor(np.zeros(4))), ValueError,
         "target shape"),
        (lambda: F.binary_cross_entropy(mg.tensor([1.5]), mg.tensor([1.0])), ValueError,
         "probabilities"),
    ],
)
def test_bad_arguments_raise_clear_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


# -- other losses ---------------------------------------------------------------------------------


def test_nll_mse_l1_values():
    rng = np.random.default_rng(5)
    logp = ref_log_softmax(rng.standard_normal((4, 3)), 1)
    t = np.array([0, 2, -100, 1])
    w = np.array([0.5, 1.0, 2.0])
    picked = np.array([-w[0] * logp[0, 0], -w[2] * logp[1, 2], 0.0, -w[1] * logp[3, 1]])
    np.testing.assert_allclose(F.nll_loss(mg.tensor(logp), t, mg.tensor(w)).item(),
                               picked.sum() / (w[0] + w[2] + w[1]))
    np.testing.assert_allclose(F.nll_loss(mg.tensor(logp), t, reduction="none").numpy(),
                               [-logp[0, 0], -logp[1, 2], 0.0, -logp[3, 1]])
    a, b = rng.standard_normal((2, 5)), rng.standard_normal((2, 5))
    assert F.mse_loss(mg.tensor(a), mg.tensor(b)).item() == pytest.approx(((a - b) ** 2).mean())
    assert F.l1_loss(mg.tensor(a), b, reduction="sum").item() == pytest.approx(np.abs(a - b).sum())


def test_bce_with_logits_is_stable_and_matches_the_definition():
    x = np.array([-1e4, -30.0, -1.0, 0.0, 2.0, 40.0, 1e4])
    t = np.array([0.0, 1.0, 0.3, 1.0, 0.0, 0.5, 1.0])
    pw = 2.5
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        xt = mg.tensor(x, requires_grad=True)
        loss = F.binary_cross_entropy_with_logits(xt, mg.tensor(t), reduction="none",
                                                  pos_weight=mg.tensor([pw]))
        loss.sum().backward()
    log_sig = np.array([-math.log1p(math.exp(-v)) if v > -30 else v for v in x])
    log_one_minus = np.array([-math.log1p(math.exp(v)) if v < 30 else -v for v in x])
    expected = -(pw * t * log_sig + (1 - t) * log_one_minus)
    np.testing.assert_allclose(loss.numpy(), expected, rtol=1e-12)
    sig = 1 / (1 + np.exp(-np.clip(x, -700, 700)))
    np.testing.assert_allclose(xt.grad.numpy(), (pw * t + 1 - t) * sig - pw * t, rtol=1e-10,
                               atol=1e-300)


def test_binary_cross_entropy_clamps_the_log_at_minus_100():
    p = mg.tensor([0.0, 1.0, 0.25])
    t = mg.tensor([1.0, 0.0, 1.0])
    np.testing.assert_allclose(F.binary_cross_entropy(p, t, reduction="none").numpy(),
                               [100, 100, -math.log(0.25)], rtol=1e-6)


def test_matches_torch():
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    rng = np.random.default_rng(6)
    x = rng.standard_normal((8, 5, 3)) * 3
    t = rng.integers(0, 5, (8, 3))
    t[1, 2] = -100
    w = rng.uniform(0.5, 2, 5)
    for red in ("none", "sum", "mean"):
        for eps in (0.0, 0.2):
            for weight in (None, w):
                xm = mg.tensor(x, requires_grad=True)
                xt = torch.tensor(x, requires_grad=True)
                ym = F.cross_entropy(xm, t, None if weight is None else mg.tensor(weight),
                                     reduction=red, label_smoothing=eps)
                yt = tf.cross_entropy(xt, torch.tensor(t),
                                      None if weight is None else torch.tensor(weight),
                                      reduction=red, label_smoothing=eps)
                np.testing.assert_allclose(ym.numpy(), yt.detach().numpy(), rtol=1e-10)
                ym.sum().backward()
                yt.sum().backward()
                np.testing.assert_allclose(xm.grad.numpy(), xt.grad.numpy(), rtol=1e-9,
                                           atol=1e-12)
            lp = ref_log_softmax(x, 1)
            np.testing.assert_allclose(
                F.nll_loss(mg.tensor(lp), t, mg.tensor(w), reduction=red).numpy(),
                tf.nll_loss(torch.tensor(lp), torch.tensor(t), torch.tensor(w),
                            reduction=red).numpy(), rtol=1e-10)
    z, y = rng.standard_normal((4, 3)), rng.uniform(0, 1, (4, 3))
    pw = rng.uniform(0.5, 2, 3)
    np.testing.assert_allclose(
        F.binary_cross_entropy_with_logits(mg.tensor(z), mg.tensor(y), pos_weight=pw).item(),
        tf.binary_cross_entropy_with_logits(torch.tensor(z), torch.tensor(y),
                                            pos_weight=torch.tensor(pw)).item(), rtol=1e-12)
    p = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(F.binary_cross_entropy(mg.tensor(p), mg.tensor(y)).item(),
                               tf.binary_cross_entropy(torch.tensor(p), torch.tensor(y)).item(),
                               rtol=1e-12)
