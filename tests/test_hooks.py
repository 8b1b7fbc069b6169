"""Tensor gradient hooks: ``register_hook`` and ``register_post_accumulate_grad_hook``, with
PyTorch's semantics (checked against torch where it is installed)."""

import numpy as np
import pytest

import minigrad as mg
from minigrad.autograd import Function, RemovableHandle


def _x(values=(1.0, 2.0, 3.0)):
    return mg.tensor(np.array(values), requires_grad=True)


def test_leaf_hook_replaces_the_gradient_before_accumulation():
    x = _x()
    seen = []
    x.register_hook(lambda g: seen.append(g.numpy().copy()) or g * 2)
    (x * x).sum().backward()
    np.testing.assert_allclose(seen[0], [2.0, 4.0, 6.0])   # d(x^2)/dx before the hook
    np.testing.assert_allclose(x.grad.numpy(), [4.0, 8.0, 12.0])
    (x * x).sum().backward()                                # accumulates the hooked gradient
    np.testing.assert_allclose(x.grad.numpy(), [8.0, 16.0, 24.0])


def test_leaf_hook_runs_once_on_the_summed_gradient():
    x = _x()
    seen = []
    x.register_hook(lambda g: seen.append(g.numpy().copy()))
    (x * 2 + x * 3 + x.exp()).sum().backward()
    assert len(seen) == 1                                   # not once per use of x
    np.testing.assert_allclose(seen[0], 5 + np.exp([1.0, 2.0, 3.0]))


def test_non_leaf_hook_changes_what_flows_upstream():
    x = _x()
    y = x * 3
    y.register_hook(lambda g: g * 10)
    (y * y).sum().backward()
    # dL/dy = 2y = 6x, times 10 from the hook, times 3 from y = 3x
    np.testing.assert_allclose(x.grad.numpy(), 180 * np.array([1.0, 2.0, 3.0]))


def test_hooks_run_in_registration_order_each_on_the_previous_result():
    x = _x()
    calls = []
    x.register_hook(lambda g: calls.append(("a", g.numpy().copy())) or g + 1)
    x.register_hook(lambda g: calls.append(("b", g.numpy().copy())))   # None: unchanged
    x.register_hook(lambda g: calls.append(("c", g.numpy().copy())) or g * 2)
    x.sum().backward()
    assert [c[0] for c in calls] == ["a", "b", "c"]
    np.testing.assert_allclose(calls[1][1], [2.0, 2.0, 2.0])
    np.testing.assert_allclose(x.grad.numpy(), [4.0, 4.0, 4.0])


def test_retained_grad_sees_the_hooked_gradient():
    x = _x()
    y = x * 2
    y.retain_grad()
    y.register_hook(lambda g: g * 10)
    (y * 3).sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), [30.0, 30.0, 30.0])
    np.testing.assert_allclose(x.grad.numpy(), [60.0, 60.0, 60.0])


def test_post_accumulate_hook_sees_the_accumulated_grad():
    x = _x()
    seen = []
    h = x.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.numpy().copy()))
    assert isinstance(h, RemovableHandle)
    (x * x).sum().backward()
    (x * 2 + x).sum().backward()
    assert len(seen) == 2
    np.testing.assert_allclose(seen[0], [2.0, 4.0, 6.0])
    np.testing.assert_allclose(seen[1], [5.0, 7.0, 9.0])    # after the second accumulation


def test_pre_hook_runs_before_post_hook():
    x = _x()
    calls = []
    x.register_post_accumulate_grad_hook(lambda t: calls.append("post"))
    x.register_hook(lambda g: calls.append("pre"))
    x.sum().backward()
    assert calls == ["pre", "post"]


class _Logged(Function):
    """Identity that logs when its backward runs."""

    log: list = []

    @staticmethod
    def forward(ctx, x, *, tag):
        ctx.tag = tag
        return x.data.copy()

    @staticmethod
    def backward(ctx, g):
        _Logged.log.append(ctx.tag)
        return g


def test_post_accumulate_hook_fires_as_soon_as_the_leafs_gradient_is_complete():
    # w2 is used near the output: its gradient is final before the earlier layers' backward
    # runs, which is what overlapping an all-reduce with the rest of backward needs.
    _Logged.log = []
    w1, w2 = _x(), _x((4.0, 5.0, 6.0))
    h = _Logged.apply(_Logged.apply(w1 * 2, tag="layer1") * w2, tag="layer2")
    w1.register_post_accumulate_grad_hook(lambda t: _Logged.log.append("w1 ready"))
    w2.register_post_accumulate_grad_hook(lambda t: _Logged.log.append("w2 ready"))
    h.sum().backward()
    assert _Logged.log == ["layer2", "w2 ready", "layer1", "w1 ready"]


def test_removed_hooks_do_not_run():
    x = _x()
    calls = []
    h1 = x.register_hook(lambda g: calls.append("pre"))
    h2 = x.register_post_accumulate_grad_hook(lambda t: calls.append("post"))
    h1.remove()
    h2.remove()
    h1.remove()  # removing twice is harmless
    x.sum().backward()
    assert calls == []
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 1.0, 1.0])


def test_handle_as_context_manager():
    x = _x()
    y = x * 1
    with y.register_hook(lambda g: g * 0):
        y.sum().backward(retain_graph=True)
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 0.0, 0.0])
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 1.0, 1.0])


def test_non_leaf_hook_survives_its_python_tensor():
    x = _x()
    y = x * 2
    y.register_hook(lambda g: g * 5)
    z = y.sum()
    del y  # the hook lives on the graph node, as in PyTorch
    z.backward()
    np.testing.assert_allclose(x.grad.numpy(), [10.0, 10.0, 10.0])


def test_create_graph_differentiates_through_hooks():
    x = _x()
    y = x**2
    y.register_hook(lambda g: g * 3)
    (gx,) = mg.grad(y.sum(), x, create_graph=True)
    np.testing.assert_allclose(gx.numpy(), 6 * np.array([1.0, 2.0, 3.0]))
    (ggx,) = mg.grad(gx.sum(), x)
    np.testing.assert_allclose(ggx.numpy(), [6.0, 6.0, 6.0])


def test_create_graph_backward_runs_post_hooks_on_a_grad_with_a_graph():
    x = _x()
    seen = []
    x.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.requires_grad))
    (x**3).sum().backward(create_graph=True)
    assert seen == [True]
    np.testing.assert_allclose(x.grad.numpy(), 3 * np.array([1.0, 4.0, 9.0]))


def test_grad_runs_tensor_hooks_but_not_post_accumulate_hooks():
    x = _x()
    calls = []
    x.register_hook(lambda g: calls.append("pre") or g * 2)
    x.register_post_accumulate_grad_hook(lambda t: calls.append("post"))
    (gx,) = mg.grad((x * x).sum(), x)
    assert calls == ["pre"]
    np.testing.assert_allclose(gx.numpy(), [4.0, 8.0, 12.0])
    assert x.grad is None


def test_grad_captures_a_non_leaf_after_its_hooks():
    x = _x()
    y = x * 2
    y.register_hook(lambda g: g * 10)
    (gy,) = mg.grad((y * 3).sum(), y)
    np.testing.assert_allclose(gy.numpy(), [30.0, 30.0, 30.0])


def test_grad_runs_only_the_hooks_on_the_path_to_its_inputs():
    a, b = _x(), _x()
    calls = []
    u = a * 2
    u.register_hook(lambda g: calls.append("u"))
    a.register_hook(lambda g: calls.append("a"))
    b.register_hook(lambda g: calls.append("b"))
    mg.grad((u + b * 2).sum(), b)
    assert calls == ["b"]


def test_hook_result_never_aliases_grad():
    x = _x()
    kept = []
    x.register_hook(lambda g: kept.append(g * 2) or kept[-1])
    x.sum().backward()
    kept[0].data[...] = -1.0
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0, 2.0])


def test_hook_errors():
    x = _x()
    with pytest.raises(RuntimeError, match="does not require grad"):
        mg.tensor([1.0]).register_hook(lambda g: g)
    with pytest.raises(RuntimeError, match="leaf"):
        (x * 2).register_post_accumulate_grad_hook(lambda t: None)
    with pytest.raises(TypeError, match="callable"):
        x.register_hook(3)
    x.register_hook(lambda g: g.sum())
    with pytest.raises(RuntimeError, match=r"changed the gradient from \(3,\)"):
        (x * 2).sum().backward()
    y = _x()
    y.register_hook(lambda g: g.numpy())
    with pytest.raises(TypeError, match="returns a Tensor or None"):
        y.sum().backward()


def test_module_and_tensor_hooks_share_one_handle_class():
    from minigrad.nn.modules import RemovableHandle as ModuleHandle

    assert ModuleHandle is RemovableHandle


def test_hooks_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    xv, wv = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))

    def run(lib, tensor):
        x, w = tensor(xv, requires_grad=True), tensor(wv, requires_grad=True)
        log = []
        h = (x @ w).tanh()
        h.register_hook(lambda g: g * g)                       # nonlinear in the gradient
        w.register_hook(lambda g: g.clamp(-0.1, 0.1))
        w.register_post_accumulate_grad_hook(lambda t: log.append(float(t.grad.sum())))
        loss = (h * h).sum() + (x * x).sum()
        loss.backward()
        return x.grad.numpy(), w.grad.numpy(), log

    mx, mw, mlog = run(mg, mg.tensor)
    tx, tw, tlog = run(torch, lambda v, requires_grad: torch.tensor(v, requires_grad=True))
    np.testing.assert_allclose(mx, tx, rtol=1e-12)
    np.testing.assert_allclose(mw, tw, rtol=1e-12)
    np.testing.assert_allclose(mlog, tlog, rtol=1e-12)
