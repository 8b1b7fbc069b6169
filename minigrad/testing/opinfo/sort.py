"""Sorting and order statistics (sort, topk, kthvalue, median, mode); ``np.sort`` and Python's
``sorted``/``Counter`` as references. Values are drawn without ties: at a tie the chosen element
changes under a small perturbation (a kink)."""

from __future__ import annotations

from collections import Counter

import numpy as np
from hypothesis import strategies as st

from minigrad.ops.sort import kthvalue, median, mode, sort, topk
from minigrad.testing.opinfo import _draw as D
from minigrad.testing.opinfo.core import OpInfo, Sample


@st.composite
def _samples(draw):
    shape, d = D.shape_and_dim(draw, max_side=5)
    return Sample((D.distinct(draw, shape),), {"dim": d})


@st.composite
def _k_samples(draw):
    shape, d = D.shape_and_dim(draw, max_side=5)
    return Sample((D.distinct(draw, shape),), {"dim": d, "k": draw(st.integers(1, shape[d])),
                                                 "flag": draw(st.booleans())})


def _per_row(fn):
    """A reference applying ``fn(sorted python list) -> list or value`` to each row along dim."""

    def ref(x, dim, **kw):
        moved = np.moveaxis(x, dim, -1)
        rows = [fn(sorted(moved[pos].tolist()), list(moved[pos]), **kw)
                for pos in np.ndindex(*moved.shape[:-1])]
        out = np.asarray(rows, dtype=np.float64).reshape(moved.shape[:-1] + (-1,))
        return np.moveaxis(out, -1, dim)

    return ref


def _ref_sort(x, dim, flag=False):
    return _per_row(lambda s, row: s[::-1] if flag else s)(x, dim)


def _ref_topk(x, dim, k, flag):
    return _per_row(lambda s, row: (s[::-1] if flag else s)[:k])(x, dim)


def _ref_kthvalue(x, dim, k, flag):
    out = _per_row(lambda s, row: [s[k - 1]])(x, dim)
    return out if flag else np.squeeze(out, axis=dim)


def _ref_median(x, dim, flag=False):
    out = _per_row(lambda s, row: [s[(len(s) - 1) // 2]])(x, dim)
    return out if flag else np.squeeze(out, axis=dim)


def _ref_mode(x, dim, flag=False):
    def pick(s, row):
        counts = Counter(row)
        top = max(counts.values())
        return [min(v for v, c in counts.items() if c == top)]

    out = _per_row(pick)(x, dim)
    return out if flag else np.squeeze(out, axis=dim)


def _flagged(draw_sample):
    return lambda: draw_sample().flatmap(
        lambda s: st.booleans().map(lambda f: Sample(s.args, {**s.kwargs, "flag": f})))


op_db = [
    OpInfo("sort", lambda x, dim, flag: sort(x, dim, descending=flag).values,
           _flagged(_samples), ref=_ref_sort),
    OpInfo("topk", lambda x, dim, k, flag: topk(x, k, dim, largest=flag).values, _k_samples,
           ref=_ref_topk),
    OpInfo("kthvalue", lambda x, dim, k, flag: kthvalue(x, k, dim, keepdim=flag).values,
           _k_samples, ref=_ref_kthvalue),
    OpInfo("median_dim", lambda x, dim, flag: median(x, dim, keepdim=flag).values,
           _flagged(_samples), ref=_ref_median),
    OpInfo("median", lambda x, dim: median(x), _samples,
           ref=lambda x, dim: np.asarray(np.sort(x, axis=None)[(x.size - 1) // 2])),
    OpInfo("mode", lambda x, dim, flag: mode(x, dim, keepdim=flag).values, _flagged(_samples),
           ref=_ref_mode),
]
