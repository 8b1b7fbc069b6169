"""Elementwise activation kernels on the CPU: ``y = f(x)`` and ``gx = gy * f'(x)``, float32 and
float64.

Two kernel shapes are written once (MiniTorch's ``map`` and ``zip``) and every activation is the
pair of scalar functions of ``kernels/scalar.py`` handed to them (the same source the GPU kernels
compile), so adding an activation means writing ``f`` and ``f'``, not a loop. A kernel built this
way runs as fast as a hand-written loop, because the scalar function is resolved at compile time
and inlines (passing it as a runtime argument does not inline and was 2.5x slower).

The scalar functions are compiled once per float type, with the float32 polynomial maths of
``f32math.py`` (they vectorise; libm calls do not) and libm for float64. The loops use 512-bit
vectors where the CPU has them (``_jit.wide_vectors``).

Public entry points take arrays of any layout and return new C-contiguous arrays:
:func:`forward` and :func:`backward`, selected by activation name (see ``ACTIVATIONS``), and
:func:`backward_from_output` for the activations in ``FROM_OUTPUT``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from numba import prange, types
from numba.extending import overload

from minigrad.ops.kernels import api, scalar
from minigrad.ops.kernels.cpu import f32math
from minigrad.ops.kernels.cpu._jit import PARALLEL_MIN_SIZE, Kernel, inline, kernel, wide_vectors
from minigrad.ops.kernels.scalar import ACTIVATIONS, FROM_OUTPUT

__all__ = [*api.ACTIVATION, "kernel", "Kernel", "PARALLEL_MIN_SIZE"]

# numba type -> {name: (f, df, dy)}: the table compiled for the CPU
_SCALARS = {
    t: scalar.scalar_functions(inline, ft, f32math.CPU_MATHS[ft])
    for t, ft in ((types.float32, np.float32), (types.float64, np.float64))
}

# Numba's disk cache keys a kernel on its own source file and closure variables only, not on the
# scalar functions it inlines from other files: the kernels carry this digest of those files, so
# that a change to a formula recompiles them instead of running a stale cached kernel.
_SOURCES = hashlib.sha256(b"".join(
    Path(m.__file__).read_bytes() for m in (scalar, f32math))).hexdigest()[:16]


# ------------------------------------------------------------------------------------------------
# the two kernel shapes

def _apply(which, name, x, a, b, sources):  # pragma: no cover - resolved by the overload below
    """``f``, ``df`` or ``dy`` (``which`` = 0, 1, 2) of activation ``name`` at ``x``, for jitted
    code; ``sources`` is only part of the caller's cache key (see ``_SOURCES``)."""
    raise NotImplementedError


@overload(_apply, inline="always")
def _apply_impl(which, name, x, a, b, sources):
    if (isinstance(which, types.IntegerLiteral) and isinstance(name, types.StringLiteral)
            and x in _SCALARS):
        fn = _SCALARS[x][name.literal_value][which.literal_value]
        return lambda which, name, x, a, b, sources: fn(x, a, b)
    return None


# The kernels close over the activation's *name* (and the sources' digest) only and reach its
# scalar functions through the overload above: Numba keys its disk cache on the pickled closure,
# and a captured dispatcher pickles differently in every process (the cache would never be hit).
def _make_map(name, sources=_SOURCES):
    @kernel
    def map_kernel(x, a, b, out):
        for i in prange(x.size):
            wide_vectors()
            out[i] = _apply(0, name, x[i], a, b, sources)

    return map_kernel


def _make_grad(name, which, sources=_SOURCES):
    """``out = gy * f'``: of the input v (``which`` = 1, df) or from the output v (2, dy)."""

    @kernel
    def grad_kernel(gy, v, a, b, out):
        for i in prange(v.size):
            wide_vectors()
            out[i] = gy[i] * _apply(which, name, v[i], a, b, sources)

    return grad_kernel


# name -> (map kernel, grad kernel, output-grad kernel or None); building compiles nothing
_KERNELS: dict[str, tuple] = {
    name: (
        _make_map(name),
        _make_grad(name, 1),
        _make_grad(name, 2) if name in FROM_OUTPUT else None,
    )
    for name in ACTIVATIONS
}


def _lookup(name: str, dtype: np.dtype) -> tuple:
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; known: {sorted(ACTIVATIONS)}")
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"activation {name}: dtype must be float32 or float64, got {dtype}")
    return _KERNELS[name]


def forward(name: str, x: np.ndarray, a: float = 0.0, b: float = 0.0) -> np.ndarray:
    """``y = f(x)`` for activation ``name``. x: any shape, float32/float64; y: same shape, dtype."""
    kernel = _lookup(name, x.dtype)[0]
    # the result owns its memory (not a reshape view), so autograd can hand it on uncopied
    out = np.empty(x.shape, x.dtype)
    kernel(np.ascontiguousarray(x).reshape(-1), x.dtype.type(a), x.dtype.type(b), out.reshape(-1))
    return out


def backward(
    name: str, gy: np.ndarray, x: np.ndarray, a: float = 0.0, b: float = 0.0
) -> np.ndarray:
    """``gx = gy * f'(x)``; gy, x: same shape and dtype."""
    if gy.shape != x.shape or gy.dtype != x.dtype:
        raise ValueError(
            f"activation {name} backward: gy {gy.shape} {gy.dtype} must match x {x.shape} {x.dtype}"
        )
    kernel = _lookup(name, x.dtype)[1]
    xf = np.ascontiguousarray(x).reshape(-1)
    gf = np.ascontiguousarray(gy).reshape(-1)
    out = np.empty(x.shape, x.dtype)
    kernel(gf, xf, x.dtype.type(a), x.dtype.type(b), out.reshape(-1))
    return out


def backward_from_output(
    name: str, gy: np.ndarray, y: np.ndarray, a: float = 0.0, b: float = 0.0
) -> np.ndarray:
    """``gx = gy * f'(x)`` computed from the output ``y = f(x)``; only for ``FROM_OUTPUT``."""
    if name not in FROM_OUTPUT:
        raise ValueError(f"activation {name}: no derivative from the output; use backward()")
    if gy.shape != y.shape or gy.dtype != y.dtype:
        raise ValueError(
            f"activation {name} backward: gy {gy.shape} {gy.dtype} must match y {y.shape} {y.dtype}"
        )
    kernel = _lookup(name, y.dtype)[2]
    yf = np.ascontiguousarray(y).reshape(-1)
    out = np.empty(y.shape, y.dtype)
    kernel(np.ascontiguousarray(gy).reshape(-1), yf, y.dtype.type(a), y.dtype.type(b),
           out.reshape(-1))
    return out
