"""Embedding lookups and bags: random tables and indices (repeated indices included); the
references are NumPy fancy indexing and Python loops over the bags."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from minigrad.ops.embedding import embedding, embedding_bag
from minigrad.testing import strategies as S
from minigrad.testing.opinfo.core import OpInfo, Sample


def _ref_embedding(idx, weight, padding_idx=None, **_: Any):
    return weight[idx]


def _ref_embedding_bag(idx, weight, offsets=None, per_sample_weights=None, mode="mean",
                       padding_idx=None, **_: Any):
    if idx.ndim == 2:
        bags = [(idx[b], None if per_sample_weights is None else per_sample_weights[b])
                for b in range(idx.shape[0])]
    else:
        ends = list(offsets) + [idx.size]
        bags = [(idx[ends[b]:ends[b + 1]],
                 None if per_sample_weights is None else per_sample_weights[ends[b]:ends[b + 1]])
                for b in range(len(offsets))]
    out = np.zeros((len(bags), weight.shape[1]))
    for b, (entries, psw) in enumerate(bags):
        rows = [weight[i] * (1.0 if psw is None else psw[k])
                for k, i in enumerate(entries) if i != padding_idx]
        if rows:
            out[b] = {"sum": np.sum, "mean": np.mean, "max": np.max}[mode](rows, axis=0)
    return out


def _table(d, v: int, dim: int) -> np.ndarray:
    # distinct values: max-mode bags have no ties between different rows
    w = d(S.arrays((v, dim)))
    return w + np.arange(v * dim).reshape(v, dim) * 0.037


def _padding(d, v: int, idx: np.ndarray) -> int | None:
    """None or an index the sample does not use (a used padding row has, by definition, a
    gradient that is not the derivative: its lookups are tested against PyTorch instead)."""
    unused = sorted(set(range(v)) - set(idx.reshape(-1).tolist()))
    return d(st.sampled_from([None, *unused])) if unused else None


@st.composite
def _embedding_samples(d):
    v, dim = d(st.integers(1, 5)), d(st.integers(1, 3))
    shape = d(S.shapes(min_dims=0, max_dims=2, max_side=4))
    idx = d(hnp.arrays(np.int64, shape, elements=st.integers(0, v - 1)))
    return Sample((idx, _table(d, v, dim)), {"padding_idx": _padding(d, v, idx)})


@st.composite
def _bag_samples(d):
    v, dim = d(st.integers(1, 5)), d(st.integers(1, 3))
    mode = d(st.sampled_from(["sum", "mean", "max"]))
    if d(st.booleans()):
        idx = d(hnp.arrays(np.int64, (d(st.integers(1, 3)), d(st.integers(1, 3))),
                           elements=st.integers(0, v - 1)))
        offsets = None
    else:
        n = d(st.integers(0, 6))
        idx = d(hnp.arrays(np.int64, (n,), elements=st.integers(0, v - 1)))
        cuts = sorted(d(st.lists(st.integers(0, n), min_size=0, max_size=3)))
        offsets = np.array([0, *cuts], dtype=np.int64)
    kwargs: dict[str, Any] = {"mode": mode, "padding_idx": _padding(d, v, idx)}
    psw = d(S.arrays(idx.shape)) if mode == "sum" and d(st.booleans()) else None
    return Sample((idx, _table(d, v, dim), offsets, psw), kwargs)


def _bag(idx, weight, offsets=None, per_sample_weights=None, **kwargs):
    return embedding_bag(idx, weight, offsets, per_sample_weights=per_sample_weights, **kwargs)


op_db = [
    OpInfo("embedding", embedding, _embedding_samples, ref=_ref_embedding),
    OpInfo("embedding_bag", _bag, _bag_samples, ref=_ref_embedding_bag,
           kinks="mode='max': ties between rows of one bag (the first maximum gets the gradient)"),
]
