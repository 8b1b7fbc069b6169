"""Checkpoints: minigrad.save / minigrad.load, Module.save / Module.load.

Round trips of nested structures, resuming an optimizer and a scheduler, clear errors for files
that are not checkpoints, permissions, and temporaries left by killed saves (SIGKILL)."""

from __future__ import annotations

import collections
import io
import math
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn, optim
from minigrad import serialization as ser

ROOT = Path(__file__).resolve().parents[1]


def temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".tmp." in p.name)


# ---------------------------------------------------------------------------- round trips


def test_nested_structures_round_trip(tmp_path):
    w = mg.randn(3, 2, requires_grad=True)
    shared = np.arange(6, dtype=np.int16).reshape(2, 3)
    obj = {
        "tensor": w,
        "frozen": mg.tensor([1.0, 2.0], dtype=mg.float64),
        "param": nn.Parameter(mg.ones(2)),
        "arrays": [np.float16([1.5, -2]), np.array([True, False]), np.array(["ab", "c"]),
                   np.zeros((0, 4), np.float32), np.complex64([1 + 2j])],
        "shared": (shared, shared),
        "scalars": (np.float32(0.25), np.int64(-7), np.bool_(True)),
        "numbers": [0, -3, 2**70, 1.5, float("inf"), float("-inf"), float("nan"), True, None],
        "text": "héllo",
        7: "int key",
        (1, "a"): "tuple key",
        2.5: "float key",
        None: "none key",
        "ordered": collections.OrderedDict([("b", 1), ("a", 2)]),
        "counter": collections.Counter({3: 2, 5: 1}),
        "empty": [{}, [], ()],
    }
    path = tmp_path / "all.npz"
    mg.save(obj, path)
    out = mg.load(path)
    assert list(out) == list(obj)
    assert isinstance(out["tensor"], mg.Tensor) and out["tensor"].requires_grad
    np.testing.assert_array_equal(out["tensor"].numpy(), w.numpy())
    assert out["frozen"].dtype == mg.float64 and not out["frozen"].requires_grad
    assert isinstance(out["param"], nn.Parameter) and out["param"].requires_grad
    for a, b in zip(out["arrays"], obj["arrays"], strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    assert out["shared"][0] is out["shared"][1]  # stored once, loaded as one array
    assert [type(v) for v in out["scalars"]] == [np.float32, np.int64, np.bool_]
    assert out["scalars"] == obj["scalars"]
    nums = out["numbers"]
    assert nums[:6] == obj["numbers"][:6] and math.isnan(nums[6]) and nums[7:] == [True, None]
    assert type(nums[0]) is int and type(nums[3]) is float and type(nums[7]) is bool
    assert out["text"] == "héllo" and out[7] == "int key" and out[(1, "a")] == "tuple key"
    assert out[2.5] == "float key" and out[None] == "none key"
    assert type(out["ordered"]) is collections.OrderedDict
    assert list(out["ordered"].items()) == [("b", 1), ("a", 2)]
    assert type(out["counter"]) is collections.Counter and out["counter"] == obj["counter"]
    assert out["empty"] == [{}, [], ()]
    # a file object works too, and a plain tensor as the whole object
    buf = io.BytesIO()
    mg.save(w, buf)
    buf.seek(0)
    np.testing.assert_array_equal(mg.load(buf).numpy(), w.numpy())


def test_shared_tensors_stay_shared_and_arrays_are_named_readably(tmp_path):
    t = mg.randn(2)
    mg.save({"a": t, "b": [t], "c": {"d.e": mg.zeros(1)}}, tmp_path / "s.npz")
    out = mg.load(tmp_path / "s.npz")
    assert out["a"] is out["b"][0]
    with np.load(tmp_path / "s.npz") as f:  # np.load can read every array of the file
        assert sorted(f.files) == ["__minigrad__", "a", "c/d.e"]


def test_what_cannot_be_saved_is_named(tmp_path):
    path = tmp_path / "x.npz"
    cases = [
        ({"sched": {"fn": lambda e: e}}, TypeError, r"obj\['sched'\]\['fn'\] is a .*function"),
        ([1, object()], TypeError, r"obj\[1\] is a builtins.object"),
        ({"a": np.array([{}], dtype=object)}, TypeError, "array of Python objects"),
        ({mg.zeros(1): 1}, TypeError, "dict keys must be"),
    ]
    loop: list = []
    loop.append(loop)
    cases.append((loop, ValueError, "reference cycle"))
    for obj, exc, words in cases:
        with pytest.raises(exc, match=words):
            mg.save(obj, path)
    assert not any(tmp_path.iterdir())  # nothing written, no temporary left


def test_module_and_minigrad_checkpoints_interoperate(tmp_path):
    mg.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    fresh = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    # mg.save(model.state_dict()) loads with Module.load, and Module.save with mg.load
    mg.save(model.state_dict(), tmp_path / "sd.npz")
    fresh.load(tmp_path / "sd.npz")
    model.save(tmp_path / "m.npz")
    state = mg.load(tmp_path / "m.npz")
    assert isinstance(state, collections.OrderedDict) and list(state) == list(model.state_dict())
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(fresh.state_dict()[k].numpy(), v.numpy())
        np.testing.assert_array_equal(state[k].numpy(), v.numpy())
    # a whole training checkpoint is not a state dict: the error says how to load it
    opt = optim.SGD(model.parameters(), lr=0.1)
    mg.save({"model": model.state_dict(), "optimizer": opt.state_dict()}, tmp_path / "c.npz")
    with pytest.raises(ValueError, match=r"minigrad.load\(path\)\['model'\]"):
        fresh.load(tmp_path / "c.npz")
    fresh.load_state_dict(mg.load(tmp_path / "c.npz")["model"])


def test_map_location():
    buf = io.BytesIO()
    mg.save({"w": mg.ones(2)}, buf)
    buf.seek(0)
    assert mg.load(buf, map_location="cpu")["w"].device == "cpu"
    buf.seek(0)
    with pytest.raises(TypeError, match="map_location"):
        mg.load(buf, map_location={"cuda:0": "cpu"})


# ------------------------------------------------------------- resuming optimizer + scheduler


def _model():
    mg.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))


def _step(model, opt, x, y):
    opt.zero_grad()
    loss = mg.nn.functional.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    return loss.item()


SCHEDULES = {
    "sgd+cosine": (lambda p: optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True),
                   lambda o: optim.lr_scheduler.CosineAnnealingLR(o, T_max=5)),
    "adam+multistep": (lambda p: optim.Adam(p, lr=0.01, amsgrad=True),
                       lambda o: optim.lr_scheduler.MultiStepLR(o, [2, 4, 4], gamma=0.5)),
    "adamw+step": (lambda p: optim.AdamW(p, lr=0.01),
                   lambda o: optim.lr_scheduler.StepLR(o, 2, gamma=0.3)),
    "rmsprop+exp": (lambda p: optim.RMSprop(p, lr=0.01, momentum=0.5, centered=True),
                    lambda o: optim.lr_scheduler.ExponentialLR(o, 0.9)),
    "adagrad+plateau": (lambda p: optim.Adagrad(p, lr=0.1),
                        lambda o: optim.lr_scheduler.ReduceLROnPlateau(o, patience=0)),
}


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_resuming_from_one_file_continues_with_the_same_numbers(tmp_path, name):
    make_opt, make_sched = SCHEDULES[name]
    rng = np.random.default_rng(0)
    batches = [(mg.tensor(rng.standard_normal((6, 4)).astype(np.float32)),
                mg.tensor(rng.integers(0, 3, 6))) for _ in range(8)]

    def run(model, opt, sched, data):
        losses = []
        for x, y in data:
            losses.append(_step(model, opt, x, y))
            if isinstance(sched, optim.lr_scheduler.ReduceLROnPlateau):
                sched.step(losses[-1] + 1.0)  # a metric that stops improving
            else:
                sched.step()
        return losses

    model = _model()
    opt = make_opt(model.parameters())
    sched = make_sched(opt)
    run(model, opt, sched, batches[:4])
    mg.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
             "scheduler": sched.state_dict(), "epoch": 4}, tmp_path / "ckpt.npz")
    expected = run(model, opt, sched, batches[4:])

    ckpt = mg.load(tmp_path / "ckpt.npz")
    model2 = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
    model2.load_state_dict(ckpt["model"])
    opt2 = make_opt(model2.parameters())
    opt2.load_state_dict(ckpt["optimizer"])
    sched2 = make_sched(opt2)
    sched2.load_state_dict(ckpt["scheduler"])
    assert ckpt["epoch"] == 4
    got = run(model2, opt2, sched2, batches[4:])
    assert got == expected  # bit for bit
    for a, b in zip(model.parameters(), model2.parameters(), strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert sched2.get_last_lr() == sched.get_last_lr()


# ------------------------------------------------------------------- files that are not ours


def _bad_files(folder: Path) -> dict[str, tuple[Path, str]]:
    files = {}
    (folder / "notes.txt").write_text("epoch 3: loss 0.12\n")
    files["text"] = (folder / "notes.txt", "looks like text")
    np.save(folder / "w.npy", np.zeros(3))
    files["npy"] = (folder / "w.npy", r"single array \(numpy.save")
    (folder / "obj.pkl").write_bytes(pickle.dumps({"a": 1}))
    files["pickle"] = (folder / "obj.pkl", "looks like a pickle")
    (folder / "empty.npz").write_bytes(b"")
    files["empty"] = (folder / "empty.npz", "empty")
    good = io.BytesIO()
    np.savez(good, w=np.zeros(1000))
    (folder / "cut.npz").write_bytes(good.getvalue()[:3000])
    files["truncated"] = (folder / "cut.npz", "damaged")
    np.savez(folder / "objects.npz", w=np.array([{"a": 1}], dtype=object))
    files["object array"] = (folder / "objects.npz", "pickled Python objects")
    return files


@pytest.mark.parametrize("loader", ["Module.load", "minigrad.load"])
def test_files_that_are_not_checkpoints_get_clear_errors(tmp_path, loader):
    files = _bad_files(tmp_path)
    try:
        import torch

        torch.save({"w": torch.zeros(2)}, tmp_path / "model.pt")
        files["pt"] = (tmp_path / "model.pt", r"PyTorch checkpoint \(torch.save\)")
        torch.save({"w": torch.zeros(2)}, tmp_path / "old.pt",
                   _use_new_zipfile_serialization=False)
        files["legacy pt"] = (tmp_path / "old.pt", "looks like a pickle")
    except ImportError:
        pass
    model = nn.Linear(2, 1)
    load = model.load if loader == "Module.load" else mg.load
    for what, (path, words) in files.items():
        with pytest.raises(ValueError, match=words) as info:
            load(path)
        msg = str(info.value)
        assert str(path) in msg, what
        assert "allow_pickle" not in msg and "context manager" not in msg, what
    with pytest.raises(FileNotFoundError, match="no such file") as info:
        load(tmp_path / "missing.npz")
    assert str(tmp_path / "missing.npz") in str(info.value)
    with pytest.raises(IsADirectoryError):
        load(tmp_path)


# ----------------------------------------------------------------------------------- writing


@pytest.mark.parametrize("save", ["Module.save", "minigrad.save"])
def test_saving_into_a_missing_directory_names_the_path(tmp_path, save):
    path = tmp_path / "no" / "such" / "dir" / "ckpt.npz"
    model = nn.Linear(2, 1)
    with pytest.raises(FileNotFoundError) as info:
        model.save(path) if save == "Module.save" else mg.save(model.state_dict(), path)
    msg = str(info.value)
    assert str(path) in msg and "does not exist" in msg and ".tmp" not in msg
    assert not (tmp_path / "no").exists()


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_new_files_honour_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        nn.Linear(2, 1).save(tmp_path / "a.npz")
        mg.save({"x": 1}, tmp_path / "b.npz")
    finally:
        os.umask(old)
    assert (tmp_path / "a.npz").stat().st_mode & 0o777 == mode
    assert (tmp_path / "b.npz").stat().st_mode & 0o777 == mode


def test_overwriting_keeps_the_files_permissions(tmp_path):
    path = tmp_path / "a.npz"
    nn.Linear(2, 1).save(path)
    path.chmod(0o640)
    nn.Linear(2, 1).save(path)
    assert path.stat().st_mode & 0o777 == 0o640


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_save_removes_only_the_temporaries_of_dead_saves_of_that_path(tmp_path):
    host = ser._host()
    dead, alive = _dead_pid(), os.getpid()
    names = {
        "dead": f".ckpt.npz.tmp.{host}.{dead}.0123456789ab",
        "alive": f".ckpt.npz.tmp.{host}.{alive}.0123456789ab",  # a save still running here
        "other host": f".ckpt.npz.tmp.elsewhere.{dead}.0123456789ab",
        "other file": f".other.npz.tmp.{host}.{dead}.0123456789ab",
        "not ours": f".ckpt.npz.tmp.{host}.{dead}.notarandomtoken",
    }
    for name in names.values():
        (tmp_path / name).write_bytes(b"partial")
    mg.save({"a": 1}, tmp_path / "ckpt.npz")
    left = {p.name for p in tmp_path.iterdir()}
    assert names["dead"] not in left
    assert left == {"ckpt.npz"} | {v for k, v in names.items() if k != "dead"}


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "c.npz"
    mg.save({"v": 1}, path)
    good = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np.lib.format, "write_array", boom)
    with pytest.raises(OSError, match="No space"):
        mg.save({"v": mg.ones(3)}, path)
    assert path.read_bytes() == good and temporaries(tmp_path) == []


_SAVER = textwrap.dedent("""
    import sys, time
    import numpy as np
    import minigrad as mg
    from minigrad import serialization

    path, mode = sys.argv[1], sys.argv[2]
    if mode == "pause":  # stop in the middle of writing the archive until killed
        original = serialization.write_npz

        def slow(f, arrays):
            f.write(b"PK\\x03\\x04 half an archive")
            f.flush()
            print("writing", flush=True)
            time.sleep(60)
            original(f, arrays)

        serialization.write_npz = slow
    version = 0
    while True:
        version += 1
        state = {"version": version, "w": np.full(2_000_000, version, dtype=np.float32)}
        print("saving", flush=True)
        mg.save(state, path)
""")


@pytest.mark.parametrize("mode", ["pause", "random"])
def test_saves_killed_by_sigkill_leave_the_file_whole_and_the_next_save_cleans_up(
        tmp_path, mode):
    path = tmp_path / "ckpt.npz"
    mg.save({"version": 0, "w": np.zeros(2_000_000, np.float32)}, path)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH",
                                                                                "")]))
    rng = np.random.default_rng(0)
    kills = 4
    for _ in range(kills):
        proc = subprocess.Popen([sys.executable, "-c", _SAVER, str(path), mode],
                                stdout=subprocess.PIPE, text=True, env=env)
        try:
            # pause: kill while the temporary is half written; random: somewhere in the
            # third save (encoding, writing, fsync or rename)
            wanted = ["saving", "writing"] if mode == "pause" else ["saving"] * 3
            for word in wanted:
                line = proc.stdout.readline()
                assert line.strip() == word, line
            if mode == "random":
                time.sleep(float(rng.uniform(0, 0.05)))
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=60)
            proc.stdout.close()
        assert proc.returncode == -signal.SIGKILL
        state = mg.load(path)  # always a whole file, old or new
        assert state["w"].shape == (2_000_000,)
        assert np.all(state["w"] == state["version"])
        if mode == "pause":
            # the kill hit mid-write and left this save's temporary; the saves of the next
            # process removed the ones of the processes killed before
            assert temporaries(tmp_path) == [
                n for n in temporaries(tmp_path) if f".{ser._host()}.{proc.pid}." in n
            ] and len(temporaries(tmp_path)) == 1
    left = temporaries(tmp_path)
    assert len(ser.stale_temporaries(path)) == len(left)
    mg.save({"version": -1}, path)
    assert temporaries(tmp_path) == []
    assert mg.load(path) == {"version": -1}
