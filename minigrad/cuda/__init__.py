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

from minigrad.cuda._runtime import (  # noqa: F401 - INSTALL_HINT, _probe: for callers, tests
    INSTALL_HINT,
    CudaUnavailableError,
    _probe,
    is_available,
    is_simulator,
    load_cuda,
    require,
)
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


def device_count() -> int:
    """Number of visible CUDA devices (0 when CUDA is unavailable)."""
    if not is_available():
        return 0
    return len(load_cuda().gpus)


def synchronize() -> None:
    """Wait for every kernel launched so far to finish (for timing; results never need it)."""
    if is_available():
        load_cuda().synchronize()
