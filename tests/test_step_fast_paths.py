"""The per-op fast paths of a training step (issue 17) against the general paths they shortcut.

``Function.apply`` (one pass over the arguments, device check only with GPU inputs, no
grad-mode switch when recording is already off, cached node metadata, a cached test of which
stack frames are minigrad's), ``Module.__call__`` without hooks, the engine's host fast path in
``fit_gradient`` and its direct sum over broadcast axes when no graph is built, the kernel
launcher's serial/parallel choice and the owned-array shortcut of ``versions.note_views``. Each
must give what the general path gives; the fused optimizer kernels are checked bit for bit in
``tests/test_optim.py``.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.autograd import function as function_mod
from minigrad.autograd import versions
from minigrad.autograd.function import Function
from minigrad.autograd.graph import TensorMeta
from minigrad.ops.kernels.cpu import _jit


class _Probe(Function):
    """Identity that records whether grad mode was on inside its forward."""

    seen: list = []

    @staticmethod
    def forward(ctx, x, *, fail=False):
        _Probe.seen.append(mg.is_grad_enabled())
        if fail:
            raise ArithmeticError("on purpose")
        return x.data * 1

    @staticmethod
    def backward(ctx, g):
        return g


@pytest.mark.parametrize("requires_grad", [True, False])
@pytest.mark.parametrize("mode", ["enabled", "no_grad"])
def test_forward_always_runs_with_recording_off_and_mode_is_restored(mode, requires_grad):
    """apply switches grad mode off around forward only when it is on; either way forward sees
    it off, the caller's mode comes back (also after forward raises), and a node is recorded
    exactly when the mode is on and an input requires grad."""
    x = mg.randn(3, requires_grad=requires_grad)
    ctx = mg.no_grad() if mode == "no_grad" else mg.enable_grad()
    _Probe.seen.clear()
    with ctx:
        y = _Probe.apply(x)
        assert mg.is_grad_enabled() == (mode == "enabled")
        with pytest.raises(ArithmeticError):
            _Probe.apply(x, fail=True)
        assert mg.is_grad_enabled() == (mode == "enabled")
    assert _Probe.seen == [False, False]
    assert (y.grad_fn is not None) == (mode == "enabled" and requires_grad)
    np.testing.assert_array_equal(y.numpy(), x.numpy())


def test_node_metadata_matches_each_input_array():
    """Node metadata comes from a cache keyed by (shape, dtype, array type): the same shape in
    two dtypes, and a 0-d input, must still give each input's own metadata."""
    a32 = mg.randn(2, 3, requires_grad=True)
    a64 = mg.randn(2, 3, dtype=mg.float64, requires_grad=True)
    s = mg.tensor(2.0, requires_grad=True)
    outs = [a32 * 2, a64 * 2, a32 * s, (a64 * s).sum(), a32.reshape(3, 2) @ a32]
    checked = 0
    for out in outs:
        for node in mg.autograd.graph.nodes(out):
            for inp, meta in zip(node.inputs, node.input_metadata):
                if isinstance(inp, mg.Tensor):
                    assert meta == TensorMeta(inp.shape, inp.dtype, "cpu")
                    assert meta.dtype == inp.data.dtype
                    checked += 1
    assert checked >= 10
    assert (a32 * 2).grad_fn.input_metadata[0] is (a32 + 1).grad_fn.input_metadata[0]


def test_metadata_cache_is_bounded(monkeypatch):
    monkeypatch.setattr(function_mod, "_METAS", {})
    x = mg.randn(1, requires_grad=True)
    for n in range(1, 4200):
        y = x.expand(n) * 1
        assert y.grad_fn.input_metadata[0].shape == (n,)
    assert len(function_mod._METAS) <= 4096


def test_site_skips_minigrad_frames_on_repeated_calls():
    """The frames walked for ``site`` are classified once per file name (cached): a node made
    deep inside minigrad (a module's forward) still reports the user's line, every time."""
    layer = nn.Linear(3, 2)
    x = mg.randn(4, 3)
    sites = []
    here = sys._getframe().f_lineno + 2
    for _ in range(3):
        sites.append(layer(x).grad_fn.site)
    assert sites == [(__file__, here)] * 3


def test_module_call_without_hooks_equals_forward_and_hooks_added_later_run():
    """Module.__call__ goes straight to forward when no hook is registered; a hook registered
    after earlier calls must run, and removing it returns to the plain call."""
    layer = nn.Linear(3, 2)
    x = mg.randn(4, 3)
    np.testing.assert_array_equal(layer(x).numpy(), layer.forward(x).numpy())
    calls = []
    post = layer.register_forward_hook(lambda m, args, out: calls.append(out.shape) or out + 1)
    np.testing.assert_allclose(layer(x).numpy(), layer.forward(x).numpy() + 1, rtol=1e-6)
    assert calls == [(4, 2)]
    post.remove()
    pre = layer.register_forward_pre_hook(lambda m, args: (args[0] * 2,))
    np.testing.assert_allclose(layer(x).numpy(), layer.forward(x * 2).numpy(), rtol=1e-6)
    pre.remove()
    np.testing.assert_array_equal(layer(x).numpy(), layer.forward(x).numpy())
    assert calls == [(4, 2)]


class _Returns(Function):
    """``y = 3 x``; backward returns the gradient in the form ``kind`` asks for."""

    @staticmethod
    def forward(ctx, x, *, kind):
        ctx.kind = kind
        return x.data * np.asarray(3, x.data.dtype)

    @staticmethod
    def backward(ctx, g):
        arr = g.data * np.asarray(3, g.data.dtype)
        if ctx.kind == "tensor":  # the engine's host fast path
            return mg.Tensor(arr)
        if ctx.kind == "array":  # a raw array: wrapped by the general path
            return arr
        if ctx.kind == "float64":  # fast path, then cast to the input's float32
            return mg.Tensor(arr.astype(np.float64))
        if ctx.kind == "broadcast":  # an extra leading axis, summed away
            return mg.Tensor(np.stack([arr, arr]) / np.asarray(2, arr.dtype))
        raise AssertionError(ctx.kind)


@pytest.mark.parametrize("kind", ["tensor", "array", "float64", "broadcast"])
def test_fitted_gradient_is_the_same_by_every_route(kind):
    x = mg.tensor(np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3), requires_grad=True)
    y = _Returns.apply(x, kind=kind)
    y.backward(mg.tensor(np.arange(6, dtype=np.float32).reshape(2, 3)))
    assert x.grad.dtype == mg.float32 and x.grad.shape == (2, 3)
    np.testing.assert_array_equal(x.grad.numpy(), 3 * np.arange(6, dtype=np.float32).reshape(2, 3))


@pytest.mark.parametrize("create_graph", [False, True])
def test_gradient_summed_over_broadcast_axes_with_and_without_a_graph(create_graph):
    """Without create_graph the engine sums a broadcast gradient straight on the array; with it
    the sum is recorded (so it can be differentiated again). Both give the same gradient."""
    rng = np.random.default_rng(0)
    xv, bv = rng.standard_normal((4, 1, 3)), rng.standard_normal((5, 1))
    x = mg.tensor(xv, requires_grad=True)
    b = mg.tensor(bv, requires_grad=True)
    y = ((x * b) ** 2).sum()
    gx, gb = mg.autograd.grad(y, [x, b], create_graph=create_graph)
    np.testing.assert_allclose(gx.numpy(), (2 * xv * bv**2).sum(axis=1, keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(gb.numpy(), (2 * xv**2 * bv).sum(axis=(0, 2))[:, None],
                               rtol=1e-12)
    assert (gb.grad_fn is not None) == create_graph
    if create_graph:
        (ggb,) = mg.autograd.grad(gb.sum(), [b])
        np.testing.assert_allclose(ggb.numpy(), 2 * (xv**2).sum() * np.ones((5, 1)), rtol=1e-12)


class _WrongShape(Function):
    @staticmethod
    def forward(ctx, x):
        return x.data * 1

    @staticmethod
    def backward(ctx, g):
        return mg.Tensor(np.ones((2, 3), g.data.dtype))  # the input is (4, 3)


@pytest.mark.parametrize("create_graph", [False, True])
def test_gradient_of_a_shape_that_does_not_broadcast_is_refused_on_both_routes(create_graph):
    x = mg.randn(4, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"_WrongShape.*shape \(2, 3\) for input 0 of shape "
                                           r"\(4, 3\)"):
        _WrongShape.apply(x).sum().backward(create_graph=create_graph)
    assert x.grad is None


def test_kernel_launch_chooses_parallel_when_any_array_is_large(monkeypatch):
    """The launcher stops at the first large array instead of taking the maximum size; the
    choice must be the same: parallel exactly when some array argument has at least
    PARALLEL_MIN_SIZE elements, wherever it sits among the arguments."""
    k = _jit.Kernel.__new__(_jit.Kernel)
    k.parallel = lambda *a: "parallel"
    k.serial = lambda *a: "serial"
    big = np.empty(_jit.PARALLEL_MIN_SIZE, np.float32)
    just_small = np.empty(_jit.PARALLEL_MIN_SIZE - 1, np.float32)
    small = np.empty(3)
    cases = [(small, big), (big, small), (small, 2.0, just_small), (just_small,), (5, big, 1.0),
             (small, small, small), (float(_jit.PARALLEL_MIN_SIZE),), (big.reshape(2, -1), small)]
    for args in cases:
        size = max([a.size for a in args if isinstance(a, np.ndarray)], default=0)
        expected = "parallel" if size >= _jit.PARALLEL_MIN_SIZE else "serial"
        assert k(*args) == expected, [getattr(a, "shape", a) for a in args]


class _Same(Function):
    @staticmethod
    def forward(ctx, x):
        return x.data

    @staticmethod
    def backward(ctx, g):
        return g


@pytest.mark.parametrize("make", [
    lambda x: x.reshape(6),            # a view of the input
    lambda x: x.T,                     # a strided view
    lambda x: x[1:],                   # a slice
    lambda x: x.reshape(6)[2:],        # a view of a view
    lambda x: x * 2,                   # new memory
    lambda x: _Same.apply(x),          # forward hands back the input array itself
    lambda x: x.sum_to((1, 3)),        # new memory
])
def test_views_are_noted_exactly_when_the_output_shares_the_input_storage(make):
    """note_views skips the storage lookup for arrays that own their memory; which outputs are
    remembered as views must still be exactly those that share the input's storage (what the
    in-place checks read)."""
    x = mg.tensor(np.arange(6, dtype=np.float32).reshape(2, 3), requires_grad=True)
    base = x.data
    assert not versions.is_graph_view(base)
    out = make(x)
    assert out.grad_fn is not None
    assert versions.is_graph_view(base) == np.shares_memory(out.data, base)
