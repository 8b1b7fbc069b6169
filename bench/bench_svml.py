"""Numba's own float32 ``math.exp``/``expm1``/``tanh``/``erfc`` against minigrad's hand-written
ones (``minigrad/ops/kernels/cpu/f32math.py``): speed of a loop over a float32 array, accuracy in
ulps against float64, and whether Numba is using Intel's SVML.

Numba vectorises ``math.exp`` and friends through SVML only when both the SVML library
(``intel-cmplr-lib-rt``) is loadable and llvmlite's LLVM carries Intel's SVML patch; the report
starts with both facts (``numba -s`` gives the same). Where SVML is not operational, Numba's
``math`` functions are libm calls, one element at a time; the machine code of each loop is
searched for SVML calls (``__svml_``) and vector math to show which one ran.

    python bench/bench_svml.py
    LD_LIBRARY_PATH=/path/to/intel_cmplr_lib_rt/lib python bench/bench_svml.py
"""

from __future__ import annotations

import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import llvmlite.binding as llvm  # noqa: E402
import numba  # noqa: E402
from numba import njit  # noqa: E402

from minigrad.ops.kernels.cpu.f32math import (  # noqa: E402
    exp_nonpos_f32,
    expm1_f32,
    gelu_parts_f32,
    tanh_f32,
)

_f = np.float32
_INV_SQRT2 = _f(1 / math.sqrt(2))
_HALF = _f(0.5)


def _loop(scalar):
    """A serial jitted ``out[i] = scalar(x[i])`` over float32 arrays."""

    def run(x, out):
        for i in range(x.size):
            out[i] = scalar(x[i])

    return njit(error_model="numpy")(run)


@njit(inline="always")
def _libm_exp(x):
    return math.exp(x)


@njit(inline="always")
def _libm_expm1(x):
    return math.expm1(x)


@njit(inline="always")
def _libm_tanh(x):
    return math.tanh(x)


@njit(inline="always")
def _libm_phi(x):
    return _HALF * math.erfc(-x * _INV_SQRT2)


@njit(inline="always")
def _our_phi(x):
    return gelu_parts_f32(x)[0]


def _phi64(x: np.ndarray) -> np.ndarray:
    from math import erfc

    return np.array([0.5 * erfc(-v / math.sqrt(2)) for v in x.tolist()])


# name, libm scalar, ours, input range, float64 reference
CASES = [
    ("exp (x <= 0)", _libm_exp, exp_nonpos_f32, (-87.0, 0.0), np.exp),
    ("expm1", _libm_expm1, expm1_f32, (-20.0, 20.0), np.expm1),
    ("tanh", _libm_tanh, tanh_f32, (-10.0, 10.0), np.tanh),
    ("Phi (via erfc)", _libm_phi, _our_phi, (-13.0, 6.0), _phi64),
]


def _ulps(got: np.ndarray, exact: np.ndarray) -> float:
    """Largest error in float32 ulps of the exact value (subnormal spacing below normals)."""
    spacing = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
    spacing = np.maximum(spacing, np.float64(np.finfo(np.float32).smallest_subnormal))
    return float(np.max(np.abs(got.astype(np.float64) - exact) / spacing))


def _vector_ops(asm: str) -> int:
    """Packed float32 instructions on 256- or 512-bit registers in ``asm``: 0 for a loop that
    runs one element at a time."""
    count = 0
    for line in asm.splitlines():
        words = line.split()
        if words and words[0].endswith("ps") and ("ymm" in line or "zmm" in line):
            count += 1
    return count


def _median_ms(fn, x, out, calls: int) -> float:
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        fn(x, out)
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def main() -> None:
    print(f"numba {numba.__version__}, llvmlite {llvm.llvm_version_info}")
    print(f"SVML library loaded and used (numba.config.USING_SVML): {numba.config.USING_SVML}")
    print(f"llvmlite's LLVM has the SVML patch (has_svml): {llvm.targets.has_svml()}")
    n, calls = 1 << 20, 25
    rng = np.random.default_rng(0)
    print(f"\nserial loop over {n} float32, median of {calls} calls, interleaved; "
          "max error in ulps against float64 over the range")
    print(f"{'function':16} {'range':>14} {'libm ms':>8} {'ours ms':>8} {'libm/ours':>9} "
          f"{'libm ulp':>8} {'ours ulp':>8} {'svml calls':>10} {'vector ops (libm/ours)':>22}")
    for name, libm, ours, (lo, hi), ref in CASES:
        x = rng.uniform(lo, hi, n).astype(np.float32)
        out = np.empty_like(x)
        a, b = _loop(libm), _loop(ours)
        a(x, out)
        got_a = out.copy()
        b(x, out)
        got_b = out.copy()
        ta, tb = [], []
        for _ in range(5):  # alternate the two so they see the same load
            ta.append(_median_ms(a, x, out, calls // 5))
            tb.append(_median_ms(b, x, out, calls // 5))
        step = n // 200_000  # the float64 reference on a subsample (Phi's is a Python loop)
        exact = ref(x[::step].astype(np.float64))
        ua, ub = _ulps(got_a[::step], exact), _ulps(got_b[::step], exact)
        asm_a, asm_b = a.inspect_asm(a.signatures[0]), b.inspect_asm(b.signatures[0])
        svml = asm_a.count("__svml_")

        print(f"{name:16} {f'[{lo:g}, {hi:g}]':>14} {statistics.median(ta):8.2f} "
              f"{statistics.median(tb):8.2f} {statistics.median(ta) / statistics.median(tb):9.2f} "
              f"{ua:8.2f} {ub:8.2f} {svml:10d} {f'{_vector_ops(asm_a)}/{_vector_ops(asm_b)}':>22}")


if __name__ == "__main__":
    main()
