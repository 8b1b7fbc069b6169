"""``python -m minigrad.info``: what a bug report needs about this installation.

Prints versions, Numba's threading layer (the one in use, and the one minigrad intends), the BLAS
NumPy uses and its threads, the CPU and its vector features, where Numba caches compiled kernels,
and whether a GPU can be used. ``--check`` exits with status 1 when the threading layer in use is
not the intended one (CI runs it, so a fresh install that silently lost TBB fails there).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import platform
import sys
from typing import Any

__all__ = ["collect", "main"]

_PACKAGES = ("numpy", "numba", "llvmlite", "tbb", "numba-cuda", "threadpoolctl", "scipy",
             "hypothesis", "scikit-learn", "mpi4py", "torch")
_ENV = ("NUMBA_THREADING_LAYER", "NUMBA_NUM_THREADS", "NUMBA_CACHE_DIR", "NUMBA_ENABLE_CUDASIM",
        "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_CORETYPE",
        "OPENBLAS_L2_SIZE", "LD_LIBRARY_PATH")


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _blas() -> list[str]:
    """NumPy's BLAS as built, and at run time (library, threads, as threadpoolctl finds them)."""
    import numpy as np

    lines = []
    try:
        cfg = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        lines.append(f"built against {cfg.get('name')} {cfg.get('version', '')}".rstrip())
    except Exception:  # noqa: BLE001 - show_config's layout differs between NumPy versions
        lines.append("built against: unknown")
    from threadpoolctl import threadpool_info

    for pool in threadpool_info():
        lines.append(f"{pool.get('internal_api')} {pool.get('version')} "
                     f"({pool.get('threading_layer', '?')} threads): "
                     f"{pool.get('num_threads')} threads, {pool.get('filepath')}")
    return lines


def _cpu() -> dict[str, str]:
    from llvmlite import binding as llvm

    features = llvm.get_host_cpu_features().flatten().split(",")
    prefixes = ("avx", "sse4", "fma", "neon", "sve")
    vector = sorted(f[1:] for f in features if f.startswith("+") and f[1:].startswith(prefixes))
    model = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as fh:
            model = next((ln.split(":", 1)[1].strip() for ln in fh
                          if ln.startswith("model name")), model)
    except OSError:
        pass
    return {"model": model, "llvm cpu": llvm.get_host_cpu_name(),
            "vector features": " ".join(vector) or "none", "cores": str(os.cpu_count())}


def _cuda() -> str:
    from minigrad import cuda

    try:
        ok = cuda.is_available()
    except Exception as e:  # noqa: BLE001 - report, don't fail, in a bug-report tool
        return f"error: {type(e).__name__}: {e}"
    if not ok:
        return "not available"
    kind = "simulator (NUMBA_ENABLE_CUDASIM=1)" if cuda.is_simulator() else "GPU"
    return f"available: {kind}, {cuda.device_count()} device(s)"


def collect() -> dict[str, Any]:
    """The report as a dict of sections (what ``main`` prints)."""
    import numba

    import minigrad
    from minigrad import _threading

    cache = numba.config.CACHE_DIR or "beside each kernel's source, in __pycache__/ under " + \
        os.path.dirname(minigrad.__file__)
    return {
        "minigrad": {"version": minigrad.__version__, "path": os.path.dirname(minigrad.__file__)},
        "python": {"version": sys.version.split()[0], "executable": sys.executable,
                   "platform": platform.platform()},
        "packages": {p: _version(p) for p in _PACKAGES},
        "threading": {
            "layer in use": _threading.current_layer(start=True),
            "intended layer": _threading.intended_layer(),
            "TBB library": _threading.tbb_library() or "not found",
            "numba threads": str(numba.config.NUMBA_NUM_THREADS),
        },
        "blas": _blas(),
        "cpu": _cpu(),
        "numba": {"cache dir": cache, "SVML": str(bool(numba.config.USING_SVML))},
        "cuda": _cuda(),
        "environment": {k: os.environ[k] for k in _ENV if k in os.environ} or "none set",
    }


def _print(report: dict[str, Any]) -> None:
    for section, body in report.items():
        if isinstance(body, dict):
            print(f"{section}:")
            for k, v in body.items():
                print(f"  {k}: {v}")
        elif isinstance(body, list):
            print(f"{section}:")
            for v in body:
                print(f"  {v}")
        else:
            print(f"{section}: {body}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m minigrad.info", description=__doc__.split(
        "\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="exit 1 when Numba's threading layer is not the intended one")
    args = parser.parse_args(argv)
    report = collect()
    _print(report)
    used, wanted = report["threading"]["layer in use"], report["threading"]["intended layer"]
    if args.check and used != wanted:
        print(f"\nFAIL: Numba runs on the {used!r} threading layer, minigrad intends {wanted!r} "
              f"(TBB library: {report['threading']['TBB library']})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
