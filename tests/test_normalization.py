"""batch_norm (training and evaluation, running statistics, both backward paths) and dropout
(seeding, scaling statistics, edge probabilities, argument errors); PyTorch if installed."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
from minigrad.ops import dropout as D
from minigrad.ops import normalization as N
from minigrad.ops.kernels.cpu import norm as K


def ref_batch_norm_train(x, w, b, eps):
    """Batch statistics by explicit loops over channels, then the affine normalization."""
    c = x.shape[1]
    y = np.empty(x.shape)
    means, variances = np.empty(c), np.empty(c)
    for ch in range(c):
        v = x[:, ch].astype(np.float64).ravel()
        m = sum(v) / v.size
        var = sum((e - m) ** 2 for e in v) / v.size
        y[:, ch] = (x[:, ch] - m) / np.sqrt(var + eps) * w[ch] + b[ch]
        means[ch], variances[ch] = m, var
    return y, means, variances


@st.composite
def bn_inputs(draw):
    shape = (draw(st.integers(2, 5)), draw(st.integers(1, 4)))
    shape += tuple(draw(st.integers(1, 4)) for _ in range(draw(st.integers(0, 2))))
    seed = draw(st.integers(0, 999))
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * draw(st.sampled_from([0.1, 1.0, 30.0])) + draw(
        st.sampled_from([0.0, 5.0, -1e3]))
    return x, rng.standard_normal(shape[1]), rng.standard_normal(shape[1])


@given(bn_inputs(), st.sampled_from([np.float32, np.float64]))
def test_training_forward_and_running_stats(case, dtype):
    x, w, b = case
    x = x.astype(dtype)
    rm, rv = mg.tensor(np.full(x.shape[1], 0.5)), mg.tensor(np.full(x.shape[1], 2.0))
    y = N.batch_norm(mg.tensor(x), rm, rv, mg.tensor(w.astype(dtype)), mg.tensor(b.astype(dtype)),
                     training=True, momentum=0.3, eps=1e-5)
    ry, means, variances = ref_batch_norm_train(x, w, b, 1e-5)
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-9, atol=1e-9)
    assert y.dtype == dtype
    np.testing.assert_allclose(y.numpy(), ry, **tol)
    count = x.size // x.shape[1]
    np.testing.assert_allclose(rm.numpy(), 0.7 * 0.5 + 0.3 * means, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(rv.numpy(), 0.7 * 2.0 + 0.3 * variances * count / (count - 1),
                               rtol=1e-5)


@given(bn_inputs())
def test_training_backward_kernel_matches_finite_differences(case):
    x, w, b = case
    g = np.random.default_rng(0).standard_normal(x.shape)
    mean, invstd = K.batch_stats(x, 1e-3)
    gx, gw, gb = K.batch_norm_backward(g, x, mean, invstd, w)

    def loss(xx, ww, bb):
        return (ref_batch_norm_train(xx, ww, bb, 1e-3)[0] * g).sum()

    h = 1e-6 * max(1.0, float(np.abs(x).max()))
    num = np.zeros_like(x)
    for idx in np.ndindex(*x.shape):
        xp, xm = x.copy(), x.copy()
        xp[idx] += h
        xm[idx] -= h
        num[idx] = (loss(xp, w, b) - loss(xm, w, b)) / (2 * h)
    scale = np.abs(num).max() + 1.0
    np.testing.assert_allclose(gx, num, rtol=1e-4, atol=1e-5 * scale)
    np.testing.assert_allclose(gb, g.sum(axis=(0, *range(2, x.ndim))), rtol=1e-10)
    xhat = (x - mean.reshape((1, -1) + (1,) * (x.ndim - 2))) * invstd.reshape(
        (1, -1) + (1,) * (x.ndim - 2))
    np.testing.assert_allclose(gw, (g * xhat).sum(axis=(0, *range(2, x.ndim))), rtol=1e-8,
                               atol=1e-10)


def test_fused_and_composed_backward_agree():
    """The plain backward (one kernel) and the create_graph one (Tensor ops) give equal values."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 3, 5)) * 2 + 1
    w, b, g = rng.standard_normal(3), rng.standard_normal(3), rng.standard_normal((4, 3, 5))
    grads = []
    for create_graph in (False, True):
        xt, wt, bt = (mg.tensor(a, requires_grad=True) for a in (x, w, b))
        y = N.batch_norm(xt, None, None, wt, bt, training=True)
        grads.append(mg.grad((y * mg.tensor(g)).sum(), [xt, wt, bt], create_graph=create_graph))
    for fused, composed in zip(*grads):
        np.testing.assert_allclose(fused.numpy(), composed.numpy(), rtol=1e-10, atol=1e-12)


def test_eval_mode_uses_running_stats_and_leaves_them_alone():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 2, 4, 4)).astype(np.float32)
    rm, rv = mg.tensor([0.5, -1.0]), mg.tensor([2.0, 0.25])
    w, b = mg.tensor([1.5, -2.0]), mg.tensor([0.1, 0.2])
    y = N.batch_norm(mg.tensor(x), rm, rv, w, b, training=False, eps=1e-3)
    cs = (1, 2, 1, 1)
    expected = ((x - rm.numpy().reshape(cs)) / np.sqrt(rv.numpy().reshape(cs) + 1e-3)
                * w.numpy().reshape(cs) + b.numpy().reshape(cs))
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(rm.numpy(), [0.5, -1.0])


def test_large_input_parallel_path():
    x = np.random.default_rng(3).standard_normal((8, 4, 32, 32)).astype(np.float32) * 3 + 2
    w, b = np.ones(4), np.zeros(4)
    y = N.batch_norm(mg.tensor(x), None, None, training=True).numpy()
    np.testing.assert_allclose(y, ref_batch_norm_train(x[:, :], w, b, 1e-5)[0], rtol=1e-4,
                               atol=1e-4)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: N.batch_norm(mg.tensor(np.ones((1, 3))), None, None, training=True), ValueError,
         "more than 1 value per channel"),
        (lambda: N.batch_norm(mg.tensor(np.ones((2, 3))), None, None), ValueError,
         "running_mean and running_var are required"),
        (lambda: N.batch_norm(mg.tensor(np.ones((2, 3))), mg.tensor(np.zeros(2)),
                              mg.tensor(np.ones(3))), ValueError, "running_mean must have shape"),
        (lambda: N.batch_norm(mg.tensor(np.ones(3)), None, None, training=True), ValueError,
         "(N, C)"),
        (lambda: N.batch_norm(mg.tensor(np.ones((2, 3), dtype=np.int64)), None, None,
                              training=True), TypeError, "float32 or float64"),
        (lambda: N.batch_norm(mg.tensor(np.ones((2, 3))), None, None, np.ones(3),
                              training=True), TypeError, "weight must be a Tensor"),
    ],
)
def test_batch_norm_bad_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_batch_norm_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    x = rng.standard_normal((6, 3, 5, 4)) * 2 + 3
    w, b, g = rng.standard_normal(3), rng.standard_normal(3), rng.standard_normal(x.shape)
    rm, rv = mg.tensor(np.zeros(3)), mg.tensor(np.ones(3))
    rm_t, rv_t = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    for _ in range(3):  # the running stats accumulate over steps
        xm, wm, bm = (mg.tensor(a, requires_grad=True) for a in (x, w, b))
        xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
        y = N.batch_norm(xm, rm, rv, wm, bm, training=True, momentum=0.2)
        yt = torch.nn.functional.batch_norm(xt, rm_t, rv_t, wt, bt, training=True, momentum=0.2)
        (y * mg.tensor(g)).sum().backward()
        (yt * torch.tensor(g)).sum().backward()
        np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-12)
        for ours, theirs in ((xm, xt), (wm, wt), (bm, bt)):
            np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-9,
                                       atol=1e-11)
        x = x * 0.5 + 1
    np.testing.assert_allclose(rm.numpy(), rm_t.numpy(), rtol=1e-12)
    np.testing.assert_allclose(rv.numpy(), rv_t.numpy(), rtol=1e-12)
    ev = N.batch_norm(mg.tensor(x), rm, rv, mg.tensor(w), mg.tensor(b))
    ev_t = torch.nn.functional.batch_norm(torch.tensor(x), rm_t, rv_t, torch.tensor(w),
                                          torch.tensor(b))
    np.testing.assert_allclose(ev.numpy(), ev_t.numpy(), rtol=1e-10, atol=1e-12)


# -- dropout ---------------------------------------------------------------------------------


def test_dropout_is_seeded_by_manual_seed():
    x = mg.tensor(np.ones((50, 40)))
    mg.manual_seed(7)
    a = D.dropout(x, 0.3).numpy()
    b = D.dropout(x, 0.3).numpy()
    mg.manual_seed(7)
    c = D.dropout(x, 0.3).numpy()
    np.testing.assert_array_equal(a, c)
    assert not np.array_equal(a, b)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_scaling_statistics(p):
    n = 200_000
    x = mg.tensor(np.full(n, 2.0, dtype=np.float32))
    y = D.dropout(x, p, generator=np.random.default_rng(0)).numpy()
    assert y.dtype == np.float32
    kept = y != 0
    assert set(np.unique(y)) <= {0.0, np.float32(2.0 / (1 - p))}
    # binomial fraction of zeros within 5 standard deviations; mean preserved by the 1/(1-p) scale
    sd = np.sqrt(p * (1 - p) / n)
    assert abs((1 - kept.mean()) - p) < 5 * sd
    assert abs(y.mean() - 2.0) < 5 * 2.0 / (1 - p) * sd


def test_dropout_gradient_uses_the_same_mask():
    x = mg.tensor(np.arange(1.0, 13.0).reshape(3, 4), requires_grad=True)
    y = D.dropout(x, 0.5, generator=np.random.default_rng(3))
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), y.numpy() / x.numpy())


def test_dropout_edge_probabilities_and_modes():
    x = mg.tensor(np.random.default_rng(0).standard_normal((4, 3)), requires_grad=True)
    assert D.dropout(x, 0.0) is x
    assert D.dropout(x, 0.7, training=False) is x
    zeros = D.dropout(x, 1.0)
    np.testing.assert_array_equal(zeros.numpy(), np.zeros((4, 3)))
    zeros.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros((4, 3)))


def test_dropout2d_zeroes_whole_channels():
    x = mg.tensor(np.ones((8, 16, 3, 3)))
    y = D.dropout2d(x, 0.5, generator=np.random.default_rng(1)).numpy()
    per_channel = y.reshape(8, 16, 9)
    assert ((per_channel == 0).all(axis=2) | (per_channel == 2).all(axis=2)).all()
    assert 0 < (per_channel == 0).all(axis=2).mean() < 1


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: D.dropout(mg.tensor([1.0]), 1.5), ValueError, r"^dropout: p must lie in"),
        (lambda: D.dropout(mg.tensor([1.0]), -0.1), ValueError, r"^dropout: p must lie in"),
        (lambda: D.dropout(mg.tensor([1, 2]), 0.5), TypeError, "float32 or float64"),
        (lambda: D.dropout2d(mg.tensor(np.ones((2, 3))), 0.5), ValueError, "(N, C, H, W)"),
    ],
)
def test_dropout_bad_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call()
