"""The gradient-fuzzing kit must be able to fail: planted bugs are caught and named."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given

import minigrad as mg
from minigrad import Function
from minigrad.testing import (
    GradcheckError,
    NonDifferentiableError,
    check_graph,
    gradcheck,
    gradgradcheck,
)
from minigrad.testing import strategies as mst


class WrongSin(Function):
    """d/dx sin x = sin x: a planted bug."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.sin(x.data)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * x.sin()


class RightSin(WrongSin):
    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * x.cos()


class NonDifferentiableSquare(Function):
    """A correct first derivative written with raw arrays: fine for gradcheck, but it has no graph,
    so gradgradcheck must flag the second derivative."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.data**2

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return mg.tensor(2 * x.data) * g.detach()


def _x(n=6, seed=0):
    return mg.tensor(np.random.default_rng(seed).uniform(-2, 2, n), requires_grad=True)


def test_planted_wrong_backward_is_caught_with_a_useful_message():
    with pytest.raises(GradcheckError, match=r"input 0 .* analytic .* numeric"):
        gradcheck(WrongSin.apply, [_x()])
    assert gradcheck(WrongSin.apply, [_x()], raise_exception=False) is False
    assert gradcheck(RightSin.apply, [_x()])


def test_gradgradcheck_catches_a_backward_without_graph():
    assert gradcheck(NonDifferentiableSquare.apply, [_x()])
    with pytest.raises(GradcheckError):
        gradgradcheck(NonDifferentiableSquare.apply, [_x()])
    assert gradgradcheck(lambda t: t**2, [_x()])


def test_full_jacobian_and_vjp_paths_both_catch():
    # 40 outputs > the full-Jacobian limit: only the random VJP path runs
    with pytest.raises(GradcheckError, match="vector-Jacobian"):
        gradcheck(WrongSin.apply, [_x(40)])


def test_kink_is_reported_as_non_differentiable_not_as_a_wrong_gradient():
    class BadAbs(Function):
        """|x| with gradient 1 everywhere: wrong for x < 0, and 0 is a kink."""

        @staticmethod
        def forward(ctx, x):
            return np.abs(x.data)

        @staticmethod
        def backward(ctx, g):
            return g

    x = mg.tensor([0.0], dtype=mg.float64, requires_grad=True)
    with pytest.raises(NonDifferentiableError, match="non-differentiable at index"):
        gradcheck(lambda t: mg.where(t > 0, t, 0 * t) * 3.0, [x])  # relu at 0
    with pytest.raises(GradcheckError) as info:
        gradcheck(BadAbs.apply, [mg.tensor([-1.0], dtype=mg.float64, requires_grad=True)])
    assert not isinstance(info.value, NonDifferentiableError)


def test_gradcheck_requires_float64():
    with pytest.raises(TypeError, match="float64"):
        gradcheck(lambda t: t * 2, [mg.tensor([1.0], requires_grad=True)])


def test_check_graph_names_the_planted_node_in_a_20_node_graph():
    rng = np.random.default_rng(1)
    x = mg.tensor(rng.uniform(-1, 1, (3, 4)), requires_grad=True)
    w = mg.tensor(rng.uniform(-1, 1, (4, 4)), requires_grad=True)
    h = x
    for i in range(9):
        h = (h @ w).tanh() if i != 6 else WrongSin.apply(h @ w)  # the bad node, created here
    loss = (h * h).mean()
    nodes = mg.autograd.graph.nodes(loss)
    assert len(nodes) >= 20
    with pytest.raises(GradcheckError, match=r"WrongSin.*test_testing_kit.py:\d+"):
        check_graph(loss)
    # the same graph with the right op passes, node by node
    h = x
    for _ in range(9):
        h = (h @ w).tanh()
    assert check_graph((h * h).mean()) >= 20


def test_check_graph_needs_the_graph_alive():
    x = _x()
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="freed"):
        check_graph(y)


@given(mst.tensors(shape=mst.shapes(max_dims=2), requires_grad=True))
def test_strategies_compose_with_given(x):
    assert x.dtype == np.float64 and x.requires_grad
    assert gradcheck(lambda t: (t * t).sum(), [x])


@given(mst.tensors(shape=(3,), dtype="float32", lo=-1, hi=1))
def test_tensors_strategy_respects_bounds_and_dtype(x):
    assert x.dtype == np.float32 and not x.requires_grad
    assert np.all(np.abs(x.numpy()) <= 1)
