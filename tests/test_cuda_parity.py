"""Registry-driven GPU parity: every registered op on the GPU against the same op on the CPU.

For each registry entry a couple of samples are drawn (few: the CUDA simulator runs every thread as
a Python thread), the op runs in float32 on CPU tensors and on the same inputs on the GPU, and the
test compares the forward outputs and the gradients of ``sum(out * cotangent)`` (a fixed random
cotangent, fed to ``backward`` directly) with respect to every differentiable input. The GPU side
runs under ``minigrad.cuda.strict(True)``, so an op that silently computes on the host (a NumPy
call on GPU arrays with no GPU implementation) fails with :class:`~minigrad.cuda.HostFallbackError`.

Nothing here names an op except the per-op overrides below: adding an op to the registry adds it
to this test. Dropout needs no special case: its registry entry draws the mask from a fixed host
generator, and the GPU path draws masks on the host too, so both devices see the same mask.

Runs under numba's CUDA simulator (tests/conftest.py) unless ``MINIGRAD_CUDA_REAL=1``.
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest
from hypothesis import given, reject, settings
from hypothesis import strategies as st

import minigrad as mg
import minigrad.cuda as mcuda
from minigrad.testing.opinfo import registry

pytestmark = pytest.mark.cuda

OPS = registry()

# Ops whose output stays on (or returns to) the host by design: the round trip host->GPU->host.
HOST_OUTPUT = {"to_device"}

# Ops whose forward has no GPU kernel (issue 14): it runs on the host, counted as a fallback
# (minigrad.cuda.fallback_counts()) and listed in the README's GPU section. Op name -> the NumPy
# functions allowed to fall back for it; the test runs these ops without strict mode, checks that
# only those fell back (and that something did: an op that gains a GPU kernel must leave this
# table), and compares the results as for every other op.
HOST_FALLBACK: dict[str, set[str]] = {
    "cumsum": {"cumsum"},
    "cumprod": {"cumprod", "cumsum"},
    "cummax": {"maximum.accumulate"},
    "cummin": {"minimum.accumulate", "maximum.accumulate"},
    "logcumsumexp": {"logaddexp.accumulate"},
    "sort": {"argsort"},
    "topk": {"argsort"},
    "kthvalue": {"argsort"},
    "median_dim": {"argsort"},
    "median": {"argsort"},
    "mode": {"mode"},
    "scatter_reduce_prod": {"multiply.at"},
    "scatter_reduce_amax": {"maximum.at"},
    "scatter_reduce_amin": {"minimum.at"},
    "inv": {"inv"},
    "det": {"det", "inv"},
    "solve": {"solve"},
    "cholesky": {"cholesky", "inv"},
}


def _fallback_name(key: str) -> str:
    """``"(<ufunc 'maximum'>, 'at')"`` -> ``"maximum.at"``; plain names unchanged."""
    if key.startswith("(<ufunc '"):
        ufunc, _, method = key[len("(<ufunc '"):].partition("'>, '")
        return f"{ufunc}.{method.rstrip(')').rstrip(chr(39))}"
    return key


# Per-op sample-size caps (max elements per input array) where the simulator makes the op slow.
# Samples above the cap are filtered out (the registry's strategies are left alone).
MAX_NUMEL: dict[str, int] = {}
DEFAULT_MAX_NUMEL = 10_000

# float32 parity tolerance (docs/GPU design): summation order differs between devices.
RTOL, ATOL = 1e-4, 1e-5


@pytest.fixture(scope="module", autouse=True)
def _need_cuda():
    if not mcuda.is_available():
        pytest.skip("CUDA (or its simulator) is not available")


def _inputs(sample, device):
    """Float arrays -> float32 tensors on ``device`` (requiring grad where the sample says);
    other arrays -> constant tensors on ``device``; plain values pass through."""
    diff = sample.differentiable_positions()
    args = []
    for i, a in enumerate(sample.args):
        if isinstance(a, np.ndarray):
            if np.issubdtype(a.dtype, np.floating):
                args.append(mg.tensor(a.astype(np.float32), requires_grad=i in diff,
                                      device=device))
            else:
                args.append(mg.tensor(a, device=device))
        else:
            args.append(a)
    return args


def _outputs(out):
    return list(out) if isinstance(out, tuple | list) else [out]


def _run(op, sample, device, cotangents):
    """(forward outputs as host arrays, gradients as host arrays, output devices, grad devices)."""
    args = _inputs(sample, device)
    leaves = [a for a in args if isinstance(a, mg.Tensor) and a.requires_grad]
    outs = _outputs(op.fn(*args, **sample.kwargs))
    # backward(outs, cotangents) = the gradient of sum(out * cotangent), without a reduction op
    # of our own in the graph (the op under test is the only thing that has to run on the GPU)
    roots = [(o, mg.tensor(c, device=o.device)) for o, c in zip(outs, cotangents)
             if isinstance(o, mg.Tensor) and o.requires_grad]
    if roots:
        mg.autograd.backward([o for o, _ in roots], [c for _, c in roots])
    fwd = [o.numpy() if isinstance(o, mg.Tensor) else np.asarray(o) for o in outs]
    out_devs = [o.device if isinstance(o, mg.Tensor) else "cpu" for o in outs]
    grads = [None if t.grad is None else t.grad.numpy() for t in leaves]
    grad_devs = [None if t.grad is None else t.grad.device for t in leaves]
    return fwd, grads, out_devs, grad_devs


def _close(actual, expected, what):
    expected = np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    assert actual.dtype == expected.dtype, f"{what}: dtype {actual.dtype} != {expected.dtype}"
    if not np.issubdtype(expected.dtype, np.inexact):
        np.testing.assert_array_equal(actual, expected, err_msg=what)
        return
    finite = expected[np.isfinite(expected)]
    scale = max(1.0, float(np.abs(finite).max())) if finite.size else 1.0
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=ATOL * scale, err_msg=what)


def _small(op):
    cap = MAX_NUMEL.get(op.name, DEFAULT_MAX_NUMEL)
    return op.strategy().filter(
        lambda s: all(a.size <= cap for a in s.args if isinstance(a, np.ndarray)))


@pytest.mark.parametrize("op", OPS, ids=[o.name for o in OPS])
@settings(max_examples=2, derandomize=True, database=None, deadline=None)
@given(data=st.data())
def test_gpu_matches_cpu(op, data):
    sample = data.draw(_small(op), label="sample")
    if any(isinstance(a, np.ndarray) and a.size == 0 for a in sample.args):
        reject()
    # the same fixed cotangents on both devices, drawn from the op's name
    rng = np.random.default_rng(zlib.crc32(op.name.encode()))
    with mg.no_grad():
        probe = _outputs(op.fn(*_inputs(sample, "cpu"), **sample.kwargs))
    cots = [rng.uniform(-1, 1, np.shape(o)).astype(np.float32) for o in probe]

    cpu_fwd, cpu_grads, _, _ = _run(op, sample, "cpu", cots)
    allowed = HOST_FALLBACK.get(op.name)
    prev = mcuda.strict(allowed is None)
    mcuda.reset_fallback_counts()
    try:
        gpu_fwd, gpu_grads, out_devs, grad_devs = _run(op, sample, "cuda", cots)
    finally:
        mcuda.strict(prev)
    if allowed is not None:
        fell = {_fallback_name(k) for k in mcuda.fallback_counts()}
        assert fell and fell <= allowed, f"{op.name}: host fallbacks {fell}, allowed {allowed}"

    if op.name not in HOST_OUTPUT:
        assert all(d == "cuda" for d in out_devs), f"{op.name}: outputs on {out_devs}"
        assert all(d in (None, "cuda") for d in grad_devs), f"{op.name}: grads on {grad_devs}"
    for i, (g, c) in enumerate(zip(gpu_fwd, cpu_fwd)):
        _close(g, c, f"{op.name}: forward output {i}")
    for i, (g, c) in enumerate(zip(gpu_grads, cpu_grads)):
        assert (g is None) == (c is None), f"{op.name}: gradient {i} is None on one device only"
        if c is not None:
            _close(g, c, f"{op.name}: gradient of input {i}")
