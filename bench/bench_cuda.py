"""GPU benchmarks: minigrad on CUDA against PyTorch CUDA in the same run, medians.

    python bench/bench_cuda.py                    # a real GPU; torch with CUDA for the comparison
    python bench/bench_cuda.py --repeat 50 --only conv
    NUMBA_ENABLE_CUDASIM=1 python bench/bench_cuda.py --smoke   # tiny shapes, runs anywhere

What it measures (float32):

1. conv2d through the public op (``minigrad.ops.conv.conv2d`` on CUDA tensors, so dispatch and
   allocation are included), forward (``no_grad``) and forward+backward (a fixed output gradient
   into input, weight and bias), for the CPU benchmark's shapes (``bench/cases_conv.py``) plus
   ResNet's (256, 64, 56, 56) -> 64 3x3 p1. Reported: median ms, TFLOP/s (forward 2·N·K·C·R·S·Ho·Wo
   flops, forward+backward 3x that), and PyTorch's median ms twice: in strict float32
   (``torch.backends.cudnn.allow_tf32 = False``, ``torch.backends.cuda.matmul.allow_tf32 =
   False``: like for like) and with TF32 allowed (what a PyTorch user gets by default for
   convolutions). ``ratio`` = minigrad ms / torch fp32 ms (lower is better, 1.0 = parity).
2. A LeNet-5 training step (forward, cross-entropy, backward, SGD momentum step; the batch
   already on the device) at batch 64/256/1024: images/s for minigrad and PyTorch (strict fp32).
3. Per training step: kernel launches (counted by wrapping numba's launch entry point: every
   ``kernel[grid, block](...)`` call, no changes to minigrad), device->host copies (every
   ``copy_to_host``: ``.get()``, ``.item()``, ``.numpy()``), host->device copies
   (``numba.cuda.to_device``) and host fallbacks (``minigrad.cuda.fallback_counts()``).

Timings: one warm-up call (compiles), then ``--repeat`` calls each bracketed by
``cuda.synchronize()`` (``torch.cuda.synchronize()`` for PyTorch); medians. Under the CUDA
simulator only ``--smoke`` runs (tiny shapes, one repeat) and the times mean nothing: it checks
that the script works.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.cases_conv import SHAPES as CPU_CONV_SHAPES  # noqa: E402

# (input shape, out channels, kernel, stride, padding)
CONV_SHAPES = [*CPU_CONV_SHAPES, ((256, 64, 56, 56), 64, 3, 1, 1)]
SMOKE_CONV_SHAPES = [((2, 3, 8, 8), 4, 3, 1, 1)]
LENET_BATCHES = [64, 256, 1024]
SMOKE_LENET_BATCHES = [2]


# -- counting launches and transfers --------------------------------------------------------------


class Counts:
    """Kernel launches and transfers seen while :func:`counting` is active."""

    def __init__(self) -> None:
        self.c: Counter[str] = Counter()
        self.active = False

    def hit(self, key: str) -> None:
        if self.active:
            self.c[key] += 1


COUNTS = Counts()


def install_counters() -> None:
    """Wrap numba's kernel-launch and copy entry points (real driver or simulator) once.

    A wrapper costs one attribute check and a dict increment per launch, negligible next to a
    launch (~5 us); timings are taken with the counters inactive anyway.
    """
    from numba import cuda

    if getattr(cuda, "_minigrad_counted", False):
        return
    if os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0"):
        from numba.cuda.simulator import kernel as simk
        from numba.cuda.simulator.cudadrv import devicearray as simda

        launch_cls, launch_name = simk.FakeCUDAKernel, "__call__"
        orig_launch = launch_cls.__call__

        def launch(self, *args):
            if not self._device:
                COUNTS.hit("launches")
            return orig_launch(self, *args)

        array_cls = simda.FakeCUDAArray
    else:
        from numba.cuda import dispatcher
        from numba.cuda.cudadrv import devicearray

        launch_cls, launch_name = dispatcher.CUDADispatcher, "call"
        orig_launch = launch_cls.call

        def launch(self, args, launch_config):
            COUNTS.hit("launches")
            return orig_launch(self, args, launch_config)

        array_cls = devicearray.DeviceNDBase
    setattr(launch_cls, launch_name, launch)

    orig_d2h = array_cls.copy_to_host

    def copy_to_host(self, *a, **k):
        COUNTS.hit("device->host copies")
        return orig_d2h(self, *a, **k)

    array_cls.copy_to_host = copy_to_host
    orig_h2d = cuda.to_device

    def to_device(*a, **k):
        COUNTS.hit("host->device copies")
        return orig_h2d(*a, **k)

    cuda.to_device = to_device
    cuda._minigrad_counted = True


@contextlib.contextmanager
def counting() -> Iterator[Counter[str]]:
    import minigrad.cuda as mcuda

    mcuda.reset_fallback_counts()
    COUNTS.c = Counter()
    COUNTS.active = True
    try:
        yield COUNTS.c
    finally:
        COUNTS.active = False
        COUNTS.c["host fallbacks"] = sum(mcuda.fallback_counts().values())


# -- timing ---------------------------------------------------------------------------------------


def median_ms(fn: Callable[[], Any], sync: Callable[[], None], repeat: int,
              warmup: bool = True) -> float:
    if warmup:
        fn()  # compiles
        sync()
    times = []
    for _ in range(repeat):
        sync()
        t = time.perf_counter()
        fn()
        sync()
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def torch_cuda() -> Any:
    try:
        import torch
    except ImportError:
        return None
    return torch if torch.cuda.is_available() else None


@contextlib.contextmanager
def tf32(torch: Any, on: bool) -> Iterator[None]:
    prev = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = on
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = prev


# -- conv2d ---------------------------------------------------------------------------------------


def conv_flops(shape, k, f, s, p) -> float:
    n, c, h, w = shape
    ho, wo = (h + 2 * p - f) // s + 1, (w + 2 * p - f) // s + 1
    return 2.0 * n * k * c * f * f * ho * wo


def bench_conv(shapes, repeat: int, torch: Any) -> list[dict]:
    import minigrad as mg
    import minigrad.cuda as mcuda
    from minigrad.ops.conv import conv2d

    rows = []
    for shape, k, f, s, p in shapes:
        rng = np.random.default_rng(0)
        c = shape[1]
        x = rng.standard_normal(shape, dtype=np.float32)
        w = (rng.standard_normal((k, c, f, f)) / np.sqrt(c * f * f)).astype(np.float32)
        b = rng.standard_normal(k, dtype=np.float32)
        ho, wo = (shape[2] + 2 * p - f) // s + 1, (shape[3] + 2 * p - f) // s + 1
        gy = rng.standard_normal((shape[0], k, ho, wo), dtype=np.float32)
        tx, tw, tb = (mg.tensor(a, requires_grad=True, device="cuda") for a in (x, w, b))
        tgy = mg.tensor(gy, device="cuda")

        def fwd(tx=tx, tw=tw, tb=tb, s=s, p=p):
            with mg.no_grad():
                return conv2d(tx, tw, tb, stride=s, padding=p)

        def fwd_bwd(tx=tx, tw=tw, tb=tb, tgy=tgy, s=s, p=p):
            tx.grad = tw.grad = tb.grad = None
            conv2d(tx, tw, tb, stride=s, padding=p).backward(tgy)

        fl = conv_flops(shape, k, f, s, p)
        name = f"conv2d {shape}->{k} {f}x{f} s{s} p{p}"
        for mode, fn, flops in (("fwd", fwd, fl), ("fwd+bwd", fwd_bwd, 3 * fl)):
            ours = median_ms(fn, mcuda.synchronize, repeat)
            with counting() as counts:
                fn()
            row = {"case": f"{name} {mode}", "ms": ours, "tflops": flops / ours / 1e9,
                   "torch_fp32_ms": float("nan"), "torch_tf32_ms": float("nan"),
                   "counts": dict(counts)}
            if torch is not None:
                for key, on in (("torch_fp32_ms", False), ("torch_tf32_ms", True)):
                    with tf32(torch, on):
                        row[key] = median_ms(_torch_conv(torch, x, w, b, gy, s, p, mode),
                                             torch.cuda.synchronize, repeat)
            rows.append(row)
        del tx, tw, tb, tgy
    return rows


def _torch_conv(torch, x, w, b, gy, s, p, mode):
    F = torch.nn.functional
    tx, tw, tb = (torch.tensor(a, device="cuda", requires_grad=True) for a in (x, w, b))
    tgy = torch.tensor(gy, device="cuda")
    if mode == "fwd":
        def fn():
            with torch.no_grad():
                return F.conv2d(tx, tw, tb, stride=s, padding=p)
        return fn

    def fb():
        tx.grad = tw.grad = tb.grad = None
        F.conv2d(tx, tw, tb, stride=s, padding=p).backward(tgy)
    return fb


# -- LeNet-5 training step ------------------------------------------------------------------------


def _minigrad_lenet_step(batch: int):
    import minigrad as mg
    import minigrad.nn.functional as F
    from minigrad import nn, optim

    mg.manual_seed(0)
    model = nn.models.LeNet5(num_classes=10, in_channels=1).to("cuda")
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    rng = np.random.default_rng(0)
    x = mg.tensor(rng.standard_normal((batch, 1, 32, 32), dtype=np.float32), device="cuda")
    y = mg.tensor(rng.integers(0, 10, batch), device="cuda")

    def step():
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    return step


def _torch_lenet_step(torch, batch: int):
    nn = torch.nn
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
    ).cuda()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(batch, 1, 32, 32, device="cuda")
    y = torch.randint(0, 10, (batch,), device="cuda")

    def step():
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    return step


def bench_lenet(batches, repeat: int, torch: Any, smoke: bool = False) -> list[dict]:
    """Smoke mode (the simulator takes minutes per LeNet step): one step, timed and counted."""
    import minigrad.cuda as mcuda

    rows = []
    for batch in batches:
        step = _minigrad_lenet_step(batch)
        t = time.perf_counter()
        with counting() as counts:
            step().item()  # a typical loop reads the loss once per step (compiles on a GPU)
        first_ms = (time.perf_counter() - t) * 1e3
        ours = first_ms if smoke else median_ms(step, mcuda.synchronize, repeat, warmup=False)
        row = {"batch": batch, "ms": ours, "img_s": batch / ours * 1e3,
               "torch_img_s": float("nan"), "counts": dict(counts)}
        if torch is not None:
            with tf32(torch, False):
                t = median_ms(_torch_lenet_step(torch, batch), torch.cuda.synchronize, repeat)
            row["torch_img_s"] = batch / t * 1e3
        rows.append(row)
    return rows


def _per_call(c: dict) -> str:
    return (f"{c.get('launches', 0)} launches, {c.get('device->host copies', 0)} D2H, "
            f"{c.get('host->device copies', 0)} H2D, {c.get('host fallbacks', 0)} fallbacks")


# -- main -----------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--smoke", action="store_true",
                    help="tiny shapes, one repeat (the CUDA simulator allows only this)")
    ap.add_argument("--only", choices=["conv", "lenet"], default=None)
    ap.add_argument("--no-torch", action="store_true", help="skip the PyTorch comparison")
    args = ap.parse_args(argv)

    import minigrad.cuda as mcuda

    sim = mcuda.is_simulator()
    if sim and not args.smoke:
        print("bench_cuda: the CUDA simulator's timings mean nothing; use --smoke to check that "
              "the script runs, or run on a GPU", file=sys.stderr)
        return 2
    if not mcuda.is_available():
        try:
            mcuda.require("bench_cuda")
        except mcuda.CudaUnavailableError as e:
            print(e, file=sys.stderr)
        return 2
    repeat = 1 if args.smoke else args.repeat
    torch = None if args.no_torch or sim else torch_cuda()
    install_counters()
    if sim:
        print("(CUDA simulator: the numbers below only show that the benchmark runs)")
    if torch is None:
        print("(no PyTorch with CUDA: minigrad only)")
    else:
        print(f"PyTorch {torch.__version__} on {torch.cuda.get_device_name()}")

    if args.only in (None, "conv"):
        shapes = SMOKE_CONV_SHAPES if args.smoke else CONV_SHAPES
        print(f"\n{'conv2d case':52s} {'ms':>9s} {'TFLOP/s':>8s} {'torch fp32':>10s} "
              f"{'torch tf32':>10s} {'ratio':>6s}   per call")
        for r in bench_conv(shapes, repeat, torch):
            print(f"{r['case']:52s} {r['ms']:9.3f} {r['tflops']:8.2f} {r['torch_fp32_ms']:10.3f} "
                  f"{r['torch_tf32_ms']:10.3f} {r['ms'] / r['torch_fp32_ms']:6.2f}   "
                  f"{_per_call(r['counts'])}")
    if args.only in (None, "lenet"):
        batches = SMOKE_LENET_BATCHES if args.smoke else LENET_BATCHES
        print(f"\n{'LeNet-5 training step':22s} {'ms':>9s} {'img/s':>10s} {'torch img/s':>12s} "
              f"{'ratio':>6s}   per step")
        for r in bench_lenet(batches, repeat, torch, smoke=args.smoke):
            per_step = _per_call(r["counts"])
            print(f"{'batch ' + str(r['batch']):22s} {r['ms']:9.3f} {r['img_s']:10.0f} "
                  f"{r['torch_img_s']:12.0f} {r['img_s'] / r['torch_img_s']:6.2f}   {per_step}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
