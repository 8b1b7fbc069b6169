"""Activation functions (PyTorch's ``nn.functional`` names and defaults) on Numba kernels.

Every kernel activation is two Functions that close over each other:

* ``ActivationFn``: ``y = f(x)`` by the map kernel; its backward is ``ActivationGradFn``.
* ``ActivationGradFn``: ``gx = g * f'(x)`` by the fused grad kernel (one pass, no temporaries). Its
  backward is written with Tensor ops: d/dg = ``ActivationGradFn(gg, x)`` and
  d/dx = ``gg * g * f''(x)``, where ``f''`` (``d2`` in ``kernels/scalar.py``, beside f and f') is
  evaluated on Tensors built from Tensor ops and ``ActivationFn`` itself, so ``create_graph=True``
  works to any order.
* sigmoid and tanh instead use ``ActivationOutputGradFn``: ``g * f'`` written in terms of the
  output y (y(1-y), 1-y^2), as PyTorch does; its backward is again Tensor ops.

Piecewise-linear activations (relu, leaky_relu, hardtanh) have ``f'' = 0`` away from their kinks;
at a kink the gradient uses PyTorch's convention (see ``kernels/scalar.py``). ``inplace=True`` is
accepted for signature compatibility and ignored: results are always new tensors.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np

from minigrad.autograd import Function
from minigrad.ops._args import dim as _args_dim
from minigrad.ops._args import float_tensor, one_of
from minigrad.ops.kernels import kernels_for
from minigrad.ops.kernels.scalar import ACTIVATIONS, FROM_OUTPUT
from minigrad.tensor import Tensor

__all__ = [
    "relu",
    "relu6",
    "leaky_relu",
    "elu",
    "selu",
    "celu",
    "sigmoid",
    "tanh",
    "silu",
    "gelu",
    "softplus",
    "hardtanh",
    "logsigmoid",
    "maxout",
    "heaviside",
    "step",
]

# SELU's constants (Klambauer et al. 2017), as PyTorch defines them
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


class ActivationFn(Function):
    """``y = f(x)`` for the kernel activation ``name`` with scalar parameters ``a, b``."""

    # where each kernel is not differentiable, and the gradient it uses there (PyTorch's)
    kinks = {
        "relu": "x = 0: gradient 0",
        "leaky_relu": "x = 0: gradient negative_slope",
        "hardtanh": "x = min_val and x = max_val (relu6: 0 and 6): gradient 0",
        "elu": "x = 0: f'' jumps (f' is continuous only for alpha = 1); selu and celu alike",
        "softplus": "beta * x = threshold: switches to x (f' jumps by 1/(1+e^threshold))",
    }

    @staticmethod
    def forward(ctx, x, *, name, a=0.0, b=0.0):
        y = kernels_for(x.data).activation.forward(name, x.data, a, b)
        # sigmoid and tanh differentiate from their output (no second exp in the backward)
        ctx.save_for_backward(y if name in FROM_OUTPUT else x)
        ctx.params = (name, a, b)
        return y

    @staticmethod
    def backward(ctx, g):
        (saved,) = ctx.saved_tensors
        name, a, b = ctx.params
        if name in FROM_OUTPUT:
            return ActivationOutputGradFn.apply(g, saved, name=name)
        return ActivationGradFn.apply(g, saved, name=name, a=a, b=b)


class ActivationOutputGradFn(Function):
    """``gx = g * f'(x)`` from the output ``y`` (sigmoid: y(1-y), tanh: 1-y^2), one kernel pass.

    ``y`` is the activation's saved output, still linked to its graph, so the Tensor-op backward
    below (d/dy of f' as a function of y) carries on into x.
    """

    @staticmethod
    def forward(ctx, g, y, *, name):
        ctx.save_for_backward(g, y)
        ctx.name = name
        return kernels_for(y.data).activation.backward_from_output(
            name, g.data.astype(y.dtype, copy=False), y.data)

    @staticmethod
    def backward(ctx, gg):
        g, y = ctx.saved_tensors
        need_g, need_y = ctx.needs_input_grad
        dg = ActivationOutputGradFn.apply(gg, y, name=ctx.name) if need_g else None
        dy = None
        if need_y:
            dy = gg * g * ACTIVATIONS[ctx.name].d2_output(y, _TENSOR_OPS)
        return dg, dy


class ActivationGradFn(Function):
    """``gx = g * f'(x)`` in one kernel pass; differentiable again through f'' (Tensor ops)."""

    @staticmethod
    def forward(ctx, g, x, *, name, a=0.0, b=0.0):
        ctx.save_for_backward(g, x)
        ctx.params = (name, a, b)
        return kernels_for(x.data).activation.backward(
            name, g.data.astype(x.dtype, copy=False), x.data, a, b)

    @staticmethod
    def backward(ctx, gg):
        g, x = ctx.saved_tensors
        name, a, b = ctx.params
        need_g, need_x = ctx.needs_input_grad
        dg = ActivationGradFn.apply(gg, x, name=name, a=a, b=b) if need_g else None
        d2 = ACTIVATIONS[name].d2
        dx = gg * g * d2(x, a, b, _TENSOR_OPS) if (need_x and d2 is not None) else None
        return dg, dx


def _apply(op: str, name: str, x: Tensor, a: float = 0.0, b: float = 0.0) -> Tensor:
    return ActivationFn.apply(float_tensor(op, "input", x), name=name, a=float(a), b=float(b))


# The namespace the second derivatives of kernels/scalar.py are written over, on Tensors: Tensor
# ops and the activation kernels themselves, so f'' is differentiable again; ``le(u, c)`` is the
# constant mask u <= c (no gradient through a comparison).
_TENSOR_OPS = SimpleNamespace(
    exp=lambda x: x.exp(),
    sigmoid=lambda x: ActivationFn.apply(x, name="sigmoid", a=0.0, b=0.0),
    tanh=lambda x: ActivationFn.apply(x, name="tanh", a=0.0, b=0.0),
    le=lambda u, c: Tensor._make((u.data <= c).astype(u.dtype)),
)


# -- public functions --------------------------------------------------------------------------


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(x, 0); gradient 0 at x = 0. input: any shape, float."""
    return _apply("relu", "relu", input)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """min(max(x, 0), 6) (= hardtanh(x, 0, 6))."""
    return _apply("relu6", "hardtanh", input, 0.0, 6.0)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x for x > 0, negative_slope * x otherwise (gradient negative_slope at 0)."""
    return _apply("leaky_relu", "leaky_relu", input, negative_slope)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x for x > 0, alpha * (exp(x) - 1) otherwise."""
    return _apply("elu", "elu", input, alpha, 1.0)


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """scale * elu(x, alpha) with SELU's fixed alpha and scale."""
    return _apply("selu", "elu", input, SELU_ALPHA, SELU_SCALE)


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""
    if alpha == 0:
        raise ValueError("celu: alpha must be non-zero")
    x = float_tensor("celu", "input", input)
    return _apply("celu", "elu", x * (1.0 / alpha), 1.0, 1.0) * alpha


def sigmoid(input: Tensor) -> Tensor:
    """1 / (1 + exp(-x)), computed without overflow for any x."""
    return _apply("sigmoid", "sigmoid", input)


def tanh(input: Tensor) -> Tensor:
    """Hyperbolic tangent by the activation kernel: the one tanh op (``mg.tanh``,
    ``Tensor.tanh`` and ``nn.Tanh`` call it too); the gradient 1 - y^2 is read from the output."""
    return _apply("tanh", "tanh", input)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """x * sigmoid(x) (a.k.a. swish)."""
    return _apply("silu", "silu", input)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """x * Phi(x) (``approximate='none'``, erf-based) or PyTorch's tanh approximation."""
    one_of("gelu", "approximate", approximate, ("none", "tanh"))
    return _apply("gelu", "gelu" if approximate == "none" else "gelu_tanh", input)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta * x)) / beta, and x itself where beta * x > threshold."""
    if beta == 0:
        raise ValueError("softplus: beta must be non-zero")
    return _apply("softplus", "softplus", input, beta, threshold)


def logsigmoid(input: Tensor) -> Tensor:
    """log(sigmoid(x)) = -softplus(-x), stable for any x."""
    x = float_tensor("logsigmoid", "input", input)
    return -_apply("logsigmoid", "softplus", -x, 1.0, math.inf)


def hardtanh(
    input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False
) -> Tensor:
    """x clipped to [min_val, max_val]; gradient 0 at and beyond the clip values."""
    if min_val > max_val:
        raise ValueError(
            f"hardtanh: min_val ({min_val}) cannot be greater than max_val ({max_val})"
        )
    return _apply("hardtanh", "hardtanh", input, min_val, max_val)


def maxout(input: Tensor, pieces: int, dim: int = 1) -> Tensor:
    """Max over groups of ``pieces`` consecutive channels along ``dim``.

    input: (..., C, ...) with C divisible by ``pieces`` -> (..., C // pieces, ...). Ties split the
    gradient as the core ``max`` does.
    """
    x = float_tensor("maxout", "input", input)
    if x.ndim == 0:
        raise ValueError("maxout: input must have at least one dimension")
    d = _args_dim("maxout", dim, x.ndim)
    if not isinstance(pieces, int) or pieces < 1 or x.shape[d] % pieces:
        raise ValueError(
            f"maxout: pieces ({pieces}) must be a positive divisor of input.shape[{dim}] = "
            f"{x.shape[d]} (input shape {x.shape})"
        )
    grouped = x.reshape(*x.shape[:d], x.shape[d] // pieces, pieces, *x.shape[d + 1 :])
    return grouped.max(axis=d + 1)


def heaviside(input: Tensor, values: Tensor | float) -> Tensor:
    """Step function: 0 for x < 0, ``values`` at x == 0, 1 for x > 0 (``torch.heaviside``).

    Not differentiable: the result is a constant (no graph), i.e. its gradient is taken as zero.
    """
    x = float_tensor("heaviside", "input", input)
    v = values.data if isinstance(values, Tensor) else np.asarray(values, dtype=x.dtype)
    return Tensor._make(np.heaviside(x.data, v).astype(x.dtype))


def step(input: Tensor) -> Tensor:
    """1 where x > 0, else 0, as a constant (zero gradient everywhere, like a hard threshold)."""
    x = float_tensor("step", "input", input)
    return Tensor._make((x.data > 0).astype(x.dtype))
