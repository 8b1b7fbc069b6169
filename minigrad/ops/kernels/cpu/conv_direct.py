"""Direct input gradient for layers with few channels, vectorised over the batch.

Used by ``conv.py`` for the input gradient of layers with few output channels (K <= 16), one
group and stride 1 along the width (:func:`use_direct`) that the packed-plane kernels
(``conv_planes.py``) do not take: there it was measured faster than both them and col2im (the
(64, 6, 14, 14) -> 16 5x5 layer: 6 written channels from 400 taps each). gy is copied to a
batch-innermost layout, "CHWN": a (K, OH, OW) stack stored as flat (K, OH, OW*N). Every row of
every channel is then one contiguous run of OW*N values, and each tap reads another contiguous
run of the same length: the input gradient becomes "input row += weight * shifted gy row", a
loop LLVM vectorises with no gathers; :func:`_rows` does 4 written channels x 4 taps per pass
(16 multiply-adds per 4 loads of inputs, 4 loads and 4 stores of accumulators), the scatter
written as a gather per input row (its tap tables).

The work items (4 written channels of one row) split over Numba's threads from ``SPLIT_MACS``
multiply-adds on. These loops are FMA-port bound, not
instruction bound, so they do not use 512-bit vectors (``wide_vectors`` made them slower).
Measurements: bench/RESULTS.md, "Conv kernel design history".
"""

from __future__ import annotations

import functools

import numba
import numpy as np
from numba import njit, prange, uint64

__all__ = ["use_direct", "grad_input"]

Pair = tuple[int, int]
Quad = tuple[int, int, int, int]

# The direct kernels for layers with at most this many taps per output (C*R*S) and output
# channels, and at least this many batch x output-column lanes: with K = 32 and C*R*S = 27 the
# transposes of the large output cost more than the GEMM path; from C*R*S = 320 on BLAS is faster
MAX_TAPS = 256
MAX_CHANNELS = 16
MIN_LANES = 16
# multiply-adds from which the direct kernels split their work items over Numba's threads (about
# 50 us of one core's work: under TBB a parallel launch costs 1.5 us)
SPLIT_MACS = 1 << 21


def use_direct(cg: int, k: int, kh: int, kw: int, stride: Pair, groups: int, n: int,
                ow: int, min_out: int = 1) -> bool:
    """The direct CHWN kernels: one group, stride 1 along the width (each tap then reads one
    contiguous run), few output channels and taps (where BLAS's GEMMs are small and thin), enough
    batch x output-column lanes. ``min_out``: the fewest channels the kernel writes (the input
    gradient writes C: it pads them to a multiple of 4, so 1 or 2 would waste 2-4x)."""
    return (groups == 1 and stride[1] == 1 and k <= MAX_CHANNELS and cg >= min_out
            and cg * kh * kw <= MAX_TAPS and n * ow >= MIN_LANES)


# ------------------------------------------------------------------------------------------------
# Numba kernels


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
                for q in range(lq):
                    uq = uint64(q)
                    d = shift + uq
                    x0, x1, x2, x3 = src[a0 + uq], src[a1 + uq], src[a2 + uq], src[a3 + uq]
                    o0[d] = o0[d] + w00 * x0 + w01 * x1 + w02 * x2 + w03 * x3
                    o1[d] = o1[d] + w10 * x0 + w11 * x1 + w12 * x2 + w13 * x3
                    if not two:  # loop-invariant (LLVM unswitches it: as fast as two loops)
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
    """Row kernel of the direct input gradient.

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
    if macs < SPLIT_MACS:
        return 1
    return max(1, min(items, numba.get_num_threads()))


@njit(cache=True, nogil=True, parallel=True)
def _rows_parallel(src, off, widx, grp, ngrp, wmat, bias, lq, width, col0, out, pitch, items,
                   parts):
    for p in prange(parts):
        _rows_range(src, off, widx, grp, ngrp, wmat, bias, lq, width, col0, out, pitch,
                    p * items // parts, (p + 1) * items // parts)


# ------------------------------------------------------------------------------------------------
# drivers: layouts, tap tables, the three products


def _odd_lines(length: int, itemsize: int) -> int:
    """A row pitch (elements) >= length that is an odd number of 64-byte cache lines."""
    line = 64 // itemsize
    pitch = -(-length // line) * line
    return pitch + line if (pitch // line) % 2 == 0 else pitch


def _up4(a: int) -> int:
    return -(-a // 4) * 4


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


def grad_input(gy: np.ndarray, w: np.ndarray, input_hw: Pair, stride: Pair, padding: Quad,
               dilation: Pair) -> np.ndarray:
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
