"""Running a convolution's batch in threads: :func:`split`, used by the im2col and Winograd paths.

OpenBLAS's own threads busy-wait between GEMMs, so they cannot share the cores with a parallel
im2col (a ``prange`` im2col between threaded GEMMs made the op up to 10x slower under OpenMP).
Instead each of T Python threads (T = the OpenBLAS thread count) takes a contiguous slice of the
batch and runs the whole pipeline on it (nogil Numba im2col, then single-threaded GEMMs), with
OpenBLAS limited to one thread meanwhile through threadpoolctl. threadpoolctl is a dependency,
not an option: an optional one made the same install fast or slow depending on whether some
unrelated package had brought it in. Besides using both cores, this makes the large layers far
less sensitive to other processes on a shared machine (OpenBLAS's spinning workers lose their
time slices). Measurements: bench/RESULTS.md, "Conv kernel design history".
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

__all__ = ["split"]

# None: as many threads as OpenBLAS was configured with (OPENBLAS_NUM_THREADS / OMP_NUM_THREADS /
# cores); 1 turns splitting off.
MAX_THREADS: int | None = None
# Only chunks (a sample, or a few folded small ones) of at least this many flops (2 x
# multiply-adds) are split: every chunk's kernel calls hand the GIL back and forth between the
# threads, which costs more than the second core gives for small chunks (the 5x5 LeNet layers,
# ~1 MFLOP per chunk, were 10-15% slower split).
SPLIT_FLOPS = 1 << 23


class _Blas:
    """OpenBLAS thread control through threadpoolctl, set up on the first conv large enough to
    split (finding the loaded BLAS libraries takes milliseconds, so not at import)."""

    lock = threading.Lock()
    controller: Any = None
    threads = 1
    pool: ThreadPoolExecutor | None = None
    pool_size = 0
    pool_pid = 0
    ready = False

    @classmethod
    def setup(cls) -> None:
        if cls.ready:
            return
        cls.ready = True
        from threadpoolctl import ThreadpoolController

        ctl = ThreadpoolController().select(user_api="blas")
        counts = [lib["num_threads"] for lib in ctl.info()]
        if counts:
            cls.controller, cls.threads = ctl, max(1, min(counts))


def split(count: int, work: Callable[[int, int], Any], flops: int) -> list[Any]:
    """``[work(lo, hi) for each contiguous slice of range(count)]``, the slices run in threads.

    ``flops``: of all ``count`` items together. Serial (one slice) for small items
    (``flops / count < SPLIT_FLOPS``), when threadpoolctl finds no BLAS library or
    OpenBLAS has one thread, there is one item, or another thread is inside a split conv right
    now (the BLAS limit is process-wide, so only one caller may set and restore it).
    """
    if flops < SPLIT_FLOPS * count:
        return [work(0, count)]
    _Blas.setup()
    t = min(count, _Blas.threads if MAX_THREADS is None else MAX_THREADS)
    if t <= 1 or _Blas.controller is None or not _Blas.lock.acquire(blocking=False):
        return [work(0, count)]
    try:
        # a forked child (e.g. a DataLoader worker) inherits the pool object but not its threads
        if _Blas.pool_size < t - 1 or _Blas.pool_pid != os.getpid():
            _Blas.pool = ThreadPoolExecutor(t - 1, thread_name_prefix="minigrad-conv")
            _Blas.pool_size, _Blas.pool_pid = t - 1, os.getpid()
        bounds = [count * i // t for i in range(t + 1)]
        with _Blas.controller.limit(limits=1):
            futures = [_Blas.pool.submit(work, bounds[i], bounds[i + 1]) for i in range(1, t)]
            first = work(bounds[0], bounds[1])
            return [first] + [f.result() for f in futures]
    finally:
        _Blas.lock.release()
