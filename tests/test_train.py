"""The main job end to end: a short LeNet-5 training run on the bundled digits."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

import minigrad as mg

pytest.importorskip("sklearn", reason="the digits data set comes with scikit-learn")

ROOT = Path(__file__).resolve().parents[1]


def _train_module():
    spec = importlib.util.spec_from_file_location("train_cnn", ROOT / "examples" / "train_cnn.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["train_cnn"] = mod
    spec.loader.exec_module(mod)
    return mod


def test_short_training_run_on_digits_reaches_90_percent(tmp_path):
    train_cnn = _train_module()
    args = train_cnn.parse_args(["--epochs", "5", "--out-dir", str(tmp_path), "--no-plots"])
    result = train_cnn.train(args)
    assert result["test_acc"] >= 0.90, result["history"]
    losses = result["history"]["train_loss"]
    assert losses[-1] < losses[0]
    # the checkpoint loads back into a fresh model and predicts identically
    ckpt = tmp_path / "lenet5_digits.npz"
    model = result["model"]
    fresh = mg.nn.models.LeNet5(num_classes=10, in_channels=1)
    fresh.load(ckpt)
    x = mg.randn(4, 1, 32, 32)
    model.eval()
    fresh.eval()
    with mg.no_grad():
        np.testing.assert_array_equal(model(x).numpy(), fresh(x).numpy())


def test_missing_mnist_dir_gives_a_clear_message(tmp_path):
    train_cnn = _train_module()
    args = train_cnn.parse_args(["--data-dir", str(tmp_path / "nope"), "--epochs", "1",
                                 "--out-dir", str(tmp_path / "runs")])  # not in the cwd
    with pytest.raises(SystemExit, match="t10k-images"):
        train_cnn.train(args)
