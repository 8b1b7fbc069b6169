"""Fused layer + ReLU (minigrad.ops.fused) and nn.Sequential's choice of it: the fused path must
give the unfused composition's outputs and gradients bit for bit, and must not be taken where a
hook, a device or a dtype could tell the difference. (Gradchecks and forward references of the
fused ops themselves run from the registry, opinfo/fused.py.)"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad.autograd.graph import nodes
from minigrad.nn.models import LeNet5
from minigrad.ops.fused import conv2d_relu, conv2d_relu_max_pool2d, linear_relu

FUSED = {"Conv2dRelu", "Conv2dReluMaxPool2d", "LinearRelu"}


def _names(y: mg.Tensor) -> set[str]:
    return {n.display_name() for n in nodes(y)}


def _net(dtype=np.float32) -> nn.Sequential:
    mg.manual_seed(0)
    net = nn.Sequential(OrderedDict([
        ("conv1", nn.Conv2d(2, 4, 3, padding=1)), ("act1", nn.ReLU()), ("pool", nn.MaxPool2d(2)),
        ("conv2", nn.Conv2d(4, 6, 3, stride=2, bias=False)), ("act2", nn.ReLU()),
        ("flat", nn.Flatten()),
        ("fc1", nn.Linear(6 * 2 * 2, 8)), ("act3", nn.ReLU()),
        ("fc2", nn.Linear(8, 5, bias=False)), ("act4", nn.ReLU()),
        ("fc3", nn.Linear(5, 3)),
    ]))
    return net.to(dtype) if dtype != np.float32 else net


def _run(net: nn.Module, x: np.ndarray, fuse: bool) -> tuple[np.ndarray, np.ndarray, dict,
                                                            set[str]]:
    """Output, input gradient, parameter gradients and node names of one forward/backward."""
    net.zero_grad()
    xt = mg.tensor(x, requires_grad=True)
    with nn.utils.fusion(fuse):
        y = net(xt)
    names = _names(y)
    g = np.random.default_rng(1).standard_normal(y.shape).astype(x.dtype)
    (y * mg.tensor(g)).sum().backward()
    grads = {k: p.grad.numpy().copy() for k, p in net.named_parameters()}
    return y.numpy().copy(), xt.grad.numpy().copy(), grads, names


def _assert_same(a, b) -> None:
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert a[2].keys() == b[2].keys()
    for k in a[2]:
        np.testing.assert_array_equal(a[2][k], b[2][k], err_msg=k)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sequential_fused_equals_unfused_bit_for_bit(dtype):
    net = _net(dtype)
    x = np.random.default_rng(0).standard_normal((3, 2, 10, 10)).astype(dtype)
    fused, plain = _run(net, x, True), _run(net, x, False)
    assert FUSED <= fused[3] and not {"Conv2d", "Activation", "MaxPool2d"} & fused[3]
    assert not FUSED & plain[3]
    _assert_same(fused, plain)


def test_lenet5_step_fused_equals_unfused():
    mg.manual_seed(0)
    net = LeNet5()
    x = np.random.default_rng(0).standard_normal((4, 1, 32, 32)).astype(np.float32)
    fused, plain = _run(net, x, True), _run(net, x, False)
    assert fused[3] >= {"Conv2dReluMaxPool2d", "LinearRelu"}
    _assert_same(fused, plain)


def test_alexnet_step_fused_equals_unfused():
    """AlexNet's features: 3x3 stride-2 max-pools (the pool kernel after an in-place ReLU),
    grouped convs, a conv -> ReLU without a pool; dropout drawn from one seed in both runs."""
    from minigrad.nn.models import AlexNet

    mg.manual_seed(0)
    net = AlexNet(10, width=0.25, image_size=32)
    x = np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32)
    mg.manual_seed(5)
    fused = _run(net, x, True)
    mg.manual_seed(5)
    plain = _run(net, x, False)
    assert {"Conv2dReluMaxPool2d", "Conv2dRelu", "LinearRelu"} <= fused[3]
    _assert_same(fused, plain)


def test_relu_edge_values_match_unfused():
    """Exact zeros (relu'(0) = 0), -0.0, NaN and inf through the fused ops and the unfused."""
    x = np.array([[[[0.0, -0.0, np.nan, np.inf, -np.inf, 1.0, -1.0, 2.0, 0.5]]]], np.float32)
    w = np.ones((2, 1, 1, 1), np.float32)
    w[1] = -1
    for fn, ref in ((lambda x, w: conv2d_relu(x, w), lambda x, w: F.relu(F.conv2d(x, w))),
                    (lambda x, w: linear_relu(x.reshape(9, 1), w.reshape(2, 1)),
                     lambda x, w: F.relu(F.linear(x.reshape(9, 1), w.reshape(2, 1))))):
        outs, grads = [], []
        for f in (fn, ref):
            xt = mg.tensor(x, requires_grad=True)
            wt = mg.tensor(w, requires_grad=True)
            y = f(xt, wt)
            y.backward(mg.ones(y.shape))
            outs.append(y.numpy())
            grads.append((xt.grad.numpy(), wt.grad.numpy()))
        np.testing.assert_array_equal(outs[0], outs[1])
        assert np.signbit(outs[0]).sum() == np.signbit(outs[1]).sum()  # -0.0 became +0.0 alike
        for a, b in zip(grads[0], grads[1]):
            np.testing.assert_array_equal(a, b)


def _conv_relu_pool(*a, **k):
    return F.max_pool2d(F.relu(F.conv2d(*a, **k)), 2)


@pytest.mark.parametrize("fused,plain", [
    (conv2d_relu, lambda *a, **k: F.relu(F.conv2d(*a, **k))),
    (lambda *a, **k: conv2d_relu_max_pool2d(*a, **k, pool_kernel_size=2), _conv_relu_pool),
], ids=["conv2d_relu", "conv2d_relu_max_pool2d"])
def test_second_derivative_matches_unfused(fused, plain):
    rng = np.random.default_rng(2)
    x0 = rng.standard_normal((2, 3, 6, 6))
    w0 = rng.standard_normal((4, 3, 3, 3))
    b0 = rng.standard_normal(4)
    res = []
    for f in (fused, plain):
        x, w, b = (mg.tensor(a, requires_grad=True) for a in (x0, w0, b0))
        y = f(x, w, b, padding=1)
        (gx,) = mg.autograd.grad((y * y).sum(), [x], create_graph=True)
        (gw,) = mg.autograd.grad((gx * gx).sum(), [w])
        res.append(gw.numpy())
    np.testing.assert_allclose(res[0], res[1], rtol=1e-12, atol=1e-12)


def _hook_cases():
    def fwd(mod):
        return mod.register_forward_hook(lambda m, i, o: None)

    def pre(mod):
        return mod.register_forward_pre_hook(lambda m, i: None)

    def bwd(mod):
        return mod.register_full_backward_hook(lambda m, gi, go: None)

    return [("conv1", fwd), ("act1", fwd), ("conv1", pre), ("act1", pre), ("conv1", bwd),
            ("act1", bwd), ("pool", fwd), ("pool", pre), ("pool", bwd)]


@pytest.mark.parametrize("where,hook", _hook_cases(),
                         ids=[f"{w}-{h.__name__}" for w, h in _hook_cases()])
def test_a_hook_turns_fusion_off_for_its_pair(where, hook):
    net = _net()
    handle = hook(getattr(net, where))
    x = mg.tensor(np.random.default_rng(0).standard_normal((2, 2, 10, 10)).astype(np.float32))
    names = _names(net(x))
    if where == "pool":  # conv1 + act1 still fuse, without the pool
        assert {"Conv2dRelu", "MaxPool2d"} <= names and "Conv2dReluMaxPool2d" not in names
    else:
        assert {"Conv2d", "MaxPool2d"} <= names  # conv1 + act1 + pool ran unfused ...
    assert "LinearRelu" in names  # ... the other pairs still fuse
    handle.remove()
    assert "Conv2dReluMaxPool2d" in _names(net(x))


def test_forward_hook_sees_the_conv_output():
    net = _net()
    seen = []
    net.conv1.register_forward_hook(lambda m, i, o: seen.append(o.numpy().copy()))
    x = np.random.default_rng(0).standard_normal((2, 2, 10, 10)).astype(np.float32)
    net(mg.tensor(x))
    np.testing.assert_array_equal(seen[0], F.conv2d(mg.tensor(x), net.conv1.weight,
                                                    net.conv1.bias, padding=1).numpy())
    assert (seen[0] < 0).any()  # the pre-activation, not the ReLU output


def test_switches_turn_fusion_off():
    net = _net()
    x = mg.tensor(np.random.default_rng(0).standard_normal((2, 2, 10, 10)).astype(np.float32))
    assert FUSED <= _names(net(x))
    with nn.utils.fusion(False):
        assert not nn.utils.fusion_enabled()
        assert not FUSED & _names(net(x))
    assert nn.utils.fusion_enabled() and FUSED <= _names(net(x))
    net.fuse = False
    assert not FUSED & _names(net(x))


def test_no_fusion_where_it_would_differ():
    # input dtype other than the parameters' (unfused: promotes / raises as the layers do)
    net = _net()
    x64 = mg.tensor(np.ones((1, 8)))
    lin = nn.Sequential(nn.Linear(8, 4), nn.ReLU())
    with pytest.raises((TypeError, ValueError)) as fused_err:
        lin(x64)
    with nn.utils.fusion(False), pytest.raises((TypeError, ValueError)) as plain_err:
        lin(x64)
    assert str(fused_err.value) == str(plain_err.value)
    # a non-zeros padding mode, a subclass, and a Conv1d run unfused
    for seq, x in ((nn.Sequential(nn.Conv2d(2, 3, 3, padding=1, padding_mode="reflect"),
                                  nn.ReLU()), np.ones((1, 2, 5, 5), np.float32)),
                   (nn.Sequential(type("MyConv", (nn.Conv2d,), {})(2, 3, 3), nn.ReLU()),
                    np.ones((1, 2, 5, 5), np.float32)),
                   (nn.Sequential(nn.Conv1d(2, 3, 3), nn.ReLU()), np.ones((1, 2, 5), np.float32)),
                   (nn.Sequential(nn.Linear(4, 3), nn.ReLU6()), np.ones((2, 4), np.float32))):
        assert not FUSED & _names(seq(mg.tensor(x, requires_grad=True)))
    # a max-pool returning its indices stays a module of its own
    seq = nn.Sequential(nn.Conv2d(2, 3, 3), nn.ReLU(), nn.MaxPool2d(2, return_indices=True))
    out = seq(mg.tensor(np.ones((1, 2, 6, 6), np.float32), requires_grad=True))
    assert isinstance(out, tuple) and {"Conv2dRelu", "MaxPool2d"} <= _names(out[0])
    # the layer's own input check still speaks for a fused pair
    with pytest.raises(ValueError, match="Conv2d: expected input"):
        net(mg.tensor(np.ones((1, 3, 10, 10), np.float32)))


def test_unbatched_and_batched_linear_inputs():
    mg.manual_seed(0)
    seq = nn.Sequential(nn.Linear(4, 3), nn.ReLU())
    for shape in ((4,), (5, 4), (2, 3, 4)):
        x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
        fused, plain = _run(seq, x, True), _run(seq, x, False)
        assert "LinearRelu" in fused[3]
        assert fused[0].shape == (*shape[:-1], 3)
        _assert_same(fused, plain)


def test_fused_ops_check_their_arguments():
    x = mg.tensor(np.ones((1, 2, 5, 5), np.float32))
    with pytest.raises(ValueError, match="conv2d_relu: input"):
        conv2d_relu(x, mg.tensor(np.ones((3, 3, 3, 3), np.float32)))
    with pytest.raises(ValueError, match="conv2d_relu: bias"):
        conv2d_relu(x, mg.tensor(np.ones((3, 2, 3, 3), np.float32)), mg.tensor(np.ones(2)))
    with pytest.raises(ValueError, match="linear_relu: input of shape"):
        linear_relu(mg.tensor(np.ones((2, 3))), mg.tensor(np.ones((4, 5))))
    with pytest.raises(ValueError, match="linear_relu: bias of shape"):
        linear_relu(mg.tensor(np.ones((2, 5))), mg.tensor(np.ones((4, 5))), mg.tensor(np.ones(3)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kernels_equal_the_relu_kernel(dtype):
    """The in-place post-op passes against the activation kernel, on the values where ReLU
    conventions show: -0.0 -> +0.0, NaN passes, exact zeros; large arrays take the parallel
    variant."""
    from minigrad.ops.kernels.cpu import activation, fused

    edge = np.array([0.0, -0.0, np.nan, np.inf, -np.inf, 1.5, -1.5, 1e-30, -1e-30], dtype)
    for size in (edge.size, 9 << 13):
        y = np.resize(edge, size).reshape(-1, edge.size).astype(dtype)
        b = np.array([0.0, 0.0, 1.0, -1.0, 1.0, -1.5, 1.5, -1e-30, 1e-30], dtype)
        for got, want in ((fused.relu_(y.copy()), activation.forward("relu", y)),
                          (fused.bias_relu_(y.copy(), b), activation.forward("relu", y + b)),
                          (fused.bias_relu_(y.copy(), None), activation.forward("relu", y))):
            np.testing.assert_array_equal(got, want)
            np.testing.assert_array_equal(np.signbit(got), np.signbit(want))


@pytest.mark.parametrize("pool", [(2, 2, 0, False), (3, 2, 1, True), (2, 1, 0, False)])
@pytest.mark.parametrize("hw", [(8, 8), (7, 9)])
def test_relu_max_pool_kernel_equals_pool_of_relu(pool, hw):
    """Values and argmax of the fused kernel against the pool kernel on the ReLU's output, with
    ties (zeros after ReLU, repeated values) and NaN in the windows."""
    from minigrad.ops.kernels.cpu import activation, fused
    from minigrad.ops.kernels.cpu import pool as pool_kernels

    k, s, p, ceil = pool
    rng = np.random.default_rng(3)
    y = rng.choice(np.array([-1.0, -0.0, 0.0, 0.5, 1.0, 2.0, np.nan], np.float32),
                   size=(3, 4, *hw), p=[.2, .1, .1, .2, .2, .15, .05])
    want = pool_kernels.max_pool2d_forward(activation.forward("relu", y), (k, k), (s, s), (p, p),
                                           (1, 1), ceil)
    got = fused.relu_max_pool2d(y.copy(), (k, k), (s, s), (p, p), (1, 1), ceil)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])


def test_sequential_on_cuda_runs_unfused():
    import minigrad.cuda as mcuda

    if not mcuda.is_available():
        pytest.skip("CUDA (or its simulator) is not available")
    mg.manual_seed(0)
    seq = nn.Sequential(nn.Conv2d(2, 3, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                        nn.Linear(3, 2), nn.ReLU())
    x = np.random.default_rng(0).standard_normal((2, 2, 4, 4)).astype(np.float32)
    want = seq(mg.tensor(x)).numpy()
    seq.to("cuda")
    y = seq(mg.tensor(x, device="cuda"))
    assert "Conv2d" in _names(y) and not FUSED & _names(y)
    np.testing.assert_allclose(y.cpu().numpy(), want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("op, fn", [("linear", F.linear), ("linear_relu", linear_relu)])
def test_linear_and_linear_relu_raise_the_same_shape_errors(op, fn):
    """F.linear and linear_relu share one set of shape checks; each names itself."""
    x, w = mg.tensor(np.ones((2, 5))), mg.tensor(np.ones((4, 5)))
    with pytest.raises(ValueError, match=rf"^{op}: weight must be 2-D \(out_features, "
                                         r"in_features\), got shape \(5,\)"):
        fn(x, mg.tensor(np.ones(5)))
    with pytest.raises(ValueError, match=rf"^{op}: input of shape \(2, 3\) does not end in "
                                         r"in_features = 5 \(weight shape \(4, 5\)\)"):
        fn(mg.tensor(np.ones((2, 3))), w)
    with pytest.raises(ValueError, match=rf"^{op}: bias of shape \(3,\) does not match "
                                         "out_features = 4"):
        fn(x, w, mg.tensor(np.ones(3)))
    with pytest.raises(ValueError, match=rf"^{op}: input of shape \(\) does not end in"):
        fn(mg.tensor(np.float64(1.0)), w)
