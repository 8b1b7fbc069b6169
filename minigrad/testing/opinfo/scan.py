"""Scans along a dim (cumsum, cumprod, cummax, cummin, logcumsumexp); running loops in NumPy as
references. cummax/cummin draw values without ties (a tie moves the index: a kink); cumprod draws
values away from 0 (its zero handling has its own tests in tests/test_index_ops.py)."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from minigrad.ops.scan import cummax, cummin, cumprod, cumsum, logcumsumexp
from minigrad.testing import strategies as S
from minigrad.testing.opinfo import _draw as D
from minigrad.testing.opinfo.core import OpInfo, Sample


def _samples(distinct: bool = False, away: tuple[float, ...] = (), lo: float = -2.0,
             hi: float = 2.0):
    @st.composite
    def draw_sample(draw):
        shape, d = D.shape_and_dim(draw, max_side=5)
        x = D.distinct(draw, shape) if distinct else \
            draw(S.arrays(shape, lo=lo, hi=hi, away_from=away, gap=0.3))
        return Sample((x,), {"dim": d})

    return draw_sample


def _running(fold):
    """A reference applying ``fold(acc, value)`` along ``dim`` one element at a time."""

    def ref(x, dim):
        moved = np.moveaxis(x.astype(np.float64), dim, -1)
        out = np.empty_like(moved)
        for pos in np.ndindex(*moved.shape[:-1]):
            acc = None
            for i, v in enumerate(moved[pos]):
                acc = v if acc is None else fold(acc, v)
                out[pos + (i,)] = acc
        return np.moveaxis(out, -1, dim)

    return ref


op_db = [
    OpInfo("cumsum", lambda x, dim: cumsum(x, dim), _samples(), ref=_running(lambda a, v: a + v)),
    OpInfo("cumprod", lambda x, dim: cumprod(x, dim), _samples(away=(0.0,)),
           ref=_running(lambda a, v: a * v)),
    OpInfo("cummax", lambda x, dim: cummax(x, dim).values, _samples(distinct=True),
           ref=_running(max)),
    OpInfo("cummin", lambda x, dim: cummin(x, dim).values, _samples(distinct=True),
           ref=_running(min)),
    OpInfo("logcumsumexp", lambda x, dim: logcumsumexp(x, dim), _samples(lo=-5.0, hi=5.0),
           ref=_running(lambda a, v: np.log(np.exp(a) + np.exp(v)))),
]
