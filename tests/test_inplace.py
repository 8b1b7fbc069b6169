"""In-place ops (``+=``, ``add_``, ``clamp_``, ``uniform_``...), version counters, and their
autograd rules, which follow PyTorch: free under ``no_grad()``, refused on leaves that require
grad, recorded (history rebased) on other tensors, and a saved tensor modified in place makes
``backward()`` raise."""

import numpy as np
import pytest

import minigrad as mg
from minigrad.testing import gradcheck

RNG = np.random.default_rng(0)


def _leaf(values, dtype=np.float64):
    return mg.tensor(np.array(values, dtype=dtype), requires_grad=True)


# -- updates under no_grad -------------------------------------------------------------------


def test_sgd_step_with_augmented_assignment_updates_the_weights():
    w = _leaf([1.0, -2.0, 3.0])
    storage = w.numpy()                          # the array behind w
    (w * w).sum().backward()                     # grad = 2w
    with mg.no_grad():
        w -= 0.1 * w.grad
    np.testing.assert_allclose(w.numpy(), [0.8, -1.6, 2.4])
    np.testing.assert_allclose(storage, [0.8, -1.6, 2.4])   # the same storage was written
    assert w.is_leaf and w.requires_grad and w._version == 1
    with mg.no_grad():
        w.add_(w.grad, alpha=-0.5)
    np.testing.assert_allclose(w.numpy(), [-0.2, 0.4, -0.6])


def test_a_training_loop_with_inplace_updates_converges():
    x = mg.tensor(RNG.standard_normal((32, 3)))
    true_w = np.array([[1.5], [-2.0], [0.5]])
    y = mg.tensor(x.numpy() @ true_w)
    w = mg.zeros(3, 1, dtype=np.float64, requires_grad=True)
    for _ in range(300):
        w.grad = None
        ((x @ w - y) ** 2).mean().backward()
        with mg.no_grad():
            w -= 0.1 * w.grad
    np.testing.assert_allclose(w.numpy(), true_w, atol=1e-6)


@pytest.mark.parametrize("op, ref", [
    (lambda t: t.add_(2.0), lambda a: a + 2.0),
    (lambda t: t.add_(mg.tensor([1.0, 2.0, 3.0]), alpha=3), lambda a: a + 3 * np.array([1, 2, 3])),
    (lambda t: t.sub_(mg.tensor([[1.0], [2.0]])), lambda a: a - np.array([[1.0], [2.0]])),
    (lambda t: t.sub_(1.0, alpha=2), lambda a: a - 2.0),
    (lambda t: t.mul_(-1.5), lambda a: a * -1.5),
    (lambda t: t.div_(4.0), lambda a: a / 4.0),
    (lambda t: t.neg_(), lambda a: -a),
    (lambda t: t.clamp_(-0.5, 0.5), lambda a: np.clip(a, -0.5, 0.5)),
    (lambda t: t.clamp_(min=0.0), lambda a: np.maximum(a, 0.0)),
    (lambda t: t.clip_(max=0.1), lambda a: np.minimum(a, 0.1)),
    (lambda t: t.zero_(), lambda a: np.zeros_like(a)),
    (lambda t: t.fill_(7.0), lambda a: np.full_like(a, 7.0)),
    (lambda t: t.fill_(mg.tensor(2.5)), lambda a: np.full_like(a, 2.5)),
    (lambda t: t.copy_(np.arange(3.0)), lambda a: np.broadcast_to(np.arange(3.0), a.shape)),
])
def test_inplace_ops_write_the_storage_and_return_self(op, ref):
    a = RNG.standard_normal((2, 3)).astype(np.float32)
    t = mg.tensor(a)
    storage = t.numpy()
    assert op(t) is t
    np.testing.assert_allclose(storage, ref(a.astype(np.float64)), rtol=1e-6)
    assert t.dtype == np.float32 and t._version == 1


def test_augmented_assignment_keeps_the_object():
    t = mg.tensor([1.0, 2.0])
    u = t
    t += 1
    t *= 3
    t -= mg.tensor([1.0, 1.0])
    t /= 2
    assert t is u and t._version == 4
    np.testing.assert_allclose(t.numpy(), [2.5, 4.0])
    i = mg.tensor([1, 2])
    i += 1
    i *= 2
    assert i.dtype == np.int64
    np.testing.assert_array_equal(i.numpy(), [4, 6])


def test_random_fills_are_seeded_and_in_range():
    mg.manual_seed(3)
    a = mg.zeros(1000).uniform_(-2.0, 3.0)
    mg.manual_seed(3)
    b = mg.empty_like(a) if hasattr(mg, "empty_like") else mg.zeros(1000)
    b.uniform_(-2.0, 3.0)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert a.numpy().min() >= -2.0 and a.numpy().max() < 3.0 and a.dtype == np.float32
    n = mg.zeros(20000, dtype=np.float64).normal_(1.0, 0.5)
    assert abs(n.numpy().mean() - 1.0) < 0.02 and abs(n.numpy().std() - 0.5) < 0.02
    with pytest.raises(TypeError, match="floating"):
        mg.zeros(3, dtype=np.int64).normal_()
    with pytest.raises(ValueError, match="std"):
        mg.zeros(3).normal_(0.0, -1.0)


def test_nn_init_style_fill_of_a_parameter_under_no_grad():
    w = mg.zeros(4, 5, requires_grad=True)
    with mg.no_grad():
        w.uniform_(-0.1, 0.1)
        w[0] = 0.0
    assert w.is_leaf and w.requires_grad and w._version == 2
    assert np.all(np.abs(w.numpy()) <= 0.1) and not w.numpy()[0].any()


@pytest.mark.cuda
def test_inplace_update_of_a_gpu_tensor_writes_its_device_buffer():
    import minigrad.cuda as mcuda

    w = mg.tensor([1.0, -2.0, 3.0], device="cuda", requires_grad=True)
    buf = w.data._buf
    (w * w).sum().backward()
    prev = mcuda.strict(True)                    # and stays on the device
    try:
        with mg.no_grad():
            w -= 0.1 * w.grad
            w.clamp_(-1.0, 2.0)
            w.mul_(2.0)
    finally:
        mcuda.strict(prev)
    assert w.data._buf is buf and w.device == "cuda" and w._version == 3
    np.testing.assert_allclose(w.numpy(), [1.6, -2.0, 4.0], rtol=1e-6)
    with mg.no_grad():
        w.uniform_()
        w.copy_(np.array([1.0, 2.0, 3.0]))
    assert w.device == "cuda"
    np.testing.assert_allclose(w.numpy(), [1.0, 2.0, 3.0])


# -- errors -----------------------------------------------------------------------------------


def test_leaf_that_requires_grad_refuses_inplace_in_grad_mode():
    w = _leaf([1.0, 2.0])
    for op in (lambda: w.add_(1), lambda: w.zero_(), lambda: w.uniform_(),
               lambda: w.__isub__(1.0)):
        with pytest.raises(RuntimeError, match="leaf tensor that requires grad .* in-place"):
            op()
    np.testing.assert_array_equal(w.numpy(), [1.0, 2.0])
    assert w._version == 0


def test_saved_tensor_modified_in_place_raises_at_backward_naming_op_and_shape():
    x = _leaf([1.0, 2.0])
    y = x.exp()                                   # Exp saves its output
    y.add_(1)
    with pytest.raises(RuntimeError, match=r"Exp: .*modified by an inplace operation.*"
                                           r"output 0, of shape \(2,\)"):
        y.sum().backward()

    c = mg.tensor(np.ones((2, 3)))                # a constant that Mul saves
    z = x.reshape(2, 1) * c
    c.mul_(2)                                     # allowed now (c needs no grad) ...
    with pytest.raises(RuntimeError, match=r"Mul: .*input 1, of shape \(2, 3\)"):
        z.sum().backward()                        # ... but Mul's gradient would be wrong


def test_saved_tensor_modified_under_no_grad_also_raises():
    x = _leaf([1.0, 2.0])
    w = _leaf([3.0, 4.0])
    loss = (x * w).sum()
    with mg.no_grad():
        w -= 1.0                                  # an optimizer step before backward
    with pytest.raises(RuntimeError, match="Mul: .*modified by an inplace"):
        loss.backward()


def test_modifying_what_no_node_saved_is_fine():
    x = _leaf([1.0, 2.0])
    c = mg.tensor([5.0, 6.0])
    y = x + c                                      # Add saves nothing
    c.add_(1)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0])


def test_shape_and_dtype_errors_leave_the_tensor_untouched():
    t = mg.zeros(3)
    with pytest.raises(RuntimeError, match=r"output with shape \(3,\) doesn't match .*\(2, 3\)"):
        t += mg.ones(2, 3)
    i = mg.tensor([1, 2])
    with pytest.raises(TypeError, match="can't be cast to the tensor's dtype int64"):
        i += 1.5
    with pytest.raises(TypeError, match="int64"):
        i /= 2
    with pytest.raises(ValueError, match="does not fit"):
        t.copy_(np.ones(4))
    np.testing.assert_array_equal(t.numpy(), np.zeros(3))
    np.testing.assert_array_equal(i.numpy(), [1, 2])
    assert t._version == 0 and i._version == 0


def test_expanded_view_refuses_inplace_clearly():
    e = mg.tensor([1.0, 2.0]).expand(3, 2)
    with mg.no_grad():
        with pytest.raises(RuntimeError, match="read-only broadcast view"):
            e.add_(1)


# -- recorded in-place ops on non-leaves (PyTorch rebases the history) -------------------------


def _inplace_chain(x, w):
    y = x * 2
    y += w
    y.mul_(x)
    y.sub_(w, alpha=0.5)
    y.div_(w + 3)
    y.clamp_(-5.0, 5.0)
    y.neg_()
    return y


def test_recorded_inplace_ops_have_correct_gradients():
    x = _leaf(RNG.uniform(-1, 1, (3, 4)))
    w = _leaf(RNG.uniform(0, 1, (4,)))
    assert gradcheck(_inplace_chain, [x, w])
    y = _inplace_chain(x, w)
    assert not y.is_leaf and y.requires_grad


def test_recorded_inplace_ops_match_torch():
    torch = pytest.importorskip("torch")
    xv, wv = RNG.uniform(-1, 1, (3, 4)), RNG.uniform(0, 1, (4,))

    def run(tensor, const):
        x, w = tensor(xv), tensor(wv)
        y = _inplace_chain(x, w)
        y.retain_grad()                            # follows the latest version
        q = x * 3
        q.zero_()                                  # history kept, gradient zero
        c = const(np.zeros((3, 4)))
        c.copy_(w.expand(3, 4) * 2)               # gradient flows to w through copy_
        (y * y + q + c).sum().backward()
        return [t.grad.numpy() for t in (x, w, y)] + [(y * 1).detach().numpy()]

    mine = run(lambda v: mg.tensor(v, requires_grad=True), mg.tensor)
    theirs = run(lambda v: torch.tensor(v, requires_grad=True), torch.tensor)
    for m, t in zip(mine, theirs):
        np.testing.assert_allclose(m, t, rtol=1e-10, atol=1e-12)


def test_constant_becomes_non_leaf_when_an_inplace_op_adds_a_grad_operand():
    w = _leaf([1.0, 2.0, 3.0])
    c = mg.zeros(3, dtype=np.float64)
    c.add_(w)
    assert c.requires_grad and not c.is_leaf
    (c * c).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), [2.0, 4.0, 6.0])


def test_inplace_on_a_view_in_the_graph_raises_instead_of_a_stale_history():
    x = _leaf([[1.0, 2.0], [3.0, 4.0]])
    y = x * 2
    v = y.reshape(4)                               # shares y's storage
    with pytest.raises(RuntimeError, match="shares its storage"):
        v.add_(1)
    with pytest.raises(RuntimeError, match="shares its storage"):
        y.mul_(3)                                 # the base of a view: the view would go stale
    with pytest.raises(RuntimeError, match="shares its storage"):
        x.reshape(4).add_(1)                      # a view of a leaf (PyTorch refuses too)
    np.testing.assert_array_equal(y.numpy(), [[2.0, 4.0], [6.0, 8.0]])


def test_view_write_under_no_grad_reaches_the_base_and_bumps_the_shared_version():
    x = mg.tensor([[1.0, 2.0], [3.0, 4.0]])
    v = x.reshape(4)
    d = x.detach()
    v.add_(10)
    np.testing.assert_array_equal(x.numpy(), [[11.0, 12.0], [13.0, 14.0]])
    assert x._version == v._version == d._version == 1   # one counter per storage, as PyTorch


def test_versions_match_torch():
    torch = pytest.importorskip("torch")

    def run(lib):
        t = lib.zeros(2, 3)
        v = t.reshape(6)
        out = [t._version]
        t.add_(1)
        out.append(t._version)
        v.mul_(2)
        out.append(t._version)
        t[0] = 5.0
        out.append(v._version)
        t.detach().zero_()
        out.append(t._version)
        return out

    assert run(mg) == run(torch)


def test_setitem_refuses_tensors_and_values_that_require_grad_in_grad_mode():
    w = _leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        w[0] = 3.0
    h = w * 1
    with pytest.raises(RuntimeError, match="not recorded"):
        h[0] = 3.0
    c = mg.zeros(2, dtype=np.float64)
    with pytest.raises(RuntimeError, match="not recorded"):
        c[0] = w[1]                               # used to drop the gradient silently
    np.testing.assert_array_equal(c.numpy(), [0.0, 0.0])
    with mg.no_grad():
        w[0] = 3.0
    c[1] = 4.0
    np.testing.assert_array_equal(w.numpy(), [3.0, 2.0])
    assert w._version == 1 and c._version == 1
