"""Winograd F(2x2, 3x3) convolution for 3x3 stride-1 single-group layers with enough channels.

A 2x2 block of outputs of a 3x3 correlation needs 36 multiply-adds per (input, output) channel
pair computed directly, 16 through Winograd's minimal filtering: the input tile d (4x4) and the
filter g (3x3) are transformed (V = B^T d B, U = G g G^T), multiplied elementwise, and
transformed back (Y = A^T (U * V) A). Summed over input channels, the elementwise products become
16 GEMMs U (16, K, C) @ V (16, C, tiles): 2.25x fewer GEMM multiply-adds than im2col's. The
transforms use only 0.5 and 1, so the result matches the direct convolution to float rounding.

Used for the forward and for the input gradient (a 3x3 stride-1 convolution of gy with the
flipped kernel); below ``MIN_CHANNELS`` channels the transforms cost more than the GEMMs save.
One sample at a time, so its tiles stay in cache; the batch is split over threads by
``conv_split.split``. Measurements: bench/RESULTS.md, "Conv kernel design history".
"""

from __future__ import annotations

import numpy as np
from numba import njit

from minigrad.ops.kernels.cpu import conv_split

__all__ = ["MIN_CHANNELS", "use_winograd", "conv", "grad_input"]

Pair = tuple[int, int]
Quad = tuple[int, int, int, int]

# 3x3 stride-1 layers with at least this many input and output channels (per group; one group
# only): at 16 channels Winograd and im2col ran about equal, with 3 input channels Winograd was
# 1.6x slower (the transforms dominate)
MIN_CHANNELS = 16

# G of F(2x2, 3x3): the weight transform U = G g G^T (4x4 per 3x3 filter)
_WINO_G = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]])


def use_winograd(cg: int, kg: int, kh: int, kw: int, stride: Pair, dilation: Pair,
                 groups: int) -> bool:
    """3x3, stride 1, no dilation, one group, and enough channels for the GEMMs to dominate."""
    return ((kh, kw) == (3, 3) and stride == (1, 1) and dilation == (1, 1) and groups == 1
            and min(cg, kg) >= MIN_CHANNELS)


# ------------------------------------------------------------------------------------------------
# Numba kernels: the input and output transforms


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
# driver


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


def conv(x: np.ndarray, w: np.ndarray, padding: Quad, bias: np.ndarray | None) -> np.ndarray:
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

    conv_split.split(n, work, 2 * n * k * c * 4 * th * tw * 4)
    return y


def grad_input(gy: np.ndarray, w: np.ndarray, padding: Quad) -> np.ndarray:
    """The input gradient gx: (N, C, H, W) of a 3x3 stride-1 conv with padding <= 2: a 3x3
    stride-1 conv of gy with the kernel flipped and its channel axes swapped, padded by
    2 - padding on each side."""
    wf = np.ascontiguousarray(w.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1])
    return conv(gy, wf, tuple(2 - a for a in padding), None)
