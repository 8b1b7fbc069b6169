"""The specialised 2x2 / stride-2 pooling kernels against plain NumPy loops and against the
general kernels they shortcut: odd sizes, ties, NaN, layouts, the parallel path, and backward
buffers that are zeroed inside the kernel."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minigrad.ops.kernels.cpu import pool as K
from tests.test_pool import ref_avg_pool, ref_max_pool


def _x(shape, dtype, seed, ties, nans):
    rng = np.random.default_rng(seed)
    x = (rng.integers(-2, 3, shape) if ties else rng.standard_normal(shape)).astype(dtype)
    if nans:
        x.flat[rng.integers(0, x.size, max(1, x.size // 7))] = np.nan
    return x


@given(
    st.integers(1, 2), st.integers(1, 3), st.integers(2, 9), st.integers(2, 9),
    st.sampled_from([np.float32, np.float64]), st.booleans(), st.booleans(), st.booleans(),
    st.integers(0, 99),
)
def test_2x2_stride2_pooling_matches_loops(n, c, h, w, dtype, ties, nans, transposed, seed):
    x = _x((n, c, h, w), dtype, seed, ties, nans)
    if transposed:  # a non-contiguous input of the same values
        x = np.ascontiguousarray(x.transpose(0, 1, 3, 2)).transpose(0, 1, 3, 2)
    geo = ((2, 2), (2, 2), (0, 0))
    y, idx = K.max_pool2d_forward(x, *geo)
    ry, ridx = ref_max_pool(x, *geo)
    # where the window holds NaN the reference (plain >) does not pick it: compare elsewhere and
    # check the NaN convention (the first NaN in row-major order) directly
    planes = x.reshape(n * c, h * w)
    for (b, ch, i, j), at in np.ndenumerate(idx):
        win = [(2 * i + r) * w + 2 * j + q for r in (0, 1) for q in (0, 1)]
        vals = planes[b * c + ch, win]
        if np.isnan(vals).any():
            assert at == win[int(np.argmax(np.isnan(vals)))] and np.isnan(y[b, ch, i, j])
        else:
            assert at == ridx[b, ch, i, j] and y[b, ch, i, j] == ry[b, ch, i, j]
    assert y.dtype == dtype and idx.dtype == np.int64
    ya = K.avg_pool2d_forward(x, *geo)
    np.testing.assert_allclose(ya, ref_avg_pool(x, *geo, True), rtol=1e-6, equal_nan=True)
    assert ya.dtype == dtype
    # avg backward: gy / 4 on each window's four inputs, 0 on an odd last row / column
    gy = _x(ya.shape, dtype, seed + 1, False, False)
    expected = np.zeros(x.shape)
    expected[:, :, : 2 * (h // 2), : 2 * (w // 2)] = np.repeat(np.repeat(gy, 2, 2), 2, 3) / 4
    gx = K.avg_pool2d_backward(gy, (h, w), *geo)
    np.testing.assert_allclose(gx, expected, rtol=1e-6)
    assert gx.dtype == dtype
    # the general (table) avg kernels give the same numbers on the same geometry
    tables = K._avg_tables((h, w), *geo, True)
    np.testing.assert_allclose(K._mean_backward(gy, (h, w), tables), gx, rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_2x2_stride2_parallel_path(dtype):
    x = _x((4, 16, 31, 30), dtype, 3, False, False)  # above the parallel threshold, odd H
    y, idx = K.max_pool2d_forward(x, (2, 2), (2, 2), (0, 0))
    ry, ridx = ref_max_pool(x[:2, :3], (2, 2), (2, 2), (0, 0))
    np.testing.assert_array_equal(y[:2, :3], ry)
    np.testing.assert_array_equal(idx[:2, :3], ridx)
    gy = _x(y.shape, dtype, 4, False, False)
    gx = K.scatter_add_planes(gy, idx, (31, 30))
    # every input gets the gradient of the window it is the argmax of, else 0 (garbage from a
    # reused buffer would show up here)
    expected = np.zeros(x.shape, dtype)
    np.put_along_axis(expected.reshape(64, -1), idx.reshape(64, -1), gy.reshape(64, -1), 1)
    np.testing.assert_array_equal(gx, expected)
    gxa = K.avg_pool2d_backward(gy, (31, 30), (2, 2), (2, 2), (0, 0))
    assert (gxa[:, :, 30] == 0).all()
    np.testing.assert_allclose(gxa[:, :, :30], np.repeat(np.repeat(gy, 2, 2), 2, 3) / 4, rtol=1e-6)
