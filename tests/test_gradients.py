"""The registry-driven gradient fuzz: every registered op against finite differences in float64.

Nothing here names an op: adding an op to the registry adds it to these tests, and
``test_every_function_is_covered`` fails when a Function defined in minigrad is exercised by no
registry entry.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import find, given, reject, settings
from hypothesis import strategies as st

import minigrad as mg
from minigrad.autograd import Function
from minigrad.testing import NonDifferentiableError, gradcheck, gradgradcheck
from minigrad.testing.opinfo import registry
from tests._registry_helpers import to_tensors

OPS = registry()


def _call(op, args, kwargs):
    return op.fn(*args, **kwargs)


@pytest.mark.parametrize("op", OPS, ids=[o.name for o in OPS])
@given(data=st.data())
def test_gradcheck(op, data):
    sample = data.draw(op.strategy(), label="sample")
    args = to_tensors(sample)
    if not any(isinstance(a, mg.Tensor) and a.requires_grad for a in args):
        reject()
    try:
        assert gradcheck(lambda *xs: _call(op, xs, sample.kwargs), args, **op.check_kwargs)
    except NonDifferentiableError:
        reject()  # the strategy should keep away from kinks; Hypothesis flags it if frequent


GRADGRAD = [o for o in OPS if o.gradgrad]


@pytest.mark.parametrize("op", GRADGRAD, ids=[o.name for o in GRADGRAD])
@settings(max_examples=15)
@given(data=st.data())
def test_gradgradcheck(op, data):
    sample = data.draw(op.strategy(), label="sample")
    args = to_tensors(sample)
    if not any(isinstance(a, mg.Tensor) and a.requires_grad for a in args):
        reject()
    try:
        assert gradgradcheck(lambda *xs: _call(op, xs, sample.kwargs), args,
                             **op.check_kwargs)
    except NonDifferentiableError:
        reject()


def _all_functions() -> set[type]:
    out, todo = set(), list(Function.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.__module__.startswith("minigrad.") and not _private_base(cls):
            out.add(cls)
    return out


def _private_base(cls: type) -> bool:
    """A private class other Functions derive from (``_FusedNormFn``): shared code, not an op."""
    return cls.__name__.startswith("_") and bool(cls.__subclasses__())


def test_every_function_is_covered(monkeypatch):
    """Each Function in minigrad must be reached (forward, backward or double backward) by the
    registry's samples; a new op without a registry entry fails here."""
    seen: set[type] = set()
    original = Function.apply.__func__

    def recording_apply(cls, *args, **kwargs):
        seen.add(cls)
        return original(cls, *args, **kwargs)

    monkeypatch.setattr(Function, "apply", classmethod(recording_apply))
    for op in OPS:
        sample = find(op.strategy(), lambda s: True, settings=settings(database=None))
        args = to_tensors(sample)
        out = op.fn(*args, **sample.kwargs)
        outs = out if isinstance(out, tuple | list) else [out]
        leaves = [a for a in args if isinstance(a, mg.Tensor) and a.requires_grad]
        for o in outs:
            if isinstance(o, mg.Tensor) and o.requires_grad:
                gs = mg.grad(o, leaves, grad_outputs=mg.ones_like(o), create_graph=True,
                             allow_unused=True)
                total = sum((g * g).sum() for g in gs if g is not None and g.requires_grad)
                if isinstance(total, mg.Tensor):
                    total.backward()
    missing = sorted(c.__qualname__ for c in _all_functions() - seen)
    assert not missing, f"Functions exercised by no registry entry: {missing}"


def test_registry_names_unique_and_callable():
    names = [o.name for o in OPS]
    assert len(names) == len(set(names))
    assert all(callable(o.fn) and callable(o.strategy) for o in OPS)


@pytest.mark.parametrize("op", OPS, ids=[o.name for o in OPS])
def test_float32_gradients_close_to_float64(op):
    """The same op in float32 gives gradients close to float64 (catches dtype slips)."""
    sample = find(op.strategy(), lambda s: True, settings=settings(database=None))
    grads = {}
    for dt in (np.float64, np.float32):
        args = to_tensors(sample, dtype=dt)
        leaves = [a for a in args if isinstance(a, mg.Tensor) and a.requires_grad]
        if not leaves:
            pytest.skip("no differentiable input")
        out = op.fn(*args, **sample.kwargs)
        assert out.dtype == dt, f"{op.name}: {dt.__name__} inputs gave a {out.dtype} output"
        (out * mg.tensor(np.linspace(-1, 1, out.numel()).reshape(out.shape).astype(dt))).sum(
        ).backward()
        grads[dt] = [leaf.grad.numpy() for leaf in leaves]
        assert all(leaf.grad.dtype == dt for leaf in leaves)
    for g64, g32 in zip(grads[np.float64], grads[np.float32]):
        np.testing.assert_allclose(g32, g64, rtol=1e-3, atol=1e-4)
