"""Batch normalisation: ``BatchNorm1d``, ``BatchNorm2d``; ``_NormBase``, the per-channel
parameters and running statistics that batch and instance norm share (PyTorch's layout)."""

from __future__ import annotations

from typing import Any

import numpy as np

from minigrad.nn import functional as F
from minigrad.nn import init
from minigrad.nn.modules.module import Module
from minigrad.nn.parameter import Parameter
from minigrad.ops._args import check_input_dtype, integer, positive, probability
from minigrad.tensor import Tensor

__all__ = ["BatchNorm1d", "BatchNorm2d"]


class _NormBase(Module):
    """Per-channel ``weight`` (ones) and ``bias`` (zeros; none with ``bias=False``) when
    ``affine``; buffers
    ``running_mean`` (zeros), ``running_var`` (ones) and ``num_batches_tracked`` when
    ``track_running_stats`` (None otherwise, as in PyTorch's state dicts)."""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True,
                 dtype: Any = None, *, bias: bool = True) -> None:
        super().__init__()
        who = type(self).__name__
        num_features = integer(who, "num_features", num_features, 1)
        self.num_features = num_features
        self.eps = positive(who, "eps", eps)
        self.momentum = None if momentum is None else probability(who, "momentum", momentum)
        self.affine = affine
        self.track_running_stats = track_running_stats
        dt = np.dtype(dtype) if dtype is not None else np.float32
        if affine:
            self.weight = Parameter(np.ones(num_features, dtype=dt))
            if bias:
                self.bias = Parameter(np.zeros(num_features, dtype=dt))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(num_features, dtype=dt)))
            self.register_buffer("running_var", Tensor(np.ones(num_features, dtype=dt)))
            self.register_buffer("num_batches_tracked", Tensor(np.zeros((), dtype=np.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean.data[...] = 0
            self.running_var.data[...] = 1
            self.num_batches_tracked.data[...] = 0

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


class _BatchNorm(_NormBase):
    """Batch norm's forward on top of :class:`_NormBase` (``SyncBatchNorm`` builds on it)."""

    _dims: tuple[int, ...] = ()
    _layout = ""

    def forward(self, input: Tensor) -> Tensor:
        if not isinstance(input, Tensor) or input.ndim not in self._dims \
                or input.shape[1] != self.num_features:
            shape = getattr(input, "shape", type(input).__name__)
            raise ValueError(f"{type(self).__name__}: expected input {self._layout} with C = "
                             f"num_features = {self.num_features}, got {shape}")
        # before anything is updated: a failed call leaves the running statistics untouched
        check_input_dtype(type(self).__name__, input,
                          self.weight if self.affine else self.running_mean)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.data += 1
            if self.momentum is None:  # cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked.data)
        # batch statistics in training, and in eval when there are no running stats
        use_batch = self.training or self.running_mean is None
        track = not self.training or self.track_running_stats
        return F.batch_norm(input, self.running_mean if track else None,
                            self.running_var if track else None, self.weight, self.bias,
                            use_batch, factor, self.eps)


class BatchNorm1d(_BatchNorm):
    """Normalise each feature over the batch (and length): x: (N, C) or (N, C, L).

    Training: ``y = (x - mean) / sqrt(var + eps) * weight + bias`` with the batch's mean and
    biased variance; the running stats are updated as ``r = (1 - momentum) * r + momentum *
    batch_stat`` with the *unbiased* batch variance (``momentum=None``: cumulative average).
    Eval: the running stats replace the batch's (unless ``track_running_stats=False``).
    weight (ones) and bias (zeros; ``bias=False``: none) are learnt when ``affine``.
    num_features >= 1, eps > 0, momentum in [0, 1] or None; x must have the parameters' dtype
    (else ``TypeError``).
    """

    _dims = (2, 3)
    _layout = "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """:class:`BatchNorm1d` for images: statistics per channel over (N, H, W); x: (N, C, H, W)."""

    _dims = (4,)
    _layout = "(N, C, H, W)"
