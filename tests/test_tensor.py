"""Tensor construction, attributes, the engine's behaviour and clear errors on bad input."""

from __future__ import annotations

import gc
import os

import numpy as np
import pytest

import minigrad as mg

RNG = np.random.default_rng(0)


# -- construction and attributes ---------------------------------------------------------------
def test_default_dtypes_follow_pytorch():
    assert mg.tensor([1.0, 2.0]).dtype == mg.float32
    assert mg.tensor([1, 2]).dtype == mg.int64
    assert mg.tensor([True]).dtype == mg.bool_
    assert mg.tensor(np.zeros(2)).dtype == mg.float64  # arrays keep their dtype
    assert mg.tensor([1, 2], dtype=mg.float64).dtype == np.float64
    assert mg.zeros(2, 3).shape == (2, 3) and mg.zeros((2, 3)).dtype == mg.float32
    assert mg.arange(5).dtype == mg.int64 and mg.arange(0.0, 1.0, 0.25).shape == (4,)
    assert mg.full((2,), 3).dtype == mg.int64 and mg.full((2,), 3.5).dtype == mg.float32
    np.testing.assert_array_equal(mg.eye(3).numpy(), np.eye(3, dtype=np.float32))
    assert mg.ones_like(mg.zeros(2, dtype=mg.float64)).dtype == mg.float64


def test_tensor_copies_but_from_numpy_shares():
    a = np.zeros(3)
    t, s = mg.tensor(a), mg.from_numpy(a)
    a[0] = 5
    assert t.numpy()[0] == 0 and s.numpy()[0] == 5


def test_seeded_random_constructors_repeat():
    mg.manual_seed(3)
    a = mg.randn(4, 5).numpy().copy(), mg.rand(3).numpy().copy()
    mg.manual_seed(3)
    b = mg.randn(4, 5).numpy(), mg.rand(3).numpy()
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert (b[1] >= 0).all() and (b[1] < 1).all()


def test_attributes_and_conversions():
    t = mg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    assert t.shape == (2, 2) and t.ndim == 2 and t.size() == (2, 2) and t.size(1) == 2
    assert t.numel() == 4 and t.is_leaf and t.requires_grad
    assert t.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert mg.tensor(3.5).item() == 3.5 and float(mg.tensor([2.0])) == 2.0
    assert np.asarray(t).shape == (2, 2)
    assert t.double().dtype == mg.float64 and t.double().float().dtype == mg.float32
    assert "requires_grad=True" in repr(t) and "grad_fn" in repr(t * 2)
    with pytest.raises(ValueError, match="one-element"):
        t.item()


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(TypeError, match="floating"):
        mg.tensor([1, 2], requires_grad=True)
    with pytest.raises(TypeError, match="floating"):
        mg.zeros(2, dtype=mg.int64, requires_grad=True)


def test_comparisons_are_bool_without_grad():
    a = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    for r in (a < 2, a <= 2, a > 2, a >= 2, a == 2, a != 2):
        assert r.dtype == mg.bool_ and not r.requires_grad
    np.testing.assert_array_equal((a > 1.5).numpy(), [False, True, True])


def test_scalars_keep_float32_and_numpy_arrays_defer_to_tensor():
    a = mg.tensor([1.0, 2.0])
    assert (a * 2).dtype == mg.float32 and (2.5 - a).dtype == mg.float32
    assert (a * np.float64(2)).dtype == mg.float32
    r = np.array([1.0, 1.0], dtype=np.float32) + a
    assert isinstance(r, mg.Tensor)


# -- the engine -----------------------------------------------------------------------------------
def test_broadcast_gradients_sum_back_to_input_shapes():
    a = mg.tensor(RNG.standard_normal((3, 1)), requires_grad=True)
    b = mg.tensor(RNG.standard_normal(4), requires_grad=True)
    (a * b).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), np.full((3, 1), b.numpy().sum()))
    np.testing.assert_allclose(b.grad.numpy(), np.full(4, a.numpy().sum()))


def test_gradients_accumulate_and_zero():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 3 + 2 * x.numpy())
    x.grad = None
    (x * 1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1, 1])


def test_shared_gradient_is_not_aliased_between_leaves():
    a = mg.tensor([1.0, 2.0], requires_grad=True)
    b = mg.tensor([3.0, 4.0], requires_grad=True)
    (a + b).sum().backward()  # Add's backward hands the same tensor to both inputs
    a.grad.numpy()[...] *= 10
    np.testing.assert_allclose(b.grad.numpy(), [1, 1])


def test_non_scalar_backward_needs_gradient():
    y = mg.tensor([1.0, 2.0], requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="scalar"):
        y.backward()
    y.backward(mg.tensor([1.0, 0.5]), retain_graph=True)
    y.backward(np.array([1.0, 0.5]))  # an array works as the gradient too
    with pytest.raises(ValueError, match="gradient has shape"):
        y.backward(mg.tensor([1.0, 0.5, 2.0]))


def test_second_backward_needs_retain_graph():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_saved_buffers_are_released_after_backward():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    node = y.grad_fn
    y.sum().backward()
    assert node._saved == () and node.inputs is None


def test_non_leaf_grads_dropped_unless_retained():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    k = x * 3
    k.retain_grad()
    (h * k).sum().backward()
    assert h.grad is None
    np.testing.assert_allclose(k.grad.numpy(), h.numpy())


def test_no_grad_and_enable_grad_and_decorators():
    x = mg.tensor([1.0], requires_grad=True)
    with mg.no_grad():
        y = x * 2
        with mg.enable_grad():
            z = x * 2
    assert not y.requires_grad and z.requires_grad

    @mg.no_grad()
    def f(t):
        return t * 2

    assert not f(x).requires_grad and mg.is_grad_enabled()


def test_detach_cuts_the_graph():
    x = mg.tensor([2.0], requires_grad=True)
    y = x * x.detach()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0])


def test_grad_function_leaves_dot_grad_alone():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    w = mg.tensor([3.0, 4.0], requires_grad=True)
    (gx,) = mg.grad((x * w).sum(), x)
    np.testing.assert_allclose(gx.numpy(), w.numpy())
    assert x.grad is None and w.grad is None
    unused = mg.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="not used"):
        mg.grad((x * 2).sum(), [x, unused])
    assert mg.grad((x * 2).sum(), [x, unused], allow_unused=True)[1] is None


def test_hessian_vector_product_with_create_graph():
    x = mg.tensor(RNG.standard_normal(5), requires_grad=True)
    v = RNG.standard_normal(5)
    f = (x**3).sum()
    (g,) = mg.grad(f, x, create_graph=True)
    (hv,) = mg.grad((g * mg.tensor(v)).sum(), x)
    np.testing.assert_allclose(hv.numpy(), 6 * x.numpy() * v, rtol=1e-12)


def test_gradient_penalty_trains_through_backward():
    w = mg.tensor(RNG.standard_normal((3, 3)), requires_grad=True)
    x = mg.tensor(RNG.standard_normal((4, 3)), requires_grad=True)
    out = (x @ w).tanh().sum()
    (gx,) = mg.grad(out, x, create_graph=True)
    penalty = (gx * gx).sum()
    penalty.backward()
    assert w.grad is not None and np.isfinite(w.grad.numpy()).all()



def test_ten_thousand_op_chain_backpropagates():
    x = mg.tensor([1.0], dtype=mg.float64, requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0001**10_000], rtol=1e-9)


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs Linux /proc")
def test_training_memory_stays_flat():
    """1,000 forward/backward/update steps of a small MLP: resident memory does not grow."""
    mg.manual_seed(0)
    w1 = (mg.randn(64, 128) * 0.1).requires_grad_()
    w2 = (mg.randn(128, 10) * 0.1).requires_grad_()
    x, y = mg.randn(32, 64), mg.randn(32, 10)

    def step():
        loss = (((x @ w1).tanh() @ w2 - y) ** 2).mean()
        loss.backward()
        with mg.no_grad():
            for p in (w1, w2):
                p.data -= 0.01 * p.grad.data
                p.grad = None
        return loss.item()

    for _ in range(100):
        step()
    gc.collect()
    before = _rss_bytes()
    losses = [step() for _ in range(1000)]
    gc.collect()
    grown = _rss_bytes() - before
    assert grown < 8 * 2**20, f"resident memory grew by {grown / 2**20:.1f} MiB"
    assert losses[-1] < losses[0]


# -- bad input: clear errors, nothing modified -------------------------------------------------
def test_shape_errors_name_the_op_and_shapes():
    a = mg.tensor(np.ones((2, 3)), requires_grad=True)
    b = mg.tensor(np.ones((4, 5)), requires_grad=True)
    with pytest.raises(ValueError, match=r"matmul: shapes \(2, 3\) and \(4, 5\)"):
        a @ b
    with pytest.raises(ValueError, match=r"add: shapes \(2, 3\) and \(4, 5\) cannot be broadcast"):
        a + b
    with pytest.raises(ValueError, match=r"cat: shapes"):
        mg.cat([a, b], axis=0)
    with pytest.raises(ValueError, match=r"reshape: cannot reshape a tensor of shape \(2, 3\)"):
        a.reshape(4, 2)
    with pytest.raises(ValueError, match="sum: axis 2 is out of range"):
        a.sum(axis=2)
    with pytest.raises(TypeError):
        a * "x"
    with pytest.raises(TypeError, match="matmul"):
        mg.matmul(a, 3)
    assert a.grad is None and b.grad is None
    np.testing.assert_array_equal(a.numpy(), np.ones((2, 3)))


def test_inplace_on_grad_tensor_is_refused_outside_no_grad():
    w = mg.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="no_grad"):
        w.zero_()
    with mg.no_grad():
        w.fill_(3.0)
    assert w.item() == 3.0


def test_getitem_repeated_indices_accumulate():
    x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[np.array([0, 0, 2])].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 0.0, 1.0])


def test_var_default_is_unbiased_like_pytorch_and_ddof_like_numpy():
    a = RNG.standard_normal((5, 4))
    np.testing.assert_allclose(mg.tensor(a).var().item(), a.var(ddof=1))
    np.testing.assert_allclose(mg.tensor(a).var(ddof=0).item(), a.var())
    np.testing.assert_allclose(mg.tensor(a).std(dim=1, keepdim=True).numpy(),
                               a.std(axis=1, ddof=1, keepdims=True), rtol=1e-6)


def test_max_ties_share_the_gradient():
    x = mg.tensor([1.0, 3.0, 3.0], requires_grad=True)
    x.max().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0, 0.5, 0.5])


def test_abs_gradient_at_zero_is_zero():
    x = mg.tensor([0.0, -2.0], requires_grad=True)
    x.abs().sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, -1.0])


def test_split_and_transpose_conventions():
    x = mg.arange(10.0).reshape(2, 5)
    parts = x.split(2, dim=1)
    assert [p.shape for p in parts] == [(2, 2), (2, 2), (2, 1)]
    y = mg.zeros(2, 3, 4)
    assert y.transpose(0, 2).shape == (4, 3, 2)  # two ints: swap (PyTorch)
    assert y.transpose((1, 2, 0)).shape == (3, 4, 2)  # a permutation (NumPy)
    assert y.T.shape == (4, 3, 2)


class _Fresh(mg.Function):
    """y = 2x whose backward returns a freshly allocated gradient and records its array's id."""

    ids: list[int] = []

    @staticmethod
    def forward(ctx, x):
        return 2 * x.data

    @staticmethod
    def backward(ctx, g):
        arr = 2 * g.data
        _Fresh.ids.append(id(arr))
        return mg.Tensor._make(arr)


class _ReturnsSaved(mg.Function):
    """A backward whose gradient array is also held by the node (must not be taken over)."""

    @staticmethod
    def forward(ctx, x):
        ctx.keep = np.full(x.shape, 3.0, dtype=x.dtype)
        return x.data * 3

    @staticmethod
    def backward(ctx, g):
        return mg.Tensor._make(ctx.keep)


def test_fresh_leaf_gradient_is_taken_over_without_a_copy():
    x = mg.randn(5, requires_grad=True)
    _Fresh.ids.clear()
    _Fresh.apply(x).sum().backward()
    assert _Fresh.ids == [id(x.grad.data)]
    np.testing.assert_array_equal(x.grad.numpy(), np.full(5, 2.0, np.float32))


class _FreshView(mg.Function):
    """Its backward returns a reshape of a fresh flat buffer, as the kernels' wrappers do; with
    ``keep`` the node also holds the buffer (then the view must be copied)."""

    bases: list[int] = []

    @staticmethod
    def forward(ctx, x, *, keep=False):
        ctx.keep = keep
        return 2 * x.data

    @staticmethod
    def backward(ctx, g):
        flat = 2 * g.data.reshape(-1)
        _FreshView.bases.append(id(flat))
        if ctx.keep:
            ctx.held = flat
        return mg.Tensor._make(flat.reshape(g.shape))


def test_reshaped_fresh_gradient_is_taken_over_but_a_held_one_is_copied():
    x = mg.randn(2, 3, requires_grad=True)
    _FreshView.bases.clear()
    _FreshView.apply(x).sum().backward()
    assert x.grad.data.base is not None and id(x.grad.data.base) == _FreshView.bases[0]
    np.testing.assert_array_equal(x.grad.numpy(), np.full((2, 3), 2.0, np.float32))

    y = mg.randn(2, 3, requires_grad=True)
    node = _FreshView.apply(y, keep=True)
    node.sum().backward()
    assert not np.shares_memory(y.grad.data, node.grad_fn.held)


def test_shared_gradients_are_copied_before_they_become_grad():
    a, b = mg.randn(3, requires_grad=True), mg.randn(3, requires_grad=True)
    (a + b).sum().backward()  # Add passes one gradient to both inputs
    assert not np.shares_memory(a.grad.data, b.grad.data)
    a.grad.zero_()
    np.testing.assert_array_equal(b.grad.numpy(), np.ones(3, np.float32))

    x = mg.randn(4, requires_grad=True)
    node = _ReturnsSaved.apply(x)
    node.backward(mg.ones(4), retain_graph=True)
    assert not np.shares_memory(x.grad.data, node.grad_fn.keep)

    g = mg.ones(2, 3)
    y = mg.randn(6, requires_grad=True)
    y.reshape(2, 3).backward(g)  # the incoming gradient reshaped: a view of the caller's array
    assert not np.shares_memory(y.grad.data, g.data)
    z = mg.randn(3, requires_grad=True)
    z.backward(g[0])  # a leaf root gets a copy of the caller's gradient
    assert not np.shares_memory(z.grad.data, g.data)


def test_gradient_through_a_reshape_is_taken_over_without_a_copy(monkeypatch):
    """A reshape's gradient is a view of the one it received, which nothing else holds once the
    engine has let go of the node's incoming gradients: it becomes ``.grad`` uncopied."""
    from minigrad.autograd import engine

    seen = []
    real = engine._unshared

    def spy(t):
        seen.append((t.shape, real(t)))
        return seen[-1][1]

    monkeypatch.setattr(engine, "_unshared", spy)
    x = mg.randn(2, 3, 4, requires_grad=True)
    (x.reshape(6, 4) * 2).backward(mg.ones(6, 4))
    assert seen == [((2, 3, 4), True)]
    assert x.grad.data.base is not None and x.grad.data.base.shape == (6, 4)
    np.testing.assert_array_equal(x.grad.numpy(), np.full((2, 3, 4), 2.0, np.float32))


def test_gradient_summed_to_a_broadcast_input_is_taken_over_without_a_copy(monkeypatch):
    """Add hands its incoming gradient to both inputs; the one summed back over a broadcast
    axis (a bias) is new memory made for that input alone, so it is offered for take-over (and
    becomes ``.grad`` uncopied), while the passed-through one is copied; both are right."""
    from minigrad.autograd import engine

    offered = []
    real = engine._unshared

    def spy(t):
        offered.append(t.shape)
        return real(t)

    monkeypatch.setattr(engine, "_unshared", spy)
    x = mg.randn(4, 3, requires_grad=True)
    b = mg.randn(3, requires_grad=True)
    ((x + b) * 2).backward(mg.ones(4, 3))
    np.testing.assert_array_equal(b.grad.numpy(), np.full(3, 8.0, np.float32))
    np.testing.assert_array_equal(x.grad.numpy(), np.full((4, 3), 2.0, np.float32))
    assert offered == [(3,)]
    assert b.grad.data.base is not None and b.grad.data.base.shape == (1, 3)  # the sum itself
    assert not np.shares_memory(x.grad.data, b.grad.data)
