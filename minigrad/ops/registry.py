"""The op registry: one entry per differentiable op, the single source the test-suite iterates over.

Each entry names the op's user-facing callable, a Hypothesis strategy that draws valid inputs for it
(shapes with size-1 and broadcast axes, values kept away from the op's kinks), an optional NumPy
reference for the forward value, and the op's kinks in words. ``tests/test_gradients.py`` gradchecks
every entry in float64 and ``tests/test_forward.py`` compares every forward with its reference; a
test fails when a :class:`~minigrad.autograd.Function` defined in minigrad is exercised by no entry.

Strategies are built lazily (``OpInfo.strategy()`` imports Hypothesis only when called), so
``import minigrad`` never needs the test extra.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["OpInfo", "Sample", "register", "registry", "get"]


@dataclass(frozen=True)
class Sample:
    """One drawn call of an op: ``fn(*args, **kwargs)``.

    ``args`` holds NumPy arrays (float arrays become float64 tensors that require grad, others stay
    constant tensors) and plain Python values. ``grad_args`` restricts which positional float arrays
    are differentiated (default: all float arrays).
    """

    args: tuple[Any, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)
    grad_args: tuple[int, ...] | None = None

    def differentiable_positions(self) -> tuple[int, ...]:
        import numpy as np

        floats = tuple(
            i
            for i, a in enumerate(self.args)
            if isinstance(a, np.ndarray) and np.issubdtype(a.dtype, np.floating)
        )
        if self.grad_args is None:
            return floats
        return tuple(i for i in floats if i in self.grad_args)


@dataclass(frozen=True)
class OpInfo:
    """Description of one differentiable op.

    name:      the public name (``"conv2d"``, ``"Tensor.__mul__"`` ...).
    fn:        callable taking Tensors (and plain values) as laid out by the strategy's Samples.
    strategy:  zero-argument callable returning a Hypothesis strategy of :class:`Sample`.
    ref:       NumPy reference forward, same positional layout with arrays; None when the op is a
               pure composition already covered elsewhere.
    kinks:     the non-differentiable points and the convention used there, in words.
    gradgrad:  whether second-order gradients are checked (``gradgradcheck``).
    atol/rtol: forward tolerances against ``ref`` in float64.
    check_kwargs: extra keyword arguments for ``gradcheck`` (e.g. a larger ``eps``).
    """

    name: str
    fn: Callable[..., Any]
    strategy: Callable[[], Any]
    ref: Callable[..., Any] | None = None
    kinks: str = ""
    gradgrad: bool = True
    atol: float = 1e-8
    rtol: float = 1e-6
    check_kwargs: dict[str, Any] = field(default_factory=dict)


_REGISTRY: dict[str, OpInfo] = {}


def register(info: OpInfo) -> OpInfo:
    """Add ``info`` to the registry; names must be unique."""
    if info.name in _REGISTRY:
        raise ValueError(f"op {info.name!r} is registered twice")
    _REGISTRY[info.name] = info
    return info


def registry() -> Sequence[OpInfo]:
    """All registered ops, in registration order (importing :mod:`minigrad` registers them)."""
    import minigrad.ops  # noqa: F401  (populates the registry)

    return tuple(_REGISTRY.values())


def get(name: str) -> OpInfo:
    registry()
    return _REGISTRY[name]
