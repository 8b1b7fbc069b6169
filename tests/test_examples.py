"""Every walk-through in examples/ runs headless in --fast mode and its own claims hold.

The scripts check their claims with assertions, so running them is the test. They run in-process
(importing each script's ``main(argv)``: one interpreter, Numba kernels compiled once), and one
of them also as a real subprocess, the way a reader runs it.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

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


@pytest.mark.parametrize("path", WALKTHROUGHS, ids=lambda p: p.stem)
def test_walkthrough_fast(path, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.syspath_prepend(str(EXAMPLES))
    module = _load(path)
    module.main(["--fast", "--out-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert "[checked]" in out
    written = {p.suffix for p in tmp_path.iterdir()}
    if path.name.startswith("01_"):
        assert ".dot" in written
    elif importlib.util.find_spec("matplotlib") is not None:
        assert ".png" in written, f"{path.name} wrote no picture"


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
