"""Argument and geometry helpers shared by the ops, their kernels and the nn layers.

The rules every op call and every layer constructor applies to its arguments live here once, so
the same mistake gets the same error everywhere, with PyTorch's error class: an argument of the
wrong type (``2.5`` or ``"a"`` for a stride, an int tensor where a float one is needed) is a
``TypeError``; a value out of range or a tuple of the wrong length is a ``ValueError``. Every
message has one shape, ``"{op}: {name} must be ..., got {value!r}"``: it starts with the op (or
layer) name and names the argument and the value.

The nn layers check their constructor arguments with these helpers when they are built (PyTorch
builds ``nn.Conv2d(1, 6, 0)`` and fails only at the first forward), with the rules its kernels
enforce: sizes, strides and dilations >= 1, paddings >= 0, pooling padding <= half the kernel,
probabilities in [0, 1], ``eps`` > 0; the ops check the same arguments again with the same
helpers, so ``F.conv2d(x, w, stride=0)`` and ``nn.Conv2d(2, 2, 3, stride=0)`` say the same thing.

- :func:`ntuple`: an int or a sequence of ``n`` ints as an n-tuple (PyTorch's ``_pair``);
  :func:`int_tuple`: an int or a sequence of any length (a shape argument) as a tuple;
  :func:`integer`, :func:`real`, :func:`probability`, :func:`positive`, :func:`one_of`: one
  scalar argument.
- :func:`conv_output_size`: the length of a convolution's or a pooling window's output on one axis;
  :func:`conv_transpose_output_size` the same for a transposed convolution.
- :func:`padding_pairs`: a conv's ``padding`` (int, tuple, ``'valid'``, ``'same'``, ``'full'``)
  as (before, after) zeros per spatial axis; :func:`pool_window`: a pooling layer's or op's
  kernel, stride and padding.
- :func:`float_tensor`: the input as a float32/float64 Tensor, or a ``TypeError``;
  :func:`check_input_dtype`: a layer's input has its parameters' dtype, or a ``TypeError``.
- :func:`dim` / :func:`dims`: an op's ``dim``/``axis`` argument normalised to ``0..ndim-1``; an
  axis out of range raises :class:`AxisError` (an ``IndexError`` and a ``ValueError``, as NumPy's
  ``AxisError``), naming the op, the axis and the rank.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from minigrad.tensor import Tensor

__all__ = ["ntuple", "plain", "int_tuple", "integer", "real", "probability", "positive", "one_of",
           "REDUCTIONS",
           "conv_output_size", "conv_transpose_output_size", "padding_pairs", "PADDING_MODES",
           "pool_window", "float_tensor", "FLOAT_DTYPES", "check_input_dtype", "AxisError", "dim",
           "dims"]

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
PADDING_MODES = ("valid", "same", "full")
REDUCTIONS = ("none", "mean", "sum")  # a loss's ``reduction``


def _is_int(v: Any) -> bool:
    return isinstance(v, int | np.integer) and not isinstance(v, bool | np.bool_)


def plain(*values: Any) -> bool:
    """Whether every value is an int, a str, None or a tuple of ints, by exact type: values that
    are hashable and equal only to values of the same meaning, so that a cache of checked
    arguments may be keyed by them (``True == 1`` and ``2.0 == 2``: a bool or a float must not
    find an int's entry and skip the check that refuses it)."""
    for v in values:
        t = type(v)
        if t is tuple:
            for e in v:
                if type(e) is not int:
                    return False
        elif t is not int and t is not str and v is not None:
            return False
    return True


def ntuple(op: str, name: str, value: Any, n: int, minimum: int | None = None,
           allow_none: bool = False) -> tuple[Any, ...]:
    """``value`` (an int, or a sequence of ``n`` ints) as an n-tuple of ints.

    ``ntuple("conv2d", "stride", 2, 2) == (2, 2)``. Raises ``TypeError`` when ``value`` or one of
    its entries is not an int (bools and floats included), ``ValueError`` when the sequence does
    not have ``n`` entries or an entry is below ``minimum``. ``allow_none``: entries of the
    sequence may be None (kept; an adaptive pooling's "keep this axis").
    """
    if type(value) is tuple and len(value) == n and all(type(v) is int for v in value):
        # the common case, a layer's stored (h, w) pair: plain ints need no conversion
        if minimum is not None and any(v < minimum for v in value):
            raise ValueError(f"{op}: {name} must be >= {minimum}, got {value!r}")
        return value

    def ok(v: Any) -> bool:
        return _is_int(v) or (allow_none and v is None)

    if _is_int(value):
        vals: tuple[Any, ...] = (int(value),) * n
    else:
        vals = tuple(value) if isinstance(value, Iterable) and not isinstance(value, str) else ()
        shape = "an int" if n == 1 else f"an int or a tuple of {n} ints"
        if allow_none:
            shape += " (or None)"
        if not vals or not all(ok(v) for v in vals):
            raise TypeError(f"{op}: {name} must be {shape}, got {value!r}")
        if len(vals) != n:
            raise ValueError(f"{op}: {name} must be {shape}, got {len(vals)} values: {value!r}")
        vals = tuple(None if v is None else int(v) for v in vals)
    if minimum is not None and any(v is not None and v < minimum for v in vals):
        raise ValueError(f"{op}: {name} must be >= {minimum}, got {value!r}")
    return vals


def int_tuple(op: str, name: str, value: Any, minimum: int | None = None) -> tuple[int, ...]:
    """``value`` (an int, or a sequence of any number of ints: a shape such as a layer norm's
    ``normalized_shape``) as a tuple of ints. ``int_tuple("layer_norm", "normalized_shape", 5)
    == (5,)``. ``TypeError`` when it or an entry is not an int, ``ValueError`` when an entry is
    below ``minimum``."""
    if _is_int(value):
        vals: tuple[int, ...] = (int(value),)
    else:
        seq = tuple(value) if isinstance(value, Iterable) and not isinstance(value, str) else None
        if seq is None or not all(_is_int(v) for v in seq):
            raise TypeError(f"{op}: {name} must be an int or a sequence of ints, got {value!r}")
        vals = tuple(int(v) for v in seq)
    if minimum is not None and any(v < minimum for v in vals):
        raise ValueError(f"{op}: {name} must have entries >= {minimum}, got {value!r}")
    return vals


def integer(op: str, name: str, value: Any, minimum: int | None = None) -> int:
    """``value`` as an int (bools and floats refused: ``TypeError``), ``>= minimum``
    (``ValueError``)."""
    if not _is_int(value):
        raise TypeError(f"{op}: {name} must be an int, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{op}: {name} must be >= {minimum}, got {value!r}")
    return int(value)


def real(op: str, name: str, value: Any) -> float:
    """``value`` as a finite float: a ``TypeError`` for a non-number (a string, a bool, None), a
    ``ValueError`` for NaN or an infinity."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool | np.bool_):
        raise TypeError(f"{op}: {name} must be a number, got {value!r}")
    if not np.isfinite(value):
        raise ValueError(f"{op}: {name} must be finite, got {value!r}")
    return float(value)


def probability(op: str, name: str, value: Any) -> float:
    """A number in [0, 1] (a dropout's ``p``, a momentum, a label smoothing), as a float."""
    v = real(op, name, value)
    if not 0.0 <= v <= 1.0:
        raise ValueError(f"{op}: {name} must lie in [0, 1], got {value!r}")
    return v


def positive(op: str, name: str, value: Any) -> float:
    """A finite number > 0 (an ``eps``), as a float."""
    v = real(op, name, value)
    if v <= 0:
        raise ValueError(f"{op}: {name} must be > 0, got {value!r}")
    return v


def one_of(op: str, name: str, value: Any, choices: Sequence[Any]) -> Any:
    """``value`` when it is one of ``choices`` (a mode string), else a ``ValueError``."""
    # compared only with choices of its own type: an array or a Tensor never compares elementwise
    if not any(type(value) is type(c) and value == c for c in choices):
        raise ValueError(f"{op}: {name} must be one of {tuple(choices)}, got {value!r}")
    return value


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


def pool_window(op: str, kernel_size: Any, stride: Any, padding: Any,
                half_kernel_padding: bool = True, n: int = 2) -> tuple[tuple[int, ...], ...]:
    """A pooling window's ``kernel_size``, ``stride`` (None or ``()``: the kernel) and
    ``padding`` as n-tuples ((h, w) pairs for 2-d pooling): kernel and stride >= 1, padding >= 0
    and, with ``half_kernel_padding`` (max and average pooling), at most half the kernel on each
    axis, so no window lies wholly in the padding (PyTorch's rule)."""
    k = ntuple(op, "kernel_size", kernel_size, n, minimum=1)
    default = stride is None or (isinstance(stride, tuple | list) and len(stride) == 0)
    s = k if default else ntuple(op, "stride", stride, n, minimum=1)
    p = ntuple(op, "padding", padding, n, minimum=0)
    if half_kernel_padding and any(2 * pp > kk for pp, kk in zip(p, k)):
        raise ValueError(f"{op}: padding {p} must be at most half the kernel size {k} on each "
                         f"axis")
    return k, s, p


def float_tensor(op: str, name: str, x: Any) -> Tensor:
    """``x`` when it is a float32 or float64 Tensor; a ``TypeError`` naming ``op`` and the
    argument ``name`` otherwise (a NumPy array or a list is not converted, as in PyTorch)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: {name} must be a Tensor, got {type(x).__name__}")
    if x.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{op}: {name} must be float32 or float64, got {x.dtype} (convert with "
                        f".float() or .double())")
    return x


def check_input_dtype(op: str, input: Tensor, param: Tensor | None) -> None:
    """Raise ``TypeError`` when ``input``'s dtype is not ``param``'s (a layer's weight); ``op``
    names the layer.

    PyTorch raises too ("mat1 and mat2 must have the same dtype"); NumPy would promote, and a
    float32 model fed float64 data (``uint8 / 255.0`` is float64 in NumPy) would run entirely in
    float64, 1.5x slower and with float64 outputs, without a word. Nothing is cast or updated
    before this check, so parameters and running statistics are untouched when it fails.
    """
    if param is None or input.dtype == param.dtype:
        return
    got, want = input.dtype, param.dtype
    if np.issubdtype(got, np.floating):
        fix = (f"convert the input with x.{'float' if want == np.float32 else 'double'}() "
               f"or the model with model.{'double' if got == np.float64 else 'float'}()")
    else:
        fix = f"convert the input with x.{'float' if want == np.float32 else 'double'}()"
    note = " (NumPy's uint8 / 255.0 is float64)" if got == np.float64 else ""
    raise TypeError(f"{op}: input dtype {got} does not match the layer's parameters ({want}); "
                    f"{fix}{note}")


class AxisError(IndexError, ValueError):
    """An axis (``dim``) out of range for the tensor's rank.

    Subclasses both ``IndexError`` (PyTorch raises ``IndexError: Dimension out of range``) and
    ``ValueError`` (NumPy's ``AxisError`` does too, and minigrad raised ``ValueError`` before), so
    code catching either keeps working. ``op``, ``axis`` and ``ndim`` are kept as attributes.
    """

    def __init__(self, op: str, axis: Any, ndim: int, name: str = "dim") -> None:
        lo, hi = -max(ndim, 1), max(ndim, 1) - 1
        rank = "a 0-d tensor" if ndim == 0 else \
            f"a tensor of {ndim} dimension{'' if ndim == 1 else 's'}"
        super().__init__(f"{op}: {name} {axis} is out of range for {rank} (expected {lo}..{hi})")
        self.op, self.axis, self.ndim = op, axis, ndim


def dim(op: str, value: Any, ndim: int, name: str = "dim") -> int:
    """One axis ``value`` (an int, negative counting from the end) as ``0..ndim-1``.

    A 0-d tensor accepts 0 and -1 (PyTorch's rule: it behaves as having one axis for this
    purpose). ``TypeError`` for a non-int (``1.0``, ``True``, ``(1,)``), :class:`AxisError` out of
    range.
    """
    if not _is_int(value):
        raise TypeError(f"{op}: {name} must be an int, got {value!r}")
    n = max(ndim, 1)
    if not -n <= value < n:
        raise AxisError(op, int(value), ndim, name)
    return int(value) % n


def dims(op: str, value: Any, ndim: int, name: str = "dim") -> tuple[int, ...]:
    """An int or a sequence of ints, each as by :func:`dim`, without repeats (``ValueError``).
    Returns a tuple in the order given."""
    vals = (value,) if _is_int(value) else value
    if not isinstance(vals, Iterable) or isinstance(vals, str):
        raise TypeError(f"{op}: {name} must be an int or a tuple of ints, got {value!r}")
    vals = tuple(vals)
    if not all(_is_int(v) for v in vals):
        raise TypeError(f"{op}: {name} must be an int or a tuple of ints, got {value!r}")
    out = tuple(dim(op, v, ndim, name) for v in vals)
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: {name} {value!r} repeats an axis")
    return out
