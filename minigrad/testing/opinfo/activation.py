"""Activations: samples away from each kink, and plain NumPy/``math`` references written
independently of the kernels."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

from minigrad.ops import activation as A
from minigrad.ops.reduce import MaxMinFn
from minigrad.testing import strategies as S
from minigrad.testing.opinfo.core import OpInfo, Sample


def _np_sigmoid(x):
    return np.where(
        x >= 0, 1 / (1 + np.exp(-np.abs(x))), np.exp(-np.abs(x)) / (1 + np.exp(-np.abs(x)))
    )


def _np_elu(x, alpha=1.0, scale=1.0):
    return scale * np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


def _np_gelu(x):
    erf = np.vectorize(math.erf, otypes=[np.float64])
    return 0.5 * x * (1 + erf(x / math.sqrt(2)))


def _np_gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))


def _np_softplus(x, beta=1.0, threshold=20.0):
    z = beta * x
    return np.where(z > threshold, x, np.logaddexp(0, z) / beta)


def _np_maxout(x, pieces, dim):
    d = dim % x.ndim
    return x.reshape(*x.shape[:d], x.shape[d] // pieces, pieces, *x.shape[d + 1 :]).max(d + 1)


def _unary(lo=-3.0, hi=3.0, away=(), gap=0.05, kwargs=None):
    def strategy():
        return S.unary_samples(lo=lo, hi=hi, away_from=away, gap=gap).map(
            lambda s: Sample(s.args, dict(kwargs or {}))
        )

    return strategy


def _softplus_samples():
    @st.composite
    def draw(d):
        beta = d(st.sampled_from([0.5, 1.0, 2.0]))
        threshold = d(st.sampled_from([1.0, 20.0]))
        # keep beta * x away from the threshold, where the two branches meet
        x = d(S.arrays(S.shapes(), lo=-3, hi=3, away_from=(threshold / beta,), gap=0.05))
        return Sample((x,), {"beta": beta, "threshold": threshold})

    return draw()


def _maxout_samples():
    @st.composite
    def draw(d):
        pieces = d(st.integers(1, 3))
        shape = (d(st.integers(1, 3)), pieces * d(st.integers(1, 3)), d(st.integers(1, 3)))
        n = int(np.prod(shape))
        perm = np.asarray(d(st.permutations(range(n))), dtype=np.float64)
        x = (perm * 0.2 - 0.1 * n).reshape(shape)  # distinct values: no max ties
        return Sample((x,), {"pieces": pieces, "dim": d(st.sampled_from([1, -2]))})

    return draw()


KINKS = A.ActivationFn.kinks

op_db = [
    OpInfo("relu", A.relu, _unary(away=(0.0,)), ref=lambda x: np.where(x > 0, x, 0.0),
           kinks=KINKS["relu"]),
    OpInfo("relu6", A.relu6, _unary(lo=-2, hi=8, away=(0.0, 6.0)),
           ref=lambda x: np.clip(x, 0, 6), kinks=KINKS["hardtanh"]),
    OpInfo("leaky_relu", A.leaky_relu, _unary(away=(0.0,), kwargs={"negative_slope": 0.1}),
           ref=lambda x, negative_slope: np.where(x > 0, x, negative_slope * x),
           kinks=KINKS["leaky_relu"]),
    OpInfo("elu", A.elu, _unary(away=(0.0,), kwargs={"alpha": 0.7}),
           ref=lambda x, alpha: _np_elu(x, alpha), kinks=KINKS["elu"]),
    OpInfo("selu", A.selu, _unary(away=(0.0,)),
           ref=lambda x: _np_elu(x, A.SELU_ALPHA, A.SELU_SCALE), kinks=KINKS["elu"]),
    OpInfo("celu", A.celu, _unary(away=(0.0,), kwargs={"alpha": 1.5}),
           ref=lambda x, alpha: np.maximum(x, 0) + np.minimum(0, alpha * np.expm1(x / alpha)),
           kinks=KINKS["elu"]),
    OpInfo("sigmoid", A.sigmoid, _unary(lo=-6, hi=6), ref=_np_sigmoid),
    OpInfo("F.tanh", A.tanh, _unary(lo=-4, hi=4), ref=np.tanh),
    OpInfo("silu", A.silu, _unary(lo=-6, hi=6), ref=lambda x: x * _np_sigmoid(x)),
    OpInfo("gelu", A.gelu, _unary(lo=-4, hi=4), ref=_np_gelu, rtol=1e-6, atol=1e-12),
    OpInfo("gelu_tanh", lambda x: A.gelu(x, approximate="tanh"), _unary(lo=-4, hi=4),
           ref=_np_gelu_tanh),
    OpInfo("softplus", A.softplus, _softplus_samples, ref=_np_softplus,
           kinks=KINKS["softplus"]),
    OpInfo("logsigmoid", A.logsigmoid, _unary(lo=-6, hi=6),
           ref=lambda x: -np.logaddexp(0, -x)),
    OpInfo("hardtanh", A.hardtanh, _unary(away=(-1.0, 1.0)), ref=lambda x: np.clip(x, -1, 1),
           kinks=KINKS["hardtanh"]),
    # values drawn distinct: no ties inside a group
    OpInfo("maxout", A.maxout, _maxout_samples, ref=_np_maxout, kinks=MaxMinFn.kinks),
]
