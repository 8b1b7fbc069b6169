"""Scaled dot-product attention (PyTorch's ``F.scaled_dot_product_attention``).

    query: (..., L, E)   key: (..., S, E)   value: (..., S, Ev)   ->   (..., L, Ev)
    out = dropout(softmax(query @ key.T * scale + mask)) @ value

The leading (batch, head) axes broadcast. ``attn_mask`` is a bool mask (True: may attend) or a
float mask added to the scores, broadcastable to (..., L, S); ``is_causal`` lets query ``i`` see
keys ``j <= i`` (top left aligned, as PyTorch). A query row that may attend to no key gives 0
(PyTorch's CPU kernel does the same).

:class:`ScaledDotProductAttentionFn` runs the fused kernel
(:mod:`minigrad.ops.kernels.cpu.attention`: BLAS products and a Numba softmax over tiles of
query rows, only the per-row log-sum-exp saved) forward and backward. Its backward is the
fused backward kernel; under ``create_graph=True`` it is instead the unfused formulas written
with Tensor ops (they recompute the (L, S) probabilities), so attention can be differentiated
twice and more.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from minigrad import _device
from minigrad import random as mg_random
from minigrad.autograd import Function, is_grad_enabled
from minigrad.ops._args import float_tensor, probability, real
from minigrad.ops.elementwise import broadcast_shape, where
from minigrad.ops.kernels import kernels_for
from minigrad.ops.kernels.cpu.attention import dropout_keep
from minigrad.ops.softmax import softmax
from minigrad.tensor import Tensor

__all__ = ["scaled_dot_product_attention", "attention_probabilities",
           "ScaledDotProductAttentionFn"]

_OP = "scaled_dot_product_attention"


def _contiguous(a: Any) -> Any:
    return a if _device.is_cuda(a) else np.ascontiguousarray(a)


def _sum_to_shape(a: Any, shape: tuple[int, ...]) -> Any:
    """Sum ``a`` over the axes that ``shape`` (right-aligned) broadcasts; reshape to ``shape``."""
    lead = a.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape)
                                       if n == 1 and a.shape[lead + i] != 1)
    return (a.sum(axis=axes) if axes else a).reshape(shape)


def _expand_bias(mask: Tensor, batch: tuple[int, ...], n_q: int, n_k: int) -> Tensor:
    """A mask broadcastable to ``(*batch, L, S)`` as a (B, L, S) Tensor (in the graph)."""
    shape = (1,) * (len(batch) + 2 - mask.ndim) + mask.shape
    nb = int(np.prod(batch, dtype=np.int64))
    return mask.reshape(shape).expand(*batch, n_q, n_k).reshape(nb, n_q, n_k)


def attention_probabilities(q: Tensor, k: Tensor, bias: Tensor | None, causal: bool,
                            scale: float) -> Tensor:
    """softmax(q @ k.T * scale + bias) over the keys, with Tensor ops (differentiable to any
    order). q: (B, L, E), k: (B, S, E), bias: None or broadcastable to (B, L, S) (additive,
    -inf where masked). Returns (B, L, S); a row with no key allowed is all zeros."""
    s = (q @ k.swapaxes(-1, -2)) * scale
    if bias is not None:
        s = s + bias
    allowed = s.data > -np.inf
    if causal:
        n_q, n_k = s.shape[-2:]
        allowed = allowed & _device.asarray(np.tril(np.ones((n_q, n_k), dtype=bool)),
                                            like=s.data)
    alive = allowed.any(axis=-1, keepdims=True)
    s = where(Tensor._make(allowed), s, -np.inf)
    if not bool(alive.all()):
        s = where(Tensor._make(_device.wrap(alive)), s, 0.0)
        return softmax(s, -1) * Tensor._make(_device.wrap(alive).astype(s.dtype))
    return softmax(s, -1)


class ScaledDotProductAttentionFn(Function):
    """out: (B, L, Ev) = attention of q: (B, L, E), k: (B, S, E), v: (B, S, Ev) with an additive
    ``bias`` Tensor broadcastable to ``(*batch, L, S)`` (or None; B = prod(batch))."""

    kinks = ("none: smooth in query, key, value and a float mask; a query row with every key "
             "masked is the constant 0 (gradient 0)")

    @staticmethod
    def forward(ctx, q, k, v, bias, *, batch, causal, scale, p_drop, seed):
        qa, ka, va = (_contiguous(t.data) for t in (q, k, v))
        ba = None if bias is None else bias.data
        o, lse = kernels_for(qa).attention.sdpa_forward(qa, ka, va, ba, batch, causal, scale,
                                                        p_drop, seed)
        ctx.save_for_backward(q, k, v, bias, o, lse)
        ctx.args = (batch, causal, scale, p_drop, seed)
        return o

    @staticmethod
    def backward(ctx, g):
        q, k, v, bias, o, lse = ctx.saved_tensors
        if is_grad_enabled():  # create_graph=True: formulas that can be differentiated again
            return _differentiable_backward(ctx, q, k, v, bias, g)
        batch, causal, scale, p_drop, seed = ctx.args
        need = ctx.needs_input_grad
        qa, ka, va, ga = (_contiguous(t.data) for t in (q, k, v, g))
        dq, dk, dv, dbias = kernels_for(qa).attention.sdpa_backward(
            qa, ka, va, None if bias is None else bias.data, batch, causal, scale, p_drop, seed,
            o.data, lse.data, ga, bool(need[3]))
        out = [Tensor._make(a) if n else None for a, n in zip((dq, dk, dv), need)]
        if need[3]:
            full = dbias.reshape(*batch, *dbias.shape[1:])
            shape = (1,) * (full.ndim - bias.ndim) + bias.shape
            out.append(Tensor._make(_sum_to_shape(full, shape).reshape(bias.shape)))
        else:
            out.append(None)
        return tuple(out)


def _differentiable_backward(ctx: Function, q: Tensor, k: Tensor, v: Tensor,
                             bias: Tensor | None, g: Tensor) -> tuple[Tensor | None, ...]:
    """The first-order gradients as Tensor ops (recomputing the (B, L, S) probabilities)."""
    batch, causal, scale, p_drop, seed = ctx.args
    need = ctx.needs_input_grad
    n_q, n_k = q.shape[1], k.shape[1]
    b3 = None if bias is None else _expand_bias(bias, batch, n_q, n_k)
    p = attention_probabilities(q, k, b3, causal, scale)
    keep = None
    if p_drop > 0.0:
        factor = 1.0 / (1.0 - p_drop) if p_drop < 1.0 else 0.0
        host = dropout_keep(seed, p.shape, p_drop).astype(q.dtype) * q.dtype.type(factor)
        keep = Tensor._make(_device.asarray(host, like=q.data))
    pd = p if keep is None else p * keep
    dv = pd.swapaxes(-1, -2) @ g if need[2] else None
    dp = g @ v.swapaxes(-1, -2)
    if keep is not None:
        dp = dp * keep
    ds = p * (dp - (dp * p).sum(axis=-1, keepdims=True))
    dq = (ds @ k) * scale if need[0] else None
    dk = (ds.swapaxes(-1, -2) @ q) * scale if need[1] else None
    dbias = None
    if need[3]:
        full = ds.reshape(*batch, n_q, n_k)
        dbias = full.sum_to((1,) * (full.ndim - bias.ndim) + bias.shape).reshape(bias.shape)
    return dq, dk, dv, dbias


def _as_bias(mask: Any, q: Tensor, batch: tuple[int, ...], n_q: int, n_k: int) -> Tensor | None:
    """``attn_mask`` checked and in additive form: a bool mask becomes a constant 0 / -inf."""
    if mask is None:
        return None
    if not isinstance(mask, Tensor):
        raise TypeError(f"{_OP}: attn_mask must be a Tensor or None, got {type(mask).__name__}")
    if mask.dtype != np.bool_ and mask.dtype != q.dtype:
        raise TypeError(f"{_OP}: attn_mask must be bool or have the query's dtype {q.dtype}, "
                        f"got {mask.dtype}")
    want = (*batch, n_q, n_k)
    try:
        ok = np.broadcast_shapes(mask.shape, want) == want
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"{_OP}: attn_mask of shape {mask.shape} does not broadcast to the "
                         f"attention shape (*batch, L, S) = {want}")
    if mask.dtype == np.bool_:
        zero = _device.zeros(mask.shape, q.dtype, like=mask.data)
        return Tensor._make(np.where(mask.data, zero, q.dtype.type(-np.inf)))
    return mask


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor,
                                 attn_mask: Tensor | None = None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False, *,
                                 generator: np.random.Generator | None = None) -> Tensor:
    """Attention of ``query`` over ``key``/``value``, PyTorch's semantics.

    query: (..., L, E), key: (..., S, E), value: (..., S, Ev) -> (..., L, Ev); leading axes
    broadcast. ``attn_mask``: bool (True: may attend) or a float mask of the query's dtype added
    to the scores (differentiable), broadcastable to (..., L, S). ``is_causal``: query ``i``
    attends keys ``j <= i`` (not together with ``attn_mask``). ``scale``: default
    ``1 / sqrt(E)``. ``dropout_p``: dropout on the attention probabilities, as in PyTorch
    always applied when > 0 (pass ``dropout_p=0.0`` in evaluation); the mask comes from
    ``generator`` (default: minigrad's global generator). ``enable_gqa``: key and value may have
    fewer heads (axis -3) than the query, each shared by ``heads // kv_heads`` query heads.
    A query row with no key it may attend to gives 0.
    """
    q = float_tensor(_OP, "query", query)
    k = float_tensor(_OP, "key", key)
    v = float_tensor(_OP, "value", value)
    if min(q.ndim, k.ndim, v.ndim) < 2:
        raise ValueError(f"{_OP}: query, key and value must have at least 2 dimensions "
                         f"(..., L, E), (..., S, E), (..., S, Ev); got shapes {q.shape}, "
                         f"{k.shape}, {v.shape}")
    if not q.dtype == k.dtype == v.dtype:
        raise TypeError(f"{_OP}: query, key and value must have one dtype, got {q.dtype}, "
                        f"{k.dtype}, {v.dtype}")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"{_OP}: query {q.shape} and key {k.shape} must have the same last "
                         f"dimension E")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"{_OP}: key {k.shape} and value {v.shape} must have the same "
                         f"sequence length S (dimension -2)")
    if enable_gqa:
        k, v = _share_heads(q, k, v)
    batch = broadcast_shape(_OP, q.shape[:-2], k.shape[:-2], v.shape[:-2])
    n_q, e = q.shape[-2:]
    n_k, ev = v.shape[-2:]
    if is_causal and attn_mask is not None:
        raise ValueError(f"{_OP}: give attn_mask or is_causal=True, not both (PyTorch refuses "
                         "it too)")
    bias = _as_bias(attn_mask, q, batch, n_q, n_k)
    p = probability(_OP, "dropout_p", dropout_p)
    sc = 1.0 / math.sqrt(e) if scale is None else real(_OP, "scale", scale)
    seed = 0
    if p > 0.0:
        seed = int((mg_random.generator() if generator is None else generator)
                   .integers(0, 2**63))
    nb = int(np.prod(batch, dtype=np.int64))
    q3, k3, v3 = (_flat_batch(t, batch, nb) for t in (q, k, v))
    out = ScaledDotProductAttentionFn.apply(q3, k3, v3, bias, batch=batch,
                                            causal=bool(is_causal), scale=sc, p_drop=p,
                                            seed=seed)
    return out.reshape(*batch, n_q, ev)


def _flat_batch(t: Tensor, batch: tuple[int, ...], nb: int) -> Tensor:
    """t: (..., L, E) broadcast to ``batch`` and flattened to (nb, L, E). Without an expand node
    where t has the batch shape already: that node would pass the gradient through unchanged,
    and the engine copies a passed-through gradient before it becomes ``.grad``."""
    if t.shape[:-2] != batch:
        t = t.expand(*batch, *t.shape[-2:])
    return t.reshape(nb, *t.shape[-2:])


def _share_heads(q: Tensor, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
    """enable_gqa: repeat each key/value head for its group of query heads (axis -3)."""
    if min(q.ndim, k.ndim, v.ndim) < 3:
        raise ValueError(f"{_OP}: enable_gqa needs a heads axis (-3) in query, key and value; "
                         f"got shapes {q.shape}, {k.shape}, {v.shape}")
    hq, hk = q.shape[-3], k.shape[-3]
    if hk != v.shape[-3] or hk == 0 or hq % hk:
        raise ValueError(f"{_OP}: with enable_gqa the query heads ({hq}) must be a multiple of "
                         f"the key/value heads ({hk}, {v.shape[-3]})")
    if hq == hk:
        return k, v

    def repeat(t: Tensor) -> Tensor:
        lead, (h, s, d) = t.shape[:-3], t.shape[-3:]
        return t.unsqueeze(-3).expand(*lead, h, hq // hk, s, d).reshape(*lead, hq, s, d)

    return repeat(k), repeat(v)
