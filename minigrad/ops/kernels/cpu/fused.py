"""Post-op passes of the fused layer ops (``minigrad.ops.fused``), in place over a layer's output.

    relu_(y)               y = relu(y)                  y: any shape, C-contiguous
    bias_relu_(y, bias)    y = relu(y + bias)           y: (M, K) C-contiguous, bias: (K,) or None
    relu_max_pool2d(y, ...)  max_pool2d(relu(y)) and its argmax (y may be overwritten)

ReLU is minigrad's scalar relu (``0 if v <= 0 else v``: -0.0 becomes 0.0, NaN passes), so a
fused op gives the unfused chain's values bit for bit. Writing into the layer's own output is
the point: the unfused chain allocates and fills a second array of the same size.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from minigrad.ops.kernels import api
from minigrad.ops.kernels.cpu import pool
from minigrad.ops.kernels.cpu._jit import kernel

__all__ = list(api.FUSED)


@kernel
def _relu_flat(y, zero):
    for i in prange(y.size):
        v = y[i]
        y[i] = zero if v <= zero else v


@kernel
def _bias_relu_rows(y, bias, zero):
    m, k = y.shape
    for i in prange(m):
        for j in range(k):
            v = y[i, j] + bias[j]
            y[i, j] = zero if v <= zero else v


def relu_(y: np.ndarray) -> np.ndarray:
    """``y = relu(y)`` in place (y C-contiguous, float); returns y."""
    _relu_flat(y.reshape(-1), y.dtype.type(0))
    return y


def bias_relu_(y: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    """``y = relu(y + bias)`` in place, y: (M, K) C-contiguous, bias: (K,) of y's dtype or None;
    returns y."""
    if bias is None:
        return relu_(y)
    _bias_relu_rows(y, np.ascontiguousarray(bias, dtype=y.dtype), y.dtype.type(0))
    return y


def relu_max_pool2d(y: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int],
                    padding: tuple[int, int], dilation: tuple[int, int] = (1, 1),
                    ceil_mode: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``max_pool2d(relu(y))``: y (N, C, H, W) C-contiguous -> pooled (N, C, OH, OW) and the
    int64 argmax into each H*W plane, as ``pool.max_pool2d_forward`` gives them for relu(y).

    The 2x2 / stride 2 windows read y once (ReLU applied on the fly); other windows apply ReLU
    to y in place first (y is the caller's scratch). Geometry is trusted.
    """
    n, c, h, w = y.shape
    if tuple(dilation) == (1, 1) and pool._is_2x2(kernel, stride, padding, (h, w), ceil_mode):
        oh, ow = h // 2, w // 2
        out = np.empty((n * c, oh, ow), dtype=y.dtype)
        idx = np.empty(out.shape, dtype=np.int64)
        pool._max_pool_2x2_planes(y.reshape(n * c, h, w), out, idx, y.dtype.type(0))
        return out.reshape(n, c, oh, ow), idx.reshape(n, c, oh, ow)
    return pool.max_pool2d_forward(relu_(y), kernel, stride, padding, dilation, ceil_mode)
