"""Float floor division, remainder, fmod and rounded division (``minigrad.ops.bitwise``): the
differentiable members of the integer-ops family. Samples keep the divisor away from 0 and the
quotient a / b away from integers, where these ops jump. The integer and bitwise ops have no
gradient and are tested against PyTorch in ``tests/test_torch_diff_math.py``."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from minigrad.ops import bitwise as B
from minigrad.ops.elementwise import div
from minigrad.testing import strategies as S
from minigrad.testing.opinfo.core import OpInfo, Sample


@st.composite
def _quotient_samples(draw, gap: float = 0.1) -> Sample:
    """``Sample((a, b))`` with b broadcastable to a's shape, |b| >= 0.3 and a / b at least
    ``gap`` from every integer."""
    shape = draw(S.shapes(max_side=3))
    # b's shape broadcasts to a's: some axes 1, some leading axes dropped
    sb = tuple(1 if draw(st.booleans()) else n for n in shape)
    sb = sb[draw(st.integers(0, len(sb))):]
    b = draw(S.arrays(sb, lo=-2, hi=2, away_from=(0.0,), gap=0.3))
    q = draw(S.arrays(shape, lo=-4, hi=4))
    whole = np.rint(q)
    q = whole + S.push_away(q - whole, (0.0,), gap)  # the quotient, away from integers
    a = q * np.broadcast_to(b, shape)
    return Sample((a, b))


def _scalar_divisor_samples(b: float):
    multiples = tuple(k * b for k in range(-6, 7))
    return lambda: S.unary_samples(lo=-3, hi=3, away_from=multiples, gap=0.05)


op_db = [
    OpInfo("remainder", B.remainder, _quotient_samples, ref=np.remainder,
           kinks=B.RemainderFn.kinks),
    OpInfo("fmod", B.fmod, _quotient_samples, ref=np.fmod, kinks=B.FmodFn.kinks),
    OpInfo("mod_scalar", lambda a: a % 0.7, _scalar_divisor_samples(0.7),
           ref=lambda a: np.remainder(a, 0.7), kinks=B.RemainderFn.kinks),
    OpInfo("floor_divide", lambda a, b: a // b, _quotient_samples, ref=np.floor_divide,
           kinks=B.DivRoundedFn.kinks),
    OpInfo("div_trunc", lambda a, b: div(a, b, rounding_mode="trunc"), _quotient_samples,
           ref=lambda a, b: np.trunc(a / b), kinks=B.DivRoundedFn.kinks),
    OpInfo("div_floor", lambda a, b: div(a, b, rounding_mode="floor"), _quotient_samples,
           ref=np.floor_divide, kinks=B.DivRoundedFn.kinks),
]
