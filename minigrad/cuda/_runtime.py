"""The CUDA runtime every GPU module stands on; it imports nothing else from minigrad.

* loading ``numba.cuda`` on first use (:func:`load_cuda`, :func:`require`, :func:`is_available`),
  so that ``import minigrad`` needs no GPU and compiles nothing;
* the simulator check (:func:`is_simulator`, :func:`sim`);
* the one launch rule of every kernel (:func:`launch`): grid-stride loops, one small block under
  the simulator;
* transfers between host arrays and numba device arrays (:func:`as_device_array`);
* the block reduction in shared memory (:func:`block_reduce`), written once for every kernel
  that combines its threads' partial results;
* the inner step and the epilogue of a shared-memory tiled matrix product
  (:func:`tile_product`, :func:`tile_store`), shared by the GEMM of ``cuda/_linalg.py`` and the
  implicit-GEMM convolution kernels.

Kernel modules bind ``numba.cuda`` to a module-level global named ``cuda`` before their kernels
compile (``cuda = load_cuda()``): the simulator swaps in its per-thread fake ``cuda`` module only
through module globals that hold the real one (a closure variable would keep pointing at the real
module).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = [
    "CudaUnavailableError",
    "INSTALL_HINT",
    "THREADS",
    "as_device_array",
    "block_reduce",
    "blocks_for",
    "is_available",
    "is_device_array",
    "is_simulator",
    "launch",
    "load_cuda",
    "require",
    "sim",
    "tile_product",
    "tile_store",
]

INSTALL_HINT = 'install the GPU support with: pip install "minigrad[cuda]" (numba-cuda)'
THREADS = 256  # threads per block of the grid-stride kernels

cuda: Any = None  # numba.cuda, bound on first use (see the module docstring)


class CudaUnavailableError(RuntimeError):
    """Raised when a GPU is asked for and none can be used; the message says why."""


@functools.cache
def load_cuda() -> Any:
    """The ``numba.cuda`` module, imported on first use (so importing minigrad needs no GPU)."""
    global cuda
    from numba import cuda as _cuda

    cuda = _cuda
    return _cuda


@functools.cache
def _probe() -> tuple[bool, str]:
    """(usable, reason): import numba.cuda and look for a device, once per process."""
    try:
        from numba import cuda as _cuda
    except Exception as e:  # noqa: BLE001 - a missing or broken package both mean "no GPU"
        return False, f"numba.cuda could not be imported ({type(e).__name__}: {e}); {INSTALL_HINT}"
    try:
        ok = bool(_cuda.is_available())
    except Exception as e:  # noqa: BLE001 - driver errors mean "no GPU"
        return False, f"the CUDA driver failed to load ({type(e).__name__}: {e})"
    if not ok:
        return False, (
            "numba.cuda found no CUDA GPU (no device or no driver); if the machine has one, "
            f"check the driver; otherwise {INSTALL_HINT} on a GPU machine, or set "
            "NUMBA_ENABLE_CUDASIM=1 before importing minigrad to run on numba's CPU simulator"
        )
    return True, ""


def is_available() -> bool:
    """True when a CUDA GPU (or numba's CUDA simulator) can be used; never raises."""
    return _probe()[0]


def require(what: str = "cuda") -> Any:
    """The ``numba.cuda`` module, or :class:`CudaUnavailableError` naming ``what`` asked for it."""
    ok, why = _probe()
    if not ok:
        raise CudaUnavailableError(f"{what}: CUDA is not available: {why}")
    return load_cuda()


def is_simulator() -> bool:
    """True when numba.cuda runs in its CPU simulator (``NUMBA_ENABLE_CUDASIM=1``)."""
    return os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0")


@functools.cache
def sim() -> bool:
    """:func:`is_simulator`, read once: numba.cuda chooses the simulator at its first import."""
    return is_simulator()


# ------------------------------------------------------------------------------------------------
# launches


def blocks_for(n: int, threads: int, cap: int = 65535 * 32) -> int:
    """1-D grid size for ``n`` items, ``threads`` per block; kernels use grid-stride loops."""
    return max(1, min(cap, (n + threads - 1) // threads))


def launch(n: int, threads: int = THREADS) -> tuple[int, int]:
    """(blocks, threads) for a grid-stride kernel over ``n`` items. Under the simulator (every
    thread a Python thread) one block of at most 32 threads; the grid-stride loop does the rest."""
    if sim():
        return 1, min(threads, 32)
    return blocks_for(n, threads), threads


# ------------------------------------------------------------------------------------------------
# transfers


def is_device_array(a: Any) -> bool:
    """A numba device array (real or simulated) or any ``__cuda_array_interface__`` object.

    The simulator's arrays have no ``__cuda_array_interface__``, hence ``is_cuda_ndarray``.
    """
    if hasattr(a, "__cuda_array_interface__"):
        return True
    return type(a).__module__.startswith("numba") and load_cuda().devicearray.is_cuda_ndarray(a)


def as_device_array(a: Any, dtype: Any = None, *, op: str = "cuda kernel",
                    name: str = "x") -> Any:
    """A numba device array for ``a``: device arrays pass through, host arrays are copied over.

    ``dtype``: required dtype; host inputs are converted, device inputs must already match
    (converting on the device would hide a copy). Device inputs must be C-contiguous.
    """
    cu = load_cuda()
    if is_device_array(a):
        d = a if cu.devicearray.is_cuda_ndarray(a) else cu.as_cuda_array(a)
        if dtype is not None and d.dtype != np.dtype(dtype):
            raise TypeError(f"{op}: {name} has dtype {d.dtype}, expected {np.dtype(dtype)}")
        if not d.is_c_contiguous():
            raise ValueError(f"{op}: device array {name} {d.shape} must be C-contiguous")
        return d
    return cu.to_device(np.ascontiguousarray(a, dtype=dtype))


# ------------------------------------------------------------------------------------------------
# the block reduction


@functools.cache
def block_reduce(combine: Callable[[Any, Any], Any]) -> Any:
    """A device function ``reduce(buf, v)``: ``combine`` of every thread's ``v`` over the block,
    returned to every thread. ``combine``: a device function (associative for the result not to
    depend on the block size).

    ``buf``: a shared array of at least ``blockDim.x`` elements, a power of two; the tree halves
    the active threads each step. It ends with a barrier, so ``buf`` may be reused at once.
    """
    load_cuda()

    @cuda.jit(device=True)
    def reduce(buf, v):
        tid = cuda.threadIdx.x
        buf[tid] = v
        cuda.syncthreads()
        step = cuda.blockDim.x // 2
        while step > 0:
            if tid < step:
                buf[tid] = combine(buf[tid], buf[tid + step])
            cuda.syncthreads()
            step //= 2
        r = buf[0]
        cuda.syncthreads()  # everyone has read buf[0] before the next reduction writes
        return r

    return reduce


@functools.cache
def add() -> Any:
    """The device function ``a + b`` (the combine of sums)."""
    load_cuda()
    return cuda.jit(device=True)(_add)


def _add(a, b):
    return a + b


# ------------------------------------------------------------------------------------------------
# the inner step of a tiled matrix product


@functools.cache
def tile_product(bk: int, wm: int, wn: int, rows_step: int, cols_step: int) -> Any:
    """A device function ``product(acc, a_tile, b_tile, ty, tx)``: one K step of a tiled GEMM.

    Each thread of a ``rows_step x cols_step`` block owns ``wm x wn`` outputs of the block's
    tile, rows ``ty + rows_step * i`` and columns ``tx + cols_step * j``, accumulated in its
    local ``acc`` (wm, wn). The block has staged ``a_tile`` (bk, rows), stored transposed so a
    thread's rows are read as a broadcast, and ``b_tile`` (bk, cols) in shared memory; the
    function waits at a barrier for the staging to finish, adds
    ``acc[i, j] += sum over kk of a_tile[kk, row_i] * b_tile[kk, col_j]``, and waits at a second
    barrier, so the tiles may be overwritten at once. The sizes are compile-time constants.
    """
    load_cuda()

    @cuda.jit(device=True)
    def product(acc, a_tile, b_tile, ty, tx):
        cuda.syncthreads()
        for kk in range(bk):
            for i in range(wm):
                av = a_tile[kk, ty + rows_step * i]
                for j in range(wn):
                    acc[i, j] += av * b_tile[kk, tx + cols_step * j]
        cuda.syncthreads()

    return product


@functools.cache
def tile_store(wm: int, wn: int, rows_step: int, cols_step: int, store: Any) -> Any:
    """A device function ``write(acc, out, ctx, r0, c0, ty, tx, nrows, ncols)``: the epilogue of
    the tiled GEMM whose K steps :func:`tile_product` runs.

    The thread's ``acc[i, j]`` is element (row, col) of the ``nrows x ncols`` product, with
    ``row = r0 + ty + rows_step * i`` and ``col = c0 + tx + cols_step * j``; each one inside the
    product goes to ``store(out, ctx, row, col, value)``, a device function (``ctx``: whatever
    else it needs, such as an offset or a tuple of arrays).
    """
    load_cuda()

    @cuda.jit(device=True)
    def write(acc, out, ctx, r0, c0, ty, tx, nrows, ncols):
        for i in range(wm):
            row = r0 + ty + rows_step * i
            if row < nrows:
                for j in range(wn):
                    col = c0 + tx + cols_step * j
                    if col < ncols:
                        store(out, ctx, row, col, acc[i, j])

    return write
