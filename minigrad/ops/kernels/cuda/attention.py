"""Scaled dot-product attention on the GPU: the same functions and results as
``kernels/cpu/attention.py``, written as device-array operations (batched matmul, ``exp``,
row max and sum on ``CudaArray``), each of which runs as a numba.cuda kernel.

Unlike the CPU kernel this path materialises the (B, L, S) scores and probabilities (in forward
and again in backward, never kept between them: backward recomputes them from the saved
``lse``); a fused blockwise numba.cuda kernel is future work. The dropout mask is the CPU
kernel's counter-based hash, computed on the host (:func:`minigrad.ops.kernels.cpu.attention.
dropout_keep`) and copied over, so both devices drop the same entries.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minigrad import _device
from minigrad.ops.kernels import api
from minigrad.ops.kernels.cpu.attention import dropout_keep

__all__ = list(api.ATTENTION)


def _full_bias(bias: Any, batch: tuple[int, ...], n_q: int, n_k: int) -> Any:
    """The mask ``bias`` (broadcastable to ``(*batch, L, S)``) as a (B, L, S) device array."""
    nb = int(np.prod(batch, dtype=np.int64))
    shape = (1,) * (len(batch) + 2 - bias.ndim) + tuple(bias.shape)
    return np.broadcast_to(bias.reshape(shape), (*batch, n_q, n_k)).reshape(nb, n_q, n_k)


def _probabilities(q: Any, k: Any, bias: Any, batch: tuple[int, ...], causal: bool,
                   scale: float, lse: Any = None) -> tuple[Any, Any]:
    """(p, lse): p: (B, L, S) softmax of the masked scores (0 on rows with no key), recomputed
    from ``lse`` when given."""
    n_q, n_k = q.shape[1], k.shape[1]
    s = np.matmul(q, k.swapaxes(1, 2)) * q.dtype.type(scale)
    if bias is not None:
        s = s + _full_bias(bias, batch, n_q, n_k)
    if causal:
        below = _device.asarray(np.tril(np.ones((n_q, n_k), dtype=bool)), like=q)
        s = np.where(below, s, -np.inf)
    if lse is None:
        m = s.max(axis=2, keepdims=True) if n_k else _device.full((*s.shape[:2], 1), -np.inf,
                                                                     q.dtype, like=q)
        dead = m == -np.inf
        e = np.exp(s - np.where(dead, 0.0, m).astype(q.dtype))
        total = e.sum(axis=2, keepdims=True)
        p = e / np.where(dead, 1.0, total).astype(q.dtype)
        lse = np.where(dead, -np.inf, m + np.log(np.where(dead, 1.0, total))).astype(q.dtype)
        return p, lse.reshape(lse.shape[:2])
    li = lse.reshape(*lse.shape, 1)
    dead = li == -np.inf
    return np.where(dead, 0.0, np.exp(s - np.where(dead, 0.0, li))).astype(q.dtype), lse


def _keep(q: Any, shape: tuple[int, int, int], p_drop: float, seed: int) -> Any:
    scale = 1.0 / (1.0 - p_drop) if p_drop < 1.0 else 0.0
    host = dropout_keep(seed, shape, p_drop).astype(q.dtype) * q.dtype.type(scale)
    return _device.asarray(host, like=q)


def sdpa_forward(q: Any, k: Any, v: Any, bias: Any, batch: tuple[int, ...], causal: bool,
                 scale: float, p_drop: float, seed: int) -> tuple[Any, Any]:
    """As ``kernels.cpu.attention.sdpa_forward``: (o: (B, L, Ev), lse: (B, L))."""
    p, lse = _probabilities(q, k, bias, batch, causal, scale)
    if p_drop > 0.0:
        p = p * _keep(q, p.shape, p_drop, seed)
    return np.matmul(p, v), lse


def sdpa_backward(q: Any, k: Any, v: Any, bias: Any, batch: tuple[int, ...], causal: bool,
                  scale: float, p_drop: float, seed: int, o: Any, lse: Any, do: Any,
                  want_dbias: bool) -> tuple[Any, Any, Any, Any]:
    """As ``kernels.cpu.attention.sdpa_backward``: (dq, dk, dv, dbias: (B, L, S) or None)."""
    p, _ = _probabilities(q, k, bias, batch, causal, scale, lse)
    dp = np.matmul(do, v.swapaxes(1, 2))
    if p_drop > 0.0:
        keep = _keep(q, p.shape, p_drop, seed)
        dp = dp * keep
        pd = p * keep
    else:
        pd = p
    delta = (do * o).sum(axis=2, keepdims=True)
    ds = p * (dp - delta)
    sc = q.dtype.type(scale)
    dq = np.matmul(ds, k) * sc
    dk = np.matmul(ds.swapaxes(1, 2), q) * sc
    dv = np.matmul(pd.swapaxes(1, 2), do)
    return dq, dk, dv, (ds if want_dbias else None)
