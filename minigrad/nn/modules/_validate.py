"""Argument checks shared by the nn layers: constructor arguments and the input's dtype.

PyTorch accepts most bad constructor arguments and fails (or silently computes nonsense) at the
first forward: ``torch.nn.Conv2d(1, 6, 0)`` builds, then raises "kernel size should be greater
than zero". minigrad checks them when the layer is built, with the rules PyTorch's kernels
enforce: sizes, strides and dilations >= 1, paddings >= 0, pooling padding <= half the kernel,
probabilities in [0, 1], ``eps`` > 0. Each error is a ``ValueError`` (a bad value) or a
``TypeError`` (a bad type) naming the layer, the argument and the value.

:func:`check_input_dtype` is the forward-time check of the layers with parameters: float64 data
into a float32 model raises, as in PyTorch, instead of silently running the model in float64.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["integer", "int_tuple", "real", "probability", "positive", "momentum", "one_of",
           "pool_padding", "check_input_dtype"]


def _is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)


def integer(value: Any, who: str, name: str, minimum: int | None = None) -> int:
    """``value`` as an int, checked to be ``>= minimum``."""
    if not _is_int(value):
        raise TypeError(f"{who}: {name} must be an int, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{who}: {name} must be >= {minimum}, got {value!r}")
    return int(value)


def int_tuple(value: Any, n: int, who: str, name: str,
              minimum: int | None = None) -> tuple[int, ...]:
    """An int or a sequence of ``n`` ints as an n-tuple (PyTorch's ``_pair``), each checked to be
    ``>= minimum``."""
    if _is_int(value):
        items: tuple[Any, ...] = (value,) * n
    elif isinstance(value, Sequence) and not isinstance(value, str) and len(value) == n \
            and all(_is_int(v) for v in value):
        items = tuple(value)
    else:
        raise TypeError(f"{who}: {name} must be an int or a sequence of {n} ints, got "
                        f"{value!r}")
    if minimum is not None and any(v < minimum for v in items):
        raise ValueError(f"{who}: {name} must be >= {minimum}, got {value!r}")
    return tuple(int(v) for v in items)


def real(value: Any, who: str, name: str) -> float:
    """``value`` as a finite float."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool | np.bool_):
        raise TypeError(f"{who}: {name} must be a number, got {value!r}")
    if not np.isfinite(value):
        raise ValueError(f"{who}: {name} must be finite, got {value!r}")
    return float(value)


def probability(value: Any, who: str, name: str = "p") -> float:
    """A number in [0, 1]."""
    v = real(value, who, name)
    if not 0.0 <= v <= 1.0:
        raise ValueError(f"{who}: {name} must lie in [0, 1], got {value!r}")
    return v


def positive(value: Any, who: str, name: str) -> float:
    """A finite number > 0."""
    v = real(value, who, name)
    if v <= 0:
        raise ValueError(f"{who}: {name} must be > 0, got {value!r}")
    return v


def momentum(value: Any, who: str) -> float | None:
    """A momentum in [0, 1], or None (a cumulative average)."""
    return None if value is None else probability(value, who, "momentum")


def one_of(value: Any, choices: Sequence[Any], who: str, name: str) -> Any:
    if value not in choices:
        raise ValueError(f"{who}: {name} must be one of {tuple(choices)}, got {value!r}")
    return value


def pool_padding(kernel: tuple[int, ...], padding: tuple[int, ...], who: str) -> None:
    """Pooling padding may be at most half the kernel on each axis (so no window lies wholly in
    the padding), as PyTorch's pooling kernels require."""
    if any(2 * p > k for p, k in zip(padding, kernel)):
        raise ValueError(f"{who}: padding {padding} must be at most half of kernel_size "
                         f"{kernel} on each axis")


def check_input_dtype(module: Any, input: Any, param: Any) -> None:
    """Raise ``TypeError`` when ``input``'s dtype is not ``param``'s (the layer's weight).

    PyTorch raises too ("mat1 and mat2 must have the same dtype"); NumPy would promote, and a
    float32 model fed float64 data (``uint8 / 255.0`` is float64 in NumPy) would run entirely in
    float64, 1.5x slower and with float64 outputs, without a word. Nothing is cast or updated
    before this check, so parameters and running statistics are untouched when it fails.
    """
    if param is None or input.dtype == param.dtype:
        return
    who, got, want = type(module).__name__, input.dtype, param.dtype
    if np.issubdtype(got, np.floating):
        fix = (f"convert the input with x.{'float' if want == np.float32 else 'double'}() "
               f"or the model with model.{'double' if got == np.float64 else 'float'}()")
    else:
        fix = f"convert the input with x.{'float' if want == np.float32 else 'double'}()"
    note = " (NumPy's uint8 / 255.0 is float64)" if got == np.float64 else ""
    raise TypeError(f"{who}: input dtype {got} does not match the layer's parameters ({want}); "
                    f"{fix}{note}")
