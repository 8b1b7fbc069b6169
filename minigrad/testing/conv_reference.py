"""Plain NumPy-loop references for convolution, written from the definition and nothing else.

Slow on purpose and shared by the conv tests, the registry's ``ref`` entries and the
walk-throughs. None of this is derived from the kernels in ``minigrad/ops/kernels/cpu/conv.py``:
each function is the textbook sum written as loops over output (or input) positions, so a bug in
an im2col layout, a col2im scatter or a rotated-kernel trick cannot hide in both places.
:func:`conv2d_grad_input_rot180` is the input gradient as it is taught (a full convolution with
the kernel rotated by 180 degrees), built on :func:`conv2d_ref`.

Conventions (PyTorch's):
    x: (N, C, H, W)  w: (K, C // groups, R, S)  y: (N, K, OH, OW)
    stride (sh, sw), padding (top, bottom, left, right), dilation (dh, dw)
    y[n, k, i, j] = sum_{c, r, s} w[k, c, r, s] * xpad[n, g*Cg + c, i*sh + r*dh, j*sw + s*dw]
    where g = k // (K // groups) and xpad is x with zeros added around it.
"""

from __future__ import annotations

import itertools

import numpy as np


def _pad(x: np.ndarray, padding: tuple[int, int, int, int]) -> np.ndarray:
    top, bottom, left, right = padding
    n, c, h, w = x.shape
    xp = np.zeros((n, c, h + top + bottom, w + left + right), dtype=x.dtype)
    xp[:, :, top : top + h, left : left + w] = x
    return xp


def out_size(n: int, f: int, stride: int, pad_lo: int, pad_hi: int, dilation: int) -> int:
    """Number of output positions along one axis (may be <= 0 when the kernel does not fit)."""
    return (n + pad_lo + pad_hi - dilation * (f - 1) - 1) // stride + 1


def _terms(w_shape, groups, out_hw, stride, dilation):
    """Every term of ``y[n, k, i, j] = sum_{c, r, s} w[k, c, r, s] * xpad[n, ci, row, col]``:
    yields ``k, i, j, c, r, s, ci, row, col`` with ``ci = g*Cg + c`` (g = k's group),
    ``row = i*sh + r*dh``, ``col = j*sw + s*dw``, output positions in row-major order."""
    k_, cg, r_, s_ = w_shape
    kg = k_ // groups
    sh, sw = stride
    dh, dw = dilation
    for k, i, j, c, r, s in itertools.product(range(k_), range(out_hw[0]), range(out_hw[1]),
                                              range(cg), range(r_), range(s_)):
        yield k, i, j, c, r, s, (k // kg) * cg + c, i * sh + r * dh, j * sw + s * dw


def conv2d_ref(x, w, b=None, stride=(1, 1), padding=(0, 0, 0, 0), dilation=(1, 1), groups=1):
    """y: (N, K, OH, OW): each output sums its window of the padded input times the kernel."""
    top, bottom, left, right = padding
    oh = out_size(x.shape[2], w.shape[2], stride[0], top, bottom, dilation[0])
    ow = out_size(x.shape[3], w.shape[3], stride[1], left, right, dilation[1])
    xp = _pad(x, padding)
    y = np.zeros((x.shape[0], w.shape[0], oh, ow), dtype=np.result_type(x, w))
    for k, i, j, c, r, s, ci, row, col in _terms(w.shape, groups, (oh, ow), stride, dilation):
        y[:, k, i, j] += w[k, c, r, s] * xp[:, ci, row, col]
    if b is not None:
        y += b.reshape(1, -1, 1, 1)
    return y


def conv2d_grad_input_ref(gy, w, input_hw, stride=(1, 1), padding=(0, 0, 0, 0), dilation=(1, 1),
                          groups=1):
    """gx: (N, C, H, W): every gy[n, k, i, j] scatters w[k] back onto the window it came from."""
    top, bottom, left, right = padding
    h_, w_ = input_hw
    gxp = np.zeros((gy.shape[0], w.shape[1] * groups, h_ + top + bottom, w_ + left + right),
                   dtype=np.result_type(gy, w))
    for k, i, j, c, r, s, ci, row, col in _terms(w.shape, groups, gy.shape[2:], stride, dilation):
        gxp[:, ci, row, col] += gy[:, k, i, j] * w[k, c, r, s]
    return gxp[:, :, top : top + h_, left : left + w_]


def conv2d_grad_input_rot180(gy, w, input_hw, stride=(1, 1), padding=(0, 0, 0, 0), dilation=(1, 1),
                             groups=1):
    """The input gradient gx: (N, C, H, W) of conv2d from gy: (N, K, OH, OW), computed the way it
    is taught (the kernels' ``conv2d_grad_input`` scatters instead: col2im or its fast paths).

    1. Dilate gy by the stride: put ``s-1`` zeros between neighbouring gradient pixels, so each
       one sits where its window started in the padded input.
    2. Pad it by the dilated kernel extent minus one on every side ("full" convolution).
    3. Correlate with the kernel rotated by 180 degrees, input and output channels swapped within
       each group (w: (K, C/g, R, S) -> (C, K/g, R, S)), same dilation, stride 1.

    The result covers the padded input; crop the padding off (rows a strided window never reached
    stay zero).
    """
    dtype = np.result_type(gy, w)
    gy, w = gy.astype(dtype, copy=False), w.astype(dtype, copy=False)
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

    full = conv2d_ref(dilated, swapped, None, (1, 1), (ext_h, ext_h, ext_w, ext_w), (dh, dw),
                      groups)
    # full[:, :, a, b] is the gradient at padded-input position (a, b)
    rows, cols = max(full.shape[2], top + h), max(full.shape[3], left + wd)
    gx_padded = np.zeros((n, groups * cg, rows, cols), dtype=gy.dtype)
    gx_padded[:, :, :full.shape[2], :full.shape[3]] = full
    return np.ascontiguousarray(gx_padded[:, :, top:top + h, left:left + wd])


def conv2d_grad_weight_ref(x, gy, kernel_hw, stride=(1, 1), padding=(0, 0, 0, 0),
                           dilation=(1, 1), groups=1):
    """gw: (K, C // groups, R, S): each weight collects gy times the input it multiplied."""
    xp = _pad(x, padding)
    w_shape = (gy.shape[1], x.shape[1] // groups, *kernel_hw)
    gw = np.zeros(w_shape, dtype=np.result_type(x, gy))
    for k, i, j, c, r, s, ci, row, col in _terms(w_shape, groups, gy.shape[2:], stride, dilation):
        gw[k, c, r, s] += np.sum(gy[:, k, i, j] * xp[:, ci, row, col])
    return gw


def conv_transpose2d_ref(x, w, b=None, stride=(1, 1), padding=(0, 0), output_padding=(0, 0),
                         groups=1, dilation=(1, 1)):
    """PyTorch's conv_transpose2d: x (N, C_in, H, W), w (C_in, C_out // groups, R, S).

    Each input pixel x[n, ci, i, j] scatters x * w[ci] onto the (uncropped) output at
    (i*sh + r*dh, j*sw + s*dw); then ``padding`` rows/cols are cropped from each side and
    ``output_padding`` extra rows/cols are kept at the bottom/right.
    """
    n_, ci_, h_, w_ = x.shape
    _, cog, r_, s_ = w.shape
    cig = ci_ // groups
    sh, sw = stride
    ph, pw = padding
    oph, opw = output_padding
    dh, dw = dilation
    full_h = (h_ - 1) * sh + dh * (r_ - 1) + 1 + oph
    full_w = (w_ - 1) * sw + dw * (s_ - 1) + 1 + opw
    full = np.zeros((n_, cog * groups, full_h, full_w), dtype=np.result_type(x, w))
    for ci in range(ci_):
        g = ci // cig
        for i in range(h_):
            for j in range(w_):
                for co in range(cog):
                    for r in range(r_):
                        for s in range(s_):
                            full[:, g * cog + co, i * sh + r * dh, j * sw + s * dw] += (
                                x[:, ci, i, j] * w[ci, co, r, s]
                            )
    y = full[:, :, ph : full_h - ph, pw : full_w - pw]
    if b is not None:
        y = y + b.reshape(1, -1, 1, 1)
    return np.ascontiguousarray(y)


def conv_transpose1d_ref(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1,
                         dilation=1):
    """PyTorch's conv_transpose1d: x (N, C_in, L), w (C_in, C_out // groups, F). Each input
    x[n, ci, i] scatters x * w[ci] onto the full output at i*stride + f*dilation; ``padding`` is
    cropped from both ends and ``output_padding`` extra positions kept at the end."""
    n_, ci_, l_ = x.shape
    _, cog, f_ = w.shape
    cig = ci_ // groups
    full_l = (l_ - 1) * stride + dilation * (f_ - 1) + 1 + output_padding
    full = np.zeros((n_, cog * groups, full_l), dtype=np.result_type(x, w))
    for ci in range(ci_):
        g = ci // cig
        for i in range(l_):
            for co in range(cog):
                for f in range(f_):
                    full[:, g * cog + co, i * stride + f * dilation] += x[:, ci, i] * w[ci, co, f]
    y = full[:, :, padding : full_l - padding]
    if b is not None:
        y = y + b.reshape(1, -1, 1)
    return np.ascontiguousarray(y)


def conv1d_ref(x, w, b=None, stride=1, padding=(0, 0), dilation=1, groups=1):
    """x: (N, C, L), w: (K, C // groups, F) -> (N, K, OL), by loops over output positions."""
    n_, c_, l_ = x.shape
    k_, cg, f_ = w.shape
    kg = k_ // groups
    lo, hi = padding
    xp = np.zeros((n_, c_, l_ + lo + hi), dtype=x.dtype)
    xp[:, :, lo : lo + l_] = x
    ol = out_size(l_, f_, stride, lo, hi, dilation)
    y = np.zeros((n_, k_, ol), dtype=np.result_type(x, w))
    for k in range(k_):
        g = k // kg
        for i in range(ol):
            for c in range(cg):
                for f in range(f_):
                    y[:, k, i] += w[k, c, f] * xp[:, g * cg + c, i * stride + f * dilation]
        if b is not None:
            y[:, k] += b[k]
    return y


# ------------------------------------------------------------------------------------------------
# The public signatures (PyTorch's argument forms), for the op registry's ``ref``.


def _two(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _pads_2d(padding, kernel, dilation):
    """(top, bottom, left, right) from an int, a pair or a string mode."""
    if padding == "valid":
        return (0, 0, 0, 0)
    if padding == "full":
        th, tw = dilation[0] * (kernel[0] - 1), dilation[1] * (kernel[1] - 1)
        return (th, th, tw, tw)
    if padding == "same":
        th, tw = dilation[0] * (kernel[0] - 1), dilation[1] * (kernel[1] - 1)
        return (th // 2, th - th // 2, tw // 2, tw - tw // 2)
    ph, pw = _two(padding)
    return (ph, ph, pw, pw)


def conv2d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    dilation = _two(dilation)
    return conv2d_ref(x, w, b, _two(stride), _pads_2d(padding, w.shape[2:], dilation), dilation,
                      groups)


def conv1d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    stride = stride if isinstance(stride, int) else stride[0]
    dilation = dilation if isinstance(dilation, int) else dilation[0]
    if isinstance(padding, str):
        _, _, lo, hi = _pads_2d(padding, (1, w.shape[2]), (1, dilation))
    else:
        lo = hi = padding if isinstance(padding, int) else padding[0]
    return conv1d_ref(x, w, b, stride, (lo, hi), dilation, groups)


def conv_transpose2d(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    return conv_transpose2d_ref(x, w, b, _two(stride), _two(padding), _two(output_padding), groups,
                                _two(dilation))


def conv_transpose1d(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    def one(v):
        return v if isinstance(v, int) else v[0]

    return conv_transpose1d_ref(x, w, b, one(stride), one(padding), one(output_padding), groups,
                                one(dilation))
