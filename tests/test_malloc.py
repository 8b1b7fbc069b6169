"""``import minigrad`` keeps freed array buffers in the process on glibc (minigrad/_malloc.py):
measured by the page faults of a loop that frees and reallocates 1 MiB arrays, in a fresh
interpreter each, with and without minigrad's settings."""

import os
import subprocess
import sys

import pytest

from minigrad import _malloc

_LOOP = r"""
import os, resource, sys
import numpy as np
applied = None
if sys.argv[1] == "minigrad":
    import minigrad
    applied = minigrad._malloc._applied
# a step that frees and reallocates arrays of a few sizes (1 MiB to 3 MiB), as training does
sizes = [1 << 18, 3 << 18, 1 << 19, 5 << 17]
for _ in range(3):
    arrays = [np.ones(n, np.float32) for n in sizes]
    del arrays
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(50):
    arrays = [np.ones(n, np.float32) for n in sizes]
    del arrays
print(applied, (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 50)
"""


def _faults_per_step(mode: str, **env: str) -> tuple[str, float]:
    clean = {k: v for k, v in os.environ.items()
             if k not in _malloc._USER_KNOBS and k != "MINIGRAD_MALLOC"}
    out = subprocess.run([sys.executable, "-c", _LOOP, mode], env={**clean, **env},
                         capture_output=True, text=True, timeout=120, check=True)
    applied, faults = out.stdout.strip().splitlines()[-1].rsplit(" ", 1)
    return applied, float(faults)


def _plain_faults() -> float:
    """The loop's page faults per step without minigrad; skips the test where this system's
    allocator does not re-fault freed buffers anyway (another glibc, transparent huge pages
    set to ``always``), since there is nothing for minigrad's settings to change there."""
    _, plain = _faults_per_step("numpy")
    if plain < 100:
        pytest.skip(f"the loop does not re-fault its buffers here ({plain}/step without minigrad)")
    return plain


@pytest.mark.skipif(_malloc._glibc_mallopt() is None, reason="glibc only")
def test_freed_buffers_are_reused_without_page_faults():
    plain = _plain_faults()
    applied, tuned = _faults_per_step("minigrad")
    assert applied == "[True]"
    # 4 arrays of 1-3 MiB re-faulted every step are ~1700 faults of 4 KiB pages; reused ones ~0
    assert tuned < min(10, plain / 10), (
        f"{tuned} page faults per step with minigrad's malloc settings ({plain} without)")


@pytest.mark.skipif(_malloc._glibc_mallopt() is None, reason="glibc only")
@pytest.mark.parametrize("env", [{"MINIGRAD_MALLOC": "default"},
                                 {"MALLOC_TRIM_THRESHOLD_": "1000000"}])
def test_the_user_can_keep_glibc_defaults_or_set_their_own(env):
    plain = _plain_faults()
    applied, faults = _faults_per_step("minigrad", **env)
    assert applied == "[False]"
    assert faults > plain / 2, f"{faults} page faults per step against {plain} without minigrad"
