"""GPU kernel benchmarks (stub): minigrad's numba.cuda kernels vs PyTorch CUDA, median ms.

    python bench/bench_cuda.py [--repeat 20] [--dtype float32]

Needs a real GPU (refuses to run under NUMBA_ENABLE_CUDASIM: simulator timings mean nothing).
Inputs live on the device before timing; every timed call is followed by ``cuda.synchronize()``
(and ``torch.cuda.synchronize()``), after one warm-up call that compiles. No numbers have been
recorded yet: this file only sets up the cases.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# (N, C, H, W, K, R): LeNet-ish, a mid CIFAR layer, a wide early layer
CONV_CASES = [(32, 1, 28, 28, 6, 5), (32, 64, 32, 32, 64, 3), (16, 3, 224, 224, 64, 7)]


def _median_ms(fn, sync, repeat: int) -> float:
    fn()
    sync()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        sync()
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    args = ap.parse_args()
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        sys.exit("bench_cuda: refusing to time the CUDA simulator")
    from minigrad.ops.kernels.cuda import is_available

    if not is_available():
        sys.exit("bench_cuda: no CUDA GPU")
    from numba import cuda

    from minigrad.ops.kernels.cuda import conv as G

    try:
        import torch
        import torch.nn.functional as F

        has_torch = torch.cuda.is_available()
    except ImportError:
        has_torch = False
    dt = np.dtype(args.dtype)
    rng = np.random.default_rng(0)
    print(f"{'case':34s} {'minigrad ms':>12s} {'torch ms':>10s} {'speed':>7s}")
    for n, c, h, w, k, r in CONV_CASES:
        x = cuda.to_device(rng.standard_normal((n, c, h, w)).astype(dt))
        wt = cuda.to_device(rng.standard_normal((k, c, r, r)).astype(dt))
        geo = ((1, 1), (r // 2,) * 4, (1, 1), 1)
        ours = _median_ms(lambda x=x, wt=wt, geo=geo: G.conv2d_forward(x, wt, *geo),
                          cuda.synchronize, args.repeat)
        theirs = float("nan")
        if has_torch:
            tx = torch.as_tensor(x, device="cuda")
            tw = torch.as_tensor(wt, device="cuda")
            theirs = _median_ms(lambda tx=tx, tw=tw, p=r // 2: F.conv2d(tx, tw, padding=p),
                                torch.cuda.synchronize, args.repeat)
        name = f"conv2d fwd {n}x{c}x{h}x{w} k{k} {r}x{r}"
        print(f"{name:34s} {ours:12.3f} {theirs:10.3f} {theirs / ours:7.2f}")


if __name__ == "__main__":
    main()
