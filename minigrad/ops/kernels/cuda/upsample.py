"""Resampling along one axis on the GPU (the kernels of ``F.interpolate``), float32 and float64.

Same names, signatures and tables as ``kernels/cpu/upsample.py``; results are ``CudaArray``. The
array is viewed as (outer, L, inner) around the resampled axis.

* forward: one thread per output element, each reading its one or two taps;
* backward (the transpose): one thread per (outer, inner) column, walking the output positions
  in order and adding each into the input positions it read. A column is one thread's, so no two
  threads write one element: no atomics, and the sums come out in the same order as on the CPU.

Kernels are compiled on first use, once per dtype.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from minigrad.cuda._runtime import launch, load_cuda
from minigrad.ops.kernels import api
from minigrad.ops.kernels.cpu.upsample import _three_d
from minigrad.ops.kernels.cuda._common import device_zeros, float_dtype, from_device, to_device

__all__ = list(api.UPSAMPLE)

cuda: Any = None  # numba.cuda, bound by _kernels() on first use


def _gather(x, i0, y):
    _, n_out, inner = y.shape
    for e in range(cuda.grid(1), y.size, cuda.gridsize(1)):
        k = e % inner
        o = (e // inner) % n_out
        p = e // (inner * n_out)
        y[p, o, k] = x[p, i0[o], k]


def _lerp(x, i0, i1, w0, w1, y):
    _, n_out, inner = y.shape
    for e in range(cuda.grid(1), y.size, cuda.gridsize(1)):
        k = e % inner
        o = (e // inner) % n_out
        p = e // (inner * n_out)
        y[p, o, k] = w0[o] * x[p, i0[o], k] + w1[o] * x[p, i1[o], k]


def _scatter(gy, i0, gx):
    outer, n_out, inner = gy.shape
    for e in range(cuda.grid(1), outer * inner, cuda.gridsize(1)):
        k = e % inner
        p = e // inner
        for o in range(n_out):
            gx[p, i0[o], k] += gy[p, o, k]


def _lerp_transpose(gy, i0, i1, w0, w1, gx):
    outer, n_out, inner = gy.shape
    for e in range(cuda.grid(1), outer * inner, cuda.gridsize(1)):
        k = e % inner
        p = e // inner
        for o in range(n_out):
            g = gy[p, o, k]
            gx[p, i0[o], k] += w0[o] * g
            gx[p, i1[o], k] += w1[o] * g


@functools.cache
def _kernels() -> dict[str, Any]:
    global cuda
    cuda = load_cuda()
    return {k.__name__[1:]: cuda.jit(k) for k in (_gather, _lerp, _scatter, _lerp_transpose)}


def _tables(i0: Any, i1: Any, w0: Any, w1: Any, dtype: np.dtype) -> list[Any]:
    cu = load_cuda()
    out = [cu.to_device(np.ascontiguousarray(i0, dtype=np.int64))]
    if w0 is not None:
        out += [cu.to_device(np.ascontiguousarray(i1, dtype=np.int64)),
                cu.to_device(np.ascontiguousarray(w0, dtype=dtype)),
                cu.to_device(np.ascontiguousarray(w1, dtype=dtype))]
    return out


def resample_forward(x: Any, axis: int, i0: np.ndarray, i1: np.ndarray | None,
                     w0: np.ndarray | None, w1: np.ndarray | None) -> Any:
    """x: (..., L, ...) -> y: (..., OL, ...) along ``axis``, OL = len(i0) (see the CPU kernel)."""
    xd = to_device(x, float_dtype(x, op="interpolate", name="input"), op="interpolate",
                   name="input")
    shape = list(xd.shape)
    shape[axis] = len(i0)
    outer, n_in, inner = _three_d(tuple(xd.shape), axis)
    y = load_cuda().device_array((outer, len(i0), inner), dtype=xd.dtype)
    if y.size:
        name = "gather" if w0 is None else "lerp"
        _kernels()[name][launch(y.size)](xd.reshape(outer, n_in, inner),
                                         *_tables(i0, i1, w0, w1, xd.dtype), y)
    return from_device(y, tuple(shape))


def resample_backward(gy: Any, axis: int, length: int, i0: np.ndarray, i1: np.ndarray | None,
                      w0: np.ndarray | None, w1: np.ndarray | None) -> Any:
    """gy: (..., OL, ...) -> gx: (..., length, ...): the transpose of :func:`resample_forward`."""
    gyd = to_device(gy, float_dtype(gy, op="interpolate_backward", name="grad_output"),
                    op="interpolate_backward", name="grad_output")
    shape = list(gyd.shape)
    shape[axis] = length
    outer, n_out, inner = _three_d(tuple(gyd.shape), axis)
    gx = device_zeros((outer, length, inner), gyd.dtype)
    if gyd.size:
        name = "scatter" if w0 is None else "lerp_transpose"
        _kernels()[name][launch(outer * inner)](gyd.reshape(outer, n_out, inner),
                                                *_tables(i0, i1, w0, w1, gyd.dtype), gx)
    return from_device(gx, tuple(shape))
