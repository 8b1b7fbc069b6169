"""2-D convolution on the GPU as a tiled implicit GEMM (float32 and float64, PyTorch conventions).

    x: (N, C, H, W)   w: (K, C // groups, R, S)   y: (N, K, OH, OW)
    stride (sh, sw), padding (top, bottom, left, right), dilation (dh, dw)

Same signatures as ``kernels/cpu/conv.py``. Each of the three products is a matrix product
``C = A @ B`` per group whose operands are *read through index maps* instead of being built
(no im2col buffer in device memory):

    forward      y_g  (Kg x N*OH*OW)  = w_g (Kg x Cg*R*S)       @ cols(x) (Cg*R*S x N*OH*OW)
    grad_weight  gw_g (Kg x Cg*R*S)   = gy_g (Kg x N*OH*OW)     @ cols(x)^T
    grad_input   gx_g (Cg x N*H*W)    = w_g^T (Cg x Kg*R*S)     @ taps(gy) (Kg*R*S x N*H*W)

``taps(gy)[(k, r, s), (n, h, w)]`` is ``gy[n, k, (h + top - r*dh)/sh, (w + left - s*dw)/sw]`` when
that division is exact and in range, else 0: the input gradient is a gather, so no atomics.

Tiling (one scheme for all three): a block of TPB x TPB threads owns a BM x BN tile of C and
walks the reduction axis BK at a time. Per step the block stages a BK x BM tile of A and a BK x BN
tile of B in shared memory (each thread loads several elements, zero outside the matrices, so no
bounds tests in the inner loop), synchronises, and every thread accumulates a TM x TM micro-tile
of outputs in registers (a ``cuda.local.array``): each shared value read is reused TM times.
Thread (ty, tx) owns rows ``ty + i*TPB`` and columns ``tx + j*TPB``, so neighbouring threads of a
warp read neighbouring shared-memory words. Accumulation is in the array dtype (like cuDNN).

Kernels are compiled per dtype on first use (shared arrays are typed), never at import.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import numpy as np

from minigrad.cuda._runtime import load_cuda, tile_product, tile_store
from minigrad.ops.kernels import api
from minigrad.ops.kernels.cpu.conv import Pair, Quad, conv_out_size
from minigrad.ops.kernels.cuda._common import common_float, from_device, to_device

__all__ = [*api.CONV, "ConvGeometry", "TPB", "TM", "BK"]

TPB = 8  # threads per block along each side (64 threads)
TM = 4  # outputs per thread along each side (16 outputs per thread)
BM = BN = TPB * TM  # 32 x 32 output tile per block
BK = 16  # reduction step staged in shared memory


class ConvGeometry(NamedTuple):
    """The sizes every conv kernel reads (a numba named tuple of int64: one kernel argument)."""

    n: int
    c: int
    h: int
    w: int
    k: int
    oh: int
    ow: int
    kh: int
    kw: int
    sh: int
    sw: int
    top: int
    left: int
    dh: int
    dw: int
    cg: int  # input channels per group
    kg: int  # output channels per group
    has_bias: int


def _geometry(n, c, h, w, k, oh, ow, kh, kw, stride, padding, dilation, groups,
              has_bias) -> ConvGeometry:
    (sh, sw), (top, _bottom, left, _right), (dh, dw) = stride, padding, dilation
    return ConvGeometry(*(int(v) for v in (n, c, h, w, k, oh, ow, kh, kw, sh, sw, top, left,
                                           dh, dw, c // groups, k // groups, has_bias)))


# numba.cuda and the index device functions, bound by _kernels() on first use
cuda: Any = None
tap: Any = None
split3: Any = None


def _tap(j, geo):
    """(channel, r, s) of row j = (channel*kh + r)*kw + s of an im2col-like matrix."""
    r_s = geo.kh * geo.kw
    ch = j // r_s
    rs = j - ch * r_s
    r = rs // geo.kw
    return ch, r, rs - r * geo.kw


def _split3(q, rows, cols):
    """(n, i, j) of flat index q = (n*rows + i)*cols + j (a pixel of an image stack)."""
    p = rows * cols
    n = q // p
    pix = q - n * p
    i = pix // cols
    return n, i, pix - i * cols


@functools.cache
def _kernels(dtype: np.dtype) -> dict[str, Any]:
    """The three implicit-GEMM kernels for one float dtype: {'forward', 'grad_input',
    'grad_weight'}.

    A closure per dtype, because the shared-memory tiles and the zero read outside the
    matrices are typed at compile time, and each product specialises the one GEMM kernel with its
    operand readers and output writer (numba.cuda kernels take no function arguments).
    """
    global cuda, tap, split3
    cuda = load_cuda()
    tap, split3 = cuda.jit(device=True)(_tap), cuda.jit(device=True)(_split3)
    ft = np.dtype(dtype).type
    zero = ft(0)
    product = tile_product(BK, TM, TM, TPB, TPB)  # one K step over the staged tiles

    def device(fn):
        return cuda.jit(device=True)(fn)

    # --- operand readers: value of A[m, kk] / B[kk, q] for group g (inside the matrix) ---------

    @device
    def cols_x(x, geo, g, j, q):
        """im2col(x)[j, q]: j = (c, r, s) over the group's channels, q = (n, i, jj) pixel."""
        c, r, s = tap(j, geo)
        n, i, jj = split3(q, geo.oh, geo.ow)
        ih = i * geo.sh + r * geo.dh - geo.top
        iw = jj * geo.sw + s * geo.dw - geo.left
        if ih < 0 or ih >= geo.h or iw < 0 or iw >= geo.w:
            return zero
        return x[n, g * geo.cg + c, ih, iw]

    @device
    def cols_x_t(x, geo, g, q, j):
        """im2col(x)^T[q, j] (grad_weight's B operand)."""
        return cols_x(x, geo, g, j, q)

    @device
    def w_rows(w, geo, g, m, j):
        """w_g[m, j]: m an output channel of the group, j = (c, r, s)."""
        c, r, s = tap(j, geo)
        return w[g * geo.kg + m, c, r, s]

    @device
    def w_cols(w, geo, g, m, j):
        """w_g^T[m, j]: m an input channel of the group, j = (k, r, s)."""
        k, r, s = tap(j, geo)
        return w[g * geo.kg + k, m, r, s]

    @device
    def gy_rows(gy, geo, g, m, q):
        """gy_g[m, q]: m an output channel of the group, q = (n, i, j) output pixel."""
        n, i, jj = split3(q, geo.oh, geo.ow)
        return gy[n, g * geo.kg + m, i, jj]

    @device
    def taps_gy(gy, geo, g, j, q):
        """taps(gy)[j, q]: j = (k, r, s), q = (n, h, w) input pixel; 0 where no window tap."""
        k, r, s = tap(j, geo)
        n, h, ww = split3(q, geo.h, geo.w)
        a = h + geo.top - r * geo.dh
        b = ww + geo.left - s * geo.dw
        if a < 0 or b < 0:
            return zero
        i = a // geo.sh
        jj = b // geo.sw
        if i * geo.sh != a or jj * geo.sw != b or i >= geo.oh or jj >= geo.ow:
            return zero
        return gy[n, g * geo.kg + k, i, jj]

    # --- output writers ----------------------------------------------------------------------

    # ctx = (bias, geo, g), g the group

    @device
    def store_y(y, ctx, m, q, v):
        bias, geo, g = ctx
        n, i, jj = split3(q, geo.oh, geo.ow)
        k = g * geo.kg + m
        if geo.has_bias:
            v += bias[k]
        y[n, k, i, jj] = v

    @device
    def store_gw(gw, ctx, m, j, v):
        _, geo, g = ctx
        c, r, s = tap(j, geo)
        gw[g * geo.kg + m, c, r, s] = v

    @device
    def store_gx(gx, ctx, m, q, v):
        _, geo, g = ctx
        n, h, ww = split3(q, geo.h, geo.w)
        gx[n, g * geo.cg + m, h, ww] = v

    def make(read_a, read_b, store):
        write = tile_store(TM, TM, TPB, TPB, store)

        @cuda.jit
        def gemm(a_src, b_src, out, bias, geo, m_rows, n_cols, k_dim):
            """out_g (m_rows x n_cols) = A_g (m_rows x k_dim) @ B_g (k_dim x n_cols),
            group g = blockIdx.z; A and B read through read_a / read_b."""
            a_tile = cuda.shared.array((BK, BM), dtype=ft)
            b_tile = cuda.shared.array((BK, BN), dtype=ft)
            acc = cuda.local.array((TM, TM), dtype=ft)
            g = cuda.blockIdx.z
            tx = cuda.threadIdx.x
            ty = cuda.threadIdx.y
            tid = ty * TPB + tx
            m0 = cuda.blockIdx.y * BM
            n0 = cuda.blockIdx.x * BN
            for i in range(TM):
                for j in range(TM):
                    acc[i, j] = zero
            for k0 in range(0, k_dim, BK):
                # consecutive threads fill consecutive tile columns (coalesced-ish global reads)
                # (zero outside the matrices, so the inner loop needs no bounds tests)
                for e in range(tid, BK * BM, TPB * TPB):
                    kk = e // BM
                    mm = e - kk * BM
                    inside = m0 + mm < m_rows and k0 + kk < k_dim
                    a_tile[kk, mm] = read_a(a_src, geo, g, m0 + mm, k0 + kk) if inside else zero
                for e in range(tid, BK * BN, TPB * TPB):
                    kk = e // BN
                    nn = e - kk * BN
                    inside = k0 + kk < k_dim and n0 + nn < n_cols
                    b_tile[kk, nn] = read_b(b_src, geo, g, k0 + kk, n0 + nn) if inside else zero
                product(acc, a_tile, b_tile, ty, tx)
            write(acc, out, (bias, geo, g), m0, n0, ty, tx, m_rows, n_cols)

        return gemm

    return {
        "forward": make(w_rows, cols_x, store_y),
        "grad_weight": make(gy_rows, cols_x_t, store_gw),
        "grad_input": make(w_cols, taps_gy, store_gx),
    }


def _operands(op: str, a: Any, b: Any, names: tuple[str, str]) -> tuple[np.dtype, Any, Any]:
    """(common float dtype, a, b as device arrays of it)."""
    dt = common_float(a, b, op=op)
    return dt, to_device(a, dt, op=op, name=names[0]), to_device(b, dt, op=op, name=names[1])


def _launch(kernel, a, b, out, bias, geo, m_rows, n_cols, k_dim, groups):
    grid = ((n_cols + BN - 1) // BN, (m_rows + BM - 1) // BM, groups)
    kernel[grid, (TPB, TPB)](a, b, out, bias, geo, m_rows, n_cols, k_dim)


def conv2d_forward(x: Any, w: Any, stride: Pair, padding: Quad, dilation: Pair, groups: int,
                   bias: Any | None = None) -> Any:
    """Cross-correlation y: (N, K, OH, OW) of x: (N, C, H, W) with w: (K, C//groups, R, S).

    ``bias``: (K,) or None. Host or device arrays in, a device array out (x's promoted dtype).
    Geometry is trusted (validated by the op).
    """
    dt, xd, wd = _operands("conv2d", x, w, ("input", "weight"))
    n, c, h, wid = xd.shape
    k, cg, kh, kw = wd.shape
    oh = conv_out_size(h, kh, stride[0], padding[0], padding[1], dilation[0])
    ow = conv_out_size(wid, kw, stride[1], padding[2], padding[3], dilation[1])
    cu = load_cuda()
    bd = (to_device(bias, dt, op="conv2d", name="bias") if bias is not None
          else cu.device_array(1, dtype=dt))
    y = cu.device_array((n, k, oh, ow), dtype=dt)
    geo = _geometry(n, c, h, wid, k, oh, ow, kh, kw, stride, padding, dilation, groups,
                    bias is not None)
    _launch(_kernels(dt)["forward"], wd, xd, y, bd, geo, k // groups, n * oh * ow,
            cg * kh * kw, groups)
    return from_device(y)


def conv2d_grad_input(gy: Any, w: Any, input_hw: Pair, stride: Pair, padding: Quad,
                      dilation: Pair, groups: int) -> Any:
    """Gradient of conv2d w.r.t. its input: gx (N, C, H, W) from gy (N, K, OH, OW).

    Also conv_transpose2d's forward. Every gx element is written once (gather), so gx needs no
    zeroing and no atomics.
    """
    dt, gyd, wd = _operands("conv2d_grad_input", gy, w, ("grad_output", "weight"))
    n, k, oh, ow = gyd.shape
    _, cg, kh, kw = wd.shape
    h, wid = input_hw
    c = cg * groups
    gx = load_cuda().device_array((n, c, h, wid), dtype=dt)
    geo = _geometry(n, c, h, wid, k, oh, ow, kh, kw, stride, padding, dilation, groups, False)
    _launch(_kernels(dt)["grad_input"], wd, gyd, gx, gx, geo, cg, n * h * wid,
            (k // groups) * kh * kw, groups)
    return from_device(gx)


def conv2d_grad_weight(x: Any, gy: Any, kernel_hw: Pair, stride: Pair, padding: Quad,
                       dilation: Pair, groups: int) -> Any:
    """Gradient of conv2d w.r.t. its weight: gw (K, C//groups, R, S).

    x: (N, C, H, W), gy: (N, K, OH, OW); the reduction runs over all N*OH*OW output pixels.
    """
    dt, xd, gyd = _operands("conv2d_grad_weight", x, gy, ("input", "grad_output"))
    n, c, h, wid = xd.shape
    _, k, oh, ow = gyd.shape
    kh, kw = kernel_hw
    cg = c // groups
    gw = load_cuda().device_array((k, cg, kh, kw), dtype=dt)
    geo = _geometry(n, c, h, wid, k, oh, ow, kh, kw, stride, padding, dilation, groups, False)
    _launch(_kernels(dt)["grad_weight"], gyd, xd, gw, gw, geo, k // groups, cg * kh * kw,
            n * oh * ow, groups)
    return from_device(gw)
