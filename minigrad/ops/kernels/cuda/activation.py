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

from minigrad.ops.kernels.cuda._common import float_dtype, launch, load_cuda, to_device
from minigrad.ops.kernels.scalar import ACTIVATIONS, FROM_OUTPUT, libm_maths, scalar_functions

cuda: Any = None  # numba.cuda, bound on first use (see _common.load_cuda)

__all__ = ["ACTIVATIONS", "FROM_OUTPUT", "forward", "backward", "backward_from_output"]

THREADS = 256


@functools.cache
def _scalars(dtype: np.dtype) -> dict[str, tuple[Any, Any, Any]]:
    """``{name: (f, df, dy)}`` device functions for one float dtype (``dy`` from the output)."""
    global cuda
    cuda = load_cuda()
    from minigrad.cuda._launch import _sim

    jit = cuda.jit(device=True)
    ft = np.dtype(dtype).type
    return scalar_functions(jit, ft, libm_maths(jit, ft, np if _sim() else math, math.erfc))


@functools.cache
def _kernels(name: str, dtype: np.dtype) -> tuple[Any, Any, Any]:
    """(map, grad, output-grad or None) kernels of one activation for one dtype. Closures: a
    numba.cuda kernel cannot take a device function as an argument, so each activation's kernels
    are specialised by capturing its scalar functions."""
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
