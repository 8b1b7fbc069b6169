"""``Job``: what a training script needs to run the same code on one process or on many.

A script written against a ``Job`` runs unchanged as ``python train.py`` (one process: every
method is the single-process behaviour, MPI is never imported) and as ``mpiexec -n 4 python
train.py`` (the model is wrapped in DistributedDataParallel, each rank loads its share of every
epoch, sums such as the correct-prediction count are added up over ranks so that the printed
accuracy is the global one, only rank 0 prints and writes checkpoints).

    job = Job()                                  # distributed when a launcher started > 1 ranks
    model = job.wrap(model)
    loader = job.loader(dataset, batch_size=64)  # 64 per step over all ranks
    for epoch in range(epochs):
        job.set_epoch(epoch)
        ...
        correct, seen = job.sum(correct, seen)
        job.print(f"accuracy {correct / seen:.4f}")
    job.save(model, "model.npz")
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from minigrad.distributed import _comm

__all__ = ["Job"]


class Job:
    """One process's view of a (possibly one-process) training job.

    distributed: True: join the MPI world (``init()``); False: one process; None (default): True
        exactly when the launcher's environment says it started more than one process.
    """

    def __init__(self, distributed: bool | None = None) -> None:
        if distributed is None:
            distributed = _comm.launcher_world_size() is not None
        self.distributed = bool(distributed)
        if self.distributed:
            _comm.init()
            self.rank, self.world_size = _comm.rank(), _comm.world_size()
        else:
            self.rank, self.world_size = 0, 1
        self.is_main = self.rank == 0
        self._samplers: list[Any] = []

    def wrap(self, model: Any, **ddp_options: Any) -> Any:
        """``DistributedDataParallel(model, **ddp_options)`` in a distributed job, else
        ``model``."""
        if not self.distributed:
            return model
        from minigrad.distributed.parallel import DistributedDataParallel

        return DistributedDataParallel(model, **ddp_options)

    def loader(self, dataset: Any, batch_size: int, shuffle: bool = True, seed: int = 0,
               drop_last: bool = False) -> Any:
        """Batches for this rank: ``batch_size`` is the global batch, split evenly over the ranks
        (each loads ``batch_size / world_size`` images of its :class:`DistributedSampler`
        share). One process: ``DataLoader(dataset, batch_size, shuffle, generator=seed)``."""
        from minigrad.data import DataLoader
        from minigrad.data.distributed import DistributedSampler

        if not self.distributed:
            return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=seed,
                              drop_last=drop_last)
        if batch_size % self.world_size:
            raise ValueError(f"Job.loader: the global batch size {batch_size} does not split "
                             f"evenly over {self.world_size} ranks; use a multiple of "
                             f"{self.world_size}")
        sampler = DistributedSampler(dataset, self.world_size, self.rank, shuffle=shuffle,
                                     seed=seed, drop_last=drop_last)
        self._samplers.append(sampler)
        return DataLoader(dataset, batch_size=batch_size // self.world_size, sampler=sampler,
                          drop_last=drop_last)

    def set_epoch(self, epoch: int) -> None:
        """Start epoch ``epoch`` in every loader's sampler (a new shuffle, the same on all
        ranks)."""
        for s in self._samplers:
            s.set_epoch(epoch)

    def shard(self, n: int) -> slice:
        """This rank's part of ``n`` items for evaluation, without padding: ``items[shard]``.
        Sum the per-rank results with :meth:`sum`."""
        return slice(self.rank, n, self.world_size)

    def sum(self, *values: float) -> tuple[float, ...]:
        """Each value summed over ranks (one all-reduce for all of them)."""
        arr = np.array(values, dtype=np.float64)
        if self.distributed and self.world_size > 1:
            from mpi4py import MPI

            _comm.world().Allreduce(MPI.IN_PLACE, arr, op=MPI.SUM)
        return tuple(float(v) for v in arr)

    def print(self, *args: Any, **kwargs: Any) -> None:
        """``print`` on rank 0 only."""
        if self.is_main:
            kwargs.setdefault("flush", True)
            builtins.print(*args, **kwargs)

    def barrier(self) -> None:
        if self.distributed:
            _comm.barrier()

    def save(self, model: Any, path: Any) -> None:
        """Rank 0 writes ``model.save(path)`` (a DistributedDataParallel wrapper is unwrapped,
        so the checkpoint loads into the bare model); every rank waits until it is written."""
        from minigrad.distributed.parallel import DistributedDataParallel

        inner = model.module if isinstance(model, DistributedDataParallel) else model
        if self.is_main:
            inner.save(path)
        self.barrier()
