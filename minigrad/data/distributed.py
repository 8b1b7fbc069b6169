"""``DistributedSampler``: each rank's share of a dataset's indices for data-parallel training.

PyTorch's rules: every epoch one permutation of all indices, the same on every rank (seeded by
``seed + epoch``: call :meth:`DistributedSampler.set_epoch` at the start of each epoch, or every
epoch repeats the first one's order), is padded by repeating its first indices until its length
divides by the number of ranks (or cut to the largest multiple with ``drop_last=True``), and rank
r takes positions r, r + R, r + 2R, ... So every rank yields the same number of indices, which
data-parallel training needs (every rank must run the same number of steps: a rank that runs one
step more waits forever in its all-reduce). The permutation comes from NumPy's PCG64 seeded with
``seed + epoch``, so it differs from PyTorch's ``randperm`` for the same seed.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sized

import numpy as np

from minigrad.data.sampler import Sampler

__all__ = ["DistributedSampler"]


class DistributedSampler(Sampler):
    """Yield this rank's indices into ``dataset`` (anything with ``__len__``) for one epoch.

    Args:
        num_replicas: the number of ranks (default: the MPI world's size, through
            :mod:`minigrad.distributed`, which initialises it).
        rank: this rank's index (default: the MPI world's rank).
        shuffle: a fresh permutation every epoch (``set_epoch``); False: 0, 1, 2, ... in order.
        seed: the same on every rank.
        drop_last: cut the tail that does not divide evenly instead of padding it with repeats.

    Use it as a DataLoader's ``sampler=`` (with ``shuffle=False`` there), or iterate it.
    """

    def __init__(self, dataset: Sized, num_replicas: int | None = None, rank: int | None = None,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False) -> None:
        if not hasattr(dataset, "__len__"):
            raise TypeError(f"DistributedSampler: dataset must have a length, got "
                            f"{type(dataset).__name__}")
        if num_replicas is None or rank is None:
            from minigrad.distributed import _comm

            num_replicas = _comm.world_size() if num_replicas is None else num_replicas
            rank = _comm.rank() if rank is None else rank
        for name, v in (("num_replicas", num_replicas), ("rank", rank), ("seed", seed)):
            if isinstance(v, bool) or not isinstance(v, int | np.integer):
                raise TypeError(f"DistributedSampler: {name} must be an int, got {v!r}")
        if num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be >= 1, got {num_replicas}")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"DistributedSampler: rank must be in [0, {num_replicas - 1}], "
                             f"got {rank}")
        self.dataset = dataset
        self.num_replicas = int(num_replicas)
        self.rank = int(rank)
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.drop_last = bool(drop_last)
        self.epoch = 0
        n = len(dataset)
        if self.drop_last and n % self.num_replicas:
            self.num_samples = math.ceil((n - self.num_replicas) / self.num_replicas)
        else:
            self.num_samples = math.ceil(n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def __iter__(self) -> Iterator[int]:
        return iter(self._epoch_indices().tolist())

    def _epoch_indices(self) -> np.ndarray:
        """This rank's indices for the current epoch, as an int64 array."""
        n = len(self.dataset)
        if self.shuffle:
            order = np.random.default_rng(self.seed + self.epoch).permutation(n)
        else:
            order = np.arange(n, dtype=np.int64)
        if not self.drop_last:
            pad = self.total_size - n
            if pad > 0:  # repeat the order from its start as often as needed (PyTorch's padding)
                order = np.concatenate([order, np.tile(order, math.ceil(pad / n))[:pad]])
        else:
            order = order[: self.total_size]
        return order[self.rank : self.total_size : self.num_replicas].astype(np.int64, copy=False)

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Use permutation number ``epoch`` next (call it before each epoch, on every rank)."""
        self.epoch = int(epoch)

    def __repr__(self) -> str:
        return (f"DistributedSampler(len(dataset)={len(self.dataset)}, num_replicas="
                f"{self.num_replicas}, rank={self.rank}, shuffle={self.shuffle}, seed="
                f"{self.seed}, drop_last={self.drop_last}, epoch={self.epoch})")
