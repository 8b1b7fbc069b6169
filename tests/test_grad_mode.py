"""Grad mode (``set_grad_enabled`` as a function, context manager and decorator;
``inference_mode``) and anomaly detection (``detect_anomaly``, ``set_detect_anomaly``)."""

import threading

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn.functional as F
from minigrad import _device
from minigrad.autograd import detect_anomaly, is_anomaly_enabled, set_detect_anomaly

pytestmark = pytest.mark.filterwarnings("ignore:(divide by zero|invalid value):RuntimeWarning")


def _x():
    return mg.tensor([1.0, 2.0], requires_grad=True)


@pytest.fixture(autouse=True)
def _restore_modes():
    yield
    mg.set_grad_enabled(True)
    set_detect_anomaly(False)


def test_set_grad_enabled_called_as_a_function_switches_until_switched_back():
    x = _x()
    mg.set_grad_enabled(False)
    assert not mg.is_grad_enabled() and not (x * 2).requires_grad
    assert not (x * 3).requires_grad                      # still off on the next line
    mg.set_grad_enabled(True)
    assert mg.is_grad_enabled() and (x * 2).requires_grad


def test_set_grad_enabled_as_context_manager_restores_the_previous_mode():
    x = _x()
    with mg.set_grad_enabled(False):
        assert not (x * 2).requires_grad
        with mg.set_grad_enabled(True):
            assert (x * 2).requires_grad
        assert not mg.is_grad_enabled()
    assert mg.is_grad_enabled()
    with mg.no_grad():
        with mg.set_grad_enabled(True):
            assert (x * 2).requires_grad
        assert not mg.is_grad_enabled()
    assert mg.is_grad_enabled()


def test_set_grad_enabled_as_decorator_does_not_switch_at_decoration():
    x = _x()

    @mg.set_grad_enabled(False)
    def f(depth):
        return (x * 2).requires_grad if depth == 0 else f(depth - 1)

    assert mg.is_grad_enabled()
    assert f(3) is False
    assert mg.is_grad_enabled()


def test_bare_decorators_as_pytorch_allows():
    x = _x()

    @mg.no_grad
    def f():
        return (x * 2).requires_grad

    @mg.inference_mode
    def g():
        return (x * 2).requires_grad, mg.is_inference_mode_enabled()

    with mg.no_grad():
        @mg.enable_grad
        def h():
            return (x * 2).requires_grad

        assert h() is True
    assert f() is False and g() == (False, True)
    assert mg.is_grad_enabled() and not mg.is_inference_mode_enabled()


def test_grad_mode_is_per_thread():
    mg.set_grad_enabled(False)
    seen = []
    th = threading.Thread(target=lambda: seen.append(mg.is_grad_enabled()))
    th.start()
    th.join()
    assert seen == [True] and not mg.is_grad_enabled()


def test_inference_mode_records_nothing_as_context_and_decorator():
    x = _x()
    with mg.inference_mode():
        assert not (x * 2).requires_grad and mg.is_inference_mode_enabled()
        with mg.inference_mode(False):               # clears the flag, leaves grad mode off
            assert not mg.is_inference_mode_enabled() and not mg.is_grad_enabled()
    assert mg.is_grad_enabled() and not mg.is_inference_mode_enabled()

    @mg.inference_mode()
    def predict(t):
        return t * 2

    assert not predict(x).requires_grad and mg.is_grad_enabled()


# -- anomaly mode -------------------------------------------------------------------------------


def _line_of(text):
    src = open(__file__).read().splitlines()
    return next(i for i, line in enumerate(src, 1) if text in line)


def test_anomaly_mode_names_the_first_forward_op_that_makes_nan():
    mg.manual_seed(0)
    conv = mg.nn.Conv2d(1, 2, 3)
    img = np.ones((1, 1, 5, 5), np.float32)
    img[0, 0, 2, 2] = np.nan                            # one bad pixel
    x = mg.tensor(img)
    with detect_anomaly():
        with pytest.raises(RuntimeError) as err:
            F.relu(conv(x)).sum()                       # the conv line
    msg = str(err.value)
    assert "Conv2d" in msg and "(1, 1, 5, 5)" in msg and "(1, 2, 3, 3)" in msg
    assert "input 0 (1, 1, 5, 5) float32: 1 NaN of 25 values" in msg   # came in with the data
    assert f"test_grad_mode.py:{_line_of('# the conv line')}" in msg
    out = F.relu(conv(x)).sum()                          # off: NaN flows on silently
    assert np.isnan(out.item())


def test_anomaly_mode_names_the_first_backward_node_that_makes_inf():
    x = mg.tensor([0.0, 4.0], requires_grad=True)
    with detect_anomaly():
        y = (x.sqrt() * 3).sum()                         # sqrt's node
        with pytest.raises(RuntimeError) as err:
            y.backward()
    msg = str(err.value)
    assert "backward of Sqrt" in msg and "1 Inf of 2 values" in msg and "[(2,)]" in msg
    assert f"test_grad_mode.py:{_line_of(chr(35) + ' sqrt' + chr(39) + 's node')}" in msg
    assert "received (dY) were: finite" in msg
    assert x.grad is None


def test_anomaly_mode_is_silent_on_finite_values_and_matches_normal_results():
    x = mg.tensor(np.linspace(0.5, 2, 6).reshape(2, 3), requires_grad=True)
    with detect_anomaly():
        (x.log() * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.log(x.numpy()) + 1, rtol=1e-6)


def test_set_detect_anomaly_as_a_function_and_a_context():
    assert not is_anomaly_enabled()
    set_detect_anomaly(True)
    assert is_anomaly_enabled()
    with set_detect_anomaly(False):
        assert not is_anomaly_enabled()
        (mg.tensor([1.0]) / 0.0)                         # no raise while off
    assert is_anomaly_enabled()
    with pytest.raises(RuntimeError, match="Div"):
        mg.tensor([1.0]) / 0.0
    set_detect_anomaly(False)
    assert not is_anomaly_enabled()


def test_anomaly_checks_cost_nothing_when_off(monkeypatch):
    calls = []
    real = _device.count_nonfinite
    monkeypatch.setattr(_device, "count_nonfinite", lambda a: calls.append(1) or real(a))
    x = _x()
    ((x * 2).exp().sum()).backward()
    assert calls == []
    with detect_anomaly():
        ((x * 2).exp().sum()).backward()
    assert calls


@pytest.mark.cuda
def test_anomaly_mode_on_gpu_tensors():
    x = mg.tensor([1.0, -1.0], device="cuda", requires_grad=True)
    with detect_anomaly():
        with pytest.raises(RuntimeError, match="Log.*1 NaN of 2 values"):
            x.log()
