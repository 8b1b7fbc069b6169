"""More activations with PyTorch's names and defaults: hardsigmoid, hardswish, softsign, mish,
tanhshrink, softshrink, hardshrink, threshold (pointwise), softmin and glu (compositions).

The pointwise ones are one ``Function``, :class:`PointwiseActivationFn`, driven by a table
(:data:`RULES`): per activation, ``f`` on arrays (NumPy, so it runs on either device through
``CudaArray``'s ufunc protocol), ``f'`` as Tensor ops (so the backward can be differentiated
again: ``create_graph=True`` works to any order) and the convention at its kinks, PyTorch's.
Each has the shape of an entry in the shared activation table of ``ops/kernels/scalar.py``
(f, f', f'' of x and two scalar parameters), where they belong once that table is on main: then
each becomes one fused kernel pass instead of the few NumPy passes here. softmin (softmax of -x)
and glu (a * sigmoid(b) over the two halves of ``dim``) are not pointwise and stay compositions
of existing ops.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from minigrad.autograd import Function
from minigrad.ops import activation as _act
from minigrad.ops import softmax as _sm
from minigrad.ops._args import dim as _dim
from minigrad.ops._args import float_tensor, real
from minigrad.ops.elementwise import abs as _abs
from minigrad.ops.elementwise import tanh as _tanh
from minigrad.tensor import Tensor

__all__ = ["hardsigmoid", "hardswish", "softsign", "mish", "tanhshrink", "softshrink",
           "hardshrink", "threshold", "softmin", "glu", "RULES"]


def _mask(cond: Any, like: Tensor) -> Tensor:
    """A constant 0/1 tensor of ``like``'s dtype (a piecewise-constant factor: derivative 0)."""
    return Tensor._make(cond.astype(like.dtype))


@dataclass(frozen=True)
class Rule:
    """One pointwise activation: ``f(x, a, b)`` on arrays, ``df(x, a, b)`` = f'(x) as Tensor
    ops, and what happens at its kinks. ``a``, ``b``: its scalar parameters (unused: 0)."""

    f: Callable[[Any, float, float], Any]
    df: Callable[[Tensor, float, float], Tensor]
    kinks: str = ""


def _hardswish_df(x: Tensor, a: float, b: float) -> Tensor:
    d = x.data
    middle = _mask((d > -3) & (d < 3), x)
    return middle * (x * (1 / 3) + 0.5) + _mask(d >= 3, x)


def _mish_f(x: Any, a: float, b: float) -> Any:
    return x * np.tanh(np.logaddexp(0, x))


def _mish_df(x: Tensor, a: float, b: float) -> Tensor:
    # d/dx x tanh(sp(x)) = tanh(sp) + x (1 - tanh(sp)^2) sigmoid(x), with sp = softplus
    t = _tanh(_act.softplus(x))
    return t + x * (1 - t * t) * _act.sigmoid(x)


RULES: dict[str, Rule] = {
    "hardsigmoid": Rule(
        lambda x, a, b: np.clip(x + 3, 0, 6) / 6,
        lambda x, a, b: _mask((x.data > -3) & (x.data < 3), x) * (1 / 6),
        "x = +-3: gradient 0 (PyTorch's)"),
    "hardswish": Rule(
        lambda x, a, b: x * (np.clip(x + 3, 0, 6) / 6),
        _hardswish_df,
        "x = -3: gradient 0 and x = 3: gradient 1 (the outer pieces', PyTorch's); f' jumps "
        "there (by 1/2)"),
    "softsign": Rule(
        lambda x, a, b: x / (1 + np.abs(x)),
        lambda x, a, b: 1 / ((1 + _abs(x)) * (1 + _abs(x))),
        "x = 0: f'' jumps (from 2 to -2); f' is continuous"),
    "mish": Rule(_mish_f, _mish_df),
    "tanhshrink": Rule(
        lambda x, a, b: x - np.tanh(x),
        lambda x, a, b: _tanh(x) * _tanh(x)),
    "softshrink": Rule(
        lambda x, a, b: np.where(x > a, x - a, np.where(x < -a, x + a, x * 0)),
        lambda x, a, b: _mask(np.abs(x.data) > a, x),
        "x = +-lambd: gradient 0 (PyTorch's)"),
    "hardshrink": Rule(
        lambda x, a, b: np.where(np.abs(x) > a, x, 0),
        lambda x, a, b: _mask(np.abs(x.data) > a, x),
        "x = +-lambd: f jumps; gradient 0 there (PyTorch's)"),
    "threshold": Rule(
        lambda x, a, b: np.where(x > a, x, b),
        lambda x, a, b: _mask(x.data > a, x),
        "x = threshold: f jumps (unless value = threshold); gradient 0 there (PyTorch's)"),
}


class PointwiseActivationFn(Function):
    """``y = f(x)`` for the activation ``name`` of :data:`RULES`; backward ``g * f'(x)``."""

    kinks = {name: rule.kinks for name, rule in RULES.items() if rule.kinks}

    @staticmethod
    def forward(ctx, x, *, name, a=0.0, b=0.0):
        ctx.save_for_backward(x)
        ctx.params = (name, a, b)
        return RULES[name].f(x.data, a, b)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        name, a, b = ctx.params
        return g * RULES[name].df(x, a, b)


def _apply(name: str, input: Any, a: float = 0.0, b: float = 0.0) -> Tensor:
    return PointwiseActivationFn.apply(float_tensor(name, "input", input), name=name, a=a, b=b)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """relu6(x + 3) / 6: 0 below -3, 1 above 3, linear between. input: any shape, float."""
    return _apply("hardsigmoid", input)


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * hardsigmoid(x) (MobileNetV3)."""
    return _apply("hardswish", input)


def softsign(input: Tensor) -> Tensor:
    """``x / (1 + abs(x))``."""
    return _apply("softsign", input)


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * tanh(softplus(x)) (Misra 2019)."""
    return _apply("mish", input)


def tanhshrink(input: Tensor) -> Tensor:
    """x - tanh(x)."""
    return _apply("tanhshrink", input)


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x - lambd above lambd, x + lambd below -lambd, 0 between (lambd >= 0)."""
    lambd = real("softshrink", "lambd", lambd)
    if lambd < 0:
        raise ValueError(f"softshrink: lambd must be >= 0, got {lambd!r}")
    return _apply("softshrink", input, lambd)


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """``x`` where ``abs(x) > lambd``, else 0."""
    return _apply("hardshrink", input, real("hardshrink", "lambd", lambd))


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """x where x > threshold, else ``value``."""
    return _apply("threshold", input, real("threshold", "threshold", threshold),
                  real("threshold", "value", value))


def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
            dtype: Any = None) -> Tensor:
    """softmax(-x) along ``dim`` (required, as :func:`minigrad.nn.functional.softmax`);
    ``dtype`` casts the input first."""
    x = float_tensor("softmin", "input", input)
    if dtype is not None:
        x = x.astype(dtype)
    if dim is None:
        raise TypeError("softmin: dim must be given (PyTorch's implicit dim choice is "
                        "deprecated)")
    return _sm.softmax(-x, _dim("softmin", dim, x.ndim))


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """Gated linear unit: ``a * sigmoid(b)`` where a and b are the first and second halves of
    ``input`` along ``dim``. input: (..., 2n, ...) -> (..., n, ...)."""
    x = float_tensor("glu", "input", input)
    if x.ndim == 0:
        raise ValueError("glu: input must have at least one dimension, got a 0-d tensor")
    if not isinstance(dim, int | np.integer) or isinstance(dim, bool) \
            or not -x.ndim <= dim < x.ndim:
        raise ValueError(f"glu: dim {dim!r} out of range for input of shape {x.shape}")
    d = int(dim) % x.ndim
    n = x.shape[d]
    if n % 2:
        raise ValueError(f"glu: halving dimension must be even, but dimension {dim} of input "
                         f"shape {x.shape} has size {n}")
    a, b = x.split(n // 2, d)
    return a * _act.sigmoid(b)
