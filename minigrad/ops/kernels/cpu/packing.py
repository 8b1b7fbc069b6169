"""Packing arrays for the register tiles (``microkernels.py``): transposed copies through the
transpose tile, and rows padded to whole vectors.

A matmul tile reads its right-hand operand as row-major rows of whole vectors. A product with a
transposed operand (``q @ k.T``, ``w @ x.T``) therefore first needs ``k.T`` as rows:
:func:`transposed` copies it through ``L x L`` register blocks (4 shuffle stages per block
instead of a strided scalar loop: 3x faster for (512, 64) float32), and :func:`padded` widens
rows that are not a whole number of vectors. :func:`transposed` is also the recurrent cells'
transposed copy (``(w @ x.T).T`` as a C-ordered array).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from minigrad.ops.kernels.cpu._jit import kernel
from minigrad.ops.kernels.cpu.microkernels import LANES_BYTES, lanes, transpose_tile

__all__ = ["transposed", "padded"]

_TRANSPOSE = transpose_tile()


@njit(cache=True, nogil=True)
def _transpose_row(x, b, xt):
    """``xt[b]: (C, Sp) = x[b].T`` for ``x: (B, S, C)``, zeros in columns S..Sp."""
    n, c_all = x.shape[1], x.shape[2]
    sp = xt.shape[2]
    nl = LANES_BYTES // x.itemsize
    xf, xtf = x.ravel(), xt.ravel()
    x0, t0 = b * n * c_all, b * c_all * sp
    jf, cf = n - n % nl, c_all - c_all % nl  # whole blocks of nl x nl
    for j in range(0, jf, nl):
        for c in range(0, cf, nl):
            _TRANSPOSE(xf, x0 + j * c_all + c, c_all, xtf, t0 + c * sp + j, sp)
    for c in range(c_all):
        col = xt[b, c]
        for j in range(jf if c < cf else 0, n):
            col[j] = x[b, j, c]
        for j in range(n, sp):
            col[j] = 0.0


@kernel
def _transpose_rows(x, xt):
    """:func:`_transpose_row` for every batch row, in parallel."""
    for b in prange(x.shape[0]):
        _transpose_row(x, b, xt)


def transposed(x: np.ndarray, pad: bool = True) -> np.ndarray:
    """``x: (B, S, C)`` (or ``(S, C)``), C-contiguous, transposed per batch row: ``(B, C, Sp)``
    (or ``(C, Sp)``), C-contiguous, with ``Sp = S`` rounded up to whole vectors and zeros in the
    extra columns (``pad=False``: ``Sp = S``, an exact transpose). float32 or float64 (the ops
    that call it accept no other)."""
    x3 = x if x.ndim == 3 else x[None]
    n = x3.shape[1]
    sp = -(-n // lanes(x.dtype)) * lanes(x.dtype) if pad else n
    xt = np.empty((x3.shape[0], x3.shape[2], sp), dtype=x.dtype)
    # batch rows are the parallel loop's items: one row runs serially (a parallel launch for
    # nothing wakes Numba's workers, which then compete with OpenBLAS's still-spinning ones)
    (_transpose_rows if x3.shape[0] > 1 else _transpose_rows.serial)(x3, xt)
    return xt if x.ndim == 3 else xt[0]


def padded(x: np.ndarray) -> np.ndarray:
    """``x: (B, S, C)`` itself when C is a whole number of vectors, else a copy with zero
    columns up to one (a right-hand operand, or an output, of the register tiles)."""
    nl = lanes(x.dtype)
    if x.shape[2] % nl == 0:
        return x
    out = np.zeros((*x.shape[:2], -(-x.shape[2] // nl) * nl), dtype=x.dtype)
    out[:, :, :x.shape[2]] = x
    return out
