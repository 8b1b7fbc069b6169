"""softmax and log_softmax along any dim; references in plain NumPy."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from minigrad.ops.softmax import log_softmax, softmax
from minigrad.testing import strategies as S
from minigrad.testing.opinfo.core import OpInfo, Sample


def np_log_softmax(x, dim):
    m = x.max(axis=dim, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=dim, keepdims=True))


def _dim_samples():
    @st.composite
    def draw(d):
        x = d(S.arrays(S.shapes(min_dims=1, max_dims=3), lo=-3, hi=3))
        return Sample((x,), {"dim": d(st.integers(-x.ndim, x.ndim - 1))})

    return draw()


op_db = [
    OpInfo("softmax", softmax, _dim_samples, ref=lambda x, dim: np.exp(np_log_softmax(x, dim))),
    OpInfo("log_softmax", log_softmax, _dim_samples, ref=np_log_softmax),
]
