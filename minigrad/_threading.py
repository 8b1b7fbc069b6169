"""Numba's threading layer: which one minigrad asks for, and making the TBB layer loadable.

minigrad's parallel kernels (``prange``) run on Numba's threading layer. We prefer TBB, then
workqueue, and never OpenMP first, unless the user chose one with ``NUMBA_THREADING_LAYER``:

- A parallel launch costs about 1.5 us under TBB against about 150 us under workqueue, whose
  threads sleep between kernels; a LeNet-5 training step at batch 64 is made of dozens of small
  kernels, so the layer alone moved it from 0.66x to 0.95x PyTorch's speed.
- OpenMP's threads keep spinning after a kernel and fight OpenBLAS's threads (the conv GEMMs)
  for the cores: the main job took 3-4x longer under it.
- TBB is the layer Numba documents as thread- and fork-safe (workqueue aborts when kernels are
  launched from two Python threads at once).

The ``tbb`` wheel (a dependency on x86-64) installs ``libtbb.so.12`` into ``<prefix>/lib`` -- a
venv's ``lib/``, ``~/.local/lib`` for ``pip install --user``, a conda env's ``lib/`` -- which is
not on the dynamic loader's search path. Numba's ``tbbpool`` extension then fails to import and
Numba silently falls back to workqueue. :func:`configure` (run when this module is imported,
which ``import minigrad`` does first) therefore loads the wheel's library by
absolute path (found through the installed distribution's file list) before Numba picks a layer;
the loader resolves ``tbbpool``'s dependency by soname to that already-loaded copy, so no
environment variable is needed. When TBB truly is not there it warns once, in one line.
"""

from __future__ import annotations

import ctypes
import importlib.metadata
import os
import platform
import sys
import warnings
from pathlib import Path

import numba
import numpy as np

__all__ = ["configure", "intended_layer", "tbb_library", "current_layer"]

PRIORITY = ["tbb", "workqueue", "omp"]

if sys.platform == "win32":
    _TBB_NAME = "tbb12.dll"
elif sys.platform == "darwin":
    _TBB_NAME = "libtbb.12.dylib"
else:
    _TBB_NAME = "libtbb.so.12"

_loaded: list[str | None] = []  # the path configure() loaded TBB from (one entry once it ran)


def _tbb_is_a_dependency() -> bool:
    """Whether ``pyproject.toml`` declares ``tbb`` on this platform (its wheels are x86-64 only)."""
    return platform.machine().lower() in ("x86_64", "amd64")


def _candidates() -> list[Path]:
    """Where an installed ``tbb`` wheel may have put its library, most specific first."""
    paths: list[Path] = []
    try:
        dist = importlib.metadata.distribution("tbb")
    except importlib.metadata.PackageNotFoundError:
        dist = None
    if dist is not None:
        for f in dist.files or ():
            if f.name == _TBB_NAME:
                paths.append(Path(str(dist.locate_file(f))).resolve())
    prefixes = [sys.prefix, os.environ.get("CONDA_PREFIX")]
    try:
        import site

        prefixes.append(site.getuserbase())
    except Exception:  # noqa: BLE001 - site may be stripped down in embedded interpreters
        pass
    for p in prefixes:
        if p:
            paths.append(Path(p) / ("Library/bin" if sys.platform == "win32" else "lib")
                         / _TBB_NAME)
    return paths


def tbb_library() -> str | None:
    """Load TBB's runtime library so Numba's ``tbbpool`` can link to it; return where it was
    found (``"system"`` when the loader found it alone), or None when it is not installed."""
    if _loaded:
        return _loaded[0]
    mode = getattr(ctypes, "RTLD_GLOBAL", 0)
    found: str | None = None
    try:
        ctypes.CDLL(_TBB_NAME, mode=mode)
        found = "system"
    except OSError:
        for path in _candidates():
            if path.is_file():
                try:
                    ctypes.CDLL(str(path), mode=mode)
                except OSError:
                    continue
                found = str(path)
                break
    _loaded.append(found)
    return found


def intended_layer() -> str:
    """The layer minigrad should end up on here: the user's ``NUMBA_THREADING_LAYER`` if set to
    a concrete layer, else ``tbb`` where TBB is installed (always on x86-64, where it is a
    dependency), else ``workqueue``."""
    chosen = os.environ.get("NUMBA_THREADING_LAYER", "").strip().lower()
    if chosen in ("tbb", "omp", "workqueue"):
        return chosen
    return "tbb" if (tbb_library() is not None or _tbb_is_a_dependency()) else "workqueue"


def configure() -> None:
    """Make TBB loadable and set Numba's layer priority (TBB, workqueue, OpenMP) unless
    ``NUMBA_THREADING_LAYER`` is set. Called once by ``import minigrad``, before any kernel runs.
    """
    found = tbb_library()
    if "NUMBA_THREADING_LAYER" not in os.environ:
        numba.config.THREADING_LAYER_PRIORITY = list(PRIORITY)
        if found is None and _tbb_is_a_dependency():
            warnings.warn(
                f"minigrad: TBB ({_TBB_NAME}) not found, so Numba's parallel kernels run on the "
                "slower workqueue layer; `pip install tbb` fixes it",
                RuntimeWarning,
                stacklevel=3,
            )


def current_layer(start: bool = True) -> str | None:
    """The threading layer Numba is using. Numba picks it when the first parallel kernel runs;
    with ``start=True`` a tiny one is run if none has, else None is returned then."""

    try:
        return numba.threading_layer()
    except ValueError:
        if not start:
            return None
    _start_threads()
    return numba.threading_layer()


@numba.njit(parallel=True, cache=True)
def _touch(a: np.ndarray) -> None:  # pragma: no cover - compiled
    for i in numba.prange(a.size):
        a[i] = i


def _start_threads() -> None:
    """Run a tiny parallel kernel so that Numba loads its threading layer."""
    _touch(np.empty(4, np.int64))


configure()
