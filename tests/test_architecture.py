"""The layering rules of pyproject.toml's import-linter contracts: imports point one way
(testing -> distributed -> nn/optim/data -> ... -> ops -> tensor/autograd -> cuda storage), and the
kernels compute on arrays without knowing Tensor. The check runs import-linter on the package; a
second test plants an upward import in a copy to show the contract can fail."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("importlinter")

ROOT = Path(__file__).resolve().parents[1]


def _lint(project: Path) -> subprocess.CompletedProcess[str]:
    code = ("import sys; from importlinter.cli import lint_imports; "
            "sys.exit(lint_imports(config_filename='pyproject.toml', no_cache=True, no_logo=True))")
    env = {**os.environ, "PYTHONPATH": str(project)}
    return subprocess.run([sys.executable, "-c", code], cwd=project, env=env,
                          capture_output=True, text=True, timeout=300)


def _copy_project(dst: Path) -> Path:
    shutil.copy(ROOT / "pyproject.toml", dst / "pyproject.toml")
    shutil.copytree(ROOT / "minigrad", dst / "minigrad",
                    ignore=shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc"))
    return dst


def test_import_contracts_hold() -> None:
    run = _lint(ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 kept, 0 broken" in run.stdout, run.stdout


@pytest.mark.parametrize("module, planted, expect", [
    # the bottom layer (GPU storage) reaching up to the layers
    ("minigrad/cuda/array.py", "import minigrad.nn.functional", "minigrad.cuda is not allowed"),
    # Tensor importing the ops that import it
    ("minigrad/tensor.py", "from minigrad.ops import shape", "minigrad.tensor is not allowed"),
    # a kernel reaching for Tensor
    ("minigrad/ops/kernels/cpu/pool.py", "from minigrad.tensor import Tensor",
     "minigrad.ops.kernels"),
])
def test_planted_upward_import_breaks_the_contract(tmp_path: Path, module: str, planted: str,
                                                    expect: str) -> None:
    project = _copy_project(tmp_path)
    path = project / module
    path.write_text(path.read_text() + f"\n{planted}  # planted\n")
    run = _lint(project)
    assert run.returncode != 0, run.stdout
    assert expect in run.stdout, run.stdout
