"""Direct convolution on packed, padded planes: forward, input gradient and weight gradient.

Every product of a convolution becomes a list of *taps* over one flat buffer. A sample's input
is copied ("packed") into zero-padded planes of pitch ``wq``, one plane per channel; a strided
convolution splits each channel into ``sh*sw`` phase planes (space-to-depth: plane (a, b) holds
the padded pixels (a + sh*m, b + sw*u)), after which every convolution is stride 1. Output pixel
(i, j) is lane ``q = i*wq + j`` of a flat run, and tap (c, r, s) reads the input at ``q + off``
with one constant offset per tap::

    y[k, q] = b[k] + sum_t w[k, t] * xs[q + off[t]]                    (forward)
    gw[k, t] = sum_n sum_q g[n, k, q] * xs_n[q + off[t]]               (weight gradient)

The lanes j in [OW, wq) of each row are garbage: they are computed and dropped (a waste of
(wq - OW) / wq; 6 % on 32x32 images with 3x3 kernels, 29 % on LeNet's 14x14 5x5 layer). The
input gradient is the same rows product on the packed *output* gradient, one output phase per
(h mod sh, w mod sw) class of input pixels, each with the taps that reach it (a stride-1
correlation with the flipped kernel when sh = sw = 1).

The inner loops are the register-tiled micro-kernels of ``microkernels.py`` (8 output
channels x 3 vectors of lanes per tile with AVX-512, 4 x 6 dot products), run sample by sample
so that a sample's packed planes stay in L2; samples split over Numba's threads. There is no
im2col and no transposed copy: packing is a padded row copy, unpacking drops the garbage lanes.

The kernels form two kinds of products the loops of ``minigrad.testing.conv_reference`` do not,
which matter only for non-finite values: the weight gradient's garbage lanes multiply zeros of g
by whatever input they read (NaN when that input is inf), and the input gradient multiplies the
zeros around the packed gy by the weights (NaN when a weight is inf). The dispatch in ``conv.py``
therefore recomputes a non-finite weight gradient on the im2col path and sends an input gradient
with non-finite weights there; every other result is the loops' up to rounding.
"""

from __future__ import annotations

import functools

import numba
import numpy as np
from numba import njit, prange, uint64

from minigrad.ops.kernels.cpu.microkernels import (
    dots_shape,
    dots_tile,
    lanes,
    rows_shapes,
    rows_tile,
)

__all__ = ["use_planes", "planes_grad_input", "forward", "grad_input", "grad_weight"]

Pair = tuple[int, int]
Quad = tuple[int, int, int, int]

# multiply-adds from which the samples split over Numba's threads (about 50 us of one core's
# work; a parallel launch costs 1.5 us under TBB)
SPLIT_MACS = 1 << 21
# the input gradient of layers writing fewer than 8 channels per group only up to this many taps
# per written pixel (see planes_grad_input)
MAX_TAPS = 256
# the weight gradient packs enough samples at a time that a dot product runs over about this many
# lanes before its sum
DOT_LANES = 2048

_VB = rows_shapes()  # {KB: VB}
_ROWS8, _ROWS6, _ROWS4, _ROWS2, _ROWS1 = (rows_tile(kb, _VB[kb]) for kb in (8, 6, 4, 2, 1))
_VB8, _VB6, _VB4, _VB2, _VB1 = (_VB[kb] for kb in (8, 6, 4, 2, 1))
_DKB, _DTB = dots_shape()
_DOTS = dots_tile(_DKB, _DTB)
_WSTEP = 8  # weights per tap in the tables: the largest channel block


def use_planes(oh: int, ow: int) -> bool:
    """Whether the packed-plane kernels take a layer that is not a 1x1 stride-1 unpadded one
    (``conv.py`` sends those to a plain GEMM first): output planes of at least 16 pixels, so that
    a tile of lanes is not mostly garbage."""
    return oh * ow >= 16


def planes_grad_input(cg: int, kg: int, kh: int, kw: int) -> bool:
    """Whether the input gradient goes here: it writes ``cg`` channels per group from
    ``kg*kh*kw`` taps each. Measured on the bench and ResNet layers (bench/RESULTS.md): faster
    than col2im and the direct kernels with 1-3 written channels and 144-150 taps (1.4-2.5x) or
    16-32 channels (1.2-7x), slower with 3 channels and 288 taps (0.4-0.85x: a block of 4 output
    channels then wastes a quarter, and each of few outputs reads many planes), with 6 channels
    and 400 taps (0.76x of the direct kernels) and for strided 1x1 kernels (0.5x: most input
    phases receive nothing and are still computed)."""
    return kh * kw > 1 and (cg >= 8 or kg * kh * kw <= MAX_TAPS)


# ------------------------------------------------------------------------------------------------
# Numba: packing, the two passes


@njit(cache=True, nogil=True)
def valid_range(n_in, n_out, stride, offset):
    """Output positions ``o`` in ``[lo, hi)`` whose input index ``o*stride + offset`` is inside
    ``[0, n_in)`` (also used by ``conv.py``'s im2col/col2im)."""
    lo = 0
    if offset < 0:
        lo = (-offset + stride - 1) // stride
    last = n_in - 1 - offset
    hi = last // stride + 1 if last >= 0 else 0
    hi = min(hi, n_out)
    lo = min(lo, hi)
    return lo, hi


@njit(cache=True, nogil=True)
def _pack(x, n, c0, cn, pt, pl, psh, psw, alist, blist, hq, wq, ps, buf, b0):
    """Phase planes ``p = (c*len(alist) + i)*len(blist) + j`` (c < cn) of sample n, channels
    c0.., into flat ``buf``; with a = alist[i], b = blist[j]::

        buf[b0 + p*ps + m*wq + u] = xpad[c0 + c, a + psh*m, b + psw*u]     (m < hq, u < wq)

    where xpad is x[n] with ``pt`` zero rows on top, ``pl`` zero columns on the left and zeros
    everywhere past the image; the rest of each plane (up to ``ps``) is zeroed. Only the phases
    some tap reads are listed (a strided 1x1 kernel reads one of four).
    x: (N, C, H, W) C-contiguous.
    """
    h = x.shape[2]
    w = x.shape[3]
    xf = x.ravel()
    ch = x.shape[1]
    upsw = uint64(psw)
    na = alist.size
    nb = blist.size
    for c in range(cn):
        for ia in range(na):
            a = alist[ia]
            for ib in range(nb):
                b = blist[ib]
                base = b0 + ((c * na + ia) * nb + ib) * ps
                lo, hi = valid_range(w, wq, psw, b - pl)
                for m in range(hq):
                    d = uint64(base + m * wq)
                    hh = a + psh * m - pt
                    if hh < 0 or hh >= h:
                        for u in range(uint64(wq)):
                            buf[d + u] = 0
                        continue
                    for u in range(uint64(lo)):
                        buf[d + u] = 0
                    src = uint64(((n * ch + c0 + c) * h + hh) * w + b + psw * lo - pl)
                    dd = d + uint64(lo)
                    if psw == 1:
                        for u in range(uint64(hi - lo)):
                            buf[dd + u] = xf[src + u]
                    else:
                        for u in range(uint64(hi - lo)):
                            buf[dd + u] = xf[src + u * upsw]
                    for u in range(uint64(hi), uint64(wq)):
                        buf[d + u] = 0
                for q in range(base + hq * wq, base + ps):
                    buf[q] = 0


@njit(inline="always")
def _rows(kb, src, s0, off, ntaps, w, w0, bias, b0, dst, d0, pitch):
    if kb == 8:
        _ROWS8(src, s0, off, ntaps, w, w0, _WSTEP, bias, b0, dst, d0, pitch)
    elif kb == 6:
        _ROWS6(src, s0, off, ntaps, w, w0, _WSTEP, bias, b0, dst, d0, pitch)
    elif kb == 4:
        _ROWS4(src, s0, off, ntaps, w, w0, _WSTEP, bias, b0, dst, d0, pitch)
    elif kb == 2:
        _ROWS2(src, s0, off, ntaps, w, w0, _WSTEP, bias, b0, dst, d0, pitch)
    else:
        _ROWS1(src, s0, off, ntaps, w, w0, _WSTEP, bias, b0, dst, d0, pitch)


@njit(inline="always")
def _tile_lanes(kb, nl):
    if kb == 8:
        return _VB8 * nl
    if kb == 6:
        return _VB6 * nl
    if kb == 4:
        return _VB4 * nl
    if kb == 2:
        return _VB2 * nl
    return _VB1 * nl


@njit(cache=True, nogil=True)
def _rows_range(n0, n1, src, pack, alist, blist, blocks, ntaps, off, wts, bias, phases, out_geo,
                pitch, nl, src_size, dst):
    """Samples ``n0:n1`` of a rows pass (forward or input gradient; see :func:`_rows_pass`)."""
    pt, pl, psh, psw, hq, wq, ps = pack[0], pack[1], pack[2], pack[3], pack[4], pack[5], pack[6]
    cin = src.shape[1]
    osh, osw, otop, oleft = out_geo[0], out_geo[1], out_geo[2], out_geo[3]
    kout = dst.shape[1]
    oh = dst.shape[2]
    owd = dst.shape[3]
    rows = 0
    for bi in range(blocks.shape[0]):
        rows = max(rows, blocks[bi, 0] + blocks[bi, 1])
    # zeroed: garbage lanes read the slack, and uninitialised bits could be slow subnormals
    sbuf = np.zeros(src_size, dtype=dst.dtype)
    dbuf = np.empty(rows * pitch, dtype=dst.dtype)
    df = dst.ravel()
    for n in range(n0, n1):
        _pack(src, n, 0, cin, pt, pl, psh, psw, alist, blist, hq, wq, ps, sbuf, 0)
        for p in range(phases.shape[0]):
            a, b, m_lo, m_cnt, n_lo, n_cnt = (phases[p, 0], phases[p, 1], phases[p, 2],
                                              phases[p, 3], phases[p, 4], phases[p, 5])
            if m_cnt == 0 or n_cnt == 0:
                continue
            nlanes = m_cnt * wq
            for bi in range(blocks.shape[0]):
                k0, kb, s0 = blocks[bi, 0], blocks[bi, 1], blocks[bi, 3]
                step = _tile_lanes(kb, nl)
                for q in range(0, nlanes, step):
                    _rows(kb, sbuf, s0 + q, off[p], ntaps[p], wts[p, bi], 0, bias, k0, dbuf,
                          k0 * pitch + q, pitch)
            # unpack the valid lanes of every real channel
            for bi in range(blocks.shape[0]):
                k0, kreal = blocks[bi, 0], blocks[bi, 2]
                for k in range(k0, k0 + kreal):
                    for mm in range(m_cnt):
                        hh = a + osh * (m_lo + mm) - otop
                        drow = uint64(((n * kout + k) * oh + hh) * owd)
                        srow = uint64(k * pitch + mm * wq)
                        c0 = b + osw * n_lo - oleft
                        if osw == 1:
                            d = drow + uint64(c0)
                            for u in range(uint64(n_cnt)):
                                df[d + u] = dbuf[srow + u]
                        else:
                            for u in range(n_cnt):
                                df[drow + uint64(c0 + osw * u)] = dbuf[srow + uint64(u)]


@njit(cache=True, nogil=True, parallel=True)
def _rows_parallel(parts, src, pack, alist, blist, blocks, ntaps, off, wts, bias, phases, out_geo,
                   pitch, nl, src_size, dst):
    n = src.shape[0]
    for i in prange(parts):
        _rows_range(i * n // parts, (i + 1) * n // parts, src, pack, alist, blist, blocks, ntaps,
                    off, wts, bias, phases, out_geo, pitch, nl, src_size, dst)


@njit(cache=True, nogil=True)
def _dots_range(n0, n1, x, xpack, alist, blist, gy, gpack, groups, kg_pad, off, tpad, chunk, nl,
                x_size, g_size, gw):
    """Samples ``n0:n1`` of the weight gradient: ``gw[g*kg_pad + k, t] += sum g * xs`` (see
    :func:`grad_weight`), ``chunk`` samples packed at a time."""
    pt, pl, psh, psw, hq, wq, ps = (xpack[0], xpack[1], xpack[2], xpack[3], xpack[4], xpack[5],
                                    xpack[6])
    gh, gps = gpack[0], gpack[1]
    c = x.shape[1]
    k = gy.shape[1]
    cg = c // groups
    kg = k // groups
    planes_g = cg * alist.size * blist.size
    one = np.zeros(1, dtype=np.int64)
    # zeroed: the slack after each sample is read by garbage lanes, whose products with the
    # zero lanes of g must stay zero (uninitialised bits could be inf or NaN)
    xbuf = np.zeros(chunk * x_size, dtype=x.dtype)
    gbuf = np.zeros(chunk * g_size, dtype=x.dtype)  # planes past kg stay zero
    nvec = gps // nl
    gwf = gw.ravel()
    for c0 in range(n0, n1, chunk):
        mm = min(chunk, n1 - c0)
        for m in range(mm):
            _pack(x, c0 + m, 0, c, pt, pl, psh, psw, alist, blist, hq, wq, ps, xbuf,
                  m * x_size)
            for g in range(groups):
                _pack(gy, c0 + m, g * kg, kg, 0, 0, 1, 1, one, one, gh, wq, gps, gbuf,
                      m * g_size + g * kg_pad * gps)
        # taps outer: a block of taps' input rows stays in L1 while the blocks of g stream
        for g in range(groups):
            for t0 in range(0, tpad, _DTB):
                for k0 in range(0, kg_pad, _DKB):
                    _DOTS(gbuf, (g * kg_pad + k0) * gps, gps, xbuf, g * planes_g * ps, off, t0,
                          mm, g_size, x_size, nvec, gwf, (g * kg_pad + k0) * tpad + t0, tpad)


@njit(cache=True, nogil=True, parallel=True)
def _dots_parallel(parts, x, xpack, alist, blist, gy, gpack, groups, kg_pad, off, tpad, chunk, nl,
                   x_size, g_size, gw_parts):
    n = x.shape[0]
    for i in prange(parts):
        _dots_range(i * n // parts, (i + 1) * n // parts, x, xpack, alist, blist, gy, gpack,
                    groups, kg_pad, off, tpad, chunk, nl, x_size, g_size, gw_parts[i])


# ------------------------------------------------------------------------------------------------
# tables (built once per geometry)


def _round_up(a: int, m: int) -> int:
    return -(-a // m) * m


def _plane_stride(size: int, nl: int, itemsize: int) -> int:
    """A plane stride >= size, a multiple of the vector length, and an odd number of cache lines:
    planes a multiple of 4 KiB apart share L1 sets, and the taps of one tile read C planes at
    the same offset."""
    line = max(1, 64 // itemsize)
    step = max(line, nl)
    ps = _round_up(size, step)
    return ps + step if (ps // line) % 2 == 0 else ps


def _blocks(kout: int, groups: int, src_planes_per_group: int, ps: int) -> np.ndarray:
    """Channel blocks (k0, kb, kreal, src offset): each group's kout/groups output channels in
    blocks of 8, the last one the smallest of 8/4/2/1 that holds the rest (zero weights pad it)."""
    kg = kout // groups
    out = []
    for g in range(groups):
        k = 0
        while k < kg:
            rest = kg - k
            kb = 8 if rest >= 8 else next(s for s in (1, 2, 4, 6, 8) if s >= rest)
            out.append((g * kg + k, kb, min(kb, rest), g * src_planes_per_group * ps))
            k += kb
    return np.array(out, dtype=np.int64)


def _weight_table(taps_w: list[np.ndarray], blocks: np.ndarray, kout_per_group: int,
                  tmax: int, dtype) -> np.ndarray:
    """(phases, blocks, tmax * 8): per phase, per block, the weights of tap t for the block's
    channels at [t*8 + kk]. ``taps_w[p]``: (kout_per_group-major) weights (groups, kg, T_p)."""
    wt = np.zeros((len(taps_w), blocks.shape[0], tmax, _WSTEP), dtype=dtype)
    for p, tw in enumerate(taps_w):
        tp = tw.shape[2]
        for bi, (k0, _kb, kreal, _s0) in enumerate(blocks):
            g, kl = divmod(int(k0), kout_per_group)
            wt[p, bi, :tp, :kreal] = tw[g, kl:kl + kreal].T
    return wt.reshape(len(taps_w), blocks.shape[0], tmax * _WSTEP)


@functools.lru_cache(maxsize=64)
def _forward_plan(c: int, k: int, kh: int, kw: int, h: int, wd: int, stride: Pair, padding: Quad,
                  dilation: Pair, groups: int, nl: int, itemsize: int):
    """Packing, tap offsets, channel blocks and scratch sizes of the forward (and of the weight
    gradient, which reads the same packed planes)."""
    (sh, sw), (top, bottom, left, right), (dh, dw) = stride, padding, dilation
    hp, wp = h + top + bottom, wd + left + right
    oh = (hp - dh * (kh - 1) - 1) // sh + 1
    ow = (wp - dw * (kw - 1) - 1) // sw + 1
    hq, wq = -(-hp // sh), -(-wp // sw)
    ps = _plane_stride(hq * wq, nl, itemsize)
    cg = c // groups
    # the phases some tap reads, and each one's index among them
    alist = np.unique((np.arange(kh) * dh) % sh)
    blist = np.unique((np.arange(kw) * dw) % sw)
    ci, ri, si = (a.ravel() for a in np.meshgrid(np.arange(cg), np.arange(kh), np.arange(kw),
                                                 indexing="ij"))
    ia = np.searchsorted(alist, (ri * dh) % sh)
    ib = np.searchsorted(blist, (si * dw) % sw)
    plane = (ci * alist.size + ia) * blist.size + ib
    off = plane * ps + ((ri * dh) // sh) * wq + (si * dw) // sw
    src_planes = cg * alist.size * blist.size
    pack = np.array([top, left, sh, sw, hq, wq, ps], dtype=np.int64)
    return dict(oh=oh, ow=ow, hq=hq, wq=wq, ps=ps, off=off.astype(np.int64), pack=pack,
                alist=alist.astype(np.int64), blist=blist.astype(np.int64),
                src_planes=src_planes, x_size=groups * src_planes * ps)


@functools.lru_cache(maxsize=64)
def _forward_tables(n: int, c: int, k: int, kh: int, kw: int, h: int, wd: int, stride: Pair,
                    padding: Quad, dilation: Pair, groups: int, dtype: np.dtype):
    nl = lanes(dtype)
    plan = _forward_plan(c, k, kh, kw, h, wd, stride, padding, dilation, groups, nl,
                         np.dtype(dtype).itemsize)
    oh, ow, wq, ps = plan["oh"], plan["ow"], plan["wq"], plan["ps"]
    blocks = _blocks(k, groups, plan["src_planes"], ps)
    taps = plan["off"].size
    tile = max(_VB.values()) * nl
    pitch = _round_up(oh * wq, tile) + tile
    phases = np.array([[0, 0, 0, oh, 0, ow]], dtype=np.int64)
    src_size = plan["x_size"] + int(plan["off"].max()) + pitch
    return dict(plan, blocks=blocks, taps=taps, pitch=pitch, phases=phases, src_size=src_size,
                off2=plan["off"][None, :].copy(), ntaps=np.array([taps], dtype=np.int64),
                out_geo=np.array([1, 1, 0, 0], dtype=np.int64), nl=nl)


@functools.lru_cache(maxsize=64)
def _grad_input_tables(n: int, c: int, k: int, kh: int, kw: int, h: int, wd: int, oh: int,
                       ow: int, stride: Pair, padding: Quad, dilation: Pair, groups: int,
                       dtype: np.dtype):
    """Phases of the input gradient: input pixel (h, w) with (h + top) = a + sh*m and
    (w + left) = b + sw*u receives gy[i, j] through kernel tap (r, s) when r*dh = a + sh*e,
    s*dw = b + sw*f, at i = m - e, j = u - f; gy is packed with pt = max e rows and pl = max f
    columns of zeros in front, so every tap is a constant non-negative offset."""
    (sh, sw), (top, _bottom, left, _right), (dh, dw) = stride, padding, dilation
    nl = lanes(dtype)
    itemsize = np.dtype(dtype).itemsize
    kg = k // groups
    pt, pl = ((kh - 1) * dh) // sh, ((kw - 1) * dw) // sw
    phases, rows_taps = [], []
    for a in range(sh):
        m_lo, m_hi = -(-(top - a) // sh), -(-(top + h - a) // sh)
        rs = [(r, (r * dh - a) // sh) for r in range(kh) if r * dh >= a and (r * dh - a) % sh == 0]
        for b in range(sw):
            u_lo, u_hi = -(-(left - b) // sw), -(-(left + wd - b) // sw)
            ss = [(s, (s * dw - b) // sw) for s in range(kw)
                  if s * dw >= b and (s * dw - b) % sw == 0]
            phases.append((a, b, max(0, m_lo), max(0, m_hi - max(0, m_lo)), max(0, u_lo),
                           max(0, u_hi - max(0, u_lo))))
            rows_taps.append((rs, ss))
    hg = max([pt + oh] + [p[2] + p[3] + pt for p in phases])
    wg = max([pl + ow] + [p[4] + p[5] + pl for p in phases])
    ps = _plane_stride(hg * wg, nl, itemsize)
    offs, weights = [], []
    for (_a, _b, m_lo, _mc, u_lo, _uc), (rs, ss) in zip(phases, rows_taps):
        o, wsel = [], []
        for kk in range(kg):
            for r, e in rs:
                for s, f in ss:
                    o.append(kk * ps + (m_lo - e + pt) * wg + (u_lo - f + pl))
                    wsel.append((kk, r, s))
        offs.append(np.array(o, dtype=np.int64))
        weights.append(wsel)
    tmax = max(1, max(o.size for o in offs))
    off2 = np.zeros((len(phases), tmax), dtype=np.int64)
    for p, o in enumerate(offs):
        off2[p, :o.size] = o
    blocks = _blocks(c, groups, kg, ps)
    tile = max(_VB.values()) * nl
    pitch = _round_up(max(p[3] for p in phases) * wg, tile) + tile
    src_size = k * ps + int(off2.max()) + pitch
    zero = np.zeros(1, dtype=np.int64)
    return dict(pack=np.array([pt, pl, 1, 1, hg, wg, ps], dtype=np.int64), blocks=blocks,
                alist=zero, blist=zero,
                off2=off2, ntaps=np.array([o.size for o in offs], dtype=np.int64),
                weights=weights, tmax=tmax, pitch=pitch, src_size=src_size,
                phases=np.array(phases, dtype=np.int64),
                out_geo=np.array([sh, sw, top, left], dtype=np.int64), nl=nl)


# ------------------------------------------------------------------------------------------------
# drivers


def _parts(n: int, macs: int) -> int:
    if macs < SPLIT_MACS:
        return 1
    return max(1, min(n, numba.get_num_threads()))


def _rows_pass(src: np.ndarray, t: dict, wts: np.ndarray, bias: np.ndarray, dst: np.ndarray,
               macs: int) -> None:
    args = (src, t["pack"], t["alist"], t["blist"], t["blocks"], t["ntaps"], t["off2"], wts, bias,
            t["phases"],
            t["out_geo"], t["pitch"], t["nl"], t["src_size"], dst)
    parts = _parts(src.shape[0], macs)
    if parts > 1:
        _rows_parallel(parts, *args)
    else:
        _rows_range(0, src.shape[0], *args)


def forward(x: np.ndarray, w: np.ndarray, stride: Pair, padding: Quad, dilation: Pair,
            groups: int, bias: np.ndarray | None) -> np.ndarray:
    """conv2d_forward on packed planes; x: (N, C, H, W), w: (K, C/groups, R, S) contiguous, one
    dtype; returns y: (N, K, OH, OW)."""
    n, c, h, wd = x.shape
    k, cg, kh, kw = w.shape
    t = _forward_tables(n, c, k, kh, kw, h, wd, stride, padding, dilation, groups, x.dtype)
    kg = k // groups
    wts = _weight_table([w.reshape(groups, kg, cg * kh * kw)], t["blocks"], kg, t["taps"],
                        x.dtype)
    b = np.zeros(k + _WSTEP, dtype=x.dtype)
    if bias is not None:
        b[:k] = bias
    y = np.empty((n, k, t["oh"], t["ow"]), dtype=x.dtype)
    _rows_pass(x, t, wts, b, y, n * k * cg * kh * kw * t["oh"] * t["ow"])
    return y


def grad_input(gy: np.ndarray, w: np.ndarray, input_hw: Pair, stride: Pair, padding: Quad,
               dilation: Pair, groups: int) -> np.ndarray:
    """conv2d_grad_input on packed planes; gy: (N, K, OH, OW), w: (K, C/groups, R, S)
    contiguous; returns gx: (N, C, H, W)."""
    n, k, oh, ow = gy.shape
    _, cg, kh, kw = w.shape
    h, wd = input_hw
    c = cg * groups
    t = _grad_input_tables(n, c, k, kh, kw, h, wd, oh, ow, stride, padding, dilation, groups,
                           gy.dtype)
    kg = k // groups
    wg = w.reshape(groups, kg, cg, kh, kw)
    taps_w = []
    for sel in t["weights"]:
        tw = np.zeros((groups, cg, max(1, len(sel))), dtype=gy.dtype)
        if sel:
            kk, rr, ss = (np.array(v) for v in zip(*sel))
            tw[:, :, :len(sel)] = wg[:, kk, :, rr, ss].transpose(1, 2, 0)
        taps_w.append(tw)
    wts = _weight_table(taps_w, t["blocks"], cg, t["tmax"], gy.dtype)
    gx = np.empty((n, c, h, wd), dtype=gy.dtype)
    _rows_pass(gy, t, wts, np.zeros(c + _WSTEP, dtype=gy.dtype), gx,
               n * k * cg * kh * kw * oh * ow)
    return gx


def grad_weight(x: np.ndarray, gy: np.ndarray, kernel_hw: Pair, stride: Pair, padding: Quad,
                dilation: Pair, groups: int) -> np.ndarray:
    """conv2d_grad_weight on packed planes; x: (N, C, H, W), gy: (N, K, OH, OW) contiguous;
    returns gw: (K, C/groups, R, S). May hold NaN where the exact result is finite when x holds
    inf or NaN (see the module docstring): the caller checks."""
    n, c, h, wd = x.shape
    k, oh, ow = gy.shape[1:]
    kh, kw = kernel_hw
    nl = lanes(x.dtype)
    plan = _forward_plan(c, k, kh, kw, h, wd, stride, padding, dilation, groups, nl, x.itemsize)
    wq = plan["wq"]
    cg, kg = c // groups, k // groups
    kg_pad = _round_up(kg, _DKB)
    taps = cg * kh * kw
    tpad = _round_up(taps, _DTB)
    off = np.zeros(tpad, dtype=np.int64)
    off[:taps] = plan["off"]
    gps = _round_up(oh * wq, nl)
    g_size = groups * kg_pad * gps
    x_size = plan["x_size"]
    chunk = max(1, min(n, DOT_LANES // gps))
    macs = n * k * taps * oh * ow
    parts = _parts(-(-n // chunk), macs)
    x_slack = int(off.max()) + gps + nl
    gw_parts = np.zeros((parts, groups * kg_pad, tpad), dtype=x.dtype)
    args = (x, plan["pack"], plan["alist"], plan["blist"], gy, np.array([oh, gps], dtype=np.int64),
            groups, kg_pad, off, tpad, chunk, nl, x_size, g_size)
    if parts > 1:
        _dots_parallel(parts, *args[:-2], x_size + x_slack, g_size, gw_parts)
    else:
        _dots_range(0, n, *args[:-2], x_size + x_slack, g_size, gw_parts[0])
    gw = gw_parts.sum(axis=0) if parts > 1 else gw_parts[0]
    gw = gw.reshape(groups, kg_pad, tpad)[:, :kg, :taps]
    return gw.reshape(k, cg, kh, kw)
