"""2-D convolution kernels on NumPy arrays (float32 and float64), PyTorch conventions.

    x: (N, C, H, W)   w: (K, C // groups, R, S)   y: (N, K, OH, OW)
    stride (sh, sw), padding (top, bottom, left, right), dilation (dh, dw)
    OH = (H + top + bottom - dh*(R-1) - 1) // sh + 1       (same for OW)

The reference path, first in this file, is the textbook one: im2col + GEMM. im2col lays every
receptive field of x out as a column (rows (c, r, s), one column per output pixel), so that per
group g a convolution and its two gradients are matrix products:

    forward       y_g  = W_g @ cols(x_g)               W_g: (K/g, C/g*R*S), cols: (C/g*R*S, OH*OW)
    input grad    gx_g = col2im(W_g^T @ gy_g)          col2im, the adjoint of im2col, scatter-adds
                                                       each column back onto its window
    weight grad   gW_g = gy_g @ cols(x_g)^T            (summed over the batch)

Faster paths for particular layers, each in its own file and each tested equal to the loops of
``minigrad.testing.conv_reference``:

* 1x1 kernels with stride 1 and no padding: no im2col, the image already is the column matrix
  (here, after the im2col path);
* ``conv_planes.py``: every other layer with output planes of at least 16 pixels (the input
  gradient: most of them, see ``planes_grad_input``), by register-tiled multiply-adds
  (``microkernels.py``) on zero-padded planes of one sample at a time (no im2col, no
  transposed copy);
* ``conv_direct.py``: the input gradient of layers with few channels and many taps, by
  register-blocked loops on a batch-innermost copy of the data;
* ``conv_winograd.py``: 3x3 stride-1 layers with >= 16 channels in and out and planes too small
  for ``conv_planes``, by Winograd F(2x2, 3x3) (2.25x fewer GEMM multiply-adds), forward and
  input gradient;
* ``conv_split.py``: the im2col and Winograd paths run slices of the batch in threads.

The dispatch that picks a path is at the end of this file (:func:`conv2d_forward`,
:func:`conv2d_grad_input`, :func:`conv2d_grad_weight`); ``conv2d_grad_input`` is also
conv_transpose2d's forward. The measurements behind each choice are in bench/RESULTS.md, "Conv
kernel design history". The input gradient written the way it is taught (dilate, pad, correlate
with the kernel rotated by 180 degrees) is ``minigrad.testing.conv_reference``'s
``conv2d_grad_input_rot180``.
"""

from __future__ import annotations

import numpy as np
from numba import njit, uint64

from minigrad.ops.kernels import api
from minigrad.ops.kernels.cpu import conv_direct, conv_planes, conv_split, conv_winograd
from minigrad.ops.kernels.cpu.conv_planes import valid_range

__all__ = list(api.CONV)

Pair = tuple[int, int]
Quad = tuple[int, int, int, int]

# im2col columns are made for one sample at a time, where the GEMM re-uses them from cache (a
# whole-batch matrix is memory-bound to write), except that images with fewer than _FOLD_BELOW
# output pixels fold several samples into one GEMM, up to _COLS_BUDGET bytes of columns.
_COLS_BUDGET = 1 << 17
_FOLD_BELOW = 1024


def conv_out_size(n: int, f: int, stride: int, pad_lo: int, pad_hi: int, dilation: int) -> int:
    """Output length along one axis: ``(n + lo + hi - dilation*(f-1) - 1) // stride + 1``."""
    return (n + pad_lo + pad_hi - dilation * (f - 1) - 1) // stride + 1


# ------------------------------------------------------------------------------------------------
# The reference path: im2col + GEMM
#
# im2col and col2im index flat buffers with unsigned offsets: LLVM then vectorises the inner row
# copies (3x faster than 4-D signed indexing, which keeps a negative-index wraparound test).


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
                    lo, hi = valid_range(w, ow, sw, offw)
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
                    lo, hi = valid_range(w, ow, sw, offw)
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


def _common(*arrays: np.ndarray) -> list[np.ndarray]:
    dtype = np.result_type(*arrays)
    return [np.ascontiguousarray(a, dtype=dtype) for a in arrays]


def _chunk(n: int, rows: int, p: int, itemsize: int) -> int:
    """Samples per chunk: 1 for large outputs, else as many as fit the column budget."""
    if p >= _FOLD_BELOW:
        return 1
    return max(1, min(n, _COLS_BUDGET // max(1, rows * p * itemsize)))


def _weight_matrix(w: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    """w: (K, C/g, R, S) -> (K, C/g*R*S), with the bias as an extra last column when given: a
    row of ones in the columns then adds it inside the GEMM (no extra pass over the output)."""
    k = w.shape[0]
    w2 = w.reshape(k, -1)
    if bias is not None:
        w2 = np.concatenate([w2, bias.reshape(k, 1)], axis=1)
    return w2


def _im2col_forward(x: np.ndarray, w: np.ndarray, stride: Pair, padding: Quad, dilation: Pair,
                    groups: int, bias: np.ndarray | None, oh: int, ow: int) -> np.ndarray:
    """y_g = W_g @ cols(x_g) (+ bias), a chunk of samples per GEMM; y: (N, K, oh, ow)."""
    n = x.shape[0]
    k, cg, kh, kw = w.shape
    (sh, sw), (top, _bottom, left, _right), (dh, dw) = stride, padding, dilation
    kg, p, crs = k // groups, oh * ow, cg * kh * kw
    y = np.empty((n, k, p), dtype=x.dtype)
    w2 = _weight_matrix(w, bias)
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

    conv_split.split(chunks, work, 2 * n * k * p * crs)
    return y.reshape(n, k, oh, ow)


def _im2col_grad_input(gy: np.ndarray, w: np.ndarray, input_hw: Pair, stride: Pair,
                       padding: Quad, dilation: Pair, groups: int) -> np.ndarray:
    """gx_g = col2im(W_g^T @ gy_g), a chunk of samples at a time; gx: (N, C, H, W)."""
    n, k, oh, ow = gy.shape
    _, cg, kh, kw = w.shape
    h, wd = input_hw
    (sh, sw), (top, _bottom, left, _right), (dh, dw) = stride, padding, dilation
    kg, p, crs, c = k // groups, oh * ow, cg * kh * kw, cg * groups
    gy3 = gy.reshape(n, k, p)
    wt = w.reshape(k, crs)
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

    conv_split.split(-(-n // m), work, 2 * n * k * p * crs)
    return gx


def _im2col_grad_weight(x: np.ndarray, gy: np.ndarray, kernel_hw: Pair, stride: Pair,
                        padding: Quad, dilation: Pair, groups: int) -> np.ndarray:
    """gW_g = sum over the batch of gy_g @ cols(x_g)^T; gw: (K, C/g, R, S).

    Accumulated transposed, as ``cols @ gy^T`` ((C/g*R*S, K/g) per chunk): 10-20% faster in
    OpenBLAS than ``gy @ cols^T``. Each thread sums its slice of the batch; the slices' sums are
    added at the end.
    """
    n, c, h, wd = x.shape
    _, k, oh, ow = gy.shape
    kh, kw = kernel_hw
    (sh, sw), (top, _bottom, left, _right), (dh, dw) = stride, padding, dilation
    cg, kg, p = c // groups, k // groups, oh * ow
    crs = cg * kh * kw
    gy3 = gy.reshape(n, k, p)
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

    parts = conv_split.split(-(-n // m), work, 2 * n * k * p * crs)
    gw_t = parts[0]
    for other in parts[1:]:
        gw_t += other
    return gw_t.transpose(0, 2, 1).reshape(k, cg, kh, kw)


# ------------------------------------------------------------------------------------------------
# 1x1 kernels, stride 1, no padding: the (C, H*W) image already is the column matrix


def _is_pointwise(kh: int, kw: int, stride: Pair, padding: Quad) -> bool:
    return kh == 1 and kw == 1 and stride == (1, 1) and not any(padding)


def _pointwise_forward(x: np.ndarray, w: np.ndarray, groups: int,
                       bias: np.ndarray | None) -> np.ndarray:
    """y_g = W_g @ x_g per sample (a batched GEMM); y: (N, K, H, W)."""
    n, c, h, wd = x.shape
    k, cg = w.shape[:2]
    kg, p, crs = k // groups, h * wd, cg
    y = np.empty((n, k, p), dtype=x.dtype)
    w2 = _weight_matrix(w, bias)
    x3 = x.reshape(n, c, p)
    for g in range(groups):
        np.matmul(w2[g * kg:(g + 1) * kg, :crs], x3[:, g * cg:(g + 1) * cg],
                  out=y[:, g * kg:(g + 1) * kg])
    if bias is not None:
        y += w2[:, crs:]
    return y.reshape(n, k, h, wd)


def _pointwise_grad_input(gy: np.ndarray, w: np.ndarray, groups: int) -> np.ndarray:
    """gx_g = W_g^T @ gy_g per sample; gx: (N, C, H, W)."""
    n, k, h, wd = gy.shape
    cg = w.shape[1]
    kg, p, crs, c = k // groups, h * wd, cg, cg * groups
    gy3 = gy.reshape(n, k, p)
    wt = w.reshape(k, crs)
    gx = np.empty((n, c, p), dtype=gy.dtype)
    for g in range(groups):
        np.matmul(wt[g * kg:(g + 1) * kg].T, gy3[:, g * kg:(g + 1) * kg],
                  out=gx[:, g * cg:(g + 1) * cg])
    return gx.reshape(n, c, h, wd)


def _pointwise_grad_weight(x: np.ndarray, gy: np.ndarray, groups: int) -> np.ndarray:
    """gW_g = gy_g @ x_g^T over the whole batch at once; gw: (K, C/g, 1, 1)."""
    n, c, h, wd = x.shape
    k = gy.shape[1]
    cg, kg, p = c // groups, k // groups, h * wd
    crs = cg
    gy3 = gy.reshape(n, k, p)
    gw = np.empty((k, crs), dtype=x.dtype)
    x3 = x.reshape(n, c, p)
    for g in range(groups):
        gyg = gy3[:, g * kg:(g + 1) * kg].transpose(1, 0, 2).reshape(kg, n * p)
        xg = x3[:, g * cg:(g + 1) * cg].transpose(1, 0, 2).reshape(cg, n * p)
        gw[g * kg:(g + 1) * kg] = gyg @ xg.T
    return gw.reshape(k, cg, 1, 1)


# ------------------------------------------------------------------------------------------------
# Dispatch: which path computes each product


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
    if bias is not None:
        bias = np.asarray(bias, dtype=x.dtype)
    if _is_pointwise(kh, kw, stride, padding):
        return _pointwise_forward(x, w, groups, bias)
    if conv_planes.use_planes(oh, ow):
        return conv_planes.forward(x, w, stride, padding, dilation, groups, bias)
    if conv_winograd.use_winograd(cg, k // groups, kh, kw, stride, dilation, groups):
        return conv_winograd.conv(x, w, padding, bias)
    return _im2col_forward(x, w, stride, padding, dilation, groups, bias, oh, ow)


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
    top, bottom, left, right = padding
    if _is_pointwise(kh, kw, stride, padding) and (h, wd) == (oh, ow):
        return _pointwise_grad_input(gy, w, groups)
    # the planes kernels also multiply the zeros around gy by the weights: an inf weight would
    # give NaN where the loops (and col2im) form no product, so finite weights only
    if (conv_planes.use_planes(h, wd) and conv_planes.planes_grad_input(cg, k // groups, kh, kw)
            and np.isfinite(w).all()):
        return conv_planes.grad_input(gy, w, input_hw, stride, padding, dilation, groups)
    if (conv_winograd.use_winograd(k // groups, cg, kh, kw, stride, dilation, groups)
            and max(padding) <= 2
            and (h, wd) == (oh + 2 - top - bottom, ow + 2 - left - right)):
        return conv_winograd.grad_input(gy, w, padding)
    # the direct input gradient pads C to a multiple of 4: with 1-2 channels that wastes 2-4x
    if conv_direct.use_direct(cg, k, kh, kw, stride, groups, n, ow, min_out=3):
        return conv_direct.grad_input(gy, w, input_hw, stride, padding, dilation)
    return _im2col_grad_input(gy, w, input_hw, stride, padding, dilation, groups)


def conv2d_grad_weight(x: np.ndarray, gy: np.ndarray, kernel_hw: Pair, stride: Pair,
                       padding: Quad, dilation: Pair, groups: int) -> np.ndarray:
    """Gradient of conv2d w.r.t. its weight: gw (K, C//groups, R, S).

    x: (N, C, H, W), gy: (N, K, OH, OW).
    """
    x, gy = _common(x, gy)
    n, c, h, wd = x.shape
    _, k, oh, ow = gy.shape
    kh, kw = kernel_hw
    if _is_pointwise(kh, kw, stride, padding) and (h, wd) == (oh, ow):
        return _pointwise_grad_weight(x, gy, groups)
    if conv_planes.use_planes(oh, ow):
        gw = conv_planes.grad_weight(x, gy, kernel_hw, stride, padding, dilation, groups)
        # NaN from an inf input times a zero garbage lane of gy (conv_planes' docstring):
        # recomputed on the im2col path, which never forms those products
        if np.isfinite(gw).all():
            return gw
    return _im2col_grad_weight(x, gy, kernel_hw, stride, padding, dilation, groups)
