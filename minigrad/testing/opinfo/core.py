"""The op database: one :class:`OpInfo` per differentiable op, the single source the tests iterate.

Each entry names the op's user-facing callable, a Hypothesis strategy that draws valid inputs for
it (shapes with size-1 and broadcast axes, values kept away from the op's kinks), a NumPy reference
for the forward value, and the op's kinks in words (read from the ``kinks`` attribute of the op's
Function in :mod:`minigrad.ops`, where a reader of the op sees them). ``tests/test_gradients.py``
gradchecks every entry in float64, ``tests/test_forward.py`` compares every forward with its
reference, ``tests/test_cuda_parity.py`` runs every entry on both devices; a test fails when a
:class:`~minigrad.autograd.Function` defined in minigrad is exercised by no entry.

The entries live in one module per op family (``opinfo/conv.py``, ``opinfo/pool.py``, ...), each
with a list ``op_db``, as PyTorch's ``torch/testing/_internal/opinfo``. The library imports
nothing from here. Strategies are built lazily (``OpInfo.strategy()``), so listing the database is
cheap.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["OpInfo", "Sample", "register", "registry", "get", "FAMILIES"]

#: The modules of minigrad.testing.opinfo that hold an ``op_db`` list, in registry order.
FAMILIES = ("activation", "conv", "to_device", "dropout", "elementwise", "linalg", "softmax",
            "loss", "normalization", "pool", "reduce", "shape", "distributed", "upsample", "fold",
            "embedding", "module", "index", "scan", "sort", "einsum", "math", "bitwise",
            "activation_extra",
            # issue 15, sequence models (h15b)
            "attention", "rnn",
            # issue 17, fused layer + ReLU (h17c)
            "fused")


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

    Args:
        name: the public name (``"conv2d"``, ``"Tensor.__mul__"`` ...).
        fn: callable taking Tensors (and plain values) as laid out by the strategy's Samples.
        strategy: zero-argument callable returning a Hypothesis strategy of :class:`Sample`.
        ref: NumPy reference forward, same positional layout with arrays.
        kinks: the non-differentiable points and the convention used there, in words (the
            ``kinks`` of the op's Function).
        gradgrad: whether second-order gradients are checked (``gradgradcheck``).
        atol: absolute forward tolerance against ``ref`` in float64.
        rtol: relative forward tolerance against ``ref`` in float64.
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


_EXTRA: list[OpInfo] = []


def register(info: OpInfo) -> OpInfo:
    """Add ``info`` (an op of your own) to the registry, after the built-in ops; names must be
    unique."""
    if any(o.name == info.name for o in registry()):
        raise ValueError(f"op {info.name!r} is registered twice")
    _EXTRA.append(info)
    return info


def registry() -> Sequence[OpInfo]:
    """All registered ops: the built-in families in :data:`FAMILIES` order, then
    :func:`register`'s."""
    ops = [info for family in FAMILIES
           for info in importlib.import_module(f"minigrad.testing.opinfo.{family}").op_db]
    return tuple(ops + _EXTRA)


def get(name: str) -> OpInfo:
    """The registered op called ``name``."""
    for info in registry():
        if info.name == name:
            return info
    raise KeyError(f"no op {name!r} in the registry")
