"""Scaled dot-product attention, FlashAttention style: one pass over blocks of keys with an
online softmax; nothing of size (L, S) is kept between forward and backward.

For one batch row ``b`` (batch and heads flattened), queries ``q: (L, E)``, keys ``k: (S, E)``,
values ``v: (S, Ev)``, an additive ``bias`` (the float form of a mask) and a causal flag::

    s[i, j] = scale * q[i] . k[j] + bias[i, j]      (-inf where causal and j > i)
    p[i, j] = exp(s[i, j] - lse[i]),  lse[i] = log sum_j exp(s[i, j])
    o[i]    = sum_j drop[i, j] * p[i, j] * v[j]

Forward walks the keys in blocks of ``BLOCK``. Per block, one BLAS product gives the block's raw
scores for every query, one Numba kernel turns them into probabilities against
the running row maximum ``m`` and updates the running sum ``l`` (float64), rescaling the partial
output by ``exp(m_old - m_new)`` when the maximum grew (Milakov and Gimelshein 2018; Dao et al.
2022), and a second BLAS product adds ``p @ v_block`` to the partial output. It returns the output
and the per-row ``lse`` only: backward recomputes ``p`` block by block from it. Under a causal
mask a key block starting at ``j0`` is computed for the queries ``i >= j0`` only.

Backward (FlashAttention-2's formulas), per key block: the scores and ``dp = do @ v_block.T`` by
BLAS, then one Numba kernel forms ``p`` and ``ds = p * (dp - D)`` with ``D[i] = do[i] . o[i]``,
then ``dv_block = p.T @ do``, ``dk_block = scale * ds.T @ q`` and ``dq += scale * ds @ k_block``
by BLAS; ``ds`` (which is d loss / d bias) is written out when a float mask needs a gradient.

The two matrix products per block go to NumPy's BLAS: a Numba loop nest reached a third of its
speed (16-32 GFLOP/s against 90 on one core of the development machine), and Numba can call BLAS
only through SciPy, which minigrad does not require. PyTorch's CPU flash-attention kernel is
built the same way (its ``cpublas::gemm`` between vectorised softmax code).

Threads: the batch rows are split over OpenBLAS's thread count with ``conv_split.split`` (each
thread runs its rows' products with a single-threaded BLAS and the kernels, which release the
GIL), and each thread walks its rows in slices whose score blocks fit in about ``CACHE_BYTES``,
so the kernel and the second product read what the first product wrote from cache.

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
from numba import njit

from minigrad.ops.kernels import api
from minigrad.ops.kernels.cpu import conv_split
from minigrad.ops.kernels.cpu._jit import wide_vectors
from minigrad.ops.kernels.cpu.f32math import exp_nonpos
from minigrad.ops.kernels.cpu.softmax import lane_max, lane_sum

__all__ = [*api.ATTENTION, "dropout_keep", "BLOCK", "CACHE_BYTES"]

BLOCK = 128  # keys per block
CACHE_BYTES = 1 << 19  # score blocks per batch slice (see _cache_sized)

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


@njit(cache=True, inline="always", error_model="numpy")
def _scores(row, i, j0, bias, bi, causal, scale):
    """row[c] <- scale * row[c] + bias[bi, i, j0 + c], -inf where causal and j0 + c > i."""
    nc = row.size
    if bias.shape[0] > 0:
        for c in range(nc):
            row[c] = row[c] * scale + bias[bi, i, j0 + c]
    else:
        for c in range(nc):
            row[c] = row[c] * scale
    if causal:
        for c in range(max(0, i + 1 - j0), nc):
            row[c] = -np.inf


@njit(cache=True, inline="always", error_model="numpy")
def _drop(row, b, i, j0, n_q, n_k, p_drop, seed, factor):
    """row[c] *= factor where (b, i, j0 + c) is kept by dropout, else 0."""
    base = (b * n_q + i) * n_k + j0
    for c in range(row.size):
        keep = _uniform(seed, np.uint64(base + c)) >= p_drop
        row[c] = row[c] * factor if keep else 0.0


# Serial kernels that release the GIL: the batch is split over threads around them (see
# _in_slices), each thread running its slice's BLAS products and kernels.
_OPTS = dict(cache=True, nogil=True, error_model="numpy", fastmath={"contract"})


@njit(**_OPTS)
def _forward_block(s, b0, i_lo, j0, n_q, n_k, bias, bias_index, causal, scale, p_drop, seed,
                   m, lsum, acc, normalise):
    """Scores s: (B, R, nc) of batch rows b0.., queries i_lo.. and keys j0.. -> (dropped)
    probabilities in place, with m, lsum: (B, L) updated and acc: (B, L, Ev) rescaled;
    ``normalise`` (the only block): divide by the sum instead."""
    nb, nr, nc = s.shape
    keep_scale = 1.0 / (1.0 - p_drop) if p_drop < 1.0 else 0.0
    for b in range(nb):
        bi = bias_index[b0 + b] if bias.shape[0] > 0 else 0
        for r in range(nr):
            wide_vectors()
            i = i_lo + r
            row = s[b, r]
            _scores(row, i, j0, bias, bi, causal, scale)
            m_old = m[b, i]
            m_new = max(m_old, lane_max(row)) if nc else m_old
            if m_new == -np.inf:  # every key so far is masked for this row
                for c in range(nc):
                    row[c] = 0.0
                continue
            for c in range(nc):
                row[c] = exp_nonpos(row[c] - m_new)
            total = lane_sum(row)
            alpha = math.exp(m_old - m_new)
            lsum[b, i] = lsum[b, i] * alpha + total
            m[b, i] = m_new
            factor = keep_scale
            if normalise:
                factor /= total
            elif alpha != 1.0:
                a = acc[b, i]
                for e in range(a.size):
                    a[e] *= alpha
            if p_drop > 0.0:
                _drop(row, b0 + b, i, j0, n_q, n_k, p_drop, seed, factor)
            elif factor != 1.0:
                for c in range(nc):
                    row[c] *= factor


@njit(**_OPTS)
def _finish(acc, m, lsum, lse):
    """acc /= lsum per row; lse = m + log(lsum) (-inf and a zero row where lsum is 0)."""
    nb, n_q, _ = acc.shape
    for b in range(nb):
        for i in range(n_q):
            a = acc[b, i]
            if lsum[b, i] > 0.0:
                inv = 1.0 / lsum[b, i]
                for e in range(a.size):
                    a[e] *= inv
                lse[b, i] = m[b, i] + math.log(lsum[b, i])
            else:
                for e in range(a.size):
                    a[e] = 0.0
                lse[b, i] = -np.inf


@njit(**_OPTS)
def _backward_block(s, dp, b0, i_lo, j0, n_q, n_k, bias, bias_index, causal, scale, p_drop,
                    seed, lse, delta, dbias):
    """s: raw scores, dp: do @ v_block.T, both (B, R, nc) -> s = dropped p (for dv),
    dp = scale * ds (for dq, dk); ds also written to dbias: (B, L, S) when it has rows."""
    nb, nr, nc = s.shape
    keep_scale = 1.0 / (1.0 - p_drop) if p_drop < 1.0 else 0.0
    for b in range(nb):
        bi = bias_index[b0 + b] if bias.shape[0] > 0 else 0
        for r in range(nr):
            wide_vectors()
            i = i_lo + r
            row = s[b, r]
            drow = dp[b, r]
            li = lse[b, i]
            if li == -np.inf:
                for c in range(nc):
                    row[c] = 0.0
                    drow[c] = 0.0
            else:
                _scores(row, i, j0, bias, bi, causal, scale)
                for c in range(nc):
                    row[c] = exp_nonpos(row[c] - li)
                di = delta[b, i]
                if p_drop > 0.0:  # dp *= drop; ds = p * (dp - D); s = p * drop
                    _drop(drow, b0 + b, i, j0, n_q, n_k, p_drop, seed, keep_scale)
                    for c in range(nc):
                        drow[c] = row[c] * (drow[c] - di)
                    _drop(row, b0 + b, i, j0, n_q, n_k, p_drop, seed, keep_scale)
                else:
                    for c in range(nc):
                        drow[c] = row[c] * (drow[c] - di)
            if dbias.shape[0] > 0:
                for c in range(nc):
                    dbias[b, i, j0 + c] = drow[c]
            for c in range(nc):
                drow[c] *= scale


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


def _blocks(n_k: int, causal: bool):
    """(j0, j1, i_lo) per key block: under a causal mask, queries before j0 see none of it."""
    for j0 in range(0, n_k, BLOCK):
        yield j0, min(j0 + BLOCK, n_k), (j0 if causal else 0)


def _in_slices(nb: int, flops: int, work) -> None:
    """Run ``work(b_lo, b_hi)`` over slices of the batch, in threads when it pays (chunks of
    at least the conv's splitting threshold)."""
    chunks = max(1, min(nb, flops // conv_split.SPLIT_FLOPS))
    conv_split.split(chunks, lambda lo, hi: work(nb * lo // chunks, nb * hi // chunks),
                     flops // chunks * chunks)


def _cache_sized(lo: int, hi: int, row_bytes: int):
    """Sub-slices of batch rows lo..hi whose score blocks (``row_bytes`` per row) fill about
    ``CACHE_BYTES``: the BLAS product writes them, the kernel and the next product read them
    back from cache."""
    step = max(1, CACHE_BYTES // max(1, row_bytes))
    for b0 in range(lo, hi, step):
        yield b0, min(b0 + step, hi)


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
    o = np.zeros((nb, n_q, ev), dtype=dt)
    lse = np.empty((nb, n_q), dtype=dt)
    kt = k.transpose(0, 2, 1)
    sc, pd, sd = dt.type(scale), float(p_drop), np.uint64(seed)
    one_block = n_k <= BLOCK  # normalise in place, no running output

    def work(lo: int, hi: int) -> None:
        for b0, b1 in _cache_sized(lo, hi, n_q * min(n_k, BLOCK) * dt.itemsize):
            m = np.full((b1 - b0, n_q), -np.inf, dtype=dt)
            lsum = np.zeros((b1 - b0, n_q))
            acc = o[b0:b1]
            for j0, j1, i_lo in _blocks(n_k, causal):
                s = np.matmul(q[b0:b1, i_lo:], kt[b0:b1, :, j0:j1])
                _forward_block(s, b0, i_lo, j0, n_q, n_k, bias, bias_index, bool(causal), sc,
                               pd, sd, m, lsum, acc, one_block)
                if one_block:
                    np.matmul(s, v[b0:b1], out=acc)
                else:
                    acc[:, i_lo:] += np.matmul(s, v[b0:b1, j0:j1])
            if one_block:
                with np.errstate(divide="ignore"):
                    lse[b0:b1] = m + np.log(lsum)
            else:
                _finish(acc, m, lsum, lse[b0:b1])

    _in_slices(nb, 4 * nb * n_q * n_k * (e + ev) // (2 if causal else 1), work)
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
    dq = np.zeros_like(q)
    dk = np.zeros_like(k)
    dv = np.zeros(v.shape, dtype=dt)
    dbias = np.zeros((nb, n_q, n_k) if want_dbias else (0, 1, 1), dtype=dt)
    kt, vt = k.transpose(0, 2, 1), v.transpose(0, 2, 1)
    sc, pd, sd = dt.type(scale), float(p_drop), np.uint64(seed)

    def work(lo: int, hi: int) -> None:
        for b0, b1 in _cache_sized(lo, hi, 2 * n_q * min(n_k, BLOCK) * dt.itemsize):
            delta = np.einsum("ble,ble->bl", do[b0:b1], o[b0:b1])
            db = dbias[b0:b1] if want_dbias else dbias
            for j0, j1, i_lo in _blocks(n_k, causal):
                qb, dob = q[b0:b1, i_lo:], do[b0:b1, i_lo:]
                s = np.matmul(qb, kt[b0:b1, :, j0:j1])
                dp = np.matmul(dob, vt[b0:b1, :, j0:j1])
                _backward_block(s, dp, b0, i_lo, j0, n_q, n_k, bias, bias_index, bool(causal),
                                sc, pd, sd, lse[b0:b1], delta, db)
                np.matmul(s.transpose(0, 2, 1), dob, out=dv[b0:b1, j0:j1])
                np.matmul(dp.transpose(0, 2, 1), qb, out=dk[b0:b1, j0:j1])
                dq[b0:b1, i_lo:] += np.matmul(dp, k[b0:b1, j0:j1])

    _in_slices(nb, 10 * nb * n_q * n_k * max(e, ev) // (2 if causal else 1), work)
    return dq, dk, dv, (dbias if want_dbias else None)
