"""The kernel ops on GPU tensors against the same ops on CPU tensors.

Every op routed to a numba.cuda kernel (convolutions, pooling, activations, softmax, losses, batch
norm, dropout) runs on the same inputs on both devices; forward outputs and the gradients of
``sum(out * cotangent)`` must agree to float32 tolerance (summation orders differ), and the GPU
side runs under ``minigrad.cuda.strict(True)``, so any NumPy call that would silently compute on
the host fails the test. The CPU ops are themselves tested against NumPy-loop references and
finite differences, so agreement here is the GPU paths' correctness check. Results and gradients
must stay on the device.

Tiny shapes: under numba's CUDA simulator (tests/conftest.py) every GPU thread is a Python
thread. ``MINIGRAD_CUDA_REAL=1 python -m pytest -m cuda tests/test_cuda_ops.py`` runs the same
tests on a real GPU.
"""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
import minigrad.cuda as mcuda
from minigrad.ops import activation as A
from minigrad.ops import conv as C
from minigrad.ops import dropout as D
from minigrad.ops import loss as L
from minigrad.ops import normalization as N
from minigrad.ops import pool as P
from minigrad.ops import softmax as SM

pytestmark = pytest.mark.cuda

RTOL = {np.float32: 1e-4, np.float64: 1e-10}


@pytest.fixture(scope="module", autouse=True)
def _need_cuda():
    if not mcuda.is_available():
        pytest.skip("CUDA (or its simulator) is not available")


@pytest.fixture(autouse=True)
def _strict():
    prev = mcuda.strict(True)
    yield
    mcuda.strict(prev)


def _close(what, got, ref, dtype):
    assert got.shape == ref.shape and got.dtype == ref.dtype, (
        f"{what}: {got.shape} {got.dtype} vs {ref.shape} {ref.dtype}")
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref), err_msg=f"{what}: NaN positions")
    fin = np.isfinite(ref)
    scale = 1.0 + (np.abs(ref[fin]).max() if fin.any() else 0.0)
    err = np.abs(got[fin].astype(np.float64) - ref[fin]).max() if fin.any() else 0.0
    assert err <= RTOL[dtype] * scale, f"{what}: max error {err:.3g} (scale {scale:.3g})"


def _run(fn, arrays, device, grad, seed):
    """(outputs, gradients) as host arrays; asserts GPU results stay CudaArrays."""
    ts = [mg.tensor(a, requires_grad=grad and np.issubdtype(a.dtype, np.floating),
                    device=device) for a in arrays]
    mg.manual_seed(seed)
    out = fn(*ts)
    outs = list(out) if isinstance(out, tuple) else [out]
    if device == "cuda":
        for o in outs:
            assert o.is_cuda and type(o.data) is mcuda.CudaArray, "output left the device"
    grads = []
    diff = [o for o in outs if o.requires_grad]
    if grad and diff:
        rng = np.random.default_rng(7)
        loss = None
        for o in diff:
            cot = mg.tensor(rng.standard_normal(o.shape).astype(o.dtype), device=device)
            term = (o * cot).sum()
            loss = term if loss is None else loss + term
        loss.backward()
        for t in ts:
            if t.requires_grad:
                if t.grad is None:  # not differentiated (e.g. a detached class weight)
                    grads.append(None)
                    continue
                if device == "cuda":
                    assert type(t.grad.data) is mcuda.CudaArray, "gradient left the device"
                grads.append(t.grad.numpy())
    return [o.numpy() for o in outs], grads


def parity(fn, *arrays, grad=True, dtype=np.float32, seed=0):
    arrays = [a.astype(dtype) if np.issubdtype(a.dtype, np.floating) else a for a in arrays]
    y_c, g_c = _run(fn, arrays, "cpu", grad, seed)
    y_g, g_g = _run(fn, arrays, "cuda", grad, seed)
    for i, (a, b) in enumerate(zip(y_g, y_c)):
        _close(f"output {i}", a, b, dtype)
    assert len(g_g) == len(g_c)
    assert any(g is not None for g in g_c) or not grad or not g_c, "no gradient compared"
    for i, (a, b) in enumerate(zip(g_g, g_c)):
        assert (a is None) == (b is None), f"gradient {i}: None on one device only"
        if a is not None:
            _close(f"gradient {i}", a, b, dtype)


RNG = np.random.default_rng(1234)


def _r(*shape):
    return RNG.standard_normal(shape)


def _distinct(*shape):
    """Values 0.1 apart in random order: no ties in max windows."""
    n = int(np.prod(shape))
    return (RNG.permutation(n) * 0.1 - 0.05 * n).reshape(shape)


# ------------------------------------------------------------------------------------------------
# convolutions


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv2d(dtype):
    parity(lambda x, w, b: C.conv2d(x, w, b, padding=1), _r(2, 3, 6, 6), _r(4, 3, 3, 3), _r(4),
           dtype=dtype)


def test_conv2d_stride_dilation_groups():
    parity(lambda x, w: C.conv2d(x, w, stride=(2, 1), padding="valid", dilation=(1, 2),
                                 groups=2), _r(1, 4, 6, 7), _r(2, 2, 2, 3))


def test_conv2d_same_padding_unbatched():
    parity(lambda x, w: C.conv2d(x, w, padding="same"), _r(2, 5, 5), _r(3, 2, 2, 2))


def test_conv1d():
    parity(lambda x, w, b: C.conv1d(x, w, b, stride=2, padding=1), _r(2, 3, 9), _r(2, 3, 3), _r(2))


def test_conv_transpose2d():
    parity(lambda x, w, b: C.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1),
           _r(1, 2, 3, 3), _r(2, 3, 3, 3), _r(3))


def test_conv2d_double_backward():
    """create_graph through ConvTranspose2d / Conv2dWeightGrad on the device."""

    def f(x, w):
        y = C.conv2d(x, w, padding=1)
        (gx,) = mg.grad((y * y).sum(), [x], create_graph=True)
        return gx

    parity(f, _r(1, 2, 4, 4), _r(2, 2, 3, 3))


# ------------------------------------------------------------------------------------------------
# pooling


def test_max_pool2d_overlapping_with_indices():
    parity(lambda x: P.max_pool2d(x, 3, stride=2, padding=1, return_indices=True),
           _distinct(2, 2, 5, 6))


def test_max_pool2d():
    parity(lambda x: P.max_pool2d(x, 2), _distinct(1, 3, 4, 6))


@pytest.mark.parametrize("count_include_pad", [True, False])
def test_avg_pool2d(count_include_pad):
    parity(lambda x: P.avg_pool2d(x, (3, 2), stride=(2, 1), padding=(1, 1),
                                  count_include_pad=count_include_pad), _r(2, 2, 5, 4))


def test_adaptive_avg_pool2d():
    parity(lambda x: P.adaptive_avg_pool2d(x, (2, 3)), _r(2, 2, 5, 7))


def test_global_avg_pool2d():
    parity(P.global_avg_pool2d, _r(2, 3, 4, 5))


def test_max_unpool2d():
    def f(x):
        y, idx = P.max_pool2d(x, 2, return_indices=True)
        return P.max_unpool2d(y, idx, 2, output_size=x.shape)

    parity(f, _distinct(1, 2, 4, 6))


def test_pool_double_backward():
    def f(x):
        y = P.avg_pool2d(x, 2) + P.max_pool2d(x, 2)
        (gx,) = mg.grad((y * y).sum(), [x], create_graph=True)
        return gx

    parity(f, _distinct(1, 2, 4, 4))


# ------------------------------------------------------------------------------------------------
# activations


ACTS = {
    "relu": A.relu, "relu6": A.relu6, "leaky_relu": lambda x: A.leaky_relu(x, 0.1),
    "elu": lambda x: A.elu(x, 0.7), "selu": A.selu, "celu": lambda x: A.celu(x, 1.5),
    "sigmoid": A.sigmoid, "tanh": A.tanh, "silu": A.silu, "gelu": A.gelu,
    "gelu_tanh": lambda x: A.gelu(x, approximate="tanh"),
    "softplus": lambda x: A.softplus(x, beta=1.5, threshold=2.0), "logsigmoid": A.logsigmoid,
    "hardtanh": lambda x: A.hardtanh(x, -0.5, 1.0), "maxout": lambda x: A.maxout(x, 2),
}


@pytest.mark.parametrize("name", sorted(ACTS))
def test_activation(name):
    parity(ACTS[name], _distinct(2, 4, 3) * 0.5)


@pytest.mark.parametrize("name", ["gelu", "silu", "softplus", "sigmoid", "tanh", "elu"])
def test_activation_double_backward(name):
    def f(x):
        (gx,) = mg.grad(ACTS[name](x).sum(), [x], create_graph=True)
        return gx

    parity(f, _r(3, 4))


@pytest.mark.parametrize("name", ["relu", "sigmoid", "gelu"])
def test_activation_0d(name):
    parity(ACTS[name], np.array(0.7))


def test_heaviside_and_step_are_constants():
    parity(lambda x: A.heaviside(x, 0.5), np.array([-1.0, 0.0, 2.0]), grad=False)
    parity(A.step, np.array([-1.0, 0.0, 2.0]), grad=False)


# ------------------------------------------------------------------------------------------------
# softmax and losses


@pytest.mark.parametrize("dim", [1, -1])
@pytest.mark.parametrize("fn", [SM.softmax, SM.log_softmax], ids=["softmax", "log_softmax"])
def test_softmax(fn, dim):
    parity(lambda x: fn(x, dim=dim), _r(2, 3, 4))


@pytest.mark.parametrize("fn", [SM.softmax, SM.log_softmax], ids=["softmax", "log_softmax"])
def test_softmax_double_backward(fn):
    def f(x):
        y = fn(x, dim=1)
        (gx,) = mg.grad((y * y).sum(), [x], create_graph=True)
        return gx

    parity(f, _r(3, 5))


TARGET = np.array([0, 4, -100, 2, 4])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy(reduction, smoothing):
    parity(lambda x, t: L.cross_entropy(x, t, reduction=reduction, label_smoothing=smoothing),
           _r(5, 6), TARGET)


def test_cross_entropy_weighted_spatial():
    t = np.array([[0, 2, 1], [-100, 1, 2]])
    parity(lambda x, t, w: L.cross_entropy(x, t, w.detach(), label_smoothing=0.1),
           _r(2, 3, 3), t, RNG.uniform(0.5, 2, 3))


def test_cross_entropy_all_ignored_is_nan():
    parity(lambda x, t: L.cross_entropy(x, t), _r(2, 3), np.array([-100, -100]))


@pytest.mark.parametrize("smoothing", [0.0, 0.3])
def test_cross_entropy_double_backward(smoothing):
    def f(x, t):
        y = L.cross_entropy(x, t, label_smoothing=smoothing)
        (gx,) = mg.grad(y, [x], create_graph=True)
        return gx

    parity(f, _r(4, 5), TARGET[:4])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_nll_loss(reduction):
    parity(lambda x, t, w: L.nll_loss(x, t, w.detach(), reduction=reduction),
           _r(5, 6), TARGET, RNG.uniform(0.5, 2, 6))


def test_nll_loss_of_log_softmax():
    parity(lambda x, t: L.nll_loss(SM.log_softmax(x, dim=1), t), _r(5, 6), TARGET)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_and_l1(reduction):
    parity(lambda x, t: L.mse_loss(x, t, reduction=reduction), _r(3, 4), _r(3, 4))
    parity(lambda x, t: L.l1_loss(x, t, reduction=reduction), _r(3, 4), _r(3, 4))


def test_binary_cross_entropy():
    p = RNG.uniform(0.05, 0.95, (3, 4))
    parity(lambda x, t, w: L.binary_cross_entropy(x, t, weight=w.detach()), p,
           RNG.uniform(0, 1, (3, 4)), RNG.uniform(0.5, 2, (3, 4)))


def test_binary_cross_entropy_with_logits():
    pw = RNG.uniform(0.5, 3, 4).astype(np.float32)  # a host array: moved to the device
    parity(lambda x, t: L.binary_cross_entropy_with_logits(x, t, pos_weight=pw,
                                                           reduction="sum"),
           _r(3, 4) * 3, RNG.uniform(0, 1, (3, 4)))


# ------------------------------------------------------------------------------------------------
# batch norm


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(6, 3), (2, 3, 4, 5)])
def test_batch_norm_train_updates_running_stats(shape, dtype):
    c = shape[1]
    rm0, rv0 = RNG.standard_normal(c), RNG.uniform(0.5, 2, c)
    stats = {}

    def f(x, w, b):
        dev = x.device
        rm = mg.tensor(rm0.astype(dtype), device=dev)
        rv = mg.tensor(rv0.astype(dtype), device=dev)
        y = N.batch_norm(x, rm, rv, w, b, training=True, momentum=0.3, eps=1e-3)
        assert rm.device == dev and rv.device == dev
        stats[str(dev)] = (rm.numpy(), rv.numpy())
        return y

    parity(f, _r(*shape) * 2 + 1, _r(c), _r(c), dtype=dtype)
    for i in range(2):
        _close(f"running stat {i}", stats["cuda"][i], stats["cpu"][i], dtype)


def test_batch_norm_train_without_affine_or_running_stats():
    parity(lambda x: N.batch_norm(x, None, None, training=True), _r(3, 2, 4))


def test_batch_norm_eval():
    rm, rv = RNG.standard_normal(3), RNG.uniform(0.5, 2, 3)
    parity(lambda x, m, v, w, b: N.batch_norm(x, m.detach(), v.detach(), w, b, training=False),
           _r(2, 3, 2, 2), rm, rv, _r(3), _r(3))


def test_batch_norm_double_backward():
    def f(x, w):
        y = N.batch_norm(x, None, None, w, None, training=True)
        (gx,) = mg.grad((y * y * y).sum(), [x], create_graph=True)
        return gx

    parity(f, _r(4, 2, 3), _r(2))


# ------------------------------------------------------------------------------------------------
# dropout: masks come from the host generator, so one seed gives one mask on both devices


@pytest.mark.parametrize("p", [0.3, 1.0])
def test_dropout(p):
    parity(lambda x: D.dropout(x, p), _r(4, 5), seed=11)


def test_dropout2d():
    parity(lambda x: D.dropout2d(x, 0.5), _r(2, 4, 3, 3), seed=5)


# ------------------------------------------------------------------------------------------------
# errors: validation runs before dispatch, so both devices raise the same message


def _same_error(exc, fn, *arrays):
    msgs = []
    for dev in ("cpu", "cuda"):
        ts = [mg.tensor(a.astype(np.float32), device=dev) for a in arrays]
        with pytest.raises(exc) as e:
            fn(*ts)
        msgs.append(str(e.value))
    assert msgs[0] == msgs[1]


def test_errors_match_cpu():
    _same_error(ValueError, C.conv2d, _r(1, 3, 5, 5), _r(2, 2, 3, 3))  # channel mismatch
    _same_error(ValueError, lambda x, w: C.conv2d(x, w, padding=0), _r(1, 1, 2, 2),
                _r(1, 1, 3, 3))  # kernel larger than the input
    _same_error(ValueError, lambda x: P.max_pool2d(x, 2, padding=2), _r(1, 1, 4, 4))
    _same_error(TypeError, lambda x: P.avg_pool2d(x, 1.5), _r(1, 1, 4, 4))
    _same_error(ValueError, lambda x: A.maxout(x, 3), _r(2, 4))
    _same_error(ValueError, lambda x: SM.softmax(x, dim=2), _r(2, 4))
    _same_error(ValueError, lambda x: N.batch_norm(x, None, None, training=True), _r(1, 3))


def test_batch_norm_rejects_host_running_stats_for_gpu_input():
    x = mg.tensor(_r(4, 2).astype(np.float32), device="cuda")
    rm = mg.zeros(2)
    with pytest.raises(ValueError, match="running_mean is on the cpu"):
        N.batch_norm(x, rm, None, training=True)
