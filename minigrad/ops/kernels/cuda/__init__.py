"""numba.cuda kernels: device arrays in, device arrays out, no Tensors.

Same module names and argument conventions as ``kernels/cpu`` (``conv``, ``pool``, ``activation``,
``softmax``). Nothing here compiles or touches a GPU at import: ``numba.cuda`` is imported on the
first kernel call and each kernel is compiled on first use, once per dtype (and per variant).

Inputs may be NumPy arrays (copied to the device), ``CudaArray`` or CUDA device arrays (any
object with ``__cuda_array_interface__``; must be C-contiguous and of a float dtype). Outputs are
``minigrad.cuda.CudaArray``, shaped as the CPU kernels' results; ``.get()`` brings them back.

Developed against numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``, set before numba.cuda is
first imported); the same code runs on a real GPU.
"""

from __future__ import annotations

import importlib

from minigrad.ops.kernels import api

# one module per kernel family, as listed once in api.FAMILIES for both backends
for _family in api.FAMILIES:
    globals()[_family] = importlib.import_module(f"{__name__}.{_family}")
del _family

__all__ = [*api.FAMILIES, "is_available"]


def is_available() -> bool:
    """True when numba.cuda imports and sees a GPU (or the simulator); never raises."""
    from minigrad.cuda._runtime import is_available as available

    return available()
