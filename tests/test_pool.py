"""Pooling kernels and ops against plain NumPy loops (values, argmax indices, gradients), the tie
and NaN conventions, count_include_pad, layouts, argument errors, and PyTorch (if installed)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import minigrad as mg
import minigrad.nn as nn
from minigrad.ops import pool as F
from minigrad.ops.kernels.cpu import pool as K

# -- references: loops over windows, written from the definitions --------------------------------


def _out_len(n, k, s, p, d=1, ceil_mode=False):
    """Output length from the definition: the windows (starting at o*s - p) that lie inside the
    padded input, and with ceil_mode one more, partial window over the leftover inputs when
    there are some and it starts inside the input or the left padding."""
    span = d * (k - 1) + 1
    full = (n + 2 * p - span) // s + 1
    if ceil_mode and (n + 2 * p - span) % s and full * s - p < n:
        return full + 1
    return full


def ref_max_pool(x, k, s, p, d=(1, 1), ceil_mode=False):
    """y, flat argmax (first maximum in row-major window order; padding never chosen)."""
    n, c, h, w = x.shape
    oh, ow = (_out_len(h, k[0], s[0], p[0], d[0], ceil_mode),
              _out_len(w, k[1], s[1], p[1], d[1], ceil_mode))
    y = np.empty((n, c, oh, ow), dtype=x.dtype)
    idx = np.empty((n, c, oh, ow), dtype=np.int64)
    for b in range(n):
        for ch in range(c):
            for i in range(oh):
                for j in range(ow):
                    best, at = None, None
                    for r in range(i * s[0] - p[0], i * s[0] - p[0] + d[0] * k[0], d[0]):
                        for q in range(j * s[1] - p[1], j * s[1] - p[1] + d[1] * k[1], d[1]):
                            inside = 0 <= r < h and 0 <= q < w
                            if inside and (best is None or x[b, ch, r, q] > best):
                                best, at = x[b, ch, r, q], r * w + q
                    y[b, ch, i, j], idx[b, ch, i, j] = best, at
    return y, idx


def ref_avg_pool(x, k, s, p, count_include_pad, ceil_mode=False, divisor_override=None):
    n, c, h, w = x.shape
    oh, ow = (_out_len(h, k[0], s[0], p[0], 1, ceil_mode),
              _out_len(w, k[1], s[1], p[1], 1, ceil_mode))
    y = np.empty((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            rows = [r for r in range(i * s[0] - p[0], i * s[0] - p[0] + k[0]) if 0 <= r < h]
            cols = [q for q in range(j * s[1] - p[1], j * s[1] - p[1] + k[1]) if 0 <= q < w]
            total = x[:, :, rows][:, :, :, cols].astype(np.float64).sum(axis=(2, 3))
            # count_include_pad counts the padding but not what lies past it (ceil_mode)
            padded_rows = min(i * s[0] - p[0] + k[0], h + p[0]) - (i * s[0] - p[0])
            padded_cols = min(j * s[1] - p[1] + k[1], w + p[1]) - (j * s[1] - p[1])
            div = (padded_rows * padded_cols if count_include_pad else len(rows) * len(cols))
            y[:, :, i, j] = total / (divisor_override or div)
    return y


def ref_adaptive(x, out):
    n, c, h, w = x.shape
    y = np.empty((n, c, *out))
    for i in range(out[0]):
        r0, r1 = (i * h) // out[0], -((-(i + 1) * h) // out[0])
        for j in range(out[1]):
            c0, c1 = (j * w) // out[1], -((-(j + 1) * w) // out[1])
            y[:, :, i, j] = x[:, :, r0:r1, c0:c1].astype(np.float64).mean(axis=(2, 3))
    return y


def vjp_by_loops(fn, x, gy):
    """Gradient of sum(fn(x) * gy) by perturbing one input at a time (fn linear in x here)."""
    gx = np.zeros(x.shape)
    base = fn(x)
    for flat in range(x.size):
        e = np.zeros(x.size)
        e[flat] = 1.0
        gx.flat[flat] = ((fn(x + e.reshape(x.shape)) - base) * gy).sum()
    return gx


@st.composite
def geometries(draw):
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ph, pw = draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2))
    h = draw(st.integers(max(1, kh - 2 * ph), 8))
    w = draw(st.integers(max(1, kw - 2 * pw), 8))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3)), h, w)
    return shape, (kh, kw), (sh, sw), (ph, pw)


def _data(shape, dtype, seed, ties=False):
    rng = np.random.default_rng(seed)
    x = rng.integers(-3, 4, shape) if ties else rng.standard_normal(shape)
    return x.astype(dtype)


# -- max pooling ---------------------------------------------------------------------------------


@given(geometries(), st.sampled_from([np.float32, np.float64]), st.booleans(), st.integers(0, 99))
def test_max_pool_values_indices_and_gradient(geo, dtype, ties, seed):
    shape, k, s, p = geo
    x = _data(shape, dtype, seed, ties)
    y, idx = K.max_pool2d_forward(x, k, s, p)
    ry, ridx = ref_max_pool(x, k, s, p)
    np.testing.assert_array_equal(y, ry)
    np.testing.assert_array_equal(idx, ridx)
    assert y.dtype == dtype and idx.dtype == np.int64
    # gradient: each output's gradient lands on its argmax, overlapping windows accumulate
    gy = _data(y.shape, dtype, seed + 1)
    expected = np.zeros(x.shape)
    for b, ch, i, j in np.ndindex(*y.shape):
        r, q = divmod(int(ridx[b, ch, i, j]), shape[3])
        expected[b, ch, r, q] += gy[b, ch, i, j]
    # float32 sums of overlapping windows: an absolute term for sums that nearly cancel
    np.testing.assert_allclose(K.scatter_add_planes(gy, idx, shape[2:]), expected, rtol=1e-6,
                               atol=1e-6)
    # and the gather (the scatter's adjoint) reads the same positions
    np.testing.assert_array_equal(K.gather_planes(x, idx), y)


def test_ties_go_to_the_first_maximum_in_row_major_order():
    x = mg.tensor(np.array([[[[1.0, 5.0, 5.0, 0.0],
                              [5.0, 5.0, 2.0, 2.0]]]]), requires_grad=True)
    y, idx = F.max_pool2d(x, 2, return_indices=True)
    np.testing.assert_array_equal(idx.numpy(), [[[[1, 2]]]])  # (0,1) and (0,2): first in window
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[[[0, 1, 1, 0], [0, 0, 0, 0]]]])


def test_nan_propagates_and_padding_is_never_selected():
    x = np.array([[[[1.0, np.nan], [3.0, 2.0]]]])
    y, idx = K.max_pool2d_forward(x, (2, 2), (2, 2), (0, 0))
    assert np.isnan(y).all() and idx.item() == 1
    neg = np.full((1, 1, 2, 2), -np.inf)
    y, idx = K.max_pool2d_forward(neg, (3, 3), (1, 1), (1, 1))
    assert (y == -np.inf).all() and ((idx >= 0) & (idx < 4)).all()


@given(geometries(), st.sampled_from([np.float32, np.float64]), st.integers(0, 99))
def test_max_pool_any_layout(geo, dtype, seed):
    shape, k, s, p = geo
    x = _data(shape[:2] + (shape[3], shape[2]), dtype, seed).transpose(0, 1, 3, 2)  # strided
    y, idx = F.max_pool2d(mg.tensor(x), k, s, p, return_indices=True)
    ry, ridx = ref_max_pool(np.ascontiguousarray(x), k, s, p)
    np.testing.assert_array_equal(y.numpy(), ry)
    np.testing.assert_array_equal(idx.numpy(), ridx)


def test_max_unpool_puts_values_back():
    x = mg.tensor(np.random.default_rng(0).standard_normal((2, 3, 4, 6)), requires_grad=True)
    y, idx = F.max_pool2d(x, 2, return_indices=True)
    up = F.max_unpool2d(y, idx, 2)
    assert up.shape == x.shape
    kept = up.numpy() != 0
    assert kept.sum() == y.numel()
    np.testing.assert_array_equal(up.numpy()[kept], x.numpy()[kept])
    up.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), kept.astype(float))


# -- average pooling -------------------------------------------------------------------------


@given(geometries(), st.sampled_from([np.float32, np.float64]), st.booleans(), st.integers(0, 99))
def test_avg_pool_values_and_gradient(geo, dtype, count_include_pad, seed):
    shape, k, s, p = geo
    x = _data(shape, dtype, seed)
    y = K.avg_pool2d_forward(x, k, s, p, count_include_pad)
    tol = dict(rtol=1e-6, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(y, ref_avg_pool(x, k, s, p, count_include_pad), **tol)
    gy = _data(y.shape, np.float64, seed + 1)
    gx = K.avg_pool2d_backward(gy, shape[2:], k, s, p, count_include_pad)
    expected = vjp_by_loops(lambda a: ref_avg_pool(a, k, s, p, count_include_pad), x * 0.0, gy)
    np.testing.assert_allclose(gx, expected, rtol=1e-10, atol=1e-12)


def test_count_include_pad():
    x = mg.tensor(np.ones((1, 1, 2, 2)))
    with_pad = F.avg_pool2d(x, 3, stride=1, padding=1).numpy()
    without = F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False).numpy()
    np.testing.assert_allclose(with_pad, np.full((1, 1, 2, 2), 4 / 9))  # 4 ones, 5 padded zeros
    np.testing.assert_allclose(without, np.ones((1, 1, 2, 2)))


@given(st.integers(1, 9), st.integers(1, 9), st.integers(1, 10), st.integers(1, 10),
       st.integers(0, 99))
def test_adaptive_avg_pool_values_and_gradient(h, w, oh, ow, seed):
    x = _data((2, 2, h, w), np.float64, seed)
    y = K.adaptive_avg_pool2d_forward(x, (oh, ow))
    np.testing.assert_allclose(y, ref_adaptive(x, (oh, ow)), rtol=1e-13)
    gy = _data(y.shape, np.float64, seed + 1)
    np.testing.assert_allclose(K.adaptive_avg_pool2d_backward(gy, (h, w)),
                               vjp_by_loops(lambda a: ref_adaptive(a, (oh, ow)), x * 0.0, gy),
                               rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
# the second has many planes; the third sums its 4900-pixel planes in two blocks
@pytest.mark.parametrize("shape", [(2, 3, 5, 7), (8, 16, 17, 16), (1, 2, 70, 70)])
def test_whole_plane_means_match_reference(shape, dtype):
    """Global pooling and a kernel the size of the input take the whole-plane path (BLAS sums,
    a fill for the gradient); it must equal the window loops, for any input layout."""
    n, c, h, w = shape
    x = _data((n, c, w, h), dtype, 3).transpose(0, 1, 3, 2)  # not C-contiguous
    # float32 sums: errors relative to sum(|x|), so an absolute term for means near 0
    tol = dict(rtol=1e-6, atol=1e-7) if dtype == np.float32 else dict(rtol=1e-13, atol=1e-16)
    expected = ref_adaptive(x, (1, 1))
    np.testing.assert_allclose(K.adaptive_avg_pool2d_forward(x, (1, 1)), expected, **tol)
    np.testing.assert_allclose(K.avg_pool2d_forward(x, (h, w), (1, 1), (0, 0), True), expected,
                               **tol)
    gy = _data((n, c, 1, 1), dtype, 4)
    expected_gx = np.broadcast_to(gy.astype(np.float64) / (h * w), x.shape)
    for gx in (K.adaptive_avg_pool2d_backward(gy, (h, w)),
               K.avg_pool2d_backward(gy, (h, w), (h, w), (1, 1), (0, 0), True)):
        assert gx.dtype == dtype and gx.shape == x.shape
        np.testing.assert_allclose(gx, expected_gx, **tol)


def test_global_avg_pool_and_unbatched_input():
    v = np.random.default_rng(1).standard_normal((3, 5, 4)).astype(np.float32)
    g = F.global_avg_pool2d(mg.tensor(v[None]))
    assert g.shape == (1, 3, 1, 1) and g.dtype == np.float32
    np.testing.assert_allclose(g.numpy().ravel(), v.mean(axis=(1, 2)), rtol=1e-6)
    assert F.max_pool2d(mg.tensor(v), 2).shape == (3, 2, 2)  # (C, H, W) stays unbatched
    assert F.adaptive_avg_pool2d(mg.tensor(v), (None, 2)).shape == (3, 5, 2)


def test_large_input_parallel_path_matches_reference():
    x = _data((4, 16, 30, 30), np.float32, 5)  # above the parallel threshold
    y, idx = K.max_pool2d_forward(x, (3, 3), (2, 2), (1, 1))
    ry, ridx = ref_max_pool(x[:1, :2], (3, 3), (2, 2), (1, 1))
    np.testing.assert_array_equal(y[:1, :2], ry)
    np.testing.assert_array_equal(idx[:1, :2], ridx)
    np.testing.assert_allclose(K.avg_pool2d_forward(x, (2, 2), (2, 2), (0, 0))[:1, :2],
                               ref_avg_pool(x[:1, :2], (2, 2), (2, 2), (0, 0), True), rtol=1e-6)


# -- argument checking -------------------------------------------------------------------------

X = mg.tensor(np.zeros((1, 2, 4, 4), dtype=np.float32))


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: F.max_pool2d(X, 5), ValueError, "larger than the padded input"),
        (lambda: F.max_pool2d(X, 2, stride=0), ValueError, "stride"),
        (lambda: F.max_pool2d(X, 3, padding=2), ValueError, "at most half"),
        (lambda: F.avg_pool2d(X, 2, padding=-1), ValueError, "padding"),
        (lambda: F.max_pool2d(X, 0), ValueError, "kernel_size"),
        (lambda: F.max_pool2d(X, 2.5), TypeError, "kernel_size"),
        (lambda: F.max_pool2d(mg.tensor(np.zeros((4, 4))), 2), ValueError, "shape"),
        (lambda: F.avg_pool2d(mg.tensor(np.zeros((1, 1, 4, 4), dtype=np.int64)), 2), TypeError,
         "float32 or float64"),
        (lambda: F.max_pool2d(np.zeros((1, 1, 4, 4)), 2), TypeError, "Tensor"),
        (lambda: F.adaptive_avg_pool2d(X, 0), ValueError, "output_size must be >= 1"),
        (lambda: F.max_unpool2d(X, mg.tensor(np.full((1, 2, 4, 4), 99)), 2), ValueError,
         "indices"),
    ],
)
def test_bad_arguments_raise_before_any_kernel(call, error, match):
    with pytest.raises(error, match=match):
        call()


# -- PyTorch --------------------------------------------------------------------------------------


def test_matches_torch():
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    v = np.random.default_rng(2).standard_normal((2, 3, 9, 7))
    g = np.random.default_rng(3).standard_normal
    cases = [
        (lambda t: F.max_pool2d(t, 3, 2, 1), lambda t: tf.max_pool2d(t, 3, 2, 1)),
        (lambda t: F.max_pool2d(t, (2, 3), (1, 2)), lambda t: tf.max_pool2d(t, (2, 3), (1, 2))),
        (lambda t: F.avg_pool2d(t, 3, 2, 1), lambda t: tf.avg_pool2d(t, 3, 2, 1)),
        (lambda t: F.avg_pool2d(t, 3, 2, 1, count_include_pad=False),
         lambda t: tf.avg_pool2d(t, 3, 2, 1, count_include_pad=False)),
        (lambda t: F.adaptive_avg_pool2d(t, (4, 5)), lambda t: tf.adaptive_avg_pool2d(t, (4, 5))),
        (F.global_avg_pool2d, lambda t: tf.adaptive_avg_pool2d(t, 1)),
    ]
    for ours, theirs in cases:
        x = mg.tensor(v, requires_grad=True)
        xt = torch.tensor(v, requires_grad=True)
        y, yt = ours(x), theirs(xt)
        gy = g(y.shape)
        (y * mg.tensor(gy)).sum().backward()
        (yt * torch.tensor(gy)).sum().backward()
        np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), rtol=1e-12)
        np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-12)
    _, idx = F.max_pool2d(mg.tensor(v), 3, 2, 1, return_indices=True)
    _, idx_t = tf.max_pool2d(torch.tensor(v), 3, 2, 1, return_indices=True)
    np.testing.assert_array_equal(idx.numpy(), idx_t.numpy())


# -- 1-d pooling and adaptive max pooling -----------------------------------------------------


def _vs_torch(ours, theirs, x, tol=1e-10):
    """Forward (and indices, when both return them) and the input gradient, float64."""
    torch = pytest.importorskip("torch")
    xm = mg.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    y, yt = ours(xm), theirs(xt)
    if isinstance(yt, tuple):
        np.testing.assert_array_equal(y[1].numpy(), yt[1].numpy())
        y, yt = y[0], yt[0]
    assert y.shape == tuple(yt.shape)
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), rtol=tol, atol=tol)
    gy = np.random.default_rng(7).standard_normal(y.shape)
    (y * mg.tensor(gy)).sum().backward()
    (yt * torch.tensor(gy)).sum().backward()
    np.testing.assert_allclose(xm.grad.numpy(), xt.grad.numpy(), rtol=tol, atol=tol)


def _distinct_values(shape, seed):
    """A permutation of spaced values: no two equal, so no ties in any window."""
    rng = np.random.default_rng(seed)
    return (rng.permutation(int(np.prod(shape))) * 0.25 - 3.0).reshape(shape)


@given(st.integers(1, 4), st.integers(1, 3), st.integers(0, 2), st.integers(1, 9),
       st.booleans(), st.booleans(), st.integers(0, 99))
def test_pool1d_matches_torch(k, s, p, length, batched, count_include_pad, seed):
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    p = min(p, k // 2)
    assume(length + 2 * p >= k)
    shape = (2, 3, length) if batched else (3, length)
    x = _distinct_values(shape, seed)
    _vs_torch(lambda t: F.max_pool1d(t, k, s, p, return_indices=True),
              lambda t: tf.max_pool1d(t, k, s, p, return_indices=True), x)
    _vs_torch(lambda t: F.avg_pool1d(t, k, s, p, count_include_pad=count_include_pad),
              lambda t: tf.avg_pool1d(t, k, s, p, count_include_pad=count_include_pad), x)


@given(st.integers(1, 8), st.integers(1, 8), st.integers(1, 9), st.integers(1, 9),
       st.booleans(), st.integers(0, 99))
def test_adaptive_pools_match_torch(h, w, oh, ow, batched, seed):
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    x = _distinct_values((2, 3, h, w) if batched else (3, h, w), seed)
    _vs_torch(lambda t: F.adaptive_max_pool2d(t, (oh, ow), return_indices=True),
              lambda t: tf.adaptive_max_pool2d(t, (oh, ow), return_indices=True), x)
    _vs_torch(lambda t: F.adaptive_max_pool2d(t, (None, ow)),
              lambda t: tf.adaptive_max_pool2d(t, (None, ow)), x)
    x1 = x[..., 0, :]
    _vs_torch(lambda t: F.adaptive_max_pool1d(t, ow, return_indices=True),
              lambda t: tf.adaptive_max_pool1d(t, ow, return_indices=True), x1)
    _vs_torch(lambda t: F.adaptive_avg_pool1d(t, ow), lambda t: tf.adaptive_avg_pool1d(t, ow),
              x1)


def test_adaptive_max_pool_kernel_against_loops_with_ties_and_nan():
    x = _data((2, 3, 7, 5), np.float64, 1, ties=True)
    x[0, 0, 3, 2] = np.nan
    y, idx = K.adaptive_max_pool2d_forward(x, (3, 4))
    for b, ch, i, j in np.ndindex(*y.shape):
        r0, r1 = (i * 7) // 3, -((-(i + 1) * 7) // 3)
        c0, c1 = (j * 5) // 4, -((-(j + 1) * 5) // 4)
        win = x[b, ch, r0:r1, c0:c1]
        flat = [(v, r * 5 + c) for r, row in zip(range(r0, r1), win)
                for c, v in zip(range(c0, c1), row)]
        nans = [at for v, at in flat if v != v]
        # the first NaN wins, else the first maximum in row-major order
        at = nans[0] if nans else max(flat, key=lambda t: (t[0], -t[1]))[1]
        assert idx[b, ch, i, j] == at
        np.testing.assert_array_equal(y[b, ch, i, j], x[b, ch].flat[at])


def test_pool1d_modules_match_torch():
    torch = pytest.importorskip("torch")
    x = _distinct_values((2, 3, 10), 0)
    pairs = [(nn.MaxPool1d(3, 2, 1), torch.nn.MaxPool1d(3, 2, 1)),
             (nn.MaxPool1d(2, return_indices=True), torch.nn.MaxPool1d(2, return_indices=True)),
             (nn.AvgPool1d(3, 2, 1, count_include_pad=False),
              torch.nn.AvgPool1d(3, 2, 1, count_include_pad=False)),
             (nn.AdaptiveAvgPool1d(4), torch.nn.AdaptiveAvgPool1d(4)),
             (nn.AdaptiveMaxPool1d(4, return_indices=True),
              torch.nn.AdaptiveMaxPool1d(4, return_indices=True))]
    for ours, theirs in pairs:
        assert repr(ours) == repr(theirs)
        _vs_torch(ours, theirs, x)
    x2 = _distinct_values((2, 3, 7, 6), 1)
    for ours, theirs in [(nn.AdaptiveMaxPool2d((3, None)), torch.nn.AdaptiveMaxPool2d((3, None))),
                         (nn.AdaptiveMaxPool2d(2, True), torch.nn.AdaptiveMaxPool2d(2, True)),
                         (nn.MaxPool2d(3, 2, 1), torch.nn.MaxPool2d(3, 2, 1)),
                         (nn.AvgPool2d(3, 2, 1), torch.nn.AvgPool2d(3, 2, 1))]:
        assert repr(ours) == repr(theirs)
        _vs_torch(ours, theirs, x2)


X1 = mg.tensor(np.zeros((1, 2, 4), dtype=np.float32))


@pytest.mark.parametrize("call, error, words", [
    (lambda: F.max_pool1d(X, 2), ValueError, ["max_pool1d", "(N, C, L)", "(1, 2, 4, 4)"]),
    (lambda: F.avg_pool1d(mg.tensor(np.zeros(4)), 2), ValueError, ["avg_pool1d", "(4,)"]),
    (lambda: F.max_pool1d(X1, 5), ValueError, ["max_pool1d", "larger than the padded input"]),
    (lambda: F.max_pool1d(X1, (2, 2)), ValueError, ["max_pool1d", "kernel_size"]),
    (lambda: F.avg_pool1d(X1, 3, padding=2), ValueError, ["avg_pool1d", "at most half"]),
    (lambda: F.adaptive_max_pool2d(X, 0), ValueError, ["adaptive_max_pool2d", "output_size"]),
    (lambda: F.adaptive_max_pool2d(mg.tensor(np.zeros((2, 4))), 2), ValueError,
     ["adaptive_max_pool2d", "(2, 4)"]),
    (lambda: F.adaptive_max_pool1d(X1, (2, 2)), ValueError, ["adaptive_max_pool1d",
                                                             "output_size"]),
    (lambda: F.adaptive_avg_pool1d(X, 2), ValueError, ["adaptive_avg_pool1d", "(1, 2, 4, 4)"]),
    (lambda: nn.MaxPool1d(0), ValueError, ["MaxPool1d", "kernel_size"]),
    (lambda: nn.MaxPool1d(2, dilation=0), ValueError, ["MaxPool1d", "dilation"]),
    (lambda: nn.AvgPool1d(3, padding=2), ValueError, ["AvgPool1d", "at most half"]),
    (lambda: nn.AdaptiveMaxPool2d(0), ValueError, ["AdaptiveMaxPool2d", "output_size"]),
    (lambda: nn.AdaptiveAvgPool1d((2, 2)), ValueError, ["AdaptiveAvgPool1d", "output_size"]),
])
def test_1d_and_adaptive_bad_input(call, error, words):
    with pytest.raises(error) as info:
        call()
    for w in words:
        assert w in str(info.value), (w, str(info.value))


# -- ceil_mode, dilation, count_include_pad, divisor_override ----------------------------------


@st.composite
def option_geometries(draw, max_pooling=True):
    k = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    p = (draw(st.integers(0, k[0] // 2)), draw(st.integers(0, k[1] // 2)))
    d = (draw(st.integers(1, 3)), draw(st.integers(1, 3))) if max_pooling else (1, 1)
    lows = [max(1, dd * (kk - 1) + 1 - 2 * pp) for kk, pp, dd in zip(k, p, d)]
    hw = tuple(draw(st.integers(lo, lo + 6)) for lo in lows)
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3)), *hw)
    return shape, k, s, p, d, draw(st.booleans())


def _has_empty_window(shape, k, s, p, d, ceil_mode):
    for n, kk, ss, pp, dd in zip(shape[2:], k, s, p, d):
        for o in range(_out_len(n, kk, ss, pp, dd, ceil_mode)):
            if not any(0 <= o * ss - pp + t * dd < n for t in range(kk)):
                return True
    return False


@given(option_geometries(), st.sampled_from([np.float32, np.float64]), st.booleans(),
       st.integers(0, 99))
def test_max_pool_options_kernel_against_loops(geo, dtype, ties, seed):
    shape, k, s, p, d, ceil_mode = geo
    assume(not _has_empty_window(shape, k, s, p, d, ceil_mode))
    x = _data(shape, dtype, seed, ties)
    y, idx = K.max_pool2d_forward(x, k, s, p, d, ceil_mode)
    ry, ridx = ref_max_pool(x, k, s, p, d, ceil_mode)
    np.testing.assert_array_equal(y, ry)
    np.testing.assert_array_equal(idx, ridx)
    gy = _data(y.shape, np.float64, seed + 1)
    expected = np.zeros(x.shape)
    for b, ch, i, j in np.ndindex(*y.shape):
        r, q = divmod(int(ridx[b, ch, i, j]), shape[3])
        expected[b, ch, r, q] += gy[b, ch, i, j]
    np.testing.assert_allclose(K.scatter_add_planes(gy, idx, shape[2:]), expected, rtol=1e-12)


@given(option_geometries(max_pooling=False), st.sampled_from([np.float32, np.float64]),
       st.booleans(), st.sampled_from([None, 1, 3, 7]), st.integers(0, 99))
def test_avg_pool_options_kernel_against_loops(geo, dtype, count_include_pad, divisor, seed):
    shape, k, s, p, _, ceil_mode = geo
    x = _data(shape, dtype, seed)
    args = (k, s, p, count_include_pad, ceil_mode, divisor)
    y = K.avg_pool2d_forward(x, *args)
    tol = dict(rtol=1e-6, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(y, ref_avg_pool(x, *args), **tol)
    gy = _data(y.shape, np.float64, seed + 1)
    gx = K.avg_pool2d_backward(gy, shape[2:], *args)
    expected = vjp_by_loops(lambda a: ref_avg_pool(a, *args), x * 0.0, gy)
    np.testing.assert_allclose(gx, expected, rtol=1e-10, atol=1e-12)


@given(option_geometries(), st.booleans(), st.booleans(), st.sampled_from([None, 2, 5]),
       st.booleans(), st.integers(0, 99))
def test_pool_options_match_torch(geo, count_include_pad, one_d, divisor, batched, seed):
    shape, k, s, p, d, ceil_mode = geo
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    empty = _has_empty_window(shape, k, s, p, d, ceil_mode)
    if one_d:  # the width axis only
        shape, k, s, p, d = shape[:2] + shape[3:], k[1], s[1], p[1], d[1]
        empty = _has_empty_window((1, 1, 1, shape[2]), (1, k), (1, s), (0, p), (1, d),
                                  ceil_mode)
    x = _distinct_values(shape if batched else shape[1:], seed)
    max_ours, max_theirs = ((F.max_pool1d, tf.max_pool1d) if one_d else
                            (F.max_pool2d, tf.max_pool2d))
    if not empty:
        _vs_torch(lambda t: max_ours(t, k, s, p, d, ceil_mode, True),
                  lambda t: max_theirs(t, k, s, p, d, ceil_mode, True), x)
    else:  # PyTorch returns -inf and an index outside the input there; minigrad refuses
        with pytest.raises(ValueError, match="reads only padding"):
            max_ours(mg.tensor(x), k, s, p, d, ceil_mode)
    if one_d:
        _vs_torch(lambda t: F.avg_pool1d(t, k, s, p, ceil_mode, count_include_pad),
                  lambda t: tf.avg_pool1d(t, k, s, p, ceil_mode, count_include_pad), x)
    else:
        _vs_torch(lambda t: F.avg_pool2d(t, k, s, p, ceil_mode, count_include_pad, divisor),
                  lambda t: tf.avg_pool2d(t, k, s, p, ceil_mode, count_include_pad, divisor), x)


def test_ceil_mode_keeps_a_partial_last_window_unless_it_starts_in_the_padding():
    x = mg.tensor(np.arange(1.0, 6.0).reshape(1, 1, 5))
    # floor: windows [1, 2], [3, 4]; ceil: also [5] (a partial window)
    np.testing.assert_array_equal(F.max_pool1d(x, 2).numpy().ravel(), [2, 4])
    np.testing.assert_array_equal(F.max_pool1d(x, 2, ceil_mode=True).numpy().ravel(), [2, 4, 5])
    np.testing.assert_array_equal(F.avg_pool1d(x, 2, ceil_mode=True).numpy().ravel(),
                                  [1.5, 3.5, 5.0])  # the partial window divides by 1
    # 6 inputs, kernel 2, stride 2, padding 1: ceil((6 + 2 - 2) / 2) + 1 = 4 windows, but the
    # 4th would start at 4 * 2 - 1 = 7, in the right padding: PyTorch drops it
    x6 = mg.tensor(np.arange(1.0, 7.0).reshape(1, 1, 6))
    assert F.max_pool1d(x6, 2, 2, 1, ceil_mode=True).shape == (1, 1, 4)
    np.testing.assert_array_equal(F.max_pool1d(x6, 2, 2, 1, ceil_mode=True).numpy().ravel(),
                                  [1, 3, 5, 6])
    assert K.pool_output_size(6, 2, 2, 1, ceil_mode=True) == 4
    assert K.pool_output_size(5, 2, 2, 1, ceil_mode=True) == 3  # not 4: it would start at 5


def test_fast_2x2_paths_still_serve_the_common_geometry(monkeypatch):
    """2x2/stride 2 with even sizes (ceil_mode changes nothing there) takes the unrolled
    kernels; odd sizes with ceil_mode, a dilation or a divisor_override take the general one."""
    calls = []
    for name in ("_max_pool_2x2_planes", "_avg_pool_2x2_planes", "_avg_pool_2x2_backward_planes"):
        real = getattr(K, name)
        monkeypatch.setattr(K, name, lambda *a, _r=real, _n=name: (calls.append(_n), _r(*a))[1])
    x = _data((2, 3, 6, 8), np.float64, 0)
    K.max_pool2d_forward(x, (2, 2), (2, 2), (0, 0), (1, 1), True)
    K.avg_pool2d_forward(x, (2, 2), (2, 2), (0, 0), True, True)
    K.avg_pool2d_backward(np.ones((2, 3, 3, 4)), (6, 8), (2, 2), (2, 2), (0, 0), True, True)
    assert calls == ["_max_pool_2x2_planes", "_avg_pool_2x2_planes",
                     "_avg_pool_2x2_backward_planes"]
    calls.clear()
    odd = _data((2, 3, 7, 8), np.float64, 1)
    y, _ = K.max_pool2d_forward(odd, (2, 2), (2, 2), (0, 0), (1, 1), True)
    assert y.shape == (2, 3, 4, 4)
    K.max_pool2d_forward(x, (2, 2), (2, 2), (0, 0), (2, 2), False)
    K.avg_pool2d_forward(odd, (2, 2), (2, 2), (0, 0), True, True)
    K.avg_pool2d_forward(x, (2, 2), (2, 2), (0, 0), True, False, 3)
    assert calls == []


def test_pool_option_modules_match_torch():
    torch = pytest.importorskip("torch")
    x = _distinct_values((2, 3, 9, 8), 3)
    pairs = [(nn.MaxPool2d(3, 2, 1, dilation=2, ceil_mode=True),
              torch.nn.MaxPool2d(3, 2, 1, dilation=2, ceil_mode=True)),
             (nn.MaxPool2d((2, 3), (2, 1), ceil_mode=True, return_indices=True),
              torch.nn.MaxPool2d((2, 3), (2, 1), ceil_mode=True, return_indices=True)),
             (nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False),
              torch.nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False)),
             (nn.AvgPool2d(2, ceil_mode=True, divisor_override=3),
              torch.nn.AvgPool2d(2, ceil_mode=True, divisor_override=3))]
    for ours, theirs in pairs:
        assert repr(ours) == repr(theirs)
        _vs_torch(ours, theirs, x)
    x1 = x[:, :, 0]
    for ours, theirs in [(nn.MaxPool1d(3, 2, 1, dilation=2, ceil_mode=True),
                          torch.nn.MaxPool1d(3, 2, 1, dilation=2, ceil_mode=True)),
                         (nn.AvgPool1d(2, ceil_mode=True), torch.nn.AvgPool1d(2, ceil_mode=True))]:
        assert repr(ours) == repr(theirs)
        _vs_torch(ours, theirs, x1)


@pytest.mark.parametrize("call, error, words", [
    (lambda: F.max_pool1d(mg.tensor(np.zeros((1, 1, 2))), 2, 1, 1, 3), ValueError,
     ["max_pool1d", "window 0", "reads only padding", "[-1, 2]", "length 2"]),
    (lambda: F.max_pool2d(X, 3, dilation=2), ValueError,
     ["max_pool2d", "dilation (2, 2)", "larger than the padded input"]),
    (lambda: F.max_pool2d(X, 2, dilation=0), ValueError, ["max_pool2d", "dilation", ">= 1"]),
    (lambda: F.avg_pool2d(X, 2, divisor_override=0), ValueError,
     ["avg_pool2d", "divisor_override", ">= 1"]),
    (lambda: F.avg_pool2d(X, 2, divisor_override=1.5), TypeError,
     ["avg_pool2d", "divisor_override"]),
    (lambda: nn.AvgPool2d(2, divisor_override=0), ValueError, ["AvgPool2d", "divisor_override"]),
    (lambda: nn.MaxPool2d(2, dilation=(1, 0)), ValueError, ["MaxPool2d", "dilation"]),
])
def test_option_bad_input(call, error, words):
    with pytest.raises(error) as info:
        call()
    for w in words:
        assert w in str(info.value), (w, str(info.value))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_pool_2x2_kernel_on_negative_and_special_windows(dtype):
    """The unrolled 2x2 kernel pools x itself (no ReLU floor): all-negative windows, -inf, -0.0,
    ties (first maximum) and NaN (first NaN) against a NumPy reference of each window."""
    rng = np.random.default_rng(5)
    x = rng.choice(np.array([-3.0, -1.0, -0.0, -np.inf, 2.0, np.nan], dtype), size=(2, 3, 6, 8),
                   p=[.3, .3, .1, .1, .1, .1])
    y, idx = K.max_pool2d_forward(x, (2, 2), (2, 2), (0, 0))
    w = x.shape[3]
    for n, c, i, j in np.ndindex(y.shape):
        taps = [(2 * i + a, 2 * j + b) for a in (0, 1) for b in (0, 1)]
        vals = np.array([x[n, c, r, s] for r, s in taps])
        k = int(np.argmax(np.isnan(vals))) if np.isnan(vals).any() else int(np.argmax(vals))
        r, s = taps[k]
        np.testing.assert_array_equal(y[n, c, i, j], vals[k])
        assert np.signbit(y[n, c, i, j]) == np.signbit(vals[k])
        assert idx[n, c, i, j] == r * w + s
