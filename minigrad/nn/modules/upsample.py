"""Upsampling layers: ``Upsample``, ``UpsamplingNearest2d``, ``UpsamplingBilinear2d`` (no
parameters; they call ``F.interpolate``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from minigrad.nn import functional as F
from minigrad.nn.modules.module import Module
from minigrad.ops._args import integer, ntuple, one_of, positive
from minigrad.ops.upsample import MODES
from minigrad.tensor import Tensor

__all__ = ["Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d"]


def _check_size(who: str, size: Any) -> Any:
    if size is None:
        return None
    if isinstance(size, Sequence):
        return ntuple(who, "size", size, len(size), minimum=1)
    return integer(who, "size", size, minimum=1)


def _check_scale(who: str, scale_factor: Any) -> Any:
    if scale_factor is None:
        return None
    if isinstance(scale_factor, Sequence) and not isinstance(scale_factor, str):
        return tuple(positive(who, "scale_factor", s) for s in scale_factor)
    return positive(who, "scale_factor", scale_factor)


class Upsample(Module):
    """Resize the spatial axes: (N, C, L) -> (N, C, OL) or (N, C, H, W) -> (N, C, OH, OW), with
    :func:`minigrad.nn.functional.interpolate` (its modes, rules and differences from PyTorch).

    Give ``size`` (an int or one per spatial axis) or ``scale_factor`` (a number or one per
    axis). mode: ``'nearest'`` (default), ``'nearest-exact'``, ``'linear'``, ``'bilinear'`` or
    ``'area'``; ``align_corners`` for the linear modes. Unlike PyTorch, the arguments are checked
    when the layer is built (PyTorch checks them at the first forward).
    """

    def __init__(self, size: int | Sequence[int] | None = None,
                 scale_factor: float | Sequence[float] | None = None, mode: str = "nearest",
                 align_corners: bool | None = None,
                 recompute_scale_factor: bool | None = None) -> None:
        super().__init__()
        who = type(self).__name__
        if (size is None) == (scale_factor is None):
            raise ValueError(f"{who}: give exactly one of size and scale_factor, got "
                             f"size={size!r}, scale_factor={scale_factor!r}")
        self.size = _check_size(who, size)
        self.scale_factor = _check_scale(who, scale_factor)
        self.mode = one_of(who, "mode", mode, MODES)
        if align_corners is not None and mode not in ("linear", "bilinear"):
            raise ValueError(f"{who}: align_corners can only be set with the interpolating "
                             f"modes linear | bilinear, not mode={mode!r}")
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input: Tensor) -> Tensor:
        return F.interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                             recompute_scale_factor=self.recompute_scale_factor)

    def extra_repr(self) -> str:
        if self.scale_factor is not None:
            info = f"scale_factor={self.scale_factor!r}"
        else:
            info = f"size={self.size!r}"
        return info + f", mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    """``Upsample(size, scale_factor, mode='nearest')`` (PyTorch's older name)."""

    def __init__(self, size: int | Sequence[int] | None = None,
                 scale_factor: float | Sequence[float] | None = None) -> None:
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """``Upsample(size, scale_factor, mode='bilinear', align_corners=True)`` (PyTorch's older
    name; note the aligned corners)."""

    def __init__(self, size: int | Sequence[int] | None = None,
                 scale_factor: float | Sequence[float] | None = None) -> None:
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)
