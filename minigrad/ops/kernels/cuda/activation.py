"""Elementwise activations on the GPU: ``y = f(x)``, ``gx = gy * f'(x)``, float32 and float64.

Same names, arguments and results as ``kernels/cpu/activation.py``, from the same scalar
functions (``kernels/scalar.py``): one grid-stride ``map`` kernel and one ``grad`` kernel are
built around each activation's ``@cuda.jit(device=True)`` pair, so both devices compute the same
stable forms. The GPU's libm (``math.exp``, ``expm1``, ``tanh``, ``erfc``, ``log1p``) serves as the
maths: unlike on the CPU it is already fast and vectorises by construction. Under the simulator
the maths is NumPy's (the simulator runs device code as Python, where ``math.exp(1000.0)`` raises
instead of giving inf). No fastmath: NaN and inf propagate.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from minigrad.cuda._runtime import launch, load_cuda, sim
from minigrad.ops.kernels import api
from minigrad.ops.kernels.cuda._common import float_dtype, from_device, to_device
from minigrad.ops.kernels.scalar import ACTIVATIONS, FROM_OUTPUT, libm_maths, scalar_functions

cuda: Any = None  # numba.cuda, bound on first use (see _runtime)

__all__ = list(api.ACTIVATION)

THREADS = 256


@functools.cache
def _scalars(dtype: np.dtype) -> dict[str, tuple[Any, Any, Any]]:
    """``{name: (f, df, dy)}`` device functions for one float dtype (``dy`` from the output)."""
    global cuda
    cuda = load_cuda()
    jit = cuda.jit(device=True)
    ft = np.dtype(dtype).type
    return scalar_functions(jit, ft, libm_maths(jit, ft, np if sim() else math, math.erfc))


# Closures: a numba.cuda kernel cannot take a device function as an argument, so each scalar
# function gets its own kernel (the two kernel shapes, map and zip, written once).


@functools.cache
def _map_kernel(f: Any) -> Any:
    """``out[i] = f(x[i], a, b)``."""

    @cuda.jit
    def map_kernel(x, a, b, out):
        for i in range(cuda.grid(1), x.size, cuda.gridsize(1)):
            out[i] = f(x[i], a, b)

    return map_kernel


@functools.cache
def _grad_kernel(df: Any) -> Any:
    """``out[i] = gy[i] * df(v[i], a, b)``: v the input (``df`` = f') or the output (``dy``)."""

    @cuda.jit
    def grad_kernel(gy, v, a, b, out):
        for i in range(cuda.grid(1), v.size, cuda.gridsize(1)):
            out[i] = gy[i] * df(v[i], a, b)

    return grad_kernel


def _scalars_of(name: str, dtype: np.dtype) -> tuple[Any, Any, Any]:
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; known: {sorted(ACTIVATIONS)}")
    return _scalars(np.dtype(dtype))[name]


def _run(kernel: Any, out_shape: tuple[int, ...], dtype: np.dtype, *arrays: Any, a: float,
         b: float, name: str, names: tuple[str, ...]) -> Any:
    """Launch ``kernel(*arrays, a, b, out)`` over the flattened arrays (named ``names`` in
    errors); out: a ``CudaArray`` of ``out_shape``."""
    flat = [to_device(v, dtype, op=f"activation {name}", name=n) for v, n in zip(arrays, names)]
    flat = [d.reshape(d.size) for d in flat]
    out = load_cuda().device_array(flat[0].size, dtype=dtype)
    ft = dtype.type
    # inputs first, then the two scalar parameters in the array dtype, then the output
    kernel[launch(out.size, THREADS)](*flat, ft(a), ft(b), out)
    return from_device(out, out_shape)


def forward(name: str, x: Any, a: float = 0.0, b: float = 0.0) -> Any:
    """``y = f(x)`` for activation ``name``; x any shape, float32/float64; y: a ``CudaArray``."""
    dt = float_dtype(x, op=f"activation {name}")
    f, _, _ = _scalars_of(name, dt)
    return _run(_map_kernel(f), tuple(x.shape), dt, x, a=a, b=b, name=name, names=("input",))


def _backward(name: str, which: int, gy: Any, v: Any, a: float, b: float, what: str) -> Any:
    if tuple(gy.shape) != tuple(v.shape) or np.dtype(gy.dtype) != np.dtype(v.dtype):
        raise ValueError(f"activation {name} backward: gy {tuple(gy.shape)} {gy.dtype} must "
                         f"match {'x' if what == 'input' else 'y'} {tuple(v.shape)} {v.dtype}")
    dt = float_dtype(v, op=f"activation {name}")
    df = _scalars_of(name, dt)[which]
    return _run(_grad_kernel(df), tuple(v.shape), dt, gy, v, a=a, b=b, name=name,
                names=("grad_output", what))


def backward(name: str, gy: Any, x: Any, a: float = 0.0, b: float = 0.0) -> Any:
    """``gx = gy * f'(x)``; gy, x: same shape and dtype."""
    return _backward(name, 1, gy, x, a, b, "input")


def backward_from_output(name: str, gy: Any, y: Any, a: float = 0.0, b: float = 0.0) -> Any:
    """``gx = gy * f'(x)`` from the output ``y = f(x)``; only for ``FROM_OUTPUT``."""
    if name not in FROM_OUTPUT:
        raise ValueError(f"activation {name}: no derivative from the output; use backward()")
    return _backward(name, 2, gy, y, a, b, "output")
