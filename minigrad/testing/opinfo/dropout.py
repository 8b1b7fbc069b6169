"""Dropout: a fixed generator seed inside ``fn``, so finite differences see the same mask on every
call, and the reference draws the same mask."""

from __future__ import annotations

import numpy as np

from minigrad.ops.dropout import dropout, dropout2d
from minigrad.testing import strategies as S
from minigrad.testing.opinfo.core import OpInfo, Sample


def _fixed(fn, p):
    def call(x):
        return fn(x, p=p, training=True, generator=np.random.default_rng(1234))

    return call


def _ref(p, channels):
    def ref(x):
        shape = (*x.shape[:-2], 1, 1) if channels else x.shape
        keep = np.random.default_rng(1234).random(shape) >= p
        return np.where(keep, x / (1 - p), 0.0)

    return ref


def _samples(min_dims):
    return lambda: S.arrays(S.shapes(min_dims=min_dims, max_dims=4)).map(lambda a: Sample((a,)))


op_db = [
    OpInfo("dropout", _fixed(dropout, 0.3), _samples(0), ref=_ref(0.3, False)),
    OpInfo("dropout2d", _fixed(dropout2d, 0.4), _samples(3), ref=_ref(0.4, True)),
]
