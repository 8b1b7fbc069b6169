"""Pooling layers: ``MaxPool2d``, ``MaxUnpool2d``, ``AvgPool2d``, ``AdaptiveAvgPool2d``,
``GlobalAvgPool2d``."""

from __future__ import annotations

from typing import Any

from minigrad.nn import functional as F
from minigrad.nn.modules import _validate as V
from minigrad.nn.modules.module import Module
from minigrad.tensor import Tensor

__all__ = ["MaxPool2d", "MaxUnpool2d", "AvgPool2d", "AdaptiveAvgPool2d", "GlobalAvgPool2d"]


def _unsupported(who: str, **options: Any) -> None:
    for name, (value, default) in options.items():
        if value != default:
            raise ValueError(f"{who}: {name}={value!r} is not supported (only {default!r})")


def _window(who: str, kernel_size: Any, stride: Any, padding: Any,
            half_kernel_padding: bool = True) -> None:
    """kernel_size and stride (None: the kernel) >= 1, padding >= 0 and, for pooling, at most
    half the kernel (PyTorch's rules)."""
    kernel = V.int_tuple(kernel_size, 2, who, "kernel_size", 1)
    if stride is not None:
        V.int_tuple(stride, 2, who, "stride", 1)
    pad = V.int_tuple(padding, 2, who, "padding", 0)
    if half_kernel_padding:
        V.pool_padding(kernel, pad, who)


class MaxPool2d(Module):
    """Max over ``kernel_size`` windows: (N, C, H, W) -> (N, C, OH, OW),
    ``OH = (H + 2 * padding - kernel) // stride + 1``. ``stride`` defaults to ``kernel_size``;
    padded positions never win. ``return_indices=True`` also returns the argmax (flat indices
    into each H*W plane). ``dilation`` and ``ceil_mode`` exist for PyTorch's signature but only
    their defaults (1, False) are supported."""

    def __init__(self, kernel_size: int | tuple[int, int], stride: Any = None, padding: Any = 0,
                 dilation: Any = 1, return_indices: bool = False,
                 ceil_mode: bool = False) -> None:
        super().__init__()
        _unsupported("MaxPool2d", dilation=(dilation, 1), ceil_mode=(ceil_mode, False))
        _window("MaxPool2d", kernel_size, stride, padding)
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def forward(self, input: Tensor) -> Any:
        return F.max_pool2d(input, self.kernel_size, self.stride, self.padding,
                            return_indices=self.return_indices)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool2d(Module):
    """Inverse of :class:`MaxPool2d` (``return_indices=True``): each value goes back to the
    position of its maximum in a zero (N, C, H, W) output. ``forward(x, indices, output_size)``
    ; the size defaults to ``(OH - 1) * stride - 2 * padding + kernel_size``."""

    def __init__(self, kernel_size: int | tuple[int, int], stride: Any = None,
                 padding: Any = 0) -> None:
        super().__init__()
        _window("MaxUnpool2d", kernel_size, stride, padding, half_kernel_padding=False)
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding

    def forward(self, input: Tensor, indices: Tensor, output_size: Any = None) -> Tensor:
        return F.max_unpool2d(input, indices, self.kernel_size, self.stride, self.padding,
                              output_size)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(Module):
    """Mean over ``kernel_size`` windows: (N, C, H, W) -> (N, C, OH, OW). ``stride`` defaults
    to ``kernel_size``; ``count_include_pad`` counts zero padding in the divisor. ``ceil_mode``
    and ``divisor_override`` exist for PyTorch's signature but only their defaults (False,
    None) are supported."""

    def __init__(self, kernel_size: int | tuple[int, int], stride: Any = None, padding: Any = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True,
                 divisor_override: int | None = None) -> None:
        super().__init__()
        _unsupported("AvgPool2d", ceil_mode=(ceil_mode, False),
                     divisor_override=(divisor_override, None))
        _window("AvgPool2d", kernel_size, stride, padding)
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input: Tensor) -> Tensor:
        return F.avg_pool2d(input, self.kernel_size, self.stride, self.padding,
                            self.count_include_pad)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool2d(Module):
    """Mean over windows chosen so the output is ``output_size`` (an int or (OH, OW); ``None``
    keeps that axis): (N, C, H, W) -> (N, C, OH, OW)."""

    def __init__(self, output_size: Any) -> None:
        super().__init__()
        sizes = output_size if isinstance(output_size, tuple | list) else (output_size,) * 2
        if len(sizes) != 2 or any(s is not None and not V._is_int(s) for s in sizes):
            raise TypeError(f"AdaptiveAvgPool2d: output_size must be an int or a pair of ints "
                            f"(or None), got {output_size!r}")
        if any(s is not None and s < 1 for s in sizes):
            raise ValueError(f"AdaptiveAvgPool2d: output_size must be >= 1, got {output_size!r}")
        self.output_size = output_size

    def forward(self, input: Tensor) -> Tensor:
        return F.adaptive_avg_pool2d(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class GlobalAvgPool2d(Module):
    """Mean over all of H and W: (N, C, H, W) -> (N, C), or (N, C, 1, 1) with ``keepdim=True``
    (what ``F.global_avg_pool2d`` returns). Not in PyTorch, where it is ``AdaptiveAvgPool2d(1)``
    followed by ``Flatten()``. Used where classic nets put an FC stack (Network in Network,
    GoogLeNet, ResNet)."""

    def __init__(self, keepdim: bool = False) -> None:
        super().__init__()
        self.keepdim = keepdim

    def forward(self, input: Tensor) -> Tensor:
        y = F.global_avg_pool2d(input)
        return y if self.keepdim else y.reshape(y.shape[:-2])

    def extra_repr(self) -> str:
        return "keepdim=True" if self.keepdim else ""
