"""Matrix products on ``CudaArray``: ``np.matmul`` (the ``@`` operator), ``np.dot`` for 1-D/2-D
operands, and ``np.linalg.norm`` of vectors/flattened arrays.

``matmul`` follows NumPy: a 1-D left operand is a row vector and a 1-D right operand a column
vector (the added axis is removed again), leading axes are batch axes that broadcast, and the
result dtype is ``np.result_type`` of the operands (float32, float64; int32/int64 too; other dtypes
fall back to the host).

Kernel: a classic shared-memory tiled GEMM. A block of ``TY x TX`` threads computes a
``BM x BN`` tile of C (``BM = TY * WM``, ``BN = TX * WN``: each thread owns ``WM x WN`` outputs,
rows ``ty + TY*i``, columns ``tx + TX*j``, so a warp's stores are contiguous). The K loop stages a
``BM x BK`` tile of A and a ``BK x BN`` tile of B in shared memory with coalesced loads
(neighbouring threads load neighbouring elements of a row), then every thread accumulates its
outputs from registers. Batch and tile indices are grid-stride loops over grid z/y/x, so any
batch count fits the grid limits. Accumulation is in the result dtype (float32 for float32, like
cuBLAS without TF32).
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from minigrad.cuda import _launch as L
from minigrad.cuda._runtime import load_cuda, sim, tile_product, tile_store
from minigrad.cuda.array import CudaArray, empty, implements, zeros

cuda: Any = None  # numba.cuda, bound on first use (the simulator patches module globals)

_DTYPES = tuple(np.dtype(t) for t in (np.float32, np.float64, np.int32, np.int64))


def _bind() -> None:
    global cuda
    if cuda is None:
        cuda = load_cuda()


def _config() -> tuple[int, int, int, int, int]:
    """(TY, TX, WM, WN, BK). Under the simulator: tiny tiles that still exercise every loop."""
    if sim():
        return 2, 4, 2, 2, 4
    return 16, 16, 4, 4, 16


def _tile_loader(rows: int, cols: int, nthreads: int, transpose: bool, vt: Any) -> Any:
    """A device function staging the ``rows x cols`` block at (r0, c0) of a row-major matrix
    (element (r, c) at ``src[off + r * ld + c]``, ``nrows x ncols``) in a shared tile, zero
    outside the matrix; element e of the block is (e // cols, e % cols), so a warp reads
    contiguous runs of a row. ``transpose`` stores it as tile[c, r]. The sizes and the flag are
    compile-time constants of the closure."""
    zero = vt(0)

    @cuda.jit(device=True)
    def load(tile, src, off, ld, nrows, ncols, r0, c0, tid):
        for e in range(tid, rows * cols, nthreads):
            r = e // cols
            c = e - r * cols
            gr = r0 + r
            gc = c0 + c
            v = src[off + gr * ld + gc] if gr < nrows and gc < ncols else zero
            if transpose:
                tile[c, r] = v
            else:
                tile[r, c] = v

    return load


@functools.cache
def _store_fn() -> Any:
    """The GEMM's store: element (row, col) of batch entry z at ``c[co + row * n + col]``,
    ctx = (co, n)."""

    @cuda.jit(device=True)
    def store(c, ctx, row, col, v):
        co, n = ctx
        c[co + row * n + col] = v

    return store


@functools.cache
def _gemm_kernel(dtype: np.dtype) -> Any:
    _bind()
    ty_, tx_, wm, wn, bk = _config()
    bm, bn = ty_ * wm, tx_ * wn
    nthreads = ty_ * tx_
    vt = np.dtype(dtype).type
    batch_offsets = L.offsets2_fn()
    load_a = _tile_loader(bm, bk, nthreads, True, vt)  # stored As[kk, row]
    load_b = _tile_loader(bk, bn, nthreads, False, vt)
    product = tile_product(bk, wm, wn, ty_, tx_)
    write = tile_store(wm, wn, ty_, tx_, _store_fn())

    @cuda.jit
    def gemm(c, a, b, nb, m, n, k, bshape, abst, bbst):
        """c[z] (m, n) = a[z] (m, k) @ b[z] (k, n); a/b batch offsets from bshape & strides."""
        # As[kk, row]: a thread's rows are read as a broadcast; the +1 column keeps the
        # transposing stores free of bank conflicts
        As = cuda.shared.array((bk, bm + 1), dtype=vt)
        Bs = cuda.shared.array((bk, bn), dtype=vt)
        acc = cuda.local.array((wm, wn), dtype=vt)
        ty = cuda.threadIdx.y
        tx = cuda.threadIdx.x
        tid = ty * tx_ + tx
        tiles_m = (m + bm - 1) // bm
        tiles_n = (n + bn - 1) // bn
        for z in range(cuda.blockIdx.z, nb, cuda.gridDim.z):
            ao, bo = batch_offsets(z, bshape, abst, bbst)
            co = z * m * n
            for tm in range(cuda.blockIdx.y, tiles_m, cuda.gridDim.y):
                m0 = tm * bm
                for tn in range(cuda.blockIdx.x, tiles_n, cuda.gridDim.x):
                    n0 = tn * bn
                    for i in range(wm):
                        for j in range(wn):
                            acc[i, j] = 0
                    for k0 in range(0, k, bk):
                        load_a(As, a, ao, k, m, k, m0, k0, tid)
                        load_b(Bs, b, bo, n, k, n, k0, n0, tid)
                        product(acc, As, Bs, ty, tx)
                    write(acc, c, (co, n), m0, n0, ty, tx, m, n)

    return gemm


def _check_operand(x: Any, i: int) -> None:
    if type(x) is not CudaArray:
        raise TypeError(f"matmul: cannot mix a GPU array with a host {type(x).__name__} "
                        f"(operand {i}); move it to the GPU first")


def _matmul(a: CudaArray, b: CudaArray) -> Any:
    """``a @ b`` with NumPy's rules. a: (..., m, k) or (k,); b: (..., k, n) or (k,)."""
    for i, x in enumerate((a, b)):
        if x.ndim == 0:
            raise ValueError(f"matmul: Input operand {i} does not have enough dimensions "
                             "(has 0, gufunc core with signature (n?,k),(k,m?)->(n?,m?) "
                             "requires 1)")
    dt = np.result_type(a.dtype, b.dtype)
    if dt not in _DTYPES:
        return NotImplemented
    a2 = a.reshape(1, a.shape[0]) if a.ndim == 1 else a
    b2 = b.reshape(b.shape[0], 1) if b.ndim == 1 else b
    m, k = a2.shape[-2:]
    k2, n = b2.shape[-2:]
    if k != k2:
        raise ValueError(f"matmul: Input operand 1 has a mismatch in its core dimension 0, "
                         f"with gufunc signature (n?,k),(k,m?)->(n?,m?) (size {k2} is "
                         f"different from {k})")
    batch = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
    out_shape = batch + (m, n)
    if a.ndim == 1:
        final = batch + (n,) if b.ndim > 1 else batch
    elif b.ndim == 1:
        final = batch + (m,)
    else:
        final = out_shape
    if math.prod(out_shape) == 0 or k == 0:
        return zeros(final, dt)
    a2 = a2 if a2.dtype == dt else a2.astype(dt)
    b2 = b2 if b2.dtype == dt else b2.astype(dt)
    c = empty(out_shape, dt)
    nb = math.prod(batch)

    def bstrides(shape: tuple[int, ...]) -> tuple[int, ...]:
        st = L.broadcast_strides(shape[:-2], batch)  # in units of matrices
        size = shape[-1] * shape[-2]
        return L.pad(tuple(s * size for s in st), 0)

    ty_, tx_, wm, wn, _ = _config()
    if sim():
        grid = (1, 1, 1)
    else:
        grid = (min(-(-n // (tx_ * wn)), 65535), min(-(-m // (ty_ * wm)), 65535),
                min(nb, 65535))
    _gemm_kernel(dt)[grid, (tx_, ty_)](
        c._buf, a2._buf, b2._buf, np.int64(nb), np.int64(m), np.int64(n), np.int64(k),
        L.pad(batch, 1), bstrides(a2.shape), bstrides(b2.shape))
    return c.reshape(final)


@implements(np.matmul)
def matmul(a: Any, b: Any, out: Any = None, **kw: Any) -> Any:
    """``np.matmul(a, b)`` on the GPU (``out=`` must be a CudaArray of the result's shape)."""
    if kw:
        return NotImplemented
    _check_operand(a, 0)
    _check_operand(b, 1)
    r = _matmul(a, b)
    if r is NotImplemented or out is None:
        return r
    o = out[0] if isinstance(out, tuple) else out
    if type(o) is not CudaArray or o.shape != r.shape:
        return NotImplemented
    from minigrad.cuda._elementwise import scatter

    scatter(o, o.shape, L.c_strides(o.shape), 0, r)
    return o


@implements(np.dot)
def dot(a: Any, b: Any, out: Any = None) -> Any:
    """``np.dot`` for operands of at most 2 dims (0-d operands multiply)."""
    if out is not None:
        return NotImplemented
    if type(a) is CudaArray and type(b) is CudaArray and a.ndim <= 2 and b.ndim <= 2:
        if a.ndim == 0 or b.ndim == 0:
            return np.multiply(a, b)
        return _matmul(a, b)
    return NotImplemented


@implements(np.linalg.norm)
def norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A002
    """Vector norms of a 1-D array (or, with ``ord=None``, the Frobenius norm of any array)."""
    if type(x) is not CudaArray or axis is not None or keepdims or x.dtype.kind not in "biuf":
        return NotImplemented
    if ord is not None and x.ndim != 1:
        return NotImplemented
    xf = x if x.dtype.kind == "f" else x.astype(np.float64)
    if ord is None or ord == 2:
        return np.sqrt(np.sum(np.multiply(xf, xf)))
    ax = np.absolute(xf)
    if ord == np.inf:
        return np.max(ax)
    if ord == -np.inf:
        return np.min(ax)
    if ord == 0:
        return np.sum(np.not_equal(xf, 0), dtype=xf.dtype)
    if ord == 1:
        return np.sum(ax)
    if isinstance(ord, int | float) and ord > 0:
        return np.power(np.sum(np.power(ax, float(ord))), 1.0 / float(ord))
    return NotImplemented
