"""Every walk-through in examples/ runs headless in --fast mode and its own claims hold.

The scripts check their claims with assertions, so running them is the test. They run in-process
(importing each script's ``main(argv)``: one interpreter, Numba kernels compiled once), and one
of them also as a real subprocess, the way a reader runs it.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
WALKTHROUGHS = sorted(EXAMPLES.glob("0[1-9]_*.py"))

pytest.importorskip("sklearn", reason="the walk-throughs read scikit-learn's bundled digits")


def test_there_are_nine_walkthroughs():
    assert [p.name[:2] for p in WALKTHROUGHS] == [f"0{i}" for i in range(1, 10)]


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(f"walkthrough_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _count_colour_bars(monkeypatch) -> list:
    """Record the label of every colour bar drawn from now on (empty without matplotlib)."""
    bars: list = []
    if importlib.util.find_spec("matplotlib") is None:
        return bars
    import matplotlib.figure

    real = matplotlib.figure.Figure.colorbar

    def colorbar(self, *args, **kwargs):
        bars.append(kwargs.get("label"))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(matplotlib.figure.Figure, "colorbar", colorbar)
    return bars


@pytest.mark.parametrize("path", WALKTHROUGHS, ids=lambda p: p.stem)
def test_walkthrough_fast(path, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.syspath_prepend(str(EXAMPLES))
    bars = _count_colour_bars(monkeypatch)
    module = _load(path)
    module.main(["--fast", "--out-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert "[checked]" in out
    written = {p.suffix for p in tmp_path.iterdir()}
    if path.name.startswith("01_"):
        assert ".dot" in written
    elif importlib.util.find_spec("matplotlib") is not None:
        assert ".png" in written, f"{path.name} wrote no picture"
        if path.name.startswith("09_"):
            assert "weight" in bars  # the filter plot has a colour scale
    if path.name.startswith("09_"):
        # the text agrees with the numbers: the chosen rate is never called too small or large
        best = re.search(r"best validation accuracy: lr ([\d.]+)", out).group(1)
        verdicts = dict(re.findall(r"\[checked\] lr ([\d.]+) is (too small|too large)", out))
        assert verdicts and best not in verdicts
        assert all((float(lr) < float(best)) == (v == "too small") for lr, v in verdicts.items())


def test_runs_as_a_script(tmp_path):
    root = str(EXAMPLES.parent)  # importable even without `pip install -e .`
    env = dict(os.environ, MPLBACKEND="Agg",
               PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
    env.pop("DISPLAY", None)
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / "01_autodiff_by_hand.py"), "--fast", "--out-dir",
         str(tmp_path)],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "[checked] backward visits the ops in reverse topological order" in proc.stdout


def test_a_broken_claim_fails_loudly(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLES))
    from _common import claim

    with pytest.raises(AssertionError, match="claim does not hold: 2 = 3"):
        claim(2 == 3, "2 = 3")


# --------------------------------------------------------------------- walk-through 09


def test_09_learning_rate_choice_agrees_with_its_verdicts():
    module = _load(EXAMPLES / "09_train_lenet5.py")
    # the curves of the full run that printed "best: lr 0.003" after checking "lr 0.003 is too
    # small": lr 0.03 peaked at 96.4 % but its last epoch dipped to 92.5 %
    curves = {
        0.003: [(1.9, 0.60), (0.9, 0.80), (0.6, 0.85), (0.390, 0.878), (0.234, 0.944),
                (0.175, 0.950)],
        0.03: [(1.2, 0.85), (0.4, 0.93), (0.2, 0.955), (0.146, 0.956), (0.174, 0.964),
               (0.123, 0.925)],
        0.3: [(2.4, 0.10), (2.33, 0.11), (2.32, 0.10), (2.321, 0.117), (2.317, 0.078),
              (2.318, 0.089)],
    }
    best, verdicts = module.choose_learning_rate(curves)
    assert best == 0.03
    assert verdicts == {0.003: "too small", 0.03: "best", 0.3: "too large"}
    # a tie in accuracy goes to the lower training loss
    tie = {0.01: [(0.5, 0.9)], 0.1: [(0.3, 0.9)]}
    assert module.choose_learning_rate(tie)[0] == 0.1


# ------------------------------------------------------------------- examples/train_cnn.py


def _train_cnn():
    return _load(EXAMPLES / "train_cnn.py")


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--epochs", "0"], "--epochs: must be at least 1, got 0"),
        (["--epochs", "-2"], "--epochs: must be at least 1"),
        (["--epochs", "two"], "--epochs: expected a whole number, got 'two'"),
        (["--batch-size", "0"], "--batch-size: must be at least 1"),
        (["--lr", "0"], "--lr: must be a positive number, got 0"),
        (["--lr", "-1"], "--lr: must be a positive number, got -1"),
        (["--lr", "nan"], "--lr: must be a positive number"),
        (["--lr", "fast"], "--lr: expected a number"),
        (["--limit", "0"], "--limit: must be at least 1, got 0"),
        (["--seed", "-1"], "--seed: must be 0 or more"),
    ],
)
def test_train_cnn_rejects_bad_arguments_with_a_usage_message(argv, words, tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        _train_cnn().parse_args([*argv, "--out-dir", str(tmp_path)])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "usage:" in err and words in err and "Traceback" not in err


def test_train_cnn_checks_the_out_dir_before_training(tmp_path, capsys):
    module = _train_cnn()
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    for bad in (blocker, blocker / "runs"):
        with pytest.raises(SystemExit) as info:
            module.parse_args(["--out-dir", str(bad)])
        assert info.value.code == 2
        err = capsys.readouterr().err
        assert f"--out-dir: {bad}: cannot write there" in err
    new = tmp_path / "new" / "runs"
    args = module.parse_args(["--out-dir", str(new), "--epochs", "1", "--lr", "0.01",
                              "--limit", "5", "--batch-size", "3"])
    assert new.is_dir() and list(new.iterdir()) == []  # created, and the probe file is gone
    assert (args.epochs, args.lr, args.limit, args.batch_size) == (1, 0.01, 5, 3)


def test_train_cnn_uses_the_values_given_and_defaults_only_when_absent(tmp_path):
    module = _train_cnn()
    model = module.MODELS["lenet5"]()
    args = module.parse_args(["--out-dir", str(tmp_path), "--lr", "1e-4"])
    assert module.make_optimizer(model, args).param_groups[0]["lr"] == 1e-4
    args = module.parse_args(["--out-dir", str(tmp_path), "--optimizer", "adam"])
    assert module.make_optimizer(model, args).param_groups[0]["lr"] == 2e-3
    pytest.importorskip("sklearn")
    args = module.parse_args(["--out-dir", str(tmp_path), "--limit", "7"])
    assert len(module.load_data(args)[0]) == 7


def test_train_cnn_filter_plot_has_colour_bars(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    import numpy as np

    module = _train_cnn()
    bars = _count_colour_bars(monkeypatch)
    model = module.MODELS["lenet5"]()
    history = {k: [1.0, 0.5] for k in ("train_loss", "train_acc", "test_loss", "test_acc")}
    module.save_plots(model, history, np.zeros((1, 1, 32, 32), np.float32), tmp_path, "t")
    assert bars == ["weight", "response"]
    assert (tmp_path / "t_filters.png").is_file()


# -------------------------------------------------------------------- examples/train_lm.py


def _train_lm():
    return _load(EXAMPLES / "train_lm.py")


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--steps", "0"], "--steps: must be at least 1, got 0"),
        (["--steps", "many"], "--steps: expected a whole number, got 'many'"),
        (["--context", "1"], "--context: must be at least 2, got 1"),
        (["--batch-size", "0"], "--batch-size: must be at least 1"),
        (["--lr", "-1"], "--lr: must be a positive number, got -1"),
        (["--max-minutes", "0"], "--max-minutes: must be a positive number"),
        (["--temperature", "nan"], "--temperature: must be a positive number"),
        (["--arch", "gru"], "--arch: invalid choice: 'gru'"),
        (["--seed", "-3"], "--seed: must be 0 or more"),
    ],
)
def test_train_lm_rejects_bad_arguments_with_a_usage_message(argv, words, tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        _train_lm().parse_args([*argv, "--out-dir", str(tmp_path)])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "usage:" in err and words in err and "Traceback" not in err


def test_train_lm_corpus_is_the_stdlib_docstrings_with_a_fixed_split():
    module = _train_lm()
    train, val, found = module.load_corpus()
    assert found >= len(module.MODULES) - 10  # a few may be missing in other Python versions
    assert (train, val, found) == module.load_corpus()  # deterministic
    assert 0.05 < len(val) / (len(train) + len(val)) < 0.2
    assert set(train + val) <= {chr(c) for c in range(32, 127)} | {"\n"}
    assert "Command-line parsing library" in train  # argparse's module docstring, the first one
    idx = np.array([0, 0, 1, 1])
    assert module.unigram_bits(idx, idx, 2) == pytest.approx(1.0)
    # add-one smoothing keeps unseen characters finite
    assert np.isfinite(module.unigram_bits(np.array([0, 0]), np.array([1]), 2))


@pytest.mark.parametrize("arch", ["transformer", "lstm"])
def test_train_lm_runs_briefly_and_saves_its_checkpoint(arch, tmp_path, capsys):
    import json

    module = _train_lm()
    result = module.main(["--arch", arch, "--steps", "4", "--context", "16", "--batch-size", "4",
                          "--eval-every", "2", "--eval-windows", "4", "--sample-length", "20",
                          "--out-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert "unigram baseline (validation):" in out and "final validation loss" in out
    assert "bits/char" in out and "sample (temperature 0.8):" in out
    assert result["history"]["step"] == [2, 4] and result["steps"] == 4
    assert np.isfinite(result["val_bits"]) and 3.0 < result["baseline_bits"] < 6.0
    assert len(result["sample"]) == len(module.PROMPT) + 20
    saved = json.loads((tmp_path / f"lm_{arch}.json").read_text())
    assert saved["arch"] == arch and "".join(result["vocab"]) == saved["vocab"]
    model = module.make_model(arch, len(saved["vocab"]), saved["context"])
    model.load(tmp_path / f"lm_{arch}.npz")
    for a, b in zip(model.parameters(), result["model"].parameters()):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    if importlib.util.find_spec("matplotlib") is not None:
        assert (tmp_path / f"lm_{arch}_curves.png").is_file()
