"""Numba CPU kernels: plain arrays in, plain arrays out, no Tensors.

One module per shape of work (``conv``, ``pool``, ``activation`` ...), with the same names and
signatures as ``kernels/cuda``. Kernels are ``@njit(cache=True)`` and compile on first call
(never at import), caching to disk.
"""

from minigrad.ops.kernels.cpu import (
    activation,
    conv,
    dropout,
    embedding,
    fold,
    norm,
    pool,
    softmax,
    upsample,
)

# issue 15, sequence models (h15b)
from minigrad.ops.kernels.cpu import attention, rnn  # isort: skip

__all__ = ["activation", "conv", "dropout", "embedding", "fold", "norm", "pool", "softmax",
           "upsample", "attention", "rnn"]
