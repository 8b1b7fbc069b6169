"""Map-style datasets: ``Dataset``, ``TensorDataset``, ``Subset`` and ``random_split``.

Samples are NumPy arrays and Python numbers; the :class:`~minigrad.data.DataLoader` turns batches
of them into ``minigrad.Tensor``s. Datasets whose fields live in whole arrays (``TensorDataset``,
``Subset`` of one, ``MNIST`` without transforms) also expose ``_gather_fields(indices)``, which
the loader uses to fetch a batch with one fancy-indexing call per field instead of one
``__getitem__`` per sample.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np

from minigrad.data._core import GeneratorLike, is_tensor, make_generator, resolve

__all__ = ["Dataset", "TensorDataset", "Subset", "random_split"]


class Dataset(ABC):
    """A map-style dataset: ``dataset[i]`` for ``0 <= i < len(dataset)``.

    Subclasses implement ``__getitem__`` and ``__len__``.
    """

    @abstractmethod
    def __getitem__(self, index: int) -> Any: ...

    @abstractmethod
    def __len__(self) -> int: ...

    def _gather_fields(self, indices: np.ndarray) -> tuple[np.ndarray, ...] | None:
        """Batch fetch for the DataLoader's fast path.

        indices: (B,) int64. Returns one array per sample field, each ``(B, *field_shape)``, exactly
        what stacking ``self[i]`` for ``i in indices`` field by field would give; or None when the
        dataset cannot do better than per-sample ``__getitem__``.
        """
        return None


def _as_array(t: Any, position: int) -> np.ndarray:
    if is_tensor(t):
        a = t.data
    elif isinstance(t, np.ndarray):
        a = t
    else:
        a = np.asarray(t)
    if a.dtype == object:
        raise TypeError(f"TensorDataset: tensor {position} has dtype object; pass numeric arrays")
    if a.ndim == 0:
        raise ValueError(f"TensorDataset: tensor {position} is 0-d; every tensor needs a first dim")
    return a


class TensorDataset(Dataset):
    """Dataset of the rows of equally long arrays: ``ds[i] == (t[i] for t in tensors)``.

    tensors: minigrad Tensors, NumPy arrays or anything ``np.asarray`` accepts, all with the same
    first dimension N. They are stored as NumPy arrays (``.tensors``, sharing memory with the
    inputs); ``ds[i]`` is a tuple of NumPy rows (views) or scalars.
    """

    def __init__(self, *tensors: Any) -> None:
        if not tensors:
            raise ValueError("TensorDataset: needs at least one tensor")
        arrays = tuple(_as_array(t, k) for k, t in enumerate(tensors))
        sizes = [a.shape[0] for a in arrays]
        if any(s != sizes[0] for s in sizes):
            shapes = ", ".join(str(a.shape) for a in arrays)
            raise ValueError(
                f"TensorDataset: all tensors must have the same size in dim 0, got sizes {sizes} "
                f"(shapes {shapes})"
            )
        self.tensors = arrays

    def __getitem__(self, index: Any) -> tuple[Any, ...]:
        return tuple(a[index] for a in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0]

    def _gather_fields(self, indices: np.ndarray) -> tuple[np.ndarray, ...] | None:
        if type(self).__getitem__ is not TensorDataset.__getitem__:
            return None  # a subclass changed what a sample is: honour its __getitem__
        # fancy indexing copies, so a batch never aliases the dataset's storage
        return tuple(a[indices] for a in self.tensors)


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order."""

    def __init__(self, dataset: Dataset, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, idx: Any) -> Any:
        if isinstance(idx, list):
            return self.dataset[[int(self.indices[i]) for i in idx]]
        if isinstance(idx, (int, np.integer)):
            # plain ints downstream, whatever container ``indices`` is (random_split uses arrays)
            return self.dataset[int(self.indices[idx])]
        return self.dataset[self.indices[idx]]

    def __len__(self) -> int:
        return len(self.indices)

    def _gather_fields(self, indices: np.ndarray) -> tuple[np.ndarray, ...] | None:
        gather = getattr(self.dataset, "_gather_fields", None)
        if gather is None or type(self).__getitem__ is not Subset.__getitem__:
            return None
        return gather(np.asarray(self.indices, dtype=np.int64)[indices])


def random_split(
    dataset: Dataset, lengths: Sequence[int | float], generator: GeneratorLike = None
) -> list[Subset]:
    """Split ``dataset`` into disjoint random ``Subset`` objects of the given lengths (as PyTorch).

    lengths: ints summing to ``len(dataset)``, or fractions summing to 1; fractional lengths are
    floored and the remainder is handed out one by one, round-robin from the first split.
    generator: numpy Generator, int seed, or None for minigrad's global generator.
    """
    n = len(dataset)
    lengths = list(lengths)
    if not lengths:
        raise ValueError("random_split: lengths is empty")
    total = sum(lengths)
    if math.isclose(total, 1) and total <= 1:
        if any(not 0 <= f <= 1 for f in lengths):
            raise ValueError(f"random_split: fractions must lie in [0, 1], got {lengths}")
        sizes = [math.floor(n * f) for f in lengths]
        for i in range(n - sum(sizes)):
            sizes[i % len(sizes)] += 1
    else:
        if any(
            isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 0 for s in lengths
        ):
            raise ValueError(
                "random_split: lengths must be non-negative ints summing to the dataset length "
                f"or fractions summing to 1, got {lengths}"
            )
        sizes = [int(s) for s in lengths]
    if sum(sizes) != n:
        raise ValueError(
            f"random_split: lengths {lengths} sum to {sum(sizes)}, but the dataset has {n} samples"
        )
    rng = resolve(make_generator(generator, "random_split"))
    perm = rng.permutation(n)
    stops = np.cumsum(sizes)
    return [
        Subset(dataset, perm[stop - size : stop]) for stop, size in zip(stops, sizes, strict=True)
    ]
