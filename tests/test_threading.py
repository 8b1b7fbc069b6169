"""The Numba threading layer `import minigrad` selects (see minigrad/_threading.py), that TBB loads
in a plain venv with no environment variable, `python -m minigrad.info`, and parallel kernels
launched from several Python threads at once."""

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
    # No NUMBA_THREADING_LAYER, and no LD_LIBRARY_PATH that could hide a missing install step
    # (the tbb wheel's library is not on the loader's default path; minigrad must find it).
    env = {k: v for k, v in os.environ.items()
           if k not in ("NUMBA_THREADING_LAYER", "LD_LIBRARY_PATH")}
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


def test_tbb_is_installed_where_it_is_a_dependency():
    from minigrad import _threading

    if _threading._tbb_is_a_dependency():
        assert _tbb_installed(), "tbb is a dependency on x86-64 but is not installed"
        assert _threading.tbb_library() is not None
        assert _threading.intended_layer() == "tbb"


def test_missing_tbb_warns_once_in_one_line(monkeypatch):
    from minigrad import _threading

    monkeypatch.setattr(_threading, "_TBB_NAME", "libminigrad-no-such-tbb.so.99")
    monkeypatch.setattr(_threading, "_loaded", [])
    monkeypatch.delenv("NUMBA_THREADING_LAYER", raising=False)
    monkeypatch.setattr(_threading, "_tbb_is_a_dependency", lambda: True)
    assert _threading.tbb_library() is None
    with pytest.warns(RuntimeWarning, match="workqueue") as record:
        _threading.configure()
    assert len(record) == 1 and "\n" not in str(record[0].message)
    monkeypatch.setattr(_threading, "_tbb_is_a_dependency", lambda: False)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _threading.configure()  # not a dependency here: TBB's absence is expected, no warning


def test_info_reports_and_checks_the_layer(monkeypatch, capsys):
    from minigrad import _threading, info

    assert info.main(["--check"]) == 0
    out = capsys.readouterr().out
    for needle in ("layer in use", "numba:", "blas:", "cpu:", "cuda:", "cache dir"):
        assert needle in out
    monkeypatch.setattr(_threading, "current_layer", lambda start=True: "omp")
    monkeypatch.setattr(_threading, "intended_layer", lambda: "tbb")
    assert info.main(["--check"]) == 1
    assert "FAIL" in capsys.readouterr().err
    assert info.main([]) == 0  # without --check a mismatch is reported, not fatal


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
