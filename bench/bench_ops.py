"""Op benchmarks: minigrad vs PyTorch CPU, forward and forward+backward, median milliseconds.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/bench_ops.py [--only conv]
        [--repeat 7] [--compile]

Case lists come from ``bench/cases_*.py`` modules (``CASE_MODULES``); each has
``cases() -> list[dict]`` with dicts ``{"name": str, "minigrad": {"fwd": fn, "fwd+bwd": fn},
"torch": {"fwd": fn, "fwd+bwd": fn} or None}``, where every fn takes no arguments (a closure over
prepared inputs). A missing module or a missing torch is reported and skipped.

Timing: one warm-up call (Numba compiles there), then ``--repeat`` timed calls with
``time.perf_counter``; the median is reported. The machine may be shared, so a call is only kept
when no other process took CPU meanwhile (read from /proc/stat); rows where that failed are
flagged. Both frameworks run in this process with two threads (``torch.set_num_threads(2)``).
minigrad and torch alternate per case, with a short pause at each switch so that one library's
still-spinning worker threads do not steal the other's cores. ``speed`` is torch ms / minigrad
ms: above 1 means minigrad is faster.

``--compile`` instead measures the first conv2d forward+backward call in fresh interpreters:
cold (empty ``NUMBA_CACHE_DIR``: everything compiles) and warm (the cache written by the cold
run).
"""

from __future__ import annotations

import argparse
import importlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

CASE_MODULES = ["cases_conv", "cases_pool_act"]
SWITCH_PAUSE_S = 0.25


def _cpu_ticks() -> tuple[int, int]:
    """(busy ticks of the whole machine, ticks used by this process), Linux only."""
    with open("/proc/stat") as f:
        v = [int(a) for a in f.readline().split()[1:]]
    with open("/proc/self/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return sum(v) - v[3] - v[4], int(fields[11]) + int(fields[12])


def _others_busy(before: tuple[int, int], after: tuple[int, int]) -> int:
    """Clock ticks other processes ran between two ``_cpu_ticks`` snapshots."""
    return (after[0] - before[0]) - (after[1] - before[1])


def median_ms(fn: Callable[[], object], repeat: int, max_tries: int = 60) -> tuple[float, bool]:
    """Median time of ``fn`` in ms after one warm-up call, and whether the machine was quiet.

    The machine may be shared: each timed call is kept only if no other process used more than
    a couple of clock ticks of CPU meanwhile (a call shorter than a tick is grouped with the next
    ones). If ``repeat`` clean calls cannot be had in ``max_tries`` attempts, the median of all
    calls is returned with ``quiet=False``.
    """
    fn()  # warm-up: compiles, allocates, fills caches
    clean: list[float] = []
    every: list[float] = []
    try:
        _cpu_ticks()
        gated = True
    except (OSError, ValueError, IndexError):
        gated = False
    for _ in range(max_tries):
        snap = _cpu_ticks() if gated else None
        batch = []
        while not batch or sum(batch) < 0.02:  # >= 2 ticks per window
            t0 = time.perf_counter()
            fn()
            batch.append(time.perf_counter() - t0)
        every += batch
        if not gated or _others_busy(snap, _cpu_ticks()) <= 2:
            clean += batch
        if len(clean) >= repeat and len(every) >= repeat:
            return 1e3 * statistics.median(clean), True
    return 1e3 * statistics.median(clean if len(clean) >= repeat else every), len(
        clean) >= repeat


def load_cases(only: str | None) -> list[dict]:
    out = []
    for name in CASE_MODULES:
        if only and only not in name:
            continue
        try:
            mod = importlib.import_module(name)
        except ImportError as e:
            print(f"# skipping {name}: {e}")
            continue
        out += mod.cases()
    return out


def run_table(cases: list[dict], repeat: int) -> None:
    header = (f"{'case':<44} {'mg fwd':>8} {'torch':>8} {'speed':>6}   "
              f"{'mg f+b':>8} {'torch':>8} {'speed':>6}")
    print(header)
    print("-" * len(header))
    for case in cases:
        row = {}
        noisy = False
        for kind in ("fwd", "fwd+bwd"):
            mg_ms, quiet = median_ms(case["minigrad"][kind], repeat)
            noisy |= not quiet
            t_ms = None
            if case.get("torch"):
                time.sleep(SWITCH_PAUSE_S)
                t_ms, quiet = median_ms(case["torch"][kind], repeat)
                noisy |= not quiet
                time.sleep(SWITCH_PAUSE_S)
            row[kind] = (mg_ms, t_ms)
        cells = []
        for kind in ("fwd", "fwd+bwd"):
            mg_ms, t_ms = row[kind]
            if t_ms is None:
                cells.append(f"{mg_ms:8.2f} {'-':>8} {'-':>6}")
            else:
                cells.append(f"{mg_ms:8.2f} {t_ms:8.2f} {t_ms / mg_ms:6.2f}")
        flag = "  (machine busy: noisy)" if noisy else ""
        print(f"{case['name']:<44} " + "   ".join(cells) + flag, flush=True)


_COMPILE_SNIPPET = r"""
import time
t0 = time.perf_counter()
import numpy as np
import minigrad as mg
from minigrad.ops.conv import conv2d
t1 = time.perf_counter()
x = mg.randn(2, 3, 8, 8, requires_grad=True)
w = mg.randn(4, 3, 3, 3, requires_grad=True)
b = mg.randn(4, requires_grad=True)
y = conv2d(x, w, b, padding=1)
y.backward(mg.ones_like(y))
t2 = time.perf_counter()
print(f"{1e3 * (t1 - t0):.0f} {1e3 * (t2 - t1):.0f}")
"""


def compile_times() -> None:
    """First conv2d forward+backward in a fresh interpreter: cold cache, then warm cache."""
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        for label in ("cold (empty NUMBA_CACHE_DIR)", "warm (cache from the cold run)"):
            out = subprocess.run([sys.executable, "-c", _COMPILE_SNIPPET], env=env, cwd=ROOT,
                                 capture_output=True, text=True, check=True).stdout.split()
            print(f"conv2d first forward+backward, {label}: {out[1]} ms "
                  f"(import minigrad: {out[0]} ms)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", help="run only case modules whose name contains this")
    ap.add_argument("--repeat", type=int, default=7, help="timed calls per cell (>= 5)")
    ap.add_argument("--compile", action="store_true", help="measure first-call compile times")
    args = ap.parse_args()
    if args.compile:
        compile_times()
        return
    try:
        import torch

        torch.set_num_threads(2)
        print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads")
    except ImportError:
        print("# torch not installed: minigrad columns only")
    import numpy as np

    print(f"# numpy {np.__version__}; medians of {max(5, args.repeat)} calls, ms")
    run_table(load_cases(args.only), max(5, args.repeat))


if __name__ == "__main__":
    main()
