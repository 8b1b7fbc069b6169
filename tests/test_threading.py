"""The Numba threading layer `import minigrad` selects (see minigrad/__init__.py), and parallel
kernels launched from several Python threads at once."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import minigrad  # noqa: F401  (selects the layer before the first parallel kernel)
from minigrad.ops.kernels.cpu import activation as K

_SNIPPET = """
import numpy as np, numba, minigrad
from minigrad.ops.kernels.cpu import activation as K
K.forward("relu", np.ones(K.PARALLEL_MIN_SIZE, np.float32))  # starts the layer
print(numba.threading_layer())
"""


def _layer(env_layer: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_THREADING_LAYER"}
    if env_layer is not None:
        env["NUMBA_THREADING_LAYER"] = env_layer
    out = subprocess.run([sys.executable, "-c", _SNIPPET], env=env, capture_output=True,
                         text=True, check=True, timeout=300)
    return out.stdout.split()[-1]


def _tbb_installed() -> bool:
    try:
        importlib.metadata.version("tbb")  # the package ships the library, no Python module
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def test_default_layer_is_tbb_when_installed_else_workqueue():
    assert _layer(None) == ("tbb" if _tbb_installed() else "workqueue")


def test_an_explicit_layer_is_respected():
    assert _layer("workqueue") == "workqueue"


def test_parallel_kernels_from_two_python_threads():
    import numba

    x = np.random.default_rng(0).standard_normal(4 * K.PARALLEL_MIN_SIZE).astype(np.float32)
    expected = K.forward("tanh", x)  # starts the threading layer
    if numba.threading_layer() == "workqueue":
        pytest.skip("workqueue (no tbb, or chosen by NUMBA_THREADING_LAYER) cannot run parallel "
                    "kernels from two threads at once")
    results: list[np.ndarray] = []

    def run() -> None:
        for _ in range(20):
            results.append(K.forward("tanh", x))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 40
    for r in results:
        np.testing.assert_array_equal(r, expected)
