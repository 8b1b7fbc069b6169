"""The device API as a PyTorch user meets it: ``device=``, ``.to``/``.cpu``/``.cuda``, ``.device``,
copies to the host, mixed-device errors, gradients across devices, and what happens without CUDA.

Runs under numba's CUDA simulator (tests/conftest.py) unless ``MINIGRAD_CUDA_REAL=1``.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

import minigrad as mg
import minigrad.cuda as mcuda
from minigrad._device import device
from minigrad.cuda import CudaArray

pytestmark = pytest.mark.cuda


@pytest.fixture(autouse=True)
def _need_cuda():
    if not mcuda.is_available():
        pytest.skip("CUDA (or its simulator) is not available")


def test_tensor_device_argument():
    a = np.array([[1.0, -2.0], [3.5, 4.0]], np.float32)
    t = mg.tensor(a, device="cuda")
    assert isinstance(t.data, CudaArray)
    assert t.device == "cuda" and t.device == "cuda:0" and t.device != "cpu"
    assert t.device.type == "cuda" and t.device.index == 0
    assert t.is_cuda
    assert t.shape == (2, 2) and t.dtype == np.float32
    np.testing.assert_array_equal(t.numpy(), a)
    c = mg.tensor(a)
    assert c.device == "cpu" and not c.is_cuda and c.device.index is None
    assert mg.tensor(a, device="cuda:0").device == "cuda"
    assert mg.tensor(a, device=device("cuda")).device == "cuda"


@pytest.mark.parametrize("spec", ["cuda:1", "gpu", "cpu:1"])
def test_bad_device_string(spec):
    with pytest.raises(ValueError, match="device"):
        mg.tensor([1.0], device=spec)


def test_to_cpu_cuda_round_trip():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    c = mg.tensor(a)
    g = c.to("cuda")
    assert g.device == "cuda" and g is not c
    assert g.to("cuda") is g and g.cuda() is g       # already there: no copy
    assert c.cpu() is c and c.to("cpu") is c
    back = g.cpu()
    assert back.device == "cpu" and isinstance(back.data, np.ndarray)
    np.testing.assert_array_equal(back.numpy(), a)
    np.testing.assert_array_equal(c.cuda().to("cpu").numpy(), a)


def test_to_tensor_takes_its_device_and_dtype():
    g = mg.tensor(np.ones(3), dtype=np.float64, device="cuda")
    c = mg.tensor([1.0, 2.0])  # float32 on the host
    moved = c.to(g)
    assert moved.device == "cuda" and moved.dtype == np.float64
    np.testing.assert_array_equal(moved.numpy(), [1.0, 2.0])
    back = g.to(c)
    assert back.device == "cpu" and back.dtype == np.float32
    both = c.to("cuda", np.float64)
    assert both.device == "cuda" and both.dtype == np.float64


def test_constructors_on_the_device():
    z = mg.zeros(2, 3, device="cuda")
    o = mg.ones((4,), device="cuda", dtype=np.float64)
    assert z.device == "cuda" and z.dtype == np.float32
    assert o.device == "cuda" and o.dtype == np.float64
    np.testing.assert_array_equal(z.numpy(), np.zeros((2, 3)))
    np.testing.assert_array_equal(o.numpy(), np.ones(4))
    mg.manual_seed(7)
    host = mg.randn(3, 4).numpy()
    mg.manual_seed(7)
    dev = mg.randn(3, 4, device="cuda")
    assert dev.device == "cuda"
    np.testing.assert_array_equal(dev.numpy(), host)  # drawn on the host from one generator


def test_numpy_copies_to_the_host():
    t = mg.tensor([1.0, 2.0, 3.0], device="cuda")
    h = t.numpy()
    assert isinstance(h, np.ndarray)
    h[0] = 100.0
    np.testing.assert_array_equal(t.numpy(), [1.0, 2.0, 3.0])  # the tensor is not changed
    assert t.numpy() is not t.numpy()


def test_implicit_numpy_conversion_raises_naming_cpu():
    t = mg.tensor([1.0, 2.0], device="cuda")
    with pytest.raises(TypeError, match=r"\.cpu\(\)"):
        np.asarray(t)
    with pytest.raises(TypeError, match=r"\.get\(\)"):
        np.asarray(t.data)


def test_mixed_device_op_raises_naming_both_devices():
    g = mg.tensor([1.0, 2.0], device="cuda")
    c = mg.tensor([3.0, 4.0])
    for fn in (lambda: g + c, lambda: c * g, lambda: mg.where(c > 0, g, g)):
        with pytest.raises(ValueError) as e:
            fn()
        assert "cuda" in str(e.value) and "cpu" in str(e.value)


def test_host_scalar_constants_mix_with_gpu_tensors():
    g = mg.tensor([1.0, 2.0], device="cuda")
    out = g * mg.tensor(3.0)          # a 0-d host constant, as PyTorch allows
    assert out.device == "cuda"
    np.testing.assert_array_equal(out.numpy(), [3.0, 6.0])
    assert (g * 2.0).device == "cuda"


def test_gradient_crosses_devices():
    """A CPU leaf used on the GPU gets a CPU gradient (``.cuda()`` is differentiable)."""
    x = mg.tensor([1.0, -2.0, 3.0], requires_grad=True)
    y = x.cuda() * x.cuda()
    assert y.device == "cuda" and y.requires_grad
    y.backward(mg.tensor([1.0, 1.0, 0.5], device="cuda"))
    assert x.grad is not None and x.grad.device == "cpu"
    np.testing.assert_allclose(x.grad.numpy(), [2.0, -4.0, 3.0])


def test_gpu_leaf_gets_a_gpu_gradient():
    w = mg.tensor([0.5, 2.0], requires_grad=True, device="cuda")
    out = (w * w).cpu()                # back to the host, then backward from there
    out.backward(mg.tensor([1.0, 1.0]))
    assert w.grad.device == "cuda"
    np.testing.assert_allclose(w.grad.numpy(), [1.0, 4.0])


def test_is_available_and_strict_switch():
    assert mcuda.is_available() is True
    assert mcuda.device_count() >= 1
    prev = mcuda.strict(True)
    try:
        assert mcuda.strict() is True
    finally:
        mcuda.strict(prev)
    assert mcuda.strict() is prev


# -- without CUDA -------------------------------------------------------------------------------


@pytest.fixture
def no_cuda(monkeypatch):
    """Make the probe report 'no GPU' the way numba does on a machine without one."""
    from numba import cuda as nbcuda

    monkeypatch.setattr(nbcuda, "is_available", lambda: False)
    mcuda._probe.cache_clear()
    yield
    monkeypatch.undo()
    mcuda._probe.cache_clear()


@pytest.fixture
def no_numba_cuda(monkeypatch):
    """Make ``from numba import cuda`` fail, as when the ``cuda`` extra is not installed."""
    import numba

    monkeypatch.delattr(numba, "cuda", raising=False)
    monkeypatch.setitem(sys.modules, "numba.cuda", None)
    mcuda._probe.cache_clear()
    yield
    monkeypatch.undo()
    mcuda._probe.cache_clear()


@pytest.mark.parametrize("fixture", ["no_cuda", "no_numba_cuda"])
def test_unavailable_raises_naming_the_extra(fixture, request):
    request.getfixturevalue(fixture)
    assert mcuda.is_available() is False
    assert mcuda.device_count() == 0
    calls = [
        lambda: mg.tensor([1.0], device="cuda"),
        lambda: mg.zeros(3, device="cuda"),
        lambda: mg.randn(2, device="cuda"),
        lambda: mg.tensor([1.0]).cuda(),
        lambda: mg.tensor([1.0]).to("cuda"),
    ]
    for call in calls:
        with pytest.raises(mcuda.CudaUnavailableError) as e:
            call()
        assert 'pip install "minigrad[cuda]"' in str(e.value)
    # CPU work is unaffected
    assert (mg.tensor([1.0, 2.0]) * 2).numpy().tolist() == [2.0, 4.0]


def test_unavailable_error_is_a_runtime_error():
    assert issubclass(mcuda.CudaUnavailableError, RuntimeError)
