"""Convolution: kernels against plain NumPy loops, the textbook input gradient against the fast one,
output sizes, argument checking, and PyTorch when it is installed.

The registry-driven tests (tests/test_gradients.py, tests/test_forward.py) gradcheck and
gradgradcheck conv2d, conv1d and conv_transpose2d on drawn samples; this file covers the kernels
directly (float32 and float64, non-contiguous inputs, the im2col chunking paths) and the op API.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import minigrad as mg
from minigrad.ops import conv as C
from minigrad.ops.kernels.cpu import conv as K
from minigrad.testing import conv_reference as R
from minigrad.testing import gradcheck, gradgradcheck

DTYPES = [np.float32, np.float64]


def _tol(dtype, scale=1.0):
    return dict(rtol=1e-4, atol=1e-4 * scale) if dtype == np.float32 else dict(rtol=1e-10,
                                                                                atol=1e-10 * scale)


def _layout(a: np.ndarray, how: str) -> np.ndarray:
    """The same values, stored contiguously, in Fortran order, or as a strided slice."""
    if how == "fortran":
        return np.asfortranarray(a)
    if how == "sliced":
        big = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), dtype=a.dtype)
        big[..., ::2] = a
        return big[..., ::2]
    return a


@st.composite
def geometries(draw, max_size=6):
    """A valid conv2d geometry with asymmetric padding, strides, dilations and groups."""
    g = draw(st.integers(1, 2))
    cg, kg, n = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    h, w = draw(st.integers(1, max_size)), draw(st.integers(1, max_size))
    r, s = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = tuple(draw(st.integers(0, 2)) for _ in range(4))
    assume(R.out_size(h, r, stride[0], padding[0], padding[1], dilation[0]) >= 1)
    assume(R.out_size(w, s, stride[1], padding[2], padding[3], dilation[1]) >= 1)
    return dict(x_shape=(n, g * cg, h, w), w_shape=(g * kg, cg, r, s), stride=stride,
                padding=padding, dilation=dilation, groups=g)


def _arrays(geo, dtype, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(geo["x_shape"]).astype(dtype)
    w = rng.standard_normal(geo["w_shape"]).astype(dtype)
    b = rng.standard_normal(geo["w_shape"][0]).astype(dtype)
    return x, w, b


def _args(geo):
    return geo["stride"], geo["padding"], geo["dilation"], geo["groups"]


# ------------------------------------------------------------------------------------------------
# kernels vs the NumPy-loop references


@pytest.mark.parametrize("dtype", DTYPES)
@given(geo=geometries(), layout=st.sampled_from(["contiguous", "fortran", "sliced"]),
       with_bias=st.booleans(), seed=st.integers(0, 2**16))
def test_forward_kernel_matches_loops(dtype, geo, layout, with_bias, seed):
    x, w, b = _arrays(geo, dtype, seed)
    b = b if with_bias else None
    y = K.conv2d_forward(_layout(x, layout), _layout(w, layout), *_args(geo), bias=b)
    expected = R.conv2d_ref(x, w, b, *_args(geo)[:3], groups=geo["groups"])
    assert y.dtype == dtype
    assert y.shape == expected.shape
    np.testing.assert_allclose(y, expected, **_tol(dtype, 10))


@pytest.mark.parametrize("dtype", DTYPES)
@given(geo=geometries(), layout=st.sampled_from(["contiguous", "fortran", "sliced"]),
       seed=st.integers(0, 2**16))
def test_input_gradient_kernels_match_loops(dtype, geo, layout, seed):
    x, w, _ = _arrays(geo, dtype, seed)
    oh = R.out_size(x.shape[2], w.shape[2], geo["stride"][0], *geo["padding"][:2],
                    geo["dilation"][0])
    ow = R.out_size(x.shape[3], w.shape[3], geo["stride"][1], *geo["padding"][2:],
                    geo["dilation"][1])
    gy = np.random.default_rng(seed + 1).standard_normal((x.shape[0], w.shape[0], oh, ow))
    gy = gy.astype(dtype)
    expected = R.conv2d_grad_input_ref(gy, w, x.shape[2:], *_args(geo))
    fast = K.conv2d_grad_input(_layout(gy, layout), _layout(w, layout), x.shape[2:], *_args(geo))
    rot = R.conv2d_grad_input_rot180(_layout(gy, layout), w, x.shape[2:], *_args(geo))
    assert fast.shape == rot.shape == x.shape
    assert fast.dtype == rot.dtype == dtype
    np.testing.assert_allclose(fast, expected, **_tol(dtype, 10))
    np.testing.assert_allclose(rot, expected, **_tol(dtype, 10))
    np.testing.assert_allclose(rot, fast, **_tol(dtype, 10))


@pytest.mark.parametrize("dtype", DTYPES)
@given(geo=geometries(), layout=st.sampled_from(["contiguous", "fortran", "sliced"]),
       seed=st.integers(0, 2**16))
def test_weight_gradient_kernel_matches_loops(dtype, geo, layout, seed):
    x, w, _ = _arrays(geo, dtype, seed)
    y = R.conv2d_ref(x, w, None, *_args(geo)[:3], groups=geo["groups"])
    gy = np.random.default_rng(seed + 1).standard_normal(y.shape).astype(dtype)
    gw = K.conv2d_grad_weight(_layout(x, layout), _layout(gy, layout), w.shape[2:], *_args(geo))
    expected = R.conv2d_grad_weight_ref(x, gy, w.shape[2:], *_args(geo))
    assert gw.shape == w.shape and gw.dtype == dtype
    np.testing.assert_allclose(gw, expected, **_tol(dtype, 30))


# Shapes that take the other code paths: one sample per GEMM (OH*OW >= 512), the 1x1 shortcut,
# several chunks with a short last one, and more than one group on each.
LARGE = [
    dict(x_shape=(2, 2, 24, 24), w_shape=(3, 2, 3, 3), stride=(1, 1), padding=(1, 1, 1, 1),
         dilation=(1, 1), groups=1),
    dict(x_shape=(2, 4, 23, 26), w_shape=(4, 2, 2, 3), stride=(1, 1), padding=(0, 1, 2, 0),
         dilation=(2, 1), groups=2),
    dict(x_shape=(3, 4, 24, 24), w_shape=(6, 2, 1, 1), stride=(1, 1), padding=(0, 0, 0, 0),
         dilation=(1, 1), groups=2),
    dict(x_shape=(2, 3, 25, 25), w_shape=(2, 3, 1, 1), stride=(2, 2), padding=(1, 0, 0, 1),
         dilation=(1, 1), groups=1),
    dict(x_shape=(37, 2, 9, 8), w_shape=(4, 1, 3, 3), stride=(2, 1), padding=(1, 1, 1, 1),
         dilation=(1, 1), groups=2),
]


# The chunking constants are tuning, not semantics: every setting must give the same answers.
PLANS = {
    "default": {},
    "one_sample_per_gemm": dict(_FOLD_BELOW=0),
    "fold_everything": dict(_FOLD_BELOW=10**9, _COLS_BUDGET=1 << 30),
    "uneven_chunks": dict(_FOLD_BELOW=10**9, _COLS_BUDGET=7000),
}


@pytest.mark.parametrize("plan", PLANS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("geo", LARGE, ids=range(len(LARGE)))
def test_kernels_on_larger_images(monkeypatch, plan, dtype, geo):
    for name, value in PLANS[plan].items():
        monkeypatch.setattr(K, name, value)
    x, w, b = _arrays(geo, dtype, 0)
    y = K.conv2d_forward(x, w, *_args(geo), bias=b)
    np.testing.assert_allclose(y, R.conv2d_ref(x, w, b, *_args(geo)[:3], groups=geo["groups"]),
                               **_tol(dtype, 10))
    gy = np.random.default_rng(1).standard_normal(y.shape).astype(dtype)
    gx_ref = R.conv2d_grad_input_ref(gy, w, x.shape[2:], *_args(geo))
    np.testing.assert_allclose(K.conv2d_grad_input(gy, w, x.shape[2:], *_args(geo)), gx_ref,
                               **_tol(dtype, 10))
    np.testing.assert_allclose(R.conv2d_grad_input_rot180(gy, w, x.shape[2:], *_args(geo)),
                               gx_ref, **_tol(dtype, 10))
    np.testing.assert_allclose(K.conv2d_grad_weight(x, gy, w.shape[2:], *_args(geo)),
                               R.conv2d_grad_weight_ref(x, gy, w.shape[2:], *_args(geo)),
                               **_tol(dtype, 300))


def test_references_agree_with_each_other():
    """The three loop references are adjoint: <conv(x, w), g> = <x, gx(g, w)> = <w, gw(x, g)>."""
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((2, 4, 7, 6)), rng.standard_normal((6, 2, 3, 2))
    geo = ((2, 1), (1, 0, 2, 1), (1, 2), 2)
    y = R.conv2d_ref(x, w, None, *geo[:3], groups=2)
    g = rng.standard_normal(y.shape)
    lhs = np.sum(y * g)
    assert np.isclose(lhs, np.sum(x * R.conv2d_grad_input_ref(g, w, x.shape[2:], *geo)))
    assert np.isclose(lhs, np.sum(w * R.conv2d_grad_weight_ref(x, g, w.shape[2:], *geo)))


# ------------------------------------------------------------------------------------------------
# output sizes

SIZE_TABLE = [  # (n, f, stride, padding, dilation, expected) worked out by hand
    (28, 5, 1, 2, 1, 28),
    (28, 5, 1, 0, 1, 24),
    (32, 3, 2, 1, 1, 16),
    (64, 3, 2, 1, 1, 32),
    (7, 3, 2, 0, 1, 3),
    (8, 3, 2, 0, 1, 3),
    (10, 3, 1, 0, 2, 6),
    (5, 5, 1, 0, 1, 1),
    (1, 3, 1, 1, 1, 1),
    (9, 2, 3, 1, 2, 3),
]


@pytest.mark.parametrize("n,f,s,p,d,expected", SIZE_TABLE)
def test_conv_output_size_table(n, f, s, p, d, expected):
    assert C.conv_output_size(n, f, s, p, d) == expected
    x = mg.zeros(1, 1, n, n, dtype=mg.float64)
    w = mg.zeros(1, 1, f, f, dtype=mg.float64)
    assert C.conv2d(x, w, stride=s, padding=p, dilation=d).shape == (1, 1, expected, expected)


@pytest.mark.parametrize("f,d", [(1, 1), (2, 1), (3, 1), (4, 2), (5, 1), (2, 3)])
def test_padding_modes_sizes(f, d):
    x = mg.zeros(1, 1, 9, 10, dtype=mg.float64)
    w = mg.zeros(1, 1, f, f, dtype=mg.float64)
    assert C.conv2d(x, w, padding="same", dilation=d).shape == (1, 1, 9, 10)
    span = d * (f - 1)
    assert C.conv2d(x, w, padding="valid", dilation=d).shape == (1, 1, 9 - span, 10 - span)
    assert C.conv2d(x, w, padding="full", dilation=d).shape == (1, 1, 9 + span, 10 + span)


def test_same_padding_puts_the_extra_at_the_bottom_right():
    # a 2x2 kernel selecting its top-left tap reads the input pixel itself; the bottom-right tap
    # reads the next pixel, which is padding past the last row/column
    x = np.arange(12.0).reshape(1, 1, 3, 4)
    top_left = np.zeros((1, 1, 2, 2))
    top_left[0, 0, 0, 0] = 1
    bottom_right = np.zeros((1, 1, 2, 2))
    bottom_right[0, 0, 1, 1] = 1
    y = C.conv2d(mg.tensor(x), mg.tensor(top_left), padding="same").numpy()
    np.testing.assert_array_equal(y, x)
    y = C.conv2d(mg.tensor(x), mg.tensor(bottom_right), padding="same").numpy()
    expected = np.zeros_like(x)
    expected[0, 0, :2, :3] = x[0, 0, 1:, 1:]
    np.testing.assert_array_equal(y, expected)


# ------------------------------------------------------------------------------------------------
# the op level


def test_conv2d_op_matches_reference_with_every_padding_form():
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 4, 7, 6)), rng.standard_normal((6, 2, 3, 2)), \
        rng.standard_normal(6)
    for padding in (0, 2, (1, 0), "valid", "same", "full"):
        for stride in (1, (2, 1)):
            if padding == "same" and stride != 1:
                continue
            y = C.conv2d(mg.tensor(x), mg.tensor(w), mg.tensor(b), stride, padding, (1, 2), 2)
            expected = R.conv2d(x, w, b, stride, padding, (1, 2), 2)
            np.testing.assert_allclose(y.numpy(), expected, rtol=1e-10, atol=1e-10)


def test_conv1d_and_conv_transpose2d_match_references():
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((2, 4, 9)), rng.standard_normal((6, 2, 3))
    for padding in (0, 2, "same", "full"):
        y = C.conv1d(mg.tensor(x), mg.tensor(w), None, 1, padding, 2, 2)
        np.testing.assert_allclose(y.numpy(), R.conv1d(x, w, None, 1, padding, 2, 2), atol=1e-10)
    x, w, b = rng.standard_normal((2, 4, 3, 4)), rng.standard_normal((4, 3, 3, 2)), \
        rng.standard_normal(6)
    for stride, padding, out_pad, dil in [(1, 0, 0, 1), (2, 1, 1, 1), ((2, 3), (1, 0), (1, 2), 1),
                                          (1, 0, 1, 2)]:
        y = C.conv_transpose2d(mg.tensor(x), mg.tensor(w), mg.tensor(b), stride, padding,
                               out_pad, 2, dil)
        expected = R.conv_transpose2d(x, w, b, stride, padding, out_pad, 2, dil)
        assert y.shape == expected.shape
        np.testing.assert_allclose(y.numpy(), expected, atol=1e-10)


def test_float32_stays_float32_and_mixed_dtypes_promote():
    x = mg.randn(2, 3, 5, 5)
    w = mg.randn(4, 3, 3, 3)
    assert C.conv2d(x, w, mg.randn(4)).dtype == np.float32
    assert C.conv2d(x, w.double()).dtype == np.float64


def test_unbatched_input():
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal((3, 6, 5)), rng.standard_normal((2, 3, 3, 2))
    y = C.conv2d(mg.tensor(x), mg.tensor(w), padding=1)
    expected = R.conv2d(x[None], w, None, 1, 1)[0]
    assert y.shape == expected.shape
    np.testing.assert_allclose(y.numpy(), expected, atol=1e-10)
    x1, w1 = x[:, 0], w[:, :, 0]  # (3, 5) unbatched, (2, 3, 2)
    y1 = C.conv1d(mg.tensor(x1), mg.tensor(w1))
    assert y1.shape == (2, 4)
    np.testing.assert_allclose(y1.numpy(), R.conv1d(x1[None], w1)[0], atol=1e-10)


GRAD_CASES = [
    dict(stride=(2, 1), padding=1, dilation=(1, 2), groups=2),
    dict(stride=1, padding="same", dilation=1, groups=1),
    dict(stride=(1, 2), padding="full", dilation=2, groups=1),
]


@pytest.mark.parametrize("kw", GRAD_CASES, ids=range(len(GRAD_CASES)))
def test_conv2d_second_order_gradients(kw):
    rng = np.random.default_rng(4)
    x = mg.tensor(rng.standard_normal((2, 2, 5, 4)), requires_grad=True)
    w = mg.tensor(rng.standard_normal((2, 2 // kw["groups"], 2, 3)), requires_grad=True)
    b = mg.tensor(rng.standard_normal(2), requires_grad=True)
    f = lambda x_, w_, b_: C.conv2d(x_, w_, b_, **kw)  # noqa: E731
    assert gradcheck(f, [x, w, b])
    assert gradgradcheck(f, [x, w, b])


def test_conv_transpose2d_second_order_gradients_with_output_padding():
    rng = np.random.default_rng(5)
    x = mg.tensor(rng.standard_normal((1, 2, 3, 2)), requires_grad=True)
    w = mg.tensor(rng.standard_normal((2, 1, 3, 1)), requires_grad=True)
    f = lambda x_, w_: C.conv_transpose2d(x_, w_, stride=(2, 1), padding=(1, 0),  # noqa: E731
                                          output_padding=(1, 1), dilation=(1, 2))
    assert gradcheck(f, [x, w])
    assert gradgradcheck(f, [x, w])


def test_gradient_penalty_through_a_convolution():
    """create_graph=True: d/dw of ||d loss/dx||^2 matches finite differences."""
    rng = np.random.default_rng(6)
    x0 = rng.standard_normal((1, 2, 4, 4))
    w0 = rng.standard_normal((3, 2, 3, 3))

    def penalty(w_arr, create_graph):
        x = mg.tensor(x0, requires_grad=True)
        w = mg.tensor(w_arr, requires_grad=True)
        y = C.conv2d(x, w, padding=1)
        (gx,) = mg.grad((y * y).sum(), [x], create_graph=create_graph)
        return (gx * gx).sum(), w

    p, w = penalty(w0, True)
    p.backward()
    eps = 1e-6
    idx = (1, 0, 2, 1)
    wp, wm = w0.copy(), w0.copy()
    wp[idx] += eps
    wm[idx] -= eps
    fd = (penalty(wp, False)[0].item() - penalty(wm, False)[0].item()) / (2 * eps)
    assert np.isclose(w.grad.numpy()[idx], fd, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------------------------------------
# bad input: a ValueError/TypeError naming the op and the argument, raised before any kernel runs


def _x(*shape, dtype=mg.float32):
    return mg.zeros(*shape, dtype=dtype)


BAD_CONV2D = [
    ((_x(1, 1, 3, 3), _x(1, 1, 4, 4)), {}, ValueError, "kernel"),
    ((_x(1, 1, 3, 3), _x(1, 1, 2, 2)), dict(dilation=3), ValueError, "kernel"),
    ((_x(1, 1, 5, 5), _x(1, 1, 3, 3)), dict(stride=0), ValueError, "stride"),
    ((_x(1, 1, 5, 5), _x(1, 1, 3, 3)), dict(stride=(1, -1)), ValueError, "stride"),
    ((_x(1, 1, 5, 5), _x(1, 1, 3, 3)), dict(dilation=0), ValueError, "dilation"),
    ((_x(1, 3, 5, 5), _x(2, 1, 3, 3)), dict(groups=3), ValueError, "groups"),
    ((_x(1, 4, 5, 5), _x(3, 2, 3, 3)), dict(groups=2), ValueError, "groups"),
    ((_x(1, 4, 5, 5), _x(2, 2, 3, 3)), dict(groups=0), ValueError, "groups"),
    ((_x(1, 5, 5), _x(1, 1, 3)), {}, ValueError, "weight"),
    ((_x(5, 5), _x(1, 1, 3, 3)), {}, ValueError, "input"),
    ((_x(1, 1, 1, 5, 5), _x(1, 1, 3, 3)), {}, ValueError, "input"),
    ((_x(1, 3, 5, 5), _x(2, 2, 3, 3)), {}, ValueError, "channels"),
    ((_x(1, 1, 5, 5), _x(1, 1, 3, 3)), dict(padding=-1), ValueError, "padding"),
    ((_x(1, 1, 5, 5), _x(1, 1, 3, 3)), dict(padding=(1, 2, 3)), ValueError, "padding"),
    ((_x(1, 1, 5, 5), _x(1, 1, 3, 3)), dict(padding="half"), ValueError, "padding"),
    ((_x(1, 1, 5, 5), _x(1, 1, 3, 3)), dict(padding="same", stride=2), ValueError, "same"),
    ((_x(1, 1, 5, 5), _x(2, 1, 3, 3), _x(3)), {}, ValueError, "bias"),
    ((_x(1, 1, 5, 5), _x(2, 1, 3, 3), _x(1, 2)), {}, ValueError, "bias"),
    ((_x(1, 1, 5, 5, dtype=mg.int64), _x(1, 1, 3, 3)), {}, TypeError, "input"),
    ((_x(1, 1, 5, 5), _x(1, 1, 3, 3, dtype=mg.int32)), {}, TypeError, "weight"),
    ((_x(1, 1, 5, 5), _x(1, 1, 3, 3), _x(1, dtype=mg.int64)), {}, TypeError, "bias"),
    (([[[[1.0]]]], _x(1, 1, 1, 1)), {}, TypeError, "input"),
]


@pytest.fixture
def no_kernels(monkeypatch):
    """Make any kernel call fail loudly, so a test sees whether validation came first."""

    def boom(*args, **kwargs):
        raise AssertionError("a kernel ran before validation")

    for name in ("conv2d_forward", "conv2d_grad_input", "conv2d_grad_weight"):
        monkeypatch.setattr(K, name, boom)


@pytest.mark.parametrize("args,kwargs,exc,word", BAD_CONV2D, ids=range(len(BAD_CONV2D)))
def test_conv2d_rejects_bad_input(no_kernels, args, kwargs, exc, word):
    with pytest.raises(exc) as info:
        C.conv2d(*args, **kwargs)
    msg = str(info.value)
    assert msg.startswith("conv2d:") and word in msg, msg


def test_error_messages_name_the_shapes(no_kernels):
    with pytest.raises(ValueError, match=r"\(1, 3, 5, 5\).*\(2, 2, 3, 3\)"):
        C.conv2d(_x(1, 3, 5, 5), _x(2, 2, 3, 3))
    with pytest.raises(ValueError, match=r"\(1, 1, 3, 3\).*\(1, 1, 4, 4\)"):
        C.conv2d(_x(1, 1, 3, 3), _x(1, 1, 4, 4))


BAD_OTHERS = [
    (C.conv1d, (_x(1, 1, 3), _x(1, 1, 4)), {}, ValueError, "kernel"),
    (C.conv1d, (_x(1, 1, 3, 3), _x(1, 1, 2)), {}, ValueError, "input"),
    (C.conv1d, (_x(1, 2, 5), _x(1, 2, 2)), dict(padding="same", stride=2), ValueError, "same"),
    (C.conv1d, (_x(1, 2, 5), _x(1, 2, 2)), dict(padding=(1, 1)), ValueError, "padding"),
    (C.conv_transpose2d, (_x(1, 2, 3, 3), _x(3, 1, 3, 3)), {}, ValueError, "channels"),
    (C.conv_transpose2d, (_x(1, 3, 3, 3), _x(3, 1, 3, 3)), dict(groups=2), ValueError, "groups"),
    (C.conv_transpose2d, (_x(1, 1, 3, 3), _x(1, 1, 3, 3)), dict(output_padding=1), ValueError,
     "output_padding"),
    (C.conv_transpose2d, (_x(1, 1, 3, 3), _x(1, 1, 3, 3)), dict(padding="same"), TypeError,
     "padding"),
    (C.conv_transpose2d, (_x(1, 1, 1, 1), _x(1, 1, 1, 1)), dict(padding=1), ValueError, "output"),
    (C.conv_transpose2d, (_x(1, 1, 3, 3), _x(1, 2, 3, 3), _x(3)), {}, ValueError, "bias"),
    (C.conv_transpose2d, (_x(1, 1, 3, 3, dtype=mg.int64), _x(1, 1, 3, 3)), {}, TypeError,
     "input"),
    (C.conv_transpose1d, (_x(1, 2, 3), _x(3, 1, 3)), {}, ValueError, "channels"),
    (C.conv_transpose1d, (_x(1, 2, 3, 3), _x(2, 1, 3)), {}, ValueError, "(1, 2, 3, 3)"),
    (C.conv_transpose1d, (_x(1, 2, 3), _x(2, 1, 3, 3)), {}, ValueError, "weight must be 3-D"),
    (C.conv_transpose1d, (_x(1, 1, 3), _x(1, 1, 3)), dict(output_padding=1), ValueError,
     "output_padding"),
    (C.conv_transpose1d, (_x(1, 1, 3), _x(1, 1, 3)), dict(stride=(1, 1)), ValueError, "stride"),
    (C.conv_transpose1d, (_x(1, 1, 1), _x(1, 1, 1)), dict(padding=1), ValueError, "output"),
    (C.conv_transpose1d, (_x(1, 1, 3), _x(1, 2, 3), _x(3)), {}, ValueError, "bias"),
]


@pytest.mark.parametrize("fn,args,kwargs,exc,word", BAD_OTHERS, ids=range(len(BAD_OTHERS)))
def test_conv1d_and_transpose_reject_bad_input(no_kernels, fn, args, kwargs, exc, word):
    with pytest.raises(exc) as info:
        fn(*args, **kwargs)
    msg = str(info.value)
    assert msg.startswith(fn.__name__ + ":") and word in msg, msg


# ------------------------------------------------------------------------------------------------
# PyTorch, when installed


@pytest.mark.parametrize("dtype", DTYPES)
@given(geo=geometries(max_size=8), seed=st.integers(0, 2**16),
       pad_mode=st.sampled_from(["pair", "same", "valid", "full"]))
def test_conv2d_matches_torch(dtype, geo, seed, pad_mode):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x, w, b = _arrays(geo, dtype, seed)
    kw = dict(stride=geo["stride"], dilation=geo["dilation"], groups=geo["groups"])
    r, s = w.shape[2:]
    (dh, dw) = geo["dilation"]
    if pad_mode == "pair":
        padding = (geo["padding"][0], geo["padding"][2])
        torch_padding = padding
    elif pad_mode == "full":
        padding, torch_padding = "full", (dh * (r - 1), dw * (s - 1))
    else:
        padding = torch_padding = pad_mode
        if pad_mode == "same":
            kw["stride"] = (1, 1)
    spans = (dh * (r - 1) + 1, dw * (s - 1) + 1)
    assume(padding != "valid" or all(sp <= n for sp, n in zip(spans, x.shape[2:])))
    if pad_mode == "pair":
        assume(all(sp <= n + 2 * p for sp, n, p in zip(spans, x.shape[2:], padding)))
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = F.conv2d(tx, tw, tb, padding=torch_padding, **kw)
    mx, mw, mb = (mg.tensor(a, requires_grad=True) for a in (x, w, b))
    my = C.conv2d(mx, mw, mb, padding=padding, **kw)
    assert my.shape == tuple(ty.shape)
    np.testing.assert_allclose(my.numpy(), ty.detach().numpy(), **_tol(dtype, 10))
    g = np.random.default_rng(seed + 7).standard_normal(my.shape).astype(dtype)
    ty.backward(torch.tensor(g))
    my.backward(mg.tensor(g))
    for m, t, scale in ((mx, tx, 10), (mw, tw, 100), (mb, tb, 100)):
        np.testing.assert_allclose(m.grad.numpy(), t.grad.numpy(), **_tol(dtype, scale))


@given(seed=st.integers(0, 2**16), stride=st.integers(1, 3), padding=st.integers(0, 2),
       dilation=st.integers(1, 2), groups=st.integers(1, 2), out_pad=st.integers(0, 2))
def test_conv_transpose2d_and_conv1d_match_torch(seed, stride, padding, dilation, groups, out_pad):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    assume(out_pad < max(stride, dilation))
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 2 * groups, 4, 3))
    w = rng.standard_normal((2 * groups, 3, 3, 2))
    b = rng.standard_normal(3 * groups)
    out_h = (4 - 1) * stride - 2 * padding + dilation * 2 + out_pad + 1
    out_w = (3 - 1) * stride - 2 * padding + dilation * 1 + out_pad + 1
    assume(min(out_h, out_w) >= 1)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = F.conv_transpose2d(tx, tw, tb, stride, padding, out_pad, groups, dilation)
    mx, mw, mb = (mg.tensor(a, requires_grad=True) for a in (x, w, b))
    my = C.conv_transpose2d(mx, mw, mb, stride, padding, out_pad, groups, dilation)
    assert my.shape == tuple(ty.shape)
    np.testing.assert_allclose(my.numpy(), ty.detach().numpy(), atol=1e-10)
    g = rng.standard_normal(my.shape)
    ty.backward(torch.tensor(g))
    my.backward(mg.tensor(g))
    for m, t in ((mx, tx), (mw, tw), (mb, tb)):
        np.testing.assert_allclose(m.grad.numpy(), t.grad.numpy(), atol=1e-9)

    x1 = rng.standard_normal((2, 2 * groups, 9))
    w1 = rng.standard_normal((2 * groups, 2, 3))
    t1 = F.conv1d(torch.tensor(x1), torch.tensor(w1), None, stride, padding, dilation, groups)
    m1 = C.conv1d(mg.tensor(x1), mg.tensor(w1), None, stride, padding, dilation, groups)
    np.testing.assert_allclose(m1.numpy(), t1.numpy(), atol=1e-10)


@given(seed=st.integers(0, 2**16), stride=st.integers(1, 3), padding=st.integers(0, 2),
       dilation=st.integers(1, 3), groups=st.integers(1, 2), out_pad=st.integers(0, 2),
       length=st.integers(1, 6), kernel=st.integers(1, 4), batched=st.booleans(),
       bias=st.booleans())
def test_conv_transpose1d_matches_torch_and_loops(seed, stride, padding, dilation, groups,
                                                  out_pad, length, kernel, batched, bias):
    torch = pytest.importorskip("torch")
    assume(out_pad < max(stride, dilation))
    assume((length - 1) * stride - 2 * padding + dilation * (kernel - 1) + out_pad + 1 >= 1)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 2 * groups, length) if batched else (2 * groups, length))
    w = rng.standard_normal((2 * groups, 3, kernel))
    b = rng.standard_normal(3 * groups) if bias else None
    args = (stride, padding, out_pad, groups, dilation)
    want = R.conv_transpose1d(x if batched else x[None], w, b, *args)
    tx, tw = (torch.tensor(a, requires_grad=True) for a in (x, w))
    tb = None if b is None else torch.tensor(b, requires_grad=True)
    ty = torch.nn.functional.conv_transpose1d(tx, tw, tb, *args)
    mx, mw = (mg.tensor(a, requires_grad=True) for a in (x, w))
    mb = None if b is None else mg.tensor(b, requires_grad=True)
    my = C.conv_transpose1d(mx, mw, mb, *args)
    assert my.shape == tuple(ty.shape)
    np.testing.assert_allclose(my.numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(my.numpy(), want if batched else want[0], rtol=1e-10, atol=1e-10)
    g = rng.standard_normal(my.shape)
    ty.backward(torch.tensor(g))
    my.backward(mg.tensor(g))
    pairs = [(mx, tx), (mw, tw)] + ([(mb, tb)] if bias else [])
    for m, t in pairs:
        np.testing.assert_allclose(m.grad.numpy(), t.grad.numpy(), rtol=1e-10, atol=1e-10)


def test_conv_transpose1d_layer_matches_torch():
    torch = pytest.importorskip("torch")
    import minigrad.nn as nn

    for kw in (dict(), dict(stride=2, padding=1, output_padding=1, groups=2, bias=False),
               dict(dilation=2, stride=3)):
        ours = nn.ConvTranspose1d(4, 6, 3, **kw).double()
        theirs = torch.nn.ConvTranspose1d(4, 6, 3, **kw).double()
        assert ours.weight.shape == tuple(theirs.weight.shape)
        with torch.no_grad():
            theirs.weight.copy_(torch.tensor(ours.weight.numpy()))
            if ours.bias is not None:
                theirs.bias.copy_(torch.tensor(ours.bias.numpy()))
        x = np.random.default_rng(1).standard_normal((2, 4, 5))
        mx, tx = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        my, ty = ours(mx), theirs(tx)
        np.testing.assert_allclose(my.numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-10)
        g = np.random.default_rng(2).standard_normal(my.shape)
        my.backward(mg.tensor(g))
        ty.backward(torch.tensor(g))
        np.testing.assert_allclose(mx.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(),
                                   rtol=1e-10, atol=1e-10)
        # unbatched input and output_size, as PyTorch
        np.testing.assert_allclose(ours(mg.tensor(x[0])).numpy(),
                                   theirs(torch.tensor(x[0])).detach().numpy(), atol=1e-10)
        base = ours(mx).shape[-1] - kw.get("output_padding", 0)
        size = base + (1 if kw.get("stride", 1) > 1 else 0)
        assert ours(mx, output_size=[size]).shape == tuple(theirs(tx, output_size=[size]).shape)
    # PyTorch's initialisation bounds: U(+-1/sqrt(fan_in)), fan_in from weight axis 1 (* k)
    m = nn.ConvTranspose1d(8, 4, 5)
    assert np.abs(m.weight.numpy()).max() <= 1 / np.sqrt(4 * 5)
    with pytest.raises(ValueError, match="ConvTranspose1d: expected input"):
        m(mg.randn(2, 3, 5))
    with pytest.raises(ValueError, match="not reachable"):
        m(mg.randn(1, 8, 5), output_size=(20,))
