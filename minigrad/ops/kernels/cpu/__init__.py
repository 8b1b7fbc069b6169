"""Numba CPU kernels: plain arrays in, plain arrays out, no Tensors.

One module per shape of work (``conv``, ``pool``, ``activation`` ...), with the same names and
signatures as ``kernels/cuda``. Kernels are ``@njit(cache=True)`` and compile on first call
(never at import), caching to disk.
"""

from minigrad.ops.kernels import api
from minigrad.ops.kernels.cpu import (  # noqa: F401  (the names __all__ lists)
    activation,
    attention,
    conv,
    dropout,
    embedding,
    fold,
    norm,
    pool,
    rnn,
    scatter,
    softmax,
    upsample,
)

# one module per kernel family, as listed once in api.FAMILIES for both backends
__all__ = [*api.FAMILIES]
