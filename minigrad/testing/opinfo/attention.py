"""Scaled dot-product attention: broadcast batch axes, bool and float masks, causal, a scale,
dropout with a fixed generator seed; the reference is the definition in NumPy (one query row at a
time, written from the formula)."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from minigrad.ops.attention import ScaledDotProductAttentionFn, scaled_dot_product_attention
from minigrad.ops.kernels.cpu.attention import dropout_keep
from minigrad.testing import strategies as S
from minigrad.testing.opinfo.core import OpInfo, Sample

_SEED = 1234


def _call(q, k, v, mask=None, *, is_causal=False, scale=None, dropout_p=0.0):
    return scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p,
                                        is_causal=is_causal, scale=scale,
                                        generator=np.random.default_rng(_SEED))


def np_attention(q, k, v, mask=None, *, is_causal=False, scale=None, dropout_p=0.0):
    """The definition, one (batch, query) row at a time; a row with no allowed key gives 0."""
    batch = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    n_q, e = q.shape[-2:]
    n_k, ev = v.shape[-2:]
    sc = 1 / np.sqrt(e) if scale is None else scale
    qb = np.broadcast_to(q, (*batch, n_q, e)).reshape(-1, n_q, e)
    kb = np.broadcast_to(k, (*batch, n_k, e)).reshape(-1, n_k, e)
    vb = np.broadcast_to(v, (*batch, n_k, ev)).reshape(-1, n_k, ev)
    if mask is None:
        add = np.zeros((qb.shape[0], n_q, n_k))
    elif mask.dtype == np.bool_:
        full = np.broadcast_to(mask, (*batch, n_q, n_k)).reshape(-1, n_q, n_k)
        add = np.where(full, 0.0, -np.inf)
    else:
        add = np.broadcast_to(mask, (*batch, n_q, n_k)).reshape(-1, n_q, n_k)
    keep = np.ones(add.shape)
    if dropout_p > 0:
        seed = int(np.random.default_rng(_SEED).integers(0, 2**63))
        keep = dropout_keep(seed, add.shape, dropout_p) / (1 - dropout_p)
    out = np.zeros((qb.shape[0], n_q, ev))
    for b in range(qb.shape[0]):
        for i in range(n_q):
            s = kb[b] @ qb[b, i] * sc + add[b, i]
            if is_causal:
                s[i + 1:] = -np.inf
            if np.all(s == -np.inf):
                continue
            p = np.exp(s - s.max())
            p /= p.sum()
            out[b, i] = (p * keep[b, i]) @ vb[b]
    return out.reshape(*batch, n_q, ev)


def _samples(kind: str):
    @st.composite
    def draw(d):
        batch = d(S.shapes(min_dims=0, max_dims=2, max_side=3))
        n_q, n_k = d(st.integers(1, 5)), d(st.integers(1, 5))
        e, ev = d(st.integers(1, 4)), d(st.integers(1, 3))

        def onto(target, min_dims=0):
            """A shape that broadcasts to ``target`` (size-1 and missing leading axes)."""
            nd = d(st.integers(min_dims, len(target)))
            return tuple(n if d(st.booleans()) else 1 for n in target[len(target) - nd:])

        def part(shape):
            return d(S.arrays((*onto(batch), *shape), lo=-1.5, hi=1.5))

        q, k, v = part((n_q, e)), part((n_k, e)), part((n_k, ev))
        kwargs = {}
        args = (q, k, v)
        full = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
        mask_shape = onto((*full, n_q, n_k), min_dims=2)
        if kind == "bool_mask":
            args += (d(hnp.arrays(np.bool_, mask_shape)),)
        elif kind == "float_mask":
            args += (d(S.arrays(mask_shape, lo=-2, hi=2)),)
        elif kind == "causal":
            kwargs["is_causal"] = True
        elif kind == "dropout":
            kwargs["dropout_p"] = d(st.sampled_from([0.2, 0.5]))
        if d(st.booleans()):
            kwargs["scale"] = d(st.sampled_from([0.5, 1.3]))
        return Sample(args, kwargs)

    return draw()


op_db = [
    OpInfo(f"scaled_dot_product_attention_{kind}", _call, lambda kind=kind: _samples(kind),
           ref=np_attention, kinks=ScaledDotProductAttentionFn.kinks)
    for kind in ("plain", "bool_mask", "float_mask", "causal", "dropout")
]
