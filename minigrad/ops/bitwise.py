"""Integer division, modulo, bitwise and logical ops, with PyTorch's semantics.

- ``//`` and ``floor_divide``: the quotient rounded down (``-7 // 2 == -4``), as Python, NumPy and
  PyTorch; ``div(a, b, rounding_mode="trunc")`` rounds toward zero (C's ``/``).
- ``%`` and ``remainder``: the result has the sign of the divisor (Python's ``%``:
  ``-7 % 2 == 1``); ``fmod``: the sign of the dividend (C's ``fmod``: ``fmod(-7, 2) == -1``).
- Integer division or modulo by zero raises ``ZeroDivisionError`` (PyTorch does; NumPy would
  return 0 with a warning); for floats it gives inf/NaN as IEEE division does, silently as in
  PyTorch.
- Bitwise ``& | ^ ~ << >>`` (and ``bitwise_*``) on integer and bool tensors, with the reflected
  forms (``6 & t``); a float operand is a ``TypeError`` naming the op, as in PyTorch. Shifts by
  a negative amount or by the bit width or more give 0 (``>>`` of a negative number: -1), as in
  PyTorch and NumPy, on both devices.
- ``logical_and/or/xor/not`` take any dtype (nonzero is true) and return bool tensors.

Operands are promoted with PyTorch's rules (:func:`minigrad.ops.elementwise.result_type`).
Only the float versions of floor division, remainder and fmod carry gradients:
``remainder``: d/da = 1, d/db = -floor(a/b); ``fmod``: d/da = 1, d/db = -trunc(a/b);
``floor_divide`` and the rounded ``div`` are step functions with gradient 0 (PyTorch gives 0
for the rounded ``div``; for ``//`` it raises "derivative not implemented" in backward, where
minigrad gives the same 0). Everything here is NumPy ufuncs, so it runs on the GPU through
``CudaArray``'s protocol. The database entries are in :mod:`minigrad.testing.opinfo.bitwise`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minigrad import _device
from minigrad.autograd import Function
from minigrad.ops._args import one_of
from minigrad.ops.elementwise import as_tensor, broadcast_shape, promote
from minigrad.tensor import Tensor

__all__ = [
    "floor_divide", "remainder", "fmod", "div_rounded",
    "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not",
    "bitwise_left_shift", "bitwise_right_shift",
    "logical_and", "logical_or", "logical_xor", "logical_not",
]

ROUNDING_MODES = ("trunc", "floor")


# ---------------------------------------------------------------------------------------------
# Division and modulo
# ---------------------------------------------------------------------------------------------


def _trunc_div_int(a: Any, b: Any) -> Any:
    """Integer division rounded toward zero: floor division plus one where the exact quotient
    is negative and not an integer (exact for every int64, unlike a float round trip)."""
    q = np.floor_divide(a, b)
    inexact = np.not_equal(np.remainder(a, b), 0)
    negative = np.not_equal(np.less(a, 0), np.less(b, 0))
    return np.where(np.logical_and(inexact, negative), q + 1, q)


def _float_div(a: Any, b: Any, mode: str) -> Any:
    with np.errstate(divide="ignore", invalid="ignore"):
        if mode == "floor":
            return np.floor_divide(a, b)
        return np.trunc(a / b)


class DivRoundedFn(Function):
    """``a / b`` rounded toward zero (``trunc``) or down (``floor``); a step function of both
    inputs, so both gradients are zero (PyTorch's rule)."""

    name = "div_rounded"
    kinks = "where a / b crosses an integer: a jump; gradient 0 for a and b everywhere"

    @staticmethod
    def forward(ctx, a, b, *, mode):
        return _float_div(a.data, b.data, mode)

    @staticmethod
    def backward(ctx, g):
        da, db = ctx.needs_input_grad
        zero = Tensor._make(_device.zeros(g.shape, g.dtype, like=g.data))
        return (zero if da else None), (zero if db else None)


class RemainderFn(Function):
    """``a - b * floor(a / b)`` (the sign of b); d/da = 1, d/db = -floor(a / b)."""

    name = "remainder"
    kinks = "where a / b crosses an integer: remainder jumps by b; the gradients above hold there"
    rounding = "floor"

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        with np.errstate(divide="ignore", invalid="ignore"):
            return ctx.compute(a.data, b.data)

    @staticmethod
    def compute(a, b):
        return np.remainder(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        da, db = ctx.needs_input_grad
        gb = None
        if db:
            q = Tensor._make(_device.wrap(_float_div(a.data, b.data, ctx.rounding)))
            gb = -g * q
        return (g if da else None), gb


class FmodFn(RemainderFn):
    """``a - b * trunc(a / b)`` (the sign of a, C's fmod); d/da = 1, d/db = -trunc(a / b)."""

    name = "fmod"
    rounding = "trunc"

    @staticmethod
    def compute(a, b):
        return np.fmod(a, b)


def _division_operands(op: str, a: Any, b: Any) -> tuple[Tensor, Tensor]:
    a, b = promote(op, a, b)
    broadcast_shape(op, a.shape, b.shape)
    if a.dtype == np.bool_:
        raise TypeError(f"{op}: not supported for bool tensors (shapes {a.shape} and {b.shape}); "
                        "cast to an integer dtype first")
    if a.dtype.kind in "iu" and bool(np.any(np.equal(b.data, 0))):
        raise ZeroDivisionError(f"{op}: integer division by zero (divisor of shape {b.shape})")
    return a, b


def div_rounded(a: Any, b: Any, rounding_mode: str, op: str = "div") -> Tensor:
    """``div(a, b, rounding_mode=...)``: the quotient rounded toward zero (``"trunc"``) or down
    (``"floor"``). Integer tensors stay integer (exactly); float ones have zero gradient."""
    one_of(op, "rounding_mode", rounding_mode, ROUNDING_MODES)
    a, b = _division_operands(op, a, b)
    if a.dtype.kind in "iu":
        if rounding_mode == "floor":
            return Tensor._make(_device.wrap(np.floor_divide(a.data, b.data)))
        return Tensor._make(_device.wrap(_trunc_div_int(a.data, b.data)))
    return DivRoundedFn.apply(a, b, mode=rounding_mode)


def floor_divide(input: Any, other: Any) -> Tensor:
    """``input // other``: the quotient rounded down, elementwise with broadcasting."""
    return div_rounded(input, other, "floor", "floor_divide")


def _modulo(cls: type[RemainderFn], op: str, a: Any, b: Any) -> Tensor:
    a, b = _division_operands(op, a, b)
    if a.dtype.kind in "iu":
        if cls is FmodFn:  # a - b * trunc(a / b), exactly in integers
            return Tensor._make(_device.wrap(a.data - b.data * _trunc_div_int(a.data, b.data)))
        return Tensor._make(_device.wrap(np.remainder(a.data, b.data)))
    return cls.apply(a, b)


def remainder(input: Any, other: Any) -> Tensor:
    """``input % other`` with the sign of ``other`` (Python's and PyTorch's ``%``)."""
    return _modulo(RemainderFn, "remainder", input, other)


def fmod(input: Any, other: Any) -> Tensor:
    """C's fmod: ``input - other * trunc(input / other)``, with the sign of ``input``."""
    return _modulo(FmodFn, "fmod", input, other)


# ---------------------------------------------------------------------------------------------
# Bitwise
# ---------------------------------------------------------------------------------------------


def _integer_operands(op: str, *operands: Any, allow_bool: bool = True) -> list[Tensor]:
    ts = promote(op, *operands)
    dt = ts[0].dtype
    if dt.kind not in ("iub" if allow_bool else "iu"):
        shapes = " and ".join(str(t.shape) for t in ts)
        kinds = "integer or bool" if allow_bool else "integer"
        raise TypeError(f"{op}: needs {kinds} tensors, got {dt} (shapes {shapes}); bitwise "
                        "ops are not defined for floats (use logical_and/logical_or/... for "
                        "truth values)")
    broadcast_shape(op, *(t.shape for t in ts))
    return ts


def _result(arr: Any) -> Tensor:
    return Tensor._make(_device.wrap(arr))


def bitwise_and(input: Any, other: Any) -> Tensor:
    """``input & other`` on integer or bool tensors (bool & bool is logical and)."""
    a, b = _integer_operands("bitwise_and", input, other)
    return _result(np.bitwise_and(a.data, b.data))


def bitwise_or(input: Any, other: Any) -> Tensor:
    """``input | other`` on integer or bool tensors."""
    a, b = _integer_operands("bitwise_or", input, other)
    return _result(np.bitwise_or(a.data, b.data))


def bitwise_xor(input: Any, other: Any) -> Tensor:
    """``input ^ other`` on integer or bool tensors."""
    a, b = _integer_operands("bitwise_xor", input, other)
    return _result(np.bitwise_xor(a.data, b.data))


def bitwise_not(input: Any) -> Tensor:
    """``~input``: every bit flipped (``~5 == -6``); for bool tensors, logical not."""
    (x,) = _integer_operands("bitwise_not", input)
    if x.dtype == np.bool_:
        return _result(np.logical_not(x.data))
    ones = -1 if x.dtype.kind == "i" else int(np.iinfo(x.dtype).max)  # all bits set
    return _result(np.bitwise_xor(x.data, ones))


def _shift(op: str, a: Any, b: Any, left: bool) -> Tensor:
    a, b = _integer_operands(op, a, b, allow_bool=False)
    x, s = a.data, b.data
    bits = 8 * x.dtype.itemsize
    shifted = (np.left_shift if left else np.right_shift)(x, np.clip(s, 0, bits - 1))
    out_of_range = np.logical_or(np.less(s, 0), np.greater_equal(s, bits))
    if left:
        overflow = 0
    else:  # shifting everything out leaves the sign bits: 0 or -1
        overflow = np.where(np.less(x, 0), -1, 0).astype(x.dtype) if x.dtype.kind == "i" else 0
    return _result(np.where(out_of_range, overflow, shifted).astype(x.dtype, copy=False))


def bitwise_left_shift(input: Any, other: Any) -> Tensor:
    """``input << other`` (integers; shifts outside [0, bit width) give 0)."""
    return _shift("bitwise_left_shift", input, other, left=True)


def bitwise_right_shift(input: Any, other: Any) -> Tensor:
    """``input >> other``, arithmetic for signed integers (the sign is kept)."""
    return _shift("bitwise_right_shift", input, other, left=False)


# ---------------------------------------------------------------------------------------------
# Logical (any dtype; nonzero is true)
# ---------------------------------------------------------------------------------------------


def _truth(x: Tensor) -> Any:
    return x.data if x.dtype == np.bool_ else x.data.astype(np.bool_)


def _logical(op: str, fn: Any, input: Any, other: Any) -> Tensor:
    a, b = as_tensor(input, None, op), as_tensor(other, None, op)
    broadcast_shape(op, a.shape, b.shape)
    return _result(fn(_truth(a), _truth(b)))


def logical_and(input: Any, other: Any) -> Tensor:
    """Elementwise ``input and other`` on any dtypes (nonzero is true) -> bool tensor."""
    return _logical("logical_and", np.logical_and, input, other)


def logical_or(input: Any, other: Any) -> Tensor:
    return _logical("logical_or", np.logical_or, input, other)


def logical_xor(input: Any, other: Any) -> Tensor:
    return _logical("logical_xor", np.not_equal, input, other)


def logical_not(input: Any) -> Tensor:
    """Elementwise ``not input`` on any dtype -> bool tensor."""
    x = as_tensor(input, None, "logical_not")
    return _result(np.logical_not(_truth(x)))
