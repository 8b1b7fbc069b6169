"""More activations (``minigrad.ops.activation_extra``): samples away from each kink, NumPy
references written from the definitions (not from the ops' tables)."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from minigrad.ops import activation_extra as A
from minigrad.testing import strategies as S
from minigrad.testing.opinfo.core import OpInfo, Sample

KINKS = A.PointwiseActivationFn.kinks


def _unary(lo=-5.0, hi=5.0, away=(), gap=0.05, kwargs=None):
    def strategy():
        out = S.unary_samples(lo=lo, hi=hi, away_from=away, gap=gap)
        return out.map(lambda s: Sample(s.args, dict(kwargs))) if kwargs else out

    return strategy


def _np_softplus(x):
    return np.logaddexp(0, x)


def _np_sigmoid(x):
    return 0.5 * (1 + np.tanh(0.5 * x))


def _np_softmin(x, dim):
    z = -x - np.max(-x, axis=dim, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=dim, keepdims=True)


def _np_glu(x, dim):
    a, b = np.split(x, 2, axis=dim)
    return a * _np_sigmoid(b)


def _softmin_samples():
    @st.composite
    def draw(d):
        shape = d(S.shapes(min_dims=1))
        dim = d(st.integers(-len(shape), len(shape) - 1))
        return Sample((d(S.arrays(shape)),), {"dim": dim})

    return draw()


def _glu_samples():
    @st.composite
    def draw(d):
        shape = list(d(S.shapes(min_dims=1)))
        dim = d(st.integers(-len(shape), len(shape) - 1))
        shape[dim] *= 2
        return Sample((d(S.arrays(tuple(shape), lo=-4, hi=4)),), {"dim": dim})

    return draw()


def _shrink_samples(lambd_values=(0.0, 0.5, 1.3)):
    @st.composite
    def draw(d):
        lambd = d(st.sampled_from(lambd_values))
        x = d(S.arrays(S.shapes(), lo=-3, hi=3, away_from=(-lambd, lambd), gap=0.05))
        return Sample((x,), {"lambd": lambd})

    return draw


def _threshold_samples():
    @st.composite
    def draw(d):
        t = d(st.sampled_from([-1.0, 0.0, 0.7]))
        v = d(st.sampled_from([-2.0, 0.0, 3.0]))
        x = d(S.arrays(S.shapes(), lo=-3, hi=3, away_from=(t,), gap=0.05))
        return Sample((x, t, v))

    return draw()


op_db = [
    OpInfo("hardsigmoid", A.hardsigmoid, _unary(away=(-3.0, 3.0)),
           ref=lambda x: np.minimum(np.maximum(x + 3, 0), 6) / 6, kinks=KINKS["hardsigmoid"]),
    OpInfo("hardswish", A.hardswish, _unary(away=(-3.0, 3.0)),
           ref=lambda x: x * np.minimum(np.maximum(x + 3, 0), 6) / 6, kinks=KINKS["hardswish"]),
    OpInfo("softsign", A.softsign, _unary(away=(0.0,)), ref=lambda x: x / (1 + np.abs(x)),
           kinks=KINKS["softsign"]),
    OpInfo("mish", A.mish, _unary(-6, 6), ref=lambda x: x * np.tanh(_np_softplus(x))),
    OpInfo("tanhshrink", A.tanhshrink, _unary(), ref=lambda x: x - np.tanh(x)),
    OpInfo("softshrink", A.softshrink, _shrink_samples(),
           ref=lambda x, lambd: np.sign(x) * np.maximum(np.abs(x) - lambd, 0),
           kinks=KINKS["softshrink"]),
    OpInfo("hardshrink", A.hardshrink, _shrink_samples(),
           ref=lambda x, lambd: np.where(np.abs(x) > lambd, x, 0.0), kinks=KINKS["hardshrink"]),
    OpInfo("threshold", A.threshold, _threshold_samples,
           ref=lambda x, t, v: np.where(x > t, x, v), kinks=KINKS["threshold"]),
    OpInfo("softmin", A.softmin, _softmin_samples, ref=_np_softmin),
    OpInfo("glu", A.glu, _glu_samples, ref=_np_glu),
]
