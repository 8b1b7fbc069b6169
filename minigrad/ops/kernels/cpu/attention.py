"""Scaled dot-product attention on the CPU: matrix products (register tiles forward, BLAS
backward) around a Numba row pass, in blocks of query rows; nothing of size (L, S) is kept
between forward and backward.

For one batch row ``b`` (batch and heads flattened), queries ``q: (L, E)``, keys ``k: (S, E)``,
values ``v: (S, Ev)``, an additive ``bias`` (the float form of a mask) and a causal flag::

    s[i, j] = scale * q[i] . k[j] + bias[i, j]      (-inf where causal and j > i)
    p[i, j] = exp(s[i, j] - lse[i]),  lse[i] = log sum_j exp(s[i, j])
    o[i]    = sum_j drop[i, j] * p[i, j] * v[j]

Each pass walks blocks of query rows whose score block (rows, S) fills about ``CACHE_BYTES``, so
the row kernel and the second product read what the first product wrote from cache. A block holds
whole rows of scores, so the softmax needs no running maximum or rescaling (as FlashAttention's
online softmax does for key blocks). Per block, one Numba row pass does scale, mask, maximum,
``exp`` with a float64 sum, normalisation and dropout.

**Forward** (:func:`_forward_blocks`): ``s = q_blk @ k.T``, the row pass, ``o_blk = p @ v``, the
two products in register tiles (``microkernels.matmul_tile``) on the keys packed once per batch
row as ``k.T`` (:func:`_pack`), all in one parallel loop over (batch row, block). It returns the
output and the per-row ``lse`` only. The products are K = 64-deep for a typical head, where
NumPy's OpenBLAS ran at about half of one core's multiply-add peak and the tiles run near it; and
with no BLAS call in the loop, both threads stay in one Numba parallel region (OpenBLAS's
workers, which spin after a call, and a pool of Python threads split the cores erratically).

**Backward** (FlashAttention-2's formulas) recomputes per tile the scores and
``dp = do_tile @ v.T`` by BLAS, then one kernel forms ``p`` from ``lse`` and
``ds = p * (dp - D)`` with ``D[i] = do[i] . o[i]``, then ``dv += p.T @ do_tile``,
``dk += scale * ds.T @ q_tile`` and ``dq_tile = scale * ds @ k`` by BLAS; ``ds`` (which is
d loss / d bias) is written out when a float mask needs a gradient. Its batch rows are split over
OpenBLAS's thread count with ``conv_split.split`` (each thread runs its rows' tiles with a
single-threaded BLAS and the kernels, which release the GIL). PyTorch's CPU flash-attention
kernel is built this way (its ``cpublas::gemm`` between vectorised softmax code).

Under a causal mask a block of queries ``i0..i1`` only needs keys ``0..i1``: blocks are then
shorter (see :func:`_tiles`), their products stop at key ``i1``, and the row pass touches each
row's keys ``j <= i`` only (the rest of the row is set to 0, never ``exp(-inf)``: the ``exp``
of a hugely negative number takes the CPU's slow subnormal path).

A row whose every key is masked (all ``-inf``) has ``lse = -inf``; its output and gradients are
0, as PyTorch's CPU kernel gives.

Dropout (``p_drop > 0``) keeps ``(b, i, j)`` when a counter-based hash of ``(seed, (b*L + i)*S +
j)`` (SplitMix64) is at least ``p_drop``, so backward regenerates the mask instead of storing it;
:func:`dropout_keep` gives the same mask as an array (for the GPU path and the tests).

Scores and outputs are computed in the input dtype, the softmax sums in float64.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange, types
from numba.extending import overload

from minigrad.ops.kernels import api
from minigrad.ops.kernels.cpu import conv_split
from minigrad.ops.kernels.cpu._jit import kernel, wide_vectors
from minigrad.ops.kernels.cpu.f32math import exp_nonpos
from minigrad.ops.kernels.cpu.microkernels import (
    LANES_BYTES,
    lanes,
    matmul_shape,
    matmul_tile,
    transpose_tile,
)
from minigrad.ops.kernels.cpu.softmax import lane_dot, lane_max, lane_sum

__all__ = [*api.ATTENTION, "dropout_keep", "CACHE_BYTES", "CAUSAL_BLOCK"]

CACHE_BYTES = 1 << 20  # one tile's score block (backward: each of its two; see _tiles)
CAUSAL_BLOCK = 64  # fewest queries per tile under a causal mask (see _tiles)

_MKB, _MVB = matmul_shape()
_MAIN, _COL, _ROW, _ONE = (matmul_tile(kb, vb) for kb, vb in
                           ((_MKB, _MVB), (_MKB, 1), (1, _MVB), (1, 1)))
_TRANSPOSE = transpose_tile()

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_TO_UNIT = 1.0 / 9007199254740992.0  # 2**-53


@njit(cache=True, inline="always")
def _uniform(seed, counter):
    """A uniform number in [0, 1) from SplitMix64 of ``seed + counter * golden`` (uint64)."""
    z = seed + counter * _GOLDEN
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    z = z ^ (z >> _S31)
    return np.float64(z >> _S11) * _TO_UNIT


def dropout_keep(seed: int, shape: tuple[int, int, int], p: float) -> np.ndarray:
    """The kernels' dropout mask for (B, L, S) as a bool array (True: kept), in NumPy."""
    n = int(np.prod(shape))
    with np.errstate(over="ignore"):
        z = np.uint64(seed) + np.arange(n, dtype=np.uint64) * _GOLDEN
        z = (z ^ (z >> _S30)) * _MIX1
        z = (z ^ (z >> _S27)) * _MIX2
        z = z ^ (z >> _S31)
    return ((z >> _S11).astype(np.float64) * _TO_UNIT >= p).reshape(shape)


def _of_dtype(x, a):  # pragma: no cover - resolved at compile time by the overload below
    """``x`` converted to the dtype of the array ``a`` (in jitted code)."""
    raise NotImplementedError


@overload(_of_dtype, inline="always")
def _of_dtype_impl(x, a):
    if isinstance(a, types.Array):
        dtype = a.dtype
        return lambda x, a: dtype(x)
    return None


@njit(cache=True, error_model="numpy")
def _scores(row, i, bias, bi, scale):
    """row[c] <- scale * row[c] + bias[bi, i, c]. Not inlined: with the masked path's loops
    inside the tile functions' row loops their ``exp`` loops ran ~25 % slower (L = 128 rows,
    no mask)."""
    n = row.size
    if bias.shape[0] > 0:
        b = bias[bi, i]
        for c in range(n):
            row[c] = row[c] * scale + b[c]
    else:
        for c in range(n):
            row[c] = row[c] * scale


@njit(cache=True, error_model="numpy")
def _masked_scores(row, i, bias, bi, scale):
    """row <- scale * row + bias[bi, i]; returns the row's maximum (not inlined, as
    :func:`_scores`)."""
    _scores(row, i, bias, bi, scale)
    return lane_max(row)


@njit(cache=True, inline="always")
def _keep_scale(p_drop):
    """The factor of the probabilities that dropout keeps: 1 / (1 - p) (0 for p = 1)."""
    return 1.0 / (1.0 - p_drop) if p_drop < 1.0 else 0.0


@njit(cache=True, inline="always")
def _bias_slice(bias, bias_index, b):
    """Which (L, S) slice of the mask batch row ``b`` uses (0 without a mask)."""
    return bias_index[b] if bias.shape[0] > 0 else 0


@njit(cache=True, error_model="numpy")
def _drop(row, b, i, n_q, n_k, p_drop, seed, factor):
    """row[c] *= factor where (b, i, c) is kept by dropout, else 0. Not inlined, as
    :func:`_scores`."""
    base = (b * n_q + i) * n_k
    for c in range(row.size):
        keep = _uniform(seed, np.uint64(base + c)) >= p_drop
        row[c] = row[c] * factor if keep else 0.0


@njit(cache=True, inline="always", error_model="numpy")
def _live(i, nc, causal):
    """How many leading keys of query ``i``'s row of ``nc`` a causal mask leaves (all if not)."""
    return min(nc, i + 1) if causal else nc


# Serial kernels that release the GIL: the batch is split over threads around them (see
# _in_slices), each thread running its slice's BLAS products and kernels.
_OPTS = dict(cache=True, nogil=True, error_model="numpy", fastmath={"contract"})


@njit(**_OPTS)
def _forward_rows(p, pitch, nr, nc, b, i0, n_q, n_k, bias, bias_index, causal, scale, p_drop,
                  seed, lse):
    """Raw scores of batch row ``b``, queries ``i0..i0+nr`` against keys ``0..nc`` (row r at
    ``p[r*pitch:]``) -> (dropped) probabilities in place; lse: (B, L) written for those rows.

    The ``exp`` loop sits in the row loop itself, outside any branch, and the masked path's
    loops outside it (see :func:`_scores`)."""
    keep_scale = _keep_scale(p_drop)
    # Without a mask and for scale > 0 the maximum of the raw row is scaled and the scale goes
    # into the exponent's FMA: one pass fewer. Otherwise the row is rewritten as scale * row +
    # bias and the factor is 1. Both have the row's dtype: a float64 one would turn a float32
    # row's exp into libm's, unvectorised.
    plain = bias.shape[0] == 0 and scale > 0
    one = _of_dtype(1.0, p)
    bi = _bias_slice(bias, bias_index, b)
    for r in range(nr):
        wide_vectors()
        i = i0 + r
        row = p[r * pitch:r * pitch + nc]
        n = _live(i, nc, causal)  # n >= 1: S > 0, causal keeps key 0
        for c in range(n, nc):
            row[c] = 0.0
        live = row[:n]
        if plain:
            m, a = lane_max(live) * scale, scale
        else:
            m, a = _masked_scores(live, i, bias, bi, scale), one
        if m == -np.inf:  # no key may be attended
            for c in range(n):
                row[c] = 0.0
            lse[b, i] = -np.inf
            continue
        for c in range(n):
            live[c] = exp_nonpos(live[c] * a - m)
        total = lane_sum(live)
        lse[b, i] = m + math.log(total)
        factor = _of_dtype(keep_scale / total, row)  # a float64 factor halves the vectors
        if p_drop > 0.0:
            _drop(live, b, i, n_q, n_k, p_drop, seed, factor)
        else:
            for c in range(n):
                live[c] *= factor


@njit(cache=True, nogil=True)
def _matmul(bm, b0, bstep, ntaps, a, a0, apitch, c, c0, cpitch, rows, width):
    """``c[c0 + r*cpitch + j] = sum_t a[a0 + r*apitch + t] * bm[b0 + t*bstep + j]`` for
    ``r < rows``, ``j < width`` (a multiple of the vector length), in register tiles (see
    ``microkernels.matmul_tile``). Flat arrays of one float dtype."""
    step = _MVB * (LANES_BYTES // c.itemsize)
    r = 0
    while r < rows:
        tall = r + _MKB <= rows
        j = 0
        while j + step <= width:
            if tall:
                _MAIN(bm, b0 + j, bstep, ntaps, a, a0 + r * apitch, 1, apitch, c,
                      c0 + r * cpitch + j, cpitch)
            else:
                _ROW(bm, b0 + j, bstep, ntaps, a, a0 + r * apitch, 1, apitch, c,
                     c0 + r * cpitch + j, cpitch)
            j += step
        nl = LANES_BYTES // c.itemsize
        while j < width:
            if tall:
                _COL(bm, b0 + j, bstep, ntaps, a, a0 + r * apitch, 1, apitch, c,
                     c0 + r * cpitch + j, cpitch)
            else:
                _ONE(bm, b0 + j, bstep, ntaps, a, a0 + r * apitch, 1, apitch, c,
                     c0 + r * cpitch + j, cpitch)
            j += nl
        r += _MKB if tall else 1


@njit(cache=True, nogil=True)
def _pack_head(k, v, b, kt, vp):
    """Batch row ``b``'s keys transposed, ``kt[b]: (E, Sp) = k[b].T`` (zeros in columns S..Sp),
    and, when ``vp`` has rows, its values padded, ``vp[b]: (S, Evp)`` (zeros past Ev)."""
    n_k, e = k.shape[1], k.shape[2]
    sp = kt.shape[2]
    nl = LANES_BYTES // k.itemsize
    kf, ktf = k.ravel(), kt.ravel()
    k0, t0 = b * n_k * e, b * e * sp
    jf, ef = n_k - n_k % nl, e - e % nl  # whole blocks of nl x nl
    for j in range(0, jf, nl):
        for c in range(0, ef, nl):
            _TRANSPOSE(kf, k0 + j * e + c, e, ktf, t0 + c * sp + j, sp)
    for c in range(e):
        col = kt[b, c]
        for j in range(jf if c < ef else 0, n_k):
            col[j] = k[b, j, c]
        for j in range(n_k, sp):
            col[j] = 0.0
    if vp.shape[0] > 0:
        ev = v.shape[2]
        for j in range(n_k):
            for c in range(ev):
                vp[b, j, c] = v[b, j, c]
            for c in range(ev, vp.shape[2]):
                vp[b, j, c] = 0.0


@kernel
def _pack(k, v, kt, vp):
    """:func:`_pack_head` for every batch row, in parallel."""
    for b in prange(k.shape[0]):
        _pack_head(k, v, b, kt, vp)


@kernel
def _forward_blocks(q, kt, vs, o, lse, bias, bias_index, causal, scale, p_drop, seed, rows):
    """The forward pass over blocks of ``rows`` queries of every batch row, in parallel.

    q: (B, L, E); kt: (B, E, Sp), the keys packed by :func:`_pack`; vs: (B, S, Evp), the values
    (Evp = Ev, a multiple of the vector length) or their padded copy; o: (B, L, Ev), lse: (B, L)
    written. Per block: scores ``q_blk @ kt`` in register tiles into a block of (rows, S) (S cut
    at the causal edge), :func:`_forward_rows`, then ``o_blk = p @ v`` in register tiles."""
    nb, n_q, e = q.shape
    sp, n_k, evp, ev = kt.shape[2], vs.shape[1], vs.shape[2], o.shape[2]
    nl = LANES_BYTES // q.itemsize
    blocks = (n_q + rows - 1) // rows
    qf, ktf, vf, of = q.ravel(), kt.ravel(), vs.ravel(), o.ravel()
    for item in prange(nb * blocks):
        b = item // blocks
        i0 = item % blocks * rows
        nr = min(rows, n_q - i0)
        nc = min(n_k, i0 + nr) if causal else n_k
        width = (nc + nl - 1) // nl * nl
        p = np.empty(nr * width, dtype=q.dtype)
        _matmul(ktf, b * e * sp, sp, e, qf, (b * n_q + i0) * e, e, p, 0, width, nr, width)
        _forward_rows(p, width, nr, nc, b, i0, n_q, n_k, bias, bias_index, causal, scale,
                      p_drop, seed, lse)
        if evp == ev:
            _matmul(vf, b * n_k * ev, ev, nc, p, 0, width, of, (b * n_q + i0) * ev, ev, nr, ev)
        else:
            ob = np.empty(nr * evp, dtype=q.dtype)
            _matmul(vf, b * n_k * evp, evp, nc, p, 0, width, ob, 0, evp, nr, evp)
            for r in range(nr):
                for c in range(ev):
                    o[b, i0 + r, c] = ob[r * evp + c]


@njit(**_OPTS)
def _backward_tile(s, dp, b0, i0, n_q, n_k, bias, bias_index, causal, scale, p_drop, seed,
                   lse, o, do, dbias):
    """s: raw scores, dp: do_tile @ v.T, both (B, R, nc) -> s = dropped p (for dv),
    dp = scale * ds (for dq, dk); ds also written to dbias: (B_all, L, S) when it has rows.
    lse: (B_all, L); o, do: (B_all, L, Ev), the output and its gradient."""
    nb, nr, nc = s.shape
    keep_scale = _keep_scale(p_drop)
    fused = dbias.shape[0] == 0  # ds itself is not wanted: scale it in the same loop
    one = _of_dtype(1.0, s)
    for b in range(nb):
        bi = _bias_slice(bias, bias_index, b0 + b)
        for r in range(nr):
            wide_vectors()
            i = i0 + r
            li = lse[b0 + b, i]
            row, drow = s[b, r], dp[b, r]
            n = 0 if li == -np.inf else _live(i, nc, causal)
            for c in range(n, nc):
                row[c] = 0.0
                drow[c] = 0.0
            live, dlive = row[:n], drow[:n]
            a = scale
            if bias.shape[0] > 0:
                _scores(live, i, bias, bi, scale)
                a = one
            for c in range(n):
                live[c] = exp_nonpos(live[c] * a - li)
            di = _of_dtype(lane_dot(do[b0 + b, i], o[b0 + b, i]), row)
            if p_drop > 0.0:  # dp *= drop; ds = p * (dp - D); s = p * drop
                _drop(dlive, b0 + b, i, n_q, n_k, p_drop, seed, keep_scale)
            if fused:  # the same two roundings as the two loops below
                for c in range(n):
                    dlive[c] = live[c] * (dlive[c] - di) * scale
            else:
                for c in range(n):
                    dlive[c] = live[c] * (dlive[c] - di)
                out = dbias[b0 + b, i]
                for c in range(nc):
                    out[c] = drow[c]
                for c in range(n):
                    drow[c] *= scale
            if p_drop > 0.0:
                _drop(live, b0 + b, i, n_q, n_k, p_drop, seed, keep_scale)


_NO_INDEX = np.zeros(0, dtype=np.int64)


def _bias_args(bias: np.ndarray | None, batch: tuple[int, ...], n_q: int, n_k: int,
               dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """The mask ``bias`` (broadcastable to ``(*batch, L, S)``) as a view (Bm, L, S) without copies
    (broadcast axes get stride 0), and per flat batch row the index of its (L, S) slice."""
    if bias is None:
        return np.zeros((0, 1, 1), dtype=dtype), _NO_INDEX
    shape = (1,) * (len(batch) + 2 - bias.ndim) + bias.shape
    mb = shape[:-2]
    n_m = int(np.prod(mb, dtype=np.int64))
    view = np.broadcast_to(bias.reshape(n_m, *shape[-2:]), (n_m, n_q, n_k))
    index = np.broadcast_to(np.arange(n_m, dtype=np.int64).reshape(mb), batch)
    return view, np.ascontiguousarray(index).reshape(-1)


def _in_slices(nb: int, flops: int, work) -> None:
    """Run ``work(b_lo, b_hi)`` over slices of the batch, in threads when it pays (chunks of
    at least the conv's splitting threshold)."""
    chunks = max(1, min(nb, flops // conv_split.SPLIT_FLOPS))
    conv_split.split(chunks, lambda lo, hi: work(nb * lo // chunks, nb * hi // chunks),
                     flops // chunks * chunks)


def _tiles(lo: int, hi: int, n_q: int, n_k: int, causal: bool, row_bytes: int):
    """(b0, b1, i0, i1, nc) per tile of batch rows lo..hi: batch rows b0..b1 and queries i0..i1
    against keys 0..nc, with a score block of about ``CACHE_BYTES`` (``row_bytes`` per key of
    a query row). Under a causal mask nc = min(S, i1), and a tile has at most
    max(``CAUSAL_BLOCK``, L / 4) queries: shorter tiles skip more of the masked half but make
    smaller products (64 rows measured best at L = 128, 128 at L = 512)."""
    rows = max(1, CACHE_BYTES // max(1, n_k * row_bytes))
    causal_rows = max(CAUSAL_BLOCK, n_q // 4)
    tall = max(1, min(n_q, rows, causal_rows if causal else n_q))
    group = max(1, rows // tall) if tall < n_q else max(1, rows // max(1, n_q))
    for b0 in range(lo, hi, group):
        b1 = min(b0 + group, hi)
        for i0 in range(0, n_q, tall):
            i1 = min(i0 + tall, n_q)
            yield b0, b1, i0, i1, (min(n_k, i1) if causal else n_k)


def _flops(nb: int, n_q: int, n_k: int, e: int, ev: int, causal: bool) -> int:
    """Multiply-adds x 2 of one pass's two products (halved under a causal mask)."""
    return 2 * nb * n_q * n_k * (e + ev) // (2 if causal else 1)


def _forward_rows_per_block(nb: int, n_q: int, n_k: int, causal: bool, itemsize: int) -> int:
    """Queries per block of the forward: a score block of about ``CACHE_BYTES``, at most
    max(``CAUSAL_BLOCK``, L / 4) under a causal mask (as :func:`_tiles`), and at least 8 blocks
    in all where that leaves 16 queries per block (work for both threads when B is small)."""
    rows = max(1, min(n_q, CACHE_BYTES // max(1, n_k * itemsize)))
    if causal:
        rows = min(rows, max(CAUSAL_BLOCK, n_q // 4))
    if nb * -(-n_q // rows) < 8:
        rows = min(rows, max(16, -(-n_q * nb // 8)))
    return rows


def sdpa_forward(q: np.ndarray, k: np.ndarray, v: np.ndarray, bias: np.ndarray | None,
                 batch: tuple[int, ...], causal: bool, scale: float, p_drop: float,
                 seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Attention output and per-row log-sum-exp.

    q: (B, L, E), k: (B, S, E), v: (B, S, Ev), C-contiguous, one float dtype, B = prod(batch);
    bias: None or an additive mask of q's dtype broadcastable to ``(*batch, L, S)``. Returns
    o: (B, L, Ev) and lse: (B, L), both in q's dtype (lse = -inf for fully masked rows).
    """
    nb, n_q, e = q.shape
    n_k, ev = k.shape[1], v.shape[2]
    dt = q.dtype
    bias, bias_index = _bias_args(bias, batch, n_q, n_k, dt)
    lse = np.full((nb, n_q), -np.inf, dtype=dt)
    if n_k == 0 or n_q == 0 or nb == 0:
        return np.zeros((nb, n_q, ev), dtype=dt), lse
    o = np.empty((nb, n_q, ev), dtype=dt)  # every row is written by its block
    nl = lanes(dt)
    kt = np.empty((nb, e, -(-n_k // nl) * nl), dtype=dt)
    vp = np.empty((nb, n_k, -(-ev // nl) * nl) if ev % nl else (0, 0, 0), dtype=dt)
    _pack(k, v, kt, vp)
    rows = _forward_rows_per_block(nb, n_q, n_k, causal, dt.itemsize)
    _forward_blocks(q, kt, vp if ev % nl else v, o, lse, bias, bias_index, bool(causal),
                    dt.type(scale), float(p_drop), np.uint64(seed), rows)
    return o, lse


def sdpa_backward(q: np.ndarray, k: np.ndarray, v: np.ndarray, bias: np.ndarray | None,
                  batch: tuple[int, ...], causal: bool, scale: float, p_drop: float,
                  seed: int, o: np.ndarray, lse: np.ndarray, do: np.ndarray,
                  want_dbias: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Gradients for the upstream gradient ``do: (B, L, Ev)`` of the output ``o`` that
    :func:`sdpa_forward` returned with ``lse``: ``(dq, dk, dv, dbias)``; dbias: (B, L, S)
    (d loss / d score) when ``want_dbias``, else None."""
    nb, n_q, e = q.shape
    n_k, ev = k.shape[1], v.shape[2]
    dt = q.dtype
    bias, bias_index = _bias_args(bias, batch, n_q, n_k, dt)
    dbias = np.zeros((nb, n_q, n_k) if want_dbias else (0, 1, 1), dtype=dt)
    if n_k == 0 or n_q == 0:
        return np.zeros_like(q), np.zeros_like(k), np.zeros(v.shape, dtype=dt), \
            (dbias if want_dbias else None)
    # every row is written by its first tile (rows no query may see are zeroed there)
    dq, dk, dv = np.empty_like(q), np.empty_like(k), np.empty(v.shape, dtype=dt)
    kt, vt = k.transpose(0, 2, 1), v.transpose(0, 2, 1)
    sc, pd, sd = dt.type(scale), float(p_drop), np.uint64(seed)

    def work(lo: int, hi: int) -> None:
        for b0, b1, i0, i1, nc in _tiles(lo, hi, n_q, n_k, causal, dt.itemsize):
            qt, dot = q[b0:b1, i0:i1], do[b0:b1, i0:i1]
            s = np.matmul(qt, kt[b0:b1, :, :nc])
            dp = np.matmul(dot, vt[b0:b1, :, :nc])
            _backward_tile(s, dp, b0, i0, n_q, n_k, bias, bias_index, bool(causal), sc, pd, sd,
                           lse, o, do, dbias)
            np.matmul(dp, k[b0:b1, :nc], out=dq[b0:b1, i0:i1])
            if i0 == 0:  # the first tile of these rows writes, the others add
                np.matmul(s.transpose(0, 2, 1), dot, out=dv[b0:b1, :nc])
                np.matmul(dp.transpose(0, 2, 1), qt, out=dk[b0:b1, :nc])
                dv[b0:b1, nc:] = 0.0
                dk[b0:b1, nc:] = 0.0
            else:
                dv[b0:b1, :nc] += np.matmul(s.transpose(0, 2, 1), dot)
                dk[b0:b1, :nc] += np.matmul(dp.transpose(0, 2, 1), qt)

    _in_slices(nb, 5 * _flops(nb, n_q, n_k, e, max(e, ev), causal), work)
    return dq, dk, dv, (dbias if want_dbias else None)
