"""The per-call shortcuts of issue 17's batch-1 latency work: conv2d's and pooling's cache of
checked geometry (it must never let a wrongly typed or misfitting argument through), F.linear as
one node (equal to the composition it replaces), and Function.apply's lone-output path."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn.functional as F
from minigrad.autograd import Function, graph
from minigrad.ops._args import plain

RNG = np.random.default_rng(17)


def _t(*shape, dtype=np.float32, requires_grad=False):
    return mg.tensor(RNG.standard_normal(shape).astype(dtype), requires_grad=requires_grad)


# -- checked-geometry caches ---------------------------------------------------------------------


def test_plain_refuses_values_that_equal_an_int_without_being_one():
    assert plain(1, (1, 2), "same", None)
    for v in (True, (1, True), 1.0, (1, 2.0), [1, 2], np.int64(1), (np.int64(1), 1)):
        assert not plain(v), v


@pytest.mark.parametrize("bad", [(True, True), (1.0, 1.0), 1.0, True])
def test_conv2d_cache_does_not_admit_a_wrong_type_after_a_valid_call(bad):
    x, w = _t(1, 2, 6, 6), _t(3, 2, 3, 3)
    F.conv2d(x, w, stride=(1, 1), dilation=(1, 1))  # cached now
    F.conv2d(x, w, stride=1, dilation=1)
    for kw in ({"stride": bad}, {"dilation": bad}):
        with pytest.raises(TypeError, match=r"^conv2d: (stride|dilation) must be an int"):
            F.conv2d(x, w, **kw)
    with pytest.raises(TypeError, match=r"^conv2d: padding must be an int"):
        F.conv2d(x, w, padding=bad)


def test_conv2d_cache_is_keyed_by_shapes():
    x, w = _t(1, 2, 6, 6), _t(3, 2, 3, 3)
    F.conv2d(x, w, padding=1)
    with pytest.raises(ValueError, match="larger than the padded input"):
        F.conv2d(_t(1, 2, 1, 1), w, padding=0)
    with pytest.raises(ValueError, match="channels"):
        F.conv2d(_t(1, 4, 6, 6), w, padding=1)


@pytest.mark.parametrize("op", [F.max_pool2d, F.avg_pool2d])
def test_pool_cache_does_not_admit_a_wrong_type_after_a_valid_call(op):
    x = _t(1, 2, 6, 6)
    op(x, 2, stride=(2, 2))
    for kw in ({"stride": (True, True)}, {"stride": (2.0, 2.0)}, {"kernel_size": 2.0}):
        with pytest.raises(TypeError, match="must be an int"):
            op(x, **{"kernel_size": 2, **kw})
    with pytest.raises(ValueError, match="larger than the padded input"):
        op(_t(1, 2, 1, 1), 2, stride=(2, 2))


def test_max_pool2d_dilated_window_in_the_padding_is_still_refused():
    F.max_pool2d(_t(1, 1, 6, 6), 2, stride=1, padding=1, dilation=3)
    with pytest.raises(ValueError, match="window 0 along spatial axis 0 reads only padding"):
        F.max_pool2d(_t(1, 1, 2, 2), 2, stride=1, padding=1, dilation=3)


# -- F.linear: one node ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("lead, bias", [((5,), True), ((5,), False), ((2, 3), True)])
def test_linear_is_one_node_equal_to_the_composition(dtype, lead, bias):
    x = _t(*lead, 4, dtype=dtype, requires_grad=True)
    w = _t(3, 4, dtype=dtype, requires_grad=True)
    b = _t(3, dtype=dtype, requires_grad=True) if bias else None
    g = RNG.standard_normal((*lead, 3)).astype(dtype)

    y = F.linear(x, w, b)
    names = [n.display_name() for n in graph.nodes(y)]
    assert names.count("Linear") == 1 and "MatMul" not in names and "Add" not in names
    y.backward(mg.tensor(g))
    got = [y.numpy(), x.grad.numpy(), w.grad.numpy()] + ([b.grad.numpy()] if bias else [])

    x.grad = w.grad = None
    if bias:
        b.grad = None
    x2 = x.reshape(-1, 4)
    ref = x2 @ w.T
    ref = (ref + b if bias else ref).reshape(*lead, 3)
    ref.backward(mg.tensor(g))
    want = [ref.numpy(), x.grad.numpy(), w.grad.numpy()] + ([b.grad.numpy()] if bias else [])
    for a, e in zip(got, want):
        assert a.dtype == e.dtype
        np.testing.assert_array_equal(a, e)  # the same products, summed alike at this size


def test_linear_with_mixed_dtypes_still_promotes():
    x = _t(2, 4, dtype=np.float32)
    w = _t(3, 4, dtype=np.float64)
    b = _t(3, dtype=np.float64)
    y = F.linear(x, w, b)
    assert y.dtype == np.float64
    np.testing.assert_allclose(y.numpy(), x.numpy().astype(np.float64) @ w.numpy().T + b.numpy())


def test_linear_second_derivatives():
    from minigrad.testing import gradgradcheck

    x = _t(2, 3, dtype=np.float64, requires_grad=True)
    w = _t(4, 3, dtype=np.float64, requires_grad=True)
    b = _t(4, dtype=np.float64, requires_grad=True)
    assert gradgradcheck(lambda x, w, b: F.linear(x, w, b).tanh(), (x, w, b))


# -- Function.apply -------------------------------------------------------------------------


class _Keep(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.data * 2

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 2


def test_a_recorded_node_keeps_its_saved_tensors_once():
    x = _t(3, requires_grad=True)
    y = _Keep.apply(x)
    node = y.grad_fn
    assert "_to_save" not in vars(node)  # only the node's own _saved holds them
    assert len(node._saved) == 1
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full(3, 2, np.float32))
    with mg.no_grad():
        z = _Keep.apply(x)
    assert z.grad_fn is None and not z.requires_grad
