"""Post-op passes of the fused layer ops (``minigrad.ops.fused``), in place over a layer's output.

    relu_(y)               y = relu(y)                  y: any shape, C-contiguous
    bias_relu_(y, bias)    y = relu(y + bias)           y: (M, K) C-contiguous, bias: (K,) or None

ReLU is minigrad's scalar relu (``0 if v <= 0 else v``: -0.0 becomes 0.0, NaN passes), so a
fused op gives the unfused chain's values bit for bit. Writing into the layer's own output is
the point: the unfused chain allocates and fills a second array of the same size.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from minigrad.ops.kernels import api
from minigrad.ops.kernels.cpu._jit import kernel

__all__ = list(api.FUSED)


@kernel
def _relu_flat(y):
    for i in prange(y.size):
        v = y[i]
        y[i] = 0 if v <= 0 else v


@kernel
def _bias_relu_rows(y, bias):
    m, k = y.shape
    for i in prange(m):
        for j in range(k):
            v = y[i, j] + bias[j]
            y[i, j] = 0 if v <= 0 else v


def relu_(y: np.ndarray) -> np.ndarray:
    """``y = relu(y)`` in place (y C-contiguous, float); returns y."""
    _relu_flat(y.reshape(-1))
    return y


def bias_relu_(y: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    """``y = relu(y + bias)`` in place, y: (M, K) C-contiguous, bias: (K,) of y's dtype or None;
    returns y."""
    if bias is None:
        return relu_(y)
    _bias_relu_rows(y, np.ascontiguousarray(bias, dtype=y.dtype))
    return y
