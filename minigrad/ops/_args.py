"""Argument and geometry helpers shared by the ops, their kernels and the nn layers.

The rules every conv/pool call applies to its arguments live here once, so the same mistake gets
the same error everywhere, with PyTorch's error class: an argument of the wrong type (``2.5`` or
``"a"`` for a stride, an int tensor where a float one is needed) is a ``TypeError``; a value out
of range or a tuple of the wrong length is a ``ValueError``. Every message starts with the op (or
layer) name and names the argument.

- :func:`ntuple`: an int or a sequence of ``n`` ints as an n-tuple (PyTorch's ``_pair``).
- :func:`conv_output_size`: the length of a convolution's or a pooling window's output on one axis;
  :func:`conv_transpose_output_size` the same for a transposed convolution.
- :func:`padding_pairs`: a conv's ``padding`` (int, tuple, ``'valid'``, ``'same'``, ``'full'``)
  as (before, after) zeros per spatial axis.
- :func:`float_tensor`: the input as a float32/float64 Tensor, or a ``TypeError``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from minigrad.tensor import Tensor

__all__ = ["ntuple", "conv_output_size", "conv_transpose_output_size", "padding_pairs",
           "PADDING_MODES", "float_tensor", "FLOAT_DTYPES"]

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
PADDING_MODES = ("valid", "same", "full")


def _is_int(v: Any) -> bool:
    return isinstance(v, int | np.integer) and not isinstance(v, bool | np.bool_)


def ntuple(op: str, name: str, value: Any, n: int, minimum: int | None = None) -> tuple[int, ...]:
    """``value`` (an int, or a sequence of ``n`` ints) as an n-tuple of ints.

    ``ntuple("conv2d", "stride", 2, 2) == (2, 2)``. Raises ``TypeError`` when ``value`` or one of
    its entries is not an int (bools and floats included), ``ValueError`` when the sequence does
    not have ``n`` entries or an entry is below ``minimum``.
    """
    if _is_int(value):
        vals: tuple[Any, ...] = (int(value),) * n
    else:
        vals = tuple(value) if isinstance(value, Iterable) and not isinstance(value, str) else ()
        shape = "an int" if n == 1 else f"an int or a tuple of {n} ints"
        if not vals or not all(_is_int(v) for v in vals):
            raise TypeError(f"{op}: {name} must be {shape}, got {value!r}")
        if len(vals) != n:
            raise ValueError(f"{op}: {name} must be {shape}, got {len(vals)} values: {value!r}")
        vals = tuple(int(v) for v in vals)
    if minimum is not None and min(vals) < minimum:
        raise ValueError(f"{op}: {name} must be >= {minimum}, got {value!r}")
    return vals


def conv_output_size(n: int, f: int, stride: int = 1, padding: int | tuple[int, int] = 0,
                     dilation: int = 1) -> int:
    """Length of a convolution's (or pooling window's) output along one axis.

    ``(n + lo + hi - dilation*(f - 1) - 1) // stride + 1`` for an input of length ``n``, a kernel
    of length ``f`` and ``padding`` zeros on each side (an int) or ``(lo, hi)``: the dilated kernel
    spans ``dilation*(f-1) + 1`` positions and slides over the padded input in steps of
    ``stride`` (PyTorch's floor mode). ``conv_output_size(28, 5, padding=2)`` is 28 ("same");
    ``conv_output_size(64, 3, stride=2, padding=1)`` is 32. A result below 1 means the kernel does
    not fit.
    """
    lo, hi = (padding, padding) if _is_int(padding) else padding
    return (n + lo + hi - dilation * (f - 1) - 1) // stride + 1


def conv_transpose_output_size(n: int, f: int, stride: int = 1, padding: int = 0,
                               dilation: int = 1, output_padding: int = 0) -> int:
    """Length of a transposed convolution's output along one axis (the input length of the
    convolution it is the transpose of): ``(n - 1)*stride - 2*padding + dilation*(f - 1) + 1 +
    output_padding``. ``output_padding`` (< stride or dilation) picks one of the input lengths
    that convolution maps to ``n``."""
    return (n - 1) * stride - 2 * padding + dilation * (f - 1) + 1 + output_padding


def padding_pairs(op: str, padding: Any, kernel: tuple[int, ...], stride: tuple[int, ...],
                  dilation: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
    """A conv's ``padding`` as (before, after) zeros per spatial axis.

    ``padding``: an int or a tuple (that many on both sides of each axis), ``'valid'`` (none),
    ``'same'`` (output size = input size: ``dilation*(k-1)`` in total, the odd one after, as
    PyTorch; stride must be 1) or ``'full'`` (``dilation*(k-1)`` on each side: every partial
    overlap). ``kernel``, ``stride``, ``dilation``: one int per spatial axis.
    """
    n = len(kernel)
    if not isinstance(padding, str):
        return tuple((p, p) for p in ntuple(op, "padding", padding, n, minimum=0))
    if padding not in PADDING_MODES:
        raise ValueError(f"{op}: padding must be an int, a tuple or one of {PADDING_MODES}, "
                         f"got {padding!r}")
    if padding == "same" and any(s != 1 for s in stride):
        raise ValueError(f"{op}: padding='same' needs stride 1 (PyTorch does not support it for "
                         f"strided convolutions), got stride={tuple(stride)}")
    totals = [d * (f - 1) for f, d in zip(kernel, dilation)]
    if padding == "valid":
        return ((0, 0),) * n
    if padding == "full":
        return tuple((t, t) for t in totals)
    return tuple((t // 2, t - t // 2) for t in totals)


def float_tensor(op: str, name: str, x: Any) -> Tensor:
    """``x`` when it is a float32 or float64 Tensor; a ``TypeError`` naming ``op`` and the
    argument ``name`` otherwise (a NumPy array or a list is not converted, as in PyTorch)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: {name} must be a Tensor, got {type(x).__name__}")
    if x.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{op}: {name} must be float32 or float64, got {x.dtype} (convert with "
                        f".float() or .double())")
    return x
