"""Normalisation kernels on the GPU: batch norm on (N, C, S) device arrays (S = the flattened
spatial axes), layer norm on (M, D) rows, group norm on (N, C, S) arrays.

Mirrors ``kernels/cpu/norm.py`` (statistics and gradient sums in float64, two-pass variance).

Batch norm:

* ``batch_stats``: one block per channel (grid-stride over channels). The block's threads stride
  over the channel's N*S elements (consecutive threads read consecutive elements of each
  contiguous run of S), reduce in a float64 shared-memory tree (``THREADS`` wide, a power of
  two): the sum gives the mean, a second pass the biased variance. The same kernel writes
  ``invstd = 1/sqrt(var + eps)`` and, in training, updates the running statistics in place
  (``running = (1 - momentum) * running + momentum * stat``, unbiased variance), so a training
  forward is two launches (statistics, normalisation) and never touches the host.
* ``batch_norm_forward``: ``y = (x - mean) * invstd * w + b``, one thread per element over a
  grid-stride loop, evaluated in float64 (as the CPU kernel: no cancellation when
  ``abs(mean) >> std``).
* ``batch_norm_backward``: one block per channel: the two sums ``sum(g)`` and
  ``sum(g * (x - mean))`` (tree-reduced), then the same block writes its channel's
  ``gx = k*g + q*(x - mean) + r`` and ``gweight``, ``gbias``: one launch.

One block per channel keeps every reduction deterministic (no atomics); with few channels and
very large N*S a real GPU is under-occupied (C blocks), which is the price of that simplicity.

Layer norm and group norm (one row: a sample's normalized elements, or a sample's group of
channels, contiguous):

* ``*_forward``: one block per row (grid-stride over rows): the mean and the two-pass variance
  tree-reduced in float64, then the same block writes ``y = (x - mean) * rstd * w + b``.
* ``*_backward``: one block per row computes the row's two sums ``sum(g*w)`` and
  ``sum(g*w*(x - mean))`` and writes its ``gx``; a second launch, one thread per column (layer
  norm) or per channel (group norm), sums ``g * xhat`` and ``g`` over the rows for the parameter
  gradients in a fixed order (deterministic, no atomics).
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


# numba.cuda and the device functions the kernels call, bound by _kernels() on first use
cuda: Any = None
block_sum: Any = None
slice_stats: Any = None
group_element: Any = None


def _slice_stats(buf, x, j):
    """(mean, biased variance) of the slice ``x[:, j, :]`` of x: (A, J, B) over the block's
    threads, two passes in float64 (a device function). Batch norm's channel is such a slice of
    (N, C, S); a layer/group norm row of (R, K) is one of its (1, R, K) view."""
    a, _, b = x.shape
    count = a * b
    tid = cuda.threadIdx.x
    acc = 0.0
    for e in range(tid, count, cuda.blockDim.x):
        i = e // b
        acc += x[i, j, e - i * b]
    m = block_sum(buf, acc) / count
    acc = 0.0
    for e in range(tid, count, cuda.blockDim.x):
        i = e // b
        d = x[i, j, e - i * b] - m
        acc += d * d
    return m, block_sum(buf, acc) / count


def _stats(x, eps, momentum, update_mean, update_var, rm, rv, mean, invstd):
    buf = cuda.shared.array(THREADS, dtype=np.float64)
    count = x.shape[0] * x.shape[2]
    for ch in range(cuda.blockIdx.x, x.shape[1], cuda.gridDim.x):
        m, var = slice_stats(buf, x, ch)
        if cuda.threadIdx.x == 0:
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


def _ln_forward(x, xr, w, b, eps, y, mean, rstd):
    buf = cuda.shared.array(THREADS, dtype=np.float64)
    m, d = x.shape
    tid = cuda.threadIdx.x
    for i in range(cuda.blockIdx.x, m, cuda.gridDim.x):
        mu, var = slice_stats(buf, xr, i)  # xr: x's (1, M, D) view
        r = 1.0 / math.sqrt(var + eps)
        if tid == 0:
            mean[i] = mu
            rstd[i] = r
        for j in range(tid, d, cuda.blockDim.x):
            y[i, j] = (x[i, j] - mu) * (r * w[j]) + b[j]


def _ln_backward(g, x, mean, rstd, w, gx):
    buf = cuda.shared.array(THREADS, dtype=np.float64)
    m, d = x.shape
    tid = cuda.threadIdx.x
    for i in range(cuda.blockIdx.x, m, cuda.gridDim.x):
        mu = mean[i]
        r = rstd[i]
        a = 0.0
        c = 0.0
        for j in range(tid, d, cuda.blockDim.x):
            gh = g[i, j] * w[j]
            a += gh
            c += gh * (x[i, j] - mu)
        a = block_sum(buf, a)
        c = block_sum(buf, c)
        q = -r * r * r * c / d
        s = -r * a / d
        for j in range(tid, d, cuda.blockDim.x):
            gx[i, j] = (r * w[j]) * g[i, j] + q * (x[i, j] - mu) + s


def _ln_param_grads(g, x, mean, rstd, gw, gb):
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


def _group_element(x, groups, row, e):
    """(sample, channel, position) of element e of group row ``row = sample * groups + group``
    of x: (N, C, S), the group's channels laid end to end (a device function)."""
    cg = x.shape[1] // groups
    s = x.shape[2]
    i = row // groups
    cl = e // s
    return i, (row - i * groups) * cg + cl, e - cl * s


def _gn_forward(x, xr, groups, w, b, eps, y, mean, rstd):
    buf = cuda.shared.array(THREADS, dtype=np.float64)
    tid = cuda.threadIdx.x
    for row in range(cuda.blockIdx.x, xr.shape[1], cuda.gridDim.x):
        mu, var = slice_stats(buf, xr, row)  # xr: x's (1, N * groups, C // groups * S) view
        r = 1.0 / math.sqrt(var + eps)
        if tid == 0:
            mean[row] = mu
            rstd[row] = r
        for e in range(tid, xr.shape[2], cuda.blockDim.x):
            i, c, j = group_element(x, groups, row, e)
            y[i, c, j] = (x[i, c, j] - mu) * (r * w[c]) + b[c]


def _gn_backward(g, x, groups, mean, rstd, w, gx):
    buf = cuda.shared.array(THREADS, dtype=np.float64)
    k = x.shape[1] // groups * x.shape[2]  # elements per group
    tid = cuda.threadIdx.x
    for row in range(cuda.blockIdx.x, x.shape[0] * groups, cuda.gridDim.x):
        mu = mean[row]
        r = rstd[row]
        a = 0.0
        cc = 0.0
        for e in range(tid, k, cuda.blockDim.x):
            i, c, j = group_element(x, groups, row, e)
            gh = g[i, c, j] * w[c]
            a += gh
            cc += gh * (x[i, c, j] - mu)
        a = block_sum(buf, a)
        cc = block_sum(buf, cc)
        q = -r * r * r * cc / k
        t = -r * a / k
        for e in range(tid, k, cuda.blockDim.x):
            i, c, j = group_element(x, groups, row, e)
            gx[i, c, j] = (r * w[c]) * g[i, c, j] + q * (x[i, c, j] - mu) + t


def _gn_param_grads(g, x, groups, mean, rstd, gw, gb):
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


@functools.cache


def _kernels() -> dict[str, Any]:
    """The kernels above compiled for numba.cuda; numba specialises each per dtype."""
    global cuda, block_sum, slice_stats, group_element
    cuda = load_cuda()
    block_sum = block_reduce(add())
    slice_stats = cuda.jit(device=True)(_slice_stats)
    group_element = cuda.jit(device=True)(_group_element)
    return {"stats": cuda.jit(_stats), "normalize": cuda.jit(_normalize),
            "backward": cuda.jit(_backward), "ln_forward": cuda.jit(_ln_forward),
            "ln_backward": cuda.jit(_ln_backward), "ln_param_grads": cuda.jit(_ln_param_grads),
            "gn_forward": cuda.jit(_gn_forward), "gn_backward": cuda.jit(_gn_backward),
            "gn_param_grads": cuda.jit(_gn_param_grads)}


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
    ``x: (N, C, *)``; updates ``running_mean`` / ``running_var`` (device (C,), any float dtype; the
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
    """y = (x - mean) * invstd * weight + bias per channel. ``x: (N, C, *)``; others (C,) or
    None."""
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
    """Training-mode gradients: gx ``(N, C, *)`` in x.dtype; gweight, gbias (C,) in
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


# ------------------------------------------------------------------------------------------------
# layer norm and group norm


def _affine(v: Any, n: int, fill: float, op: str, name: str) -> Any:
    """A weight or bias as a float64 device vector (filled with ``fill`` on the device when
    absent)."""
    from minigrad.cuda.array import CudaArray, full

    if v is None:
        v = full(n, fill, np.float64)
    elif type(v) is CudaArray and np.dtype(v.dtype) != np.float64:
        v = v.astype(np.float64)  # cast on the device
    return to_device(v, np.float64, op=op, name=name)


def layer_norm_forward(x: Any, weight: Any, bias: Any, eps: float) -> tuple[Any, Any, Any]:
    """See ``kernels/cpu/norm.layer_norm_forward``: x (M, D) -> y (M, D), mean, rstd (M,)."""
    op = "layer_norm"
    dt = float_dtype(x, op=op)
    xd = to_device(x, dt, op=op, name="input")
    m, d = xd.shape
    cu = load_cuda()
    y = cu.device_array((m, d), dtype=dt)
    mean = cu.device_array(m, dtype=np.float64)
    rstd = cu.device_array(m, dtype=np.float64)
    _kernels()["ln_forward"][_grid(m), _threads()](
        xd, xd.reshape(1, m, d), _affine(weight, d, 1.0, op, "weight"),
        _affine(bias, d, 0.0, op, "bias"), float(eps), y, mean, rstd)
    return from_device(y), from_device(mean), from_device(rstd)


def layer_norm_backward(g: Any, x: Any, mean: Any, rstd: Any, weight: Any,
                        param_dtype: Any) -> tuple[Any, Any, Any]:
    """See ``kernels/cpu/norm.layer_norm_backward``: gx (M, D); gweight, gbias (D,)."""
    op = "layer_norm_backward"
    dt = float_dtype(x, op=op)
    xd = to_device(x, dt, op=op, name="input")
    gd = to_device(g, dt, op=op, name="grad_output")
    md = to_device(mean, np.float64, op=op, name="mean")
    rd = to_device(rstd, np.float64, op=op, name="rstd")
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
    """See ``kernels/cpu/norm.group_norm_forward``: x (N, C, S) -> y (N, C, S), mean,
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
        xd, xd.reshape(1, rows, (c // num_groups) * s), num_groups,
        _affine(weight, c, 1.0, op, "weight"), _affine(bias, c, 0.0, op, "bias"), float(eps),
        y, mean, rstd)
    return (from_device(y), from_device(mean, (n, num_groups)),
            from_device(rstd, (n, num_groups)))


def group_norm_backward(g: Any, x: Any, num_groups: int, mean: Any, rstd: Any, weight: Any,
                        param_dtype: Any) -> tuple[Any, Any, Any]:
    """See ``kernels/cpu/norm.group_norm_backward``: gx (N, C, S); gweight, gbias (C,)."""
    op = "group_norm_backward"
    dt = float_dtype(x, op=op)
    xd = to_device(x, dt, op=op, name="input")
    gd = to_device(g, dt, op=op, name="grad_output")
    n, c, s = xd.shape
    md = to_device(mean, np.float64, op=op, name="mean").reshape(n * num_groups)
    rd = to_device(rstd, np.float64, op=op, name="rstd").reshape(n * num_groups)
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
