"""Fused layer + ReLU ops (``minigrad.ops.fused``): drawn like the layers they fuse, with the
pre-activation kept away from ReLU's kink; the references are the unfused compositions on the
NumPy loops (:mod:`minigrad.testing.conv_reference`) and ``x @ w.T + b``."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from minigrad.ops.fused import (
    Conv2dReluFn,
    Conv2dReluMaxPool2dFn,
    LinearReluFn,
    conv2d_relu,
    conv2d_relu_max_pool2d,
    linear_relu,
)
from minigrad.testing import conv_reference as R
from minigrad.testing import strategies as S
from minigrad.testing.opinfo.conv import _conv_samples
from minigrad.testing.opinfo.core import OpInfo, Sample
from minigrad.testing.opinfo.pool import ref_max_pool

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


def _conv2d_relu_max_pool2d_ref(x, w, b=None, *, pool_kernel_size, pool_stride, pool_padding,
                                pool_dilation, ceil_mode, **kwargs):
    return ref_max_pool(_conv2d_relu_ref(x, w, b, **kwargs), pool_kernel_size, pool_stride,
                        pool_padding, pool_dilation, ceil_mode)


def _conv2d_relu_max_pool2d_samples():
    """A conv sample whose output is at least 2x2, then a max-pool over it (2x2 windows most
    often, LeNet's); pre-activations away from 0 and the window maxima apart from the rest."""

    @st.composite
    def sample(draw):
        s = draw(_conv_samples(2))
        pre = R.conv2d(*s.args, **s.kwargs)
        assume(min(pre.shape[2:]) >= 2 and np.abs(pre).min() > _GAP)
        k = draw(st.sampled_from([2, 2, (1, 2), 3]), label="pool_kernel")
        kk = (k, k) if isinstance(k, int) else k
        assume(all(kk[a] <= pre.shape[2 + a] for a in (0, 1)))
        stride = draw(st.sampled_from([None, 1]), label="pool_stride")
        pad = draw(st.integers(0, min(kk) // 2), label="pool_padding")
        pool = dict(pool_kernel_size=k, pool_stride=stride, pool_padding=pad, pool_dilation=1,
                    ceil_mode=draw(st.booleans(), label="ceil_mode"))
        # no near-ties of a window's maximum (finite differences would cross them)
        relu = np.where(pre > 0, pre, 0.0)
        vals = np.sort(relu.reshape(-1))
        gaps = np.diff(vals[vals > 0])
        assume(gaps.size == 0 or gaps.min() > _GAP)
        return Sample(args=s.args, kwargs={**s.kwargs, **pool})

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
    OpInfo("conv2d_relu_max_pool2d", conv2d_relu_max_pool2d, _conv2d_relu_max_pool2d_samples,
           ref=_conv2d_relu_max_pool2d_ref, kinks=Conv2dReluMaxPool2dFn.kinks),
    OpInfo("linear_relu", linear_relu, _linear_relu_samples, ref=_linear_relu_ref,
           kinks=LinearReluFn.kinks),
]
