"""DataLoader with worker processes: same batches as in-process loading, seeding, prefetching,
errors and shutdown (no worker left running, no zombie)."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import time

import numpy as np
import pytest

import minigrad as mg
from minigrad.data import DataLoader, Dataset, TensorDataset, get_worker_info
from minigrad.data import dataloader as dataloader_module

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="the worker tests use fork and /proc (Linux)")


class Probe(Dataset):
    """Sample i: (i, pid, worker id, worker seed, a draw from minigrad's global generator)."""

    def __init__(self, n: int = 12, fail_at: int | None = None, sleep_at: int | None = None,
                 die_at: int | None = None, counter=None) -> None:
        self.n, self.fail_at, self.sleep_at, self.die_at = n, fail_at, sleep_at, die_at
        self.counter = counter

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int):
        if self.counter is not None:
            with self.counter.get_lock():
                self.counter.value += 1
        if i == self.fail_at:
            raise ValueError(f"sample {i} is broken")
        if i == self.sleep_at:
            time.sleep(30)
        if i == self.die_at:
            os.kill(os.getpid(), signal.SIGKILL)
        info = get_worker_info()
        wid, seed = (info.id, info.seed) if info is not None else (-1, -1)
        return i, os.getpid(), wid, seed, float(mg.random.generator().random())


def fields(loader) -> list[np.ndarray]:
    """Per batch: (index, pid, worker id, seed, draw) columns as arrays."""
    out = []
    for batch in loader:
        out.append([np.asarray(t.data) for t in batch])
    return out


def gone(pid: int) -> bool:
    """The process has exited and been reaped (not running, not a zombie)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except FileNotFoundError:
        return True
    return stat[stat.rindex(b")") + 2:][:1] == b"X"


def wait_until(condition, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def assert_workers_gone(pids) -> None:
    assert wait_until(lambda: all(gone(p) for p in pids)), [
        (p, open(f"/proc/{p}/stat").read()) for p in pids if not gone(p)]
    alive = {p.pid for p in multiprocessing.active_children()}
    assert not alive & set(pids)


@pytest.mark.parametrize("num_workers", [1, 2])
@pytest.mark.parametrize("fast", [True, False])
def test_workers_give_the_same_batches_in_order(num_workers, fast):
    x = np.arange(46 * 3, dtype=np.float32).reshape(46, 3)
    y = np.arange(46)
    ds = TensorDataset(x, y)
    if not fast:
        ds = Probe(46)
    kwargs = dict(batch_size=5, shuffle=True, generator=7, drop_last=False)
    single = fields(DataLoader(ds, **kwargs))
    multi = fields(DataLoader(ds, num_workers=num_workers, **kwargs))
    assert len(single) == len(multi) == 10
    for a, b in zip(single, multi, strict=True):
        np.testing.assert_array_equal(a[0], b[0])  # same samples, same order
        if fast:
            np.testing.assert_array_equal(a[1], b[1])
            assert a[0].dtype == np.float32 and a[1].dtype == np.int64


def test_more_workers_than_cores_warns(monkeypatch):
    monkeypatch.setattr(dataloader_module, "_usable_cpus", lambda: 1)
    with pytest.warns(UserWarning, match="2 worker processes for 1 usable CPU"):
        loader = DataLoader(Probe(4), batch_size=2, num_workers=2)
    assert len(fields(loader)) == 2


def test_workers_without_batching_and_with_a_collate_fn():
    ds = Probe(7)
    single = [int(s[0]) for s in DataLoader(ds, batch_size=None)]
    multi = [int(s[0]) for s in DataLoader(ds, batch_size=None, num_workers=2)]
    assert single == multi == list(range(7))
    batches = list(DataLoader(ds, batch_size=3, num_workers=2,
                              collate_fn=lambda b: [s[0] for s in b]))
    assert batches == [[0, 1, 2], [3, 4, 5], [6]]


def test_each_worker_is_seeded_from_the_generator_and_the_epoch():
    def epoch_seeds(loader):
        out = {}
        for _, _, wid, seed, draw in fields(loader):
            for w, s, d in zip(wid, seed, draw, strict=True):
                out.setdefault(int(w), (int(s), []))[1].append(float(d))
        return out

    a = DataLoader(Probe(8), batch_size=2, num_workers=2, generator=5)
    b = DataLoader(Probe(8), batch_size=2, num_workers=2, generator=5)
    a1, a2, b1 = epoch_seeds(a), epoch_seeds(a), epoch_seeds(b)
    assert sorted(a1) == [0, 1]  # both workers worked
    assert a1[1][0] == a1[0][0] + 1  # seed = base_seed + worker id
    assert a1[0][1] != a1[1][1]  # the workers draw different numbers
    assert a1 == b1  # a run repeats from its seed
    assert a2[0][0] != a1[0][0] and a2[0][1] != a1[0][1]  # and the next epoch differs
    c = DataLoader(Probe(8), batch_size=2, num_workers=2, generator=6)
    assert epoch_seeds(c)[0][0] != a1[0][0]


def _init_records_id(worker_id: int) -> None:
    info = get_worker_info()
    assert info.id == worker_id
    mg.manual_seed(1000 + worker_id)  # init runs after seeding: it can override it


def test_worker_init_fn_runs_in_each_worker_after_seeding():
    loader = DataLoader(Probe(4), batch_size=1, num_workers=2, worker_init_fn=_init_records_id)
    draws: dict[int, list[float]] = {}
    for _, _, w, _, d in fields(loader):
        draws.setdefault(int(w[0]), []).append(float(d[0]))
    for w in (0, 1):
        expected = np.random.default_rng(1000 + w).random(2).astype(np.float32)  # collated
        assert draws[w] == expected.tolist()
    assert get_worker_info() is None  # main process


def test_worker_exception_is_raised_in_the_main_process_with_its_traceback():
    loader = DataLoader(Probe(10, fail_at=5), batch_size=2, num_workers=2)
    it = iter(loader)
    got = [next(it) for _ in range(2)]  # batches 0 and 1 are fine
    with pytest.raises(ValueError) as info:
        next(it)  # batch 2 holds sample 5
    msg = str(info.value)
    assert "Caught ValueError in DataLoader worker process 0" in msg
    assert "Traceback (most recent call last)" in msg and "sample 5 is broken" in msg
    assert "__getitem__" in msg  # the worker's frames, not the main process's
    assert len(got) == 2
    rest = list(it)  # the iterator goes on after the error, as PyTorch's
    assert [int(b[0][0]) for b in rest] == [6, 8]

    class Missing(Probe):
        def __getitem__(self, i):
            return {}["key"]

    with pytest.raises(KeyError, match="Caught KeyError"):
        next(iter(DataLoader(Missing(2), num_workers=1)))


def test_worker_init_fn_error_is_raised():
    def bad_init(worker_id):
        raise RuntimeError(f"cannot init {worker_id}")

    with pytest.raises(RuntimeError, match="cannot init 0"):
        list(DataLoader(Probe(2), num_workers=1, worker_init_fn=bad_init))


def test_unpicklable_batch_is_an_error_not_a_hang():
    loader = DataLoader(Probe(2), batch_size=2, num_workers=1, timeout=60,
                        collate_fn=lambda b: (lambda: b))
    with pytest.raises(Exception, match="must be picklable"):
        next(iter(loader))


def test_workers_exit_when_the_epoch_ends_or_the_iterator_is_dropped():
    loader = DataLoader(Probe(12), batch_size=2, num_workers=2)
    it = iter(loader)
    pids = {int(p) for _, pids, *_ in fields(it) for p in pids}
    assert len(pids) == 2 and os.getpid() not in pids
    assert_workers_gone(pids)  # exhausted: shut down and reaped
    assert [w.exitcode for w in it._workers] == [0, 0]  # they exited, not terminated
    it = iter(loader)
    first = next(it)
    pids = {int(first[1][0])} | {w.pid for w in it._workers}
    del it, first  # abandoned mid-epoch (a `break`)
    assert_workers_gone(pids)


def test_persistent_workers_survive_epochs_and_go_with_the_loader():
    def three_epochs(loader):
        first = fields(loader)
        it = iter(loader)
        next(it)  # abandon the second epoch early: its prefetched batches are stale
        del it
        return first, fields(loader)

    kwargs = dict(batch_size=2, shuffle=True, generator=0)
    expected = [[b[0].tolist() for b in epoch] for epoch in three_epochs(DataLoader(Probe(12),
                                                                                    **kwargs))]
    loader = DataLoader(Probe(12), num_workers=2, persistent_workers=True, **kwargs)
    first, third = three_epochs(loader)
    assert [[b[0].tolist() for b in epoch] for epoch in (first, third)] == expected
    first = {int(p) for _, pids, *_ in first for p in pids}
    assert {int(p) for _, pids, *_ in third for p in pids} == first  # the same processes
    assert not any(gone(p) for p in first)
    del loader
    assert_workers_gone(first)


def test_prefetch_factor_bounds_the_batches_in_flight():
    counter = multiprocessing.get_context("fork").Value("i", 0)
    loader = DataLoader(Probe(40, counter=counter), batch_size=2, num_workers=2,
                        prefetch_factor=3)
    it = iter(loader)
    next(it)
    expected = 2 * (2 * 3 + 1)  # samples of 2 workers x 3 batches ahead, plus the next one sent
    assert wait_until(lambda: counter.value >= expected)
    time.sleep(0.3)
    assert counter.value == expected
    del it


def test_timeout_raises_instead_of_waiting_for_ever():
    loader = DataLoader(Probe(4, sleep_at=0), batch_size=2, num_workers=1, timeout=0.5)
    it = iter(loader)
    start = time.monotonic()
    with pytest.raises(RuntimeError, match="timed out after 0.5 seconds"):
        next(it)
    assert time.monotonic() - start < 5
    pids = [w.pid for w in it._workers]
    del it
    assert_workers_gone(pids)


def test_a_worker_that_dies_is_reported():
    loader = DataLoader(Probe(6, die_at=2), batch_size=2, num_workers=1)
    with pytest.raises(RuntimeError, match=r"DataLoader worker .*SIGKILL.*exited unexpectedly"):
        list(loader)


def test_parallel_numba_kernels_work_in_forked_workers():
    """fork after the parent ran parallel kernels (threading layer started) is safe: the
    default start method on Linux relies on it."""
    big = mg.tensor(np.linspace(-1, 1, 1 << 16, dtype=np.float32))
    expected = np.maximum(big.numpy(), 0)
    mg.nn.functional.relu(big)  # a parallel kernel in the parent

    class Relu(Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return mg.nn.functional.relu(big).numpy()

    loader = DataLoader(Relu(), batch_size=2, num_workers=2, timeout=120)
    for (batch,) in ([b] for b in loader):
        np.testing.assert_array_equal(batch.numpy(), np.broadcast_to(expected, (2, 1 << 16)))


def test_default_start_method(monkeypatch):
    assert dataloader_module._default_context().get_start_method() == "fork"
    monkeypatch.setattr(dataloader_module, "_openmp_layer_running", lambda: True)
    assert dataloader_module._default_context().get_start_method() == "forkserver"


def test_spawn_start_method_works_and_explains_pickling_errors():
    ds = TensorDataset(np.arange(6, dtype=np.float32), np.arange(6))
    loader = DataLoader(ds, batch_size=4, num_workers=1, multiprocessing_context="spawn",
                        timeout=120)
    assert [b[1].numpy().tolist() for b in loader] == [[0, 1, 2, 3], [4, 5]]
    loader = DataLoader(ds, batch_size=4, num_workers=1, multiprocessing_context="spawn",
                        collate_fn=lambda b: b)
    with pytest.raises(RuntimeError, match="'spawn' start method.*define them at module level"):
        next(iter(loader))
