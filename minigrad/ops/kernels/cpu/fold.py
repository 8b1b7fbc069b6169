"""``unfold`` (im2col) and ``fold`` (col2im) as ops of their own, float32 and float64.

These are the loops the im2col convolution already runs (``_im2col`` / ``_col2im`` of
:mod:`minigrad.ops.kernels.cpu.conv`, reused, not copied), pointed at PyTorch's
(N, C * kh * kw, L) layout: row ``(c * kh + r) * kw + s`` of sample ``n`` holds, for every block
position ``l = i * ow + j``, the input pixel ``x[n, c, i*sh + r*dh - ph, j*sw + s*dw - pw]`` (0 in
the padding). The samples run in parallel; ``fold`` adds overlapping entries, each sample into its
own planes, so no two threads write one element.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from minigrad.ops.kernels import api
from minigrad.ops.kernels.cpu._jit import kernel
from minigrad.ops.kernels.cpu.conv import _col2im, _im2col

__all__ = list(api.FOLD)

Pair = tuple[int, int]


def fold_blocks(hw: Pair, kernel_size: Pair, dilation: Pair, padding: Pair,
                stride: Pair) -> Pair:
    """Number of sliding blocks along each axis: ``(n + 2p - d(k - 1) - 1) // s + 1``."""
    return tuple((n + 2 * p - d * (k - 1) - 1) // s + 1
                 for n, k, d, p, s in zip(hw, kernel_size, dilation, padding, stride))


# One sample per call of _im2col / _col2im: cols[s] (C*kh*kw, L) flat (a view: cols is
# C-contiguous) with row stride L; the sample stride is never used.


@kernel
def _unfold_samples(x, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, cols):
    for s in prange(x.shape[0]):
        _im2col(x, s, s + 1, 0, x.shape[1], kh, kw, sh, sw, ph, pw, dh, dw, oh, ow,
                cols[s].ravel(), oh * ow, 0)


@kernel
def _fold_samples(cols, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, out):
    for s in prange(out.shape[0]):
        out[s] = 0.0  # this sample's planes, zeroed by the thread that adds into them
        _col2im(cols[s].ravel(), oh * ow, 0, s, s + 1, 0, out.shape[1], kh, kw, sh, sw,
                ph, pw, dh, dw, oh, ow, out)


def unfold(x: np.ndarray, kernel_size: Pair, dilation: Pair, padding: Pair,
           stride: Pair) -> np.ndarray:
    """x: (N, C, H, W) -> cols: (N, C * kh * kw, OH * OW). Caller guarantees OH, OW >= 1."""
    n, c, h, w = x.shape
    oh, ow = fold_blocks((h, w), kernel_size, dilation, padding, stride)
    cols = np.empty((n, c * kernel_size[0] * kernel_size[1], oh * ow), dtype=x.dtype)
    if cols.size:
        _unfold_samples(np.ascontiguousarray(x), *kernel_size, *stride, *padding, *dilation,
                        oh, ow, cols)
    return cols


def fold(cols: np.ndarray, output_hw: Pair, kernel_size: Pair, dilation: Pair, padding: Pair,
         stride: Pair) -> np.ndarray:
    """cols: (N, C * kh * kw, L) -> (N, C, H, W), (H, W) = output_hw, overlapping entries
    summed; the transpose of :func:`unfold`. Caller guarantees L = OH * OW blocks."""
    n, ck, _ = cols.shape
    c = ck // (kernel_size[0] * kernel_size[1])
    oh, ow = fold_blocks(output_hw, kernel_size, dilation, padding, stride)
    out = np.empty((n, c, *output_hw), dtype=cols.dtype)
    if out.size == 0 or cols.size == 0:
        out[...] = 0.0
        return out
    _fold_samples(np.ascontiguousarray(cols), *kernel_size, *stride, *padding, *dilation,
                  oh, ow, out)
    return out
