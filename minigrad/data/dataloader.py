"""``DataLoader``: batches of a map-style dataset as ``minigrad.Tensor``s, and ``default_collate``.

Dtype rules of the default collation (one place, ``_canonical_dtype``): float64 stays float64,
every other float becomes float32, every integer becomes int64, bool stays bool. Python floats
collate to float32 (minigrad's default dtype; PyTorch would give float64), Python ints to int64.

Worker processes (``num_workers > 0``) follow PyTorch's design: the main process hands each
worker the indices of a batch through the worker's own queue, ``prefetch_factor`` batches per
worker ahead, and puts the answers back in order. How workers start: with ``fork`` on Linux (the
dataset is shared copy-on-write and a worker starts in milliseconds; checked safe on Linux after
the parent ran parallel Numba kernels under the TBB and the workqueue threading layers), except
when the parent process runs Numba's OpenMP layer, which aborts a forked child ("fork() called
from a process already using GNU OpenMP, this is unsafe"): then ``forkserver``. Elsewhere the
platform's default (``spawn`` on macOS and Windows). ``multiprocessing_context`` overrides the
choice; with ``spawn``/``forkserver`` the dataset, ``collate_fn`` and ``worker_init_fn`` must be
picklable and the script needs an ``if __name__ == "__main__":`` guard.
"""

from __future__ import annotations

import collections.abc
import hashlib
import multiprocessing
import multiprocessing.context
import numbers
import os
import queue
import signal
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from minigrad.data import _worker
from minigrad.data._core import GeneratorLike, is_tensor, make_generator, resolve, to_tensor
from minigrad.data.dataset import Dataset
from minigrad.data.sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

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

    Arrays / Tensors of shape S -> Tensor ``(B, *S)``; numbers -> Tensor (B,); str -> list;
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


class _Fetcher:
    """Turns the indices of one batch (or one index without auto-batching) into the batch.

    Module-level and holding no loader, so it pickles for ``spawn`` workers. With the default
    collation and a dataset offering ``_gather_fields`` it returns :class:`_worker.Fields` (the
    raw arrays; :func:`_finish` wraps them as Tensors in the process that yields them)."""

    def __init__(self, dataset: Any, auto_collation: bool,
                 collate_fn: Callable[[Any], Any] | None) -> None:
        self.dataset = dataset
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn

    def __call__(self, index: Any) -> Any:
        dataset = self.dataset
        if not self.auto_collation:
            return (self.collate_fn or default_convert)(dataset[index])
        if self.collate_fn is None:
            gather = getattr(dataset, "_gather_fields", None)
            if gather is not None:
                fields = gather(np.asarray(index, dtype=np.int64))
                if fields is not None:
                    return _worker.Fields(fields)
            collate = default_collate
        else:
            collate = self.collate_fn
        if isinstance(index, np.ndarray):
            index = index.tolist()
        return collate([dataset[i] for i in index])


def _finish(batch: Any) -> Any:
    if isinstance(batch, _worker.Fields):
        return [_array_to_tensor(f) for f in batch]
    return batch


def _check_int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"DataLoader: {name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def _openmp_layer_running() -> bool:
    numba = sys.modules.get("numba")
    if numba is None:
        return False
    try:
        return numba.threading_layer() == "omp"
    except ValueError:  # no parallel kernel has run yet: a child inherits no threading state
        return False


def _default_context() -> multiprocessing.context.BaseContext:
    """fork on Linux unless Numba's OpenMP layer runs here (see the module docstring)."""
    if sys.platform.startswith("linux"):
        return multiprocessing.get_context("forkserver" if _openmp_layer_running() else "fork")
    return multiprocessing.get_context()


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


# Seconds the workers get to finish their current batch and exit before they are terminated.
_SHUTDOWN_GRACE = 2.0

_FIXED_AFTER_INIT = frozenset(
    {"dataset", "batch_size", "batch_sampler", "sampler", "drop_last", "persistent_workers"}
)


class DataLoader:
    """Iterate over ``dataset`` in batches, in this process or in worker processes.

    PyTorch's arguments and rules (``torch.utils.data.DataLoader``).

    Args:
        batch_size: samples per batch, or None to yield single converted samples (no batching).
        shuffle: draw a fresh order each epoch (a :class:`RandomSampler` over ``generator``).
        sampler: the indices to visit (a Sampler or any iterable of ints with ``__len__``, e.g. a
            ``DistributedSampler``); excludes ``shuffle``.
        batch_sampler: yields lists of indices, one per batch; excludes ``batch_size``, ``shuffle``,
            ``sampler`` and ``drop_last``.
        num_workers: 0 loads in this process (the default and the fastest for in-memory data);
            N > 0 starts N worker processes (see the module docstring for how they start).
        collate_fn: merges a list of samples into a batch; default :func:`default_collate`
            (:func:`default_convert` without batching).
        pin_memory: accepted for PyTorch compatibility and ignored: batches are host (NumPy) arrays,
            and ``.to("cuda")`` copies them to the GPU either way.
        drop_last: drop the final batch when it is smaller than ``batch_size``.
        timeout: seconds to wait for a batch from the workers before raising RuntimeError (0: wait
            for ever, while checking that the workers are alive).
        worker_init_fn: called as ``worker_init_fn(worker_id)`` in each worker after seeding.
        multiprocessing_context: a start method name (``"fork"``, ``"spawn"``, ``"forkserver"``) or
            a ``multiprocessing`` context; default: see the module docstring.
        generator: a numpy Generator, an int seed for a private Generator, or None for minigrad's
            global generator (seeded by ``minigrad.manual_seed``). It draws the shuffling order, so
            epochs of one loader differ from each other but a run repeats from its seed; build the
            loader once, outside the epoch loop (a new loader per epoch with ``generator=0`` repeats
            the first epoch's order every time).
        prefetch_factor: batches each worker loads ahead (default 2 with workers; must stay None
            without them).
        persistent_workers: keep the workers (and their state) alive between epochs.

    Seeding of workers: at the start of each epoch a 63-bit ``base_seed`` is derived from the
    generator's state and the loader's epoch count (without drawing from the generator, so the
    batches are the same for every ``num_workers``); worker ``i`` seeds Python's ``random``,
    NumPy's legacy global RNG and minigrad's global generator with ``base_seed + i``
    (:func:`get_worker_info` gives it). Transforms that use the global generator thus draw
    different numbers in each worker and epoch, repeatably; a transform built with its own seed
    is copied into every worker and repeats the same numbers in all of them. Persistent workers
    are seeded once, when they start.

    Worker errors: an exception in ``dataset[i]``, ``collate_fn`` or ``worker_init_fn`` is raised
    again in the main process, same type, with the worker's traceback in the message. Workers
    stop when an epoch ends (unless persistent) or when the iterator is dropped, and a worker
    that dies is reported instead of waited for.

    Fast path: with the default collate_fn and a dataset offering ``_gather_fields``
    (``TensorDataset``, a ``Subset`` of one, ``MNIST`` without transforms) each batch is fetched
    with one fancy-indexing call per field instead of per-sample ``__getitem__`` + stacking; the
    batches are identical.
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int | None = 1,
        shuffle: bool | None = None,
        sampler: Sampler | Iterable[int] | None = None,
        batch_sampler: Sampler | Iterable[list[int]] | None = None,
        num_workers: int = 0,
        collate_fn: Callable[[list[Any]], Any] | None = None,
        pin_memory: bool = False,
        drop_last: bool = False,
        timeout: float = 0,
        worker_init_fn: Callable[[int], None] | None = None,
        multiprocessing_context: str | multiprocessing.context.BaseContext | None = None,
        generator: GeneratorLike = None,
        *,
        prefetch_factor: int | None = None,
        persistent_workers: bool = False,
    ) -> None:
        if not hasattr(dataset, "__getitem__") or not hasattr(dataset, "__len__"):
            raise TypeError(
                f"DataLoader: dataset must define __getitem__ and __len__, "
                f"got {type(dataset).__name__}"
            )
        if isinstance(num_workers, bool) or not isinstance(num_workers, (int, np.integer)) \
                or num_workers < 0:
            raise ValueError(
                f"DataLoader: num_workers option should be a non-negative int, got "
                f"{num_workers!r}; use num_workers=0 to disable multiprocessing"
            )
        num_workers = int(num_workers)
        if isinstance(timeout, bool) or not isinstance(timeout, numbers.Real) or not (
            0 <= timeout < float("inf")
        ):
            raise ValueError(f"DataLoader: timeout option should be a non-negative number of "
                             f"seconds, got {timeout!r}")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError(
                "DataLoader: prefetch_factor option could only be specified in multiprocessing; "
                "let num_workers > 0 to enable multiprocessing, otherwise set prefetch_factor "
                "to None"
            )
        if num_workers > 0:
            prefetch_factor = 2 if prefetch_factor is None else _check_int(
                prefetch_factor, "prefetch_factor", 1)
        if not isinstance(persistent_workers, (bool, np.bool_)):
            raise TypeError(f"DataLoader: persistent_workers must be a bool, got "
                            f"{persistent_workers!r}")
        if persistent_workers and num_workers == 0:
            raise ValueError("DataLoader: persistent_workers option needs num_workers > 0")
        if shuffle is not None and not isinstance(shuffle, (bool, np.bool_)):
            raise TypeError(f"DataLoader: shuffle must be a bool, got {shuffle!r}")
        shuffle = bool(shuffle)
        if not isinstance(drop_last, (bool, np.bool_)):
            raise TypeError(f"DataLoader: drop_last must be a bool, got {drop_last!r}")
        if not isinstance(pin_memory, (bool, np.bool_)):
            raise TypeError(f"DataLoader: pin_memory must be a bool, got {pin_memory!r}")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError(
                    "DataLoader: batch_sampler option is mutually exclusive with batch_size, "
                    "shuffle, sampler, and drop_last"
                )
            batch_size = None
            drop_last = False
        elif batch_size is None:
            if drop_last:
                raise ValueError(
                    "DataLoader: batch_size=None option disables auto-batching and is mutually "
                    "exclusive with drop_last"
                )
        elif isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
                or batch_size <= 0:
            raise ValueError(
                f"DataLoader: batch_size must be a positive int or None, got {batch_size!r}"
            )
        for name, fn in (("collate_fn", collate_fn), ("worker_init_fn", worker_init_fn)):
            if fn is not None and not callable(fn):
                raise TypeError(f"DataLoader: {name} must be callable, got {fn!r}")
        if isinstance(multiprocessing_context, str):
            methods = multiprocessing.get_all_start_methods()
            if multiprocessing_context not in methods:
                raise ValueError(
                    f"DataLoader: multiprocessing_context should be a start method in "
                    f"{methods}, got {multiprocessing_context!r}"
                )
            multiprocessing_context = multiprocessing.get_context(multiprocessing_context)
        elif multiprocessing_context is not None and not isinstance(
            multiprocessing_context, multiprocessing.context.BaseContext
        ):
            raise TypeError(
                "DataLoader: multiprocessing_context must be a start method name or a "
                f"multiprocessing context, got {multiprocessing_context!r}"
            )
        rng = make_generator(generator, "DataLoader")
        if sampler is None:
            sampler = RandomSampler(dataset, generator=rng) if shuffle \
                else SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, int(batch_size), bool(drop_last))
        if num_workers > _usable_cpus():
            warnings.warn(
                f"DataLoader: {num_workers} worker processes for {_usable_cpus()} usable CPU "
                "core(s); more workers than cores usually slows loading down",
                UserWarning, stacklevel=2,
            )

        self.dataset = dataset
        self.batch_size = None if batch_size is None else int(batch_size)
        self.shuffle = shuffle
        self.drop_last = bool(drop_last)
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.num_workers = num_workers
        self.collate_fn = collate_fn
        self.pin_memory = bool(pin_memory)
        self.timeout = float(timeout)
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.generator = generator
        self.prefetch_factor = prefetch_factor
        self.persistent_workers = bool(persistent_workers)
        self._rng = rng
        self._epochs_started = 0
        self._iterator: _WorkerIterator | None = None
        self._initialized = True

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _FIXED_AFTER_INIT and self.__dict__.get("_initialized", False):
            raise ValueError(
                f"DataLoader: {name} attribute should not be set after DataLoader is "
                "initialized (make a new DataLoader)"
            )
        super().__setattr__(name, value)

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None

    @property
    def _index_sampler(self) -> Any:
        return self.batch_sampler if self._auto_collation else self.sampler

    def __len__(self) -> int:
        return len(self._index_sampler)

    def _index_batches(self) -> Iterator[Any]:
        """One epoch of what to fetch: index arrays or lists (batched), or single indices."""
        if type(self.batch_sampler) is BatchSampler:
            arrays = self.batch_sampler._array_batches()
            if arrays is not None:
                return arrays
        return iter(self._index_sampler)

    def _fetcher(self) -> _Fetcher:
        return _Fetcher(self.dataset, self._auto_collation, self.collate_fn)

    def _next_base_seed(self) -> int:
        """A 63-bit seed for this epoch's workers, from the generator's state and the epoch
        count; nothing is drawn, so the shuffling order does not depend on num_workers."""
        state = repr(resolve(self._rng).bit_generator.state)
        digest = hashlib.blake2b(f"{state}|{self._epochs_started}".encode(), digest_size=8)
        return int.from_bytes(digest.digest(), "little") >> 1

    def __iter__(self) -> Iterator[Any]:
        self._epochs_started += 1
        if self.num_workers == 0:
            return self._single_process_iter()
        if self.persistent_workers:
            if self._iterator is None or self._iterator._shutdown:
                self._iterator = _WorkerIterator(self)
            else:
                self._iterator._reset(self)
            return self._iterator
        return _WorkerIterator(self)

    def _single_process_iter(self) -> Iterator[Any]:
        fetch = self._fetcher()
        for index in self._index_batches():
            yield _finish(fetch(index))

    def __repr__(self) -> str:
        return (
            f"DataLoader(dataset={type(self.dataset).__name__}(len={len(self.dataset)}), "
            f"batch_size={self.batch_size}, shuffle={self.shuffle}, drop_last={self.drop_last}, "
            f"num_workers={self.num_workers})"
        )


def _describe_exit(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


class _WorkerIterator:
    """One pass over a DataLoader with worker processes (reused across epochs when the workers
    are persistent). Holds no reference to the loader, so a persistent loader and its iterator
    form no cycle and both go (with the workers) as soon as the loader is dropped."""

    def __init__(self, loader: DataLoader) -> None:
        ctx = loader.multiprocessing_context or _default_context()
        self._num_workers = loader.num_workers
        self._prefetch = loader.prefetch_factor
        self._timeout = loader.timeout
        self._persistent = loader.persistent_workers
        self._shutdown = False
        self._workers: list[Any] = []
        self._index_queues: list[Any] = []
        self._result_queue = ctx.Queue()
        self._done_event = ctx.Event()
        base_seed = loader._next_base_seed()
        fetch = loader._fetcher()
        try:
            for worker_id in range(self._num_workers):
                index_queue = ctx.Queue()
                index_queue.cancel_join_thread()  # never block exit on an unread index
                worker = ctx.Process(
                    target=_worker.worker_loop,
                    args=(loader.dataset, fetch, index_queue, self._result_queue,
                          self._done_event, base_seed, loader.worker_init_fn, worker_id,
                          self._num_workers),
                    daemon=True,
                )
                self._index_queues.append(index_queue)
                worker.start()
                self._workers.append(worker)
        except Exception as e:
            self._shutdown_workers()
            method = ctx.get_start_method()
            if method != "fork":
                raise RuntimeError(
                    f"DataLoader: could not start worker processes with the {method!r} start "
                    f"method: {type(e).__name__}: {e}. With 'spawn' or 'forkserver' the dataset, "
                    "collate_fn and worker_init_fn are pickled: define them at module level "
                    "(no lambdas or local functions)"
                ) from e
            raise
        self._reset(loader, first_epoch=True)

    def _reset(self, loader: DataLoader, first_epoch: bool = False) -> None:
        self._batches = loader._index_batches()
        self._next_worker = 0
        self._send_idx = 0  # tasks sent
        self._rcvd_idx = 0  # the task whose batch is yielded next
        self._received: dict[int, Any] = {}  # batches that arrived ahead of their turn
        if not first_epoch:
            # persistent workers: every worker echoes the marker after its last stale task, so
            # once all markers are back every stale batch of an abandoned epoch has been dropped
            for index_queue in self._index_queues:
                index_queue.put(_worker._ResumeIteration())
            pending = self._num_workers
            while pending:
                task_id, _ = self._get_data()
                if isinstance(task_id, _worker._ResumeIteration):
                    pending -= 1
        for _ in range(self._prefetch * self._num_workers):
            self._try_put_index()

    def _try_put_index(self) -> None:
        try:
            index = next(self._batches)
        except StopIteration:
            return
        self._index_queues[self._next_worker].put((self._send_idx, index))
        self._next_worker = (self._next_worker + 1) % self._num_workers
        self._send_idx += 1

    def _get_data(self) -> tuple[Any, Any]:
        deadline = time.monotonic() + self._timeout if self._timeout > 0 else None
        while True:
            wait = _worker.STATUS_CHECK_INTERVAL
            if deadline is not None:
                wait = max(0.0, min(wait, deadline - time.monotonic()))
            try:
                return _worker.decode(self._result_queue.get(timeout=wait))
            except queue.Empty:
                pass
            dead = [w for w in self._workers if not w.is_alive()]
            if dead:
                details = ", ".join(f"{w.pid} ({_describe_exit(w.exitcode)})" for w in dead)
                self._shutdown_workers()
                raise RuntimeError(f"DataLoader worker (pid(s) {details}) exited unexpectedly")
            if deadline is not None and time.monotonic() >= deadline:
                raise RuntimeError(
                    f"DataLoader timed out after {self._timeout:g} seconds waiting for a batch "
                    "from its workers"
                )

    def __iter__(self) -> _WorkerIterator:
        return self

    def __next__(self) -> Any:
        if self._shutdown or self._rcvd_idx >= self._send_idx:
            if not self._persistent:
                self._shutdown_workers()
            raise StopIteration
        while self._rcvd_idx not in self._received:
            task_id, data = self._get_data()
            if isinstance(task_id, _worker._ResumeIteration):
                continue
            self._received[task_id] = data
        data = self._received.pop(self._rcvd_idx)
        self._rcvd_idx += 1
        self._try_put_index()
        if isinstance(data, _worker.ExceptionWrapper):
            data.reraise()
        return _finish(data)

    def _shutdown_workers(self) -> None:
        """Stop and reap every worker (no zombies); safe to call more than once."""
        if self._shutdown:
            return
        self._shutdown = True
        try:
            self._done_event.set()
            for index_queue in self._index_queues:
                index_queue.put(None)
            # a worker exits once its current batch is done; one stuck longer is terminated
            deadline = time.monotonic() + _SHUTDOWN_GRACE
            for worker in self._workers:
                worker.join(timeout=max(0.0, deadline - time.monotonic()))
            for index_queue in self._index_queues:
                index_queue.close()
            self._result_queue.cancel_join_thread()
            self._result_queue.close()
        finally:
            for worker in self._workers:
                if worker.is_alive():
                    worker.terminate()
                    worker.join()

    def __del__(self) -> None:
        try:
            self._shutdown_workers()
        except Exception:  # interpreter shutdown: modules may already be gone
            pass
