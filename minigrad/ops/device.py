"""Moving tensors between devices: ``Tensor.to(device)``, ``.cpu()``, ``.cuda()``.

``ToDevice`` is differentiable: its backward moves the gradient back to the source device, so a
graph may start on the host and continue on the GPU (or the reverse).
"""

from __future__ import annotations

from typing import Any

from minigrad._device import device, device_of, move
from minigrad.autograd import Function
from minigrad.ops.registry import OpInfo, register
from minigrad.tensor import Tensor


class ToDevice(Function):
    name = "to_device"

    @staticmethod
    def forward(ctx, x, *, device):
        ctx.source = device_of(x.data)
        return move(x.data, device)

    @staticmethod
    def backward(ctx, g):
        return ToDevice.apply(g, device=ctx.source)


def to_device(x: Tensor, dev: Any) -> Tensor:
    """``x`` on device ``dev``: ``x`` itself when it is already there, else a copy."""
    dev = device(dev)
    if x.device == dev:
        return x
    return ToDevice.apply(x, device=dev)


def _round_trip_samples():
    from minigrad.testing import strategies as S

    return S.unary_samples(lo=-2.0, hi=2.0)


# Needs a GPU or the simulator (the test-suite runs with NUMBA_ENABLE_CUDASIM=1 unless told to
# use a real GPU): the round trip host -> GPU -> host is checked like every other op.
register(OpInfo("to_device", lambda x: x.cuda().cpu(), _round_trip_samples, ref=lambda x: x))
