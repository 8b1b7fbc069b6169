"""Batch normalization in evaluation and training mode; the reference is the definition in NumPy."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from minigrad.ops.normalization import BatchNormTrainFn, batch_norm
from minigrad.testing import strategies as S
from minigrad.testing.opinfo.core import OpInfo, Sample


def _ref(x, running_mean, running_var, weight=None, bias=None, training=False, eps=1e-5):
    c = x.shape[1]
    axes = (0, *range(2, x.ndim))
    cs = (1, c) + (1,) * (x.ndim - 2)
    if training:
        n = x.size // c
        mean = x.sum(axis=axes) / n
        var = ((x - mean.reshape(cs)) ** 2).sum(axis=axes) / n
    else:
        mean, var = running_mean, running_var
    y = (x - mean.reshape(cs)) / np.sqrt(var.reshape(cs) + eps)
    if weight is not None:
        y = y * weight.reshape(cs)
    if bias is not None:
        y = y + bias.reshape(cs)
    return y


def _samples(training: bool):
    @st.composite
    def draw(d):
        ndim = d(st.integers(2, 4))
        shape = [d(st.integers(2 if training else 1, 3)), d(st.integers(1, 3))]
        shape += [d(st.integers(1, 3)) for _ in range(ndim - 2)]
        x = d(S.arrays(tuple(shape), lo=-3, hi=3))
        if training and np.ptp(x.reshape(shape[0], shape[1], -1), axis=(0, 2)).min() < 0.5:
            # a near-constant channel has variance ~0: 1/sqrt(var + eps) is too steep for finite
            # differences, so spread the values
            x = x + np.arange(x.size).reshape(x.shape) * 0.3
        c = shape[1]
        rm = d(S.arrays((c,), lo=-1, hi=1))
        rv = d(S.arrays((c,), lo=0.5, hi=2))
        affine = d(st.booleans())
        args = (x, rm, rv) + ((d(S.arrays((c,))), d(S.arrays((c,)))) if affine else ())
        grad_args = (0, 3, 4)
        return Sample(args, {"training": training, "eps": 1e-3}, grad_args=grad_args)

    return draw()


op_db = [
    OpInfo("batch_norm", batch_norm, lambda: _samples(False), ref=_ref),
    OpInfo("batch_norm_train", batch_norm, lambda: _samples(True), ref=_ref,
           kinks=BatchNormTrainFn.kinks),
]
