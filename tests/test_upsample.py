"""F.interpolate / nn.Upsample and pixel (un)shuffle: against NumPy loops written from PyTorch's
coordinate rules, against PyTorch itself (forward and input gradient, float64, 1e-10, and the
exact nearest-neighbour indices in float32 and float64), the tap tables, and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad.ops.kernels.cpu import upsample as K
from minigrad.ops.upsample import linear_taps, nearest_taps
from minigrad.testing.opinfo.upsample import ref_interpolate

RNG = np.random.default_rng(0)
TOL = dict(rtol=1e-10, atol=1e-10)


def _vs_torch(ours, theirs, x):
    """Forward and input gradient (of sum(y * random cotangent)) of ours and theirs, float64."""
    torch = pytest.importorskip("torch")
    xm = mg.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    y, yt = ours(xm), theirs(xt)
    assert y.shape == tuple(yt.shape) and y.dtype == np.float64
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), **TOL)
    gy = RNG.standard_normal(y.shape)
    (y * mg.tensor(gy)).sum().backward()
    (yt * torch.tensor(gy)).sum().backward()
    np.testing.assert_allclose(xm.grad.numpy(), xt.grad.numpy(), **TOL)


@st.composite
def interpolations(draw):
    spatial = draw(st.integers(1, 2), label="spatial")
    linear = "linear" if spatial == 1 else "bilinear"
    mode = draw(st.sampled_from(["nearest", "nearest-exact", linear, "area"]), label="mode")
    sizes = tuple(draw(st.integers(1, 9), label="size") for _ in range(spatial))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3)), *sizes)
    kwargs = {"mode": mode}
    if draw(st.booleans(), label="by_size"):
        out = tuple(draw(st.integers(1, 13), label="out") for _ in range(spatial))
        kwargs["size"] = out if spatial == 2 or draw(st.booleans()) else out[0]
    else:
        factor = st.floats(0.2, 4.0, allow_nan=False) | st.sampled_from([0.5, 1.5, 2.0, 3.0])
        f = tuple(draw(factor, label="factor") for _ in range(spatial))
        assume(all(math.floor(n * s) >= 1 for n, s in zip(sizes, f)))
        kwargs["scale_factor"] = f if spatial == 2 and draw(st.booleans()) else f[0]
        if isinstance(kwargs["scale_factor"], float):
            assume(all(math.floor(n * f[0]) >= 1 for n in sizes))
        if draw(st.booleans(), label="recompute"):
            kwargs["recompute_scale_factor"] = True
    if mode == linear:
        kwargs["align_corners"] = draw(st.sampled_from([None, False, True]))
    return shape, kwargs


@given(interpolations())
def test_interpolate_matches_torch(case):
    shape, kwargs = case
    torch = pytest.importorskip("torch")
    x = RNG.standard_normal(shape)
    _vs_torch(lambda t: F.interpolate(t, **kwargs),
              lambda t: torch.nn.functional.interpolate(t, **kwargs), x)


@given(interpolations())
def test_interpolate_matches_loops(case):
    shape, kwargs = case
    x = RNG.standard_normal(shape)
    y = F.interpolate(mg.tensor(x), **kwargs).numpy()
    np.testing.assert_allclose(y, ref_interpolate(x, **kwargs), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("mode", ["nearest", "nearest-exact"])
def test_nearest_indices_equal_torchs_for_every_size(mode, dtype):
    """Exact indices, including the sizes where PyTorch's float32 rounding (floorf, a fused
    multiply-add) decides a tie: every in/out pair up to 8 -> 150, and scale factors."""
    torch = pytest.importorskip("torch")
    for n_in in range(1, 9):
        x = np.arange(n_in, dtype=dtype).reshape(1, 1, n_in)
        xt = torch.tensor(x)
        for n_out in range(1, 151):
            got = F.interpolate(mg.tensor(x), size=n_out, mode=mode).numpy()
            want = torch.nn.functional.interpolate(xt, size=n_out, mode=mode).numpy()
            assert np.array_equal(got, want), (n_in, n_out)
        for f in (0.3, 0.7, 1.1, 1 / 3, 1.7, 2.5, 3.3):
            if math.floor(n_in * f) < 1:
                continue
            got = F.interpolate(mg.tensor(x), scale_factor=f, mode=mode).numpy()
            want = torch.nn.functional.interpolate(xt, scale_factor=f, mode=mode).numpy()
            assert np.array_equal(got, want), (n_in, f)


def test_scale_factor_coordinates_are_not_recomputed_by_default():
    """5 * 1.7 = 8.5 -> 8 outputs; PyTorch's coordinates use 1 / 1.7, not 5 / 8, unless
    recompute_scale_factor=True."""
    x = mg.tensor(np.arange(5.0).reshape(1, 1, 5))
    default = F.interpolate(x, scale_factor=1.7, mode="linear").numpy().ravel()
    recomputed = F.interpolate(x, scale_factor=1.7, mode="linear",
                               recompute_scale_factor=True).numpy().ravel()
    by_size = F.interpolate(x, size=8, mode="linear").numpy().ravel()
    np.testing.assert_allclose(recomputed, by_size)
    # output 1 reads (1.5 / 1.7 - 0.5) = 0.38235... by default, (1.5 * 5/8 - 0.5) = 0.4375
    assert default[1] == pytest.approx(1.5 / 1.7 - 0.5)
    assert recomputed[1] == pytest.approx(0.4375)


def test_an_axis_whose_size_does_not_change():
    """7 * 1.1 = 7.7 -> 7 outputs: the linear modes copy such an axis (PyTorch's special case),
    but nearest still reads floor(o / 1.1), which repeats pixel 0 and drops pixel 6."""
    x = np.arange(7.0).reshape(1, 1, 7) + 1
    lin = F.interpolate(mg.tensor(x), scale_factor=1.1, mode="linear").numpy().ravel()
    np.testing.assert_array_equal(lin, x.ravel())
    near = F.interpolate(mg.tensor(x), scale_factor=1.1, mode="nearest").numpy().ravel()
    np.testing.assert_array_equal(near, [1, 1, 2, 3, 4, 5, 6])
    torch = pytest.importorskip("torch")
    for mode in ("linear", "nearest", "nearest-exact"):
        want = torch.nn.functional.interpolate(torch.tensor(x), scale_factor=1.1, mode=mode)
        got = F.interpolate(mg.tensor(x), scale_factor=1.1, mode=mode)
        np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_taps_tables():
    t = linear_taps(4, 8, None, False)  # x2 upsampling, half-pixel centres
    np.testing.assert_array_equal(t.i0, [0, 0, 0, 1, 1, 2, 2, 3])
    np.testing.assert_array_equal(t.i1, [1, 1, 1, 2, 2, 3, 3, 3])
    # the last position reads 3.25: both taps on pixel 3 (weights 0.75 + 0.25), as PyTorch
    np.testing.assert_allclose(t.w1, [0, 0.25, 0.75, 0.25, 0.75, 0.25, 0.75, 0.25])
    t = linear_taps(3, 5, None, True)  # corners aligned: 0, 0.5, 1, 1.5, 2
    np.testing.assert_array_equal(t.i0, [0, 0, 1, 1, 2])
    np.testing.assert_allclose(t.w1, [0, 0.5, 0, 0.5, 0])
    np.testing.assert_array_equal(nearest_taps(3, 7, None, False).i0, [0, 0, 0, 1, 1, 2, 2])
    # (o + 0.5) * 3 / 7 = 0.21, 0.64, 1.07, 1.5, 1.93, 2.36, 2.79
    np.testing.assert_array_equal(nearest_taps(3, 7, None, True).i0, [0, 0, 1, 1, 1, 2, 2])
    assert repr(nearest_taps(3, 7, None, True)) == "Taps(nearest-exact, 3 -> 7)"


@pytest.mark.parametrize("axis", [0, 1, 2, 3])
def test_resample_kernels_on_any_axis_and_layout(axis):
    """The kernel pair on every axis of a non-contiguous array, large enough for the parallel
    variant: forward against NumPy's gather, backward against the transpose by np.add.at."""
    x = RNG.standard_normal((6, 5, 40, 50)).transpose(0, 1, 3, 2)  # (6, 5, 50, 40), strided
    n = x.shape[axis]
    t = linear_taps(n, 2 * n + 1, None, False)
    w0, w1 = t.w0, t.w1
    y = K.resample_forward(x, axis, t.i0, t.i1, w0, w1)
    shape = [1] * 4
    shape[axis] = -1
    want = (np.take(x, t.i0, axis) * w0.reshape(shape) + np.take(x, t.i1, axis) * w1.reshape(shape))
    np.testing.assert_allclose(y, want, rtol=1e-13, atol=1e-13)
    gy = RNG.standard_normal(y.shape)
    gx = K.resample_backward(gy, axis, n, t.i0, t.i1, w0, w1)
    want = np.zeros(x.shape)
    moved, gmoved = np.moveaxis(want, axis, 0), np.moveaxis(gy, axis, 0)
    np.add.at(moved, t.i0, gmoved * w0.reshape(-1, 1, 1, 1))
    np.add.at(moved, t.i1, gmoved * w1.reshape(-1, 1, 1, 1))
    np.testing.assert_allclose(gx, want, rtol=1e-12, atol=1e-12)
    g1 = K.resample_backward(gy, axis, n, t.i0, None, None, None)
    want = np.zeros(x.shape)
    np.add.at(np.moveaxis(want, axis, 0), t.i0, gmoved)
    np.testing.assert_allclose(g1, want, rtol=1e-12, atol=1e-12)


def test_float32_stays_float32_and_large_inputs_match_torch():
    torch = pytest.importorskip("torch")
    x = RNG.standard_normal((4, 8, 33, 31)).astype(np.float32)
    for kw in (dict(scale_factor=2, mode="bilinear"), dict(size=(50, 17), mode="nearest"),
               dict(scale_factor=0.5, mode="bilinear", align_corners=True)):
        y = F.interpolate(mg.tensor(x), **kw)
        assert y.dtype == np.float32
        want = torch.nn.functional.interpolate(torch.tensor(x), **kw).numpy()
        np.testing.assert_allclose(y.numpy(), want, rtol=1e-5, atol=1e-6)


def test_infinities_propagate_like_torch():
    """A blend computes w0 * x0 + w1 * x1 even when a weight is 0, as PyTorch: an infinite
    neighbour with weight 0 gives NaN there (0 * inf), in both."""
    torch = pytest.importorskip("torch")
    x = np.array([[[1.0, np.inf, 3.0]]])
    for kw in (dict(size=6, mode="linear"), dict(size=3, mode="linear"),
               dict(size=7, mode="nearest")):
        got = F.interpolate(mg.tensor(x), **kw).numpy()
        want = torch.nn.functional.interpolate(torch.tensor(x), **kw).numpy()
        np.testing.assert_array_equal(got, want)


def test_upsample_modules_match_torch():
    torch = pytest.importorskip("torch")
    x = RNG.standard_normal((2, 3, 4, 5))
    pairs = [
        (nn.Upsample(scale_factor=2), torch.nn.Upsample(scale_factor=2)),
        (nn.Upsample(size=(7, 3), mode="bilinear", align_corners=True),
         torch.nn.Upsample(size=(7, 3), mode="bilinear", align_corners=True)),
        (nn.Upsample(scale_factor=(1.5, 0.5), mode="nearest-exact"),
         torch.nn.Upsample(scale_factor=(1.5, 0.5), mode="nearest-exact")),
        (nn.UpsamplingNearest2d(scale_factor=3), torch.nn.UpsamplingNearest2d(scale_factor=3)),
        (nn.UpsamplingBilinear2d(size=(6, 9)), torch.nn.UpsamplingBilinear2d(size=(6, 9))),
        (nn.Upsample(size=(2, 2), mode="area"), torch.nn.Upsample(size=(2, 2), mode="area")),
    ]
    for ours, theirs in pairs:
        assert repr(ours) == repr(theirs)
        _vs_torch(ours, theirs, x)
    _vs_torch(nn.Upsample(scale_factor=2.5, mode="linear"),
              torch.nn.Upsample(scale_factor=2.5, mode="linear"), x[:, :, 0])
    assert list(nn.Upsample(scale_factor=2).parameters()) == []


X4 = mg.tensor(np.zeros((1, 2, 4, 4)))
X3 = mg.tensor(np.zeros((1, 2, 4)))


@pytest.mark.parametrize("call, error, words", [
    (lambda: F.interpolate(mg.tensor(np.zeros((2, 4))), size=3), ValueError,
     ["interpolate", "(N, C, L)", "(2, 4)"]),
    (lambda: F.interpolate(mg.tensor(np.zeros((1, 1, 2, 2, 2))), size=3), ValueError,
     ["interpolate", "(1, 1, 2, 2, 2)", "not supported"]),
    (lambda: F.interpolate(X4, size=3, scale_factor=2), ValueError,
     ["interpolate", "exactly one of size and scale_factor"]),
    (lambda: F.interpolate(X4), ValueError, ["interpolate", "exactly one"]),
    (lambda: F.interpolate(X4, size=0), ValueError, ["interpolate", "size", ">= 1"]),
    (lambda: F.interpolate(X4, size=(3, -1)), ValueError, ["interpolate", "size"]),
    (lambda: F.interpolate(X4, size=(3, 3, 3)), ValueError, ["interpolate", "size", "3 values"]),
    (lambda: F.interpolate(X4, size=2.5), TypeError, ["interpolate", "size"]),
    (lambda: F.interpolate(X4, scale_factor=0), ValueError, ["interpolate", "scale_factor", "> 0"]),
    (lambda: F.interpolate(X4, scale_factor=-2.0), ValueError, ["scale_factor"]),
    (lambda: F.interpolate(X4, scale_factor=float("nan")), ValueError, ["scale_factor"]),
    (lambda: F.interpolate(X4, scale_factor=(2, 2, 2)), ValueError,
     ["interpolate", "scale_factor", "(1, 2, 4, 4)"]),
    (lambda: F.interpolate(X4, scale_factor="2"), TypeError, ["scale_factor"]),
    (lambda: F.interpolate(X4, scale_factor=0.1), ValueError,
     ["interpolate", "empty", "(1, 2, 4, 4)"]),
    (lambda: F.interpolate(X4, size=3, recompute_scale_factor=True), ValueError,
     ["recompute_scale_factor"]),
    (lambda: F.interpolate(X4, size=3, mode="linear"), ValueError,
     ["interpolate", "linear", "3-D", "(1, 2, 4, 4)"]),
    (lambda: F.interpolate(X3, size=3, mode="bilinear"), ValueError,
     ["interpolate", "bilinear", "4-D", "(1, 2, 4)"]),
    (lambda: F.interpolate(X4, size=3, mode="bicubic"), ValueError, ["bicubic", "not supported"]),
    (lambda: F.interpolate(X4, size=3, mode="cubic"), ValueError, ["mode", "cubic"]),
    (lambda: F.interpolate(X4, size=3, align_corners=True), ValueError,
     ["align_corners", "nearest"]),
    (lambda: F.interpolate(X4, size=3, mode="bilinear", antialias=True), ValueError,
     ["antialias"]),
    (lambda: F.interpolate(np.zeros((1, 1, 4, 4)), size=3), TypeError, ["interpolate", "Tensor"]),
    (lambda: F.interpolate(mg.tensor(np.zeros((1, 1, 4, 4), dtype=np.int64)), size=3),
     TypeError, ["interpolate", "float32 or float64"]),
    (lambda: F.interpolate(mg.tensor(np.zeros((1, 1, 0, 4))), size=3), ValueError,
     ["interpolate", "empty", "(1, 1, 0, 4)"]),
    (lambda: nn.Upsample(), ValueError, ["Upsample", "exactly one"]),
    (lambda: nn.Upsample(size=2, scale_factor=2), ValueError, ["Upsample", "exactly one"]),
    (lambda: nn.Upsample(size=0), ValueError, ["Upsample", "size"]),
    (lambda: nn.Upsample(scale_factor=-1), ValueError, ["Upsample", "scale_factor"]),
    (lambda: nn.Upsample(scale_factor=2, mode="trilinear"), ValueError, ["Upsample", "mode"]),
    (lambda: nn.Upsample(scale_factor=2, align_corners=True), ValueError,
     ["Upsample", "align_corners"]),
])
def test_bad_input_raises_clearly(call, error, words):
    with pytest.raises(error) as info:
        call()
    for w in words:
        assert w in str(info.value), (w, str(info.value))


# -- pixel shuffle ---------------------------------------------------------------------------


@given(st.integers(1, 3), st.lists(st.integers(1, 2), max_size=2), st.integers(1, 2),
       st.integers(1, 3), st.integers(1, 3))
def test_pixel_shuffle_matches_torch_and_round_trips(r, lead, c, h, w):
    torch = pytest.importorskip("torch")
    x = RNG.standard_normal((*lead, c * r * r, h, w))
    _vs_torch(lambda t: F.pixel_shuffle(t, r), lambda t: torch.nn.functional.pixel_shuffle(t, r),
              x)
    up = F.pixel_shuffle(mg.tensor(x), r)
    _vs_torch(lambda t: F.pixel_unshuffle(t, r),
              lambda t: torch.nn.functional.pixel_unshuffle(t, r), up.numpy())
    np.testing.assert_array_equal(F.pixel_unshuffle(up, r).numpy(), x)


def test_pixel_shuffle_modules():
    torch = pytest.importorskip("torch")
    assert repr(nn.PixelShuffle(3)) == repr(torch.nn.PixelShuffle(3))
    assert repr(nn.PixelUnshuffle(2)) == repr(torch.nn.PixelUnshuffle(2))
    x = RNG.standard_normal((2, 9, 2, 3))
    _vs_torch(nn.PixelShuffle(3), torch.nn.PixelShuffle(3), x)
    _vs_torch(nn.PixelUnshuffle(2), torch.nn.PixelUnshuffle(2), RNG.standard_normal((2, 1, 4, 6)))


@pytest.mark.parametrize("call, error, words", [
    (lambda: F.pixel_shuffle(mg.tensor(np.zeros((1, 5, 2, 2))), 2), ValueError,
     ["pixel_shuffle", "5", "divisible", "4"]),
    (lambda: F.pixel_shuffle(mg.tensor(np.zeros((4, 2))), 2), ValueError,
     ["pixel_shuffle", "(4, 2)"]),
    (lambda: F.pixel_shuffle(mg.tensor(np.zeros((1, 4, 2, 2))), 0), ValueError,
     ["pixel_shuffle", "upscale_factor"]),
    (lambda: F.pixel_unshuffle(mg.tensor(np.zeros((1, 1, 3, 4))), 2), ValueError,
     ["pixel_unshuffle", "(1, 1, 3, 4)", "divisible"]),
    (lambda: nn.PixelShuffle(1.5), TypeError, ["PixelShuffle", "upscale_factor"]),
])
def test_pixel_shuffle_bad_input(call, error, words):
    with pytest.raises(error) as info:
        call()
    for w in words:
        assert w in str(info.value), (w, str(info.value))
