"""Dropout (inverted scaling, PyTorch semantics): ``dropout`` and channel-wise ``dropout2d``.

The mask is drawn from minigrad's global generator (:func:`minigrad.random.generator`, seeded by
``minigrad.manual_seed``), or from an explicit ``generator``. The result is ``x * mask`` with
``mask`` a constant of 0 and ``1 / (1 - p)``, so the gradient is ``g * mask`` through the core
multiply (and differentiable again).
"""

from __future__ import annotations

import numpy as np

from minigrad import random as mg_random
from minigrad.ops.kernels import kernels_for
from minigrad.ops.registry import OpInfo, Sample, register
from minigrad.tensor import Tensor

__all__ = ["dropout", "dropout2d"]


def _check(op: str, x: object, p: float) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(x).__name__}")
    if x.dtype not in (np.float32, np.float64):
        raise TypeError(f"{op}: input must be float32 or float64, got {x.dtype}")
    if not isinstance(p, int | float | np.floating) or not 0.0 <= p <= 1.0:
        raise ValueError(f"{op}: dropout probability has to be between 0 and 1, but got {p}")
    return x


def _masked(x: Tensor, p: float, mask_shape: tuple[int, ...], generator) -> Tensor:
    if p == 1.0:
        return x * 0.0  # keeps the graph (gradient 0) and the dtype
    gen = mg_random.generator() if generator is None else generator
    # drawn on the host for both devices, so one seed gives one mask (kernels/cuda/dropout.py)
    keep = gen.random(mask_shape) >= p
    mask = kernels_for(x.data).dropout.scaled_mask(keep, 1.0 / (1.0 - p), x.dtype)
    return x * Tensor._make(mask)


def dropout(
    input: Tensor,
    p: float = 0.5,
    training: bool = True,
    inplace: bool = False,
    *,
    generator: np.random.Generator | None = None,
) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by ``1 / (1 - p)``.

    Identity when ``training`` is False or p == 0; all zeros when p == 1. ``inplace`` is accepted
    for PyTorch compatibility and ignored (the result is always a new tensor).
    """
    x = _check("dropout", input, p)
    if not training or p == 0.0:
        return x
    return _masked(x, float(p), x.shape, generator)


def dropout2d(
    input: Tensor,
    p: float = 0.5,
    training: bool = True,
    inplace: bool = False,
    *,
    generator: np.random.Generator | None = None,
) -> Tensor:
    """Zero whole channels: input (N, C, H, W) or (C, H, W); one draw per (n, c) plane."""
    x = _check("dropout2d", input, p)
    if x.ndim not in (3, 4):
        raise ValueError(f"dropout2d: input must be (N, C, H, W) or (C, H, W), got {x.shape}")
    if not training or p == 0.0:
        return x
    return _masked(x, float(p), (*x.shape[:-2], 1, 1), generator)


# ------------------------------------------------------------------------------------------------
# Registry: a fixed generator seed inside fn, so finite differences see the same mask every call


def _fixed(fn, p):
    def call(x):
        return fn(x, p=p, training=True, generator=np.random.default_rng(1234))

    return call


def _ref(p, channels):
    def ref(x):
        shape = (*x.shape[:-2], 1, 1) if channels else x.shape
        keep = np.random.default_rng(1234).random(shape) >= p
        return np.where(keep, x / (1 - p), 0.0)

    return ref


def _samples(min_dims):
    def strategy():
        from minigrad.testing import strategies as S

        return S.arrays(S.shapes(min_dims=min_dims, max_dims=4)).map(lambda a: Sample((a,)))

    return strategy


register(OpInfo("dropout", _fixed(dropout, 0.3), _samples(0), ref=_ref(0.3, False)))
register(OpInfo("dropout2d", _fixed(dropout2d, 0.4), _samples(3), ref=_ref(0.4, True)))
