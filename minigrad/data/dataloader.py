"""``DataLoader``: batches of a map-style dataset as ``minigrad.Tensor``s, and ``default_collate``.

Dtype rules of the default collation (one place, ``_canonical_dtype``): float64 stays float64,
every other float becomes float32, every integer becomes int64, bool stays bool. Python floats
collate to float32 (minigrad's default dtype; PyTorch would give float64), Python ints to int64.
"""

from __future__ import annotations

import collections.abc
import numbers
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from minigrad.data._core import GeneratorLike, is_tensor, make_generator, resolve, to_tensor
from minigrad.data.dataset import Dataset

__all__ = ["DataLoader", "default_collate", "default_convert"]


def _canonical_dtype(dtype: np.dtype) -> np.dtype:
    if dtype.kind == "f":
        return np.dtype(np.float64) if dtype.itemsize >= 8 else np.dtype(np.float32)
    if dtype.kind in "iu":
        return np.dtype(np.int64)
    if dtype.kind == "b":
        return np.dtype(np.bool_)
    raise TypeError(
        f"default_collate: cannot make a tensor of dtype {dtype}; samples must hold bool, integer "
        "or float data"
    )


def _array_to_tensor(a: np.ndarray) -> Any:
    return to_tensor(a.astype(_canonical_dtype(a.dtype), copy=False))


def _stack(arrays: list[np.ndarray]) -> np.ndarray:
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise ValueError(
            f"default_collate: samples in a batch must have equal shapes, got {sorted(shapes)}"
        )
    return np.stack(arrays)


def default_collate(batch: list[Any]) -> Any:
    """Merge a list of samples into a batch (PyTorch's rules, minigrad dtypes).

    Arrays / Tensors of shape S -> Tensor (B, *S); numbers -> Tensor (B,); str -> list;
    dicts collate per key; tuples and lists collate field-wise into a list (a namedtuple keeps
    its type), so ``for x, y in loader`` works.
    """
    if not batch:
        raise ValueError("default_collate: empty batch")
    elem = batch[0]
    if is_tensor(elem):
        return _array_to_tensor(_stack([np.asarray(t.data) for t in batch]))
    if isinstance(elem, np.ndarray):
        return _array_to_tensor(_stack(batch))
    if isinstance(elem, (bool, np.bool_)):
        return to_tensor(np.array(batch, dtype=np.bool_))
    if isinstance(elem, numbers.Integral):
        return to_tensor(np.array(batch, dtype=np.int64))
    if isinstance(elem, np.generic):
        return _array_to_tensor(np.array(batch))
    if isinstance(elem, numbers.Real):
        return to_tensor(np.array(batch, dtype=np.float32))
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, collections.abc.Mapping):
        return {key: default_collate([d[key] for d in batch]) for key in elem}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):
        return type(elem)(*(default_collate(list(field)) for field in zip(*batch, strict=True)))
    if isinstance(elem, collections.abc.Sequence):
        lengths = {len(sample) for sample in batch}
        if len(lengths) > 1:
            raise ValueError(
                f"default_collate: samples in a batch must have the same number of fields, "
                f"got {sorted(lengths)}"
            )
        return [default_collate(list(field)) for field in zip(*batch, strict=True)]
    raise TypeError(
        "default_collate: samples must be Tensors, numpy arrays, numbers, str, dicts or "
        f"sequences of those; found {type(elem).__name__}"
    )


def default_convert(sample: Any) -> Any:
    """Convert one sample without batching (``batch_size=None``): arrays become Tensors,
    containers are converted element-wise, anything else is returned unchanged."""
    if isinstance(sample, np.ndarray) and sample.dtype.kind in "biuf":
        # copy: a sample is often a view into the dataset, and the Tensor shares its array
        return _array_to_tensor(np.array(sample))
    if isinstance(sample, collections.abc.Mapping):
        return {key: default_convert(v) for key, v in sample.items()}
    if isinstance(sample, tuple) and hasattr(sample, "_fields"):
        return type(sample)(*(default_convert(v) for v in sample))
    if isinstance(sample, (tuple, list)):
        return [default_convert(v) for v in sample]
    return sample


class DataLoader:
    """Iterate over ``dataset`` in batches (single process).

    batch_size: samples per batch, or None to yield single converted samples.
    shuffle: draw a fresh permutation each epoch from ``generator`` (a numpy Generator, an int
        seed for a private Generator, or None for minigrad's global generator, which
        ``minigrad.manual_seed`` seeds). Epochs differ from each other but repeat from a seed.
    drop_last: drop the final batch when it is smaller than ``batch_size``.
    collate_fn: merges a list of samples into a batch; default :func:`default_collate`.

    Fast path: with the default collate_fn and a dataset offering ``_gather_fields``
    (``TensorDataset``, a ``Subset`` of one, ``MNIST`` without transforms) each batch is fetched
    with one fancy-indexing call per field instead of per-sample ``__getitem__`` + stacking; the
    batches are identical.
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int | None = 1,
        shuffle: bool = False,
        drop_last: bool = False,
        generator: GeneratorLike = None,
        collate_fn: Callable[[list[Any]], Any] | None = None,
    ) -> None:
        if not hasattr(dataset, "__getitem__") or not hasattr(dataset, "__len__"):
            raise TypeError(
                f"DataLoader: dataset must define __getitem__ and __len__, "
                f"got {type(dataset).__name__}"
            )
        if batch_size is not None and (
            isinstance(batch_size, bool)
            or not isinstance(batch_size, (int, np.integer))
            or batch_size <= 0
        ):
            raise ValueError(
                f"DataLoader: batch_size must be a positive int or None, got {batch_size!r}"
            )
        if not isinstance(shuffle, (bool, np.bool_)):
            raise TypeError(f"DataLoader: shuffle must be a bool, got {shuffle!r}")
        if batch_size is None and drop_last:
            raise ValueError("DataLoader: drop_last=True needs a batch_size (got None)")
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError(f"DataLoader: collate_fn must be callable, got {collate_fn!r}")
        self.dataset = dataset
        self.batch_size = None if batch_size is None else int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.generator = generator
        self._rng = make_generator(generator, "DataLoader")
        self.collate_fn = collate_fn

    def __len__(self) -> int:
        n = len(self.dataset)
        if self.batch_size is None:
            return n
        if self.drop_last:
            return n // self.batch_size
        return -(-n // self.batch_size)

    def _order(self) -> np.ndarray:
        n = len(self.dataset)
        if self.shuffle:
            return resolve(self._rng).permutation(n)
        return np.arange(n)

    def __iter__(self) -> Iterator[Any]:
        order = self._order()
        if self.batch_size is None:
            convert = self.collate_fn or default_convert
            for i in order.tolist():
                yield convert(self.dataset[i])
            return
        bs = self.batch_size
        stop = len(self) * bs if self.drop_last else len(order)
        gather = None
        if self.collate_fn is None:
            gather = getattr(self.dataset, "_gather_fields", None)
        collate = self.collate_fn or default_collate
        for start in range(0, stop, bs):
            idx = order[start : start + bs]
            fields = gather(idx) if gather is not None else None
            if fields is not None:
                yield [_array_to_tensor(f) for f in fields]
            else:
                yield collate([self.dataset[i] for i in idx.tolist()])

    def __repr__(self) -> str:
        return (
            f"DataLoader(dataset={type(self.dataset).__name__}(len={len(self.dataset)}), "
            f"batch_size={self.batch_size}, shuffle={self.shuffle}, drop_last={self.drop_last})"
        )
