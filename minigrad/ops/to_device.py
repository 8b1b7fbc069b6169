"""Moving tensors between devices: ``Tensor.to(device)``, ``.cpu()``, ``.cuda()``.

``ToDeviceFn`` is differentiable: its backward moves the gradient back to the source device, so a
graph may start on the host and continue on the GPU (or the reverse). The storage-level helpers it
uses (the ``device`` class, moving one array) are :mod:`minigrad._device`, below the ops.
"""

from __future__ import annotations

from typing import Any

from minigrad._device import device, device_of, move
from minigrad.autograd import Function
from minigrad.tensor import Tensor

__all__ = ["to_device", "ToDeviceFn"]


class ToDeviceFn(Function):
    name = "to_device"

    @staticmethod
    def forward(ctx, x, *, device):
        ctx.source = device_of(x.data)
        return move(x.data, device)

    @staticmethod
    def backward(ctx, g):
        return ToDeviceFn.apply(g, device=ctx.source)


def to_device(x: Tensor, dev: Any) -> Tensor:
    """``x`` on device ``dev``: ``x`` itself when it is already there, else a copy."""
    dev = device(dev)
    if x.device == dev:
        return x
    return ToDeviceFn.apply(x, device=dev)
