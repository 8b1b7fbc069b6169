"""2-D convolution kernels on NumPy arrays (float32 and float64), PyTorch conventions.

    x: (N, C, H, W)   w: (K, C // groups, R, S)   y: (N, K, OH, OW)
    stride (sh, sw), padding (top, bottom, left, right), dilation (dh, dw)
    OH = (H + top + bottom - dh*(R-1) - 1) // sh + 1       (same for OW)

Design, chosen by measurement on 2 cores (numbers from bench/bench_ops.py and one-off scripts,
float32, against OpenBLAS sgemm at ~190 GFLOP/s on these shapes):

* im2col + BLAS GEMM, one sample (or, for small images, a few samples) per GEMM. A whole-batch
  im2col matrix (75 MB for (32, 64, 32, 32) 3x3) is memory-bound to write; per-sample columns
  (2.4 MB) are re-used from cache by the GEMM. Splitting a sample further into bands of output
  rows to fit L2 made the GEMMs smaller and was 0-15% slower: not kept.
* Two cores are used by splitting the batch, not the kernels: each of T Python threads (T = the
  OpenBLAS thread count) runs im2col (nogil Numba) and its GEMMs on a contiguous slice of the
  batch, with OpenBLAS limited to one thread meanwhile (threadpoolctl; without it everything
  runs in the calling thread). A ``prange`` im2col between OpenBLAS's threaded GEMMs made the
  op up to 10x slower under the OpenMP layer (both pools spin-wait for the cores) and no faster
  under workqueue. Splitting made (32, 64, 32, 32) 3x3 and (32, 32, 64, 64) 3x3 s2 faster, and
  far less sensitive to other processes on a shared machine (OpenBLAS's spinning workers lose
  their time slices); under ``_SPLIT_FLOPS`` it did not pay and is skipped.
* im2col/col2im index flat buffers with unsigned offsets: LLVM then vectorises the inner row
  copies (3x faster than 4-D signed indexing, which keeps a negative-index wraparound test).
* The bias is folded into the forward GEMM as an extra row of ones in the columns (no extra pass
  over the output).
* 1x1 kernels with stride 1 and no padding need no im2col: the input plane already is the column
  matrix.
* Images with fewer than ``_FOLD_BELOW`` output pixels fold several samples into one GEMM (then
  a small transposed copy), up to ``_COLS_BUDGET`` bytes of columns; larger ones go one sample
  at a time and the GEMM writes straight into ``y``.
* The weight gradient is accumulated as ``columns @ gy.T`` ((C/g*R*S, K/g) per sample): 10-20%
  faster in OpenBLAS than the transposed product ``gy @ columns.T``.
* Winograd F(2x2, 3x3) for 3x3 stride-1 single-group layers with >= ``_WINOGRAD_MIN_CHANNELS``
  channels in and out: forward, and the input gradient (a 3x3 stride-1 conv of gy with the
  flipped kernel). One sample at a time (its tiles stay in cache); 2.25x fewer GEMM
  multiply-adds. A first version (whole-batch tiles) lost to im2col: its input transform wrote
  16 planes exactly 64 KiB apart, all in the same L1 sets; offsetting the planes by an odd
  number of cache lines made it 7x faster. (32, 64, 32, 32) 3x3: forward 33 -> 23 ms, input
  gradient 28 -> 23 ms; (32, 32, 32, 32) -> 32: 10.3 -> 7.9 ms; at 16 channels about equal; with
  3 input channels 1.6x slower (the transforms dominate), hence the threshold.
* Tried and not kept: keeping the forward's im2col columns for the weight gradient (no second
  im2col): on (64, 6, 14, 14) 5x5 and (64, 1, 28, 28) 5x5 (3.9 and 5.2 MB of columns) writing
  them to a buffer that does not stay in cache cost the forward about what the weight gradient
  saved (three runs: +12%, -7%, -10% on forward + both gradients); the big layers' columns
  (38-75 MB) would be fresh, page-faulting memory every step. Also not kept: the input gradient
  as a forward convolution of gy with the flipped kernel through im2col (equal for big layers,
  2-4x slower for small ones); folding samples into the input-gradient GEMM (within noise).

``conv2d_grad_input`` (col2im) is also conv_transpose2d's forward. ``conv2d_grad_input_rot180`` is
the textbook version of the same gradient (dilate, pad to a full convolution, correlate with the
flipped kernel), kept for teaching and tested equal to the fast path.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from numba import njit, uint64

__all__ = [
    "conv_out_size",
    "conv2d_forward",
    "conv2d_grad_input",
    "conv2d_grad_weight",
    "conv2d_grad_input_rot180",
]

Pair = tuple[int, int]
Quad = tuple[int, int, int, int]

# Folding small images: at most this many bytes of im2col columns per GEMM (best of 64 KiB ..
# 16 MiB on (64, 6, 14, 14) 5x5 and (64, 1, 28, 28) 5x5), for images with fewer than
# _FOLD_BELOW output pixels (folding (64, 3, 32, 32), 1024 pixels, was 20-50% slower).
_COLS_BUDGET = 1 << 17
_FOLD_BELOW = 1024

# Batch splitting across threads (see _split). None: as many threads as OpenBLAS was
# configured with (OPENBLAS_NUM_THREADS / OMP_NUM_THREADS / cores); 1 turns splitting off.
# Only chunks (a sample, or a few folded small ones) of at least _SPLIT_FLOPS (2 x multiply-adds)
# are split: every chunk's kernel calls hand the GIL back and forth between the threads, which
# costs more than the second core gives for small chunks. Measured (forward + both gradients):
# (32, 64, 32, 32) 3x3, 75 MFLOP per sample: 78-87 -> 57-62 ms; (32, 32, 64, 64) 3x3 s2, 38 MFLOP:
# 59-64 -> 52-67 ms; (64, 3, 32, 32) 3x3, 1.8 MFLOP: 8.3-10 -> 9.7-14 ms (slower); the 5x5
# LeNet layers (~1 MFLOP per chunk) were 10-15% slower too.
_MAX_THREADS: int | None = None
_SPLIT_FLOPS = 1 << 23

# Winograd F(2x2, 3x3) for 3x3 stride-1 layers with at least this many input and output
# channels (per group; one group only); see _winograd_conv.
_WINOGRAD_MIN_CHANNELS = 16


def conv_out_size(n: int, f: int, stride: int, pad_lo: int, pad_hi: int, dilation: int) -> int:
    """Output length along one axis: ``(n + lo + hi - dilation*(f-1) - 1) // stride + 1``."""
    return (n + pad_lo + pad_hi - dilation * (f - 1) - 1) // stride + 1


# ------------------------------------------------------------------------------------------------
# Numba kernels


@njit(cache=True, nogil=True)
def _valid_range(n_in, n_out, stride, offset):
    """Output positions ``o`` in ``[lo, hi)`` whose input index ``o*stride + offset`` is inside
    ``[0, n_in)``."""
    lo = 0
    if offset < 0:
        lo = (-offset + stride - 1) // stride
    last = n_in - 1 - offset
    hi = last // stride + 1 if last >= 0 else 0
    hi = min(hi, n_out)
    lo = min(lo, hi)
    return lo, hi


@njit(cache=True, nogil=True)
def _im2col(x, n0, n1, c0, cg, kh, kw, sh, sw, top, left, dh, dw, oh, ow,
            cols, row_stride, sample_stride):
    """Receptive fields of samples ``n0:n1``, channels ``c0:c0+cg`` -> flat ``cols``.

    x: (N, C, H, W) C-contiguous. For row = (c*kh + r)*kw + s and output pixel (i, j):
        cols[row*row_stride + (n-n0)*sample_stride + i*ow + j]
            = x[n, c0+c, i*sh + r*dh - top, j*sw + s*dw - left]   (0 outside the input)
    """
    h = x.shape[2]
    w = x.shape[3]
    xf = x.ravel()
    uow = uint64(ow)
    usw = uint64(sw)
    for n in range(n0, n1):
        for c in range(cg):
            plane = (n * x.shape[1] + c0 + c) * h
            for r in range(kh):
                for s in range(kw):
                    row = (c * kh + r) * kw + s
                    offw = s * dw - left
                    lo, hi = _valid_range(w, ow, sw, offw)
                    ulo = uint64(lo)
                    uhi = uint64(hi)
                    base = uint64(row * row_stride + (n - n0) * sample_stride)
                    for i in range(oh):
                        d = base + uint64(i * ow)
                        ih = i * sh + r * dh - top
                        if ih < 0 or ih >= h:
                            for j in range(uow):
                                cols[d + j] = 0
                            continue
                        for j in range(ulo):
                            cols[d + j] = 0
                        src = uint64((plane + ih) * w + lo * sw + offw)
                        dd = d + ulo
                        if sw == 1:
                            for j in range(uhi - ulo):
                                cols[dd + j] = xf[src + j]
                        else:
                            for j in range(uhi - ulo):
                                cols[dd + j] = xf[src + j * usw]
                        for j in range(uhi, uow):
                            cols[d + j] = 0


@njit(cache=True, nogil=True)
def _col2im(cols, row_stride, sample_stride, n0, n1, c0, cg, kh, kw, sh, sw, top, left, dh, dw,
            oh, ow, gx):
    """Adjoint of ``_im2col``: scatter-add flat ``cols`` back onto ``gx`` (N, C, H, W) contiguous.

    Entries that fall on padding are dropped. One (sample, channel) plane at a time, so the
    plane being accumulated stays in L1.
    """
    h = gx.shape[2]
    w = gx.shape[3]
    gf = gx.ravel()
    usw = uint64(sw)
    for n in range(n0, n1):
        for c in range(cg):
            plane = (n * gx.shape[1] + c0 + c) * h
            for r in range(kh):
                for s in range(kw):
                    row = (c * kh + r) * kw + s
                    offw = s * dw - left
                    lo, hi = _valid_range(w, ow, sw, offw)
                    ulo = uint64(lo)
                    uhi = uint64(hi)
                    base = uint64(row * row_stride + (n - n0) * sample_stride)
                    for i in range(oh):
                        ih = i * sh + r * dh - top
                        if ih < 0 or ih >= h:
                            continue
                        d = base + uint64(i * ow) + ulo
                        dst = uint64((plane + ih) * w + lo * sw + offw)
                        if sw == 1:
                            for j in range(uhi - ulo):
                                gf[dst + j] += cols[d + j]
                        else:
                            for j in range(uhi - ulo):
                                gf[dst + j * usw] += cols[d + j]


@njit(cache=True, nogil=True)
def _winograd_input(xp, th, tw, v):
    """Winograd F(2x2, 3x3) input tiles: v[:, c, ty*tw + tx] = B^T d B (16 values).

    xp: (C, 2*th + 2, 2*tw + 2) padded image; d = xp[c, 2ty:2ty+4, 2tx:2tx+4]. The row part
    (B^T d) is done once per row of tiles over whole padded rows, which LLVM vectorises.
    """
    wp = xp.shape[2]
    a = np.empty(wp, dtype=xp.dtype)
    b = np.empty(wp, dtype=xp.dtype)
    e = np.empty(wp, dtype=xp.dtype)
    f = np.empty(wp, dtype=xp.dtype)
    for c in range(xp.shape[0]):
        for ty in range(th):
            r0 = xp[c, 2 * ty]
            r1 = xp[c, 2 * ty + 1]
            r2 = xp[c, 2 * ty + 2]
            r3 = xp[c, 2 * ty + 3]
            for j in range(wp):
                a[j] = r0[j] - r2[j]
                b[j] = r1[j] + r2[j]
                e[j] = r2[j] - r1[j]
                f[j] = r1[j] - r3[j]
            for tx in range(tw):
                t = ty * tw + tx
                j = 2 * tx
                for q, row in enumerate((a, b, e, f)):
                    v[4 * q, c, t] = row[j] - row[j + 2]
                    v[4 * q + 1, c, t] = row[j + 1] + row[j + 2]
                    v[4 * q + 2, c, t] = row[j + 2] - row[j + 1]
                    v[4 * q + 3, c, t] = row[j + 1] - row[j + 3]


@njit(cache=True, nogil=True)
def _winograd_output(m, th, tw, bias, y):
    """y[k] (OH, OW) = A^T m A + bias[k] for every 4x4 tile m[:, k, t] (tiles cut at the edge)."""
    oh = y.shape[1]
    ow = y.shape[2]
    for k in range(m.shape[1]):
        for ty in range(th):
            for tx in range(tw):
                t = ty * tw + tx
                c0 = m[0, k, t] + m[4, k, t] + m[8, k, t]
                c1 = m[1, k, t] + m[5, k, t] + m[9, k, t]
                c2 = m[2, k, t] + m[6, k, t] + m[10, k, t]
                c3 = m[3, k, t] + m[7, k, t] + m[11, k, t]
                d0 = m[4, k, t] - m[8, k, t] - m[12, k, t]
                d1 = m[5, k, t] - m[9, k, t] - m[13, k, t]
                d2 = m[6, k, t] - m[10, k, t] - m[14, k, t]
                d3 = m[7, k, t] - m[11, k, t] - m[15, k, t]
                i = 2 * ty
                j = 2 * tx
                y[k, i, j] = c0 + c1 + c2 + bias[k]
                if j + 1 < ow:
                    y[k, i, j + 1] = c1 - c2 - c3 + bias[k]
                if i + 1 < oh:
                    y[k, i + 1, j] = d0 + d1 + d2 + bias[k]
                    if j + 1 < ow:
                        y[k, i + 1, j + 1] = d1 - d2 - d3 + bias[k]


# ------------------------------------------------------------------------------------------------
# drivers


def _common(*arrays: np.ndarray) -> list[np.ndarray]:
    dtype = np.result_type(*arrays)
    return [np.ascontiguousarray(a, dtype=dtype) for a in arrays]


def _is_pointwise(kh: int, kw: int, stride: Pair, padding: Quad) -> bool:
    return kh == 1 and kw == 1 and stride == (1, 1) and not any(padding)


def _chunk(n: int, rows: int, p: int, itemsize: int) -> int:
    """Samples per chunk: 1 for large outputs, else as many as fit the column budget."""
    if p >= _FOLD_BELOW:
        return 1
    return max(1, min(n, _COLS_BUDGET // max(1, rows * p * itemsize)))


# Running the batch in threads. OpenBLAS's own threads busy-wait between GEMMs, so they cannot
# share the cores with a parallel im2col (see the module docstring); instead each of T Python
# threads takes a contiguous slice of the batch and runs the whole pipeline on it (nogil im2col,
# then single-threaded GEMMs), with OpenBLAS limited to one thread meanwhile.


class _Blas:
    """OpenBLAS thread control through threadpoolctl (optional: without it, no splitting)."""

    lock = threading.Lock()
    controller: Any = None
    threads = 1
    pool: ThreadPoolExecutor | None = None
    pool_size = 0
    pool_pid = 0
    ready = False

    @classmethod
    def setup(cls) -> None:
        if cls.ready:
            return
        cls.ready = True
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            return
        ctl = ThreadpoolController().select(user_api="blas")
        counts = [lib["num_threads"] for lib in ctl.info()]
        if counts:
            cls.controller, cls.threads = ctl, max(1, min(counts))


def _split(count: int, work: Callable[[int, int], Any], flops: int) -> list[Any]:
    """``[work(lo, hi) for each contiguous slice of range(count)]``, the slices run in threads.

    ``flops``: of all ``count`` items together. Serial (one slice) for small items
    (``flops / count < _SPLIT_FLOPS``), when threadpoolctl is missing,
    OpenBLAS has one thread, there is one item, or another thread is inside a split conv right
    now (the BLAS limit is process-wide, so only one caller may set and restore it).
    """
    if flops < _SPLIT_FLOPS * count:
        return [work(0, count)]
    _Blas.setup()
    t = min(count, _Blas.threads if _MAX_THREADS is None else _MAX_THREADS)
    if t <= 1 or _Blas.controller is None or not _Blas.lock.acquire(blocking=False):
        return [work(0, count)]
    try:
        # a forked child (e.g. a DataLoader worker) inherits the pool object but not its threads
        if _Blas.pool_size < t - 1 or _Blas.pool_pid != os.getpid():
            _Blas.pool = ThreadPoolExecutor(t - 1, thread_name_prefix="minigrad-conv")
            _Blas.pool_size, _Blas.pool_pid = t - 1, os.getpid()
        bounds = [count * i // t for i in range(t + 1)]
        with _Blas.controller.limit(limits=1):
            futures = [_Blas.pool.submit(work, bounds[i], bounds[i + 1]) for i in range(1, t)]
            first = work(bounds[0], bounds[1])
            return [first] + [f.result() for f in futures]
    finally:
        _Blas.lock.release()


def conv2d_forward(x: np.ndarray, w: np.ndarray, stride: Pair, padding: Quad, dilation: Pair,
                   groups: int, bias: np.ndarray | None = None) -> np.ndarray:
    """Cross-correlation y: (N, K, OH, OW) of x: (N, C, H, W) with w: (K, C//groups, R, S).

    ``bias``: (K,) or None, added to every output pixel. Geometry is trusted (validated by the op).
    """
    x, w = _common(x, w)
    n, c, h, wd = x.shape
    k, cg, kh, kw = w.shape
    (sh, sw), (top, bottom, left, right), (dh, dw) = stride, padding, dilation
    oh = conv_out_size(h, kh, sh, top, bottom, dh)
    ow = conv_out_size(wd, kw, sw, left, right, dw)
    kg, p, crs = k // groups, oh * ow, cg * kh * kw
    y = np.empty((n, k, p), dtype=x.dtype)
    w2 = w.reshape(k, crs)
    if bias is not None:
        # the ones row of the columns multiplies this extra weight column
        w2 = np.concatenate([w2, np.asarray(bias, dtype=x.dtype).reshape(k, 1)], axis=1)
    if _is_pointwise(kh, kw, stride, padding):
        x3 = x.reshape(n, c, p)
        for g in range(groups):
            np.matmul(w2[g * kg:(g + 1) * kg, :crs], x3[:, g * cg:(g + 1) * cg],
                      out=y[:, g * kg:(g + 1) * kg])
        if bias is not None:
            y += w2[:, crs:]
        return y.reshape(n, k, oh, ow)

    if _use_winograd(cg, kg, kh, kw, stride, dilation, groups):
        return _winograd_conv(x, w, padding, bias)

    rows = w2.shape[1]
    m = _chunk(n, rows, p, x.itemsize)
    chunks = -(-n // m)

    def work(lo: int, hi: int) -> None:
        cols = np.empty((rows, m * p), dtype=x.dtype)
        if bias is not None:
            cols[crs] = 1
        tmp = np.empty((kg, m * p), dtype=x.dtype) if m > 1 else None
        for ci in range(lo, hi):
            n0, n1 = ci * m, min(n, ci * m + m)
            mm = n1 - n0
            for g in range(groups):
                _im2col(x, n0, n1, g * cg, cg, kh, kw, sh, sw, top, left, dh, dw, oh, ow,
                        cols.ravel(), m * p, p)
                wg = w2[g * kg:(g + 1) * kg]
                if m == 1:
                    np.matmul(wg, cols, out=y[n0, g * kg:(g + 1) * kg])
                else:
                    t = tmp[:, :mm * p]
                    np.matmul(wg, cols[:, :mm * p], out=t)
                    y[n0:n1, g * kg:(g + 1) * kg] = t.reshape(kg, mm, p).transpose(1, 0, 2)

    _split(chunks, work, 2 * n * k * p * crs)
    return y.reshape(n, k, oh, ow)


def conv2d_grad_input(gy: np.ndarray, w: np.ndarray, input_hw: Pair, stride: Pair,
                      padding: Quad, dilation: Pair, groups: int) -> np.ndarray:
    """Gradient of conv2d w.r.t. its input: gx (N, C, H, W) from gy (N, K, OH, OW).

    Equivalently conv_transpose2d's forward. ``input_hw`` is needed because strided convolutions
    drop the last rows/columns that do not fill a window; those get zero gradient.
    """
    gy, w = _common(gy, w)
    n, k, oh, ow = gy.shape
    _, cg, kh, kw = w.shape
    h, wd = input_hw
    (sh, sw), (top, _bottom, left, _right), (dh, dw) = stride, padding, dilation
    kg, p, crs, c = k // groups, oh * ow, cg * kh * kw, cg * groups
    gy3 = gy.reshape(n, k, p)
    wt = w.reshape(k, crs)
    if _is_pointwise(kh, kw, stride, padding) and (h, wd) == (oh, ow):
        gx = np.empty((n, c, p), dtype=gy.dtype)
        for g in range(groups):
            np.matmul(wt[g * kg:(g + 1) * kg].T, gy3[:, g * kg:(g + 1) * kg],
                      out=gx[:, g * cg:(g + 1) * cg])
        return gx.reshape(n, c, h, wd)

    if (_use_winograd(kg, cg, kh, kw, stride, dilation, groups) and max(padding) <= 2
            and (h, wd) == (oh + 2 - top - _bottom, ow + 2 - left - _right)):
        # the input gradient of a 3x3 stride-1 conv is a 3x3 stride-1 conv of gy with the kernel
        # flipped and its channel axes swapped, padded by 2 - padding on each side
        wf = np.ascontiguousarray(w.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1])
        return _winograd_conv(gy, wf, tuple(2 - a for a in padding), None)

    gx = np.empty((n, c, h, wd), dtype=gy.dtype)
    m = _chunk(n, crs, p, gy.itemsize)

    def work(lo: int, hi: int) -> None:
        gx[lo * m:hi * m] = 0  # zeroed by the thread that accumulates into it
        # per-sample layout (m, crs, p): the batched GEMM then reads gy in place, no transpose
        gcols = np.empty((m, crs, p), dtype=gy.dtype)
        flat = gcols.ravel()
        for ci in range(lo, hi):
            n0, n1 = ci * m, min(n, ci * m + m)
            mm = n1 - n0
            for g in range(groups):
                np.matmul(wt[g * kg:(g + 1) * kg].T, gy3[n0:n1, g * kg:(g + 1) * kg],
                          out=gcols[:mm])
                _col2im(flat, p, crs * p, n0, n1, g * cg, cg, kh, kw, sh, sw, top, left, dh,
                        dw, oh, ow, gx)

    _split(-(-n // m), work, 2 * n * k * p * crs)
    return gx


def conv2d_grad_weight(x: np.ndarray, gy: np.ndarray, kernel_hw: Pair, stride: Pair,
                       padding: Quad, dilation: Pair, groups: int) -> np.ndarray:
    """Gradient of conv2d w.r.t. its weight: gw (K, C//groups, R, S).

    x: (N, C, H, W), gy: (N, K, OH, OW). Accumulates ``columns @ gy.T`` chunk by chunk: the
    transposed product (C/g*R*S, K/g) measured 10-20% faster in OpenBLAS than ``gy @ columns.T``.
    Each thread sums its slice of the batch; the slices' sums are added at the end.
    """
    x, gy = _common(x, gy)
    n, c, h, wd = x.shape
    _, k, oh, ow = gy.shape
    kh, kw = kernel_hw
    (sh, sw), (top, _bottom, left, _right), (dh, dw) = stride, padding, dilation
    cg, kg, p = c // groups, k // groups, oh * ow
    crs = cg * kh * kw
    gy3 = gy.reshape(n, k, p)
    if _is_pointwise(kh, kw, stride, padding) and (h, wd) == (oh, ow):
        gw = np.empty((k, crs), dtype=x.dtype)
        x3 = x.reshape(n, c, p)
        for g in range(groups):
            gyg = gy3[:, g * kg:(g + 1) * kg].transpose(1, 0, 2).reshape(kg, n * p)
            xg = x3[:, g * cg:(g + 1) * cg].transpose(1, 0, 2).reshape(cg, n * p)
            gw[g * kg:(g + 1) * kg] = gyg @ xg.T
        return gw.reshape(k, cg, kh, kw)

    m = _chunk(n, crs, p, x.itemsize)

    def work(lo: int, hi: int) -> np.ndarray:
        gw_t = np.zeros((groups, crs, kg), dtype=x.dtype)
        part = np.empty((crs, kg), dtype=x.dtype)
        cols = np.empty((crs, m * p), dtype=x.dtype)
        flat = cols.ravel()
        for ci in range(lo, hi):
            n0, n1 = ci * m, min(n, ci * m + m)
            mm = n1 - n0
            for g in range(groups):
                _im2col(x, n0, n1, g * cg, cg, kh, kw, sh, sw, top, left, dh, dw, oh, ow,
                        flat, m * p, p)
                gyg = gy3[n0:n1, g * kg:(g + 1) * kg]
                gyg = gyg[0] if mm == 1 else gyg.transpose(1, 0, 2).reshape(kg, mm * p)
                np.matmul(cols[:, :mm * p], gyg.T, out=part)
                gw_t[g] += part
        return gw_t

    parts = _split(-(-n // m), work, 2 * n * k * p * crs)
    gw_t = parts[0]
    for other in parts[1:]:
        gw_t += other
    return gw_t.transpose(0, 2, 1).reshape(k, cg, kh, kw)


# ------------------------------------------------------------------------------------------------
# Winograd F(2x2, 3x3)

# G of F(2x2, 3x3): the weight transform U = G g G^T (4x4 per 3x3 filter)
_WINO_G = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]])


def _use_winograd(cg: int, kg: int, kh: int, kw: int, stride: Pair, dilation: Pair,
                  groups: int) -> bool:
    """3x3, stride 1, no dilation, one group, and enough channels for the GEMMs to dominate."""
    return ((kh, kw) == (3, 3) and stride == (1, 1) and dilation == (1, 1) and groups == 1
            and min(cg, kg) >= _WINOGRAD_MIN_CHANNELS)


def _winograd_buffer(rows: int, cols: int, dtype: np.dtype) -> np.ndarray:
    """(16, rows, cols) with the 16 planes an odd number of cache lines apart: planes exactly a
    multiple of 4 KiB apart (e.g. 64 x 256 floats) all map to the same L1 sets, and the input
    transform, which writes all 16 at once, ran 7x slower."""
    itemsize = np.dtype(dtype).itemsize
    line = 64 // itemsize
    plane = -(-rows * cols // line) * line
    if (plane // line) % 2 == 0:
        plane += line
    return np.empty((16, plane), dtype=dtype)[:, :rows * cols].reshape(16, rows, cols)


def _winograd_conv(x: np.ndarray, w: np.ndarray, padding: Quad,
                   bias: np.ndarray | None) -> np.ndarray:
    """3x3 stride-1 cross-correlation by Winograd F(2x2, 3x3), one sample at a time.

    x: (N, C, H, W) contiguous, w: (K, C, 3, 3), padding (top, bottom, left, right) >= 0.
    Per sample: pad into a zeroed buffer, input transform to V (16, C, T) for T 2x2 output tiles,
    16 GEMMs U (16, K, C) @ V -> M (16, K, T) (2.25x fewer multiply-adds than im2col's), output
    transform. Matches the direct convolution to float rounding (the transforms use 0.5 and 1).
    """
    n, c, h, wd = x.shape
    k = w.shape[0]
    top, bottom, left, right = padding
    oh, ow = h + top + bottom - 2, wd + left + right - 2
    th, tw = (oh + 1) // 2, (ow + 1) // 2
    u = np.einsum("ir,kcrs,js->ijkc", _WINO_G, w, _WINO_G).reshape(16, k, c).astype(x.dtype)
    b = np.zeros(k, dtype=x.dtype) if bias is None else np.asarray(bias, dtype=x.dtype)
    y = np.empty((n, k, oh, ow), dtype=x.dtype)

    def work(lo: int, hi: int) -> None:
        # the image fits: 2*th + 2 >= oh + 2 = h + top + bottom
        xp = np.zeros((c, 2 * th + 2, 2 * tw + 2), dtype=x.dtype)
        v = _winograd_buffer(c, th * tw, x.dtype)
        m = _winograd_buffer(k, th * tw, x.dtype)
        for i in range(lo, hi):
            xp[:, top:top + h, left:left + wd] = x[i]
            _winograd_input(xp, th, tw, v)
            np.matmul(u, v, out=m)
            _winograd_output(m, th, tw, b, y[i])

    _split(n, work, 2 * n * k * c * 4 * th * tw * 4)
    return y


# ------------------------------------------------------------------------------------------------
# the textbook input gradient


def conv2d_grad_input_rot180(gy: np.ndarray, w: np.ndarray, input_hw: Pair, stride: Pair,
                             padding: Quad, dilation: Pair, groups: int) -> np.ndarray:
    """Same result as :func:`conv2d_grad_input`, computed the way it is taught.

    1. Dilate gy by the stride: put ``s-1`` zeros between neighbouring gradient pixels, so each
       one sits where its window started in the padded input.
    2. Pad it by the dilated kernel extent minus one on every side ("full" convolution).
    3. Correlate with the kernel rotated by 180 degrees, input and output channels swapped within
       each group (w: (K, C/g, R, S) -> (C, K/g, R, S)), same dilation, stride 1.
    The result covers the padded input; crop the padding off (rows a strided window never reached
    stay zero).
    """
    gy, w = _common(gy, w)
    n, k, oh, ow = gy.shape
    _, cg, kh, kw = w.shape
    h, wd = input_hw
    (sh, sw), (top, _bottom, left, _right), (dh, dw) = stride, padding, dilation
    kg = k // groups

    dilated = np.zeros((n, k, (oh - 1) * sh + 1, (ow - 1) * sw + 1), dtype=gy.dtype)
    dilated[:, :, ::sh, ::sw] = gy

    ext_h, ext_w = dh * (kh - 1), dw * (kw - 1)  # dilated kernel extent minus one

    flipped = w[:, :, ::-1, ::-1]
    swapped = (flipped.reshape(groups, kg, cg, kh, kw)
               .transpose(0, 2, 1, 3, 4)
               .reshape(groups * cg, kg, kh, kw))

    full = conv2d_forward(dilated, swapped, (1, 1), (ext_h, ext_h, ext_w, ext_w), (dh, dw), groups)
    # full[:, :, a, b] is the gradient at padded-input position (a, b)
    rows, cols = max(full.shape[2], top + h), max(full.shape[3], left + wd)
    gx_padded = np.zeros((n, groups * cg, rows, cols), dtype=gy.dtype)
    gx_padded[:, :, :full.shape[2], :full.shape[3]] = full
    return np.ascontiguousarray(gx_padded[:, :, top:top + h, left:left + wd])
