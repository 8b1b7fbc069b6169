"""Op benchmarks: minigrad vs PyTorch CPU, forward and forward+backward, median milliseconds.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/bench_ops.py [--only conv]
        [--rounds 9] [--compile]

Case lists come from ``bench/cases_*.py`` modules (``CASE_MODULES``); each has
``cases() -> list[dict]`` with dicts ``{"name": str, "minigrad": {"fwd": fn, "fwd+bwd": fn},
"torch": {"fwd": fn, "fwd+bwd": fn} or None}``, where every fn takes no arguments (a closure over
prepared inputs). A missing module or a missing torch is reported and skipped.

Timing: one warm-up call each (Numba compiles there), then ``--rounds`` rounds. A round times a
block of calls of minigrad, pauses, times a block of torch, pauses; a block's time is the fastest
of its calls after 30 ms of untimed ones (see ``block_ms``). The machine is a shared VM whose
speed drifts by 2x within seconds (memory bandwidth taken by neighbours, invisible from inside),
so the two libraries are measured side by side in every round, and ``speed`` is the median over
rounds of torch ms / minigrad ms: above 1 means minigrad is faster. The ms columns are medians
over rounds. The pause (0.25 s) lets one library's still-spinning worker threads go to sleep
before the other runs: OpenBLAS's spin for about 0.1 s after a GEMM, and with a 0.05 s pause
torch's calls after minigrad's BLAS-based ops ran up to 40x slower (a flattering, false ratio).
Both use two threads (``torch.set_num_threads(2)``).

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

CASE_MODULES = ["cases_conv", "cases_pool_act", "cases_norm", "cases_seq"]
SWITCH_PAUSE_S = 0.25


def block_ms(fn: Callable[[], object], calls: int, warm_s: float = 0.03) -> float:
    """The fastest of ``calls`` timed calls of ``fn``, in ms, after ``warm_s`` seconds of untimed
    calls (and at least 20 ms of timed calls, so that sub-millisecond ops are not timed once).

    The warm-up matters on this VM: after the pause between blocks a 1 ms op ran 3-4x slower for
    its first five calls (idle memory reclaimed by the host, clocks ramping up), for both
    libraries alike; after 30 ms of calls it is back to its back-to-back speed.
    """
    start = time.perf_counter()
    fn()
    while time.perf_counter() - start < warm_s:
        fn()
    best = float("inf")
    spent = 0.0
    n = 0
    while n < calls or spent < 0.02:
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        best, spent, n = min(best, dt), spent + dt, n + 1
    return 1e3 * best


def compare(ours: Callable[[], object], theirs: Callable[[], object] | None, rounds: int,
            calls: int = 3) -> tuple[float, float | None, float | None]:
    """(minigrad ms, torch ms, speed) measured in alternating rounds (see the module doc)."""
    ours()
    if theirs is not None:
        theirs()
    a: list[float] = []
    b: list[float] = []
    for _ in range(rounds):
        a.append(block_ms(ours, calls))
        time.sleep(SWITCH_PAUSE_S)
        if theirs is not None:
            b.append(block_ms(theirs, calls))
            time.sleep(SWITCH_PAUSE_S)
    if theirs is None:
        return statistics.median(a), None, None
    speed = statistics.median(t / m for m, t in zip(a, b))
    return statistics.median(a), statistics.median(b), speed


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


def run_table(cases: list[dict], rounds: int) -> None:
    header = (f"{'case':<44} {'mg fwd':>8} {'torch':>8} {'speed':>6}   "
              f"{'mg f+b':>8} {'torch':>8} {'speed':>6}")
    print(header)
    print("-" * len(header))
    for case in cases:
        cells = []
        for kind in ("fwd", "fwd+bwd"):
            theirs = case["torch"][kind] if case.get("torch") else None
            mg_ms, t_ms, speed = compare(case["minigrad"][kind], theirs, rounds)
            if t_ms is None:
                cells.append(f"{mg_ms:8.2f} {'-':>8} {'-':>6}")
            else:
                cells.append(f"{mg_ms:8.2f} {t_ms:8.2f} {speed:6.2f}")
        print(f"{case['name']:<44} " + "   ".join(cells), flush=True)


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
    ap.add_argument("--rounds", type=int, default=9, help="alternating rounds per cell (>= 3)")
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

    rounds = max(3, args.rounds)
    print(f"# numpy {np.__version__}; ms = median over {rounds} rounds of the best of a block; "
          "speed = median of per-round torch/minigrad ratios")
    run_table(load_cases(args.only), rounds)


if __name__ == "__main__":
    main()
