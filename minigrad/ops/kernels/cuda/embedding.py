"""Row gather and scatter-add on the GPU: the twins of ``kernels/cpu/embedding.py`` (same
functions, arguments and result shapes; results are ``CudaArray`` objects).

``gather_rows``: one thread per output element (grid-stride). ``scatter_add_rows``: one thread
per input element, adding into its output row with ``cuda.atomic.add`` (repeated indices may hit
one element from many threads); float additions in a varying order make the last bits of a sum
of many repeated rows vary between runs, as in PyTorch's CUDA embedding backward.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from minigrad.cuda._runtime import launch, load_cuda
from minigrad.ops.kernels import api
from minigrad.ops.kernels.cuda._common import float_dtype, from_device, to_device

cuda: Any = None  # numba.cuda, bound on first use (see minigrad/cuda/_runtime.py)

__all__ = list(api.EMBEDDING)

THREADS = 256


def _lookup(index, e, d):
    """(i, j, index[i]) for element e = i * d + j of an (n, d) array of looked-up rows: the
    element, and the table row it comes from or goes to (negative: none)."""
    i = e // d
    return i, e - i * d, index[i]


@functools.cache
def _kernels() -> dict[str, Any]:
    global cuda
    cuda = load_cuda()
    lookup = cuda.jit(device=True)(_lookup)

    @cuda.jit
    def gather(x, index, scale, out):
        n, d = out.shape
        for e in range(cuda.grid(1), n * d, cuda.gridsize(1)):
            i, j, r = lookup(index, e, d)
            out[i, j] = 0 if r < 0 else x[r, j] * scale[i]

    @cuda.jit
    def scatter_add(g, index, scale, out):
        n, d = g.shape
        for e in range(cuda.grid(1), n * d, cuda.gridsize(1)):
            i, j, r = lookup(index, e, d)
            if r >= 0:
                cuda.atomic.add(out, (r, j), g[i, j] * scale[i])

    return {"gather": gather, "scatter_add": scatter_add}


def _index(index: Any, op: str) -> Any:
    return to_device(index, np.int64, op=op, name="index")


def _scale(scale: Any, n: int, dtype: np.dtype, op: str) -> Any:
    from minigrad.cuda.array import CudaArray, full

    if scale is None:
        return to_device(full(n, 1, dtype), dtype, op=op, name="scale")
    if type(scale) is CudaArray and np.dtype(scale.dtype) != dtype:
        scale = scale.astype(dtype)
    return to_device(scale, dtype, op=op, name="scale")


def gather_rows(x: Any, index: Any, scale: Any = None) -> Any:
    """See ``kernels/cpu/embedding.gather_rows``: x (V, D), index (n,) -> (n, D)."""
    op = "embedding"
    dt = float_dtype(x, op=op)
    xd = to_device(x, dt, op=op, name="weight")
    idx = _index(index, op)
    n, d = idx.size, xd.shape[1]
    out = load_cuda().device_array((n, d), dtype=dt)
    if n * d:
        _kernels()["gather"][launch(n * d, THREADS)](xd, idx, _scale(scale, n, dt, op), out)
    return from_device(out)


def scatter_add_rows(g: Any, index: Any, num_rows: int, scale: Any = None) -> Any:
    """See ``kernels/cpu/embedding.scatter_add_rows``: g (n, D), index (n,) -> (num_rows, D)."""
    from minigrad.cuda.array import zeros

    op = "embedding_backward"
    dt = float_dtype(g, op=op)
    gd = to_device(g, dt, op=op, name="grad_output")
    idx = _index(index, op)
    n, d = gd.shape
    out = zeros((num_rows, d), dt)
    if n * d:
        _kernels()["scatter_add"][launch(n * d, THREADS)](gd, idx, _scale(scale, n, dt, op),
                                                          to_device(out, dt, op=op, name="out"))
    return out
