"""What the CUDA kernel modules share above the runtime: arrays in (host arrays, numba device
arrays or ``CudaArray``), ``CudaArray`` out, and the dtype checks.

The runtime itself (loading numba.cuda, launches, transfers, the block reduction) is
``minigrad/cuda/_runtime.py``, at the bottom of the package.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minigrad.cuda._runtime import as_device_array, is_device_array
from minigrad.cuda.array import CudaArray, zeros

__all__ = ["FLOATS", "common_float", "device_zeros", "float_dtype", "from_device",
           "is_device_array", "to_device"]

FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def to_device(a: Any, dtype: np.dtype | None = None, *, op: str = "cuda kernel",
              name: str = "x") -> Any:
    """A numba device view of ``a``: a ``CudaArray``'s buffer in its shape, a device array as
    it is, a host array copied over (see ``_runtime.as_device_array`` for ``dtype``)."""
    if type(a) is CudaArray:
        a = a.device_view()
    return as_device_array(a, dtype, op=op, name=name)


def from_device(d: Any, shape: tuple[int, ...] | None = None) -> CudaArray:
    """A C-contiguous numba device array (what the kernels write) as a ``CudaArray`` sharing its
    memory, in ``shape`` (default: its own; ``()`` for a 0-d result kept as (1,) on the device)."""
    return CudaArray(d.reshape(d.size), tuple(d.shape) if shape is None else tuple(shape),
                     d.dtype)


def device_zeros(shape: Any, dtype: Any) -> Any:
    """A zero-filled numba device array, filled on the device (no host buffer is copied)."""
    return zeros(shape, dtype).device_view()


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
