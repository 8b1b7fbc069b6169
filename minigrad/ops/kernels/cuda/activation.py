"""Elementwise activations on the GPU: ``y = f(x)``, ``gx = gy * f'(x)``, float32 and float64.

Mirrors ``kernels/cpu/activation.py`` (same names, same two scalar parameters ``a``, ``b`` per
activation, same conventions at kinks, same stable forms): every activation is a pair of
``@cuda.jit(device=True)`` scalar functions, and one grid-stride ``map`` kernel and one ``grad``
kernel are built around each pair, so adding an activation is writing ``f`` and ``f'``.
selu is ``elu`` with PyTorch's fixed ``alpha`` and ``scale`` (the caller passes them).

Scalar functions are built once per float type so every constant has the input's type (a float64
literal would promote float32 arithmetic to float64, which is slow on most GPUs). The GPU's libm
(``math.exp``/``expm1``/``tanh``/``erfc``/``log1p``) is used directly: unlike on the CPU, it is
already fast and it vectorises by construction. No fastmath: NaN and inf propagate.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from minigrad.ops.kernels.cuda._common import float_dtype, launch, load_cuda, to_device

cuda: Any = None  # numba.cuda, bound on first use (see _common.load_cuda)

__all__ = ["ACTIVATIONS", "FROM_OUTPUT", "forward", "backward", "backward_from_output"]

# name -> meaning of (a, b), as kernels/cpu/activation.ACTIVATIONS
ACTIVATIONS: dict[str, tuple[str, str]] = {
    "relu": ("", ""),
    "leaky_relu": ("negative_slope", ""),
    "elu": ("alpha", "scale"),
    "sigmoid": ("", ""),
    "tanh": ("", ""),
    "silu": ("", ""),
    "gelu": ("", ""),
    "gelu_tanh": ("", ""),
    "softplus": ("beta", "threshold"),
    "hardtanh": ("min_val", "max_val"),
}
FROM_OUTPUT = frozenset({"sigmoid", "tanh"})
THREADS = 256


@functools.cache
def _scalars(dtype: np.dtype) -> dict[str, tuple[Any, Any, Any]]:
    """``{name: (f, df, dy)}`` device functions for one float dtype (``dy`` from the output)."""
    global cuda
    cuda = load_cuda()
    ft = np.dtype(dtype).type
    zero, half, one, two, four = ft(0), ft(0.5), ft(1), ft(2), ft(4)
    inv_sqrt2 = ft(1 / math.sqrt(2))
    inv_sqrt_2pi = ft(1 / math.sqrt(2 * math.pi))
    k_tanh = ft(math.sqrt(2 / math.pi))
    k_cube, k_cube3 = ft(0.044715), ft(3 * 0.044715)

    def jit(fn):
        return cuda.jit(device=True)(fn)

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
        return b * x if x > zero else b * a * math.expm1(x)

    @jit
    def d_elu(x, a, b):
        return b if x > zero else b * a * math.exp(x)

    @jit
    def sigmoid(x, a, b):
        # exp of a non-positive number only: no overflow for any x
        e = math.exp(-abs(x))
        s = one / (one + e)
        return s if x >= zero else (e * s if x < zero else x)

    @jit
    def d_sigmoid(x, a, b):
        # e/(1+e)^2 with e = exp(-|x|): accurate in both tails, unlike s*(1-s)
        e = math.exp(-abs(x))
        s = one / (one + e)
        return e * s * s

    @jit
    def tanh_(x, a, b):
        return math.tanh(x)

    @jit
    def d_tanh(x, a, b):
        e = math.exp(-two * abs(x))
        s = one / (one + e)
        return four * e * s * s

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
        return x * (half * math.erfc(-x * inv_sqrt2))

    @jit
    def d_gelu(x, a, b):
        return half * math.erfc(-x * inv_sqrt2) + x * inv_sqrt_2pi * math.exp(-half * x * x)

    @jit
    def gelu_tanh(x, a, b):
        return half * x * (one + math.tanh(k_tanh * (x + k_cube * x * x * x)))

    @jit
    def d_gelu_tanh(x, a, b):
        t = math.tanh(k_tanh * (x + k_cube * x * x * x))
        return half * (one + t) + half * x * (one - t * t) * k_tanh * (one + k_cube3 * x * x)

    @jit
    def softplus(x, a, b):
        z = a * x
        # log(1 + e^z) = max(z, 0) + log1p(e^-|z|): never overflows
        return x if z > b else (max(z, zero) + math.log1p(math.exp(-abs(z)))) / a

    @jit
    def d_softplus(x, a, b):
        z = a * x
        return one if z > b else sigmoid(z, a, b)

    @jit
    def hardtanh(x, a, b):
        return a if x < a else (b if x > b else x)

    @jit
    def d_hardtanh(x, a, b):
        return zero if (x <= a or x >= b) else one

    @jit
    def dy_sigmoid(y, a, b):
        return y * (one - y)

    @jit
    def dy_tanh(y, a, b):
        return one - y * y

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


@functools.cache
def _kernels(name: str, dtype: np.dtype) -> tuple[Any, Any, Any]:
    """(map, grad, output-grad or None) kernels of one activation for one dtype."""
    f, df, dy = _scalars(dtype)[name]

    @cuda.jit
    def map_kernel(x, a, b, out):
        for i in range(cuda.grid(1), x.size, cuda.gridsize(1)):
            out[i] = f(x[i], a, b)

    @cuda.jit
    def grad_kernel(gy, x, a, b, out):
        for i in range(cuda.grid(1), x.size, cuda.gridsize(1)):
            out[i] = gy[i] * df(x[i], a, b)

    output_grad_kernel = None
    if dy is not None:

        @cuda.jit
        def output_grad_kernel(gy, y, a, b, out):
            for i in range(cuda.grid(1), y.size, cuda.gridsize(1)):
                out[i] = gy[i] * dy(y[i], a, b)

    return map_kernel, grad_kernel, output_grad_kernel


def _lookup(name: str, dtype: np.dtype) -> tuple[Any, Any, Any]:
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; known: {sorted(ACTIVATIONS)}")
    return _kernels(name, np.dtype(dtype))


def _flat(a: Any, dtype: np.dtype, op: str, name: str) -> Any:
    d = to_device(a, dtype, op=op, name=name)
    return d.reshape(d.size)


def _run(kernel: Any, out_shape: tuple[int, ...], dtype: np.dtype, *arrays: Any,
         a: float, b: float) -> Any:
    """Launch ``kernel(*arrays, a, b, out)`` over flat arrays; out reshaped to ``out_shape``."""
    out = load_cuda().device_array(arrays[0].size, dtype=dtype)
    ft = dtype.type
    # inputs first, then the two scalar parameters in the array dtype, then the output
    kernel[launch(out.size, THREADS)](*arrays, ft(a), ft(b), out)
    # a 0-d result stays flat (1,): numba device arrays cannot all take shape ()
    return out.reshape(*out_shape) if out_shape else out


def forward(name: str, x: Any, a: float = 0.0, b: float = 0.0) -> Any:
    """``y = f(x)`` for activation ``name``; x any shape, float32/float64; y a device array."""
    dt = float_dtype(x, op=f"activation {name}")
    kernel = _lookup(name, dt)[0]
    return _run(kernel, tuple(x.shape), dt, _flat(x, dt, name, "input"), a=a, b=b)


def backward(name: str, gy: Any, x: Any, a: float = 0.0, b: float = 0.0) -> Any:
    """``gx = gy * f'(x)``; gy, x: same shape and dtype."""
    if tuple(gy.shape) != tuple(x.shape) or np.dtype(gy.dtype) != np.dtype(x.dtype):
        raise ValueError(f"activation {name} backward: gy {tuple(gy.shape)} {gy.dtype} must "
                         f"match x {tuple(x.shape)} {x.dtype}")
    dt = float_dtype(x, op=f"activation {name}")
    kernel = _lookup(name, dt)[1]
    return _run(kernel, tuple(x.shape), dt, _flat(gy, dt, name, "grad_output"),
                _flat(x, dt, name, "input"), a=a, b=b)


def backward_from_output(name: str, gy: Any, y: Any, a: float = 0.0, b: float = 0.0) -> Any:
    """``gx = gy * f'(x)`` from the output ``y = f(x)``; only for ``FROM_OUTPUT``."""
    if name not in FROM_OUTPUT:
        raise ValueError(f"activation {name}: no derivative from the output; use backward()")
    if tuple(gy.shape) != tuple(y.shape) or np.dtype(gy.dtype) != np.dtype(y.dtype):
        raise ValueError(f"activation {name} backward: gy {tuple(gy.shape)} {gy.dtype} must "
                         f"match y {tuple(y.shape)} {y.dtype}")
    dt = float_dtype(y, op=f"activation {name}")
    kernel = _lookup(name, dt)[2]
    return _run(kernel, tuple(y.shape), dt, _flat(gy, dt, name, "grad_output"),
                _flat(y, dt, name, "output"), a=a, b=b)
