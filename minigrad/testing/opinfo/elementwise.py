"""Elementwise ops: broadcasting samples kept away from poles, bounds and ties; NumPy's ufuncs as
references."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from minigrad.ops.elementwise import (
    AbsFn,
    ClipFn,
    DivFn,
    MaximumFn,
    MinimumFn,
    PowFn,
    PowScalarFn,
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
from minigrad.testing.opinfo.core import OpInfo, Sample


def _unary(lo: float = -2.0, hi: float = 2.0, away: tuple[float, ...] = (), gap: float = 0.05):
    return lambda: S.unary_samples(lo=lo, hi=hi, away_from=away, gap=gap)


def _binary(lo: float = -2.0, hi: float = 2.0, away_b: tuple[float, ...] = (),
            lo_a: float | None = None, apart: float = 0.0):
    return lambda: S.binary_samples(lo=lo, hi=hi, away_from_b=away_b, lo_a=lo_a, apart=apart)


@st.composite
def _integer_exponent_samples(draw):
    """``a ** b`` with b in {0, 1, 2, 3} and a including exact zeros and negatives: the gradient
    for a follows PyTorch's rule at a = 0 (0 for b = 0 and b >= 2, 1 for b = 1); b is not
    differentiated (log of a negative base)."""
    pair = hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3)
    sa, sb = draw(pair).input_shapes
    a = draw(hnp.arrays(np.float64, sa, elements=st.sampled_from([-1.5, -0.5, 0.0, 0.5, 1.25])))
    b = draw(hnp.arrays(np.float64, sb, elements=st.sampled_from([0.0, 1.0, 2.0, 3.0])))
    return Sample((a, b), grad_args=(0,))


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
    OpInfo("pow_integer_exponents", lambda a, b: a**b, _integer_exponent_samples,
           ref=np.power, kinks=PowFn.kinks),
    OpInfo("pow_zero_base", lambda b: 0.0**b, _unary(lo=0.2, hi=2.0),
           ref=lambda b: np.power(0.0, b), kinks=PowFn.kinks),
    OpInfo("pow_scalar", lambda a: a**3, _unary(), ref=lambda a: a**3),
    OpInfo("pow_scalar_zero", lambda a: a**0, _unary(), ref=lambda a: a**0,
           kinks=PowScalarFn.kinks),
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
    # min > max: max wins everywhere (PyTorch), so no gradient passes
    OpInfo("clip_min_above_max", lambda a: clip(a, 0.7, -0.5), _unary(away=(-0.5, 0.7)),
           ref=lambda a: np.minimum(np.maximum(a, 0.7), -0.5), kinks=ClipFn.kinks),
    OpInfo("maximum", maximum, _binary(apart=0.05), ref=np.maximum, kinks=MaximumFn.kinks),
    OpInfo("minimum", minimum, _binary(apart=0.05), ref=np.minimum, kinks=MinimumFn.kinks),
    OpInfo("where", lambda a, b: where(a > b, a, b), _binary(apart=0.05),
           ref=lambda a, b: np.where(a > b, a, b), kinks=WhereFn.kinks),
    # a float32 round trip: finite differences need a larger step than in float64
    OpInfo("cast", lambda a: cast(cast(a, np.float32), a.dtype), _unary(),
           ref=lambda a: a.astype(np.float32).astype(np.float64), gradgrad=False,
           rtol=1e-6, atol=1e-7, check_kwargs={"eps": 1e-2, "atol": 1e-3, "rtol": 1e-2}),
]
