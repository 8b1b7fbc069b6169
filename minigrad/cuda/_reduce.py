"""Reductions on ``CudaArray``: ``np.sum/mean/prod/max/min/nanmax/nanmin/argmax/argmin/any/all/
var/std/ptp`` and the ufunc methods ``np.add.reduce`` & co, with NumPy's ``axis`` (None, int,
tuple, negative), ``keepdims``, ``dtype=``, result dtypes, NaN rules and empty-input behaviour.

Layout: the input is seen as ``rows x L`` without copying anything. The kept axes index the rows
and the reduced axes the elements of a row, each through its own (shape, strides) pair, so no
transpose is materialised; when the reduced axes are the trailing ones a row is the contiguous
run ``x[r * L : (r + 1) * L]`` (a fast path without index arithmetic).

Kernels (one source each, specialised per dtype by numba):
- *block per row*: the block's threads stride over the row (coalesced when it is contiguous),
  then combine their partials in a shared-memory tree. Used when rows are long.
- *thread per row*: when rows are many and short (e.g. ``sum(axis=0)`` of an (N, C) gradient:
  C rows of stride C, where neighbouring threads read neighbouring columns, i.e. coalesced).
- *two passes* when there are few huge rows (``loss.sum()``): pass 1 lets ``P`` blocks reduce a
  chunk of each row into a partial, pass 2 reduces the ``rows x P`` partials.

Accuracy: floating sums accumulate in float64 (then round once to the result dtype). Reductions
are memory-bound, so the wider adds cost nothing measurable on data-centre GPUs (and little on
consumer ones: one add per 4 bytes read); the result is then at least as accurate as NumPy's
float32 pairwise summation, and the two agree to ~1e-7 relative. Integer and bool sums use int64
(uint64 for unsigned) as NumPy does.

Empty inputs never reach a kernel: the answer is a constant (0, 1, NaN, True, False) or NumPy's
error, so NumPy computes it on an empty host array of the same shape (no data moves) and the
device gets the constant.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from minigrad.cuda import _launch as L
from minigrad.cuda._elementwise import extremum, maximum, minimum
from minigrad.cuda._runtime import block_reduce, launch, load_cuda, sim
from minigrad.cuda.array import CudaArray, empty, from_host, full, implements

cuda: Any = None  # numba.cuda, bound on first use (the simulator patches module globals)

THREADS = 256  # threads per block for the block-per-row kernels (a power of two)


def _bind() -> None:
    global cuda
    if cuda is None:
        cuda = load_cuda()


def _threads() -> int:
    return 8 if sim() else THREADS


# ---------------------------------------------------------------------------------------------
# Device functions
# ---------------------------------------------------------------------------------------------


def _combine_fns() -> dict[str, Callable[..., Any]]:
    def add(a, b):
        return a + b

    def mul(a, b):
        return a * b

    # nanmax/nanmin: NaN loses (an all-NaN row keeps the NaN initial value)
    return {"add": add, "mul": mul, "max": maximum, "min": minimum,
            "nanmax": extremum(True, False), "nanmin": extremum(False, False)}


def _identity(x):
    return x


def _truth(x):
    return 1 if x != 0 else 0  # NaN != 0: np.any(nan) is True


@functools.cache
def _value_kernels(combine_name: str, pre_name: str, acc_dtype: np.dtype,
                   divide: bool) -> tuple[Any, Any]:
    """(block-per-row kernel, thread-per-row kernel) for one reduction.

    ``out[q] = finalize(combine over the row's elements of pre(x))``; ``q`` indexes rows x P
    chunks (P = 1 except in the first of two passes). ``finalize`` divides by ``div`` when
    ``divide`` (mean, var), else is the identity.
    """
    _bind()
    jit = cuda.jit(device=True)
    combine = jit(_combine_fns()[combine_name])
    reduce = block_reduce(combine)
    pre = jit(_identity if pre_name == "identity" else _truth)
    offset = L.offset_fn()
    acc_t = np.dtype(acc_dtype).type
    t = _threads()

    if divide:
        @cuda.jit(device=True)
        def finalize(v, div):
            return v / div
    else:
        @cuda.jit(device=True)
        def finalize(v, div):
            return v

    @cuda.jit
    def block_rows(out, x, nrows, n, p, chunk, contig, oshape, ost, ishape, ist, init, div):
        buf = cuda.shared.array(t, dtype=acc_t)
        tid = cuda.threadIdx.x
        for q in range(cuda.blockIdx.x, nrows * p, cuda.gridDim.x):
            r = q // p
            lo = (q - r * p) * chunk
            hi = min(lo + chunk, n)
            acc = init
            if contig:
                base = r * n
                for j in range(lo + tid, hi, t):
                    acc = combine(acc, pre(x[base + j]))
            else:
                base = offset(r, oshape, 0, ost)
                for j in range(lo + tid, hi, t):
                    acc = combine(acc, pre(x[base + offset(j, ishape, 0, ist)]))
            total = reduce(buf, acc)
            if tid == 0:
                out[q] = finalize(total, div)

    @cuda.jit
    def thread_rows(out, x, nrows, n, p, chunk, oshape, ost, ishape, ist, init, div):
        # q = chunk * nrows + row: neighbouring threads take neighbouring rows (coalesced when
        # the rows are the array's last axis)
        for q in range(cuda.grid(1), nrows * p, cuda.gridsize(1)):
            c = q // nrows
            r = q - c * nrows
            lo = c * chunk
            hi = min(lo + chunk, n)
            base = offset(r, oshape, 0, ost)
            acc = init
            for j in range(lo, hi):
                acc = combine(acc, pre(x[base + offset(j, ishape, 0, ist)]))
            out[q] = finalize(acc, div)

    return block_rows, thread_rows


@functools.cache
def _arg_kernel(largest: bool, floating: bool) -> Any:
    """Block-per-row argmax/argmin: the first extremum, the first NaN if there is one."""
    _bind()
    offset = L.offset_fn()
    t = _threads()
    vt = np.float64 if floating else np.int64

    @cuda.jit(device=True)
    def better(v2, i2, v1, i1, n):
        """Does (v2, i2) beat (v1, i1)? Indices >= n mark 'no element yet'."""
        if i2 >= n:
            return False
        if i1 >= n:
            return True
        if v1 != v1:
            return v2 != v2 and i2 < i1
        if v2 != v2:
            return True
        if v2 == v1:
            return i2 < i1
        return v2 > v1 if largest else v2 < v1

    @cuda.jit
    def k(out, x, nrows, n, contig, oshape, ost, ishape, ist, vinit):
        vals = cuda.shared.array(t, dtype=vt)
        idxs = cuda.shared.array(t, dtype=np.int64)
        tid = cuda.threadIdx.x
        for r in range(cuda.blockIdx.x, nrows, cuda.gridDim.x):
            base = r * n if contig else offset(r, oshape, 0, ost)
            bv = vinit
            bi = n
            for j in range(tid, n, t):
                off = base + j if contig else base + offset(j, ishape, 0, ist)
                v = x[off]
                if better(v, j, bv, bi, n):
                    bv = v
                    bi = j
            vals[tid] = bv
            idxs[tid] = bi
            cuda.syncthreads()
            step = t // 2
            while step > 0:
                if tid < step and better(vals[tid + step], idxs[tid + step], vals[tid],
                                         idxs[tid], n):
                    vals[tid] = vals[tid + step]
                    idxs[tid] = idxs[tid + step]
                cuda.syncthreads()
                step //= 2
            if tid == 0:
                out[r] = idxs[0]
            cuda.syncthreads()

    return k


# ---------------------------------------------------------------------------------------------
# Host side: axes, layouts, launches
# ---------------------------------------------------------------------------------------------


def _axes(axis: Any, ndim: int) -> tuple[int, ...]:
    """Sorted, non-negative reduced axes (NumPy's errors for bad ones)."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int | np.integer) else tuple(axis)
    out = []
    for a in axes:
        a = int(a)
        if not -ndim <= a < ndim:
            raise np.exceptions.AxisError(a, ndim)
        out.append(a % ndim)
    if len(set(out)) != len(out):
        raise ValueError("duplicate value in 'axis'")
    return tuple(sorted(out))


class _Layout:
    """Rows x L view of ``a`` for reducing ``axes``, and the result's shape."""

    def __init__(self, a: CudaArray, axes: tuple[int, ...], keepdims: bool) -> None:
        st = L.c_strides(a.shape)
        kept = [d for d in range(a.ndim) if d not in axes]
        self.oshape = tuple(a.shape[d] for d in kept)
        self.ishape = tuple(a.shape[d] for d in axes)
        self.ost = L.pad(tuple(st[d] for d in kept), 0)
        self.ist = L.pad(tuple(st[d] for d in axes), 0)
        self.nrows = math.prod(self.oshape)
        self.n = math.prod(self.ishape)
        self.contig = axes == tuple(range(a.ndim - len(axes), a.ndim))
        if keepdims:
            self.shape = tuple(1 if d in axes else s for d, s in enumerate(a.shape))
        else:
            self.shape = self.oshape


def _acc_dtype(dt: np.dtype) -> np.dtype:
    if dt.kind == "f":
        return np.dtype(np.float64)
    if dt.kind == "u":
        return np.dtype(np.uint64)
    return np.dtype(np.int64)


def _launch_value(a: CudaArray, lay: _Layout, combine: str, pre: str, out_dt: np.dtype,
                  init: Any, div: float | None = None) -> CudaArray:
    """Reduce ``a`` per ``lay`` with ``combine``; a new array of ``lay.shape`` and ``out_dt``."""
    acc_dt = _acc_dtype(np.dtype(out_dt))
    init = acc_dt.type(init)
    divf = np.float64(1.0 if div is None else div)
    out = empty(lay.shape, out_dt)
    if lay.nrows == 0:
        return out
    block, thread = _value_kernels(combine, pre, acc_dt, div is not None)
    t = _threads()
    oshape, ishape = L.pad(lay.oshape, 1), L.pad(lay.ishape, 1)
    nrows, n = np.int64(lay.nrows), np.int64(lay.n)
    on_sim = sim()
    last_reduced = lay.ist[-1] == 1  # the innermost reduced axis is the array's last axis
    short_rows = lay.n <= (4 if on_sim else 32) and lay.nrows >= (1 if on_sim else 2048)
    if not last_reduced or short_rows:
        # Thread per row; split rows into p chunks when there are too few rows to fill the GPU.
        p = 1
        if on_sim:
            p = 2 if lay.n >= 8 else 1
        elif lay.nrows < 65536 and lay.n >= 256:
            p = min(-(-65536 // lay.nrows), lay.n // 64)
        chunk = -(-lay.n // p)
        dst = out if p == 1 else empty((p * lay.nrows,), acc_dt)
        blocks, threads = launch(lay.nrows * p)
        thread[blocks, threads](dst._buf, a._buf, nrows, n, np.int64(p), np.int64(chunk), oshape,
                                lay.ost, ishape, lay.ist, init,
                                divf if p == 1 else np.float64(1.0))
        if p > 1:  # partials (p, rows): reduce over p, again one thread per row
            thread2 = _value_kernels(combine, "identity", acc_dt, div is not None)[1]
            blocks, threads = launch(lay.nrows)
            thread2[blocks, threads](out._buf, dst._buf, nrows, np.int64(p), np.int64(1),
                                     np.int64(p), L.pad((lay.nrows,), 1), L.pad((1,), 0),
                                     L.pad((p,), 1), L.pad((lay.nrows,), 0), init, divf)
        return out
    # Block per row; few long rows are split into p chunks so that the grid fills the GPU.
    p = 1
    if on_sim:
        if lay.nrows == 1 and lay.n > 4 * t:
            p = 2
    elif lay.nrows < 256 and lay.n >= 16 * t:
        p = min(max(1, 512 // lay.nrows), lay.n // (8 * t))
    chunk = -(-lay.n // p)
    blocks = 1 if on_sim else min(lay.nrows * p, 65535)
    if p == 1:
        block[blocks, t](out._buf, a._buf, nrows, n, np.int64(1), n, lay.contig, oshape,
                         lay.ost, ishape, lay.ist, init, divf)
        return out
    part = empty((lay.nrows * p,), acc_dt)
    block[blocks, t](part._buf, a._buf, nrows, n, np.int64(p), np.int64(chunk), lay.contig,
                     oshape, lay.ost, ishape, lay.ist, init, np.float64(1.0))
    block2 = _value_kernels(combine, "identity", acc_dt, div is not None)[0]
    block2[1 if on_sim else min(lay.nrows, 65535), t](
        out._buf, part._buf, nrows, np.int64(p), np.int64(1), np.int64(p), True,
        L.pad((lay.nrows,), 1), L.pad((p,), 0), L.pad((p,), 1), L.pad((1,), 0), init, divf)
    return out


def _write_out(result: CudaArray, out: Any) -> Any:
    if out is None:
        return result
    o = out[0] if isinstance(out, tuple) else out
    if type(o) is not CudaArray or o.shape != result.shape:
        raise ValueError(f"output array has shape {getattr(o, 'shape', None)}, "
                         f"expected {result.shape}")
    from minigrad.cuda._elementwise import scatter

    scatter(o, o.shape, L.c_strides(o.shape), 0, result)
    return o


def _empty_result(fn: Callable[..., Any], a: CudaArray, **kw: Any) -> CudaArray:
    """``fn`` of an empty ``a``: NumPy decides (raises, warns, or gives a constant)."""
    r = np.asarray(fn(np.empty(a.shape, a.dtype), **kw))
    if r.size == 0:
        return empty(r.shape, r.dtype)
    flat = r.reshape(-1)
    if (flat == flat[0]).all() or np.isnan(flat).all():
        return full(r.shape, flat[0], r.dtype)
    return from_host(r)


def _unsupported(a: Any, *others: Any) -> bool:
    if type(a) is not CudaArray or a.dtype.kind not in "biuf":
        return True
    return any(o is not None and o is not np._NoValue for o in others)


# ---------------------------------------------------------------------------------------------
# NumPy functions
# ---------------------------------------------------------------------------------------------


def _sum_like(np_fn: Callable[..., Any], combine: str, init: Any, mean: bool = False) -> Any:
    def impl(a: Any, axis: Any = None, dtype: Any = None, out: Any = None,
             keepdims: bool = False, initial: Any = None, where: Any = None) -> Any:
        if _unsupported(a, initial, where):
            return NotImplemented
        kw = {"axis": axis, "keepdims": keepdims} | ({"dtype": dtype} if dtype else {})
        if a.size == 0:
            return _write_out(_empty_result(np_fn, a, **kw), out)
        out_dt = np_fn(np.zeros((1,), a.dtype), dtype=dtype).dtype
        if out_dt.kind not in "biuf":
            return NotImplemented
        axes = _axes(axis, a.ndim)
        lay = _Layout(a, axes, keepdims)
        if mean and out_dt.kind in "biu":  # mean(dtype=int): NumPy divides in that type
            return NotImplemented
        r = _launch_value(a, lay, combine, "identity", out_dt, init,
                          div=float(lay.n) if mean else None)
        return _write_out(r, out)

    return impl


implements(np.sum)(_sum_like(np.sum, "add", 0))
implements(np.prod)(_sum_like(np.prod, "mul", 1))
implements(np.mean)(_sum_like(np.mean, "add", 0, mean=True))


def _extreme(np_fn: Callable[..., Any], combine: str, largest: bool) -> Any:
    def impl(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False,
             initial: Any = None, where: Any = None) -> Any:
        if _unsupported(a, initial, where):
            return NotImplemented
        if a.size == 0:
            return _write_out(_empty_result(np_fn, a, axis=axis, keepdims=keepdims), out)
        axes = _axes(axis, a.ndim)
        lay = _Layout(a, axes, keepdims)
        dt = a.dtype
        if dt.kind == "f":
            init = math.nan if combine.startswith("nan") else (-math.inf if largest
                                                                 else math.inf)
        elif dt.kind == "b":
            init = 0 if largest else 1
        else:
            info = np.iinfo(dt)
            init = info.min if largest else info.max
        name = combine[3:] if dt.kind != "f" and combine.startswith("nan") else combine
        return _write_out(_launch_value(a, lay, name, "identity", dt, init), out)

    return impl


implements(np.max, np.amax)(_extreme(np.max, "max", True))
implements(np.min, np.amin)(_extreme(np.min, "min", False))
implements(np.nanmax)(_extreme(np.nanmax, "nanmax", True))
implements(np.nanmin)(_extreme(np.nanmin, "nanmin", False))


def _truth_reduce(np_fn: Callable[..., Any], combine: str, init: int) -> Any:
    def impl(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False,
             where: Any = None) -> Any:
        if _unsupported(a, where):
            return NotImplemented
        if a.size == 0:
            return _write_out(_empty_result(np_fn, a, axis=axis, keepdims=keepdims), out)
        lay = _Layout(a, _axes(axis, a.ndim), keepdims)
        return _write_out(_launch_value(a, lay, combine, "truth", np.dtype(np.bool_), init),
                          out)

    return impl


implements(np.any)(_truth_reduce(np.any, "max", 0))
implements(np.all)(_truth_reduce(np.all, "min", 1))


def _arg(np_fn: Callable[..., Any], largest: bool) -> Any:
    def impl(a: Any, axis: Any = None, out: Any = None, *, keepdims: bool = False) -> Any:
        if _unsupported(a):
            return NotImplemented
        if a.size == 0:
            return _write_out(_empty_result(np_fn, a, axis=axis, keepdims=keepdims), out)
        if axis is None:
            flat = a.reshape(-1)
            lay = _Layout(flat, (0,), False)
            lay.shape = (1,) * a.ndim if keepdims else ()
        else:
            if not isinstance(axis, int | np.integer):
                raise TypeError(f"'{type(axis).__name__}' object cannot be interpreted as an "
                                "integer")
            flat = a
            lay = _Layout(a, _axes(axis, a.ndim), keepdims)
        res = empty(lay.shape, np.int64)
        t = _threads()
        fl = a.dtype.kind == "f"
        _arg_kernel(largest, fl)[1 if sim() else min(lay.nrows, 65535), t](
            res._buf, flat._buf, np.int64(lay.nrows), np.int64(lay.n), lay.contig,
            L.pad(lay.oshape, 1), lay.ost, L.pad(lay.ishape, 1), lay.ist,
            np.float64(0) if fl else np.int64(0))
        return _write_out(res, out)

    return impl


implements(np.argmax)(_arg(np.argmax, True))
implements(np.argmin)(_arg(np.argmin, False))


def _var_like(np_fn: Callable[..., Any], root: bool) -> Any:
    def impl(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: Any = 0,
             keepdims: bool = False, *, where: Any = None, mean: Any = None,
             correction: Any = None) -> Any:
        if _unsupported(a, where, mean, correction):
            return NotImplemented
        kw = {"axis": axis, "keepdims": keepdims, "ddof": ddof} | (
            {"dtype": dtype} if dtype else {})
        if a.size == 0:
            return _write_out(_empty_result(np_fn, a, **kw), out)
        out_dt = np_fn(np.zeros((2,), a.dtype), dtype=dtype).dtype
        if out_dt.kind != "f":
            return NotImplemented
        axes = _axes(axis, a.ndim)
        m = np.mean(a, axis=axes, dtype=out_dt, keepdims=True)
        d = np.subtract(a if a.dtype == out_dt else a.astype(out_dt), m)
        sq = np.multiply(d, d, out=d)
        lay = _Layout(sq, axes, keepdims)
        r = _launch_value(sq, lay, "add", "identity", out_dt, 0, div=float(max(lay.n - ddof, 0)))
        if root:
            np.sqrt(r, out=r)
        return _write_out(r, out)

    return impl


implements(np.var)(_var_like(np.var, False))
implements(np.std)(_var_like(np.std, True))


@implements(np.ptp)
def ptp(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False) -> Any:
    """max - min over ``axis``."""
    if _unsupported(a) or a.dtype.kind == "b":
        return NotImplemented
    if a.size == 0:
        return _write_out(_empty_result(np.ptp, a, axis=axis, keepdims=keepdims), out)
    r = np.subtract(np.max(a, axis=axis, keepdims=keepdims),
                    np.min(a, axis=axis, keepdims=keepdims))
    return _write_out(r, out)


# ufunc.reduce: axis defaults to 0 there.
_UFUNC_REDUCE = {np.add: np.sum, np.multiply: np.prod, np.maximum: np.max, np.minimum: np.min,
                 np.logical_or: np.any, np.logical_and: np.all}


def _ufunc_reduce(ufunc: np.ufunc) -> Any:
    fn = _UFUNC_REDUCE[ufunc]

    def impl(a: Any, axis: Any = 0, dtype: Any = None, out: Any = None, keepdims: bool = False,
             initial: Any = np._NoValue, where: Any = True) -> Any:
        if type(a) is not CudaArray or initial is not np._NoValue or where is not True:
            return NotImplemented
        kw: dict[str, Any] = {"axis": axis, "out": out, "keepdims": keepdims}
        if dtype is not None:
            if fn not in (np.sum, np.prod):
                return NotImplemented
            kw["dtype"] = dtype
        return _IMPL_OF[fn](a, **kw)

    return impl


_IMPL_OF: dict[Any, Any] = {}


def _register_ufunc_reduce() -> None:
    from minigrad.cuda.array import _IMPLS

    for u, fn in _UFUNC_REDUCE.items():
        _IMPL_OF[fn] = _IMPLS[fn]
        implements((u, "reduce"))(_ufunc_reduce(u))


_register_ufunc_reduce()
