"""CPU and GPU activation kernels agree element by element: far tails, inf and NaN included.

Both devices compile the same scalar functions (``minigrad/ops/kernels/scalar.py``) with different
maths underneath (float32 polynomials on the CPU, libm on the GPU), so they must agree to a few
ulp of that maths everywhere, relative to each value: where a stable form matters (sigmoid's
lower tail, gelu's ``x * sigmoid(2u)`` instead of ``0.5 x (1 + tanh(u))`` for x << 0) a copy that
cancels gives 0 or a wrong tiny number, which a tolerance relative to the largest value would not
see. Runs in numba's CUDA simulator (tests/conftest.py) or on a real GPU.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import minigrad.cuda as mcuda
from minigrad.ops.activation import SELU_ALPHA, SELU_SCALE
from minigrad.ops.kernels.cpu import activation as C

pytestmark = pytest.mark.cuda

# (name, a, b): every activation, with the parameters the public functions pass
RUNS = [
    ("relu", 0.0, 0.0), ("leaky_relu", 0.1, 0.0), ("elu", 1.3, 1.0),
    ("elu", SELU_ALPHA, SELU_SCALE), ("sigmoid", 0.0, 0.0), ("tanh", 0.0, 0.0),
    ("silu", 0.0, 0.0), ("gelu", 0.0, 0.0), ("gelu_tanh", 0.0, 0.0), ("softplus", 1.5, 20.0),
    ("softplus", 1.0, np.inf), ("hardtanh", -1.0, 1.0),
]
# relative agreement: a few ulp of the maths, times the argument magnification of exp(u) for
# |u| up to ~100 (float32) / ~700 (float64)
RTOL = {np.float32: 2e-5, np.float64: 1e-12}


@pytest.fixture(scope="module")
def G():
    if not mcuda.is_available():
        pytest.skip("CUDA (or its simulator) is not available")
    from minigrad.ops.kernels.cuda import activation

    return activation


def _inputs(dtype) -> np.ndarray:
    x = np.concatenate([np.linspace(-30, 30, 481), [np.inf, -np.inf, np.nan, 0.0, -0.0, 1e-30,
                                                    -1e-30]])
    return x.astype(dtype)


def _agree(what: str, x: np.ndarray, got, ref: np.ndarray, absolute: bool = False) -> None:
    got = got.copy_to_host() if hasattr(got, "copy_to_host") else np.asarray(got)
    assert got.shape == ref.shape and got.dtype == ref.dtype, what
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref), err_msg=f"{what}: NaN positions")
    inf = np.isinf(ref)
    np.testing.assert_array_equal(got[inf], ref[inf], err_msg=f"{what}: infinities")
    fin = np.isfinite(ref)
    assert np.isfinite(got[fin]).all(), f"{what}: non-finite where the CPU is finite"
    info = np.finfo(ref.dtype)
    # Near 0 the derivatives of gelu, gelu_tanh and silu cross zero as a difference of terms of
    # size ~0.2: agreement there is absolute (a few ulp of those terms). Elsewhere it is
    # relative, down to a few subnormal ulps. ``absolute``: everywhere (a derivative computed
    # from the output, 1 - y^2 or y(1 - y), cancels as y -> 1 on both devices).
    near = np.abs(x) <= 3 if not absolute else np.ones(x.shape, bool)
    atol = np.where(near, 64 * info.eps, 64 * info.smallest_subnormal)[fin]
    g, r = got[fin].astype(np.float64), ref[fin].astype(np.float64)
    bound = RTOL[ref.dtype.type] * np.abs(r) + atol
    bad = np.abs(g - r) > bound
    assert not bad.any(), (
        f"{what}: {bad.sum()} values differ, e.g. x = {x[fin][bad][:4]}: "
        f"GPU {g[bad][:4]} vs CPU {r[bad][:4]}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("name", "a", "b"), RUNS, ids=[f"{n}({a:.3g},{b})" for n, a, b in RUNS])
def test_cpu_and_gpu_activations_agree_in_the_tails(G, name, a, b, dtype):
    x = _inputs(dtype)
    gy = np.random.default_rng(0).uniform(0.5, 2.0, x.shape).astype(dtype)
    with warnings.catch_warnings():
        # the simulator runs device code as NumPy scalars, which warn on inf - inf and overflow
        warnings.simplefilter("ignore", RuntimeWarning)
        y = C.forward(name, x, a, b)
        _agree(f"{name} forward", x, G.forward(name, x, a, b), y)
        _agree(f"{name} backward", x, G.backward(name, gy, x, a, b), C.backward(name, gy, x, a, b))
        if name in C.FROM_OUTPUT:
            _agree(f"{name} backward from the output", x, G.backward_from_output(name, gy, y, a, b),
                   C.backward_from_output(name, gy, y, a, b), absolute=True)


def test_both_devices_serve_the_same_activations(G):
    assert G.ACTIVATIONS is C.ACTIVATIONS and G.FROM_OUTPUT is C.FROM_OUTPUT
    assert sorted({n for n, _, _ in RUNS}) == sorted(C.ACTIVATIONS)
