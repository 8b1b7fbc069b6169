"""``Unfold`` (im2col as a layer) and ``Fold`` (its transpose, col2im); no parameters, they call
``F.unfold`` / ``F.fold``."""

from __future__ import annotations

from typing import Any

from minigrad.nn import functional as F
from minigrad.nn.modules.module import Module
from minigrad.ops._args import ntuple
from minigrad.tensor import Tensor

__all__ = ["Fold", "Unfold"]


def _check(who: str, kernel_size: Any, dilation: Any, padding: Any, stride: Any) -> None:
    ntuple(who, "kernel_size", kernel_size, 2, minimum=1)
    ntuple(who, "dilation", dilation, 2, minimum=1)
    ntuple(who, "padding", padding, 2, minimum=0)
    ntuple(who, "stride", stride, 2, minimum=1)


class Unfold(Module):
    """Sliding blocks to columns: (N, C, H, W) -> (N, C * kh * kw, L), L = OH * OW blocks
    (unbatched (C, H, W) -> (C * kh * kw, L)); see ``F.unfold`` for the layout. A convolution is
    ``weight.reshape(K, -1) @ Unfold(k)(x)`` reshaped to (N, K, OH, OW)."""

    def __init__(self, kernel_size: int | tuple[int, int], dilation: int | tuple[int, int] = 1,
                 padding: int | tuple[int, int] = 0, stride: int | tuple[int, int] = 1) -> None:
        super().__init__()
        _check(type(self).__name__, kernel_size, dilation, padding, stride)
        self.kernel_size, self.dilation = kernel_size, dilation
        self.padding, self.stride = padding, stride

    def forward(self, input: Tensor) -> Tensor:
        return F.unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding}, stride={self.stride}")


class Fold(Module):
    """Columns back to an image: (N, C * kh * kw, L) -> (N, C, H, W), (H, W) = ``output_size``,
    overlapping blocks summed (the transpose of :class:`Unfold`); see ``F.fold``."""

    def __init__(self, output_size: int | tuple[int, int], kernel_size: int | tuple[int, int],
                 dilation: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0,
                 stride: int | tuple[int, int] = 1) -> None:
        super().__init__()
        who = type(self).__name__
        ntuple(who, "output_size", output_size, 2, minimum=1)
        _check(who, kernel_size, dilation, padding, stride)
        self.output_size, self.kernel_size = output_size, kernel_size
        self.dilation, self.padding, self.stride = dilation, padding, stride

    def forward(self, input: Tensor) -> Tensor:
        return F.fold(input, self.output_size, self.kernel_size, self.dilation, self.padding,
                      self.stride)

    def extra_repr(self) -> str:
        return (f"output_size={self.output_size}, kernel_size={self.kernel_size}, "
                f"dilation={self.dilation}, padding={self.padding}, stride={self.stride}")
