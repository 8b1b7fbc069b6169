"""The register tiles of ``minigrad/ops/kernels/cpu/microkernels.py`` used by attention, against
NumPy: the matmul tile (every tile shape the kernels use, A read transposed or not, zero taps,
written or added) and the transpose tile, float32 and float64. The rows and dots tiles are
tested through the convolutions that use them (tests/test_conv_fastpaths.py)."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit

from minigrad.ops.kernels.cpu.microkernels import lanes, matmul_shape, matmul_tile, transpose_tile

rng = np.random.default_rng(0)
KB, VB = matmul_shape()
SHAPES = sorted({(KB, VB), (KB, 1), (1, VB), (1, 1)})
_TILES = {(*shape, add): matmul_tile(*shape, add=add) for shape in SHAPES for add in (False, True)}


def _caller(tile):
    @njit
    def call(b, b0, bstep, ntaps, a, a0, astep, apitch, c, c0, cpitch):
        tile(b, b0, bstep, ntaps, a, a0, astep, apitch, c, c0, cpitch)

    return call


_CALLERS = {shape: _caller(tile) for shape, tile in _TILES.items()}
_TRANSPOSE = transpose_tile()


@njit
def _transpose(src, s0, spitch, dst, d0, dpitch):
    _TRANSPOSE(src, s0, spitch, dst, d0, dpitch)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("transposed", [False, True])
@pytest.mark.parametrize("ntaps", [0, 1, 37])
@pytest.mark.parametrize("add", [False, True])
def test_matmul_tile_is_a_block_of_a_matrix_product(dtype, shape, transposed, ntaps, add):
    kb, vb = shape
    width = vb * lanes(dtype)
    a = rng.standard_normal((kb, ntaps)).astype(dtype)
    b = rng.standard_normal((ntaps, width + 5)).astype(dtype)  # rows 5 values longer than read
    # A stored with 3 values before it, either row-major or column-major (then astep = kb + 2)
    if transposed:
        store = np.zeros((ntaps, kb + 2), dtype=dtype)
        store[:, :kb] = a.T
        a0, astep, apitch = 3, kb + 2, 1
    else:
        store = np.zeros((kb, ntaps + 2), dtype=dtype)
        store[:, :ntaps] = a
        a0, astep, apitch = 3, 1, ntaps + 2
    aflat = np.concatenate([np.full(3, np.nan, dtype), store.ravel()])
    bflat = np.concatenate([np.full(2, np.nan, dtype), b.ravel()])
    c = np.full((kb + 1, width + 7), -7.0, dtype=dtype)
    cflat = c.ravel()
    _CALLERS[(*shape, add)](bflat, 2, width + 5, ntaps, aflat, a0, astep, apitch, cflat,
                            width + 7 + 1, width + 7)
    want = a.astype(np.float64) @ b[:, :width].astype(np.float64) + (-7.0 if add else 0.0)
    tol = 1e-12 if dtype == np.float64 else 2e-5
    np.testing.assert_allclose(c[1:, 1:width + 1], want, rtol=tol, atol=tol)
    untouched = np.ones(c.shape, bool)
    untouched[1:, 1:width + 1] = False
    assert (c[untouched] == -7.0).all()  # nothing written outside the tile


def test_matmul_tile_propagates_inf_and_nan():
    dtype = np.float32
    n = lanes(dtype)
    a = np.array([1.0, 0.0, 2.0], dtype)
    b = np.ones((3, n), dtype)
    b[0, 0], b[1, 1] = np.inf, np.nan
    c = np.zeros(n, dtype)
    _CALLERS[(1, 1, False)](b.ravel(), 0, n, 3, a, 0, 1, 3, c, 0, n)
    assert c[0] == np.inf and np.isnan(c[1])  # 0 * nan is nan, as in the scalar loop
    assert (c[2:] == 3.0).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_transpose_tile(dtype):
    n = lanes(dtype)
    src = rng.standard_normal((n + 3, n + 5)).astype(dtype)
    dst = np.zeros((n + 2, n + 4), dtype=dtype)
    _transpose(src.ravel(), (n + 5) + 2, n + 5, dst.ravel(), 1, n + 4)
    np.testing.assert_array_equal(dst[:n, 1:n + 1], src[1:n + 1, 2:n + 2].T)
    dst[:n, 1:n + 1] = 0
    assert (dst == 0).all()


# ------------------------------------------------------------------------------------------------
# packing (packing.py): transposed copies through the tile, edges by scalar loops


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1, 5, 3), (1, 1024, 32), (3, 37, 21), (2, 16, 16), (4, 33, 70)])
@pytest.mark.parametrize("pad", [False, True])
def test_transposed_is_a_padded_transpose_per_batch_row(dtype, shape, pad):
    from minigrad.ops.kernels.cpu.packing import transposed

    x = (rng.standard_normal(shape) * 10).astype(dtype)
    xt = transposed(x, pad=pad)
    n, nl = shape[1], lanes(dtype)
    assert xt.flags.c_contiguous and xt.shape[:2] == (shape[0], shape[2])
    assert xt.shape[2] == (-(-n // nl) * nl if pad else n)
    np.testing.assert_array_equal(xt[:, :, :n], x.transpose(0, 2, 1))
    assert (xt[:, :, n:] == 0).all()
    np.testing.assert_array_equal(transposed(x[0], pad=pad), xt[0])  # 2-D in, 2-D out


def test_recurrent_cells_transposed_products():
    from minigrad.ops.kernels.cpu import rnn

    a = rng.standard_normal((7, 19)).astype(np.float32)
    w = rng.standard_normal((45, 19)).astype(np.float32)
    got = rnn.times_transposed(a, w)
    assert got.flags.c_contiguous
    np.testing.assert_allclose(got, a @ w.T, rtol=1e-5, atol=1e-5)
    wt = rnn.transposed_copy(w[:, ::2])  # a strided view is copied first
    assert wt.flags.c_contiguous
    np.testing.assert_array_equal(wt, w[:, ::2].T)
