"""What runs inside a DataLoader worker process, and what the main process needs to talk to it.

Protocol (PyTorch's): the main process puts ``(task_id, indices)`` on each worker's own index
queue and the worker answers ``(task_id, batch)`` on the shared result queue; ``None`` on the
index queue means "exit"; a :class:`_ResumeIteration` marker (persistent workers, new epoch) is
echoed back so the main process knows every earlier task of that worker has been answered.
An exception in a worker travels back as an :class:`ExceptionWrapper` holding the worker's
formatted traceback, and is re-raised by the main process.
"""

from __future__ import annotations

import os
import pickle
import queue
import random
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["WorkerInfo", "get_worker_info"]

# How long a blocking queue read waits before the worker (or the main process) checks that the
# other side is still alive.
STATUS_CHECK_INTERVAL = 1.0


@dataclass(frozen=True)
class WorkerInfo:
    """Returned by :func:`get_worker_info` inside a worker process.

    id: this worker's number, ``0 <= id < num_workers``. seed: ``base_seed + id``, the seed this
    worker gave Python's ``random``, NumPy's legacy global RNG and minigrad's global generator.
    dataset: this worker's copy of the dataset.
    """

    id: int
    num_workers: int
    seed: int
    dataset: Any


_worker_info: WorkerInfo | None = None


def get_worker_info() -> WorkerInfo | None:
    """The :class:`WorkerInfo` of the DataLoader worker this runs in; None in the main process.

    Use it in a dataset, a ``worker_init_fn`` or a ``collate_fn`` to split work between workers
    or to seed a library of your own."""
    return _worker_info


class ExceptionWrapper:
    """An exception caught in a worker, with its traceback as text (tracebacks do not pickle).

    Re-raised in the main process as the same exception type when that type can be rebuilt
    from a message (else as RuntimeError), the message holding the worker's traceback."""

    def __init__(self, exc: BaseException, where: str) -> None:
        self.exc_type: type[BaseException] = type(exc)
        self.where = where
        self.text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))

    def reraise(self) -> None:
        msg = f"Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.text}"
        if self.exc_type is KeyError:
            msg = KeyErrorMessage(msg)  # KeyError's str() would show the message's repr
        try:
            exc = self.exc_type(msg)
        except Exception:  # an exception type whose constructor needs other arguments
            raise RuntimeError(msg) from None
        raise exc


class KeyErrorMessage(str):
    """A str whose repr is itself, so ``str(KeyError(msg))`` prints the traceback readably."""

    def __repr__(self) -> str:
        return str(self)


class _ResumeIteration:
    """Marker sent to persistent workers at the start of a new epoch and echoed back."""


class Fields(tuple):
    """A batch fetched by the dataset's ``_gather_fields`` (one array per field); the main
    process wraps the arrays as Tensors, so no Tensor crosses the process boundary."""


def encode(task_id: Any, data: Any) -> bytes:
    """Pickle a result in the worker itself, so a batch that cannot be pickled becomes an error
    the main process raises (``multiprocessing.Queue`` would pickle it in a background thread,
    print the error there and drop the batch, leaving the main process waiting forever)."""
    try:
        return pickle.dumps((task_id, data), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as e:
        if isinstance(data, ExceptionWrapper):  # e.g. an exception class defined in a function
            data.exc_type = RuntimeError
            data.text = f"{data.text}\n(re-raised as RuntimeError: {e})"
            return pickle.dumps((task_id, data), protocol=pickle.HIGHEST_PROTOCOL)
        info = get_worker_info()
        wid = info.id if info is not None else "?"
        wrapped = ExceptionWrapper(e, f"in DataLoader worker process {wid} while sending a "
                                      "batch to the main process (batches must be picklable)")
        return pickle.dumps((task_id, wrapped), protocol=pickle.HIGHEST_PROTOCOL)


def decode(message: bytes) -> tuple[Any, Any]:
    return pickle.loads(message)


def _seed_worker(seed: int) -> None:
    from minigrad import random as mg_random

    random.seed(seed)
    # user datasets often call np.random.* directly: seed it per worker, as PyTorch does
    np.random.seed(seed % 2**32)  # noqa: NPY002
    mg_random.manual_seed(seed)


def _one_thread_per_worker() -> None:
    """Workers run side by side with the main process: cap Numba's kernels at one thread each
    (PyTorch does the same with its intra-op threads) instead of oversubscribing the cores."""
    numba = sys.modules.get("numba")
    if numba is None:
        return
    try:
        numba.set_num_threads(1)
    except Exception:  # never let a thread-count tweak stop a worker
        pass


def worker_loop(
    dataset: Any,
    fetch: Callable[[Any], Any],
    index_queue: Any,
    result_queue: Any,
    done_event: Any,
    base_seed: int,
    init_fn: Callable[[int], None] | None,
    worker_id: int,
    num_workers: int,
) -> None:
    """The body of a worker process: fetch the batches asked for until told to stop."""
    global _worker_info
    parent = os.getppid()
    try:
        seed = base_seed + worker_id
        _seed_worker(seed)
        _worker_info = WorkerInfo(worker_id, num_workers, seed, dataset)
        _one_thread_per_worker()
        where = f"in DataLoader worker process {worker_id}"
        init_error: ExceptionWrapper | None = None
        if init_fn is not None:
            try:
                init_fn(worker_id)
            except Exception as e:
                init_error = ExceptionWrapper(e, where)
        while True:
            try:
                task = index_queue.get(timeout=STATUS_CHECK_INTERVAL)
            except queue.Empty:
                if os.getppid() != parent:  # the main process died: we were re-parented
                    break
                continue
            if task is None:
                break
            if isinstance(task, _ResumeIteration):
                result_queue.put(encode(task, None))
                continue
            if done_event.is_set():
                continue  # shutting down: drain without working
            task_id, indices = task
            if init_error is not None:
                data: Any = init_error  # every task reports the failed worker_init_fn
            else:
                try:
                    data = fetch(indices)
                except Exception as e:
                    data = ExceptionWrapper(e, where)
            result_queue.put(encode(task_id, data))
            del data, task, indices
    except KeyboardInterrupt:
        pass  # Ctrl-C reaches the whole process group: the main process handles it
    if done_event.is_set():
        # the main process is no longer reading: do not block exit flushing unread results
        result_queue.cancel_join_thread()
        result_queue.close()
