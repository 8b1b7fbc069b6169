"""minigrad.distributed: unit tests without MPI, then 2-rank tests under ``mpiexec -n 2``.

The 2-rank checks run in one launch of tests/mpi/ranks.py (each launch costs seconds of start-up
on a 2-core machine), which writes its measurements as JSON; the tests below hold the thresholds.
Each rank runs one thread (NUMBA_NUM_THREADS=1, OMP_NUM_THREADS=1): two ranks on two cores.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn.functional as F
from minigrad import nn
from minigrad.data import DataLoader, DistributedSampler, TensorDataset
from minigrad.distributed import Job, _comm
from minigrad.distributed.parallel import assign_buckets

ROOT = Path(__file__).resolve().parent.parent
MPI_DIR = Path(__file__).resolve().parent / "mpi"
LAUNCHER_VARS = ("PMI_SIZE", "PMI_RANK", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE",
                 "SLURM_STEP_NUM_TASKS", "SLURM_NTASKS", "SLURM_STEP_ID", "PMI_FD", "PMI_PORT")


# ---------------------------------------------------------------------------------------------
# Without MPI


def test_import_minigrad_does_not_import_mpi4py():
    code = "import sys, minigrad; print('mpi4py' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=_env(), timeout=120, check=True)
    assert out.stdout.strip() == "False"


def test_missing_mpi4py_names_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # makes `from mpi4py import MPI` fail
    with pytest.raises(ImportError, match=r'pip install "minigrad\[distributed\]" mpich'):
        _comm._mpi()
    assert not mg.distributed.is_available()


def _params(*specs):
    return [nn.Parameter(np.zeros(n, dtype=dt)) for n, dt in specs]


def test_buckets_cover_every_parameter_once_one_dtype_each():
    params = _params((100, np.float32), (7, np.float64), (300, np.float32), (50, np.float64),
                     (10, np.float32), (1000, np.float32), (3, np.float32))
    for cap in (1, 400, 1200, 4000, 10**9):
        buckets = assign_buckets(params, cap)
        flat = sorted(i for b in buckets for i in b)
        assert flat == list(range(len(params))), (cap, buckets)
        for b in buckets:
            assert len({params[i].dtype for i in b}) == 1
            nbytes = [params[i].data.nbytes for i in b]
            assert sum(nbytes[:-1]) < cap  # a bucket closes once it reaches the cap
    assert len(assign_buckets(params, 10**9)) == 2  # one per dtype
    assert len(assign_buckets(params, 1)) == len(params)
    for first in (1, 100, 500):  # a smaller first bucket per dtype
        buckets = assign_buckets(params, 10**9, first_cap_bytes=first)
        assert sorted(i for b in buckets for i in b) == list(range(len(params)))
    # float32 in reverse: 3 (12 B), 1000 (4000 B) -> the first float32 bucket closes at 100 B
    assert assign_buckets(params, 10**9, first_cap_bytes=100)[0] == [6, 5]


def test_gradients_become_ready_layer_by_layer_from_the_output():
    """What the overlap rests on: backward runs the newest node first, so a Linear layer's
    weight (used through weight.T, a side branch of its matmul) is complete before the conv
    layer's backward runs, not at the very end."""
    model = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(64, 5))
    ready = []
    for name, p in model.named_parameters():
        p.register_post_accumulate_grad_hook(lambda t, name=name: ready.append(name))
    F.cross_entropy(model(mg.randn(2, 2, 8, 8)), mg.tensor([0, 3])).backward()
    assert ready.index("4.weight") < ready.index("0.weight")
    assert ready.index("4.bias") < ready.index("0.bias")


def test_buckets_follow_reverse_registration_order():
    params = _params(*[(10, np.float32)] * 6)
    buckets = assign_buckets(params, 80)  # two 40-byte tensors per bucket
    assert buckets == [[5, 4], [3, 2], [1, 0]]
    with pytest.raises(ValueError, match="positive"):
        assign_buckets(params, 0)


def _torch_style_indices(n, replicas, rank, drop_last, order):
    """PyTorch's DistributedSampler arithmetic, written out independently (given an order)."""
    import math

    if drop_last and n % replicas:
        num = math.ceil((n - replicas) / replicas)
    else:
        num = math.ceil(n / replicas)
    total = num * replicas
    idx = list(order)
    if not drop_last:
        pad = total - len(idx)
        idx += (idx * math.ceil(pad / len(idx)))[:pad] if pad > len(idx) else idx[:pad]
    else:
        idx = idx[:total]
    return idx[rank:total:replicas]


@pytest.mark.parametrize("n", [12, 13, 2, 1, 7])
@pytest.mark.parametrize("drop_last", [False, True])
def test_sampler_shares_and_padding(n, drop_last):
    replicas = 3
    for shuffle in (False, True):
        shares = [list(DistributedSampler(range(n), replicas, r, shuffle=shuffle, seed=5,
                                          drop_last=drop_last)) for r in range(replicas)]
        assert len({len(s) for s in shares}) == 1  # every rank runs the same number of steps
        assert all(len(s) == len(DistributedSampler(range(n), replicas, 0,
                                                    drop_last=drop_last)) for s in shares)
        order = list(DistributedSampler(range(n), 1, 0, shuffle=shuffle, seed=5))
        for r in range(replicas):
            assert shares[r] == _torch_style_indices(n, replicas, r, drop_last, order)
        everything = sorted(i for s in shares for i in s)
        if n % replicas == 0:
            assert everything == list(range(n))  # each index exactly once
        elif not drop_last:
            assert set(everything) == set(range(n))  # padded by repeats
            assert len(everything) == -(-n // replicas) * replicas
        else:
            assert len(set(everything)) == len(everything) == n // replicas * replicas


def test_sampler_matches_pytorch_without_shuffle():
    torch_data = pytest.importorskip("torch.utils.data")
    for n, drop_last in ((10, False), (11, False), (11, True), (2, False)):
        for r in range(4):
            ours = list(DistributedSampler(range(n), 4, r, shuffle=False, drop_last=drop_last))
            theirs = list(torch_data.DistributedSampler(range(n), 4, r, shuffle=False,
                                                        drop_last=drop_last))
            assert ours == theirs, (n, drop_last, r)


def test_sampler_set_epoch_reshuffles_the_same_way_on_every_rank():
    def epoch(e, r):
        s = DistributedSampler(range(40), 2, r, seed=1)
        s.set_epoch(e)
        return list(s)

    assert epoch(0, 0) != epoch(1, 0)
    assert epoch(1, 0) == epoch(1, 0)  # a pure function of seed + epoch
    assert sorted(epoch(3, 0) + epoch(3, 1)) == list(range(40))
    assert list(DistributedSampler(range(40), 2, 0, seed=1)) != list(
        DistributedSampler(range(40), 2, 0, seed=2))


def test_sampler_rejects_bad_arguments():
    with pytest.raises(ValueError, match="rank must be in"):
        DistributedSampler(range(4), 2, 2)
    with pytest.raises(ValueError, match="num_replicas"):
        DistributedSampler(range(4), 0, 0)
    with pytest.raises(TypeError, match="length"):
        DistributedSampler(iter(range(4)), 2, 0)


def test_sampler_feeds_a_dataloader():
    ds = TensorDataset(np.arange(10.0))
    seen = []
    for r in range(2):
        loader = DataLoader(ds, batch_size=2, sampler=DistributedSampler(ds, 2, r, seed=0))
        seen += [int(v) for (xb,) in loader for v in xb.data]
    assert sorted(seen) == list(range(10))


def _bn_pair(dtype=np.float64):
    mg.manual_seed(0)
    bn = nn.BatchNorm2d(3, momentum=0.3).to(dtype)
    mg.manual_seed(0)
    sync = nn.SyncBatchNorm(3, momentum=0.3).to(dtype)
    with mg.no_grad():
        for m in (bn, sync):
            m.weight.copy_(np.array([1.5, 0.5, -1.0]))
            m.bias.copy_(np.array([0.1, -0.2, 0.3]))
    return bn, sync


def test_sync_batchnorm_in_one_process_is_batchnorm():
    bn, sync = _bn_pair()
    x = np.random.default_rng(0).standard_normal((4, 3, 5, 5)) * 2 + 1
    outs = []
    for m in (bn, sync):
        xt = mg.tensor(x, requires_grad=True)
        y = m(xt)
        (y * mg.tensor(np.linspace(-1, 1, y.data.size).reshape(y.shape))).sum().backward()
        outs.append((y.data, xt.grad.data, m.weight.grad.data, m.running_var.data.copy()))
    for a, b in zip(*outs):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    sync.eval()
    bn.eval()
    np.testing.assert_allclose(sync(mg.tensor(x)).data, bn(mg.tensor(x)).data, rtol=1e-12)


def test_sync_batch_norm_function_matches_batch_norm_and_its_gradients():
    """The synchronised op on a world of one (the code path of every rank: its own sums and
    one all-reduce, here the identity) against the plain op, float64, first and second order."""
    from minigrad.distributed._comm import WORLD_OF_ONE
    from minigrad.distributed.functional import sync_batch_norm
    from minigrad.testing import gradcheck, gradgradcheck

    rng = np.random.default_rng(1)
    x = mg.tensor(rng.standard_normal((3, 2, 4)), requires_grad=True)
    w = mg.tensor(rng.standard_normal(2), requires_grad=True)
    b = mg.tensor(rng.standard_normal(2), requires_grad=True)
    y_sync = sync_batch_norm(x, None, None, w, b, group=WORLD_OF_ONE)
    y_ref = F.batch_norm(x, None, None, w, b, training=True)
    np.testing.assert_allclose(y_sync.data, y_ref.data, rtol=1e-12, atol=1e-12)
    fn = lambda x, w, b: sync_batch_norm(x, None, None, w, b, eps=1e-3, group=WORLD_OF_ONE)  # noqa: E731
    assert gradcheck(fn, [x, w, b])
    assert gradgradcheck(fn, [x, w, b])


def test_convert_sync_batchnorm_shares_state():
    model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3),
                          nn.Sequential(nn.Flatten(), nn.BatchNorm1d(12)))
    model.eval()
    bn2, bn1 = model[1], model[2][1]
    out = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    assert out is model
    assert type(model[1]) is nn.SyncBatchNorm and type(model[2][1]) is nn.SyncBatchNorm
    assert model[1].weight is bn2.weight and model[1].running_mean is bn2.running_mean
    assert model[2][1].bias is bn1.bias and model[2][1].num_features == 12
    assert not model[1].training
    assert list(dict(model.named_parameters())) == [
        "0.weight", "0.bias", "1.weight", "1.bias", "2.1.weight", "2.1.bias"]
    single = nn.SyncBatchNorm.convert_sync_batchnorm(nn.BatchNorm2d(4))
    assert type(single) is nn.SyncBatchNorm
    with pytest.raises(ValueError, match="SyncBatchNorm"):
        single(mg.zeros(2, 3, 4, 4))
    with pytest.raises(TypeError, match="SyncBatchNorm"):
        single(mg.zeros(2, 4, 4, 4, dtype=mg.float64))  # float32 layer
    assert single.running_mean.data.sum() == 0 and single.num_batches_tracked.item() == 0
    with pytest.raises(ValueError, match="num_features"):
        nn.SyncBatchNorm(0)


def test_job_in_one_process_is_plain_training(tmp_path, capsys, monkeypatch):
    for var in LAUNCHER_VARS:
        monkeypatch.delenv(var, raising=False)
    job = Job()
    assert not job.distributed and job.world_size == 1 and job.is_main
    model = nn.Linear(2, 2)
    assert job.wrap(model) is model
    loader = job.loader(TensorDataset(np.zeros((10, 2))), batch_size=4, seed=0)
    assert isinstance(loader, DataLoader) and len(loader) == 3
    assert job.sum(1.5, 2) == (1.5, 2.0)
    assert job.shard(5) == slice(0, 5, 1)
    job.print("hello")
    assert capsys.readouterr().out == "hello\n"
    job.save(model, tmp_path / "m.npz")
    assert (tmp_path / "m.npz").exists()


@pytest.mark.parametrize("env, expected", [
    ({}, None),
    ({"PMI_SIZE": "1"}, None),
    ({"PMI_SIZE": "4"}, 4),
    ({"OMPI_COMM_WORLD_SIZE": "2"}, 2),
    ({"SLURM_STEP_NUM_TASKS": "8"}, 8),
    ({"SLURM_NTASKS": "8"}, None),  # a batch script runs as one process in a 8-task job
    ({"SLURM_NTASKS": "8", "SLURM_STEP_ID": "0"}, 8),
])
def test_launcher_world_size_from_the_environment(monkeypatch, env, expected):
    for var in LAUNCHER_VARS:
        monkeypatch.delenv(var, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    found = _comm.launcher_world_size()
    assert (found[0] if found else None) == expected


# ---------------------------------------------------------------------------------------------
# Two ranks


def _env(**extra) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in LAUNCHER_VARS}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.update(NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1")
    env.update(extra)
    return env


def _mpiexec() -> str:
    pytest.importorskip("mpi4py")
    if not mg.distributed.is_available():
        pytest.skip("mpi4py finds no MPI library (pip install mpich)")
    here = Path(sys.executable).parent / "mpiexec"
    found = str(here) if here.exists() else shutil.which("mpiexec")
    if found is None:
        pytest.skip("no mpiexec on PATH")
    return found


def _launch(args, timeout, n=2, env=None):
    return subprocess.run([_mpiexec(), "-n", str(n), sys.executable, *args],
                          capture_output=True, text=True, env=env or _env(), timeout=timeout,
                          check=False, cwd=ROOT)


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    """Run every check of tests/mpi/ranks.py on 2 ranks once; its JSON results."""
    out = tmp_path_factory.mktemp("mpi") / "results.json"
    proc = _launch([str(MPI_DIR / "ranks.py"), str(out)], timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = json.loads(out.read_text())
    return results


def _check(ranks, name):
    res = ranks[name]
    assert "error" not in res, res.get("error")
    return res


def test_collectives(ranks):
    r = _check(ranks, "api")
    assert r["rank"] == [0, 1] and r["world_size"] == 2 and r["local_rank"] == [0, 1]
    assert r["is_main"] == [True, False]
    assert r["sum"] == [3.0, 6.0, 9.0]                  # [1, 2, 3] * (1 + 2)
    assert r["mean"] == [1.5, 7.5]
    assert r["max"] == [1, 0]
    expected = (np.arange(12.0).reshape(3, 4) * 3).T
    assert r["sum_noncontiguous"] == expected.tolist()
    assert r["broadcast_from_1"] == [[1.0] * 3, [1.0] * 3]
    assert r["broadcast_object"] == [{"seed": 1234}] * 2
    assert "needs a floating tensor" in r["mean_of_ints"]
    assert "no_grad" in r["inplace_on_param"]


def test_all_gather_is_differentiable_across_ranks(ranks):
    r = _check(ranks, "all_gather_grad")
    for key in ("forward_err", "grad_sum_err", "grad_own_err", "gradgrad_err"):
        assert r[key] < 1e-12, (key, r)


@pytest.mark.parametrize("case", ["conv_pool_linear/sgd", "conv_pool_linear/adam",
                                  "sync_batchnorm/sgd", "sync_batchnorm/adam"])
def test_two_ranks_half_batches_equal_one_rank_whole_batch(ranks, case):
    r = _check(ranks, "equivalence")[case]
    assert r["grad_allclose_rtol_1e-5"], r      # gradients after one step, rtol 1e-5
    assert r["weight_abs"] < 1e-5, r            # weights after 6 steps, atol 1e-5
    assert r["replicas_equal"], r
    if "running_stats_abs" in r:
        assert r["running_stats_abs"] < 1e-5, r


@pytest.mark.parametrize("case", ["plain_batchnorm/sgd", "plain_batchnorm/adam"])
def test_plain_batchnorm_is_not_equivalent(ranks, case):
    """Per-rank batch statistics: the data-parallel model is a different model."""
    r = _check(ranks, "equivalence")[case]
    assert not r["grad_allclose_rtol_1e-5"] and r["grad_abs"] > 1e-3, r
    assert r["weight_abs"] > 1e-3, r


def test_construction_broadcasts_rank0_state(ranks):
    r = _check(ranks, "broadcast_at_construction")
    assert r["differed_before"] and r["equal_after"], r
    assert max(r["buffer_err"]) < 1e-12, r  # buffers re-broadcast before each training forward


def test_no_sync_accumulates_locally_then_averages(ranks):
    r = _check(ranks, "no_sync")
    assert r["local_differ_inside"], r
    assert r["accumulated_err"] < 1e-12, r


def test_unused_parameters(ranks):
    r = _check(ranks, "unused_parameters")
    assert r["unused_grad_is_none"] and r["used_grads_equal"], r
    assert "find_unused_parameters=True" in r["stalled_error"], r
    assert "unused.weight" in r["stalled_error"], r


def test_many_small_buckets_average_the_same(ranks):
    r = _check(ranks, "buckets")
    assert r["n_buckets"][0] == 1 and r["n_buckets"][1] > 1, r
    assert r["err"] < 1e-12, r


def test_buckets_start_during_backward(ranks):
    """The overlap: each bucket's all-reduce starts as soon as its gradients are in, while the
    earlier layers' gradients are still to come (ready counts below the total)."""
    r = _check(ranks, "buckets")
    started = r["started_at"]
    assert started == sorted(started) and started[-1] == r["n_params"], r
    assert started[0] < r["n_params"], r


def test_sampler_over_two_ranks(ranks):
    r = _check(ranks, "sampler")
    ten, eleven = r["10"], r["11"]
    for epoch in ("epoch0", "epoch1"):
        assert sorted(ten[epoch][0] + ten[epoch][1]) == list(range(10))
        both = eleven[epoch][0] + eleven[epoch][1]
        assert len(both) == 12 and set(both) == set(range(11))  # one index repeated (padding)
    assert ten["epoch0"] != ten["epoch1"]


def test_job_saves_on_rank0_and_sums(ranks):
    r = _check(ranks, "job")
    assert r["distributed"] and r["world"] == 2 and r["wrapped"] == "DistributedDataParallel"
    assert r["saved_seen_by_all"] == [True, True]  # rank 1 passed the barrier after the write
    assert r["sum"] == [2.0, 1.0]
    # Job.loader: the global batch of 4 split into 2 per rank, every index once per epoch,
    # epoch 1's shuffle (set_epoch) the same as a DistributedSampler's
    assert r["loader_len"] == 3
    for rank, batches in enumerate(r["batches"]):
        assert [len(b) for b in batches] == [2, 2, 1]
        sampler = DistributedSampler(range(10), 2, rank, seed=1)
        sampler.set_epoch(1)
        assert sum(batches, []) == list(sampler)
    assert sorted(sum(r["batches"][0] + r["batches"][1], [])) == list(range(10))


def test_alexnet_model_parallel_equals_groups2_model(ranks):
    r = _check(ranks, "alexnet_model_parallel")
    assert r["loss_err"] < 1e-12 and r["max_weight_err"] == 0.0, r
    assert r["max_grad_err"] < 1e-12, r
    # each tower holds about half: everything but fc3 is split
    assert all(n < 0.6 * r["params_full"] for n in r["params_towers"]), r


def test_gpu_tensors_through_host_copies(ranks):
    r = _check(ranks, "cuda_host_path")
    if "skipped" in r:
        pytest.skip(r["skipped"])
    assert r["all_reduce"] == [3.0, 6.0] and r["broadcast"] == [1.0, 1.0]
    assert r["grad_device_cuda"] == "cuda"
    assert r["cpu_vs_cuda_err"] < 1e-12, r


def test_main_job_trains_on_two_ranks(tmp_path):
    """`mpiexec -n 2 python examples/train_cnn.py`: both ranks train (half the global batch
    each), rank 0 alone prints the global accuracy and writes a checkpoint of the bare model."""
    pytest.importorskip("sklearn", reason="the main job reads scikit-learn's bundled digits")
    proc = _launch([str(ROOT / "examples" / "train_cnn.py"), "--epochs", "3", "--no-plots",
                    "--out-dir", str(tmp_path)], timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "2 ranks" in out and out.count("final test accuracy") == 1, out
    acc = float(out.split("final test accuracy ")[1].split()[0])
    assert acc > 0.85, out  # one process after 3 epochs: about 0.95
    from minigrad.nn.models import LeNet5

    LeNet5().load(tmp_path / "lenet5_digits.npz")  # keys without DDP's "module." prefix
    odd = _launch([str(ROOT / "examples" / "train_cnn.py"), "--batch-size", "63",
                   "--out-dir", str(tmp_path)], timeout=120)
    assert odd.returncode != 0 and "multiple of 2" in odd.stderr, odd.stdout + odd.stderr
    assert "Traceback" not in odd.stderr, odd.stderr  # a message, before any training


def test_model_parallel_walkthrough_in_one_process(tmp_path, monkeypatch, capsys):
    for var in LAUNCHER_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.syspath_prepend(str(ROOT / "examples"))
    import importlib.util

    spec = importlib.util.spec_from_file_location("alexnet_mp_walkthrough",
                                                  ROOT / "examples" / "alexnet_model_parallel.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(["--fast", "--out-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert "21,632 values each way" in out and "[checked]" in out
    assert "mpiexec -n 2" in out


def test_model_parallel_walkthrough_on_two_ranks(tmp_path):
    proc = _launch([str(ROOT / "examples" / "alexnet_model_parallel.py"), "--fast",
                    "--out-dir", str(tmp_path)], timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "[checked] every gradient equals its slice" in proc.stdout
    assert "[checked] the towers talk at the four points" in proc.stdout


def test_a_failing_rank_aborts_the_job_quickly(tmp_path):
    stamp = tmp_path / "raised_at"
    start = time.time()
    proc = _launch([str(MPI_DIR / "crash.py"), str(stamp)], timeout=60)
    end = time.time()
    assert proc.returncode != 0
    assert "rank 1 fails on purpose" in proc.stderr
    assert "passed the barrier" not in proc.stdout
    raised = float(stamp.read_text()) if stamp.exists() else start
    assert end - raised < 10, f"the job took {end - raised:.1f} s to end after the exception"


def test_launcher_mismatch_is_an_error():
    pytest.importorskip("mpi4py")
    if not mg.distributed.is_available():
        pytest.skip("mpi4py finds no MPI library")
    # Open MPI's launcher variable around a process that MPI sees as a world of one
    proc = subprocess.run([sys.executable, "-c", "import minigrad.distributed as d; d.init()"],
                          capture_output=True, text=True, timeout=120, check=False,
                          env=_env(OMPI_COMM_WORLD_SIZE="2"))
    assert proc.returncode != 0
    assert "DistributedError" in proc.stderr and "world of 1 process" in proc.stderr
    assert "mpiexec" in proc.stderr


def test_init_caps_threads_to_cores_per_rank(tmp_path):
    env = _env()
    for var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                "MKL_NUM_THREADS"):
        env.pop(var, None)
    proc = _launch([str(MPI_DIR / "threads.py"), str(tmp_path)], timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    for r in range(2):
        info = json.loads((tmp_path / f"rank{r}.json").read_text())
        expected = max(1, info["cores"] // info["local_world_size"])
        assert info["numba_threads"] == expected, info
        assert info["capped"]["blas"] == expected, info
