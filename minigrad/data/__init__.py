"""Data loading for minigrad: datasets, a DataLoader that yields ``minigrad.Tensor`` batches,
bundled / on-disk data sets and NumPy transforms. PyTorch's names and defaults where they exist.
Typical use::

    from minigrad.data import DataLoader, TensorDataset, load_digits, random_split
    X, y = load_digits()                                   # (1797, 1, 8, 8) float32, (1797,) int64
    train, val = random_split(TensorDataset(X, y), [0.8, 0.2])
    loader = DataLoader(train, batch_size=64, shuffle=True)  # once: each epoch reshuffles
    for epoch in range(5):
        for xb, yb in loader:                              # xb: Tensor (64, 1, 8, 8), yb: (64,)
            ...

``num_workers=N`` loads batches in N worker processes (see :class:`DataLoader`).
"""

from minigrad.data import sampler, transforms
from minigrad.data._worker import WorkerInfo, get_worker_info
from minigrad.data.dataloader import DataLoader, default_collate, default_convert
from minigrad.data.dataset import Dataset, Subset, TensorDataset, random_split
from minigrad.data.datasets import MNIST, load_digits, read_idx
from minigrad.data.distributed import DistributedSampler
from minigrad.data.sampler import *  # noqa: F403 (the samplers: sampler.__all__)

__all__ = [
    "Dataset",
    "TensorDataset",
    "Subset",
    "random_split",
    "DistributedSampler",
    "DataLoader",
    "get_worker_info",
    "WorkerInfo",
    *sampler.__all__,
    "default_collate",
    "default_convert",
    "load_digits",
    "read_idx",
    "MNIST",
    "transforms",
]
