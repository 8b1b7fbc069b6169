"""Shape arithmetic the model constructors use to size their first Linear layer."""

from __future__ import annotations

from minigrad.ops._args import conv_output_size


def conv_out(size: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    """Output length of a convolution or pooling window along one axis (floor mode); a
    ``ValueError`` when the window does not fit."""
    out = conv_output_size(size, kernel, stride, padding)
    if out < 1:
        raise ValueError(f"the input is too small: a window of {kernel} (stride {stride}, padding "
                         f"{padding}) does not fit in {size} pixels")
    return out


def even(x: float) -> int:
    """``x`` rounded to a positive even int (channel counts split in two groups)."""
    return max(2, 2 * round(x / 2))
