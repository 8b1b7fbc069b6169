"""Normalisation layers beyond batch norm: ``LayerNorm``, ``GroupNorm``, ``RMSNorm``,
``InstanceNorm1d``, ``InstanceNorm2d`` (PyTorch's names, arguments, defaults and parameter
initialisation: weights ones, biases zeros)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from minigrad.nn import functional as F
from minigrad.nn import init
from minigrad.nn.modules.batchnorm import _NormBase
from minigrad.nn.modules.module import Module
from minigrad.nn.parameter import Parameter
from minigrad.ops._args import check_input_dtype, int_tuple, integer, positive
from minigrad.tensor import Tensor

__all__ = ["LayerNorm", "GroupNorm", "RMSNorm", "InstanceNorm1d", "InstanceNorm2d"]


def _dtype(dtype: Any) -> np.dtype:
    return np.dtype(dtype) if dtype is not None else np.dtype(np.float32)


def _check_tensor(who: str, input: Any) -> Tensor:
    if not isinstance(input, Tensor):
        raise TypeError(f"{who}: input must be a Tensor, got {type(input).__name__}")
    return input


def _normalized_shape(who: str, normalized_shape: int | Sequence[int]) -> tuple[int, ...]:
    shape = int_tuple(who, "normalized_shape", normalized_shape, minimum=1)
    if not shape:
        raise ValueError(f"{who}: normalized_shape must not be empty")
    return shape


class _AffineNorm(Module):
    """LayerNorm, GroupNorm, RMSNorm: a learnt per-feature ``weight`` (ones) and ``bias`` (zeros)
    of one shape, registered as None when absent."""

    def _affine_parameters(self, shape: tuple[int, ...] | int, affine: bool, bias: bool | None,
                           dtype: Any) -> None:
        """``bias=None``: the layer has no bias at all (RMSNorm)."""
        dt = _dtype(dtype)
        if affine:
            self.weight = Parameter(np.ones(shape, dtype=dt))
        else:
            self.register_parameter("weight", None)
        if bias is None:
            return
        if affine and bias:
            self.bias = Parameter(np.zeros(shape, dtype=dt))
        else:
            self.register_parameter("bias", None)

    def reset_parameters(self) -> None:
        if self.weight is not None:
            init.ones_(self.weight)
        if getattr(self, "bias", None) is not None:
            init.zeros_(self.bias)


class LayerNorm(_AffineNorm):
    """Normalise over the trailing ``normalized_shape`` axes of each sample:
    ``x: (*, *normalized_shape) -> same shape``.

    ``y = (x - mean) / sqrt(var + eps) * weight + bias`` with the mean and biased variance of
    each slice over the normalized axes. ``weight`` (ones) and ``bias`` (zeros) have shape
    ``normalized_shape`` and are learnt when ``elementwise_affine`` (``bias=False``: no bias).
    ``normalized_shape``: an int (the last axis) or a tuple of ints. Fused kernel (statistics in
    float64, backward in one pass). The input must have the parameters' dtype.
    """

    def __init__(self, normalized_shape: int | Sequence[int], eps: float = 1e-5,
                 elementwise_affine: bool = True, bias: bool = True, dtype: Any = None) -> None:
        super().__init__()
        who = type(self).__name__
        self.normalized_shape = _normalized_shape(who, normalized_shape)
        self.eps = positive(who, "eps", eps)
        self.elementwise_affine = bool(elementwise_affine)
        self._affine_parameters(self.normalized_shape, self.elementwise_affine, bias, dtype)

    def forward(self, input: Tensor) -> Tensor:
        check_input_dtype(type(self).__name__, _check_tensor(type(self).__name__, input),
                          self.weight)
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}")


class GroupNorm(_AffineNorm):
    """Normalise each sample's groups of channels: ``x: (N, C, *) -> same shape``.

    The C = ``num_channels`` channels are split into ``num_groups`` groups of C/G consecutive
    channels; each sample's group is normalised with its own mean and biased variance (over its
    channels and spatial axes), then scaled and shifted per channel by ``weight`` (ones) and
    ``bias`` (zeros; none with ``bias=False``), both (C,) and learnt when ``affine``.
    ``num_groups=1`` is layer norm over ``(C, *)``; ``num_groups=C`` is instance norm. Fused kernel
    (statistics in float64).
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5,
                 affine: bool = True, dtype: Any = None, *, bias: bool = True) -> None:
        super().__init__()
        who = type(self).__name__
        self.num_groups = integer(who, "num_groups", num_groups, 1)
        self.num_channels = integer(who, "num_channels", num_channels, 1)
        if self.num_channels % self.num_groups:
            raise ValueError(f"{who}: num_channels ({num_channels}) must be divisible by "
                             f"num_groups ({num_groups})")
        self.eps = positive(who, "eps", eps)
        self.affine = bool(affine)
        self._affine_parameters(self.num_channels, self.affine, bias, dtype)

    def forward(self, input: Tensor) -> Tensor:
        who = type(self).__name__
        x = _check_tensor(who, input)
        if x.ndim < 2 or x.shape[1] != self.num_channels:
            raise ValueError(f"{who}: expected input (N, C, *) with C = num_channels = "
                             f"{self.num_channels}, got {x.shape}")
        check_input_dtype(who, x, self.weight)
        return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")


class RMSNorm(_AffineNorm):
    """Root-mean-square normalisation over the trailing ``normalized_shape`` axes:
    ``x: (*, *normalized_shape) -> same shape``, ``y = x / sqrt(mean(x^2) + eps) * weight``.

    ``weight`` (ones, shape ``normalized_shape``) is learnt when ``elementwise_affine``;
    ``eps=None`` uses the machine epsilon of the input's dtype (PyTorch's default).
    """

    def __init__(self, normalized_shape: int | Sequence[int], eps: float | None = None,
                 elementwise_affine: bool = True, dtype: Any = None) -> None:
        super().__init__()
        who = type(self).__name__
        self.normalized_shape = _normalized_shape(who, normalized_shape)
        self.eps = None if eps is None else positive(who, "eps", eps)
        self.elementwise_affine = bool(elementwise_affine)
        self._affine_parameters(self.normalized_shape, self.elementwise_affine, None, dtype)

    def forward(self, input: Tensor) -> Tensor:
        check_input_dtype(type(self).__name__, _check_tensor(type(self).__name__, input),
                          self.weight)
        return F.rms_norm(input, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")


class _InstanceNorm(_NormBase):
    _batched = 0  # the rank of a batched input; one less is an unbatched one
    _layout = ""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = False, track_running_stats: bool = False,
                 dtype: Any = None, *, bias: bool = True) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, dtype,
                         bias=bias)

    def forward(self, input: Tensor) -> Tensor:
        who = type(self).__name__
        x = _check_tensor(who, input)
        if x.ndim not in (self._batched - 1, self._batched):
            raise ValueError(f"{who}: expected input {self._layout}, got shape {x.shape}")
        c = x.shape[x.ndim - self._batched + 1]
        if c != self.num_features:
            msg = (f"{who}: expected input's size at dim={x.ndim - self._batched + 1} to match "
                   f"num_features ({self.num_features}), but got: {c}")
            if self.affine or self.track_running_stats:
                raise ValueError(msg)
            warnings.warn(msg + ".", stacklevel=2)  # PyTorch only warns: nothing uses C here
        # before anything is updated: a failed call leaves the running statistics untouched
        check_input_dtype(who, x, self.weight if self.affine else self.running_mean)
        unbatched = x.ndim == self._batched - 1
        if unbatched:
            x = x.unsqueeze(0)
        y = F.instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                            self.training or not self.track_running_stats,
                            0.0 if self.momentum is None else self.momentum, self.eps)
        return y.squeeze(0) if unbatched else y


class InstanceNorm1d(_InstanceNorm):
    """Normalise each channel of each sample over its length: x: (N, C, L) or (C, L).

    PyTorch's defaults: ``affine=False`` (no weight and bias) and ``track_running_stats=False``
    (statistics of the input in training and in eval). With ``track_running_stats=True`` the
    running mean and variance (C,) are updated in training with the batch average of the
    per-sample statistics (``momentum``; None counts as 0, as in PyTorch) and used in eval.
    """

    _batched = 3
    _layout = "(N, C, L) or (C, L)"


class InstanceNorm2d(_InstanceNorm):
    """:class:`InstanceNorm1d` for images: x: (N, C, H, W) or (C, H, W)."""

    _batched = 4
    _layout = "(N, C, H, W) or (C, H, W)"
