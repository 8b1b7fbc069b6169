"""Activations as scalar functions, written once: f, f', f'' and the rule in words.

MiniTorch's ``operators.py`` idea: an activation is a few scalar functions, and the loops around
them are written once per backend (``kernels/cpu/activation.py``: Numba ``map`` and ``zip``
loops; ``kernels/cuda/activation.py``: grid-stride numba.cuda kernels). Adding an activation is
adding its scalar functions here and an entry to :data:`ACTIVATIONS`, not a new kernel.

:func:`scalar_functions` builds the functions for one target from one source. It takes

* the target's ``jit`` decorator: ``njit(inline="always")`` on the CPU (the function inlines into
  the vectorised loop), ``cuda.jit(device=True)`` on the GPU;
* the float type: every constant is made in it (``float32 * 0.5`` would silently compute in
  float64, which is slow on the CPU's vector units and on most GPUs);
* the target's maths (:class:`Maths`): on the CPU in float32 the polynomials of
  ``kernels/cpu/f32math.py`` (libm calls do not vectorise), elsewhere libm (:func:`libm_maths`).

So both devices compute the same numerically stable forms (sigmoid from ``exp(-|x|)``, gelu's
tanh form as ``x * sigmoid(2u)`` with no ``1 + tanh(u)`` cancellation for x << 0, softplus as
``max(z, 0) + log1p(exp(-|z|))``) and agree to a few ulp of their maths, in the tails too.
Conventions at kinks follow PyTorch: relu'(0) = 0, leaky_relu'(0) = slope, hardtanh' = 0 at the
clip values, elu'(0) = alpha * scale. No fastmath: NaN and inf propagate as in PyTorch.

Beside the compiled functions each activation has, in :data:`ACTIVATIONS`:

* ``d2``: f'' as an array expression over a small namespace ``ops`` (``exp``, ``sigmoid``,
  ``tanh``, ``le``). ``ops/activation.py`` evaluates it on Tensors, built from Tensor ops and the
  activation kernels themselves, so ``create_graph=True`` works to any order; the tests evaluate
  it on NumPy arrays. ``None``: f'' is 0 away from the kinks.
* ``d2_output``: for the activations differentiated from their output y (sigmoid, tanh, as
  PyTorch's ``sigmoid_backward``/``tanh_backward``: a multiply instead of a second ``exp``), the
  derivative of f'(y) with respect to y.
* ``explain``: f' in words, shown by ``minigrad.explain``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

__all__ = ["ACTIVATIONS", "FROM_OUTPUT", "Activation", "Maths", "libm_maths",
           "scalar_functions"]

# gelu's tanh approximation: 0.5 x (1 + tanh(K_TANH (x + K_CUBE x^3)))
K_TANH = math.sqrt(2 / math.pi)
K_CUBE = 0.044715
INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)


class Maths(NamedTuple):
    """The scalar maths one target gives the activations (each a jit-compatible function)."""

    exp_nonpos: Callable[[Any], Any]  # exp(x) for x <= 0 (or NaN): all the activations need
    expm1: Callable[[Any], Any]
    tanh: Callable[[Any], Any]
    log1p_unit: Callable[[Any], Any]  # log(1 + u) for u in [0, 1]
    gelu_parts: Callable[[Any], Any]  # (Phi(x), exp(-x*x/2)): the normal CDF and gelu'(x)'s exp


def libm_maths(jit: Callable, ft: type, lib: Any, erfc: Callable) -> Maths:
    """:class:`Maths` from a libm-like module ``lib`` (``exp``, ``expm1``, ``tanh``, ``log1p``)
    and an ``erfc``: ``math`` in float64 on the CPU and on a GPU (where libm is fast and
    vectorises by construction); NumPy under the CUDA simulator, which runs device code as Python
    (``math.exp`` of a large number raises there instead of giving inf)."""
    half, inv_sqrt2 = ft(0.5), ft(1 / math.sqrt(2))
    exp = lib.exp

    @jit
    def gelu_parts(x):
        return half * erfc(-x * inv_sqrt2), exp(-half * x * x)

    return Maths(exp, lib.expm1, lib.tanh, lib.log1p, gelu_parts)


def scalar_functions(jit: Callable, ft: type, m: Maths) -> dict[str, tuple[Any, Any, Any]]:
    """``{name: (f, df, dy)}`` compiled with ``jit`` for float type ``ft`` and maths ``m``.

    ``f(x, a, b) -> y`` and ``df(x, a, b) -> f'(x)``, with ``a, b`` the activation's two scalar
    parameters (see :data:`ACTIVATIONS`); ``dy(y, a, b) -> f'(x)`` from the output ``y = f(x)``
    for the activations in :data:`FROM_OUTPUT`, else None.
    """
    zero, one, two, four = ft(0), ft(1), ft(2), ft(4)
    inv_sqrt_2pi = ft(INV_SQRT_2PI)
    k_tanh, k_cube, k_cube3 = ft(K_TANH), ft(K_CUBE), ft(3 * K_CUBE)
    exp_np, expm1, tanh, log1p_unit, gelu_parts = m

    @jit
    def relu(x, a, b):
        return zero if x <= zero else x  # NaN <= 0 is False: NaN passes through

    @jit
    def d_relu(x, a, b):
        return zero if x <= zero else one

    @jit
    def leaky_relu(x, a, b):
        return x if x > zero else x * a

    @jit
    def d_leaky_relu(x, a, b):
        return one if x > zero else a

    @jit
    def elu(x, a, b):
        # both branches computed, then selected: with expm1 inside the conditional LLVM emitted
        # predicated code that ran 4x slower on the CPU
        negative = b * a * expm1(x)
        return b * x if x > zero else negative

    @jit
    def d_elu(x, a, b):
        negative = b * a * exp_np(min(x, zero))
        return b if x > zero else negative

    @jit
    def sigmoid(x, a, b):
        # exp of a non-positive number only: no overflow for any x
        e = exp_np(-abs(x))
        s = one / (one + e)
        return s if x >= zero else (e * s if x < zero else x)

    @jit
    def d_sigmoid(x, a, b):
        # s(1-s) = e/(1+e)^2 with e = exp(-|x|): accurate in both tails, unlike s*(1-s)
        e = exp_np(-abs(x))
        s = one / (one + e)
        return e * s * s

    @jit
    def dy_sigmoid(y, a, b):
        return y * (one - y)

    @jit
    def tanh_(x, a, b):
        return tanh(x)

    @jit
    def d_tanh(x, a, b):
        # 1 - tanh^2 = 4e/(1+e)^2 with e = exp(-2|x|): keeps relative accuracy for large |x|
        e = exp_np(-two * abs(x))
        s = one / (one + e)
        return four * e * s * s

    @jit
    def dy_tanh(y, a, b):
        return one - y * y

    @jit
    def silu(x, a, b):
        return x * sigmoid(x, a, b)

    @jit
    def d_silu(x, a, b):
        s = sigmoid(x, a, b)
        return s * (one + x * (one - s))

    @jit
    def gelu(x, a, b):
        # x * Phi(x) with Phi(x) = erfc(-x/sqrt2)/2: no cancellation in the negative tail
        phi, _ = gelu_parts(x)
        return x * phi

    @jit
    def d_gelu(x, a, b):
        phi, e = gelu_parts(x)
        return phi + x * inv_sqrt_2pi * e

    @jit
    def gelu_tanh(x, a, b):
        # 0.5 x (1 + tanh(u)) = x sigmoid(2u): 1 + tanh(u) cancels for x << 0, the sigmoid does not
        u2 = two * k_tanh * (x + k_cube * x * x * x)
        return x * sigmoid(u2, a, b)

    @jit
    def d_gelu_tanh(x, a, b):
        # with s = sigmoid(2u): 0.5(1 + tanh u) = s and 0.5(1 - tanh^2 u) = 2 s(1 - s)
        u2 = two * k_tanh * (x + k_cube * x * x * x)
        return sigmoid(u2, a, b) + two * x * d_sigmoid(u2, a, b) * k_tanh * (one + k_cube3 * x * x)

    @jit
    def softplus(x, a, b):
        z = a * x
        # log(1 + e^z) = max(z, 0) + log1p(e^-|z|): never overflows
        soft = (max(z, zero) + log1p_unit(exp_np(-abs(z)))) / a
        return x if z > b else soft

    @jit
    def d_softplus(x, a, b):
        z = a * x
        s = sigmoid(z, a, b)
        return one if z > b else s

    @jit
    def hardtanh(x, a, b):
        return a if x < a else (b if x > b else x)

    @jit
    def d_hardtanh(x, a, b):
        return zero if (x <= a or x >= b) else one

    return {
        "relu": (relu, d_relu, None),
        "leaky_relu": (leaky_relu, d_leaky_relu, None),
        "elu": (elu, d_elu, None),
        "sigmoid": (sigmoid, d_sigmoid, dy_sigmoid),
        "tanh": (tanh_, d_tanh, dy_tanh),
        "silu": (silu, d_silu, None),
        "gelu": (gelu, d_gelu, None),
        "gelu_tanh": (gelu_tanh, d_gelu_tanh, None),
        "softplus": (softplus, d_softplus, None),
        "hardtanh": (hardtanh, d_hardtanh, None),
    }


# ------------------------------------------------------------------------------------------------
# f'' as array expressions (``ops``: exp, sigmoid, tanh, and ``le(u, c)``, the constant 0/1 mask
# of u <= c), written in the order of the Tensor ops they become


def _d2_elu(x, a, b, ops):
    # elu = b*x for x > 0, b*a*(e^x - 1) otherwise
    return ops.le(x, 0) * (b * a) * ops.exp(x)


def _d2_silu(x, a, b, ops):
    s = ops.sigmoid(x)
    return s * (1 - s) * (2 + x * (1 - 2 * s))


def _d2_gelu(x, a, b, ops):
    # gelu'' = phi(x) (2 - x^2) with phi the standard normal density
    return ops.exp(x * x * -0.5) * INV_SQRT_2PI * (2 - x * x)


def _d2_gelu_tanh(x, a, b, ops):
    k, c = K_TANH, K_CUBE
    t = ops.tanh(k * (x + c * x * x * x))
    du = k * (1 + 3 * c * x * x)
    d2u = 6 * k * c * x
    return (1 - t * t) * (du + 0.5 * x * (d2u - 2 * t * du * du))


def _d2_softplus(x, a, b, ops):
    z = a * x
    s = ops.sigmoid(z)
    return ops.le(z, b) * a * s * (1 - s)


@dataclass(frozen=True)
class Activation:
    """What an activation is besides its compiled f and f' (see the module docstring)."""

    params: tuple[str, str]  # the meaning of the scalar parameters (a, b); "" if unused
    explain: str
    d2: Callable[..., Any] | None = None  # f''(x, a, b, ops)
    d2_output: Callable[..., Any] | None = None  # d f'(y) / dy (y, ops), with f' from y


ACTIVATIONS: dict[str, Activation] = {
    "relu": Activation(
        ("", ""), "d relu(x)/dx = 1 if x > 0 else 0: dY passes where the input was positive"),
    "leaky_relu": Activation(
        ("negative_slope", ""), "d/dx = 1 if x > 0 else the negative slope"),
    "elu": Activation(  # selu = elu with PyTorch's fixed alpha and scale
        ("alpha", "scale"), "d/dx = 1 if x > 0 else alpha*e^x (times the scale, for SELU)",
        d2=_d2_elu),
    "sigmoid": Activation(
        ("", ""), "d sigma(x)/dx = sigma(x)(1 - sigma(x)), at most 1/4",
        d2_output=lambda y, ops: 1 - 2 * y),
    "tanh": Activation(
        ("", ""), "d tanh(x)/dx = 1 - tanh(x)^2", d2_output=lambda y, ops: -2 * y),
    "silu": Activation(
        ("", ""), "d(x*sigma(x))/dx = sigma(x)(1 + x(1 - sigma(x)))", d2=_d2_silu),
    "gelu": Activation(
        ("", ""), "d(x*Phi(x))/dx = Phi(x) + x*phi(x) (Phi, phi: normal cdf and pdf)",
        d2=_d2_gelu),
    "gelu_tanh": Activation(
        ("", ""), "derivative of the tanh approximation of x*Phi(x)", d2=_d2_gelu_tanh),
    "softplus": Activation(
        ("beta", "threshold"), "d log(1+e^x)/dx = sigma(x)", d2=_d2_softplus),
    "hardtanh": Activation(
        ("min_val", "max_val"), "d/dx = 1 inside [min, max], 0 where the input was clipped"),
}

# activations whose derivative is computed from the output y (the kernels' ``dy``)
FROM_OUTPUT = frozenset(n for n, act in ACTIVATIONS.items() if act.d2_output is not None)
