"""Helpers shared by the array kernels: operand layouts, scalar arguments, flat offsets.

Every array kernel indexes its operands *flat*: an operand is (flat buffer, element offset,
element strides in the output's index space, mode). Broadcasting is a stride of 0, a transpose is
a permutation of strides, a basic slice an offset plus scaled strides, so one gather kernel shape
serves all of them. Shapes and strides are passed as fixed-length tuples of ``MAXD`` ints (padded
in front with size-1 axes), so a kernel compiles once per dtype combination, not per rank.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from minigrad.cuda._runtime import load_cuda
from minigrad.cuda.array import CudaArray

MAXD = 8

cuda: Any = None  # numba.cuda, bound on first use (see _runtime)

# operand modes
CONTIG = 0  # same shape as the output, C-contiguous: element i is element i
STRIDED = 1  # offset + strides (broadcast, transposed, sliced)
SCALAR = 2  # a host scalar passed by value



def c_strides(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Element strides of a C-contiguous array of ``shape``."""
    out, acc = [], 1
    for s in reversed(shape):
        out.append(acc)
        acc *= s
    return tuple(reversed(out))


def pad(t: tuple[int, ...], fill: int) -> tuple[int, ...]:
    if len(t) > MAXD:
        raise ValueError(f"GPU arrays support at most {MAXD} dimensions; got {len(t)}")
    return (fill,) * (MAXD - len(t)) + tuple(int(v) for v in t)


def broadcast_strides(shape: tuple[int, ...], out_shape: tuple[int, ...]) -> tuple[int, ...]:
    """Element strides that read a C-contiguous ``shape`` array broadcast to ``out_shape``."""
    st = c_strides(shape)
    nd = len(out_shape)
    full = [0] * (nd - len(shape)) + [0 if s == 1 else x for s, x in zip(shape, st)]
    return tuple(full)


@functools.cache
def dummy(dtype: np.dtype) -> Any:
    """A 1-element device array standing in for the buffer of a scalar operand."""
    from minigrad.cuda.array import empty

    return empty((1,), dtype)._buf


def n_elements(shape: tuple[int, ...]) -> int:
    return math.prod(shape)


def is_scalar(x: Any) -> bool:
    """A host value passed to kernels by value: Python/NumPy scalars and 0-d host arrays."""
    if isinstance(x, bool | int | float | np.generic):
        return True
    return isinstance(x, np.ndarray) and x.ndim == 0


def as_operand(x: Any, out_shape: tuple[int, ...], dtype: np.dtype) -> tuple:
    """(buffer, offset, strides, mode, scalar value) for a kernel operand.

    ``dtype``: the type a scalar is converted to (the ufunc loop's type for that input).
    """
    if type(x) is CudaArray:
        if x.shape == out_shape:
            return x._buf, 0, pad((), 0), CONTIG, dtype.type(0)
        return x._buf, 0, pad(broadcast_strides(x.shape, out_shape), 0), STRIDED, dtype.type(0)
    value = dtype.type(np.asarray(x).item())
    return dummy(dtype), 0, pad((), 0), SCALAR, value


# ------------------------------------------------------------------------------------------------
# device functions: where element i of an index space lives in an operand


@functools.cache
def offsets2_fn() -> Any:
    """Device function ``offsets2(i, shape, st1, st2)``: the flat element offsets (from 0) of
    element ``i`` of an array of ``shape`` (``MAXD`` ints, C order) in two operands at once, with
    element strides ``st1`` and ``st2`` (``MAXD`` ints each; 0 along broadcast axes)."""
    global cuda
    cuda = load_cuda()
    maxd = MAXD

    @cuda.jit(device=True)
    def offsets2(i, shape, st1, st2):
        rem = i
        o1 = 0
        o2 = 0
        for d in range(maxd - 1, -1, -1):
            s = shape[d]
            q = rem // s
            k = rem - q * s
            o1 += k * st1[d]
            o2 += k * st2[d]
            rem = q
        return o1, o2

    return offsets2


@functools.cache
def offset_fn() -> Any:
    """Device function ``offset(i, shape, base, st)``: the offset of element ``i`` in one operand
    that starts at ``base`` (:func:`offsets2_fn` for one stride set; the compiler drops the
    unused second sum once it inlines)."""
    offsets2 = offsets2_fn()

    @cuda.jit(device=True)
    def offset(i, shape, base, st):
        off, _ = offsets2(i, shape, st, st)
        return base + off

    return offset
