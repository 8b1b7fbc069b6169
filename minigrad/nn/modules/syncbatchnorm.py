"""``SyncBatchNorm``: batch normalisation over the whole batch of a data-parallel job.

With DistributedDataParallel every rank sees only its part of the global batch, so a plain
BatchNorm normalises with per-rank statistics: the model differs from the one-process model on
the whole batch, and with small per-rank batches the statistics get noisy. SyncBatchNorm sums the
per-channel count, sum and sum of squares over ranks in forward and the two per-channel gradient
sums in backward (:func:`minigrad.distributed.functional.sync_batch_norm`), which makes R ranks
on batches of B / R compute what one process computes on B.
"""

from __future__ import annotations

from typing import Any

from minigrad.nn.modules.batchnorm import _BatchNorm
from minigrad.nn.modules.module import Module
from minigrad.ops._args import check_input_dtype
from minigrad.tensor import Tensor

__all__ = ["SyncBatchNorm"]


class SyncBatchNorm(_BatchNorm):
    """Batch normalisation with statistics over every rank's batch: x: ``(N, C, *)`` -> same shape.

    Same arguments and state as :class:`BatchNorm2d` plus ``process_group`` (an mpi4py
    communicator; default: the world). It synchronises in training mode when
    :mod:`minigrad.distributed` is initialised with more than one process (PyTorch's rule);
    otherwise, and in eval mode, it is an ordinary batch norm. Build one directly or turn a
    model's batch norms into it with :meth:`convert_sync_batchnorm`.
    """

    _dims = tuple(range(2, 65))  # (N, C, *): every rank NumPy allows
    _layout = "(N, C, *)"

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True,
                 process_group: Any = None, dtype: Any = None) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, dtype)
        self.process_group = process_group

    def _group(self) -> Any:
        from minigrad.distributed import _comm

        if self.process_group is not None:
            return self.process_group
        if _comm.is_initialized() and _comm.world_size() > 1:
            return _comm.world()
        return None

    def forward(self, input: Tensor) -> Tensor:
        group = self._group() if self.training else None
        if group is None:  # an ordinary batch norm (the checks included)
            return super().forward(input)
        if not isinstance(input, Tensor) or input.ndim < 2 \
                or input.shape[1] != self.num_features:
            shape = getattr(input, "shape", type(input).__name__)
            raise ValueError(f"SyncBatchNorm: expected input (N, C, *) with C = num_features = "
                             f"{self.num_features}, got {shape}")
        # before anything is updated: a failed call leaves the running statistics untouched
        check_input_dtype("SyncBatchNorm", input,
                          self.weight if self.affine else self.running_mean)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.track_running_stats:
            self.num_batches_tracked.data += 1
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked.data)
        from minigrad.distributed.functional import sync_batch_norm

        track = self.track_running_stats
        return sync_batch_norm(input, self.running_mean if track else None,
                               self.running_var if track else None, self.weight, self.bias,
                               factor, self.eps, group=group)

    @classmethod
    def convert_sync_batchnorm(cls, module: Module, process_group: Any = None) -> Module:
        """Replace every BatchNorm1d/2d in ``module`` by a SyncBatchNorm sharing its parameters
        and running statistics (PyTorch's helper). Returns the converted module: ``module``
        itself with its children replaced, or a new SyncBatchNorm when ``module`` is one."""
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
            out = cls(module.num_features, module.eps, module.momentum, module.affine,
                      module.track_running_stats, process_group)
            for name in ("weight", "bias"):
                if module._parameters.get(name) is not None:
                    out._parameters[name] = module._parameters[name]
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                out._buffers[name] = module._buffers.get(name)
            out.training = module.training
            return out
        for name, child in list(module._modules.items()):
            if child is not None:
                new = cls.convert_sync_batchnorm(child, process_group)
                if new is not child:
                    module._modules[name] = new
        return module
