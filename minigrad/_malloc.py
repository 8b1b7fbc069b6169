"""glibc's malloc: keep freed array buffers in the process instead of handing them back each step.

NumPy takes every array's buffer from ``malloc``. glibc serves a request above its mmap threshold
(128 KiB at start; it rises as such buffers are freed, but not for every pattern) with a fresh
``mmap`` and returns it with ``munmap`` on free, and it gives the free top of the heap back to the
kernel above its trim threshold. A training step frees and allocates the same sizes every step,
so under those rules the step's buffers keep arriving as fresh pages, each faulted in and zeroed
by the kernel on first touch: a LeNet-5 step at batch 64 took about 630 minor page faults and
1 ms of system time per step (bench/RESULTS.md), and two processes faulting at once slowed each
other down. PyTorch's CPU allocator has the same behaviour; its tuning guides point to jemalloc or
tcmalloc through ``LD_PRELOAD``, which needs a library and a launcher change.

:func:`configure` (run by ``import minigrad``) instead sets, through ``mallopt(3)``, the mmap
threshold to 32 MiB (the largest the dynamic threshold would reach) and the trim threshold to
128 MiB: buffers up to 32 MiB are reused from the heap, and up to 128 MiB of freed heap stay
mapped for the next step. Larger buffers are still mapped and unmapped one by one. The price is
memory: a process may keep up to 128 MiB more resident than it uses.

It changes nothing off glibc (macOS, Windows, musl), when the environment already sets one of
glibc's own knobs (``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_``, ``GLIBC_TUNABLES``) or
``LD_PRELOAD`` (another allocator), or when ``MINIGRAD_MALLOC=default``.
"""

from __future__ import annotations

import ctypes
import os
import sys

__all__ = ["configure", "MMAP_THRESHOLD", "TRIM_THRESHOLD"]

MMAP_THRESHOLD = 32 * 1024 * 1024
TRIM_THRESHOLD = 128 * 1024 * 1024

# mallopt(3) parameter numbers (glibc's <malloc.h>)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

_USER_KNOBS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES", "LD_PRELOAD")

_applied: list[bool] = []  # configure()'s outcome, once it ran


def _glibc_mallopt():
    """glibc's ``mallopt``, or None off glibc."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return None
    if not hasattr(libc, "gnu_get_libc_version"):  # musl has mallopt too, as a no-op
        return None
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return mallopt


def configure() -> bool:
    """Set glibc's mmap and trim thresholds (once per process); True when they were set."""
    if _applied:
        return _applied[0]
    done = False
    if os.environ.get("MINIGRAD_MALLOC", "").strip().lower() != "default" and not any(
            os.environ.get(k) for k in _USER_KNOBS):
        mallopt = _glibc_mallopt()
        if mallopt is not None:
            done = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
                mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    _applied.append(done)
    return done


configure()
