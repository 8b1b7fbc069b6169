"""Scaled dot-product attention on the CPU: BLAS products around one Numba softmax kernel, in
tiles of query rows; nothing of size (L, S) is kept between forward and backward.

For one batch row ``b`` (batch and heads flattened), queries ``q: (L, E)``, keys ``k: (S, E)``,
values ``v: (S, Ev)``, an additive ``bias`` (the float form of a mask) and a causal flag::

    s[i, j] = scale * q[i] . k[j] + bias[i, j]      (-inf where causal and j > i)
    p[i, j] = exp(s[i, j] - lse[i]),  lse[i] = log sum_j exp(s[i, j])
    o[i]    = sum_j drop[i, j] * p[i, j] * v[j]

Both passes walk tiles of query rows (several batch rows at once when L is small) whose score
block (rows, S) fills about ``CACHE_BYTES``, so the kernel and the second product read what the
first product wrote from cache. Each tile holds whole rows of scores, so the softmax needs no
running maximum or rescaling (as FlashAttention's online softmax does for key blocks). Forward
per tile: ``s = q_tile @ k.T`` by BLAS, one Numba pass per row (scale, mask, maximum; ``exp`` and
float64 sum; normalise, dropout), ``o_tile = p @ v`` by BLAS. It returns the output and the
per-row ``lse`` only. Backward (FlashAttention-2's formulas) recomputes per tile the scores and
``dp = do_tile @ v.T`` by BLAS, then one kernel forms ``p`` from ``lse`` and
``ds = p * (dp - D)`` with ``D[i] = do[i] . o[i]``, then ``dv += p.T @ do_tile``,
``dk += scale * ds.T @ q_tile`` and ``dq_tile = scale * ds @ k`` by BLAS; ``ds`` (which is
d loss / d bias) is written out when a float mask needs a gradient.

Under a causal mask a tile of queries ``i0..i1`` only needs keys ``0..i1``: tiles are then
shorter (see :func:`_tiles`), their products stop at key ``i1``, and the kernel touches each
row's keys ``j <= i`` only (the rest of the row is set to 0, never ``exp(-inf)``: the ``exp``
of a hugely negative number takes the CPU's slow subnormal path).

The products go to NumPy's BLAS: a Numba loop nest reached a third of its speed, and Numba can
call BLAS only through SciPy, which minigrad does not require. PyTorch's CPU flash-attention
kernel is built the same way (its ``cpublas::gemm`` between vectorised softmax code).

Threads: the batch rows are split over OpenBLAS's thread count with ``conv_split.split`` (each
thread runs its rows' tiles with a single-threaded BLAS and the kernels, which release the GIL).

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
from numba import njit, types
from numba.extending import overload

from minigrad.ops.kernels import api
from minigrad.ops.kernels.cpu import conv_split
from minigrad.ops.kernels.cpu._jit import wide_vectors
from minigrad.ops.kernels.cpu.f32math import exp_nonpos
from minigrad.ops.kernels.cpu.softmax import lane_dot, lane_max, lane_sum

__all__ = [*api.ATTENTION, "dropout_keep", "CACHE_BYTES", "CAUSAL_BLOCK"]

CACHE_BYTES = 1 << 20  # one tile's score block (backward: each of its two; see _tiles)
CAUSAL_BLOCK = 64  # fewest queries per tile under a causal mask (see _tiles)

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
def _forward_tile(s, b0, i0, n_q, n_k, bias, bias_index, causal, scale, p_drop, seed, lse):
    """Raw scores s: (B, R, nc) of batch rows b0.., queries i0.. and keys 0.. -> (dropped)
    probabilities in place; lse: (B_all, L) written for those rows.

    The ``exp`` loop sits in the row loop itself, outside any branch, and the masked path's
    loops outside it (see :func:`_scores`)."""
    nb, nr, nc = s.shape
    keep_scale = _keep_scale(p_drop)
    # Without a mask and for scale > 0 the maximum of the raw row is scaled and the scale goes
    # into the exponent's FMA: one pass fewer. Otherwise the row is rewritten as scale * row +
    # bias and the factor is 1. Both have the row's dtype: a float64 one would turn a float32
    # row's exp into libm's, unvectorised.
    plain = bias.shape[0] == 0 and scale > 0
    one = _of_dtype(1.0, s)
    for b in range(nb):
        bi = _bias_slice(bias, bias_index, b0 + b)
        for r in range(nr):
            wide_vectors()
            i = i0 + r
            row = s[b, r]
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
                lse[b0 + b, i] = -np.inf
                continue
            for c in range(n):
                live[c] = exp_nonpos(live[c] * a - m)
            total = lane_sum(live)
            lse[b0 + b, i] = m + math.log(total)
            factor = _of_dtype(keep_scale / total, row)  # a float64 factor halves the vectors
            if p_drop > 0.0:
                _drop(live, b0 + b, i, n_q, n_k, p_drop, seed, factor)
            else:
                for c in range(n):
                    live[c] *= factor


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
    if n_k == 0:
        return np.zeros((nb, n_q, ev), dtype=dt), lse
    o = np.empty((nb, n_q, ev), dtype=dt)  # every row is written by its tile
    kt = k.transpose(0, 2, 1)
    sc, pd, sd = dt.type(scale), float(p_drop), np.uint64(seed)

    def work(lo: int, hi: int) -> None:
        for b0, b1, i0, i1, nc in _tiles(lo, hi, n_q, n_k, causal, dt.itemsize):
            s = np.matmul(q[b0:b1, i0:i1], kt[b0:b1, :, :nc])
            _forward_tile(s, b0, i0, n_q, n_k, bias, bias_index, bool(causal), sc, pd, sd, lse)
            np.matmul(s, v[b0:b1, :nc], out=o[b0:b1, i0:i1])

    _in_slices(nb, 2 * _flops(nb, n_q, n_k, e, ev, causal), work)
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
