"""Elementwise maths (``minigrad.ops.math``): samples inside each op's domain and away from its
poles, jumps and branch cuts; NumPy (and ``math`` for the error functions) as references.

erfinv's reference inverts ``math.erf`` by bisection, written here, so no test depends on SciPy
(the PyTorch differential tests compare with ``torch.erfinv`` as well).
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from minigrad.ops import math as M
from minigrad.testing import strategies as S
from minigrad.testing.opinfo.core import OpInfo, Sample


def _unary(lo: float = -2.0, hi: float = 2.0, away: tuple[float, ...] = (), gap: float = 0.05,
           kwargs: dict | None = None):
    def strategy():
        out = S.unary_samples(lo=lo, hi=hi, away_from=away, gap=gap)
        return out.map(lambda s: Sample(s.args, dict(kwargs))) if kwargs else out

    return strategy


def _operands(n: int, lo: float = -2.0, hi: float = 2.0, away: tuple[tuple[float, ...], ...] = (),
              gap: float = 0.2):
    """``n`` mutually broadcastable float arrays; operand ``i`` is kept ``gap`` from the points
    in ``away[i]``."""

    @st.composite
    def draw(d):
        shapes = d(hnp.mutually_broadcastable_shapes(num_shapes=n, max_dims=3, max_side=3))
        arrays = []
        for i, shape in enumerate(shapes.input_shapes):
            points = away[i] if i < len(away) else ()
            arrays.append(d(S.arrays(shape, lo=lo, hi=hi, away_from=points, gap=gap)))
        return Sample(tuple(arrays))

    return draw()


def _binary(**kw):
    return lambda: _operands(2, **kw)


def _vectorize(fn):
    return np.vectorize(fn, otypes=[np.float64])


def _erfinv_ref(y: float) -> float:
    """erfinv by bisection on math.erf (monotone): 200 halvings reach float64 resolution."""
    lo, hi = -6.0, 6.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if math.erf(mid) < y:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def _lerp_ref(start, end, weight):
    return start + weight * (end - start)


def _round_samples():
    @st.composite
    def draw(d):
        decimals = d(st.sampled_from([0, 1, -1]))
        scale = 10.0**-decimals
        lo, hi = -25.0 * scale, 25.0 * scale
        halves = tuple((k + 0.5) * scale for k in range(-26, 26))  # where rounding jumps
        x = d(S.arrays(S.shapes(), lo=lo, hi=hi, away_from=halves, gap=0.02 * scale))
        return Sample((x,), {"decimals": decimals})

    return draw()


def _round_ref(x, decimals):
    scale = 10.0**decimals
    return np.rint(x * scale) / scale


_INTEGERS = tuple(float(k) for k in range(-3, 4))
_HALVES = tuple(k + 0.5 for k in range(-3, 3))
_STEP_KINKS = M.FloorFn.kinks

op_db = [
    OpInfo("tan", M.tan, _unary(-1.3, 1.3), ref=np.tan, kinks=M.TanFn.kinks),
    OpInfo("asin", M.asin, _unary(-0.9, 0.9), ref=np.arcsin, kinks=M.AsinFn.kinks),
    OpInfo("acos", M.acos, _unary(-0.9, 0.9), ref=np.arccos, kinks=M.AcosFn.kinks),
    OpInfo("atan", M.atan, _unary(-3, 3), ref=np.arctan),
    OpInfo("sinh", M.sinh, _unary(-3, 3), ref=np.sinh),
    OpInfo("cosh", M.cosh, _unary(-3, 3), ref=np.cosh),
    OpInfo("asinh", M.asinh, _unary(-3, 3), ref=np.arcsinh),
    OpInfo("acosh", M.acosh, _unary(1.2, 4), ref=np.arccosh, kinks=M.AcoshFn.kinks),
    OpInfo("atanh", M.atanh, _unary(-0.9, 0.9), ref=np.arctanh, kinks=M.AtanhFn.kinks),
    OpInfo("log2", M.log2, _unary(0.1, 4), ref=np.log2, kinks=M.Log2Fn.kinks),
    OpInfo("log10", M.log10, _unary(0.1, 4), ref=np.log10, kinks=M.Log10Fn.kinks),
    OpInfo("log1p", M.log1p, _unary(-0.9, 3), ref=np.log1p, kinks=M.Log1pFn.kinks),
    OpInfo("expm1", M.expm1, _unary(-3, 3), ref=np.expm1),
    OpInfo("exp2", M.exp2, _unary(-3, 3), ref=np.exp2),
    OpInfo("rsqrt", M.rsqrt, _unary(0.2, 4), ref=lambda x: 1 / np.sqrt(x),
           kinks=M.RsqrtFn.kinks),
    OpInfo("reciprocal", M.reciprocal, _unary(away=(0.0,), gap=0.3), ref=np.reciprocal,
           kinks=M.ReciprocalFn.kinks),
    OpInfo("square", M.square, _unary(), ref=np.square),
    OpInfo("erf", M.erf, _unary(-3, 3), ref=_vectorize(math.erf), atol=1e-15, rtol=1e-14),
    OpInfo("erfc", M.erfc, _unary(-3, 3), ref=_vectorize(math.erfc), atol=1e-15, rtol=1e-14),
    OpInfo("erfinv", M.erfinv, _unary(-0.95, 0.95), ref=_vectorize(_erfinv_ref), atol=1e-14,
           rtol=1e-13, kinks=M.ErfinvFn.kinks),
    OpInfo("floor", M.floor, _unary(-3, 3, away=_INTEGERS), ref=np.floor, kinks=_STEP_KINKS),
    OpInfo("ceil", M.ceil, _unary(-3, 3, away=_INTEGERS), ref=np.ceil, kinks=_STEP_KINKS),
    OpInfo("trunc", M.trunc, _unary(-3, 3, away=_INTEGERS), ref=np.trunc, kinks=_STEP_KINKS),
    OpInfo("round", M.round, _unary(-3, 3, away=_HALVES), ref=np.rint, kinks=_STEP_KINKS),
    OpInfo("round_decimals", M.round, _round_samples, ref=_round_ref, kinks=_STEP_KINKS,
           rtol=1e-12),
    OpInfo("frac", M.frac, _unary(-3, 3, away=_INTEGERS), ref=lambda x: x - np.trunc(x),
           kinks=M.FracFn.kinks),
    # the branch cut of atan2 (a = 0, b < 0) and the origin: both operands away from 0
    OpInfo("atan2", M.atan2, _binary(away=((0.0,), (0.0,))), ref=np.arctan2,
           kinks=M.Atan2Fn.kinks),
    OpInfo("copysign", M.copysign, _binary(away=((0.0,), (0.0,))), ref=np.copysign,
           kinks=M.CopysignFn.kinks),
    OpInfo("logaddexp", M.logaddexp, _binary(lo=-3, hi=3), ref=np.logaddexp),
    OpInfo("hypot", M.hypot, _binary(away=((0.0,),)), ref=np.hypot, kinks=M.HypotFn.kinks),
    OpInfo("lerp", M.lerp, lambda: _operands(3), ref=_lerp_ref),
    OpInfo("lerp_scalar_weight", lambda a, b: M.lerp(a, b, 0.7), _binary(),
           ref=lambda a, b: _lerp_ref(a, b, 0.7)),
]
