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

* Direct kernels for layers with few output channels (K <= 16) and taps (C*R*S <= 256), one group
  and stride 1 along the width (see ``_use_direct``): im2col + GEMM spends most of its time off the
  GEMM there. (64, 6, 14, 14) 5x5 -> 16 (C*R*S = 150, 10x10 outputs) on one core: im2col 0.45 ms
  (rows of 10 values), its GEMMs 0.25 ms, col2im 0.39 ms, and 16-row GEMMs run far below peak.
  The direct path copies x and gy to a batch-innermost layout (CHWN), where every tap of an output
  row reads one contiguous run of OW*N values, and runs register-blocked multiply-add loops on
  those runs: 4 output channels x 4 taps per pass (forward and input gradient, ``_rows``) and
  4 x 4 dot products (weight gradient, ``_dots``). Same shape: forward 0.86 -> 0.40 ms, input
  gradient 0.76 -> 0.46 ms, weight gradient 1.01 -> 0.37 ms. Measured limits of the rule: with
  K = 32 and C*R*S = 27 ((64, 3, 32, 32) 3x3) the transposes of the large output cost more than
  the GEMM path (3.3 vs 1.8 ms forward); big layers (C*R*S >= 320) are faster in BLAS (2-3x);
  the input gradient with 1 or 2 input channels pads them to 4 and lost (0.94 vs 0.63 ms on
  (64, 1, 28, 28)), hence C >= 3 there.
  The work items (4 output channels of one output row; 4 x 4 weight-gradient sums) split over
  Numba's threads above ``_DIRECT_SPLIT_MACS``: under the TBB threading layer the (64, 6, 14, 14)
  layer's forward+backward went from 0.65x to 0.88x PyTorch's speed (interleaved, same run). Under
  the workqueue layer the same split had gone from 1.5x faster to slower between runs: its
  launches cost 150 us, TBB's 1.5 us. 512-bit vectors (``wide_vectors``) were 10-20% slower in
  both kernels; cutting the runs into L1-sized chunks was within noise.

``conv2d_grad_input`` (col2im) is also conv_transpose2d's forward. ``conv2d_grad_input_rot180`` is
the textbook version of the same gradient (dilate, pad to a full convolution, correlate with the
flipped kernel), kept for teaching and tested equal to the fast path.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numba
import numpy as np
from numba import njit, prange, uint64

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

# The direct CHWN kernels (see _use_direct) for layers with at most this many taps per output
# (C*R*S) and output channels, and at least this many batch x output-column lanes.
_DIRECT_MAX_TAPS = 256
_DIRECT_MAX_CHANNELS = 16
_DIRECT_MIN_LANES = 16
# multiply-adds from which the direct kernels split their work items over Numba's threads (about
# 50 us of one core's work: under TBB a parallel launch costs 1.5 us)
_DIRECT_SPLIT_MACS = 1 << 21


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
# Direct kernels for layers with few channels, vectorised over the batch (see _use_direct)
#
# Layout "CHWN": a (C, H, W) image stack is stored as flat (C, H, W*N), the batch innermost. Every
# output row of every channel is then one contiguous run of OW*N values, and each tap (c, r, s) of
# a stride-1-wide convolution reads another contiguous run of the same length: a convolution
# becomes "output row += weight * shifted input row", a loop LLVM vectorises with no gathers.
# The inner loops keep 4 output channels and 4 taps per pass (16 multiply-adds per 4 loads of
# inputs, 4 loads and 4 stores of accumulators): on (64, 6, 14, 14) 5x5 -> 16 that ran at
# 40-47 GMAC/s on one core (the ymm FMA peak of this machine); 1 tap per pass ran at 3.5, 2x8 and
# 4x8 blockings were 5-15% slower, 8x4 within noise. 512-bit vectors (wide_vectors) were 10-20%
# slower in all three kernels here: these loops are FMA-port bound, not instruction bound.


@njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract"})
def _rows_range(src, off, widx, grp, ngrp, wmat, bias, lq, width, col0, out, pitch, lo, hi):
    """Work items ``lo:hi`` of :func:`_rows`; an item is 4 output channels of one output row."""
    nrows = off.shape[0]
    n, k_out, _, w_out = out.shape
    for item in range(lo, hi):
        k0 = (item // nrows) * 4
        row = item % nrows
        # rows of the accumulator an odd number of cache lines apart: at 8 KiB apart
        # ((64, 3, 32, 32) 3x3) the four rows shared L1 sets and 4K-aliased
        acc = np.empty((4, pitch), dtype=out.dtype)
        o0, o1, o2, o3 = acc[0], acc[1], acc[2], acc[3]
        for q in range(width):
            o0[q] = bias[k0]
            o1[q] = bias[k0 + 1]
            o2[q] = bias[k0 + 2]
            o3[q] = bias[k0 + 3]
        wk0, wk1, wk2, wk3 = wmat[k0], wmat[k0 + 1], wmat[k0 + 2], wmat[k0 + 3]
        # a last block of 1-2 real channels runs a 2-channel loop: (64, 6, 14, 14)'s input
        # gradient (6 = 4 + 2 channels) then wastes nothing instead of 1/4 (0.54 -> 0.47 ms)
        two = k_out - k0 <= 2
        for g in range(ngrp[row]):
            shift = uint64(grp[row, g, 0])
            for t in range(grp[row, g, 1], grp[row, g, 2], 4):
                a0, a1 = uint64(off[row, t]), uint64(off[row, t + 1])
                a2, a3 = uint64(off[row, t + 2]), uint64(off[row, t + 3])
                c0, c1 = widx[row, t], widx[row, t + 1]
                c2, c3 = widx[row, t + 2], widx[row, t + 3]
                w00, w01, w02, w03 = wk0[c0], wk0[c1], wk0[c2], wk0[c3]
                w10, w11, w12, w13 = wk1[c0], wk1[c1], wk1[c2], wk1[c3]
                w20, w21, w22, w23 = wk2[c0], wk2[c1], wk2[c2], wk2[c3]
                w30, w31, w32, w33 = wk3[c0], wk3[c1], wk3[c2], wk3[c3]
                if two:
                    for q in range(lq):
                        uq = uint64(q)
                        d = shift + uq
                        x0, x1, x2, x3 = src[a0 + uq], src[a1 + uq], src[a2 + uq], src[a3 + uq]
                        o0[d] = o0[d] + w00 * x0 + w01 * x1 + w02 * x2 + w03 * x3
                        o1[d] = o1[d] + w10 * x0 + w11 * x1 + w12 * x2 + w13 * x3
                    continue
                for q in range(lq):
                    uq = uint64(q)
                    d = shift + uq
                    x0, x1, x2, x3 = src[a0 + uq], src[a1 + uq], src[a2 + uq], src[a3 + uq]
                    o0[d] = o0[d] + w00 * x0 + w01 * x1 + w02 * x2 + w03 * x3
                    o1[d] = o1[d] + w10 * x0 + w11 * x1 + w12 * x2 + w13 * x3
                    o2[d] = o2[d] + w20 * x0 + w21 * x1 + w22 * x2 + w23 * x3
                    o3[d] = o3[d] + w30 * x0 + w31 * x1 + w32 * x2 + w33 * x3
        # back to (N, K, OH, OW) while the rows are still in cache
        for kk in range(min(4, k_out - k0)):
            ok = acc[kk]
            for i in range(n):
                for j in range(w_out):
                    out[i, k0 + kk, row, j] = ok[(col0 + j) * n + i]


def _rows(src: np.ndarray, off: np.ndarray, widx: np.ndarray, grp: np.ndarray,
          ngrp: np.ndarray, wmat: np.ndarray, bias: np.ndarray, lq: int, width: int, col0: int,
          out: np.ndarray) -> None:
    """Row kernel shared by the direct forward and input gradient.

    For every output row ``row`` (NR of them) and output channel k, an accumulator row of
    ``width`` values (CHWN, batch innermost) starts at ``bias[k]`` and receives, for each tap
    group g = (shift, t0, t1) of ``grp[row, :ngrp[row]]`` and each tap t in [t0, t1)::

        acc[shift + q] += wmat[k, widx[row, t]] * src[off[row, t] + q]     for q < lq

    then ``acc[(col0 + j)*N + i]`` goes to ``out[i, k, row, j]`` (out: (N, K, NR, W_out)).
    Groups hold a multiple of 4 taps (padding taps read a zero run of ``src`` with a zero weight
    column, so they add exact zeros even next to inf/NaN inputs); ``wmat``: (K rounded up to 4,
    taps + 1), ``bias`` as long.
    """
    pitch = _odd_lines(width, out.itemsize)
    args = (src, off, widx, grp, ngrp, wmat, bias, lq, width, col0, out, pitch)
    items = (wmat.shape[0] // 4) * off.shape[0]
    parts = _parts(items, wmat.shape[0] * off.size * lq)
    if parts > 1:
        _rows_parallel(*args, items, parts)
    else:
        _rows_range(*args, 0, items)


def _parts(items: int, macs: int) -> int:
    """How many slices of work items to run in parallel: one per Numba thread, if it pays."""
    if macs < _DIRECT_SPLIT_MACS:
        return 1
    return max(1, min(items, numba.get_num_threads()))


@njit(cache=True, nogil=True, parallel=True)
def _rows_parallel(src, off, widx, grp, ngrp, wmat, bias, lq, width, col0, out, pitch, items,
                   parts):
    for p in prange(parts):
        _rows_range(src, off, widx, grp, ngrp, wmat, bias, lq, width, col0, out, pitch,
                    p * items // parts, (p + 1) * items // parts)


# The weight gradient's sums are reductions over the batch and the output pixels. "reassoc" (no
# other fast-math flag: inf and NaN still propagate) lets LLVM keep each of the 16 sums as a
# vector of partial sums; without it the loop stays scalar (measured 4x slower). The summation
# order changes only the rounding, as BLAS's blocking does.
@njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract", "reassoc"})
def _dots_range(g, x, off, nrows, g_row, x_row, lq, gw, lo, hi):
    """Work items ``lo:hi`` of :func:`_dots`: an item is 4 output channels x 4 taps."""
    k_out, taps = gw.shape
    groups = off.shape[0] // 4
    g_plane = nrows * g_row
    zero = np.zeros(1, dtype=gw.dtype)[0]
    for item in range(lo, hi):
        k0 = (item // groups) * 4
        t0 = (item % groups) * 4
        s00 = s01 = s02 = s03 = s10 = s11 = s12 = s13 = zero
        s20 = s21 = s22 = s23 = s30 = s31 = s32 = s33 = zero
        for i in range(nrows):
            e0 = uint64(k0 * g_plane + i * g_row)
            e1 = e0 + uint64(g_plane)
            e2 = e1 + uint64(g_plane)
            e3 = e2 + uint64(g_plane)
            xb = i * x_row
            a0, a1 = uint64(off[t0] + xb), uint64(off[t0 + 1] + xb)
            a2, a3 = uint64(off[t0 + 2] + xb), uint64(off[t0 + 3] + xb)
            for q in range(lq):
                uq = uint64(q)
                x0, x1, x2, x3 = x[a0 + uq], x[a1 + uq], x[a2 + uq], x[a3 + uq]
                y0, y1, y2, y3 = g[e0 + uq], g[e1 + uq], g[e2 + uq], g[e3 + uq]
                s00 += y0 * x0
                s01 += y0 * x1
                s02 += y0 * x2
                s03 += y0 * x3
                s10 += y1 * x0
                s11 += y1 * x1
                s12 += y1 * x2
                s13 += y1 * x3
                s20 += y2 * x0
                s21 += y2 * x1
                s22 += y2 * x2
                s23 += y2 * x3
                s30 += y3 * x0
                s31 += y3 * x1
                s32 += y3 * x2
                s33 += y3 * x3
        sums = ((s00, s01, s02, s03), (s10, s11, s12, s13), (s20, s21, s22, s23),
                (s30, s31, s32, s33))
        for kk in range(4):
            for j in range(4):
                if k0 + kk < k_out and t0 + j < taps:
                    gw[k0 + kk, t0 + j] = sums[kk][j]


def _dots(g: np.ndarray, x: np.ndarray, off: np.ndarray, nrows: int, g_row: int, x_row: int,
          lq: int, gw: np.ndarray) -> None:
    """Weight-gradient sums, gw: (K, T)::

        gw[k, t] = sum_{i < nrows} sum_{q < lq} g[(k*nrows + i)*g_row + q] * x[off[t] + i*x_row + q]

    ``g`` holds K rounded up to 4 planes (the extra ones zero), ``off`` T rounded up to 4 taps
    (the extra ones anywhere readable: their sums are dropped).
    """
    args = (g, x, off, nrows, g_row, x_row, lq, gw)
    items = (-(-gw.shape[0] // 4)) * (off.shape[0] // 4)
    parts = _parts(items, gw.size * nrows * lq)
    if parts > 1:
        _dots_parallel(*args, items, parts)
    else:
        _dots_range(*args, 0, items)


@njit(cache=True, nogil=True, parallel=True)
def _dots_parallel(g, x, off, nrows, g_row, x_row, lq, gw, items, parts):
    for p in prange(parts):
        _dots_range(g, x, off, nrows, g_row, x_row, lq, gw,
                    p * items // parts, (p + 1) * items // parts)


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
    if _use_direct(cg, k, kh, kw, stride, groups, n, ow):
        return _direct_forward(x, w, stride, padding, dilation,
                               None if bias is None else np.asarray(bias, dtype=x.dtype))
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
    if _use_direct(cg, k, kh, kw, stride, groups, n, ow, min_out=3):
        return _direct_grad_input(gy, w, input_hw, stride, padding, dilation)
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
    if _use_direct(cg, k, kh, kw, stride, groups, n, ow):
        return _direct_grad_weight(x, gy, kernel_hw, stride, padding, dilation)
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
# the direct (CHWN) path for layers with few channels


def _use_direct(cg: int, k: int, kh: int, kw: int, stride: Pair, groups: int, n: int,
                ow: int, min_out: int = 1) -> bool:
    """The direct CHWN kernels: one group, stride 1 along the width (each tap then reads one
    contiguous run), few output channels and taps (where BLAS's GEMMs are small and thin), enough
    batch x output-column lanes. ``min_out``: the fewest channels the kernel writes (the input
    gradient writes C: it pads them to a multiple of 4, so 1 or 2 would waste 2-4x)."""
    return (groups == 1 and stride[1] == 1 and k <= _DIRECT_MAX_CHANNELS and cg >= min_out
            and cg * kh * kw <= _DIRECT_MAX_TAPS and n * ow >= _DIRECT_MIN_LANES)


def _odd_lines(length: int, itemsize: int) -> int:
    """A row pitch (elements) >= length that is an odd number of 64-byte cache lines."""
    line = 64 // itemsize
    pitch = -(-length // line) * line
    return pitch + line if (pitch // line) % 2 == 0 else pitch


def _up4(a: int) -> int:
    return -(-a // 4) * 4


@functools.lru_cache(maxsize=64)
def _forward_taps(n: int, c: int, hp: int, wp: int, kh: int, kw: int, sh: int, dh: int, dw: int,
                  oh: int) -> tuple[np.ndarray, ...]:
    """Tap tables of the direct forward (see _rows): output row i reads, for tap (c, r, s), the
    run of the padded CHWN input at row i*sh + r*dh, column s*dw. One group per row."""
    crs = c * kh * kw
    ci, ri, si = np.meshgrid(np.arange(c), np.arange(kh), np.arange(kw), indexing="ij")
    base = (((ci * hp + ri * dh) * wp + si * dw) * n).ravel()
    off = np.full((oh, _up4(crs)), c * hp * wp * n, dtype=np.int64)  # padding taps: zero run
    off[:, :crs] = base[None, :] + (np.arange(oh) * sh * wp * n)[:, None]
    widx = np.full((oh, _up4(crs)), crs, dtype=np.int64)  # padding taps: zero weight column
    widx[:, :crs] = np.arange(crs)
    grp = np.zeros((oh, 1, 3), dtype=np.int64)
    grp[:, 0, 2] = _up4(crs)
    return off, widx, grp, np.ones(oh, dtype=np.int64)


@functools.lru_cache(maxsize=64)
def _grad_input_taps(n: int, k: int, oh: int, ow: int, h: int, kh: int, kw: int, sh: int,
                     top: int, dh: int, dw: int) -> tuple[np.ndarray, ...]:
    """Tap tables of the direct input gradient (see _rows), a scatter written as a gather per
    input row: row h (padded row h + top) receives gy row i through kernel row r wherever
    i*sh + r*dh == h + top; kernel column s shifts the run by s*dw pixels (one group per s)."""
    lq = ow * n
    zero = k * oh * lq
    ks = np.arange(k)
    rows = []
    for hh in range(h):
        groups = []
        for s in range(kw):
            offs, cols = [], []
            for r in range(kh):
                d = hh + top - r * dh
                if d < 0 or d % sh or d // sh >= oh:
                    continue
                offs.append((ks * oh + d // sh) * lq)
                cols.append((ks * kh + r) * kw + s)
            if offs:
                o, w = np.concatenate(offs), np.concatenate(cols)
                pad = _up4(o.size) - o.size
                groups.append((s * dw * n, np.r_[o, [zero] * pad], np.r_[w, [k * kh * kw] * pad]))
        rows.append(groups)
    taps = max([sum(g[1].size for g in gs) for gs in rows] + [4])
    off = np.full((h, taps), zero, dtype=np.int64)
    widx = np.full((h, taps), k * kh * kw, dtype=np.int64)
    grp = np.zeros((h, max([len(gs) for gs in rows] + [1]), 3), dtype=np.int64)
    ngrp = np.zeros(h, dtype=np.int64)
    for hh, gs in enumerate(rows):
        ngrp[hh] = len(gs)
        t = 0
        for gi, (shift, o, w) in enumerate(gs):
            grp[hh, gi] = (shift, t, t + o.size)
            off[hh, t:t + o.size] = o
            widx[hh, t:t + o.size] = w
            t += o.size
    return off, widx, grp, ngrp


@functools.lru_cache(maxsize=64)
def _weight_taps(n: int, c: int, hp: int, wp: int, kh: int, kw: int, dh: int,
                 dw: int) -> np.ndarray:
    """Start of tap (c, r, s)'s run in the padded CHWN input for output row 0 (see _dots)."""
    ci, ri, si = np.meshgrid(np.arange(c), np.arange(kh), np.arange(kw), indexing="ij")
    off = np.zeros(_up4(c * kh * kw), dtype=np.int64)  # padding taps: any readable run
    off[:c * kh * kw] = (((ci * hp + ri * dh) * wp + si * dw) * n).ravel()
    return off


def _chwn(x: np.ndarray, padding: Quad, tail: int) -> np.ndarray:
    """x: (N, C, H, W) -> flat CHWN copy (C, H + top + bottom, (W + left + right)*N) with zeros
    around the image, then ``tail`` zeros. NumPy's strided copy does the transpose: 2x faster
    than a plain Numba loop here (0.018 vs 0.039 ms for (64, 6, 14, 14))."""
    n, c, h, w = x.shape
    top, bottom, left, right = padding
    hp, wp = h + top + bottom, w + left + right
    size = c * hp * wp * n
    buf = np.zeros(size + tail, dtype=x.dtype) if any(padding) else np.empty(size + tail,
                                                                              dtype=x.dtype)
    buf[size:] = 0
    planes = buf[:size].reshape(c, hp, wp, n)
    np.copyto(planes[:, top:top + h, left:left + w], x.transpose(1, 2, 3, 0))
    return buf


def _direct_forward(x: np.ndarray, w: np.ndarray, stride: Pair, padding: Quad, dilation: Pair,
                    bias: np.ndarray | None) -> np.ndarray:
    """conv2d_forward by the direct CHWN row kernel (x, w contiguous, one group, stride 1 along
    the width)."""
    n, c, h, wd = x.shape
    k, _, kh, kw = w.shape
    (sh, _sw), (top, bottom, left, right), (dh, dw) = stride, padding, dilation
    oh = conv_out_size(h, kh, sh, top, bottom, dh)
    ow = conv_out_size(wd, kw, 1, left, right, dw)
    hp, wp = h + top + bottom, wd + left + right
    crs = c * kh * kw
    src = _chwn(x, padding, ow * n)
    off, widx, grp, ngrp = _forward_taps(n, c, hp, wp, kh, kw, sh, dh, dw, oh)
    wmat = np.zeros((_up4(k), crs + 1), dtype=x.dtype)
    wmat[:k, :crs] = w.reshape(k, crs)
    b = np.zeros(_up4(k), dtype=x.dtype)
    if bias is not None:
        b[:k] = bias
    y = np.empty((n, k, oh, ow), dtype=x.dtype)
    _rows(src, off, widx, grp, ngrp, wmat, b, ow * n, ow * n, 0, y)
    return y


def _direct_grad_input(gy: np.ndarray, w: np.ndarray, input_hw: Pair, stride: Pair,
                       padding: Quad, dilation: Pair) -> np.ndarray:
    """conv2d_grad_input by the direct CHWN row kernel (one group, stride 1 along the width)."""
    n, k, oh, ow = gy.shape
    _, c, kh, kw = w.shape
    h, wd = input_hw
    (sh, _sw), (top, _bottom, left, right), (dh, dw) = stride, padding, dilation
    lq = ow * n
    src = _chwn(gy, (0, 0, 0, 0), lq)
    off, widx, grp, ngrp = _grad_input_taps(n, k, oh, ow, h, kh, kw, sh, top, dh, dw)
    wmat = np.zeros((_up4(c), k * kh * kw + 1), dtype=gy.dtype)
    wmat[:c, :-1] = w.transpose(1, 0, 2, 3).reshape(c, k * kh * kw)
    gx = np.empty((n, c, h, wd), dtype=gy.dtype)
    _rows(src, off, widx, grp, ngrp, wmat, np.zeros(_up4(c), dtype=gy.dtype), lq,
          (wd + left + right) * n, left, gx)
    return gx


def _direct_grad_weight(x: np.ndarray, gy: np.ndarray, kernel_hw: Pair, stride: Pair,
                        padding: Quad, dilation: Pair) -> np.ndarray:
    """conv2d_grad_weight by the direct CHWN sums (one group, stride 1 along the width)."""
    n, c, h, wd = x.shape
    _, k, oh, ow = gy.shape
    kh, kw = kernel_hw
    (sh, _sw), (top, bottom, left, right), (dh, dw) = stride, padding, dilation
    hp, wp = h + top + bottom, wd + left + right
    lq = ow * n
    src = _chwn(x, padding, 0)
    g = _chwn(gy, (0, 0, 0, 0), (_up4(k) - k) * oh * lq)  # zero planes up to a multiple of 4
    gw = np.empty((k, c * kh * kw), dtype=x.dtype)
    _dots(g, src, _weight_taps(n, c, hp, wp, kh, kw, dh, dw), oh, lq, sh * wp * n, lq, gw)
    return gw.reshape(k, c, kh, kw)


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
