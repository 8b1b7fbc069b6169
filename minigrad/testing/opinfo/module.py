"""The identity node a Module inserts for its full backward hooks (``BackwardHookFn``): a module
with observing hooks must back-propagate exactly what the same computation without hooks does.
The reference is the computation in NumPy."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from minigrad.nn.modules.module import Module
from minigrad.testing import strategies as S
from minigrad.testing.opinfo.core import OpInfo, Sample


class _Probe(Module):
    """tanh(x * w) with a full backward hook and a backward pre-hook that only look."""

    def __init__(self) -> None:
        super().__init__()
        self.seen = 0
        self.register_full_backward_pre_hook(self._look)
        self.register_full_backward_hook(self._look)

    def _look(self, module, *grads):
        self.seen += 1  # observes; returning None keeps the gradients

    def forward(self, x, w):
        return (x * w).tanh()


_PROBE = _Probe()


def _hooked(x, w):
    return _PROBE(x, w)


@st.composite
def _samples(d):
    shape = d(S.shapes(min_dims=1, max_dims=2))
    return Sample((d(S.arrays(shape)), d(S.arrays(shape))))


op_db = [
    OpInfo("module_backward_hooks", _hooked, _samples, ref=lambda x, w: np.tanh(x * w)),
]
