"""Dropout (inverted scaling, PyTorch semantics): ``dropout`` and channel-wise ``dropout2d``.

The mask is drawn from minigrad's global generator (:func:`minigrad.random.generator`, seeded by
``minigrad.manual_seed``), or from an explicit ``generator``. The result is ``x * mask`` with
``mask`` a constant of 0 and ``1 / (1 - p)``, so the gradient is ``g * mask`` through the core
multiply (and differentiable again).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from minigrad import random as mg_random
from minigrad.ops._args import float_tensor, probability
from minigrad.ops.kernels import kernels_for
from minigrad.tensor import Tensor

__all__ = ["dropout", "dropout2d"]


def _dropout(op: str, input: Tensor, p: float, training: bool, generator,
             mask_shape: Callable[[tuple[int, ...]], tuple[int, ...]]) -> Tensor:
    """``input`` times a constant mask of 0 and ``1 / (1 - p)``, one draw per element of
    ``mask_shape(input.shape)`` (broadcast over the rest)."""
    x = float_tensor(op, "input", input)
    p = probability(op, "p", p)
    shape = mask_shape(x.shape)  # validates the input's shape, even when nothing is dropped
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0  # keeps the graph (gradient 0) and the dtype
    gen = mg_random.generator() if generator is None else generator
    # drawn on the host for both devices, so one seed gives one mask (kernels/cuda/dropout.py)
    keep = gen.random(shape) >= p
    mask = kernels_for(x.data).dropout.scaled_mask(keep, 1.0 / (1.0 - p), x.dtype)
    return x * Tensor._make(mask)


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False, *,
            generator: np.random.Generator | None = None) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by ``1 / (1 - p)``.

    Identity when ``training`` is False or p == 0; all zeros when p == 1. ``inplace`` is accepted
    for PyTorch compatibility and ignored (the result is always a new tensor).
    """
    return _dropout("dropout", input, p, training, generator, lambda shape: shape)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False, *,
              generator: np.random.Generator | None = None) -> Tensor:
    """Zero whole channels: input (N, C, H, W) or (C, H, W); one draw per (n, c) plane."""
    return _dropout("dropout2d", input, p, training, generator, _channel_mask_shape)


def _channel_mask_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    if len(shape) not in (3, 4):
        raise ValueError(f"dropout2d: input must be (N, C, H, W) or (C, H, W), got {shape}")
    return (*shape[:-2], 1, 1)
