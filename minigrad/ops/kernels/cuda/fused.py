"""Post-op passes of the fused layer ops on the GPU: same names and results as
``kernels/cpu/fused.py``, by the ReLU map kernel of ``activation.py`` (a new array rather than
in place: on the GPU the fused ops exist for parity, ``nn.Sequential`` does not fuse there)."""

from __future__ import annotations

from typing import Any

from minigrad.ops.kernels import api
from minigrad.ops.kernels.cuda import activation, pool

__all__ = list(api.FUSED)


def relu_(y: Any) -> Any:
    """``relu(y)``; y: a ``CudaArray``."""
    return activation.forward("relu", y)


def bias_relu_(y: Any, bias: Any) -> Any:
    """``relu(y + bias)``, y: (M, K), bias: (K,) or None."""
    return activation.forward("relu", y if bias is None else y + bias.reshape(1, -1))


def relu_max_pool2d(y: Any, kernel: tuple[int, int], stride: tuple[int, int],
                    padding: tuple[int, int], dilation: tuple[int, int] = (1, 1),
                    ceil_mode: bool = False) -> tuple[Any, Any]:
    """``max_pool2d(relu(y))`` and its int64 argmax, y: (N, C, H, W)."""
    return pool.max_pool2d_forward(relu_(y), kernel, stride, padding, dilation, ceil_mode)
