"""Fused layer + ReLU ops (``minigrad.ops.fused``): drawn like the layers they fuse, with the
pre-activation kept away from ReLU's kink; the references are the unfused compositions on the
NumPy loops (:mod:`minigrad.testing.conv_reference`) and ``x @ w.T + b``."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from minigrad.ops.fused import Conv2dReluFn, LinearReluFn, conv2d_relu, linear_relu
from minigrad.testing import conv_reference as R
from minigrad.testing import strategies as S
from minigrad.testing.opinfo.conv import _conv_samples
from minigrad.testing.opinfo.core import OpInfo, Sample

# how far every pre-activation stays from ReLU's kink (finite differences step 1e-6)
_GAP = 1e-3


def _relu(a: np.ndarray) -> np.ndarray:
    return np.where(a > 0, a, 0.0)


def _conv2d_relu_ref(x, w, b=None, **kwargs):
    return _relu(R.conv2d(x, w, b, **kwargs))


def _linear_relu_ref(x, w, b=None):
    y = x @ w.T
    return _relu(y if b is None else y + b)


def _conv2d_relu_samples():
    @st.composite
    def sample(draw):
        s = draw(_conv_samples(2))
        assume(np.abs(R.conv2d(*s.args, **s.kwargs)).min() > _GAP)
        return s

    return sample()


def _linear_relu_samples():
    @st.composite
    def sample(draw):
        lead = draw(st.lists(st.integers(1, 3), min_size=0, max_size=2), label="batch_shape")
        n_in = draw(st.integers(1, 4), label="in_features")
        n_out = draw(st.integers(1, 4), label="out_features")
        args: tuple[Any, ...] = (draw(S.arrays((*lead, n_in)), label="input"),
                                 draw(S.arrays((n_out, n_in)), label="weight"))
        if draw(st.booleans(), label="bias"):
            args += (draw(S.arrays((n_out,)), label="bias"),)
        pre = args[0] @ args[1].T + (args[2] if len(args) == 3 else 0.0)
        assume(np.abs(pre).min() > _GAP)
        return Sample(args=args)

    return sample()


op_db = [
    OpInfo("conv2d_relu", conv2d_relu, _conv2d_relu_samples, ref=_conv2d_relu_ref,
           kinks=Conv2dReluFn.kinks),
    OpInfo("linear_relu", linear_relu, _linear_relu_samples, ref=_linear_relu_ref,
           kinks=LinearReluFn.kinks),
]
