"""Pooling layers: ``MaxPool1d``, ``MaxPool2d``, ``MaxUnpool2d``, ``AvgPool1d``, ``AvgPool2d``,
``AdaptiveAvgPool1d``, ``AdaptiveAvgPool2d``, ``AdaptiveMaxPool1d``, ``AdaptiveMaxPool2d``,
``GlobalAvgPool2d`` (no parameters; they call the pooling ops of ``nn.functional``)."""

from __future__ import annotations

from typing import Any

from minigrad.nn import functional as F
from minigrad.nn.modules.module import Module
from minigrad.ops._args import integer, ntuple, pool_window
from minigrad.tensor import Tensor

__all__ = ["MaxPool1d", "MaxPool2d", "MaxUnpool2d", "AvgPool1d", "AvgPool2d",
           "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d",
           "GlobalAvgPool2d"]


class _PoolNd(Module):
    """The window of a pooling layer: ``kernel_size``, ``stride`` (default: the kernel size) and
    ``padding``, each an int or a tuple of ``_n`` ints, checked when the layer is built with the
    rules (and the messages) of the pooling ops: kernel and stride >= 1, padding >= 0 and,
    except for unpooling, at most half the kernel. They are kept as given (for ``repr``) and
    resolved by the op at each call."""

    _n = 2
    _half_kernel_padding = True

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0) -> None:
        super().__init__()
        pool_window(type(self).__name__, kernel_size, stride, padding,
                    half_kernel_padding=self._half_kernel_padding, n=self._n)
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class _MaxPoolNd(_PoolNd):
    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 dilation: Any = 1, return_indices: bool = False,
                 ceil_mode: bool = False) -> None:
        super().__init__(kernel_size, stride, padding)
        ntuple(type(self).__name__, "dilation", dilation, self._n, minimum=1)
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def forward(self, input: Tensor) -> Any:
        pool = F.max_pool2d if self._n == 2 else F.max_pool1d
        return pool(input, self.kernel_size, self.stride, self.padding, self.dilation,
                    self.ceil_mode, self.return_indices)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool2d(_MaxPoolNd):
    """Max over ``kernel_size`` windows: (N, C, H, W) or (C, H, W) -> (N, C, OH, OW),
    ``OH = (H + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1`` (rounded up with
    ``ceil_mode``, PyTorch's rule: the last window must start inside the input or the left
    padding). ``stride`` defaults to ``kernel_size``; padded positions never win;
    ``dilation`` spaces the window's taps. ``return_indices=True`` also returns the argmax (flat
    indices into each H*W plane)."""

    _n = 2


class MaxPool1d(_MaxPoolNd):
    """Max over windows of a sequence: (N, C, L) or (C, L) -> (N, C, OL); options as
    :class:`MaxPool2d`, as ints. Indices are positions along L."""

    _n = 1


class MaxUnpool2d(_PoolNd):
    """Inverse of :class:`MaxPool2d` (``return_indices=True``): each value goes back to the
    position of its maximum in a zero (N, C, H, W) output. ``forward(x, indices, output_size)``
    ; the size defaults to ``(OH - 1) * stride - 2 * padding + kernel_size``."""

    _half_kernel_padding = False  # unpooling has no padded windows to keep apart

    def forward(self, input: Tensor, indices: Tensor, output_size: Any = None) -> Tensor:
        return F.max_unpool2d(input, indices, self.kernel_size, self.stride, self.padding,
                              output_size)


class AvgPool2d(_PoolNd):
    """Mean over ``kernel_size`` windows: (N, C, H, W) or (C, H, W) -> (N, C, OH, OW).
    ``stride`` defaults to ``kernel_size``; ``ceil_mode`` rounds the output size up (as
    :class:`MaxPool2d`); ``count_include_pad`` counts zero padding in the divisor;
    ``divisor_override`` divides every window sum by that number instead."""

    _n = 2

    def __init__(self, kernel_size: int | tuple[int, int], stride: Any = None, padding: Any = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True,
                 divisor_override: int | None = None) -> None:
        super().__init__(kernel_size, stride, padding)
        if divisor_override is not None:
            integer("AvgPool2d", "divisor_override", divisor_override, minimum=1)
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input: Tensor) -> Tensor:
        return F.avg_pool2d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)


class AvgPool1d(_PoolNd):
    """Mean over windows of a sequence: (N, C, L) or (C, L) -> (N, C, OL); options as
    :class:`AvgPool2d`, as ints (no ``divisor_override``, as in PyTorch)."""

    _n = 1

    def __init__(self, kernel_size: int | tuple[int], stride: Any = None, padding: Any = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True) -> None:
        super().__init__(kernel_size, stride, padding)
        # kept as 1-tuples, as PyTorch's AvgPool1d (and its repr) does
        self.kernel_size, self.stride, self.padding = (
            ntuple("AvgPool1d", name, v, 1)
            for name, v in (("kernel_size", kernel_size), ("stride", self.stride),
                            ("padding", padding)))
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad

    def forward(self, input: Tensor) -> Tensor:
        return F.avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)


class _AdaptivePoolNd(Module):
    _n = 2

    def __init__(self, output_size: Any) -> None:
        super().__init__()
        ntuple(type(self).__name__, "output_size", output_size, self._n, minimum=1,
               allow_none=True)
        self.output_size = output_size

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool2d(_AdaptivePoolNd):
    """Mean over windows chosen so the output is ``output_size`` (an int or (OH, OW); ``None``
    keeps that axis): (N, C, H, W) -> (N, C, OH, OW)."""

    def forward(self, input: Tensor) -> Tensor:
        return F.adaptive_avg_pool2d(input, self.output_size)


class AdaptiveAvgPool1d(_AdaptivePoolNd):
    """Mean over windows chosen so the output has length ``output_size``: (N, C, L) or (C, L)
    -> (N, C, OL)."""

    _n = 1

    def forward(self, input: Tensor) -> Tensor:
        return F.adaptive_avg_pool1d(input, self.output_size)


class AdaptiveMaxPool2d(_AdaptivePoolNd):
    """Max over windows chosen so the output is ``output_size`` (an int or (OH, OW); ``None``
    keeps that axis): (N, C, H, W) -> (N, C, OH, OW); ``return_indices=True`` also returns the
    argmax (flat indices into each H*W plane)."""

    def __init__(self, output_size: Any, return_indices: bool = False) -> None:
        super().__init__(output_size)
        self.return_indices = return_indices

    def forward(self, input: Tensor) -> Any:
        return F.adaptive_max_pool2d(input, self.output_size, self.return_indices)


class AdaptiveMaxPool1d(AdaptiveMaxPool2d):
    """Max over windows chosen so the output has length ``output_size``: (N, C, L) or (C, L)
    -> (N, C, OL); indices are positions along L."""

    _n = 1

    def forward(self, input: Tensor) -> Any:
        return F.adaptive_max_pool1d(input, self.output_size, self.return_indices)


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
