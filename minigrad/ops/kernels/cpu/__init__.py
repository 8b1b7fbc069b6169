"""Numba CPU kernels: plain arrays in, plain arrays out, no Tensors.

One module per shape of work (``conv``, ``pool``, ``activation`` ...), with the same names and
signatures as ``kernels/cuda``. Kernels are ``@njit(cache=True)`` and compile on first call
(never at import), caching to disk.
"""

import importlib

from minigrad.ops.kernels import api

# one module per kernel family, as listed once in api.FAMILIES for both backends
for _family in api.FAMILIES:
    globals()[_family] = importlib.import_module(f"{__name__}.{_family}")
del _family

__all__ = [*api.FAMILIES]
