"""F.unfold / F.fold and nn.Unfold / nn.Fold: against NumPy loops over blocks, against PyTorch
(forward and gradient, float64, 1e-10), their algebra (fold is unfold's transpose; a convolution
is unfold -> matmul -> reshape), and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad.testing.opinfo.fold import ref_fold, ref_unfold

RNG = np.random.default_rng(0)
TOL = dict(rtol=1e-10, atol=1e-10)


def _vs_torch(ours, theirs, x):
    torch = pytest.importorskip("torch")
    xm = mg.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    y, yt = ours(xm), theirs(xt)
    assert y.shape == tuple(yt.shape)
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), **TOL)
    gy = RNG.standard_normal(y.shape)
    (y * mg.tensor(gy)).sum().backward()
    (yt * torch.tensor(gy)).sum().backward()
    np.testing.assert_allclose(xm.grad.numpy(), xt.grad.numpy(), **TOL)


@st.composite
def geometries(draw, max_extra=4):
    k = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    d = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    p = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    hw = tuple(max(1, dd * (kk - 1) + 1 - 2 * pp) + draw(st.integers(0, max_extra))
               for kk, dd, pp in zip(k, d, p))
    lead = () if draw(st.booleans()) else (draw(st.integers(1, 3)),)
    c = draw(st.integers(1, 3))
    return lead, c, hw, dict(kernel_size=k, dilation=d, padding=p, stride=s)


def _blocks(hw, kernel_size, dilation, padding, stride):
    return [(n + 2 * p_ - d_ * (k_ - 1) - 1) // s_ + 1
            for n, k_, d_, p_, s_ in zip(hw, kernel_size, dilation, padding, stride)]


@given(geometries())
def test_unfold_and_fold_match_torch(geo):
    lead, c, hw, kw = geo
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    _vs_torch(lambda t: F.unfold(t, **kw), lambda t: tf.unfold(t, **kw),
              RNG.standard_normal((*lead, c, *hw)))
    oh, ow = _blocks(hw, **kw)
    cols = RNG.standard_normal((*lead, c * kw["kernel_size"][0] * kw["kernel_size"][1], oh * ow))
    _vs_torch(lambda t: F.fold(t, hw, **kw), lambda t: tf.fold(t, hw, **kw), cols)


@given(geometries())
def test_unfold_and_fold_match_loops(geo):
    lead, c, hw, kw = geo
    x = RNG.standard_normal((*lead, c, *hw))
    cols = F.unfold(mg.tensor(x), **kw).numpy()
    np.testing.assert_array_equal(cols, ref_unfold(x, **kw))
    g = RNG.standard_normal(cols.shape)
    np.testing.assert_allclose(F.fold(mg.tensor(g), hw, **kw).numpy(), ref_fold(g, hw, **kw),
                               rtol=1e-13, atol=1e-13)
    # fold is unfold's transpose: <unfold(x), g> == <x, fold(g)>
    np.testing.assert_allclose((cols * g).sum(),
                               (x * F.fold(mg.tensor(g), hw, **kw).numpy()).sum(), rtol=1e-10)


@given(geometries(max_extra=2), st.integers(1, 3))
def test_convolution_is_unfold_matmul_reshape(geo, k_out):
    """conv2d(x, w) == (w.reshape(K, -1) @ unfold(x)).reshape(N, K, OH, OW), and so are the
    gradients with respect to x and w."""
    lead, c, hw, kw = geo
    x = mg.tensor(RNG.standard_normal((lead[0] if lead else 1, c, *hw)), requires_grad=True)
    w = mg.tensor(RNG.standard_normal((k_out, c, *kw["kernel_size"])), requires_grad=True)
    oh, ow = _blocks(hw, **kw)
    via_unfold = (w.reshape(k_out, -1) @ F.unfold(x, **kw)).reshape(x.shape[0], k_out, oh, ow)
    direct = F.conv2d(x, w, None, kw["stride"], kw["padding"], kw["dilation"])
    np.testing.assert_allclose(via_unfold.numpy(), direct.numpy(), rtol=1e-10, atol=1e-10)
    gy = mg.tensor(RNG.standard_normal(direct.shape))
    g1 = mg.grad((via_unfold * gy).sum(), [x, w])
    g2 = mg.grad((direct * gy).sum(), [x, w])
    for a, b in zip(g1, g2):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-10)


def test_fold_of_unfold_counts_the_blocks_over_each_pixel():
    x = mg.tensor(np.ones((1, 1, 4, 5)))
    counts = F.fold(F.unfold(x, 3, padding=1), (4, 5), 3, padding=1).numpy()[0, 0]
    want = np.array([[4, 6, 6, 6, 4], [6, 9, 9, 9, 6], [6, 9, 9, 9, 6], [4, 6, 6, 6, 4]])
    np.testing.assert_array_equal(counts, want)


def test_large_batches_run_in_parallel_and_match_torch():
    torch = pytest.importorskip("torch")
    x = RNG.standard_normal((8, 16, 20, 18)).astype(np.float32)  # above the parallel threshold
    kw = dict(kernel_size=3, dilation=2, padding=1, stride=(1, 2))
    cols = F.unfold(mg.tensor(x), **kw)
    assert cols.dtype == np.float32
    np.testing.assert_array_equal(cols.numpy(), torch.nn.functional.unfold(torch.tensor(x),
                                                                           **kw).numpy())
    back = F.fold(cols, (20, 18), **kw).numpy()
    want = torch.nn.functional.fold(torch.tensor(cols.numpy()), (20, 18), **kw).numpy()
    np.testing.assert_allclose(back, want, rtol=1e-6, atol=1e-5)


def test_modules_match_torch():
    torch = pytest.importorskip("torch")
    pairs = [(nn.Unfold(2, padding=1), torch.nn.Unfold(2, padding=1)),
             (nn.Unfold((2, 3), dilation=(1, 2), stride=2),
              torch.nn.Unfold((2, 3), dilation=(1, 2), stride=2))]
    x = RNG.standard_normal((2, 3, 6, 7))
    for ours, theirs in pairs:
        assert repr(ours) == repr(theirs)
        _vs_torch(ours, theirs, x)
    ours, theirs = nn.Fold((4, 5), 2), torch.nn.Fold((4, 5), 2)
    assert repr(ours) == repr(theirs)
    _vs_torch(ours, theirs, RNG.standard_normal((2, 12, 12)))


X = mg.tensor(np.zeros((1, 2, 4, 4)))
COLS = mg.tensor(np.zeros((1, 8, 9)))  # C = 2, 2x2 kernel, 3x3 blocks of a 4x4 image


@pytest.mark.parametrize("call, error, words", [
    (lambda: F.unfold(mg.tensor(np.zeros((2, 4))), 2), ValueError, ["unfold", "(2, 4)"]),
    (lambda: F.unfold(X, 5), ValueError, ["unfold", "(1, 2, 4, 4)", "blocks", "kernel_size"]),
    (lambda: F.unfold(X, 3, dilation=2), ValueError, ["unfold", "dilation=(2, 2)"]),
    (lambda: F.unfold(X, 0), ValueError, ["unfold", "kernel_size", ">= 1"]),
    (lambda: F.unfold(X, 2, stride=0), ValueError, ["unfold", "stride"]),
    (lambda: F.unfold(X, 2, padding=-1), ValueError, ["unfold", "padding"]),
    (lambda: F.unfold(X, 2.0), TypeError, ["unfold", "kernel_size"]),
    (lambda: F.unfold(np.zeros((1, 2, 4, 4)), 2), TypeError, ["unfold", "Tensor"]),
    (lambda: F.fold(COLS, (4, 5), 2), ValueError,
     ["fold", "L = 9", "(4, 5)", "3 * 4 = 12"]),
    (lambda: F.fold(COLS, 4, 3), ValueError, ["fold", "8", "divisible", "9"]),
    (lambda: F.fold(COLS, 0, 2), ValueError, ["fold", "output_size", ">= 1"]),
    (lambda: F.fold(COLS, (1, 1), 2), ValueError, ["fold", "output_size", "blocks"]),
    (lambda: F.fold(mg.tensor(np.zeros((1, 1, 8, 9))), 4, 2), ValueError,
     ["fold", "(1, 1, 8, 9)"]),
    (lambda: nn.Unfold(0), ValueError, ["Unfold", "kernel_size"]),
    (lambda: nn.Fold(0, 2), ValueError, ["Fold", "output_size"]),
    (lambda: nn.Fold(4, 2, dilation=0), ValueError, ["Fold", "dilation"]),
])
def test_bad_input_raises_clearly(call, error, words):
    with pytest.raises(error) as info:
        call()
    for w in words:
        assert w in str(info.value), (w, str(info.value))
