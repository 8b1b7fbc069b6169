"""CUDA kernels (minigrad/ops/kernels/cuda) against the CPU kernels, in a child process.

The CUDA simulator has to be selected (NUMBA_ENABLE_CUDASIM=1) before numba.cuda is first
imported, and this process runs CPU Numba for the rest of the suite, so every check runs in a
fresh interpreter: tests/_cuda_sim_checks.py does the comparisons and exits 0 when all agree.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.cuda

ROOT = Path(__file__).resolve().parent.parent
CHECKS = Path(__file__).with_name("_cuda_sim_checks.py")
SKIP = 77


def _run(args: list[str], *, simulator: bool, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    if simulator:
        env["NUMBA_ENABLE_CUDASIM"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return subprocess.run(args, env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def _assert_ok(r: subprocess.CompletedProcess) -> None:
    if r.returncode == SKIP:
        pytest.skip(r.stdout.strip() or "no CUDA device")
    assert r.returncode == 0, f"stdout:\n{r.stdout}\nstderr:\n{r.stderr[-4000:]}"


def test_cuda_kernels_match_cpu_under_simulator() -> None:
    # one child for all groups: each interpreter start re-imports numba (~4 s)
    _assert_ok(_run([sys.executable, str(CHECKS)], simulator=True))


@pytest.mark.skipif(os.environ.get("MINIGRAD_CUDA_REAL") != "1",
                    reason="set MINIGRAD_CUDA_REAL=1 on a machine with a GPU")
def test_cuda_kernels_match_cpu_on_real_gpu() -> None:
    _assert_ok(_run([sys.executable, str(CHECKS), "--real-gpu"], simulator=False))


def test_importing_cuda_kernels_compiles_nothing() -> None:
    code = (
        "import sys\n"
        "import minigrad.ops.kernels.cuda.conv, minigrad.ops.kernels.cuda.pool\n"
        "import minigrad.ops.kernels.cuda.activation, minigrad.ops.kernels.cuda.softmax\n"
        "import minigrad.ops.kernels.cuda.norm, minigrad.ops.kernels.cuda.dropout\n"
        "assert 'numba.cuda' not in sys.modules, 'numba.cuda imported at import time'\n"
    )
    r = _run([sys.executable, "-c", code], simulator=False)
    assert r.returncode == 0, r.stderr


def test_is_available_is_false_not_an_error_without_numba_cuda() -> None:
    code = (
        "import sys\n"
        "sys.modules['numba.cuda'] = None  # makes `from numba import cuda` fail\n"
        "from minigrad.ops.kernels.cuda import is_available\n"
        "assert is_available() is False\n"
    )
    r = _run([sys.executable, "-c", code], simulator=False)
    assert r.returncode == 0, r.stderr


def test_is_available_under_simulator() -> None:
    code = "from minigrad.ops.kernels.cuda import is_available\nassert is_available() is True\n"
    r = _run([sys.executable, "-c", code], simulator=True)
    assert r.returncode == 0, r.stderr
