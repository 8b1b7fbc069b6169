"""Helpers shared by the CUDA kernel modules: lazy numba.cuda import, staging, launch sizes."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

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
    return hasattr(a, "__cuda_array_interface__")


def to_device(a: Any, dtype: np.dtype | None = None, *, op: str = "cuda kernel",
              name: str = "x") -> Any:
    """Device view of ``a`` (device arrays pass through, NumPy arrays are copied over).

    ``dtype``: required dtype; NumPy inputs are converted, device inputs must already match
    (converting on the device would hide a copy). Device inputs must be C-contiguous.
    """
    cu = load_cuda()
    if is_device_array(a):
        d = cu.as_cuda_array(a)
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


def blocks_for(n: int, threads: int, cap: int = 65535 * 32) -> int:
    """1-D grid size for ``n`` items, ``threads`` per block; kernels use grid-stride loops."""
    return max(1, min(cap, (n + threads - 1) // threads))
