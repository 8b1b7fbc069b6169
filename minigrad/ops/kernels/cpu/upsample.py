"""Resampling along one axis (the kernels of ``F.interpolate``), float32 and float64.

An interpolation is separable: each spatial axis is resampled on its own, with a table that says,
for every output position ``o``, which input positions it reads and with what weights:

    nearest modes:  y[o] = x[i0[o]]
    linear modes:   y[o] = w0[o] * x[i0[o]] + w1[o] * x[i1[o]]

The tables hold PyTorch's coordinate rules and are built by the op (:mod:`minigrad.ops.upsample`);
the kernels only apply them. The array is viewed as (outer, L, inner) around the resampled axis,
so one pair of kernels serves every axis of every layout.

The backward is the transpose: each ``gy[o]`` is added back to the input positions it read, with
the same weights. Output positions are visited in order within one ``outer`` slice, and slices run
in parallel, so no two threads write the same ``gx`` element (no atomics, deterministic sums).
"""

from __future__ import annotations

import numpy as np
from numba import prange

from minigrad.ops.kernels import api
from minigrad.ops.kernels.cpu._jit import kernel

__all__ = list(api.UPSAMPLE)


@kernel
def _gather(x, i0, y):
    outer, n_out, inner = y.shape
    for p in prange(outer):
        for o in range(n_out):
            a = i0[o]
            for k in range(inner):
                y[p, o, k] = x[p, a, k]


@kernel
def _scatter(gy, i0, gx):
    outer, n_out, inner = gy.shape
    for p in prange(outer):
        gx[p] = 0.0  # zeroed slice by slice, while it is in cache
        for o in range(n_out):
            a = i0[o]
            for k in range(inner):
                gx[p, a, k] += gy[p, o, k]


@kernel
def _lerp(x, i0, i1, w0, w1, y):
    outer, n_out, inner = y.shape
    for p in prange(outer):
        for o in range(n_out):
            a, b = i0[o], i1[o]
            wa, wb = w0[o], w1[o]
            for k in range(inner):
                y[p, o, k] = wa * x[p, a, k] + wb * x[p, b, k]


@kernel
def _lerp_transpose(gy, i0, i1, w0, w1, gx):
    outer, n_out, inner = gy.shape
    for p in prange(outer):
        gx[p] = 0.0
        for o in range(n_out):
            a, b = i0[o], i1[o]
            wa, wb = w0[o], w1[o]
            for k in range(inner):
                g = gy[p, o, k]
                gx[p, a, k] += wa * g
                gx[p, b, k] += wb * g


def _three_d(shape: tuple[int, ...], axis: int) -> tuple[int, int, int]:
    """``shape`` as (outer, L, inner) around ``axis``."""
    return (int(np.prod(shape[:axis], dtype=np.int64)), shape[axis],
            int(np.prod(shape[axis + 1:], dtype=np.int64)))


def resample_forward(x: np.ndarray, axis: int, i0: np.ndarray, i1: np.ndarray | None,
                     w0: np.ndarray | None, w1: np.ndarray | None) -> np.ndarray:
    """x: (..., L, ...) -> y: (..., OL, ...) along ``axis``, OL = len(i0).

    i0, i1: int64 (OL,) input positions in [0, L); w0, w1: (OL,) weights in x's dtype, or all
    three None for the one-tap (nearest) gather.
    """
    shape = list(x.shape)
    shape[axis] = i0.size
    y = np.empty(shape, dtype=x.dtype)
    if 0 in shape:
        return y
    x3 = np.ascontiguousarray(x).reshape(_three_d(x.shape, axis))
    y3 = y.reshape(_three_d(y.shape, axis))
    if w0 is None:
        _gather(x3, i0, y3)
    else:
        _lerp(x3, i0, i1, w0, w1, y3)
    return y


def resample_backward(gy: np.ndarray, axis: int, length: int, i0: np.ndarray,
                      i1: np.ndarray | None, w0: np.ndarray | None,
                      w1: np.ndarray | None) -> np.ndarray:
    """gy: (..., OL, ...) -> gx: (..., length, ...): the transpose of :func:`resample_forward`
    with the same tables."""
    shape = list(gy.shape)
    shape[axis] = length
    if 0 in gy.shape:
        return np.zeros(shape, dtype=gy.dtype)
    gx = np.empty(shape, dtype=gy.dtype)
    gy3 = np.ascontiguousarray(gy).reshape(_three_d(gy.shape, axis))
    gx3 = gx.reshape(_three_d(gx.shape, axis))  # each slice is zeroed by the kernel
    if w0 is None:
        _scatter(gy3, i0, gx3)
    else:
        _lerp_transpose(gy3, i0, i1, w0, w1, gx3)
    return gx
