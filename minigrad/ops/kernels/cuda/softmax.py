"""Softmax, log-softmax and fused cross-entropy on the GPU, over the rows of a 2-D array.

Mirrors ``kernels/cpu/softmax.py`` (same functions, same arguments, same NaN behaviour: a row
holding NaN or only -inf gives NaN); results are ``CudaArray``. One block per row (grid-stride
over rows): the block's threads stride over the row's columns, then combine their partial max /
sum / dot in a float64 shared-memory tree (``_runtime.block_reduce``, ``THREADS`` wide, a power
of two). Every row is shifted by its maximum before ``exp`` (log-sum-exp), so no input
overflows; sums accumulate in float64.

Cross-entropy, per row ``i`` with target ``t``, class weights ``w``, smoothing ``eps``, ``C``
classes, ``logp = x - lse``::

    loss_i = (1 - eps) * (-w[t] * logp[t]) + eps / C * (lse * sum(w) - dot(w, x))   (0 if ignored)
    dloss_i/dx_c = (1 - eps) * w[t] * (p_c - [c == t]) + eps / C * (p_c * sum(w) - w[c])
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from minigrad.cuda._runtime import add, block_reduce, load_cuda
from minigrad.ops.kernels import api
from minigrad.ops.kernels.cpu import softmax as cpu_softmax
from minigrad.ops.kernels.cuda._common import float_dtype, from_device, to_device

__all__ = list(api.SOFTMAX)

THREADS = 64  # per block (one row); a power of two
MAX_BLOCKS = 65535


# numba.cuda and the device functions the kernels call, bound by _kernels() on first use
cuda: Any = None
block_sum: Any = None
block_max: Any = None
row_lse: Any = None
weight_sum: Any = None


def _larger(a, b):
    """The max combine (NaN ignored here; exp(NaN - m) propagates it later)."""
    return b if b > a else a


def _weight_sum(buf, weight):
    """sum(weight) over the block's threads (float64), returned to every thread."""
    part = 0.0
    for k in range(cuda.threadIdx.x, weight.shape[0], cuda.blockDim.x):
        part += weight[k]
    return block_sum(buf, part)


def _row_lse(buf, x, i):
    """log-sum-exp of row i (float64)."""
    tid = cuda.threadIdx.x
    m = -math.inf
    for k in range(tid, x.shape[1], cuda.blockDim.x):
        if x[i, k] > m:
            m = x[i, k]
    m = block_max(buf, m)
    s = 0.0
    for k in range(tid, x.shape[1], cuda.blockDim.x):
        s += math.exp(x[i, k] - m)
    return m + math.log(block_sum(buf, s))


def _softmax_rows(x, y):
    buf = cuda.shared.array(THREADS, dtype=np.float64)
    for i in range(cuda.blockIdx.x, x.shape[0], cuda.gridDim.x):
        lse = row_lse(buf, x, i)
        for k in range(cuda.threadIdx.x, x.shape[1], cuda.blockDim.x):
            y[i, k] = math.exp(x[i, k] - lse)


def _log_softmax_rows(x, y):
    buf = cuda.shared.array(THREADS, dtype=np.float64)
    for i in range(cuda.blockIdx.x, x.shape[0], cuda.gridDim.x):
        lse = row_lse(buf, x, i)
        for k in range(cuda.threadIdx.x, x.shape[1], cuda.blockDim.x):
            y[i, k] = x[i, k] - lse


def _softmax_backward_rows(gy, y, gx):
    buf = cuda.shared.array(THREADS, dtype=np.float64)
    for i in range(cuda.blockIdx.x, y.shape[0], cuda.gridDim.x):
        d = 0.0
        for k in range(cuda.threadIdx.x, y.shape[1], cuda.blockDim.x):
            d += gy[i, k] * y[i, k]
        d = block_sum(buf, d)
        for k in range(cuda.threadIdx.x, y.shape[1], cuda.blockDim.x):
            gx[i, k] = y[i, k] * (gy[i, k] - d)


def _log_softmax_backward_rows(gy, y, gx):
    buf = cuda.shared.array(THREADS, dtype=np.float64)
    for i in range(cuda.blockIdx.x, y.shape[0], cuda.gridDim.x):
        s = 0.0
        for k in range(cuda.threadIdx.x, y.shape[1], cuda.blockDim.x):
            s += gy[i, k]
        s = block_sum(buf, s)
        for k in range(cuda.threadIdx.x, y.shape[1], cuda.blockDim.x):
            gx[i, k] = gy[i, k] - math.exp(y[i, k]) * s


def _cross_entropy_rows(x, target, weight, ignore_index, eps, loss, lse_out):
    buf = cuda.shared.array(THREADS, dtype=np.float64)
    tid = cuda.threadIdx.x
    c = x.shape[1]
    w_sum = weight_sum(buf, weight)
    for i in range(cuda.blockIdx.x, x.shape[0], cuda.gridDim.x):
        lse = row_lse(buf, x, i)
        tgt = target[i]
        smooth = 0.0
        if eps > 0.0:
            d = 0.0
            for k in range(tid, c, cuda.blockDim.x):
                d += weight[k] * x[i, k]
            smooth = lse * w_sum - block_sum(buf, d)
        if tid == 0:
            lse_out[i] = lse
            if tgt == ignore_index:
                loss[i] = 0.0
            else:
                nll = -weight[tgt] * (x[i, tgt] - lse)
                loss[i] = (1.0 - eps) * nll + eps / c * smooth


def _cross_entropy_backward_rows(g, x, target, weight, lse, ignore_index, eps, gx):
    buf = cuda.shared.array(THREADS, dtype=np.float64)
    tid = cuda.threadIdx.x
    c = x.shape[1]
    w_sum = weight_sum(buf, weight)
    for i in range(cuda.blockIdx.x, x.shape[0], cuda.gridDim.x):
        tgt = target[i]
        if tgt == ignore_index:
            for k in range(tid, c, cuda.blockDim.x):
                gx[i, k] = 0.0
            continue
        a = g[i] * ((1.0 - eps) * weight[tgt] + eps / c * w_sum)  # coefficient of p_c
        b = g[i] * eps / c  # coefficient of -w_c
        li = lse[i]
        for k in range(tid, c, cuda.blockDim.x):
            v = a * math.exp(x[i, k] - li) - b * weight[k]
            if k == tgt:
                v -= g[i] * (1.0 - eps) * weight[tgt]
            gx[i, k] = v


def _cross_entropy_total(loss, has_loss, target, weight, ignore_index, mean, out, scale):
    """One block: out[0] = sum(loss) (/ total weight of the valid targets when ``mean``);
    scale[0] = the factor applied (NaN when no target is valid, as on the CPU)."""
    buf = cuda.shared.array(THREADS, dtype=np.float64)
    tid = cuda.threadIdx.x
    lp = 0.0
    wp = 0.0
    for i in range(tid, target.shape[0], cuda.blockDim.x):
        if has_loss:
            lp += loss[i]
        tg = target[i]
        if tg != ignore_index:
            wp += weight[tg]
    ls = block_sum(buf, lp)
    ws = block_sum(buf, wp)
    if tid == 0:
        s = 1.0
        if mean:
            s = 1.0 / ws if ws != 0.0 else math.nan
        scale[0] = s
        out[0] = ls * s


@functools.cache
def _kernels() -> dict[str, Any]:
    """The kernels above compiled for numba.cuda (first, the device functions they call);
    numba specialises each per dtype at its first launch."""
    global cuda, block_sum, block_max, row_lse, weight_sum
    cuda = load_cuda()
    block_sum = block_reduce(add())
    block_max = block_reduce(cuda.jit(device=True)(_larger))
    row_lse = cuda.jit(device=True)(_row_lse)
    weight_sum = cuda.jit(device=True)(_weight_sum)
    kernels = {
        "softmax": _softmax_rows,
        "log_softmax": _log_softmax_rows,
        "softmax_backward": _softmax_backward_rows,
        "log_softmax_backward": _log_softmax_backward_rows,
        "cross_entropy": _cross_entropy_rows,
        "cross_entropy_backward": _cross_entropy_backward_rows,
        "cross_entropy_total": _cross_entropy_total,
    }
    return {name: cuda.jit(fn) for name, fn in kernels.items()}


def _rows(a: Any, dtype: np.dtype, op: str, name: str) -> Any:
    d = to_device(a, dtype, op=op, name=name)
    k = tuple(d.shape)[-1]
    return d.reshape(d.size // k, k)


def _grid(rows: int) -> int:
    return max(1, min(rows, MAX_BLOCKS))


def _row_op(kind: str, x: Any) -> Any:
    dt = float_dtype(x, op=kind)
    xd = _rows(x, dt, kind, "input")
    y = load_cuda().device_array(xd.shape, dtype=dt)
    _kernels()[kind][_grid(xd.shape[0]), THREADS](xd, y)
    return from_device(y, tuple(x.shape))


def _row_backward(kind: str, gy: Any, y: Any) -> Any:
    dt = float_dtype(y, op=kind)
    if tuple(gy.shape) != tuple(y.shape):
        raise ValueError(f"{kind}: grad_output {tuple(gy.shape)} must match output "
                         f"{tuple(y.shape)}")
    gyd = _rows(gy, dt, kind, "grad_output")
    yd = _rows(y, dt, kind, "output")
    gx = load_cuda().device_array(yd.shape, dtype=dt)
    _kernels()[kind][_grid(yd.shape[0]), THREADS](gyd, yd, gx)
    return from_device(gx, tuple(y.shape))


def softmax_forward(x: Any) -> Any:
    """Softmax over the last axis. x: (..., K) -> y: (..., K) device array."""
    return _row_op("softmax", x)


def log_softmax_forward(x: Any) -> Any:
    """Log-softmax over the last axis. x: (..., K) -> y: (..., K) device array."""
    return _row_op("log_softmax", x)


def softmax_backward(gy: Any, y: Any) -> Any:
    """gx = y * (gy - sum(gy * y)) over the last axis; y is the softmax output."""
    return _row_backward("softmax_backward", gy, y)


def log_softmax_backward(gy: Any, y: Any) -> Any:
    """gx = gy - exp(y) * sum(gy) over the last axis; y is the log-softmax output."""
    return _row_backward("log_softmax_backward", gy, y)


def cross_entropy_forward(x: Any, target: Any, weight: Any, ignore_index: int,
                          label_smoothing: float) -> tuple[Any, Any]:
    """Per-row loss and logsumexp. x: (N, C); target: (N,) int64 in [0, C) or ignore_index;
    weight: (C,) (ones for unweighted). Returns device arrays loss: (N,) and lse: (N,), x.dtype.
    """
    op = "cross_entropy"
    dt = float_dtype(x, op=op)
    xd = to_device(x, dt, op=op, name="input")
    td = to_device(target, np.int64, op=op, name="target")
    wd = to_device(weight, dt, op=op, name="weight")
    n = xd.shape[0]
    cu = load_cuda()
    loss = cu.device_array(n, dtype=dt)
    lse = cu.device_array(n, dtype=dt)
    _kernels()["cross_entropy"][_grid(n), THREADS](
        xd, td, wd, int(ignore_index), float(label_smoothing), loss, lse)
    return from_device(loss), from_device(lse)


def cross_entropy_backward(g: Any, x: Any, target: Any, weight: Any, lse: Any,
                           ignore_index: int, label_smoothing: float) -> Any:
    """gx: (N, C) = g[i] * dloss_i/dx for per-row upstream gradients g: (N,)."""
    op = "cross_entropy_backward"
    dt = float_dtype(x, op=op)
    xd = to_device(x, dt, op=op, name="input")
    gd = to_device(g, dt, op=op, name="grad_output")
    td = to_device(target, np.int64, op=op, name="target")
    wd = to_device(weight, dt, op=op, name="weight")
    ld = to_device(lse, dt, op=op, name="lse")
    gx = load_cuda().device_array(xd.shape, dtype=dt)
    _kernels()["cross_entropy_backward"][_grid(xd.shape[0]), THREADS](
        gd, xd, td, wd, ld, int(ignore_index), float(label_smoothing), gx)
    return from_device(gx)


def cross_entropy_total(loss: Any, target: Any, weight: Any, ignore_index: int,
                        mean: bool) -> tuple[Any, Any]:
    """Reduce per-row losses on the device, one launch: (out (1,), scale (1,)), weight's dtype.

    out = sum(loss) * scale; scale = 1 / (summed weight of the non-ignored targets) for
    ``mean`` (NaN when there is none), else 1. ``loss`` may be None (then out = 0): nll_loss
    only needs the scale.
    """
    op = "cross_entropy"
    dt = float_dtype(weight, op=op)
    td = to_device(target, np.int64, op=op, name="target")
    wd = to_device(weight, dt, op=op, name="weight")
    cu = load_cuda()
    ld = wd if loss is None else to_device(loss, np.dtype(loss.dtype), op=op, name="loss")
    out = cu.device_array(1, dtype=dt)
    scale = cu.device_array(1, dtype=dt)
    _kernels()["cross_entropy_total"][1, THREADS](ld, loss is not None, td, wd,
                                                    int(ignore_index), bool(mean), out, scale)
    return from_device(out), from_device(scale)


def cross_entropy_coefficients(target: Any, weight: Any, ignore_index: int,
                               label_smoothing: float) -> tuple[Any, Any]:
    """a: (M,), b: (M, C) such that dloss_i/dx_i = a_i * softmax(x_i) - b_i (weight's dtype),
    computed by the CPU module's NumPy code on CudaArrays (a few elementwise kernels: only the
    double backward needs them)."""
    op = "cross_entropy"
    dt = float_dtype(weight, op=op)
    td = from_device(to_device(target, np.int64, op=op, name="target"))
    wd = from_device(to_device(weight, dt, op=op, name="weight"))
    return cpu_softmax.cross_entropy_coefficients(td, wd, ignore_index, label_smoothing)
