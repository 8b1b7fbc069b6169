"""Numba CPU kernels: plain arrays in, plain arrays out, no Tensors.

One module per shape of work (``conv``, ``pool``, ``activation`` ...). Kernels are
``@njit(cache=True)`` and compile on first call (never at import), caching to disk.
"""
