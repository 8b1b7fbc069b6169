"""Helpers shared by the CUDA kernel modules: lazy numba.cuda import, staging, launch sizes."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

cuda: Any = None  # numba.cuda, bound on first use (see load_cuda)

FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


@functools.cache
def load_cuda() -> Any:
    """The ``numba.cuda`` module, imported on first use (so importing minigrad needs no GPU).

    Kernel modules bind it to a module-level global named ``cuda`` before defining kernels:
    the simulator swaps in its fake ``cuda`` module only through module globals that hold the
    real one (a closure variable would keep pointing at the real module).
    """
    from numba import cuda as _cuda

    return _cuda


def is_device_array(a: Any) -> bool:
    """A numba device array (real or simulated) or any ``__cuda_array_interface__`` object.

    The simulator's arrays have no ``__cuda_array_interface__``, hence ``is_cuda_ndarray``.
    """
    if hasattr(a, "__cuda_array_interface__"):
        return True
    return type(a).__module__.startswith("numba") and load_cuda().devicearray.is_cuda_ndarray(a)


def from_device(d: Any) -> Any:
    """A C-contiguous numba device array (what the kernels return) as a ``CudaArray``
    sharing its memory, so op code can return it as tensor storage."""
    from minigrad.cuda.array import CudaArray

    return CudaArray(d.reshape(d.size), tuple(d.shape), d.dtype)


def device_zeros(shape: Any, dtype: Any) -> Any:
    """A zero-filled numba device array, filled on the device (no host buffer is copied)."""
    from minigrad.cuda.array import zeros

    return zeros(shape, dtype).device_view()


def to_device(a: Any, dtype: np.dtype | None = None, *, op: str = "cuda kernel",
              name: str = "x") -> Any:
    """Device view of ``a`` (device arrays pass through, NumPy arrays are copied over).

    ``dtype``: required dtype; NumPy inputs are converted, device inputs must already match
    (converting on the device would hide a copy). Device inputs must be C-contiguous.
    """
    cu = load_cuda()
    from minigrad.cuda.array import CudaArray

    if type(a) is CudaArray:
        a = a.device_view()
    if is_device_array(a):
        d = a if cu.devicearray.is_cuda_ndarray(a) else cu.as_cuda_array(a)
        if dtype is not None and d.dtype != np.dtype(dtype):
            raise TypeError(f"{op}: {name} has dtype {d.dtype}, expected {np.dtype(dtype)}")
        if not d.is_c_contiguous():
            raise ValueError(f"{op}: device array {name} {d.shape} must be C-contiguous")
        return d
    h = np.ascontiguousarray(a, dtype=dtype)
    return cu.to_device(h)


def float_dtype(a: Any, *, op: str, name: str = "x") -> np.dtype:
    dt = np.dtype(a.dtype)
    if dt not in FLOATS:
        raise TypeError(f"{op}: {name} must be float32 or float64, got {dt}")
    return dt


def common_float(*arrays: Any, op: str) -> np.dtype:
    dt = np.result_type(*(np.dtype(a.dtype) for a in arrays))
    if dt not in FLOATS:
        raise TypeError(f"{op}: inputs must be float32 or float64, got "
                        f"{[str(a.dtype) for a in arrays]}")
    return dt


def launch(n: int, threads: int) -> tuple[int, int]:
    """(blocks, threads) for a grid-stride kernel over ``n`` items. Under the simulator (every
    thread a Python thread) one 32-thread block; the grid-stride loop does the rest."""
    from minigrad.cuda._launch import _sim

    if _sim():
        return 1, min(threads, 32)
    return blocks_for(n, threads), threads


def blocks_for(n: int, threads: int, cap: int = 65535 * 32) -> int:
    """1-D grid size for ``n`` items, ``threads`` per block; kernels use grid-stride loops."""
    return max(1, min(cap, (n + threads - 1) // threads))
