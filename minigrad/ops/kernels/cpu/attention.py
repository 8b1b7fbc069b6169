"""Scaled dot-product attention on the CPU: register-tiled matrix products around a Numba row
pass, in blocks of query rows; nothing of size (L, S) is kept between forward and backward.

For one batch row ``b`` (batch and heads flattened), queries ``q: (L, E)``, keys ``k: (S, E)``,
values ``v: (S, Ev)``, an additive ``bias`` (the float form of a mask) and a causal flag::

    s[i, j] = scale * q[i] . k[j] + bias[i, j]      (-inf where causal and j > i)
    p[i, j] = exp(s[i, j] - lse[i]),  lse[i] = log sum_j exp(s[i, j])
    o[i]    = sum_j drop[i, j] * p[i, j] * v[j]

Both passes walk blocks of query rows whose score block (rows, S) fills about ``CACHE_BYTES``, so
the row pass and the next products read what the first product wrote from cache. A block holds
whole rows of scores, so the softmax needs no running maximum or rescaling (as FlashAttention's
online softmax does for key blocks).

**Forward** (:func:`_forward_blocks`), per block: ``s = q_blk @ k.T``; one row pass (scale,
mask, maximum, ``exp`` with a float64 sum, normalisation, dropout); ``o_blk = p @ v``. It returns
the output and the per-row ``lse`` only. The blocks of all batch rows run in one parallel loop.

**Backward** (:func:`_backward_heads`, FlashAttention-2's formulas), per block: it recomputes
``s`` and ``dp = do_blk @ v.T``; one row pass forms ``p`` from ``lse`` and
``ds = p * (dp - D)`` with ``D[i] = do[i] . o[i]``; then ``dq_blk = scale * ds @ k``,
``dv += p.T @ do_blk`` and ``dk += scale * ds.T @ q_blk``. ``ds`` (which is d loss / d bias) is
written out when a float mask needs a gradient. Batch rows run in parallel, each one's blocks in
turn (they add into the same rows of dk and dv).

**Products.** Every product is a run of ``microkernels.matmul_tile`` calls (6 rows x 4 vectors of
sums held in registers with AVX-512) with the left operand read a value at a time, directly or
transposed, and the right one row-major: ``k`` and ``v`` transposed once per batch row
(``packing.transposed``, for ``q @ k.T`` and ``do @ v.T``), rows padded to whole vectors
(``packing.padded``) where a head width is not. The products are K = 64-deep for a typical head,
where NumPy's OpenBLAS ran at about half of one core's multiply-add peak and the tiles run near it;
and with no BLAS call inside, both threads stay in one Numba parallel region (OpenBLAS's workers,
which spin after each call, and Python threads around single-threaded BLAS calls shared the two
cores erratically). PyTorch's CPU flash-attention kernel has the same shape, MKL's GEMM between
vectorised softmax code.

Under a causal mask a block of queries ``i0..i1`` only needs keys ``0..i1``: blocks are then
shorter (see :func:`_rows_per_block`), their products stop at key ``i1``, and the row pass
touches each row's keys ``j <= i`` only (the rest of the row is set to 0, never ``exp(-inf)``:
the ``exp`` of a hugely negative number takes the CPU's slow subnormal path).

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
from numba import njit, prange

from minigrad.ops.kernels import api
from minigrad.ops.kernels.cpu._jit import kernel, of_dtype, wide_vectors
from minigrad.ops.kernels.cpu.f32math import exp_nonpos
from minigrad.ops.kernels.cpu.microkernels import LANES_BYTES, matmul_shape, matmul_tile
from minigrad.ops.kernels.cpu.packing import padded, transposed
from minigrad.ops.kernels.cpu.softmax import lane_dot, lane_max, lane_sum

__all__ = [*api.ATTENTION, "dropout_keep", "CACHE_BYTES", "CAUSAL_BLOCK"]

CACHE_BYTES = 1 << 20  # one block's scores (backward: each of its two; see _rows_per_block)
CAUSAL_BLOCK = 64  # fewest queries per block under a causal mask (see _rows_per_block)

_MKB, _MVB = matmul_shape()
_SHAPES = ((_MKB, _MVB), (_MKB, 1), (1, _MVB), (1, 1))
_MAIN, _COL, _ROW, _ONE = (matmul_tile(kb, vb) for kb, vb in _SHAPES)
_MAIN_ADD, _COL_ADD, _ROW_ADD, _ONE_ADD = (matmul_tile(kb, vb, add=True) for kb, vb in _SHAPES)

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


# The row passes, called inside the parallel block loops below (serial code of their own).
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
    one = of_dtype(1.0, p)
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
        factor = of_dtype(keep_scale / total, row)  # a float64 factor halves the vectors
        if p_drop > 0.0:
            _drop(live, b, i, n_q, n_k, p_drop, seed, factor)
        else:
            for c in range(n):
                live[c] *= factor


@njit(cache=True, nogil=True)
def _matmul(bm, b0, bstep, ntaps, a, a0, astep, apitch, c, c0, cpitch, rows, width, add):
    """``c[c0 + r*cpitch + j] (+)= sum_t a[a0 + r*apitch + t*astep] * bm[b0 + t*bstep + j]`` for
    ``r < rows``, ``j < width`` (a multiple of the vector length), in register tiles (see
    ``microkernels.matmul_tile``); ``add``: add to ``c`` instead of writing it. Flat arrays of
    one float dtype."""
    nl = LANES_BYTES // c.itemsize
    step = _MVB * nl
    r = 0
    while r < rows:
        tall = r + _MKB <= rows
        ar, cr = a0 + r * apitch, c0 + r * cpitch
        j = 0
        while j < width:
            wide = j + step <= width
            if tall and wide:
                if add:
                    _MAIN_ADD(bm, b0 + j, bstep, ntaps, a, ar, astep, apitch, c, cr + j, cpitch)
                else:
                    _MAIN(bm, b0 + j, bstep, ntaps, a, ar, astep, apitch, c, cr + j, cpitch)
            elif tall:
                if add:
                    _COL_ADD(bm, b0 + j, bstep, ntaps, a, ar, astep, apitch, c, cr + j, cpitch)
                else:
                    _COL(bm, b0 + j, bstep, ntaps, a, ar, astep, apitch, c, cr + j, cpitch)
            elif wide:
                if add:
                    _ROW_ADD(bm, b0 + j, bstep, ntaps, a, ar, astep, apitch, c, cr + j, cpitch)
                else:
                    _ROW(bm, b0 + j, bstep, ntaps, a, ar, astep, apitch, c, cr + j, cpitch)
            elif add:
                _ONE_ADD(bm, b0 + j, bstep, ntaps, a, ar, astep, apitch, c, cr + j, cpitch)
            else:
                _ONE(bm, b0 + j, bstep, ntaps, a, ar, astep, apitch, c, cr + j, cpitch)
            j += step if wide else nl
        r += _MKB if tall else 1


@kernel
def _forward_blocks(q, kt, vs, o, lse, bias, bias_index, causal, scale, p_drop, seed, rows):
    """The forward pass over blocks of ``rows`` queries of every batch row, in parallel.

    q: (B, L, E); kt: (B, E, Sp), the keys transposed by ``packing.transposed``; vs:
    (B, S, Evp), the values (Evp = Ev, a multiple of the vector length) or their padded copy;
    o: (B, L, Ev), lse: (B, L) written. Per block: scores ``q_blk @ kt`` in register tiles into
    a block of (rows, S) (S cut at the causal edge), :func:`_forward_rows`, then
    ``o_blk = p @ v`` in register tiles."""
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
        _matmul(ktf, b * e * sp, sp, e, qf, (b * n_q + i0) * e, 1, e, p, 0, width, nr, width,
                False)
        _forward_rows(p, width, nr, nc, b, i0, n_q, n_k, bias, bias_index, causal, scale,
                      p_drop, seed, lse)
        if evp == ev:
            _matmul(vf, b * n_k * ev, ev, nc, p, 0, 1, width, of, (b * n_q + i0) * ev, ev, nr, ev,
                    False)
        else:
            ob = np.empty(nr * evp, dtype=q.dtype)
            _matmul(vf, b * n_k * evp, evp, nc, p, 0, 1, width, ob, 0, evp, nr, evp, False)
            for r in range(nr):
                for c in range(ev):
                    o[b, i0 + r, c] = ob[r * evp + c]


@njit(**_OPTS)
def _backward_rows(s, dp, pitch, nr, nc, b, i0, n_q, n_k, bias, bias_index, causal, scale, p_drop,
                   seed, lse, o, do, dbias):
    """Raw scores s and dp = do_blk @ v.T of batch row ``b``, queries ``i0..i0+nr`` against keys
    ``0..nc`` (row r at ``[r*pitch:]``) -> s = dropped p (for dv), dp = scale * ds (for dq, dk);
    ds also written to dbias: (B, L, S) when it has rows. lse: (B, L); o, do: (B, L, Ev), the
    output and its gradient."""
    keep_scale = _keep_scale(p_drop)
    fused = dbias.shape[0] == 0  # ds itself is not wanted: scale it in the same loop
    one = of_dtype(1.0, s)
    bi = _bias_slice(bias, bias_index, b)
    for r in range(nr):
        wide_vectors()
        i = i0 + r
        li = lse[b, i]
        row, drow = s[r * pitch:r * pitch + nc], dp[r * pitch:r * pitch + nc]
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
        di = of_dtype(lane_dot(do[b, i], o[b, i]), row)
        if p_drop > 0.0:  # dp *= drop; ds = p * (dp - D); s = p * drop
            _drop(dlive, b, i, n_q, n_k, p_drop, seed, keep_scale)
        if fused:  # the same two roundings as the two loops below
            for c in range(n):
                dlive[c] = live[c] * (dlive[c] - di) * scale
        else:
            for c in range(n):
                dlive[c] = live[c] * (dlive[c] - di)
            out = dbias[b, i]
            for c in range(nc):
                out[c] = drow[c]
            for c in range(n):
                drow[c] *= scale
        if p_drop > 0.0:
            _drop(live, b, i, n_q, n_k, p_drop, seed, keep_scale)


@kernel
def _backward_heads(q, kt, vt, do, qp, kp, dop, o, lse, bias, bias_index, causal, scale, p_drop,
                    seed, rows, dq, dk, dv, dbias):
    """The backward pass over every batch row, in parallel; its blocks of ``rows`` queries in
    turn (they add into the same dk, dv rows).

    q: (B, L, E), do: (B, L, Ev) (read a value at a time); kt: (B, E, Sp), vt: (B, Ev, Sp),
    the keys and values transposed by ``packing.transposed``; qp: (B, L, Ep), kp: (B, S, Ep),
    dop: (B, L, Evp): q, k and do with rows padded to whole vectors (the arrays themselves when
    they are); dq: (B, L, Ep), dk: (B, S, Ep), dv: (B, S, Evp) written, dk and dv zeroed by
    the caller. Per block: ``s = q_blk @ k.T`` and ``dp = do_blk @ v.T``,
    :func:`_backward_rows`, then ``dq_blk = ds @ k``, ``dv += p.T @ do_blk``,
    ``dk += ds.T @ q_blk``, all in register tiles."""
    nb, n_q, e = q.shape
    ev, sp = do.shape[2], kt.shape[2]
    n_k, ep, evp = kp.shape[1], kp.shape[2], dop.shape[2]
    nl = LANES_BYTES // q.itemsize
    qf, ktf, vtf, dof = q.ravel(), kt.ravel(), vt.ravel(), do.ravel()
    qpf, kpf, dopf = qp.ravel(), kp.ravel(), dop.ravel()
    dqf, dkf, dvf = dq.ravel(), dk.ravel(), dv.ravel()
    for b in prange(nb):
        s = np.empty(rows * sp, dtype=q.dtype)
        dp = np.empty(rows * sp, dtype=q.dtype)
        for i0 in range(0, n_q, rows):
            nr = min(rows, n_q - i0)
            nc = min(n_k, i0 + nr) if causal else n_k
            w = (nc + nl - 1) // nl * nl
            _matmul(ktf, b * e * sp, sp, e, qf, (b * n_q + i0) * e, 1, e, s, 0, w, nr, w, False)
            _matmul(vtf, b * ev * sp, sp, ev, dof, (b * n_q + i0) * ev, 1, ev, dp, 0, w, nr, w,
                    False)
            _backward_rows(s, dp, w, nr, nc, b, i0, n_q, n_k, bias, bias_index, causal, scale,
                           p_drop, seed, lse, o, do, dbias)
            _matmul(kpf, b * n_k * ep, ep, nc, dp, 0, 1, w, dqf, (b * n_q + i0) * ep, ep, nr, ep,
                    False)
            # p.T and ds.T: A read down the block's columns (a step of w between taps)
            _matmul(dopf, (b * n_q + i0) * evp, evp, nr, s, 0, w, 1, dvf, b * n_k * evp, evp, nc,
                    evp, True)
            _matmul(qpf, (b * n_q + i0) * ep, ep, nr, dp, 0, w, 1, dkf, b * n_k * ep, ep, nc, ep,
                    True)


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


def _rows_per_block(nb: int, n_q: int, n_k: int, causal: bool, itemsize: int,
                    spread: bool) -> int:
    """Queries per block: a score block of about ``CACHE_BYTES``, at most
    max(``CAUSAL_BLOCK``, L / 4) under a causal mask (shorter blocks skip more of the masked
    half but make smaller products: 64 rows measured best at L = 128, 128 at L = 512, with the
    earlier BLAS products; the tiled kernels have not been re-tuned), and, with
    ``spread``, at least 8 blocks in all where that leaves 16 queries per block (work for both
    threads when B is small; the forward's blocks run in parallel, the backward's batch rows)."""
    rows = max(1, min(n_q, CACHE_BYTES // max(1, n_k * itemsize)))
    if causal:
        rows = min(rows, max(CAUSAL_BLOCK, n_q // 4))
    if spread and nb * -(-n_q // rows) < 8:
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
    rows = _rows_per_block(nb, n_q, n_k, causal, dt.itemsize, True)
    _forward_blocks(q, transposed(k), padded(v), o, lse, bias, bias_index, bool(causal),
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
    if n_k == 0 or n_q == 0 or nb == 0:
        return np.zeros_like(q), np.zeros_like(k), np.zeros(v.shape, dtype=dt), \
            (dbias if want_dbias else None)
    qp, kp, dop = padded(q), padded(k), padded(do)
    dq = np.empty(qp.shape, dtype=dt)  # every row is written by its block
    dk, dv = np.zeros(kp.shape, dtype=dt), np.zeros((nb, n_k, dop.shape[2]), dtype=dt)
    rows = _rows_per_block(nb, n_q, n_k, causal, dt.itemsize, False)
    _backward_heads(q, transposed(k), transposed(v), do, qp, kp, dop, o, lse, bias, bias_index,
                    bool(causal), dt.type(scale), float(p_drop), np.uint64(seed), rows, dq, dk,
                    dv, dbias)
    if e != dq.shape[2]:
        dq, dk = np.ascontiguousarray(dq[:, :, :e]), np.ascontiguousarray(dk[:, :, :e])
    if ev != dv.shape[2]:
        dv = np.ascontiguousarray(dv[:, :, :ev])
    return dq, dk, dv, (dbias if want_dbias else None)
