"""Independent matrix products of one op, side by side on the CPU's cores.

An LSTM cell's step is two products, ``x W_ih^T`` and ``h W_hh^T`` (four in its backward). For
the sizes recurrent nets use (a batch of 32, 256 hidden units: (1024, 256) @ (256, 32)) OpenBLAS
splits one such product over two threads poorly, and the two products run one after the other.
:func:`matmuls` gives each product a thread of its own instead, with OpenBLAS limited to one
thread meanwhile (:func:`conv_split.split`, as the convolution and attention kernels split their
batches), when the products are large enough to repay the hand-off (``conv_split.SPLIT_FLOPS``
each); smaller ones run in order, with BLAS's own threads.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from minigrad.ops.kernels import api
from minigrad.ops.kernels.cpu import conv_split

__all__ = list(api.BLAS)


def matmuls(pairs: Sequence[tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
    """``[a @ b for a, b in pairs]`` for 2-D arrays a: (M, K), b: (K, N) (any strides), the
    products in threads when they are large enough."""
    flops = sum(2 * a.shape[0] * a.shape[1] * b.shape[1] for a, b in pairs)
    parts = conv_split.split(len(pairs), lambda lo, hi: [a @ b for a, b in pairs[lo:hi]], flops)
    return [p for part in parts for p in part]
