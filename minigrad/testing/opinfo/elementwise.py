"""Elementwise ops: broadcasting samples kept away from poles, bounds and ties; NumPy's ufuncs as
references."""

from __future__ import annotations

import numpy as np

from minigrad.ops.elementwise import (
    AbsFn,
    ClipFn,
    DivFn,
    MaximumFn,
    MinimumFn,
    PowFn,
    WhereFn,
    abs,
    cast,
    clip,
    cos,
    exp,
    log,
    maximum,
    minimum,
    sin,
    sqrt,
    tanh,
    where,
)
from minigrad.testing import strategies as S
from minigrad.testing.opinfo.core import OpInfo


def _unary(lo: float = -2.0, hi: float = 2.0, away: tuple[float, ...] = (), gap: float = 0.05):
    return lambda: S.unary_samples(lo=lo, hi=hi, away_from=away, gap=gap)


def _binary(lo: float = -2.0, hi: float = 2.0, away_b: tuple[float, ...] = (),
            lo_a: float | None = None, apart: float = 0.0):
    return lambda: S.binary_samples(lo=lo, hi=hi, away_from_b=away_b, lo_a=lo_a, apart=apart)


op_db = [
    OpInfo("add", lambda a, b: a + b, _binary(), ref=np.add),
    OpInfo("sub", lambda a, b: a - b, _binary(), ref=np.subtract),
    OpInfo("mul", lambda a, b: a * b, _binary(), ref=np.multiply),
    OpInfo("div", lambda a, b: a / b, _binary(away_b=(0.0,), apart=0.0), ref=np.divide,
           kinks=DivFn.kinks),
    OpInfo("rsub_scalar", lambda a: 3.0 - a, _unary(), ref=lambda a: 3.0 - a),
    OpInfo("rdiv_scalar", lambda a: 2.0 / a, _unary(away=(0.0,), gap=0.3),
           ref=lambda a: 2.0 / a, kinks=DivFn.kinks),
    OpInfo("neg", lambda a: -a, _unary(), ref=np.negative),
    OpInfo("pow", lambda a, b: a**b, _binary(lo=-1.5, hi=1.5, lo_a=0.2), ref=np.power,
           kinks=PowFn.kinks),
    OpInfo("pow_scalar", lambda a: a**3, _unary(), ref=lambda a: a**3),
    OpInfo("pow_scalar_frac", lambda a: a**-1.5, _unary(lo=0.2, hi=2.0), ref=lambda a: a**-1.5),
    OpInfo("rpow_scalar", lambda a: 2.0**a, _unary(), ref=lambda a: 2.0**a),
    OpInfo("exp", exp, _unary(), ref=np.exp),
    OpInfo("log", log, _unary(lo=0.1, hi=3.0), ref=np.log),
    OpInfo("sqrt", sqrt, _unary(lo=0.1, hi=3.0), ref=np.sqrt),
    OpInfo("abs", abs, _unary(away=(0.0,)), ref=np.abs, kinks=AbsFn.kinks),
    OpInfo("sin", sin, _unary(lo=-3, hi=3), ref=np.sin),
    OpInfo("cos", cos, _unary(lo=-3, hi=3), ref=np.cos),
    OpInfo("tanh", tanh, _unary(lo=-3, hi=3), ref=np.tanh),
    OpInfo("clip", lambda a: clip(a, -0.5, 0.7), _unary(away=(-0.5, 0.7)),
           ref=lambda a: np.clip(a, -0.5, 0.7), kinks=ClipFn.kinks),
    OpInfo("maximum", maximum, _binary(apart=0.05), ref=np.maximum, kinks=MaximumFn.kinks),
    OpInfo("minimum", minimum, _binary(apart=0.05), ref=np.minimum, kinks=MinimumFn.kinks),
    OpInfo("where", lambda a, b: where(a > b, a, b), _binary(apart=0.05),
           ref=lambda a, b: np.where(a > b, a, b), kinks=WhereFn.kinks),
    # a float32 round trip: finite differences need a larger step than in float64
    OpInfo("cast", lambda a: cast(cast(a, np.float32), a.dtype), _unary(),
           ref=lambda a: a.astype(np.float32).astype(np.float64), gradgrad=False,
           rtol=1e-6, atol=1e-7, check_kwargs={"eps": 1e-2, "atol": 1e-3, "rtol": 1e-2}),
]
