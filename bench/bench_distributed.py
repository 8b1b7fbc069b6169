"""Data-parallel training throughput and all-reduce cost, minigrad (MPI) against PyTorch (gloo).

    python bench/bench_distributed.py              # everything (a few minutes on 2 cores)
    python bench/bench_distributed.py --quick      # fewer steps and message sizes

Training rows: images per second of one step (forward, cross-entropy, backward, SGD momentum)
on a global batch of 64, LeNet-5 (1x32x32) and the model zoo's AlexNet at width 0.25 (1x32x32,
1.8M parameters, train_cnn's ``--model alexnet``), for 1 rank x 2 threads, 1 rank x 1 thread and
2 ranks x 1 thread (DistributedDataParallel, 32 images per rank), and the same for PyTorch
(``torch.nn.parallel.DistributedDataParallel`` over gloo, launched by the same mpiexec) when
torch is importable. Splitting a fixed global batch (strong scaling) halves each rank's batch,
so a step's fixed cost (Python, kernel launches) weighs twice as much; two more rows per library
show it: 1 rank x 1 thread on 32 images (that fixed cost) and 2 ranks x 1 thread on 64 images
per rank (weak scaling, how DDP is usually run: the per-rank batch stays, the global one grows).
Each 2-rank row also times the step under ``no_sync()`` (no communication): the difference is
the communication that backward did not hide.

All-reduce rows: the median time of a blocking ``Allreduce`` (float32, sum, 2 ranks) over a sweep
of message sizes, fitted to t(n) = a + n / B (for 2 ranks the ring model's 2(N-1) * alpha + 2(N-1)/N
* n / beta is 2 alpha + n / beta: alpha = a / 2, beta = B); LeNet-5's gradients all-reduced as
one flat buffer against one call per parameter tensor; and the projection of the ring all-reduce
of each model's gradients to 8, 64 and 512 ranks.

The driver starts every configuration as a subprocess (``mpiexec -n 2`` for the 2-rank ones),
one after another; a worker writes its result as JSON. With ``--rounds R`` the whole sweep runs R
times, so the configurations alternate and drift of the machine between them reaches all alike;
each row then gives the median over the rounds, and each speed-up the median of the per-round
ratios with their range. Run it on a quiet machine: every number here is a wall-clock median.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
GLOBAL_BATCH = 64
MODELS = ("lenet5", "alexnet")
# (ranks, threads per rank, images per rank; 0: the global batch split over the ranks)
CONFIGS = ((1, 2, 0), (1, 1, 0), (2, 1, 0), (1, 1, GLOBAL_BATCH // 2), (2, 1, GLOBAL_BATCH))


# ---------------------------------------------------------------------------------------------
# Workers (run in subprocesses)
# ---------------------------------------------------------------------------------------------


def _mg_model(name: str):
    from minigrad.nn.models import AlexNet, LeNet5

    if name == "lenet5":
        return LeNet5(num_classes=10, in_channels=1)
    return AlexNet(num_classes=10, in_channels=1, width=0.25, image_size=32)


def _torch_model(name: str):
    """The same architecture in PyTorch, layer by layer from minigrad's model."""
    import torch.nn as tnn

    from minigrad import nn

    def convert(m):
        if isinstance(m, nn.Sequential):
            return tnn.Sequential(*[convert(c) for c in m.children()])
        if isinstance(m, nn.Conv2d):
            return tnn.Conv2d(m.in_channels, m.out_channels, m.kernel_size, m.stride,
                              m.padding, groups=m.groups)
        if isinstance(m, nn.Linear):
            return tnn.Linear(m.in_features, m.out_features)
        if isinstance(m, nn.MaxPool2d):
            return tnn.MaxPool2d(m.kernel_size, m.stride)
        if isinstance(m, nn.ReLU):
            return tnn.ReLU()
        if isinstance(m, nn.Flatten):
            return tnn.Flatten()
        if isinstance(m, nn.Dropout):
            return tnn.Dropout(m.p)
        raise TypeError(type(m).__name__)

    model = _mg_model(name)
    return tnn.Sequential(*[convert(c) for c in model.children()])


def _timed_steps(step, steps: int, warmup: int) -> float:
    times = []
    for i in range(warmup + steps):
        t0 = time.perf_counter()
        step()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def worker_minigrad(args) -> dict:
    import minigrad as mg
    import minigrad.nn.functional as F
    from minigrad import distributed as dist
    from minigrad import optim

    if args.ddp:
        dist.init()
    world = dist.world_size() if args.ddp else 1
    rank = dist.rank() if args.ddp else 0
    per_rank = args.per_rank or GLOBAL_BATCH // world
    mg.manual_seed(0)
    model = _mg_model(args.model)
    net = dist.DistributedDataParallel(model) if args.ddp else model
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    rng = np.random.default_rng(rank)
    x = mg.tensor(rng.standard_normal((per_rank, 1, 32, 32)).astype(np.float32))
    y = mg.tensor(rng.integers(0, 10, per_rank))

    def step() -> None:
        opt.zero_grad()
        F.cross_entropy(net(x), y).backward()
        opt.step()

    def local_step() -> None:
        opt.zero_grad()
        with net.no_sync():
            F.cross_entropy(net(x), y).backward()
        opt.step()

    out = {"step": _timed_steps(step, args.steps, 3)}
    if args.ddp:
        out["step_no_sync"] = _timed_steps(local_step, args.steps, 2)
        out["buckets"] = net.bucket_sizes()
    out["params"] = model.num_parameters()
    return out if rank == 0 else {}


def worker_torch(args) -> dict:
    import torch
    import torch.distributed as tdist

    torch.set_num_threads(args.threads)
    rank, world = 0, 1
    if args.ddp:
        rank, world = int(os.environ["PMI_RANK"]), int(os.environ["PMI_SIZE"])
        tdist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{args.port}",
                                 rank=rank, world_size=world)
    torch.manual_seed(0)
    model = _torch_model(args.model)
    net = torch.nn.parallel.DistributedDataParallel(model) if args.ddp else model
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    per_rank = args.per_rank or GLOBAL_BATCH // world
    rng = np.random.default_rng(rank)
    x = torch.from_numpy(rng.standard_normal((per_rank, 1, 32, 32)).astype(np.float32))
    y = torch.from_numpy(rng.integers(0, 10, per_rank))

    def step() -> None:
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(x), y).backward()
        opt.step()

    def local_step() -> None:
        opt.zero_grad()
        with net.no_sync():
            torch.nn.functional.cross_entropy(net(x), y).backward()
        opt.step()

    out = {"step": _timed_steps(step, args.steps, 3)}
    if args.ddp:
        out["step_no_sync"] = _timed_steps(local_step, args.steps, 2)
        tdist.destroy_process_group()
    return out if rank == 0 else {}


def worker_allreduce(args) -> dict:
    from mpi4py import MPI

    import minigrad as mg
    from minigrad import distributed as dist

    dist.init()
    comm = MPI.COMM_WORLD
    sizes = [8, 64, 512, 4096, 32768, 262144, 2**21, 2**24]
    if not args.quick:
        sizes.append(2**26)
    sweep = []
    for nbytes in sizes:
        buf = np.ones(nbytes // 4, dtype=np.float32)
        reps = max(5, min(2000, int(2e7 // max(nbytes, 1e4))))
        if args.quick:
            reps = max(3, reps // 10)
        comm.Barrier()
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
            times.append(time.perf_counter() - t0)
        sweep.append((nbytes, statistics.median(times)))
    # LeNet-5's gradients: one call per tensor against one flat buffer
    mg.manual_seed(0)
    grads = [np.ones(p.shape, np.float32) for p in _mg_model("lenet5").parameters()]
    flat = np.concatenate([g.ravel() for g in grads])

    def per_tensor() -> None:
        for g in grads:
            comm.Allreduce(MPI.IN_PLACE, g, op=MPI.SUM)

    def one_buffer() -> None:
        comm.Allreduce(MPI.IN_PLACE, flat, op=MPI.SUM)

    comm.Barrier()
    reps = 50 if args.quick else 300
    lenet = {"per_tensor": _timed_steps(per_tensor, reps, 5),
             "flat": _timed_steps(one_buffer, reps, 5), "tensors": len(grads)}
    return {"sweep": sweep, "lenet": lenet} if comm.Get_rank() == 0 else {}


WORKERS = {"minigrad": worker_minigrad, "torch": worker_torch, "allreduce": worker_allreduce}


# ---------------------------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------------------------


def _env(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    for var in ("PMI_SIZE", "PMI_RANK", "OMPI_COMM_WORLD_SIZE"):
        env.pop(var, None)
    t = str(threads)
    env.update(NUMBA_NUM_THREADS=t, OMP_NUM_THREADS=t, OPENBLAS_NUM_THREADS=t, MKL_NUM_THREADS=t)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def _mpiexec() -> str | None:
    here = Path(sys.executable).parent / "mpiexec"
    return str(here) if here.exists() else shutil.which("mpiexec")


def run(kind: str, model: str, ranks: int, threads: int, args, port: int = 0,
        per_rank: int = 0) -> dict | None:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        cmd = [sys.executable, __file__, "--worker", kind, "--model", model, "--threads",
               str(threads), "--steps", str(args.steps), "--out", str(out), "--port", str(port),
               "--per-rank", str(per_rank)]
        if ranks > 1:
            cmd = [_mpiexec(), "-n", str(ranks), *cmd, "--ddp"]
        if args.quick:
            cmd.append("--quick")
        proc = subprocess.run(cmd, env=_env(threads), capture_output=True, text=True,
                              timeout=1800, check=False)
        if proc.returncode != 0 or not out.exists():
            print(f"  ({kind} {model} {ranks}x{threads} failed: {proc.stderr.strip()[-400:]})")
            return None
        return json.loads(out.read_text())


def _median_rows(rounds: list[dict]) -> dict:
    """Per configuration, the median over rounds of each timed field (None if every round
    failed)."""
    rows = {}
    for key in rounds[0]:
        got = [r[key] for r in rounds if r.get(key)]
        if not got:
            rows[key] = None
            continue
        row = dict(got[0])
        for field in ("step", "step_no_sync"):
            if field in row:
                row[field] = statistics.median(g[field] for g in got)
        rows[key] = row
    return rows


def _ratio(rounds: list[dict], slow: tuple, fast: tuple, scale: float = 1.0) -> str:
    """``scale * step(slow) / step(fast)`` per round, as "median x" (with the range over rounds
    when there are several)."""
    per = [scale * r[slow]["step"] / r[fast]["step"] for r in rounds if r.get(slow) and r.get(fast)]
    if not per:
        return "n/a"
    text = f"{statistics.median(per):.2f}x"
    return text + (f" (rounds {min(per):.2f}-{max(per):.2f})" if len(per) > 1 else "")


def fit_latency_bandwidth(sweep: list[tuple[int, float]]) -> tuple[float, float]:
    """(alpha, beta) of the ring model from a 2-rank sweep, where t(n) = 2 alpha + n / beta:
    alpha from the smallest message (all latency), beta from the messages of 1 MB and more
    (median of n / (t - 2 alpha): all bandwidth). Two points of the curve rather than a least
    squares fit, which on a loaded machine let one noisy mid-size message decide both."""
    t_small = min(t for n, t in sweep)
    alpha = t_small / 2
    big = [n / max(t - t_small, 1e-12) for n, t in sweep if n >= 2**20]
    return alpha, float(np.median(big))


def ring_time(n_ranks: int, nbytes: float, alpha: float, beta: float) -> float:
    """The ring all-reduce cost model: 2(N-1)/N * bytes / bandwidth + 2(N-1) * latency."""
    return 2 * (n_ranks - 1) / n_ranks * nbytes / beta + 2 * (n_ranks - 1) * alpha


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--worker", choices=sorted(WORKERS))
    p.add_argument("--model", choices=MODELS, default="lenet5")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--ddp", action="store_true")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--out", type=Path)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--per-rank", type=int, default=0,
                   help="images per rank (default: the global batch of 64 split over the ranks)")
    p.add_argument("--rounds", type=int, default=1,
                   help="repeat the whole sweep this many times, configurations alternating; "
                        "medians over rounds")
    p.add_argument("--network", default=None, metavar="ALPHA_US,BETA_GBS",
                   help="also project with this latency (us) and bandwidth (GB/s), e.g. a "
                        "cluster network's: 5,10")
    args = p.parse_args()
    if args.worker:
        result = WORKERS[args.worker](args)
        if result:
            args.out.write_text(json.dumps(result))
        return
    if args.quick:
        args.steps = 8
    if _mpiexec() is None:
        sys.exit("bench_distributed: no mpiexec (pip install \"minigrad[distributed]\" mpich)")
    try:
        import torch  # noqa: F401

        frameworks = ["minigrad", "torch"]
    except ImportError:
        frameworks = ["minigrad"]

    print(f"Training step, global batch {GLOBAL_BATCH}, SGD momentum (median of {args.steps} "
          "steps); img/s")
    port = 29500 + os.getpid() % 1000
    rounds: list[dict] = []
    for _ in range(max(1, args.rounds)):
        got = {}
        for model in MODELS:
            for fw in frameworks:
                for ranks, threads, per_rank in CONFIGS:
                    port += 1
                    got[(model, fw, ranks, threads, per_rank)] = run(fw, model, ranks, threads,
                                                                     args, port, per_rank)
        rounds.append(got)
    rows = _median_rows(rounds)
    for (model, fw, ranks, threads, per_rank), r in rows.items():
        if r is None:
            continue
        images = ranks * per_rank if per_rank else GLOBAL_BATCH
        line = (f"  {model:8} {fw:8} {ranks} rank x {threads} thread, "
                f"{images // ranks:3} img/rank: {images / r['step']:7.0f} img/s "
                f"({r['step'] * 1e3:6.1f} ms/step)")
        if "step_no_sync" in r:
            exposed = r["step"] - r["step_no_sync"]
            line += (f"; without communication {r['step_no_sync'] * 1e3:6.1f} ms, "
                     f"exposed communication {exposed * 1e3:+.1f} ms/step")
        print(line, flush=True)
    for model in MODELS:
        for fw in frameworks:
            one = rows.get((model, fw, 1, 1, 0))
            half = rows.get((model, fw, 1, 1, GLOBAL_BATCH // 2))
            two = rows.get((model, fw, 2, 1, 0))
            weak = rows.get((model, fw, 2, 1, GLOBAL_BATCH))
            if not (one and two):
                continue
            strong = _ratio(rounds, (model, fw, 1, 1, 0), (model, fw, 2, 1, 0))
            line = (f"  {model} {fw}: 2 ranks / 1 rank x 1 thread = {strong} "
                    "(strong, 64 images in all)")
            if half:
                line += (f"; bound by the fixed cost: a 32-image step takes "
                         f"{half['step'] / one['step']:.0%} of a 64-image one, so at most "
                         f"{one['step'] / half['step']:.2f}x")
            if weak:
                ratio = _ratio(rounds, (model, fw, 1, 1, 0), (model, fw, 2, 1, GLOBAL_BATCH), 2)
                line += f"; weak (64 img/rank) {ratio}"
            print(line)
        two, tdd = rows.get((model, "minigrad", 2, 1, 0)), rows.get((model, "torch", 2, 1, 0))
        wmg = rows.get((model, "minigrad", 2, 1, GLOBAL_BATCH))
        wtd = rows.get((model, "torch", 2, 1, GLOBAL_BATCH))
        if two and tdd:
            strong = _ratio(rounds, (model, "torch", 2, 1, 0), (model, "minigrad", 2, 1, 0))
            line = f"  {model}: minigrad DDP / PyTorch DDP = {strong} (strong)"
            if wmg and wtd:
                weak_vs = _ratio(rounds, (model, "torch", 2, 1, GLOBAL_BATCH),
                                 (model, "minigrad", 2, 1, GLOBAL_BATCH))
                line += f", {weak_vs} (weak)"
            print(line)

    print("\nAll-reduce, 2 ranks, float32 sum (median)")
    ar = run("allreduce", "lenet5", 2, 1, args)
    if ar is None:
        return
    for nbytes, t in ar["sweep"]:
        print(f"  {nbytes:>10,} B: {t * 1e6:9.1f} us  ({nbytes / t / 1e9:6.2f} GB/s)")
    alpha, beta = fit_latency_bandwidth(ar["sweep"])
    print(f"  fit: latency alpha = {alpha * 1e6:.2f} us per step of the ring, bandwidth "
          f"beta = {beta / 1e9:.2f} GB/s")
    le = ar["lenet"]
    print(f"  LeNet-5 gradients ({le['tensors']} tensors): one call per tensor "
          f"{le['per_tensor'] * 1e6:.1f} us, one flat buffer {le['flat'] * 1e6:.1f} us "
          f"({le['per_tensor'] / le['flat']:.1f}x)")

    project(rows, alpha, beta, "measured above")
    if args.network:
        a_us, b_gbs = (float(v) for v in args.network.split(","))
        project(rows, a_us * 1e-6, b_gbs * 1e9, "the --network figures (assumed, not measured)")


def project(rows: dict, alpha: float, beta: float, source: str) -> None:
    """The ring all-reduce of each model's gradients at 8, 64 and 512 ranks, and what it does to
    a step, with per-image compute measured on 1 rank x 1 thread. A step is forward (1/3 of the
    compute) then backward (2/3), with the bucket all-reduces overlapping backward: step =
    compute / 3 + max(2/3 compute, all-reduce). Weak scaling keeps 32 images per rank; strong
    scaling splits the global batch of 64 (at most 64 ranks)."""
    print(f"\nRing all-reduce, alpha = {alpha * 1e6:.2f} us, beta = {beta / 1e9:.2f} GB/s "
          f"({source})")
    models = {m: (r["params"] * 4, r["step"] / GLOBAL_BATCH)
              for m in MODELS if (r := rows.get((m, "minigrad", 1, 1, 0))) and "params" in r}
    for m in MODELS:
        if m not in models and (r := rows.get((m, "minigrad", 2, 1, 0))):
            models[m] = (r["params"] * 4, None)
    models["alexnet-paper"] = (60_965_224 * 4, None)
    ranks = (2, 8, 64, 512)
    print(f"  {'model':14} {'gradient':>10}  all-reduce ms at N = " + ", ".join(map(str, ranks)))
    for m, (nbytes, per_image) in models.items():
        cells = ", ".join(f"{ring_time(n, nbytes, alpha, beta) * 1e3:.3f}" for n in ranks)
        print(f"  {m:14} {nbytes / 2**20:7.2f} MB  {cells}")
        if per_image is None:
            continue
        for label, batch_of in (("weak, 32 img/rank", lambda n: 32),
                                ("strong, 64 img in all", lambda n: GLOBAL_BATCH / n)):
            cells, stop = [], None
            for n in (2, 4, 8, 16, 32, 64, 128, 256, 512):
                if batch_of(n) < 1:
                    break
                compute = batch_of(n) * per_image
                comm = ring_time(n, nbytes, alpha, beta)
                step = compute / 3 + max(2 * compute / 3, comm)
                if stop is None and comm > 2 * compute / 3:
                    stop = n
                if n in ranks:
                    cells.append(f"N={n}: {batch_of(n) * n / step:,.0f} img/s "
                                 f"({compute / step:.0%})")
            print(f"      {label:22} " + "; ".join(cells)
                  + (f"; the all-reduce outlasts backward from N = {stop}" if stop
                     else "; backward hides the all-reduce throughout"))


if __name__ == "__main__":
    main()
