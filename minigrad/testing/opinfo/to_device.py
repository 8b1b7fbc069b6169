"""Moving between devices: the round trip host -> GPU -> host, checked like every other op.

Needs a GPU or the simulator (the test-suite runs with NUMBA_ENABLE_CUDASIM=1 unless told to use a
real GPU).
"""

from __future__ import annotations

from minigrad.testing import strategies as S
from minigrad.testing.opinfo.core import OpInfo

op_db = [
    OpInfo("to_device", lambda x: x.cuda().cpu(), lambda: S.unary_samples(lo=-2.0, hi=2.0),
           ref=lambda x: x),
]
