"""Kernels: plain arrays in, plain arrays out; no Tensors, no graph.

:func:`kernels_for` picks the backend for an array: ``kernels.cpu`` (Numba, NumPy arrays) or
``kernels.cuda`` (numba.cuda, ``CudaArray``). The two packages hold modules of the same names
(``activation``, ``conv``, ``pool``, ``softmax``, ``norm``, ``dropout``) whose functions have the
same names, arguments and result shapes, so an op is written once::

    y = kernels_for(x.data).conv.conv2d_forward(x.data, w.data, stride, padding, dilation, groups)

``scalar.py`` holds each activation's scalar functions, written once and compiled for both.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from minigrad.cuda.array import CudaArray
from minigrad.ops.kernels import cpu

__all__ = ["kernels_for"]


def kernels_for(array: Any) -> ModuleType:
    """The kernel package for ``array``: ``kernels.cuda`` for a ``CudaArray``, else
    ``kernels.cpu``. The CUDA one is imported on first use (importing it compiles nothing)."""
    if type(array) is CudaArray:
        from minigrad.ops.kernels import cuda

        return cuda
    return cpu
