"""LayerNorm, GroupNorm, InstanceNorm1d/2d, RMSNorm and BatchNorm1d on (N, C, L): the fused
kernels against slow NumPy loops, the fused backward against the composed one, the layers
against PyTorch with copied weights (forward and every gradient, float64), bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
import minigrad.nn as nn
from minigrad.ops import normalization as N
from minigrad.ops.kernels.cpu import norm as KL

RNG = np.random.default_rng(0)


# -- slow references: loops over rows, Python sums ---------------------------------------------


def loop_layer_norm(x, w, b, eps):
    """x: (M, D): each row by a Python loop, statistics with math.fsum."""
    import math

    m, d = x.shape
    y = np.empty((m, d))
    means, rstds = np.empty(m), np.empty(m)
    for i in range(m):
        row = [float(v) for v in x[i]]
        mu = math.fsum(row) / d
        var = math.fsum((v - mu) ** 2 for v in row) / d
        r = 1 / math.sqrt(var + eps)
        y[i] = [(v - mu) * r * w[j] + b[j] for j, v in enumerate(row)]
        means[i], rstds[i] = mu, r
    return y, means, rstds


def loop_layer_norm_backward(g, x, w, eps):
    """Gradients of sum(g * layer_norm(x)) by the chain rule written per row, in float64."""
    m, d = x.shape
    _, mean, rstd = loop_layer_norm(x, w, np.zeros(d), eps)
    gx = np.empty((m, d))
    gw, gb = np.zeros(d), np.zeros(d)
    for i in range(m):
        xhat = (x[i].astype(np.float64) - mean[i]) * rstd[i]
        gh = g[i] * w
        gx[i] = rstd[i] * (gh - gh.mean() - xhat * (gh * xhat).mean())
        gw += g[i] * xhat
        gb += g[i]
    return gx, gw, gb


def loop_group_norm(x, groups, w, b, eps):
    """x: (N, C, S): each (sample, group) by a loop."""
    n, c, s = x.shape
    per = c // groups
    y = np.empty(x.shape)
    for i in range(n):
        for grp in range(groups):
            block = x[i, grp * per:(grp + 1) * per].astype(np.float64)
            mu = block.sum() / block.size
            var = ((block - mu) ** 2).sum() / block.size
            for k in range(per):
                ch = grp * per + k
                y[i, ch] = (x[i, ch] - mu) / np.sqrt(var + eps) * w[ch] + b[ch]
    return y


# -- kernels against the loops -----------------------------------------------------------------


@st.composite
def ln_cases(draw):
    m, d = draw(st.integers(1, 6)), draw(st.integers(1, 40))
    rng = np.random.default_rng(draw(st.integers(0, 999)))
    scale = draw(st.sampled_from([1e-2, 1.0, 30.0]))
    shift = draw(st.sampled_from([0.0, 5.0, -1e3]))
    x = rng.standard_normal((m, d)) * scale + shift
    return x, rng.standard_normal(d), rng.standard_normal(d), rng.standard_normal((m, d))


@given(ln_cases(), st.sampled_from([np.float32, np.float64]))
def test_layer_norm_kernel_matches_loops(case, dtype):
    x, w, b, g = case
    xd = x.astype(dtype)
    y, mean, rstd = KL.layer_norm_forward(xd, w.astype(dtype), b.astype(dtype), 1e-5)
    ry, rmean, rrstd = loop_layer_norm(xd, w.astype(dtype), b.astype(dtype), 1e-5)
    assert y.dtype == dtype and mean.dtype == rstd.dtype == np.float64
    np.testing.assert_allclose(mean, rmean, rtol=1e-12, atol=1e-12 * abs(x).max())
    np.testing.assert_allclose(rstd, rrstd, rtol=1e-9)
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(y, ry, **tol)
    gx, gw, gb = KL.layer_norm_backward(g.astype(dtype), xd, mean, rstd, w.astype(dtype), dtype)
    rgx, rgw, rgb = loop_layer_norm_backward(g.astype(dtype), xd, w.astype(dtype), 1e-5)
    assert gx.dtype == gw.dtype == gb.dtype == dtype
    scale = np.abs(rgx).max() + 1
    np.testing.assert_allclose(gx, rgx, rtol=1e-3 if dtype == np.float32 else 1e-8,
                               atol=(1e-4 if dtype == np.float32 else 1e-9) * scale)
    np.testing.assert_allclose(gw, rgw, **tol)
    np.testing.assert_allclose(gb, rgb, **tol)


def test_layer_norm_float32_large_mean_keeps_its_precision():
    """|mean| >> std: the float64 statistics and the mean split in two float32 parts keep the
    float32 output exact to float32 rounding (a float32 one-pass variance would be all
    cancellation, and x - float32(mean) is off by up to 3e-3 standard deviations here)."""
    x = (1e3 + np.random.default_rng(1).standard_normal((4, 256)) * 1e-2).astype(np.float32)
    y, _, _ = KL.layer_norm_forward(x, None, None, 1e-12)
    ref, _, _ = loop_layer_norm(x, np.ones(256), np.zeros(256), 1e-12)
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)


def test_group_norm_float32_large_mean_keeps_its_precision():
    x = (1e3 + np.random.default_rng(2).standard_normal((2, 6, 50)) * 1e-2).astype(np.float32)
    y, _, _ = KL.group_norm_forward(x, 3, None, None, 1e-12)
    ref = loop_group_norm(x.astype(np.float64), 3, np.ones(6), np.zeros(6), 1e-12)
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)


def test_layer_norm_kernel_parallel_path_and_chunked_parameter_sums():
    """Above PARALLEL_MIN_SIZE the parallel variant runs; the parameter gradients come from
    row-chunk partial sums, which must add up to the plain column sums."""
    x = RNG.standard_normal((300, 130)) * 2 + 1
    w, b, g = RNG.standard_normal(130), RNG.standard_normal(130), RNG.standard_normal(x.shape)
    y, mean, rstd = KL.layer_norm_forward(x, w, b, 1e-5)
    np.testing.assert_allclose(y, loop_layer_norm(x, w, b, 1e-5)[0], rtol=1e-10, atol=1e-10)
    gx, gw, gb = KL.layer_norm_backward(g, x, mean, rstd, w, np.float64)
    for ours, ref in zip((gx, gw, gb), loop_layer_norm_backward(g, x, w, 1e-5)):
        np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-9)


@given(st.integers(1, 3), st.sampled_from([(1, 1), (2, 3), (3, 2), (4, 1)]),
       st.sampled_from([1, 5, 12]), st.sampled_from([np.float32, np.float64]))
def test_group_norm_kernel_matches_loops(n, groups_per, s, dtype):
    groups, per = groups_per
    c = groups * per
    x = (RNG.standard_normal((n, c, s)) * 3 + 2).astype(dtype)
    w, b = RNG.standard_normal(c).astype(dtype), RNG.standard_normal(c).astype(dtype)
    y, mean, rstd = KL.group_norm_forward(x, groups, w, b, 1e-5)
    assert mean.shape == rstd.shape == (n, groups)
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(y, loop_group_norm(x, groups, w, b, 1e-5), **tol)
    # backward: a group is a layer-norm row whose weight repeats each channel's weight s times
    g = RNG.standard_normal(x.shape).astype(dtype)
    gx, gw, gb = KL.group_norm_backward(g, x, groups, mean, rstd, w, dtype)
    rows = (n * groups, per * s)
    wrow = np.repeat(w.reshape(groups, per), s, axis=1)
    rgx = np.concatenate([loop_layer_norm_backward(
        g.reshape(rows)[r:r + 1], x.reshape(rows)[r:r + 1], wrow[r % groups], 1e-5)[0]
        for r in range(rows[0])])
    scale = np.abs(rgx).max() + 1
    np.testing.assert_allclose(gx.reshape(rows), rgx, rtol=1e-3 if dtype == np.float32 else 1e-8,
                               atol=(1e-4 if dtype == np.float32 else 1e-9) * scale)
    xhat = (x.reshape(n, groups, -1) - mean[..., None]) * rstd[..., None]
    np.testing.assert_allclose(gw, (g * xhat.reshape(x.shape)).sum(axis=(0, 2)), **tol)
    np.testing.assert_allclose(gb, g.sum(axis=(0, 2)), **tol)


@pytest.mark.parametrize("which", ["layer", "group"])
def test_fused_and_composed_backward_agree(which):
    """The plain backward (one kernel) and the create_graph one (Tensor ops) give equal values."""
    x = RNG.standard_normal((4, 6, 5)) * 2 + 1
    w, b, g = RNG.standard_normal(6), RNG.standard_normal(6), RNG.standard_normal((4, 6, 5))
    if which == "layer":
        w, b = RNG.standard_normal((6, 5)), RNG.standard_normal((6, 5))
    grads = []
    for create_graph in (False, True):
        xt, wt, bt = (mg.tensor(a, requires_grad=True) for a in (x, w, b))
        y = (N.layer_norm(xt, (6, 5), wt, bt) if which == "layer"
             else N.group_norm(xt, 3, wt, bt))
        grads.append(mg.grad((y * mg.tensor(g)).sum(), [xt, wt, bt], create_graph=create_graph))
    for fused, composed in zip(*grads):
        np.testing.assert_allclose(fused.numpy(), composed.numpy(), rtol=1e-10, atol=1e-12)


def test_layer_norm_op_on_non_contiguous_input_and_without_weight():
    x = RNG.standard_normal((5, 4, 3)).transpose(2, 0, 1)  # (3, 5, 4), not C-contiguous
    xt = mg.tensor(x, requires_grad=True)
    b = mg.tensor(RNG.standard_normal(4), requires_grad=True)
    y = N.layer_norm(xt.transpose(0, 1), 4, None, b)  # bias without weight
    ref = loop_layer_norm(np.ascontiguousarray(x.transpose(1, 0, 2)).reshape(-1, 4),
                          np.ones(4), b.numpy(), 1e-5)[0]
    np.testing.assert_allclose(y.numpy().reshape(-1, 4), ref, rtol=1e-10)
    y.sum().backward()
    np.testing.assert_allclose(b.grad.numpy(), np.full(4, 15.0))
    np.testing.assert_allclose(xt.grad.numpy(), 0, atol=1e-12)  # sum of a normalised row


# -- layers against PyTorch --------------------------------------------------------------------


def _torch():
    return pytest.importorskip("torch")


def _copy_params(ours, theirs):
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})


def _compare_with_torch(ours, theirs, x, tol=1e-10):
    """Forward and the gradients of input and every parameter, float64."""
    torch = _torch()
    g = RNG.standard_normal(x.shape)
    xm = mg.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    y, yt = ours(xm), theirs(xt)
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), rtol=tol, atol=tol)
    (y * mg.tensor(g)).sum().backward()
    (yt * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(xm.grad.numpy(), xt.grad.numpy(), rtol=tol, atol=tol)
    ps, pts = dict(ours.named_parameters()), dict(theirs.named_parameters())
    assert ps.keys() == pts.keys()
    for k in ps:
        np.testing.assert_allclose(ps[k].grad.numpy(), pts[k].grad.numpy(), rtol=tol, atol=tol,
                                   err_msg=k)
    for k, buf in theirs.named_buffers():
        np.testing.assert_allclose(dict(ours.named_buffers())[k].numpy(), buf.numpy(),
                                   rtol=tol, atol=tol, err_msg=k)


def _randomize(module):
    for p in module.parameters():
        p.data[...] = RNG.standard_normal(p.shape)


@pytest.mark.parametrize("shape, normalized, kw", [
    ((4, 7), 7, {}),
    ((2, 3, 8), (8,), {}),
    ((2, 3, 4, 5), (4, 5), {}),
    ((3, 6), 6, {"elementwise_affine": False}),
    ((3, 6), 6, {"bias": False, "eps": 1e-3}),
])
def test_layer_norm_layer_matches_torch(shape, normalized, kw):
    torch = _torch()
    theirs = torch.nn.LayerNorm(normalized, **kw).double()
    ours = nn.LayerNorm(normalized, **kw).double()
    _randomize(ours)
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    _compare_with_torch(ours, theirs, RNG.standard_normal(shape) * 2 + 1)
    assert repr(ours) == repr(theirs)


@pytest.mark.parametrize("shape, groups, affine, bias", [
    ((4, 6), 3, True, True), ((2, 6, 5), 2, True, False), ((2, 4, 3, 3), 4, False, True),
    ((3, 4, 2, 2), 1, True, True)])
def test_group_norm_layer_matches_torch(shape, groups, affine, bias):
    torch = _torch()
    theirs = torch.nn.GroupNorm(groups, shape[1], affine=affine, bias=bias).double()
    ours = nn.GroupNorm(groups, shape[1], affine=affine, bias=bias).double()
    _randomize(ours)
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    _compare_with_torch(ours, theirs, RNG.standard_normal(shape) * 2 - 1)
    assert repr(ours) == repr(theirs)


@pytest.mark.parametrize("cls, shape", [("InstanceNorm1d", (3, 4, 6)),
                                        ("InstanceNorm1d", (4, 6)),
                                        ("InstanceNorm2d", (2, 4, 3, 5)),
                                        ("InstanceNorm2d", (4, 3, 5))])
@pytest.mark.parametrize("affine, track, bias", [(False, False, True), (True, False, True),
                                                 (True, True, True), (False, True, True),
                                                 (True, False, False)])
def test_instance_norm_layers_match_torch(cls, shape, affine, track, bias):
    torch = _torch()
    kw = dict(affine=affine, track_running_stats=track, momentum=0.3, bias=bias)
    theirs = getattr(torch.nn, cls)(4, **kw).double()
    ours = getattr(nn, cls)(4, **kw).double()
    _randomize(ours)
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    for _ in range(3):  # running statistics accumulate
        _compare_with_torch(ours, theirs, RNG.standard_normal(shape) * 3 + 1)
        for m in (ours, theirs):
            m.zero_grad()
    ours.eval()
    theirs.eval()
    _compare_with_torch(ours, theirs, RNG.standard_normal(shape))
    assert repr(ours) == repr(theirs)


@pytest.mark.parametrize("shape, normalized, kw", [
    ((4, 7), 7, {}), ((2, 3, 4), (3, 4), {"eps": 1e-3}),
    ((3, 5), 5, {"elementwise_affine": False})])
def test_rms_norm_layer_matches_torch(shape, normalized, kw):
    torch = _torch()
    theirs = torch.nn.RMSNorm(normalized, **kw).double()
    ours = nn.RMSNorm(normalized, **kw).double()
    _randomize(ours)
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    _compare_with_torch(ours, theirs, RNG.standard_normal(shape))
    assert repr(ours) == repr(theirs)


@pytest.mark.parametrize("bias", [True, False])
def test_batch_norm_1d_on_sequences_matches_torch(bias):
    torch = _torch()
    theirs = torch.nn.BatchNorm1d(5, momentum=0.2, bias=bias).double()
    ours = nn.BatchNorm1d(5, momentum=0.2, bias=bias).double()
    _randomize(ours)
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    for _ in range(3):
        _compare_with_torch(ours, theirs, RNG.standard_normal((4, 5, 9)) * 2 + 3)
        for m in (ours, theirs):
            m.zero_grad()
    ours.eval()
    theirs.eval()
    _compare_with_torch(ours, theirs, RNG.standard_normal((4, 5, 9)))
    assert repr(ours) == repr(theirs)


def test_second_order_matches_torch():
    """create_graph through layer norm and group norm: the Hessian-vector products agree."""
    torch = _torch()
    x = RNG.standard_normal((3, 4, 5))
    w, g = RNG.standard_normal(4), RNG.standard_normal((3, 4, 5))
    for name in ("layer", "group"):
        xm, wm = mg.tensor(x, requires_grad=True), mg.tensor(w, requires_grad=True)
        xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
        if name == "layer":
            y = N.layer_norm(xm.transpose(1, 2), 4, wm)
            yt = torch.nn.functional.layer_norm(xt.transpose(1, 2), (4,), wt)
            gm, gt = mg.tensor(g.transpose(0, 2, 1)), torch.tensor(g.transpose(0, 2, 1))
        else:
            y = N.group_norm(xm, 2, wm)
            yt = torch.nn.functional.group_norm(xt, 2, wt)
            gm, gt = mg.tensor(g), torch.tensor(g)
        dx, dw = mg.grad((y * gm).sum(), [xm, wm], create_graph=True)
        dxt, dwt = torch.autograd.grad((yt * gt).sum(), [xt, wt], create_graph=True)
        h = mg.grad((dx * dx).sum() + (dw * dw).sum(), [xm, wm])
        ht = torch.autograd.grad((dxt * dxt).sum() + (dwt * dwt).sum(), [xt, wt])
        for a, b in zip(h, ht):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-9, atol=1e-10)


def test_layers_train_in_float32_and_keep_parameter_dtype():
    for layer, x in ((nn.LayerNorm(6), mg.randn(3, 6)), (nn.GroupNorm(2, 4), mg.randn(2, 4, 3)),
                     (nn.RMSNorm(6), mg.randn(3, 6)),
                     (nn.InstanceNorm1d(4, affine=True), mg.randn(2, 4, 5))):
        y = layer(x)
        assert y.dtype == np.float32
        y.sum().backward()
        assert all(p.grad.dtype == np.float32 for p in layer.parameters())


# -- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize("call, error, match", [
    (lambda: N.layer_norm(mg.randn(2, 3), 4), ValueError, r"normalized_shape=\[4\].*\(2, 3\)"),
    (lambda: N.layer_norm(mg.randn(2, 3), (2, 3, 3)), ValueError, "expected input with shape"),
    (lambda: N.layer_norm(mg.randn(2, 3), 3.0), TypeError, "normalized_shape must be an int"),
    (lambda: N.layer_norm(mg.randn(2, 3), 3, mg.randn(4)), ValueError,
     r"weight must have shape \(3,\)"),
    (lambda: N.layer_norm(mg.randn(2, 3), 3, mg.randn(3).double()), TypeError, "weight dtype"),
    (lambda: N.layer_norm(mg.randn(2, 3), 3, eps=0), ValueError, "eps must be > 0"),
    (lambda: N.layer_norm(mg.tensor([[1, 2]]), 2), TypeError, "float32 or float64"),
    (lambda: N.group_norm(mg.randn(2, 6, 3), 4), ValueError, "divisible by num_groups=4"),
    (lambda: N.group_norm(mg.randn(6), 2), ValueError, r"\(N, C\)"),
    (lambda: N.group_norm(mg.randn(2, 6), 0), ValueError, "num_groups must be >= 1"),
    (lambda: N.group_norm(mg.randn(2, 6), 3, mg.randn(3)), ValueError, r"shape \(6,\)"),
    (lambda: N.instance_norm(mg.randn(2, 3)), ValueError, "at least one spatial axis"),
    (lambda: N.instance_norm(mg.randn(2, 3, 1)), ValueError, "more than 1 spatial element"),
    (lambda: N.instance_norm(mg.randn(2, 3, 4), use_input_stats=False), ValueError,
     "running_mean and running_var are required"),
    (lambda: N.rms_norm(mg.randn(2, 3), 2), ValueError, "normalized_shape"),
    (lambda: nn.LayerNorm(()), ValueError, "must not be empty"),
    (lambda: nn.GroupNorm(4, 6), ValueError, "num_channels \\(6\\) must be divisible"),
    (lambda: nn.LayerNorm(4)(mg.randn(2, 4).double()), TypeError, "LayerNorm: input dtype"),
    (lambda: nn.GroupNorm(2, 4)(mg.randn(2, 6)), ValueError, "GroupNorm: expected input"),
    (lambda: nn.InstanceNorm2d(3)(mg.randn(2, 3)), ValueError, r"InstanceNorm2d: expected input"),
    (lambda: nn.InstanceNorm1d(3, affine=True)(mg.randn(2, 4, 5)), ValueError,
     "num_features \\(3\\)"),
])
def test_bad_input_raises_clearly(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_failed_calls_leave_parameters_and_statistics_untouched():
    layer = nn.InstanceNorm1d(3, affine=True, track_running_stats=True)
    layer.running_mean.data[...] = [1, 2, 3]
    before = {k: v.numpy().copy() for k, v in layer.state_dict().items()}
    for bad in (mg.randn(2, 3, 5).double(), mg.randn(2, 4, 5), mg.randn(2, 3, 1)):
        with pytest.raises((TypeError, ValueError)):
            layer(bad)
    for k, v in layer.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k], err_msg=k)


def test_instance_norm_without_affine_warns_on_channel_mismatch_like_torch():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        y = nn.InstanceNorm1d(3)(mg.randn(2, 4, 5))
    assert y.shape == (2, 4, 5)
    assert any("num_features (3)" in str(w.message) for w in caught)
