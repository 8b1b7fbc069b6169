"""Samplers: which dataset indices a :class:`~minigrad.data.DataLoader` visits, and in what order.

PyTorch's classes and arguments (``torch.utils.data.sampler``). A sampler yields Python ints; a
:class:`BatchSampler` groups them into lists. Randomness comes from ``generator``: a NumPy
Generator, an int seed (a private Generator made once, so every epoch differs but a run repeats
from its seed) or None for minigrad's global generator at draw time (seeded by
``minigrad.manual_seed``).

The built-in samplers also produce a whole epoch as one int64 array (``_epoch_indices``), which
the DataLoader slices into batches without building Python lists: that keeps the single-process
loader as fast as indexing an array.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence, Sized
from typing import Any

import numpy as np

from minigrad.data._core import GeneratorLike, make_generator, resolve

__all__ = [
    "Sampler",
    "SequentialSampler",
    "RandomSampler",
    "SubsetRandomSampler",
    "WeightedRandomSampler",
    "BatchSampler",
]


def _check_positive_int(value: Any, owner: str, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{owner}: {name} must be a positive int, got {value!r}")
    return int(value)


def _check_bool(value: Any, owner: str, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{owner}: {name} must be a bool, got {value!r}")
    return bool(value)


class Sampler:
    """Base class: subclasses implement ``__iter__`` (yielding indices) and, where the number of
    indices is known, ``__len__``. ``data_source`` is accepted for PyTorch compatibility."""

    def __init__(self, data_source: Sized | None = None) -> None:
        pass

    def __iter__(self) -> Iterator[int]:
        raise NotImplementedError

    def _epoch_indices(self) -> np.ndarray | None:
        """One epoch's indices as an int64 array (drawing any random numbers the epoch needs),
        or None when the sampler can only be iterated."""
        return None


class SequentialSampler(Sampler):
    """``0, 1, ..., len(data_source) - 1``, every epoch."""

    def __init__(self, data_source: Sized) -> None:
        self.data_source = data_source

    def _epoch_indices(self) -> np.ndarray:
        return np.arange(len(self.data_source), dtype=np.int64)

    def __iter__(self) -> Iterator[int]:
        return iter(self._epoch_indices().tolist())

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler):
    """A fresh random order of ``data_source`` each epoch.

    replacement=False: a permutation (``num_samples`` > n concatenates permutations, as PyTorch);
    replacement=True: ``num_samples`` independent uniform draws. ``num_samples`` defaults to
    ``len(data_source)``.
    """

    def __init__(
        self,
        data_source: Sized,
        replacement: bool = False,
        num_samples: int | None = None,
        generator: GeneratorLike = None,
    ) -> None:
        self.data_source = data_source
        self.replacement = _check_bool(replacement, "RandomSampler", "replacement")
        self._num_samples = (
            None if num_samples is None
            else _check_positive_int(num_samples, "RandomSampler", "num_samples")
        )
        self.generator = generator
        self._rng = make_generator(generator, "RandomSampler")

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def _epoch_indices(self) -> np.ndarray:
        n, k = len(self.data_source), self.num_samples
        rng = resolve(self._rng)
        if self.replacement:
            if n == 0:
                raise ValueError("RandomSampler: cannot draw with replacement from an empty "
                                 "data source")
            return rng.integers(0, n, size=k, dtype=np.int64)
        if k == n:  # the common case; the loader's order before samplers existed
            return rng.permutation(n).astype(np.int64, copy=False)
        parts = [rng.permutation(n) for _ in range(k // n)] if n else []
        parts.append(rng.permutation(n)[: k % n] if n else np.zeros(0, np.int64))
        return np.concatenate(parts).astype(np.int64, copy=False)

    def __iter__(self) -> Iterator[int]:
        return iter(self._epoch_indices().tolist())

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given ``indices`` in a fresh random order each epoch."""

    def __init__(self, indices: Sequence[int], generator: GeneratorLike = None) -> None:
        self.indices = indices
        self.generator = generator
        self._rng = make_generator(generator, "SubsetRandomSampler")

    def _epoch_indices(self) -> np.ndarray:
        idx = np.asarray(self.indices, dtype=np.int64).reshape(-1)
        return idx[resolve(self._rng).permutation(len(idx))]

    def __iter__(self) -> Iterator[int]:
        return iter(self._epoch_indices().tolist())

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices in ``[0, len(weights))`` drawn with probability proportional to
    ``weights`` (with replacement by default, as PyTorch's ``torch.multinomial``)."""

    def __init__(
        self,
        weights: Sequence[float],
        num_samples: int,
        replacement: bool = True,
        generator: GeneratorLike = None,
    ) -> None:
        w = np.asarray(weights, dtype=np.float64)
        if w.ndim != 1 or w.size == 0:
            raise ValueError(
                f"WeightedRandomSampler: weights must be a non-empty 1-D sequence, got shape "
                f"{w.shape}"
            )
        if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
            raise ValueError(
                "WeightedRandomSampler: weights must be finite, non-negative and not all zero"
            )
        self.num_samples = _check_positive_int(num_samples, "WeightedRandomSampler",
                                               "num_samples")
        self.replacement = _check_bool(replacement, "WeightedRandomSampler", "replacement")
        if not self.replacement and self.num_samples > np.count_nonzero(w):
            raise ValueError(
                f"WeightedRandomSampler: cannot draw {self.num_samples} samples without "
                f"replacement from {np.count_nonzero(w)} nonzero weights"
            )
        self.weights = w
        self.generator = generator
        self._rng = make_generator(generator, "WeightedRandomSampler")

    def _epoch_indices(self) -> np.ndarray:
        p = self.weights / self.weights.sum()
        return resolve(self._rng).choice(
            len(p), size=self.num_samples, replace=self.replacement, p=p
        ).astype(np.int64, copy=False)

    def __iter__(self) -> Iterator[int]:
        return iter(self._epoch_indices().tolist())

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler):
    """Group the indices of ``sampler`` (a Sampler or any iterable of ints) into lists of
    ``batch_size``; the last, shorter list is dropped when ``drop_last``."""

    def __init__(self, sampler: Iterable[int], batch_size: int, drop_last: bool) -> None:
        self.sampler = sampler
        self.batch_size = _check_positive_int(batch_size, "BatchSampler", "batch_size")
        self.drop_last = _check_bool(drop_last, "BatchSampler", "drop_last")

    def __iter__(self) -> Iterator[list[int]]:
        batch: list[int] = []
        for i in self.sampler:
            batch.append(int(i))
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def _array_batches(self) -> Iterator[np.ndarray] | None:
        """The same batches as int64 arrays, when the sampler can give its epoch as an array."""
        if getattr(type(self.sampler), "__iter__", None) not in _ARRAY_ITERS:
            return None  # not a built-in sampler, or a subclass with its own __iter__
        return self._slices(self.sampler._epoch_indices())  # type: ignore[attr-defined]

    def _slices(self, order: np.ndarray) -> Iterator[np.ndarray]:
        bs = self.batch_size
        stop = len(order) - len(order) % bs if self.drop_last else len(order)
        for start in range(0, stop, bs):
            yield order[start : start + bs]

    def __len__(self) -> int:
        n = len(self.sampler)  # type: ignore[arg-type]
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


# Samplers whose __iter__ is their _epoch_indices as a list: for these (and subclasses that keep
# that __iter__) the array form gives exactly the same indices.
_ARRAY_ITERS = frozenset(
    cls.__iter__
    for cls in (SequentialSampler, RandomSampler, SubsetRandomSampler, WeightedRandomSampler)
)
