"""Batch-norm kernels on the GPU, on (N, C, S) device arrays (S = the flattened spatial axes).

Mirrors ``kernels/cpu/norm.py`` (statistics and gradient sums in float64, two-pass variance):

* ``batch_stats``: one block per channel (grid-stride over channels). The block's threads stride
  over the channel's N*S elements (consecutive threads read consecutive elements of each
  contiguous run of S), reduce in a float64 shared-memory tree (``THREADS`` wide, a power of
  two): the sum gives the mean, a second pass the biased variance. The same kernel writes
  ``invstd = 1/sqrt(var + eps)`` and, in training, updates the running statistics in place
  (``running = (1 - momentum) * running + momentum * stat``, unbiased variance), so a training
  forward is two launches (statistics, normalisation) and never touches the host.
* ``batch_norm_forward``: ``y = (x - mean) * invstd * w + b``, one thread per element over a
  grid-stride loop, evaluated in float64 (as the CPU kernel: no cancellation when |mean| >> std).
* ``batch_norm_backward``: one block per channel: the two sums ``sum(g)`` and
  ``sum(g * (x - mean))`` (tree-reduced), then the same block writes its channel's
  ``gx = k*g + q*(x - mean) + r`` and ``gweight``, ``gbias``: one launch.

One block per channel keeps every reduction deterministic (no atomics); with few channels and
very large N*S a real GPU is under-occupied (C blocks), which is the price of that simplicity.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from minigrad.cuda._runtime import add, block_reduce, launch, load_cuda, sim
from minigrad.ops.kernels import api
from minigrad.ops.kernels.cuda._common import float_dtype, from_device, to_device

__all__ = list(api.NORM)

THREADS = 256  # per block (one channel) on a GPU, and the shared buffer's length; a power of two
SIM_THREADS = 32  # under the simulator every thread is a Python thread
ELEMENTWISE_THREADS = 256
MAX_BLOCKS = 65535


# numba.cuda and the block reduction the kernels call, bound by _kernels() on first use
cuda: Any = None
block_sum: Any = None


def _stats(x, eps, momentum, update_mean, update_var, rm, rv, mean, invstd):
    buf = cuda.shared.array(THREADS, dtype=np.float64)
    n, c, s = x.shape
    count = n * s
    tid = cuda.threadIdx.x
    for ch in range(cuda.blockIdx.x, c, cuda.gridDim.x):
        acc = 0.0
        for e in range(tid, count, cuda.blockDim.x):
            i = e // s
            acc += x[i, ch, e - i * s]
        m = block_sum(buf, acc) / count
        acc = 0.0
        for e in range(tid, count, cuda.blockDim.x):
            i = e // s
            d = x[i, ch, e - i * s] - m
            acc += d * d
        var = block_sum(buf, acc) / count
        if tid == 0:
            mean[ch] = m
            invstd[ch] = 1.0 / math.sqrt(var + eps)
            if update_mean:
                rm[ch] = (1.0 - momentum) * rm[ch] + momentum * m
            if update_var:
                rv[ch] = (1.0 - momentum) * rv[ch] + momentum * var * count / (count - 1)


def _normalize(x, mean, invstd, w, b, has_w, has_b, y):
    n, c, s = x.shape
    for e in range(cuda.grid(1), n * c * s, cuda.gridsize(1)):
        k = e % s
        ch = (e // s) % c
        i = e // (s * c)
        sc = invstd[ch]
        if has_w:
            sc *= w[ch]
        v = (x[i, ch, k] - mean[ch]) * sc
        if has_b:
            v += b[ch]
        y[i, ch, k] = v


def _backward(g, x, mean, invstd, w, has_w, gx, gw, gb):
    buf = cuda.shared.array(THREADS, dtype=np.float64)
    n, c, s = x.shape
    count = n * s
    tid = cuda.threadIdx.x
    for ch in range(cuda.blockIdx.x, c, cuda.gridDim.x):
        m = mean[ch]
        a_g = 0.0
        a_gx = 0.0
        for e in range(tid, count, cuda.blockDim.x):
            i = e // s
            k = e - i * s
            gv = g[i, ch, k]
            a_g += gv
            a_gx += gv * (x[i, ch, k] - m)
        sum_g = block_sum(buf, a_g)
        sum_gxhat = block_sum(buf, a_gx) * invstd[ch]
        if tid == 0:
            gb[ch] = sum_g
            gw[ch] = sum_gxhat
        kk = invstd[ch]
        if has_w:
            kk *= w[ch]
        q = -kk * invstd[ch] * sum_gxhat / count
        r = -kk * sum_g / count
        for e in range(tid, count, cuda.blockDim.x):
            i = e // s
            k = e - i * s
            gx[i, ch, k] = kk * g[i, ch, k] + q * (x[i, ch, k] - m) + r


@functools.cache


def _kernels() -> dict[str, Any]:
    """The kernels above compiled for numba.cuda; numba specialises each per dtype."""
    global cuda, block_sum
    cuda = load_cuda()
    block_sum = block_reduce(add())
    return {"stats": cuda.jit(_stats), "normalize": cuda.jit(_normalize),
            "backward": cuda.jit(_backward)}


def _threads() -> int:
    return SIM_THREADS if sim() else THREADS


def _ncs(a: Any, dtype: np.dtype, op: str, name: str) -> Any:
    d = to_device(a, dtype, op=op, name=name)
    return d.reshape(d.shape[0], d.shape[1], d.size // max(1, d.shape[0] * d.shape[1]))


def _grid(c: int) -> int:
    return max(1, min(c, MAX_BLOCKS))


def _vec(a: Any, fallback_dtype: np.dtype, op: str, name: str) -> tuple[Any, bool]:
    """(device vector, present): a 1-element placeholder stands in for None."""
    if a is None:
        return load_cuda().device_array(1, dtype=fallback_dtype), False
    return to_device(a, np.dtype(a.dtype), op=op, name=name), True


def batch_stats(x: Any, eps: float, running_mean: Any = None, running_var: Any = None,
                momentum: float = 0.1) -> tuple[Any, Any]:
    """Per-channel mean and ``1/sqrt(biased var + eps)`` (float64 device arrays (C,)) of
    x: (N, C, *); updates ``running_mean`` / ``running_var`` (device (C,), any float dtype; the
    variance unbiased) in place when given."""
    op = "batch_norm"
    dt = float_dtype(x, op=op)
    xd = _ncs(x, dt, op, "input")
    c = xd.shape[1]
    cu = load_cuda()
    mean = cu.device_array(c, dtype=np.float64)
    invstd = cu.device_array(c, dtype=np.float64)
    rm, has_rm = _vec(running_mean, np.float64, op, "running_mean")
    rv, has_rv = _vec(running_var, np.float64, op, "running_var")
    _kernels()["stats"][_grid(c), _threads()](xd, float(eps), float(momentum), has_rm, has_rv,
                                           rm, rv, mean, invstd)
    return from_device(mean), from_device(invstd)


def batch_norm_forward(x: Any, mean: Any, invstd: Any, weight: Any = None,
                       bias: Any = None) -> Any:
    """y = (x - mean) * invstd * weight + bias per channel. x: (N, C, *); others (C,) or None."""
    op = "batch_norm"
    dt = float_dtype(x, op=op)
    xd = _ncs(x, dt, op, "input")
    md = to_device(mean, np.dtype(mean.dtype), op=op, name="mean")
    sd = to_device(invstd, np.dtype(invstd.dtype), op=op, name="invstd")
    wd, has_w = _vec(weight, dt, op, "weight")
    bd, has_b = _vec(bias, dt, op, "bias")
    y = load_cuda().device_array(xd.shape, dtype=dt)
    _kernels()["normalize"][launch(y.size, ELEMENTWISE_THREADS)](xd, md, sd, wd, bd, has_w,
                                                                 has_b, y)
    return from_device(y, tuple(x.shape))


def batch_norm_backward(g: Any, x: Any, mean: Any, invstd: Any, weight: Any = None,
                        param_dtype: Any = None) -> tuple[Any, Any, Any]:
    """Training-mode gradients: gx (N, C, *) in x.dtype; gweight, gbias (C,) in
    ``param_dtype`` (default x.dtype)."""
    op = "batch_norm_backward"
    dt = float_dtype(x, op=op)
    xd = _ncs(x, dt, op, "input")
    gd = _ncs(g, dt, op, "grad_output")
    md = to_device(mean, np.dtype(mean.dtype), op=op, name="mean")
    sd = to_device(invstd, np.dtype(invstd.dtype), op=op, name="invstd")
    wd, has_w = _vec(weight, dt, op, "weight")
    c = xd.shape[1]
    pdt = dt if param_dtype is None else np.dtype(param_dtype)
    cu = load_cuda()
    gx = cu.device_array(xd.shape, dtype=dt)
    gw = cu.device_array(c, dtype=pdt)
    gb = cu.device_array(c, dtype=pdt)
    _kernels()["backward"][_grid(c), _threads()](gd, xd, md, sd, wd, has_w, gx, gw, gb)
    return from_device(gx, tuple(x.shape)), from_device(gw), from_device(gb)
