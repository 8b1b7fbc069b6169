"""The upsampling and dense-prediction ops on GPU tensors against the same ops on CPU tensors
(strict mode: no host fallback), every mode and option: interpolate, unfold/fold, pooling with
ceil_mode/dilation/count_include_pad/divisor_override, adaptive max pooling (indices included),
ConvTranspose1d and pixel shuffle. The registry's parity test draws two samples per op; these
pin each kernel variant. Tiny shapes: the simulator runs every GPU thread as a Python thread."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn.functional as F

# test_cuda_ops' autouse fixtures (skip without CUDA or its simulator; strict mode) apply here too
from tests.test_cuda_ops import _distinct, _need_cuda, _r, _strict, parity  # noqa: F401

pytestmark = pytest.mark.cuda


@pytest.mark.parametrize("kw", [
    dict(scale_factor=2, mode="nearest"),
    dict(size=(3, 7), mode="nearest-exact"),
    dict(scale_factor=(1.5, 0.7), mode="bilinear"),
    dict(size=(5, 4), mode="bilinear", align_corners=True),
    dict(size=(2, 3), mode="area"),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_interpolate_2d(kw, dtype):
    parity(lambda x: F.interpolate(x, **kw), _r(2, 3, 4, 5), dtype=dtype)


def test_interpolate_1d():
    parity(lambda x: F.interpolate(x, scale_factor=2.5, mode="linear"), _r(2, 3, 4))
    parity(lambda x: F.interpolate(x, size=3, mode="nearest"), _r(2, 3, 7))


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                dict(kernel_size=(2, 3), dilation=(2, 1), stride=(2, 1))])
def test_unfold_and_fold(kw):
    parity(lambda x: F.unfold(x, **kw), _r(2, 3, 5, 6))
    cols = F.unfold(mg.tensor(_r(2, 3, 5, 6)), **kw)
    parity(lambda c: F.fold(c, (5, 6), **kw), _r(*cols.shape))


@pytest.mark.parametrize("kw", [dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
                                dict(kernel_size=(2, 3), stride=2, dilation=(2, 1), padding=1),
                                dict(kernel_size=2, stride=2, ceil_mode=True)])
def test_max_pool_options(kw):
    parity(lambda x: F.max_pool2d(x, return_indices=True, **kw), _distinct(2, 2, 7, 5))


@pytest.mark.parametrize("kw", [
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
    dict(kernel_size=2, stride=2, ceil_mode=True, divisor_override=3),
])
def test_avg_pool_options(kw):
    parity(lambda x: F.avg_pool2d(x, **kw), _r(2, 2, 7, 5))


def test_1d_and_adaptive_pooling():
    parity(lambda x: F.max_pool1d(x, 3, 2, 1, 2, True, True), _distinct(2, 2, 9))
    parity(lambda x: F.avg_pool1d(x, 3, 2, 1, True, False), _r(2, 2, 9))
    parity(lambda x: F.adaptive_max_pool2d(x, (3, 2), return_indices=True), _distinct(2, 2, 7, 5))
    parity(lambda x: F.adaptive_max_pool1d(x, 4, return_indices=True), _distinct(2, 2, 9))
    parity(lambda x: F.adaptive_avg_pool1d(x, 4), _r(2, 2, 9))


def test_conv_transpose1d_and_pixel_shuffle():
    parity(lambda x, w, b: F.conv_transpose1d(x, w, b, stride=2, padding=1, output_padding=1),
           _r(2, 4, 5), _r(4, 3, 3), _r(3))
    parity(lambda x: F.pixel_unshuffle(F.pixel_shuffle(x, 2), 2), _r(2, 8, 3, 2))
