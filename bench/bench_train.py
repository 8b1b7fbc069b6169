"""A whole training step, inference, cold start and memory: minigrad against PyTorch CPU.

Everything is measured in one run against PyTorch (``torch.set_num_threads(2)``) as a new user
would write the loop: a model from the zoo (or ``nn.Sequential``), ``CrossEntropyLoss``,
``SGD(momentum=0.9)``, host batches sliced from one NumPy array with ``from_numpy`` in both
libraries. The two libraries alternate round by round (which goes first alternates too), so they
see the same machine load; each row gives medians and the spread of the per-round speed ratios.
The ``torch`` models are written here layer for layer; their parameters are copied from the
minigrad models (which checks that every parameter shape matches) and their eval outputs are
compared before anything is timed.

Sections (``--only``, comma-separated; all by default):

- ``train``:  images/s of a training step. LeNet-5 in both layouts (28x28 with the first conv
  padded by 2, the common MNIST layout; 32x32 unpadded), the zoo's ``ResNet((2, 2, 2),
  (16, 32, 64))`` and ``AlexNet(width=0.25, image_size=32)`` (groups=2, dropout) on 3x32x32;
  batch 64 and 256.
- ``infer``:  LeNet-5 under ``no_grad()`` + ``eval()``: batch-1 latency and batch-256 throughput.
- ``cold``:   a fresh interpreter: ``import`` plus building LeNet-5 and its first training step,
  with the Numba cache already warm (one untimed run first), several repeats.
- ``memory``: resident-set growth of a training step (peak during the step minus the resident
  set before it): the first step, which allocates the step's working set, and one after
  warm-up steps (usually 0: the allocator reuses what earlier steps freed); each library in its
  own fresh subprocess.
- ``split``:  where a step's time goes, per layer kind (conv, pool, activation, linear, norm,
  dropout, loss, reshape, elementwise, optimizer, engine/other): forward from module hooks,
  backward from per-node callbacks (minigrad's ``backward(on_node=...)``, PyTorch's node hooks),
  the same method for both libraries; the hooks themselves slow the step, so read the shares.
- ``python``: the Python share of a LeNet-5 step under cProfile (time in Python frames outside
  Numba kernels and NumPy/C routines; NumPy arithmetic written inline in a Python function, such
  as ``a @ b``, counts as Python, so this is an upper bound) and the fixed cost of a batch-1
  step (CPU time of the main thread, which does not count time spent waiting for a core).
- ``optim``:  the optimizer update alone, the library's against one fused Numba pass.
- ``fusion``: LeNet-5 training step and inference with ``nn.Sequential``'s Conv2d/Linear + ReLU
  fusion on and off (``minigrad.nn.utils.fusion``), one model each, alternating rounds. (The
  ``split`` section's module hooks turn fusion off, so its shares are the unfused model's.)
- ``roofline``: the floor under each model's step: its multiply-adds (conv and linear layers,
  counted from output shapes: forward, the weight gradient, and the input gradient of every
  layer but the first) at this machine's measured float32 GEMM rate (a large ``np.matmul``,
  two threads), plus its activation traffic (each leaf module's output written and read once
  forward, twice backward) at the measured copy bandwidth; against the measured steps of both
  libraries: how far each is from the floor, and the achieved GFLOP/s.

``--against REF`` (a git ref of this repository) loads minigrad as it is at REF next to the
working tree's, in the same process, and times their LeNet-5 steps alternately: the before/after
ratios of a change, measured under the same load.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/bench_train.py
    python bench/bench_train.py --quick          # smoke run, seconds
    python bench/bench_train.py --only python --against main
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import importlib
import io
import json
import os
import platform
import pstats
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numba import njit

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from anywhere: the working tree's minigrad first
    sys.path.insert(0, str(ROOT))

import minigrad as mg  # noqa: E402
import minigrad.nn.functional  # noqa: E402, F401
from minigrad import nn, optim  # noqa: E402
from minigrad.nn.models import AlexNet, LeNet5, ResNet  # noqa: E402

try:
    import torch
except ImportError:  # the minigrad half still runs
    torch = None


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} / {five:.2f} / {fifteen:.2f} on {os.cpu_count()} cores"


# ---------------------------------------------------------------------------------------------
# Models: one builder per library, same layers in the same order
# ---------------------------------------------------------------------------------------------


def lenet(lib: Any, padding: int) -> Any:
    """LeNet-5 as ``nn.Sequential`` (the same code builds it in both libraries): 28x28 input with
    ``padding=2`` in the first conv, or 32x32 with ``padding=0`` (the zoo's ``LeNet5``)."""
    n = lib.nn
    return n.Sequential(
        n.Conv2d(1, 6, 5, padding=padding), n.ReLU(), n.MaxPool2d(2),
        n.Conv2d(6, 16, 5), n.ReLU(), n.MaxPool2d(2), n.Flatten(),
        n.Linear(400, 120), n.ReLU(), n.Linear(120, 84), n.ReLU(), n.Linear(84, 10),
    )


def torch_resnet(layers: tuple[int, ...], widths: tuple[int, ...], num_classes: int = 10) -> Any:
    """The zoo's ``ResNet`` in PyTorch (parameters registered in the same order)."""
    tnn = torch.nn

    class Block(tnn.Module):
        def __init__(self, cin: int, cout: int, stride: int) -> None:
            super().__init__()
            self.conv1 = tnn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = tnn.BatchNorm2d(cout)
            self.relu = tnn.ReLU()
            self.conv2 = tnn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = tnn.BatchNorm2d(cout)
            self.downsample = None
            if stride != 1 or cin != cout:
                self.downsample = tnn.Sequential(tnn.Conv2d(cin, cout, 1, stride, bias=False),
                                                 tnn.BatchNorm2d(cout))

        def forward(self, x: Any) -> Any:
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return self.relu(out + (x if self.downsample is None else self.downsample(x)))

    class Net(tnn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = tnn.Conv2d(3, widths[0], 3, 1, 1, bias=False)
            self.bn1 = tnn.BatchNorm2d(widths[0])
            self.relu = tnn.ReLU()
            planes = widths[0]
            self.stages = tnn.ModuleList()
            for i, (n, w) in enumerate(zip(layers, widths)):
                blocks = []
                for j in range(n):
                    blocks.append(Block(planes, w, 2 if i > 0 and j == 0 else 1))
                    planes = w
                self.stages.append(tnn.Sequential(*blocks))
            self.avgpool = tnn.Sequential(tnn.AdaptiveAvgPool2d(1), tnn.Flatten())
            self.fc = tnn.Linear(planes, num_classes)

        def forward(self, x: Any) -> Any:
            x = self.relu(self.bn1(self.conv1(x)))
            for stage in self.stages:
                x = stage(x)
            return self.fc(self.avgpool(x))

    return Net()


def torch_alexnet(width: float, num_classes: int = 10) -> Any:
    """The zoo's ``AlexNet(image_size=32)`` (3x3 stem) in PyTorch."""
    from minigrad.nn.models._util import even

    tnn = torch.nn
    c1, c2, c3 = even(96 * width), even(256 * width), even(384 * width)
    hidden = max(1, round(4096 * width))
    return tnn.Sequential(
        tnn.Sequential(
            tnn.Conv2d(3, c1, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(3, 2),
            tnn.Conv2d(c1, c2, 5, padding=2, groups=2), tnn.ReLU(), tnn.MaxPool2d(3, 2),
            tnn.Conv2d(c2, c3, 3, padding=1), tnn.ReLU(),
            tnn.Conv2d(c3, c3, 3, padding=1, groups=2), tnn.ReLU(),
            tnn.Conv2d(c3, c2, 3, padding=1, groups=2), tnn.ReLU(), tnn.MaxPool2d(3, 2),
        ),
        tnn.Flatten(),
        tnn.Sequential(
            tnn.Dropout(0.5), tnn.Linear(c2 * 9, hidden), tnn.ReLU(),
            tnn.Dropout(0.5), tnn.Linear(hidden, hidden), tnn.ReLU(),
            tnn.Linear(hidden, num_classes),
        ),
    )


@dataclass
class Case:
    """One model configuration: how to build it in each library and its input shape."""

    name: str
    shape: tuple[int, int, int]
    build_mg: Callable[[], Any]
    build_torch: Callable[[], Any]


CASES = {
    "lenet28": Case("LeNet-5 28x28 pad 2", (1, 28, 28), lambda: lenet(mg, 2),
                    lambda: lenet(torch, 2)),
    "lenet32": Case("LeNet-5 32x32", (1, 32, 32), LeNet5, lambda: lenet(torch, 0)),
    "resnet": Case("ResNet (2,2,2)x(16,32,64)", (3, 32, 32),
                   lambda: ResNet((2, 2, 2), (16, 32, 64)),
                   lambda: torch_resnet((2, 2, 2), (16, 32, 64))),
    "alexnet": Case("AlexNet w=0.25 32px", (3, 32, 32),
                    lambda: AlexNet(10, width=0.25, image_size=32),
                    lambda: torch_alexnet(0.25)),
}


def copy_parameters(src: Any, dst: Any, who: str) -> int:
    """Copy the minigrad model's parameters (and batch-norm running statistics) into the torch
    model, in registration order; raise when the two do not have the same parameter shapes.
    Returns the parameter count."""
    ps, pd = list(src.parameters()), list(dst.parameters())
    shapes_s, shapes_d = [tuple(p.shape) for p in ps], [tuple(p.shape) for p in pd]
    if shapes_s != shapes_d:
        raise RuntimeError(f"{who}: the torch model differs: parameter shapes {shapes_s} vs "
                           f"{shapes_d}")
    with torch.no_grad():
        for a, b in zip(ps, pd):
            b.copy_(torch.from_numpy(np.ascontiguousarray(a.data)))
    return sum(p.numel() for p in ps)


def check_same_function(m_mg: Any, m_t: Any, shape: tuple[int, ...], who: str) -> None:
    """Both models in eval mode give the same logits on a random batch."""
    x = np.random.default_rng(5).standard_normal((2, *shape)).astype(np.float32)
    m_mg.eval()
    m_t.eval()
    with mg.no_grad():
        a = m_mg(mg.from_numpy(x)).numpy()
    with torch.no_grad():
        b = m_t(torch.from_numpy(x)).numpy()
    m_mg.train()
    m_t.train()
    if not np.allclose(a, b, rtol=1e-3, atol=1e-4):
        raise RuntimeError(f"{who}: minigrad and torch models disagree (max diff "
                           f"{np.abs(a - b).max():.3g})")


# ---------------------------------------------------------------------------------------------
# Training steps
# ---------------------------------------------------------------------------------------------

N_BATCHES = 4  # host batches cycled through, sliced from one array


def host_data(shape: tuple[int, ...], batch: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N_BATCHES * batch, *shape)).astype(np.float32)
    y = rng.integers(0, 10, N_BATCHES * batch)
    return x, y


def mg_trainer(model: Any, x: np.ndarray, y: np.ndarray, batch: int,
               lib: Any = mg) -> Callable[[int], Any]:
    """``step(i)``: one SGD step on host batch ``i % N_BATCHES``; returns the loss tensor."""
    opt = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    lossf = lib.nn.CrossEntropyLoss()
    model.train()

    def step(i: int) -> Any:
        s = (i % N_BATCHES) * batch
        xb, yb = lib.from_numpy(x[s:s + batch]), lib.from_numpy(y[s:s + batch])
        opt.zero_grad()
        loss = lossf(model(xb), yb)
        loss.backward()
        opt.step()
        return loss

    step.opt = opt  # type: ignore[attr-defined]
    step.lossf = lossf  # type: ignore[attr-defined]
    return step


def torch_trainer(model: Any, x: np.ndarray, y: np.ndarray, batch: int) -> Callable[[int], Any]:
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    lossf = torch.nn.CrossEntropyLoss()
    model.train()

    def step(i: int) -> Any:
        s = (i % N_BATCHES) * batch
        xb, yb = torch.from_numpy(x[s:s + batch]), torch.from_numpy(y[s:s + batch])
        opt.zero_grad()
        loss = lossf(model(xb), yb)
        loss.backward()
        opt.step()
        return loss

    step.opt = opt  # type: ignore[attr-defined]
    step.lossf = lossf  # type: ignore[attr-defined]
    return step


@dataclass
class Duel:
    """Per-call times of two alternating contenders, and the per-round ratios."""

    a: list[float] = field(default_factory=list)
    b: list[float] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)  # per round: median b / median a

    def speed(self) -> float:
        """median(b) / median(a): above 1, ``a`` is faster."""
        return statistics.median(self.b) / statistics.median(self.a)

    def spread(self) -> str:
        r = sorted(self.ratios)
        if len(r) < 4:
            return f"{r[0]:.2f}-{r[-1]:.2f}"
        q = statistics.quantiles(r, n=4)
        return f"{q[0]:.2f}-{q[2]:.2f} (IQR), {r[0]:.2f}-{r[-1]:.2f}"


def timed(fn: Callable[[int], Any], calls: int, start: int = 0,
          clock: Callable[[], float] = time.perf_counter) -> list[float]:
    """Per-call times of ``fn(start), fn(start + 1), ...``, inside ``fn.context()`` when ``fn``
    has one (entered once, outside the timing)."""
    out = []
    with getattr(fn, "context", contextlib.nullcontext)():
        for i in range(calls):
            t0 = clock()
            fn(start + i)
            out.append(clock() - t0)
    return out


def duel(fa: Callable[[int], Any], fb: Callable[[int], Any] | None, rounds: int, calls: int,
         warmup: int = 2, clock: Callable[[], float] = time.perf_counter) -> Duel:
    """Alternate ``calls`` calls of ``fa`` and of ``fb`` per round (who goes first alternates),
    after ``warmup`` calls of each."""
    d = Duel()
    timed(fa, warmup)
    if fb is not None:
        timed(fb, warmup)
    for r in range(rounds):
        order = [(fa, d.a), (fb, d.b)] if r % 2 == 0 else [(fb, d.b), (fa, d.a)]
        got = {}
        for fn, sink in order:
            if fn is None:
                continue
            ts = timed(fn, calls, r * calls, clock)
            sink.extend(ts)
            got[id(sink)] = statistics.median(ts)
        if fb is not None:
            d.ratios.append(got[id(d.b)] / got[id(d.a)])
    return d


def build_pair(key: str) -> tuple[Any, Any | None, int]:
    case = CASES[key]
    mg.manual_seed(0)
    m = case.build_mg()
    t = None
    n = sum(p.numel() for p in m.parameters())
    if torch is not None:
        torch.manual_seed(0)
        t = case.build_torch()
        n = copy_parameters(m, t, case.name)
        check_same_function(m, t, case.shape, case.name)
    return m, t, n


def train_section(keys: list[str], batches: tuple[int, ...], rounds: int, calls: int) -> None:
    print(f"\n## train: images/s of a training step (median), torch {'on' if torch else 'OFF'}")
    print(f"{'model':28s} {'batch':>5s} {'params':>9s} {'minigrad':>10s} {'torch':>10s} "
          f"{'speed':>6s}  per-round speed ratios")
    for key in keys:
        case = CASES[key]
        for batch in batches:
            m, t, n = build_pair(key)
            x, y = host_data(case.shape, batch)
            fa = mg_trainer(m, x, y, batch)
            fb = torch_trainer(t, x, y, batch) if t is not None else None
            d = duel(fa, fb, rounds, calls)
            ips = batch / statistics.median(d.a)
            line = f"{case.name:28s} {batch:5d} {n:9,d} {ips:10.0f}"
            if fb is not None:
                tips = batch / statistics.median(d.b)
                line += f" {tips:10.0f} {d.speed():6.2f}  {d.spread()}"
            print(line, flush=True)


# ---------------------------------------------------------------------------------------------
# Inference
# ---------------------------------------------------------------------------------------------


def infer_section(keys: list[str], rounds: int, calls: int, batches: tuple[int, ...]) -> None:
    print("\n## infer: LeNet-5 under no_grad() + eval() (latency: median ms per call; "
          "throughput: images/s)")
    print(f"{'model':28s} {'batch':>5s} {'minigrad':>12s} {'torch':>12s} {'speed':>6s}  "
          "per-round speed ratios")
    for key in keys:
        case = CASES[key]
        m, t, _ = build_pair(key)
        m.eval()
        if t is not None:
            t.eval()
        for batch in batches:
            x, _ = host_data(case.shape, batch)

            def fa(i: int, x: np.ndarray = x, batch: int = batch, m: Any = m) -> Any:
                s = (i % N_BATCHES) * batch
                with mg.no_grad():
                    return m(mg.from_numpy(x[s:s + batch]))

            def fb(i: int, x: np.ndarray = x, batch: int = batch, t: Any = t) -> Any:
                s = (i % N_BATCHES) * batch
                with torch.no_grad():
                    return t(torch.from_numpy(x[s:s + batch]))

            n = calls * (8 if batch == 1 else 1)
            d = duel(fa, fb if t is not None else None, rounds, n, warmup=5)

            def show(times: list[float], batch: int = batch) -> str:
                med = statistics.median(times)
                return f"{med * 1e3:9.3f} ms" if batch == 1 else f"{batch / med:8.0f} i/s"

            line = f"{case.name:28s} {batch:5d} {show(d.a):>12s}"
            if t is not None:
                line += f" {show(d.b):>12s} {d.speed():6.2f}  {d.spread()}"
            print(line, flush=True)


# ---------------------------------------------------------------------------------------------
# Cold start and memory: fresh subprocesses
# ---------------------------------------------------------------------------------------------

_CHILD_COLD = """
import json, sys, time
t0 = time.perf_counter()
lib_name = sys.argv[1]
sys.path.insert(0, {root!r})
if lib_name == "minigrad":
    import minigrad as lib
    import minigrad.nn, minigrad.optim
else:
    import torch as lib
    lib.set_num_threads(2)
t_import = time.perf_counter() - t0
import numpy as np
n = lib.nn
lib.manual_seed(0)
model = n.Sequential(
    n.Conv2d(1, 6, 5, padding=2), n.ReLU(), n.MaxPool2d(2),
    n.Conv2d(6, 16, 5), n.ReLU(), n.MaxPool2d(2), n.Flatten(),
    n.Linear(400, 120), n.ReLU(), n.Linear(120, 84), n.ReLU(), n.Linear(84, 10),
)
opt = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
lossf = n.CrossEntropyLoss()
rng = np.random.default_rng(0)
x = lib.from_numpy(rng.standard_normal((64, 1, 28, 28)).astype(np.float32))
y = lib.from_numpy(rng.integers(0, 10, 64))
opt.zero_grad()
lossf(model(x), y).backward()
opt.step()
t_total = time.perf_counter() - t0
print(json.dumps(dict(import_s=t_import, first_step_s=t_total - t_import, total_s=t_total)))
"""

_CHILD_MEMORY = """
import gc, json, sys
lib_name, key, batch = sys.argv[1], sys.argv[2], int(sys.argv[3])
if lib_name == "minigrad":
    sys.modules["torch"] = None  # the bench module then leaves torch out
sys.path.insert(0, {bench!r})
import bench_train as B
lib = B.mg if lib_name == "minigrad" else B.torch
lib.manual_seed(0)
case = B.CASES[key]
model = case.build_mg() if lib_name == "minigrad" else case.build_torch()
x, y = B.host_data(case.shape, batch)
step = (B.mg_trainer if lib_name == "minigrad" else B.torch_trainer)(model, x, y, batch)

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) * 1024

def reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset the peak (VmHWM) to the current resident set
        return True
    except OSError:
        return False

gc.collect()
first0 = status("VmRSS")  # the first step allocates the step's whole working set
exact = reset_peak()
step(0)
first = status("VmHWM") - first0
for i in range(1, 3):
    step(i)
gc.collect()
rss0 = status("VmRSS")
exact = reset_peak() and exact
step(3)
peak = status("VmHWM")
print(json.dumps(dict(rss_before=rss0, peak=peak, growth=peak - rss0, first=first, exact=exact)))
"""


def _child(template: str, *args: Any) -> dict[str, Any]:
    """Run a child script in a fresh interpreter; its last stdout line is a JSON dict."""
    code = template.format(root=str(ROOT), bench=str(ROOT / "bench"))
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True,
                       text=True, timeout=900)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError(f"subprocess {args} failed:\n{r.stderr[-3000:]}")
    out = json.loads(r.stdout.strip().splitlines()[-1])
    out["process_s"] = wall
    return out


def cold_section(repeats: int) -> None:
    print("\n## cold: fresh interpreter, import + build LeNet-5 (28x28) + first training step "
          f"(batch 64), warm Numba cache; median of {repeats} (min-max)")
    libs = ["minigrad"] + (["torch"] if torch is not None else [])
    _child(_CHILD_COLD, "minigrad")  # warms the Numba cache
    got: dict[str, list[dict[str, Any]]] = {lib: [] for lib in libs}
    for _ in range(repeats):
        for lib in libs:
            got[lib].append(_child(_CHILD_COLD, lib))
    for lib in libs:
        parts = []
        for k in ("import_s", "first_step_s", "total_s", "process_s"):
            v = [g[k] for g in got[lib]]
            parts.append(f"{k[:-2]} {statistics.median(v):.2f} s ({min(v):.2f}-{max(v):.2f})")
        print(f"  {lib:9s} " + ", ".join(parts), flush=True)


def memory_section(configs: list[tuple[str, int]], repeats: int) -> None:
    print("\n## memory: resident-set growth of a training step (peak during the step minus the "
          "resident set before it): the first step (which allocates the step's working set, and "
          "loads kernels and library state on first use) and a step after warm-up (what the "
          f"allocator cannot reuse); fresh subprocess each, median of {repeats}")
    libs = ["minigrad"] + (["torch"] if torch is not None else [])
    for key, batch in configs:
        row = f"  {CASES[key].name:28s} batch {batch:4d}:"
        res = {}
        for lib in libs:
            runs = [_child(_CHILD_MEMORY, lib, key, batch) for _ in range(repeats)]
            res[lib] = statistics.median(r["first"] for r in runs) / 2**20
            later = statistics.median(r["growth"] for r in runs) / 2**20
            before = statistics.median(r["rss_before"] for r in runs) / 2**20
            flag = "" if all(r["exact"] for r in runs) else " (peak since start)"
            row += (f"  {lib} first {res[lib]:6.1f} MiB, later {later:5.1f} MiB "
                    f"(RSS {before:.0f} MiB){flag}")
        if "torch" in res and res["torch"] > 0:
            row += f"  first step minigrad/torch {res['minigrad'] / res['torch']:.2f}"
        print(row, flush=True)


# ---------------------------------------------------------------------------------------------
# Time split per layer kind
# ---------------------------------------------------------------------------------------------

KINDS = ("conv", "pool", "activation", "linear", "norm", "dropout", "loss", "reshape",
         "elementwise", "optimizer", "engine/other")

_MODULE_KINDS = (
    ("conv", ("Conv",)),
    ("pool", ("Pool",)),
    ("activation", ("ReLU", "Tanh", "Sigmoid", "GELU", "SiLU", "ELU")),
    ("linear", ("Linear",)),
    ("norm", ("BatchNorm", "LayerNorm", "GroupNorm")),
    ("dropout", ("Dropout",)),
    ("loss", ("Loss",)),
    ("reshape", ("Flatten",)),
)


def module_kind(m: Any) -> str:
    name = type(m).__name__
    for kind, keys in _MODULE_KINDS:
        if any(k in name for k in keys):
            return kind
    return "engine/other"


def node_kind(name: str) -> str:
    """Kind of a graph node no layer created (by its class name): residual adds and the like."""
    low = name.lower()
    for kind, keys in (("loss", ("entropy", "nll", "softmax")), ("reshape", ("view", "reshape",
                       "flatten", "permute", "transpose")), ("elementwise", ("add", "mul", "sub",
                       "div")), ("activation", ("relu", "threshold"))):
        if any(k in low for k in keys):
            return kind
    return "engine/other"


class Splitter:
    """Attributes forward and backward time of one library's step to layer kinds.

    Forward: pre/post hooks on every leaf module time its call and label the graph nodes it
    created (those reachable from its output and not yet labelled). Backward: a callback after
    each node gives the time since the previous one to that node's layer kind. What neither
    covers (the loss call outside a module, plan building, zero_grad, the optimizer) is timed
    around the calls."""

    def __init__(self, lib: str, model: Any, lossf: Any) -> None:
        self.lib = lib
        self.acc: dict[tuple[str, str], float] = defaultdict(float)
        self.labels: dict[int, str] = {}
        self.keep: list[Any] = []  # nodes labelled this step (ids stay valid while kept)
        self._stack: list[float] = []
        self.hooked_fwd = 0.0  # forward time inside hooked modules so far
        self.handles = []
        for m in [*model.modules(), lossf]:
            if m is lossf or not any(True for _ in m.children()):
                self.handles.append(m.register_forward_pre_hook(self._pre))
                self.handles.append(m.register_forward_hook(self._post))

    def _pre(self, m: Any, args: Any) -> None:
        self._stack.append(time.perf_counter())

    def _post(self, m: Any, args: Any, out: Any) -> None:
        kind = module_kind(m)
        dt = time.perf_counter() - self._stack.pop()
        self.acc[kind, "fwd"] += dt
        self.hooked_fwd += dt
        root = out.grad_fn
        stack = [root] if root is not None else []
        while stack:
            n = stack.pop()
            if n is None or id(n) in self.labels:
                continue
            self.labels[id(n)] = kind
            self.keep.append(n)
            for nxt, _ in n.next_functions:
                if nxt is not None and hasattr(nxt, "next_functions") and not (
                        self.lib == "torch" and type(nxt).__name__ == "AccumulateGrad"):
                    stack.append(nxt)

    def kind_of(self, node: Any) -> str:
        return self.labels.get(id(node)) or node_kind(type(node).__name__)

    def backward(self, loss: Any) -> None:
        last = [time.perf_counter()]

        def tick(node: Any) -> None:
            now = time.perf_counter()
            self.acc[self.kind_of(node), "bwd"] += now - last[0]
            last[0] = now

        if self.lib == "minigrad":
            mg.autograd.backward(loss, on_node=lambda node, gouts, gins: tick(node))
        else:
            hooks = [n.register_hook(lambda gi, go, n=n: tick(n)) for n in self.keep
                     if hasattr(n, "register_hook")]
            loss.backward()
            for h in hooks:
                h.remove()
        self.acc["engine/other", "bwd"] += time.perf_counter() - last[0]

    def step(self, model: Any, lossf: Any, opt: Any, xb: Any, yb: Any) -> float:
        self.labels.clear()
        self.keep.clear()
        t0 = time.perf_counter()
        opt.zero_grad()
        t1 = time.perf_counter()
        hooked = self.hooked_fwd
        loss = lossf(model(xb), yb)
        t2 = time.perf_counter()
        self.backward(loss)
        t3 = time.perf_counter()
        opt.step()
        t4 = time.perf_counter()
        self.acc["optimizer", "step"] += (t4 - t3) + (t1 - t0)
        self.acc["engine/other", "fwd"] += (t2 - t1) - (self.hooked_fwd - hooked)
        return t4 - t0


def split_section(keys: list[str], batch: int, steps: int) -> None:
    print(f"\n## split: where a step's time goes (batch {batch}; ms per step, mean "
          f"of {steps} hooked steps; % of the hooked step)")
    for key in keys:
        case = CASES[key]
        m, t, _ = build_pair(key)
        x, y = host_data(case.shape, batch)
        rows = {}
        for lib, model in (("minigrad", m), ("torch", t)):
            if model is None:
                continue
            lossf = (nn.CrossEntropyLoss() if lib == "minigrad" else torch.nn.CrossEntropyLoss())
            opt = (optim.SGD(model.parameters(), lr=0.01, momentum=0.9) if lib == "minigrad"
                   else torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9))
            sp = Splitter(lib, model, lossf)
            conv = mg.from_numpy if lib == "minigrad" else torch.from_numpy
            total = 0.0
            for i in range(steps + 2):
                s = (i % N_BATCHES) * batch
                if i == 2:  # two warm-up steps
                    sp.acc.clear()
                    total = 0.0
                total += sp.step(model, lossf, opt, conv(x[s:s + batch]), conv(y[s:s + batch]))
            for h in sp.handles:
                h.remove()
            per_kind = defaultdict(float)
            for (k, _), v in sp.acc.items():
                per_kind[k] += v / steps
            rows[lib] = (per_kind, total / steps)
        print(f"  {case.name}:")
        head = "    kind          " + "".join(f"{lib:>22s}" for lib in rows)
        print(head)
        for kind in KINDS:
            cells = ""
            for per_kind, tot in rows.values():
                v = per_kind.get(kind, 0.0)
                cells += f"{v * 1e3:13.2f} ms {100 * v / tot:4.0f}%"
            print(f"    {kind:14s}{cells}")
        print("    step (hooked) " + "".join(f"{tot * 1e3:13.2f} ms      "
                                             for _, tot in rows.values()), flush=True)


# ---------------------------------------------------------------------------------------------
# Python share
# ---------------------------------------------------------------------------------------------


def _native_code_keys() -> set[tuple[str, int, str]]:
    """cProfile keys (file, line, name) of every compiled Numba function (their time is kernel
    time: Numba reports its dispatchers to the profiler under the Python function's name)."""
    from numba.core.dispatcher import Dispatcher

    keys = set()
    with warnings.catch_warnings():  # isinstance on some of torch's objects warns
        warnings.simplefilter("ignore")
        found = [obj for obj in gc.get_objects() if isinstance(obj, Dispatcher)]
    for obj in found:
        c = obj.py_func.__code__
        keys.add((c.co_filename, c.co_firstlineno, c.co_name))
    return keys


def python_share(step: Callable[[int], Any], steps: int) -> tuple[float, list[tuple[str, float]]]:
    """Share of a step's profiled wall time spent in Python frames (not Numba kernels, not C
    functions from NumPy/BLAS), and the top Python functions by own time."""
    pr = cProfile.Profile()
    pr.enable()
    for i in range(steps):
        step(i)
    pr.disable()
    stats = pstats.Stats(pr).stats  # type: ignore[attr-defined]
    native = _native_code_keys()
    total = py = 0.0
    top = []
    for (file, line, name), (_, _, tottime, _, _) in stats.items():
        total += tottime
        if (file, line, name) in native:
            continue
        if file == "~":  # a C function: NumPy/BLAS work, or interpreter built-ins (overhead)
            if "numpy" in name or "ndarray" in name or "ufunc" in name:
                continue
        py += tottime
        top.append((f"{Path(file).name}:{line}({name})" if file != "~" else name, tottime))
    top.sort(key=lambda kv: -kv[1])
    return py / total, [(k, v / total) for k, v in top[:12]]


def python_section(batches: tuple[int, ...], steps: int, rounds: int) -> None:
    print(f"\n## python: Python share of a LeNet-5 (28x28) step under cProfile ({steps} steps) "
          "and the fixed cost of a batch-1 step")
    for batch in batches:
        m, _, _ = build_pair("lenet28")
        x, y = host_data(CASES["lenet28"].shape, batch)
        step = mg_trainer(m, x, y, batch)
        timed(step, 3)
        share, top = python_share(step, steps)
        print(f"  batch {batch:3d}: Python share {share:.0%}; top Python functions (share of "
              "the profiled step):")
        for name, s in top[:8]:
            print(f"      {s:6.1%}  {name}")
    m, t, _ = build_pair("lenet28")
    x, y = host_data(CASES["lenet28"].shape, 1)
    fa = mg_trainer(m, x, y, 1)
    fb = torch_trainer(t, x, y, 1) if t is not None else None
    for clock, what in ((time.perf_counter, "wall time"),
                        (time.thread_time, "CPU time of the main thread")):
        d = duel(fa, fb, rounds, 20, warmup=5, clock=clock)
        line = f"  batch-1 step, {what}: minigrad {statistics.median(d.a) * 1e6:6.0f} us"
        if fb is not None:
            line += (f", torch {statistics.median(d.b) * 1e6:6.0f} us (torch/minigrad "
                     f"{d.speed():.2f}, {d.spread()})")
        print(line, flush=True)
    print("  (torch's CPU time includes its OpenMP threads' spin-waits in the main thread; "
          "compare the wall times)")


# ---------------------------------------------------------------------------------------------
# Before/after in one process: minigrad at a git ref next to the working tree's
# ---------------------------------------------------------------------------------------------


class Codebase:
    """A copy of the ``minigrad`` package loaded under its own name space of ``sys.modules``
    entries: ``with cb.active():`` swaps them in (minigrad imports modules lazily inside some
    functions, and those imports must find their own copy)."""

    def __init__(self, parent: Path) -> None:
        saved = _pop_minigrad()
        sys.path.insert(0, str(parent))
        try:
            lib = importlib.import_module("minigrad")
            for sub in ("minigrad.nn", "minigrad.nn.functional", "minigrad.optim"):
                importlib.import_module(sub)
            self.lib = lib
            self.modules = _pop_minigrad()
        finally:
            sys.path.remove(str(parent))
            sys.modules.update(saved)
        if Path(self.lib.__file__).resolve().parents[1] != parent.resolve():
            raise RuntimeError(f"loaded {self.lib.__file__}, not the copy in {parent}")

    @contextlib.contextmanager
    def active(self) -> Iterator[Any]:
        saved = _pop_minigrad()
        sys.modules.update(self.modules)
        try:
            yield self.lib
        finally:
            self.modules = _pop_minigrad()  # with what it imported meanwhile
            sys.modules.update(saved)


def _pop_minigrad() -> dict[str, Any]:
    names = [k for k in sys.modules if k == "minigrad" or k.startswith("minigrad.")]
    return {k: sys.modules.pop(k) for k in names}


def checkout(ref: str) -> Path:
    """``minigrad/`` as it is at git ``ref``, extracted once into a cache folder (its Numba
    cache lives there too, so only the first run compiles)."""
    sha = subprocess.run(["git", "-C", str(ROOT), "rev-parse", ref], capture_output=True,
                         text=True, check=True).stdout.strip()
    dest = Path(tempfile.gettempdir()) / f"minigrad-bench-{sha[:12]}"
    if not (dest / "minigrad" / "__init__.py").exists():
        dest.mkdir(parents=True, exist_ok=True)
        tar = subprocess.run(["git", "-C", str(ROOT), "archive", sha, "minigrad"],
                             capture_output=True, check=True).stdout
        with tarfile.open(fileobj=io.BytesIO(tar)) as tf:
            tf.extractall(dest, filter="data")
    return dest


def against_section(ref: str, batches: tuple[int, ...], rounds: int, calls: int) -> None:
    print(f"\n## against {ref}: LeNet-5 (28x28) step, working tree vs {ref} in one process "
          "(alternating rounds; speed = ref time / tree time, above 1: the tree is faster)")
    old = Codebase(checkout(ref))
    for batch in batches:
        x, y = host_data(CASES["lenet28"].shape, batch)
        mg.manual_seed(0)
        step_new = mg_trainer(lenet(mg, 2), x, y, batch)
        with old.active() as lib:
            lib.manual_seed(0)
            step_old = mg_trainer(lenet(lib, 2), x, y, batch, lib)
        step_old.context = old.active  # type: ignore[attr-defined]

        for clock, what in ((time.perf_counter, "wall"), (time.thread_time, "CPU")):
            d = duel(step_new, step_old, rounds, calls, clock=clock)
            print(f"  batch {batch:3d} ({what:4s} time): tree {statistics.median(d.a) * 1e3:8.3f} "
                  f"ms, {ref} {statistics.median(d.b) * 1e3:8.3f} ms, speed {d.speed():.2f} "
                  f"({d.spread()})", flush=True)
        if batch == 64:
            for label, fn in (("tree", step_new), (ref, step_old)):
                with getattr(fn, "context", contextlib.nullcontext)():
                    share, _ = python_share(fn, 30)
                print(f"            Python share of the {label} step under cProfile: {share:.0%}")
        # the same losses: a speed change must not change results
        a = [float(step_new(i).item()) for i in range(3)]
        with old.active():
            b = [float(step_old(i).item()) for i in range(3)]
        same = "identical" if a == b else f"DIFFERENT: {a} vs {b}"
        print(f"            losses of the next 3 steps: {same}")
    against_infer(old, ref, rounds, calls)


def against_infer(old: Codebase, ref: str, rounds: int, calls: int) -> None:
    """Batch-1 LeNet-5 (28x28) inference under ``no_grad()`` + ``eval()``, tree vs ``ref``."""
    x, _ = host_data(CASES["lenet28"].shape, 1)
    mg.manual_seed(0)
    m_new = lenet(mg, 2).eval()
    with old.active() as lib:
        lib.manual_seed(0)
        m_old = lenet(lib, 2).eval()

    def run(lib: Any, m: Any) -> Callable[[int], Any]:
        def infer(i: int) -> Any:
            with lib.no_grad():
                return m(lib.from_numpy(x[i % N_BATCHES:i % N_BATCHES + 1]))
        return infer

    f_new = run(mg, m_new)
    with old.active() as lib:
        f_old = run(lib, m_old)
    f_old.context = old.active  # type: ignore[attr-defined]
    d = duel(f_new, f_old, rounds, calls * 8, warmup=5)
    print(f"  infer batch 1 (wall time): tree {statistics.median(d.a) * 1e3:8.3f} ms, {ref} "
          f"{statistics.median(d.b) * 1e3:8.3f} ms, speed {d.speed():.2f} ({d.spread()})")
    a = f_new(0).data
    with old.active():
        b = f_old(0).data
    print(f"            outputs: {'identical' if np.array_equal(a, b) else 'DIFFERENT'}")


def fusion_section(keys: list[str], batches: tuple[int, ...], rounds: int, calls: int) -> None:
    print("\n## fusion: Conv2d/Linear + ReLU fused by nn.Sequential, on vs off "
          "(minigrad.nn.utils.fusion) on one model, alternating rounds; median ms per call, "
          "wall and main-thread CPU time; speed = off time / on time, above 1: fusion is "
          "faster")
    for key in keys:
        case = CASES[key]
        rows: list[tuple[str, Callable[[int], Any], Callable[[int], Any]]] = []
        for batch in batches:
            x, y = host_data(case.shape, batch)
            mg.manual_seed(0)
            on = mg_trainer(case.build_mg(), x, y, batch)
            mg.manual_seed(0)
            off = mg_trainer(case.build_mg(), x, y, batch)
            rows.append((f"train batch {batch}", on, off))
        model = case.build_mg()
        model.eval()
        for batch in (1, 256):
            x, _ = host_data(case.shape, batch)

            def infer(i: int, x: np.ndarray = x, batch: int = batch, model: Any = model) -> Any:
                s = (i % N_BATCHES) * batch
                with mg.no_grad():
                    return model(mg.from_numpy(x[s:s + batch]))

            def infer_off(i: int, f: Callable[[int], Any] = infer) -> Any:
                return f(i)

            rows.append((f"infer batch {batch}", infer, infer_off))
        for label, on, off in rows:
            off.context = lambda: mg.nn.utils.fusion(False)  # type: ignore[attr-defined]
            n = calls * (8 if label == "infer batch 1" else 1)
            # the main thread's CPU time as well: on a loaded machine the wall clock mostly
            # measures waiting for a core (with NUMBA_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 the
            # main thread does all the work, so this is the step's whole CPU time)
            for clock, what in ((time.perf_counter, "wall"), (time.thread_time, "CPU")):
                d = duel(on, off, rounds, n, clock=clock)
                print(f"  {case.name:22s} {label:16s} ({what:4s}): on "
                      f"{statistics.median(d.a) * 1e3:8.3f} ms, off "
                      f"{statistics.median(d.b) * 1e3:8.3f} ms, speed {d.speed():.3f} "
                      f"({d.spread()})", flush=True)


# ---------------------------------------------------------------------------------------------
# Optimizer update alone: library NumPy vs fused Numba
# ---------------------------------------------------------------------------------------------


@njit(cache=True)
def _sgd_momentum_fused(p, g, buf, lr, momentum):  # pragma: no cover - compiled
    pf, gf, bf = p.reshape(-1), g.reshape(-1), buf.reshape(-1)
    for i in range(pf.size):
        b = momentum * bf[i] + gf[i]
        bf[i] = b
        pf[i] -= lr * b


def optim_section(repeats: int) -> None:
    print("\n## optim: SGD momentum update alone (median ms per step; fused = one Numba pass "
          "per parameter)")
    f32 = np.float32
    for label, model in (("LeNet5", LeNet5()),
                         ("AlexNet w=0.25 32px", AlexNet(10, width=0.25, image_size=32))):
        params = list(model.parameters())
        for p in params:
            p.grad = mg.tensor(np.random.default_rng(1).standard_normal(p.shape)
                               .astype(np.float32))
        bufs = [np.zeros_like(p.data) for p in params]

        def fused(i: int, params: list = params, bufs: list = bufs) -> None:
            for p, b in zip(params, bufs):
                _sgd_momentum_fused(p.data, p.grad.data, b, f32(0.01), f32(0.9))

        lib_step = optim.SGD(params, lr=0.01, momentum=0.9).step
        d = duel(lambda i, s=lib_step: s(), fused, max(3, repeats // 5), 5)
        n = sum(p.numel() for p in params)
        print(f"  {label:20s} ({n:>9,} params): library {statistics.median(d.a) * 1e3:7.3f} ms, "
              f"fused {statistics.median(d.b) * 1e3:7.3f} ms (library/fused "
              f"{1 / d.speed():.2f})", flush=True)


# ---------------------------------------------------------------------------------------------


SECTIONS = ("train", "infer", "cold", "memory", "split", "python", "optim", "roofline",
            "fusion")


# ---------------------------------------------------------------------------------------------
# Roofline
# ---------------------------------------------------------------------------------------------


def machine_rates() -> tuple[float, float]:
    """(float32 GEMM FLOP/s, copy bytes/s) of this machine, best of a few tries: a (1024, 1024)
    square ``np.matmul`` (OpenBLAS, its own threads) and a 64 MiB ``np.copyto`` (read + write)."""
    a = np.random.default_rng(0).standard_normal((1024, 1024)).astype(np.float32)
    gemm = []
    for _ in range(7):
        t0 = time.perf_counter()
        a @ a
        gemm.append(2 * 1024**3 / (time.perf_counter() - t0))
    src = np.ones(16 * 2**20, np.float32)
    dst = np.empty_like(src)
    copy = []
    for _ in range(7):
        t0 = time.perf_counter()
        np.copyto(dst, src)
        copy.append(2 * src.nbytes / (time.perf_counter() - t0))
    return max(gemm), max(copy)


def model_work(model: Any, shape: tuple[int, ...], batch: int) -> tuple[float, float]:
    """(FLOPs, bytes) of one training step of ``model`` on ``batch`` images: see ``roofline``
    in the module docstring. Counted from the output shapes seen by forward hooks."""
    macs, acts, first = [0.0], [0.0], [True]

    def hook(m: Any, args: Any, out: Any) -> None:
        n_out = float(np.prod(out.shape))
        acts[0] += n_out * 4
        if isinstance(m, nn.Conv2d):
            k = m.in_channels // m.groups * int(np.prod(m.kernel_size))
        elif isinstance(m, nn.Linear):
            k = m.in_features
        else:
            return
        macs[0] += n_out * k * (2 if first[0] else 3)  # forward, weight grad, input grad
        first[0] = False

    leaves = [m for m in model.modules() if not any(True for _ in m.children())]
    handles = [m.register_forward_hook(hook) for m in leaves]
    with mg.no_grad():
        model(mg.zeros((batch, *shape)))
    for h in handles:
        h.remove()
    return 2 * macs[0], 3 * 2 * acts[0]  # 2 FLOPs per multiply-add; write+read, 3 passes


def roofline_section(keys: list[str], batches: tuple[int, ...], rounds: int, calls: int) -> None:
    gemm, bw = machine_rates()
    print(f"\n## roofline: floor = FLOPs / GEMM rate + activation bytes / copy bandwidth "
          f"(GEMM {gemm / 1e9:.0f} GFLOP/s, copy {bw / 1e9:.1f} GB/s measured here)")
    print(f"{'model':28s} {'batch':>5s} {'GFLOP':>7s} {'MB':>6s} {'floor ms':>9s} "
          f"{'mg ms':>8s} {'torch ms':>9s} {'mg/floor':>9s} {'torch/floor':>12s} "
          f"{'mg GFLOP/s':>11s} {'torch GFLOP/s':>14s}")
    for key in keys:
        case = CASES[key]
        for batch in batches:
            m, t, _ = build_pair(key)
            flops, nbytes = model_work(m, case.shape, batch)
            floor = flops / gemm + nbytes / bw
            x, y = host_data(case.shape, batch)
            d = duel(mg_trainer(m, x, y, batch),
                     torch_trainer(t, x, y, batch) if t is not None else None, rounds, calls)
            mg_ms = statistics.median(d.a)
            line = (f"{case.name:28s} {batch:5d} {flops / 1e9:7.2f} {nbytes / 1e6:6.1f} "
                    f"{floor * 1e3:9.2f} {mg_ms * 1e3:8.2f}")
            if t is not None:
                th_ms = statistics.median(d.b)
                line += (f" {th_ms * 1e3:9.2f} {mg_ms / floor:9.1f}x {th_ms / floor:11.1f}x "
                         f"{flops / mg_ms / 1e9:11.0f} {flops / th_ms / 1e9:14.0f}")
            print(line, flush=True)


def header() -> None:
    import numba

    from minigrad import _threading

    blas = {k: v for k, v in os.environ.items() if k.startswith(("OPENBLAS", "OMP_", "MKL"))}
    print(f"# bench_train  {time.strftime('%Y-%m-%d %H:%M')}  {platform.machine()}, "
          f"{os.cpu_count()} cores")
    print(f"# python {platform.python_version()}, numpy {np.__version__}, numba "
          f"{numba.__version__} (threading layer {_threading.current_layer()}), torch "
          f"{torch.__version__ + ' (2 threads)' if torch else 'not installed'}; "
          f"BLAS variables set: {blas or 'none'}")
    print(f"# {load()}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="a smoke run: batch 16, few rounds (numbers mean nothing)")
    ap.add_argument("--only", default=",".join(SECTIONS),
                    help=f"comma-separated sections of {SECTIONS}")
    ap.add_argument("--models", default="lenet28,lenet32,resnet,alexnet",
                    help=f"train/split models of {tuple(CASES)}")
    ap.add_argument("--batches", default="64,256", help="train batch sizes")
    ap.add_argument("--rounds", type=int, default=10, help="alternating rounds per row")
    ap.add_argument("--calls", type=int, default=3, help="steps per library per round")
    ap.add_argument("--repeats", type=int, default=5, help="subprocess repeats (cold, memory)")
    ap.add_argument("--against", metavar="REF", help="also compare with minigrad at git REF")
    ap.add_argument("--no-torch", action="store_true", help="time minigrad alone")
    args = ap.parse_args(argv)
    global torch
    if args.no_torch:
        torch = None
    if torch is not None:
        torch.set_num_threads(2)
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(only) - set(SECTIONS)
    if unknown:
        ap.error(f"unknown sections {sorted(unknown)}; choose from {SECTIONS}")
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    if set(models) - set(CASES):
        ap.error(f"unknown models {sorted(set(models) - set(CASES))}; choose from {tuple(CASES)}")
    batches = tuple(int(b) for b in args.batches.split(","))
    rounds, calls, repeats = args.rounds, args.calls, args.repeats
    if args.quick:
        batches, rounds, calls, repeats = (16,), 2, 1, 1
        if args.models == ap.get_default("models"):
            models = ["lenet28"]
    header()
    if "train" in only:
        train_section(models, batches, rounds, calls)
    if "infer" in only:
        infer_section(["lenet28"] if args.quick else ["lenet28", "lenet32"], rounds, calls,
                      (1, 16 if args.quick else 256))
    if "cold" in only:
        cold_section(repeats)
    if "memory" in only:
        mem = ([("lenet28", 16)] if args.quick else
               [("lenet28", 64), ("lenet28", 256), ("resnet", 64), ("alexnet", 64)])
        memory_section(mem, repeats)
    if "split" in only:
        split_section(models, batches[0], 2 if args.quick else 10)
    if "python" in only:
        python_section((16,) if args.quick else (64, 256), 3 if args.quick else 30, rounds)
    if "optim" in only:
        optim_section(10 if args.quick else 100)
    if "fusion" in only:
        fusion_section([m for m in models if m.startswith("lenet")] or ["lenet28"], batches,
                       rounds, calls)
    if "roofline" in only:
        roofline_section(models, batches, rounds, calls)
    if args.against:
        against_section(args.against, (16,) if args.quick else (1, 64, 256), rounds,
                        calls * (1 if args.quick else 3))
    print(f"\n# {load()}")


if __name__ == "__main__":
    main()
