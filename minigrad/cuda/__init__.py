"""GPU support: ``minigrad.cuda.is_available()``, the device-array type, and strictness switches.

A tensor on the GPU keeps its storage in a :class:`CudaArray`, a NumPy-like array in device
memory whose arithmetic, reductions, indexing and matmul run as numba.cuda kernels (see
``minigrad/cuda/array.py`` for why numba.cuda and not CuPy). The op-level kernels (convolution,
pooling, activations, softmax, losses, batch norm, dropout, optimizers) live beside their CPU
twins in ``minigrad/ops/kernels/cuda/``.

Nothing here imports ``numba.cuda`` or touches a GPU at ``import minigrad``: the driver is loaded
on the first GPU call. Install the GPU support with ``pip install "minigrad[cuda]"``. Setting
``NUMBA_ENABLE_CUDASIM=1`` before the first import runs every kernel in numba's CUDA simulator on
the CPU (slowly): that is how the test-suite covers the GPU code on machines without one.
"""

from __future__ import annotations

import functools
import os
from typing import Any

from minigrad.cuda.array import (
    CudaArray,
    HostFallbackError,
    fallback_counts,
    is_cuda_array,
    reset_fallback_counts,
    strict,
)

__all__ = [
    "CudaArray",
    "CudaUnavailableError",
    "HostFallbackError",
    "device_count",
    "fallback_counts",
    "is_available",
    "is_cuda_array",
    "is_simulator",
    "require",
    "reset_fallback_counts",
    "strict",
    "synchronize",
]

INSTALL_HINT = 'install the GPU support with: pip install "minigrad[cuda]" (numba-cuda)'


class CudaUnavailableError(RuntimeError):
    """Raised when a GPU is asked for and none can be used; the message says why."""


@functools.cache
def _probe() -> tuple[bool, str]:
    """(usable, reason): import numba.cuda and look for a device, once per process."""
    try:
        from numba import cuda
    except Exception as e:  # noqa: BLE001 - a missing or broken package both mean "no GPU"
        return False, f"numba.cuda could not be imported ({type(e).__name__}: {e}); {INSTALL_HINT}"
    try:
        ok = bool(cuda.is_available())
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


def is_simulator() -> bool:
    """True when numba.cuda runs in its CPU simulator (``NUMBA_ENABLE_CUDASIM=1``)."""
    return os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0")


def require(what: str = "cuda") -> Any:
    """The ``numba.cuda`` module, or :class:`CudaUnavailableError` naming ``what`` asked for it."""
    ok, why = _probe()
    if not ok:
        raise CudaUnavailableError(f"{what}: CUDA is not available: {why}")
    from numba import cuda

    return cuda


def device_count() -> int:
    """Number of visible CUDA devices (0 when CUDA is unavailable)."""
    if not is_available():
        return 0
    from numba import cuda

    return len(cuda.gpus)


def synchronize() -> None:
    """Wait for every kernel launched so far to finish (for timing; results never need it)."""
    if is_available():
        from numba import cuda

        cuda.synchronize()
