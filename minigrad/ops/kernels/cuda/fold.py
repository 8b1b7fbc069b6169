"""``unfold`` (im2col) and ``fold`` (col2im) on the GPU, float32 and float64.

Same names, signatures and (N, C * kh * kw, L) layout as ``kernels/cpu/fold.py``; results are
``CudaArray``.

* unfold: one thread per column entry, reading its pixel (0 in the padding);
* fold: one thread per output pixel, gathering the column entries of every (r, s) tap whose block
  covers it (``(h + ph - r*dh) / sh`` must be a whole block row in range, and the same for
  columns). Each pixel is written once, by one thread: no atomics.

Kernels are compiled on first use, once per dtype.
"""

from __future__ import annotations

import functools
from typing import Any

from minigrad.cuda._runtime import launch, load_cuda
from minigrad.ops.kernels import api
from minigrad.ops.kernels.cpu.fold import Pair, fold_blocks
from minigrad.ops.kernels.cuda._common import float_dtype, from_device, to_device

__all__ = list(api.FOLD)

cuda: Any = None  # numba.cuda, bound by _kernels() on first use


def _unfold(x, kh, kw, sh, sw, ph, pw, dh, dw, ow, cols):
    h, w = x.shape[2], x.shape[3]
    _, rows, length = cols.shape
    for e in range(cuda.grid(1), cols.size, cuda.gridsize(1)):
        blk = e % length
        row = (e // length) % rows
        n = e // (length * rows)
        c = row // (kh * kw)
        r = (row // kw) % kh
        s = row % kw
        ih = (blk // ow) * sh + r * dh - ph
        iw = (blk % ow) * sw + s * dw - pw
        if 0 <= ih < h and 0 <= iw < w:
            cols[n, row, blk] = x[n, c, ih, iw]
        else:
            cols[n, row, blk] = 0


def _fold(cols, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, out):
    _, c_, h, w = out.shape
    for e in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        col = e % w
        row = (e // w) % h
        c = (e // (w * h)) % c_
        n = e // (w * h * c_)
        acc = 0.0
        for r in range(kh):
            top = row + ph - r * dh  # block row i must satisfy i * sh == top
            if top < 0 or top % sh != 0 or top // sh >= oh:
                continue
            i = top // sh
            for s in range(kw):
                left = col + pw - s * dw
                if left < 0 or left % sw != 0 or left // sw >= ow:
                    continue
                acc += cols[n, (c * kh + r) * kw + s, i * ow + left // sw]
        out[n, c, row, col] = acc


@functools.cache
def _kernels() -> dict[str, Any]:
    global cuda
    cuda = load_cuda()
    return {"unfold": cuda.jit(_unfold), "fold": cuda.jit(_fold)}


def unfold(x: Any, kernel_size: Pair, dilation: Pair, padding: Pair, stride: Pair) -> Any:
    """x: (N, C, H, W) -> cols: (N, C * kh * kw, OH * OW). Caller guarantees OH, OW >= 1."""
    xd = to_device(x, float_dtype(x, op="unfold", name="input"), op="unfold", name="input")
    n, c, h, w = xd.shape
    oh, ow = fold_blocks((h, w), kernel_size, dilation, padding, stride)
    cols = load_cuda().device_array((n, c * kernel_size[0] * kernel_size[1], oh * ow),
                                    dtype=xd.dtype)
    if cols.size:
        _kernels()["unfold"][launch(cols.size)](xd, *kernel_size, *stride, *padding, *dilation,
                                                ow, cols)
    return from_device(cols)


def fold(cols: Any, output_hw: Pair, kernel_size: Pair, dilation: Pair, padding: Pair,
         stride: Pair) -> Any:
    """cols: (N, C * kh * kw, L) -> (N, C, H, W), overlapping entries summed (the transpose of
    :func:`unfold`). Caller guarantees L = OH * OW blocks."""
    cd = to_device(cols, float_dtype(cols, op="fold", name="input"), op="fold", name="input")
    n, ck, _ = cd.shape
    c = ck // (kernel_size[0] * kernel_size[1])
    oh, ow = fold_blocks(tuple(output_hw), kernel_size, dilation, padding, stride)
    out = load_cuda().device_array((n, c, *output_hw), dtype=cd.dtype)
    if out.size:
        _kernels()["fold"][launch(out.size)](cd, *kernel_size, *stride, *padding, *dilation,
                                             oh, ow, out)
    return from_device(out)

