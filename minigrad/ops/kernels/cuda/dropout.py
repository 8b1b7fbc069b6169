"""Dropout masks on the GPU.

Decision (issue 6): the keep/drop decisions are drawn on the HOST from minigrad's seeded
generator (``minigrad.random.generator()``), exactly as the CPU path draws them, so one seed
gives the same mask on both devices (the registry parity test relies on it). The boolean keep
mask crosses to the device as one byte per element (one host->device copy per call), and one
kernel turns it into the scaled float mask ``keep / (1 - p)`` in the input's dtype, which the op
multiplies in (so the gradient is the core multiply's).

The alternative, a device generator (``numba.cuda.random``'s xoroshiro128+ states, one per
thread), removes the copy and the host RNG time (~3 ms per million elements with NumPy's PCG64)
but gives different masks on the two devices for one seed. Kept for later if dropout shows up in
GPU profiles.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from minigrad.cuda._runtime import launch, load_cuda
from minigrad.ops.kernels import api
from minigrad.ops.kernels.cuda._common import from_device

__all__ = list(api.DROPOUT)

cuda: Any = None  # numba.cuda, bound by _kernel() on first use


def _scale_keep(keep, scale, out):
    for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        out[i] = scale if keep[i] else 0


@functools.cache
def _kernel() -> Any:
    global cuda
    cuda = load_cuda()
    return cuda.jit(_scale_keep)


def scaled_mask(keep: np.ndarray, scale: float, dtype: Any) -> Any:
    """``scale`` where ``keep`` (a host bool array), else 0: a ``CudaArray`` of keep's shape."""
    dt = np.dtype(dtype)
    cu = load_cuda()
    k = np.asarray(keep, dtype=np.bool_, order="C")
    out = cu.device_array(k.size, dtype=dt)
    if k.size:
        kd = cu.to_device(k.reshape(-1).view(np.uint8))
        _kernel()[launch(k.size)](kd, dt.type(scale), out)
    return from_device(out, k.shape)
