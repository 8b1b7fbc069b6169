"""Layer-norm and group-norm kernels on the GPU: the twins of ``kernels/cpu/layer_norm.py``.

Same public functions, arguments and result shapes as the CPU module; results are
``CudaArray``s (statistics in float64). Rows (layer norm: the rows of (M, D); group norm: one row
per sample and group, C/G * S contiguous elements of an (N, C, S) array) are independent:

* forward: one block per row (grid-stride over rows). The block's threads stride over the row,
  reduce in a float64 shared-memory tree (``THREADS`` wide, a power of two): the sum gives the
  mean, a second pass the biased variance (two-pass, as on the CPU); the same block then writes
  ``y = (x - mean) * rstd * w + b`` in float64.
* backward: one block per row computes the row's two sums ``sum(g*w)`` and
  ``sum(g*w*(x - mean))`` and writes its ``gx``; a second launch, one thread per column (layer
  norm) or per channel (group norm), sums ``g * xhat`` and ``g`` over the rows for the parameter
  gradients. No atomics: every sum has a fixed order, so results are deterministic.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from minigrad.ops.kernels.cuda._common import (
    float_dtype,
    from_device,
    launch,
    load_cuda,
    to_device,
)

cuda: Any = None  # numba.cuda, bound on first use (see _common.load_cuda)

__all__ = ["layer_norm_forward", "layer_norm_backward", "group_norm_forward",
           "group_norm_backward"]

THREADS = 128  # per block (one row) on a GPU; a power of two
SIM_THREADS = 32  # under the simulator every thread is a Python thread
MAX_BLOCKS = 65535


def _threads() -> int:
    from minigrad.cuda._launch import _sim

    return SIM_THREADS if _sim() else THREADS


@functools.cache
def _kernels() -> dict[str, Any]:
    global cuda
    cuda = load_cuda()
    t = _threads()

    @cuda.jit(device=True)
    def block_sum(buf, v):
        """Sum of ``v`` over the block's threads (float64), returned to every thread."""
        tid = cuda.threadIdx.x
        buf[tid] = v
        cuda.syncthreads()
        step = t // 2
        while step > 0:
            if tid < step:
                buf[tid] += buf[tid + step]
            cuda.syncthreads()
            step //= 2
        r = buf[0]
        cuda.syncthreads()  # everyone has read buf[0] before the next reduction writes
        return r

    @cuda.jit(device=True)
    def row_stats(buf, xr, row, k, eps):
        """(mean, rstd) of row ``row`` of the (rows, k) array xr."""
        tid = cuda.threadIdx.x
        acc = 0.0
        for e in range(tid, k, t):
            acc += xr[row, e]
        mu = block_sum(buf, acc) / k
        acc = 0.0
        for e in range(tid, k, t):
            d = xr[row, e] - mu
            acc += d * d
        return mu, 1.0 / math.sqrt(block_sum(buf, acc) / k + eps)

    @cuda.jit
    def ln_forward(x, w, b, eps, y, mean, rstd):
        buf = cuda.shared.array(t, dtype=np.float64)
        m, d = x.shape
        tid = cuda.threadIdx.x
        for i in range(cuda.blockIdx.x, m, cuda.gridDim.x):
            mu, r = row_stats(buf, x, i, d, eps)
            if tid == 0:
                mean[i] = mu
                rstd[i] = r
            for j in range(tid, d, t):
                y[i, j] = (x[i, j] - mu) * (r * w[j]) + b[j]

    @cuda.jit
    def ln_backward(g, x, mean, rstd, w, gx):
        buf = cuda.shared.array(t, dtype=np.float64)
        m, d = x.shape
        tid = cuda.threadIdx.x
        for i in range(cuda.blockIdx.x, m, cuda.gridDim.x):
            mu = mean[i]
            r = rstd[i]
            a = 0.0
            c = 0.0
            for j in range(tid, d, t):
                gh = g[i, j] * w[j]
                a += gh
                c += gh * (x[i, j] - mu)
            a = block_sum(buf, a)
            c = block_sum(buf, c)
            q = -r * r * r * c / d
            s = -r * a / d
            for j in range(tid, d, t):
                gx[i, j] = (r * w[j]) * g[i, j] + q * (x[i, j] - mu) + s

    @cuda.jit
    def ln_param_grads(g, x, mean, rstd, gw, gb):
        m, d = x.shape
        for j in range(cuda.grid(1), d, cuda.gridsize(1)):
            sw = 0.0
            sb = 0.0
            for i in range(m):
                gv = g[i, j]
                sw += gv * (x[i, j] - mean[i]) * rstd[i]
                sb += gv
            gw[j] = sw
            gb[j] = sb

    @cuda.jit
    def gn_forward(x, xr, groups, w, b, eps, y, mean, rstd):
        buf = cuda.shared.array(t, dtype=np.float64)
        n, ch, s = x.shape
        cg = ch // groups
        k = cg * s
        tid = cuda.threadIdx.x
        for row in range(cuda.blockIdx.x, n * groups, cuda.gridDim.x):
            mu, r = row_stats(buf, xr, row, k, eps)
            if tid == 0:
                mean[row] = mu
                rstd[row] = r
            i = row // groups
            c0 = (row - i * groups) * cg
            for e in range(tid, k, t):
                c = c0 + e // s
                j = e - (e // s) * s
                y[i, c, j] = (x[i, c, j] - mu) * (r * w[c]) + b[c]

    @cuda.jit
    def gn_backward(g, x, groups, mean, rstd, w, gx):
        buf = cuda.shared.array(t, dtype=np.float64)
        n, ch, s = x.shape
        cg = ch // groups
        k = cg * s
        tid = cuda.threadIdx.x
        for row in range(cuda.blockIdx.x, n * groups, cuda.gridDim.x):
            mu = mean[row]
            r = rstd[row]
            i = row // groups
            c0 = (row - i * groups) * cg
            a = 0.0
            cc = 0.0
            for e in range(tid, k, t):
                c = c0 + e // s
                j = e - (e // s) * s
                gh = g[i, c, j] * w[c]
                a += gh
                cc += gh * (x[i, c, j] - mu)
            a = block_sum(buf, a)
            cc = block_sum(buf, cc)
            q = -r * r * r * cc / k
            tt = -r * a / k
            for e in range(tid, k, t):
                c = c0 + e // s
                j = e - (e // s) * s
                gx[i, c, j] = (r * w[c]) * g[i, c, j] + q * (x[i, c, j] - mu) + tt

    @cuda.jit
    def gn_param_grads(g, x, groups, mean, rstd, gw, gb):
        n, ch, s = x.shape
        cg = ch // groups
        for c in range(cuda.grid(1), ch, cuda.gridsize(1)):
            grp = c // cg
            sw = 0.0
            sb = 0.0
            for i in range(n):
                mu = mean[i * groups + grp]
                r = rstd[i * groups + grp]
                for j in range(s):
                    gv = g[i, c, j]
                    sw += gv * (x[i, c, j] - mu) * r
                    sb += gv
            gw[c] = sw
            gb[c] = sb

    return {"ln_forward": ln_forward, "ln_backward": ln_backward,
            "ln_param_grads": ln_param_grads, "gn_forward": gn_forward,
            "gn_backward": gn_backward, "gn_param_grads": gn_param_grads}


def _grid(rows: int) -> int:
    return max(1, min(rows, MAX_BLOCKS))


def _affine(v: Any, n: int, fill: float, op: str, name: str) -> Any:
    """A weight or bias as a float64 device vector (filled with ``fill`` on the device when
    absent)."""
    from minigrad.cuda.array import CudaArray, full

    if v is None:
        v = full(n, fill, np.float64)
    elif type(v) is CudaArray and np.dtype(v.dtype) != np.float64:
        v = v.astype(np.float64)  # cast on the device
    return to_device(v, np.float64, op=op, name=name)


def _f64(a: Any, op: str, name: str) -> Any:
    return to_device(a, np.float64, op=op, name=name)


def layer_norm_forward(x: Any, weight: Any, bias: Any, eps: float) -> tuple[Any, Any, Any]:
    """See ``kernels/cpu/layer_norm.layer_norm_forward``: x (M, D) -> y (M, D), mean, rstd (M,)."""
    op = "layer_norm"
    dt = float_dtype(x, op=op)
    xd = to_device(x, dt, op=op, name="input")
    m, d = xd.shape
    cu = load_cuda()
    y = cu.device_array((m, d), dtype=dt)
    mean = cu.device_array(m, dtype=np.float64)
    rstd = cu.device_array(m, dtype=np.float64)
    _kernels()["ln_forward"][_grid(m), _threads()](
        xd, _affine(weight, d, 1.0, op, "weight"), _affine(bias, d, 0.0, op, "bias"), float(eps),
        y, mean, rstd)
    return from_device(y), from_device(mean), from_device(rstd)


def layer_norm_backward(g: Any, x: Any, mean: Any, rstd: Any, weight: Any,
                        param_dtype: Any) -> tuple[Any, Any, Any]:
    """See ``kernels/cpu/layer_norm.layer_norm_backward``: gx (M, D); gweight, gbias (D,)."""
    op = "layer_norm_backward"
    dt = float_dtype(x, op=op)
    xd = to_device(x, dt, op=op, name="input")
    gd = to_device(g, dt, op=op, name="grad_output")
    md, rd = _f64(mean, op, "mean"), _f64(rstd, op, "rstd")
    m, d = xd.shape
    cu = load_cuda()
    gx = cu.device_array((m, d), dtype=dt)
    pdt = np.dtype(param_dtype)
    gw = cu.device_array(d, dtype=pdt)
    gb = cu.device_array(d, dtype=pdt)
    k = _kernels()
    k["ln_backward"][_grid(m), _threads()](gd, xd, md, rd, _affine(weight, d, 1.0, op, "weight"),
                                          gx)
    k["ln_param_grads"][launch(d, _threads())](gd, xd, md, rd, gw, gb)
    return from_device(gx), from_device(gw), from_device(gb)


def group_norm_forward(x: Any, num_groups: int, weight: Any, bias: Any,
                       eps: float) -> tuple[Any, Any, Any]:
    """See ``kernels/cpu/layer_norm.group_norm_forward``: x (N, C, S) -> y (N, C, S), mean,
    rstd (N, num_groups)."""
    op = "group_norm"
    dt = float_dtype(x, op=op)
    xd = to_device(x, dt, op=op, name="input")
    n, c, s = xd.shape
    rows = n * num_groups
    cu = load_cuda()
    y = cu.device_array((n, c, s), dtype=dt)
    mean = cu.device_array(rows, dtype=np.float64)
    rstd = cu.device_array(rows, dtype=np.float64)
    _kernels()["gn_forward"][_grid(rows), _threads()](
        xd, xd.reshape(rows, (c // num_groups) * s), num_groups,
        _affine(weight, c, 1.0, op, "weight"), _affine(bias, c, 0.0, op, "bias"), float(eps),
        y, mean, rstd)
    return (from_device(y), from_device(mean.reshape(n, num_groups)),
            from_device(rstd.reshape(n, num_groups)))


def group_norm_backward(g: Any, x: Any, num_groups: int, mean: Any, rstd: Any, weight: Any,
                        param_dtype: Any) -> tuple[Any, Any, Any]:
    """See ``kernels/cpu/layer_norm.group_norm_backward``: gx (N, C, S); gweight, gbias (C,)."""
    op = "group_norm_backward"
    dt = float_dtype(x, op=op)
    xd = to_device(x, dt, op=op, name="input")
    gd = to_device(g, dt, op=op, name="grad_output")
    n, c, s = xd.shape
    md = _f64(mean, op, "mean").reshape(n * num_groups)
    rd = _f64(rstd, op, "rstd").reshape(n * num_groups)
    cu = load_cuda()
    gx = cu.device_array((n, c, s), dtype=dt)
    pdt = np.dtype(param_dtype)
    gw = cu.device_array(c, dtype=pdt)
    gb = cu.device_array(c, dtype=pdt)
    k = _kernels()
    k["gn_backward"][_grid(n * num_groups), _threads()](
        gd, xd, num_groups, md, rd, _affine(weight, c, 1.0, op, "weight"), gx)
    k["gn_param_grads"][launch(c, _threads())](gd, xd, num_groups, md, rd, gw, gb)
    return from_device(gx), from_device(gw), from_device(gb)
