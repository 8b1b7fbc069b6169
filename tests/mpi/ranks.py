"""The 2-rank checks, run by tests/test_distributed.py as ``mpiexec -n 2 python ranks.py OUT``.

Every rank runs every check; each check returns measurements (errors, flags, per-rank values
gathered to rank 0), and rank 0 writes them all as JSON to OUT. The thresholds live in the
tests, not here, so a test failure shows the measured number. One launch for all checks: each
``mpiexec`` costs seconds of interpreter and kernel-cache start-up on a 2-core CI machine.

The one-process reference of each equivalence check is computed on every rank from the same
seed and the whole batch (no MPI involved), then compared with what the ranks computed together.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import traceback

import numpy as np

import minigrad as mg
import minigrad.nn.functional as F
from minigrad import distributed as dist
from minigrad import nn, optim
from minigrad.data import DataLoader, DistributedSampler, TensorDataset

B, STEPS = 8, 6  # global batch, steps of the weight comparison


def gathered(value):
    return dist.all_gather_object(value)


def max_err(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def max_rel(a, b, floor=1e-8) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), floor)))


# ---------------------------------------------------------------------------------------------


def check_api():
    r, n = dist.rank(), dist.world_size()
    out = {"rank": gathered(r), "world_size": n, "local_rank": gathered(dist.local_rank()),
           "is_main": gathered(dist.is_main())}
    t = mg.tensor(np.array([1.0, 2.0, 3.0]) * (r + 1), dtype=mg.float64)
    out["sum"] = dist.all_reduce(t.detach(), "sum").tolist()
    out["mean"] = dist.all_reduce(mg.tensor(np.array([1.0, 5.0]) * (r + 1)), "mean").tolist()
    out["max"] = dist.all_reduce(mg.tensor(np.array([r, -r], dtype=np.int64)), "max").tolist()
    nc = mg.tensor(np.arange(12.0).reshape(3, 4) * (r + 1)).transpose(1, 0)  # not contiguous
    out["sum_noncontiguous"] = dist.all_reduce(nc).tolist()
    b = mg.tensor(np.full(3, float(r)))
    out["broadcast_from_1"] = gathered(dist.broadcast(b, src=1).tolist())
    out["broadcast_object"] = gathered(dist.broadcast_object({"seed": 1234} if r == 0 else None))
    try:
        dist.all_reduce(mg.tensor([1, 2]), "mean")
        out["mean_of_ints"] = "no error"
    except TypeError as e:
        out["mean_of_ints"] = str(e)
    p = nn.Parameter(np.ones(2))
    try:
        dist.all_reduce(p)
        out["inplace_on_param"] = "no error"
    except RuntimeError as e:
        out["inplace_on_param"] = str(e)
    return out


def check_all_gather_grad():
    """cat(all_gather(x)) then a rank-specific weighting: x's gradient is the sum over ranks of
    that rank's weights for x's slice (sum_grads=True), or this rank's own (sum_grads=False)."""
    r = dist.rank()
    rng = np.random.default_rng(10 + r)
    x = mg.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    w = rng.standard_normal((4, 3))  # weights for the gathered (4, 3)
    y = mg.cat(dist.all_gather(x), axis=0)
    (y * mg.tensor(w)).sum().backward()
    all_w = gathered(w)
    expected = sum(wr[2 * r: 2 * r + 2] for wr in all_w)
    x2 = mg.tensor(x.data.copy(), requires_grad=True)
    y2 = mg.cat(dist.all_gather(x2, sum_grads=False), axis=0)
    (y2 * mg.tensor(w)).sum().backward()
    all_x = gathered(x.data)
    # second order through the reduce-scatter: d/dx of sum(grad_x^2) where grad_x depends on x
    x3 = mg.tensor(x.data.copy(), requires_grad=True)
    y3 = mg.cat(dist.all_gather(x3), axis=0)
    (g,) = mg.grad((y3 * y3 * mg.tensor(w)).sum(), x3, create_graph=True)
    (gg,) = mg.grad(g.sum(), x3)
    expected_gg = 2 * sum(wr[2 * r: 2 * r + 2] for wr in all_w)
    return {"forward_err": max_err(y.data, np.concatenate(all_x)),
            "grad_sum_err": max_err(x.grad.data, expected),
            "grad_own_err": max_err(x2.grad.data, w[2 * r: 2 * r + 2]),
            "gradgrad_err": max_err(gg.data, expected_gg)}


def conv_pool_linear():
    return nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(4 * 4 * 4, 5))


def conv_bn(sync: bool):
    m = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                      nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 4 * 4, 5))
    return nn.SyncBatchNorm.convert_sync_batchnorm(m) if sync else m


def batches(seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((B, 2, 8, 8)), rng.integers(0, 5, B)) for _ in range(STEPS)]


def make_opt(kind, params):
    if kind == "sgd":
        return optim.SGD(params, lr=0.1, momentum=0.9)
    return optim.Adam(params, lr=0.01)


def train(model, opt, data, part):
    """STEPS steps on ``data[step][part]``; returns the gradients after the first step and the
    final weights (float64 arrays, named as in the bare model)."""
    model_ = model
    first = None
    for step, (x, y) in enumerate(data):
        xb, yb = mg.tensor(x[part]), mg.tensor(y[part])
        opt.zero_grad()
        F.cross_entropy(model(xb), yb).backward()
        if step == 0:
            first = {n: p.grad.data.copy() for n, p in _bare(model_).named_parameters()}
        opt.step()
    return first, {n: p.data.copy() for n, p in _bare(model_).named_parameters()}


def _bare(model):
    return model.module if isinstance(model, dist.DistributedDataParallel) else model


def equivalence(build, kind, sync_model=None):
    """2 ranks x B/2 (DDP) against 1 rank x B, float64: max errors of the first gradients and
    of the weights after STEPS steps; the ranks start from different seeds (DDP broadcasts)."""
    r = dist.rank()
    data = batches()
    mg.manual_seed(0)
    ref = build().double()
    ref_grads, ref_weights = train(ref, make_opt(kind, ref.parameters()), data, slice(None))
    mg.manual_seed(0 if r == 0 else 77)  # rank 1 differs: the broadcast must make it equal
    model = (sync_model or build)().double()
    ddp = dist.DistributedDataParallel(model)
    half = slice(r * B // 2, (r + 1) * B // 2)
    grads, weights = train(ddp, make_opt(kind, model.parameters()), data, half)
    g_abs = max(max_err(grads[n], ref_grads[n]) for n in ref_grads)
    g_rel = max(max_rel(grads[n], ref_grads[n]) for n in ref_grads)
    close = all(np.allclose(grads[n], ref_grads[n], rtol=1e-5, atol=1e-12) for n in ref_grads)
    w_abs = max(max_err(weights[n], ref_weights[n]) for n in ref_weights)
    out = {"grad_abs": g_abs, "grad_rel": g_rel, "grad_allclose_rtol_1e-5": close,
           "weight_abs": w_abs,
           "replicas_equal": gathered({n: w.tolist() for n, w in weights.items()})}
    out["replicas_equal"] = out["replicas_equal"][0] == out["replicas_equal"][1]
    buffers = dict(model.named_buffers())
    if buffers:
        ref_buf = dict(ref.named_buffers())
        out["running_stats_abs"] = max(max_err(buffers[k].data, ref_buf[k].data)
                                       for k in buffers if "running" in k)
    return out


def check_equivalence():
    res = {}
    for kind in ("sgd", "adam"):
        res[f"conv_pool_linear/{kind}"] = equivalence(conv_pool_linear, kind)
        res[f"sync_batchnorm/{kind}"] = equivalence(lambda: conv_bn(False), kind,
                                                    sync_model=lambda: conv_bn(True))
        res[f"plain_batchnorm/{kind}"] = equivalence(lambda: conv_bn(False), kind)
    return res


def check_broadcast_at_construction():
    mg.manual_seed(dist.rank())
    model = conv_bn(False).double()
    model[1].running_mean.data[...] = dist.rank()  # buffers too
    before = gathered(model[0].weight.data.tolist())
    ddp = dist.DistributedDataParallel(model)
    after = gathered({k: v.data.tolist() for k, v in model.state_dict().items()})
    # buffers: rank 0's again before every training forward (broadcast_buffers=True)
    bn = model[1]
    bn.running_mean.data[...] = 5.0 if dist.rank() == 0 else -5.0
    x = np.random.default_rng(dist.rank()).standard_normal((4, 2, 8, 8))
    ddp(mg.tensor(x))
    local_mean = model[0](mg.tensor(x)).data.mean(axis=(0, 2, 3))
    expected = 0.9 * 5.0 + 0.1 * local_mean  # momentum 0.1 from rank 0's 5.0, this rank's batch
    return {"differed_before": before[0] != before[1], "equal_after": after[0] == after[1],
            "buffer_err": gathered(max_err(bn.running_mean.data, expected))}


def check_no_sync():
    """Two micro-batches per rank, the first inside no_sync(): the averaged result equals one
    rank on the whole batch; inside no_sync the gradients stay local (differ between ranks)."""
    r = dist.rank()
    (x, y), *_ = batches(1)
    mg.manual_seed(0)
    ref = conv_pool_linear().double()
    F.cross_entropy(ref(mg.tensor(x)), mg.tensor(y)).backward()
    mg.manual_seed(0)
    model = conv_pool_linear().double()
    ddp = dist.DistributedDataParallel(model)
    quarter = B // 4
    parts = [slice(r * B // 2 + k * quarter, r * B // 2 + (k + 1) * quarter) for k in range(2)]
    with ddp.no_sync():
        (F.cross_entropy(ddp(mg.tensor(x[parts[0]])), mg.tensor(y[parts[0]])) / 2).backward()
    local = gathered(model[0].weight.grad.data.tolist())
    (F.cross_entropy(ddp(mg.tensor(x[parts[1]])), mg.tensor(y[parts[1]])) / 2).backward()
    err = max(max_err(p.grad.data, q.grad.data)
              for p, q in zip(model.parameters(), ref.parameters()))
    return {"local_differ_inside": local[0] != local[1], "accumulated_err": err}


class TwoHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(4, 3)
        self.used = nn.Linear(3, 2)
        self.unused = nn.Linear(3, 2)

    def forward(self, x):
        return self.used(F.relu(self.body(x)))


def check_unused_parameters():
    mg.manual_seed(0)
    x = mg.tensor(np.random.default_rng(dist.rank()).standard_normal((4, 4)))
    ddp = dist.DistributedDataParallel(TwoHeads().double(), find_unused_parameters=True)
    ddp(x).sum().backward()
    out = {"unused_grad_is_none": ddp.module.unused.weight.grad is None,
           "used_grads_equal": len({str(g) for g in gathered(
               ddp.module.used.weight.grad.data.tolist())}) == 1}
    strict = dist.DistributedDataParallel(TwoHeads().double())
    strict(x).sum().backward()
    try:
        strict(x)
        out["stalled_error"] = "no error"
    except RuntimeError as e:
        out["stalled_error"] = str(e)
    return out


def check_buckets():
    """Several small buckets (a cap below the model's size) give the same averages as one."""
    r = dist.rank()
    (x, y), *_ = batches(2)
    grads = {}
    for cap in (25.0, 0.0005):
        mg.manual_seed(0)
        ddp = dist.DistributedDataParallel(conv_pool_linear().double(), bucket_cap_mb=cap)
        half = slice(r * B // 2, (r + 1) * B // 2)
        F.cross_entropy(ddp(mg.tensor(x[half])), mg.tensor(y[half])).backward()
        grads[cap] = ([p.grad.data.copy() for p in ddp.parameters()], ddp.bucket_sizes(),
                      list(ddp.started_at))
    return {"n_buckets": [len(grads[c][1]) for c in grads],
            "started_at": grads[0.0005][2], "n_params": len(list(ddp.parameters())),
            "err": max(max_err(a, b) for a, b in zip(grads[25.0][0], grads[0.0005][0]))}


def check_sampler():
    """With DataLoader batches over 2 ranks: each index once per epoch across ranks (divisible
    length), padding by repeats otherwise, a new order after set_epoch."""
    out = {}
    for n in (10, 11):
        ds = TensorDataset(np.arange(n))
        sampler = DistributedSampler(ds, shuffle=True, seed=3)
        epochs = []
        for epoch in range(2):
            sampler.set_epoch(epoch)
            seen = [int(v) for (xb,) in DataLoader(ds, batch_size=2, sampler=sampler)
                    for v in xb.data]
            epochs.append(gathered(seen))
        out[n] = {"epoch0": epochs[0], "epoch1": epochs[1], "len": len(sampler)}
    return out


def check_job():
    job = dist.Job()
    path = os.path.join(tempfile.gettempdir(), f"h3_job_{os.getppid()}.npz")
    mg.manual_seed(dist.rank())
    model = job.wrap(conv_pool_linear())
    job.save(model, path)
    exists_after_barrier = gathered(os.path.exists(path))
    if job.is_main:
        os.unlink(path)
    total = job.sum(1.0, float(dist.rank()))
    loader = job.loader(TensorDataset(np.arange(10)), batch_size=4, seed=1)  # 2 per rank
    job.set_epoch(1)
    batches = [[int(v) for v in xb.data] for (xb,) in loader]
    return {"distributed": job.distributed, "world": job.world_size,
            "wrapped": type(model).__name__, "saved_seen_by_all": exists_after_barrier,
            "sum": total, "shard": [str(job.shard(5))], "loader_len": len(loader),
            "batches": gathered(batches)}


def check_alexnet_model_parallel():
    """The two-tower AlexNet equals the one-process groups=2 AlexNet: loss, logits and every
    parameter's gradient (the tower's slice), float64, dropout on."""
    from minigrad.nn.models import AlexNet

    r = dist.rank()
    kw = dict(num_classes=10, in_channels=3, width=0.125, image_size=32, dropout=0.5)
    x = mg.tensor(np.random.default_rng(5).standard_normal((3, 3, 32, 32)))
    y = mg.tensor(np.array([1, 7, 3]))
    mg.manual_seed(0)
    full = AlexNet(**kw).double()
    loss_full = F.cross_entropy(full(x), y)
    loss_full.backward()
    mg.manual_seed(0)
    tower = AlexNet(**kw, model_parallel=True).double()
    loss_tower = F.cross_entropy(tower(x), y)
    loss_tower.backward()
    errs = {}
    full_p = dict(full.named_parameters())
    for name, p in tower.named_parameters():
        ref = full_p[name]
        if p.shape == ref.shape:
            rows = slice(None)
        else:
            k = p.shape[0]
            rows = slice(r * k, (r + 1) * k)
        errs[name] = max(max_err(p.data, ref.data[rows]), 0.0)
        errs[name + ".grad"] = max_err(p.grad.data, ref.grad.data[rows])
    n_full = full.num_parameters()
    n_tower = gathered(tower.num_parameters())
    return {"loss_err": abs(loss_full.item() - loss_tower.item()),
            "max_weight_err": max(v for k, v in errs.items() if not k.endswith(".grad")),
            "max_grad_err": max(v for k, v in errs.items() if k.endswith(".grad")),
            "params_full": n_full, "params_towers": n_tower}


def check_cuda_host_path():
    """GPU tensors (numba's CUDA simulator in CI) through host copies: all_reduce, broadcast and a
    DDP step on a GPU model equal the same on the CPU."""
    if not mg.cuda.is_available():
        return {"skipped": "no CUDA and no simulator"}
    r = dist.rank()
    t = mg.tensor(np.array([1.0, 2.0]) * (r + 1), device="cuda")
    out = {"all_reduce": dist.all_reduce(t).numpy().tolist()}
    b = mg.tensor(np.full(2, float(r)), device="cuda")
    out["broadcast"] = dist.broadcast(b, src=1).numpy().tolist()
    rng = np.random.default_rng(r)
    x, y = rng.standard_normal((2, 3)), rng.standard_normal((2, 2))
    grads = []
    for device in ("cpu", "cuda"):
        mg.manual_seed(0)
        ddp = dist.DistributedDataParallel(nn.Linear(3, 2).double().to(device))
        ((ddp(mg.tensor(x, device=device)) - mg.tensor(y, device=device)) ** 2).sum().backward()
        grads.append([p.grad.numpy() for p in ddp.parameters()])
        out[f"grad_device_{device}"] = str(ddp.module.weight.grad.device)
    out["cpu_vs_cuda_err"] = max(max_err(a, b) for a, b in zip(*grads))
    return out


CHECKS = {name[len("check_"):]: fn for name, fn in globals().items() if name.startswith("check_")}


def main() -> None:
    out_path = sys.argv[1]
    only = sys.argv[2:] or list(CHECKS)
    dist.init()
    results = {}
    for name in only:
        try:
            results[name] = CHECKS[name]()
        except Exception:  # keep going: one broken check should not hide the others
            results[name] = {"error": traceback.format_exc()}
        dist.barrier()
    if dist.is_main():
        with open(out_path, "w") as f:
            json.dump(results, f, indent=1, default=str)


if __name__ == "__main__":
    main()
