"""Training throughput of LeNet-5: one step = forward, cross-entropy, backward, SGD step.

Images per second (median over repeats) at batch 64 and 256, minigrad against PyTorch CPU in the
same run (when torch is importable, ``torch.set_num_threads(2)``; the two steps alternate, so
both see the same machine load), plus minigrad's time split
into forward / backward / optimizer step. A second table times the optimizer update alone: the
library's vectorised NumPy updates against fused single-pass Numba kernels written here, to show
whether fusing would pay.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/bench_train.py
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
from numba import njit

import minigrad as mg
import minigrad.nn  # noqa: F401  (mg.nn in annotations)
import minigrad.nn.functional as F
from minigrad import optim
from minigrad.nn.models import AlexNet, LeNet5


def median_time(fn: Callable[[], object], repeats: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


# ---------------------------------------------------------------------------------------------
# Whole training step
# ---------------------------------------------------------------------------------------------


def minigrad_setup(batch: int) -> tuple[Callable[[], None], dict[str, list[float]]]:
    mg.manual_seed(0)
    model = LeNet5()
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    rng = np.random.default_rng(0)
    x = mg.tensor(rng.standard_normal((batch, 1, 32, 32)).astype(np.float32))
    y = mg.tensor(rng.integers(0, 10, batch))
    phases: dict[str, list[float]] = {"forward": [], "backward": [], "step": []}

    def step() -> None:
        t0 = time.perf_counter()
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        opt.step()
        t3 = time.perf_counter()
        for k, dt in zip(phases, (t1 - t0, t2 - t1, t3 - t2)):
            phases[k].append(dt)

    return step, phases


def torch_setup(batch: int) -> Callable[[], None] | None:
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(2)
    torch.manual_seed(0)
    tnn = torch.nn
    model = tnn.Sequential(
        tnn.Conv2d(1, 6, 5), tnn.ReLU(), tnn.MaxPool2d(2),
        tnn.Conv2d(6, 16, 5), tnn.ReLU(), tnn.MaxPool2d(2), tnn.Flatten(),
        tnn.Linear(400, 120), tnn.ReLU(), tnn.Linear(120, 84), tnn.ReLU(), tnn.Linear(84, 10),
    )
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.standard_normal((batch, 1, 32, 32)).astype(np.float32))
    y = torch.from_numpy(rng.integers(0, 10, batch))

    def step() -> None:
        opt.zero_grad()
        loss = tnn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    return step


def training_row(batch: int, repeats: int, warmup: int = 3) -> str:
    """Time minigrad's and torch's steps alternately, so both see the same machine load."""
    mg_step, phases = minigrad_setup(batch)
    t_step = torch_setup(batch)
    mg_times, t_times = [], []
    for i in range(warmup + repeats):
        t0 = time.perf_counter()
        mg_step()
        t1 = time.perf_counter()
        if t_step is not None:
            t_step()
        t2 = time.perf_counter()
        if i >= warmup:
            mg_times.append(t1 - t0)
            t_times.append(t2 - t1)
    ips = batch / statistics.median(mg_times)
    split = ", ".join(f"{k} {statistics.median(v[warmup:]) * 1e3:.1f} ms"
                      for k, v in phases.items())
    line = f"  batch {batch:3d}: minigrad {ips:7.0f} img/s ({split})"
    if t_step is not None:
        tips = batch / statistics.median(t_times)
        line += f" | torch {tips:7.0f} img/s | minigrad/torch {ips / tips:.2f}"
    return line


# ---------------------------------------------------------------------------------------------
# Optimizer update alone: library NumPy vs fused Numba
# ---------------------------------------------------------------------------------------------


@njit(cache=True)
def _sgd_momentum_fused(p, g, buf, lr, momentum):
    pf, gf, bf = p.reshape(-1), g.reshape(-1), buf.reshape(-1)
    for i in range(pf.size):
        b = momentum * bf[i] + gf[i]
        bf[i] = b
        pf[i] -= lr * b


@njit(cache=True)
def _adam_fused(p, g, m, v, b1, b2, step_size, bc2_sqrt, eps):
    pf, gf, mf, vf = p.reshape(-1), g.reshape(-1), m.reshape(-1), v.reshape(-1)
    for i in range(pf.size):
        gi = gf[i]
        mi = mf[i] + (1 - b1) * (gi - mf[i])
        vi = b2 * vf[i] + (1 - b2) * gi * gi
        mf[i] = mi
        vf[i] = vi
        pf[i] -= step_size * mi / (np.sqrt(vi) / bc2_sqrt + eps)


def optimizer_rows(label: str, model: mg.nn.Module, repeats: int) -> None:
    f32 = np.float32
    params = list(model.parameters())
    for p in params:
        p.grad = mg.tensor(np.random.default_rng(1).standard_normal(p.shape).astype(np.float32))
    bufs = [np.zeros_like(p.data) for p in params]
    bufs2 = [np.zeros_like(p.data) for p in params]

    def sgd_fused() -> None:
        for p, b in zip(params, bufs):
            _sgd_momentum_fused(p.data, p.grad.data, b, f32(0.01), f32(0.9))

    def adam_fused() -> None:
        for p, m, v in zip(params, bufs, bufs2):
            _adam_fused(p.data, p.grad.data, m, v, f32(0.9), f32(0.999), f32(0.01), f32(0.03),
                        f32(1e-8))

    n = sum(p.numel() for p in params)
    for name, lib, fused in (
        ("SGD momentum", optim.SGD(params, lr=0.01, momentum=0.9).step, sgd_fused),
        ("Adam", optim.Adam(params, lr=1e-3).step, adam_fused),
    ):
        t_lib = median_time(lib, repeats)
        t_fused = median_time(fused, repeats)
        print(f"  {label:20s} ({n:>9,} params) {name:12s}: numpy {t_lib * 1e3:7.3f}  "
              f"fused {t_fused * 1e3:7.3f}  (numpy/fused x{t_lib / t_fused:.2f})")


def optimizer_table(repeats: int) -> None:
    print("\noptimizer update alone (median ms per step; fused = one Numba pass per parameter):")
    optimizer_rows("LeNet5", LeNet5(), repeats)
    optimizer_rows("AlexNet w=0.25 32px", AlexNet(10, width=0.25, image_size=32), repeats)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=15)
    args = ap.parse_args()
    print("LeNet-5 training step (forward + cross-entropy + backward + SGD momentum step), "
          "median images/s")
    for batch in (64, 256):
        print(training_row(batch, args.repeats if batch == 64 else max(5, args.repeats // 2)))
    optimizer_table(args.repeats * 2)


if __name__ == "__main__":
    main()
