"""nn layers check their constructor arguments (PyTorch's rules, enforced when the layer is built)
and refuse input of another dtype than their parameters (issue 12, section 2)."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn

RNG = np.random.default_rng(5)

# (constructor, exception, words the message must contain: the layer, the argument, the value)
BAD = [
    (lambda: nn.Conv2d(1, 6, 0), ValueError, ["Conv2d", "kernel_size", "0"]),
    (lambda: nn.Conv2d(1, 6, (3, -1)), ValueError, ["Conv2d", "kernel_size", "-1"]),
    (lambda: nn.Conv2d(1, 6, 2.5), TypeError, ["Conv2d", "kernel_size", "2.5"]),
    (lambda: nn.Conv2d(1, 6, (2.5, 3)), TypeError, ["Conv2d", "kernel_size", "2.5"]),
    (lambda: nn.Conv2d(1, 6, 3, stride=0), ValueError, ["Conv2d", "stride", "0"]),
    (lambda: nn.Conv2d(1, 6, 3, padding=-1), ValueError, ["Conv2d", "padding", "-1"]),
    (lambda: nn.Conv2d(1, 6, 3, padding=1.5), TypeError, ["Conv2d", "padding", "1.5"]),
    (lambda: nn.Conv2d(1, 6, 3, dilation=0), ValueError, ["Conv2d", "dilation", "0"]),
    (lambda: nn.Conv2d(0, 6, 3), ValueError, ["Conv2d", "in_channels", "0"]),
    (lambda: nn.Conv2d(1, 0, 3), ValueError, ["Conv2d", "out_channels", "0"]),
    (lambda: nn.Conv2d(2, 6, 3, groups=0), ValueError, ["Conv2d", "groups", "0"]),
    (lambda: nn.Conv2d(2, 6, 3, groups=4), ValueError, ["Conv2d", "groups", "4"]),
    (lambda: nn.Conv2d(1.0, 6, 3), TypeError, ["Conv2d", "in_channels", "1.0"]),
    (lambda: nn.Conv2d(1, 6, 3, padding_mode="zero"), ValueError, ["Conv2d", "padding_mode"]),
    (lambda: nn.Conv1d(1, 6, 0), ValueError, ["Conv1d", "kernel_size", "0"]),
    (lambda: nn.Conv1d(1, 6, 3, stride=-1), ValueError, ["Conv1d", "stride", "-1"]),
    (lambda: nn.ConvTranspose2d(1, 6, 0), ValueError, ["ConvTranspose2d", "kernel_size", "0"]),
    (lambda: nn.ConvTranspose2d(1, 6, 3, stride=0), ValueError, ["ConvTranspose2d", "stride"]),
    (lambda: nn.ConvTranspose2d(1, 6, 3, padding=-1), ValueError, ["ConvTranspose2d",
                                                                    "padding", "-1"]),
    (lambda: nn.ConvTranspose2d(1, 6, 3, output_padding=-1), ValueError,
     ["ConvTranspose2d", "output_padding", "-1"]),
    (lambda: nn.ConvTranspose2d(1, 6, 3, dilation=0), ValueError, ["ConvTranspose2d",
                                                                    "dilation", "0"]),
    (lambda: nn.ConvTranspose2d(1, 0, 3), ValueError, ["ConvTranspose2d", "out_channels"]),
    (lambda: nn.Linear(-1, 3), ValueError, ["Linear", "in_features", "-1"]),
    (lambda: nn.Linear(3, -2), ValueError, ["Linear", "out_features", "-2"]),
    (lambda: nn.Linear(2.5, 3), TypeError, ["Linear", "in_features", "2.5"]),
    (lambda: nn.MaxPool2d(0), ValueError, ["MaxPool2d", "kernel_size", "0"]),
    (lambda: nn.MaxPool2d(2, stride=0), ValueError, ["MaxPool2d", "stride", "0"]),
    (lambda: nn.MaxPool2d(2, padding=-1), ValueError, ["MaxPool2d", "padding", "-1"]),
    (lambda: nn.MaxPool2d(2, padding=2), ValueError, ["MaxPool2d", "padding", "half"]),
    (lambda: nn.MaxPool2d(3, padding=2), ValueError, ["MaxPool2d", "padding", "half"]),
    (lambda: nn.AvgPool2d(0), ValueError, ["AvgPool2d", "kernel_size", "0"]),
    (lambda: nn.AvgPool2d(2, padding=2), ValueError, ["AvgPool2d", "padding", "half"]),
    (lambda: nn.AvgPool2d(2, stride=(1, 0)), ValueError, ["AvgPool2d", "stride"]),
    (lambda: nn.MaxUnpool2d(0), ValueError, ["MaxUnpool2d", "kernel_size", "0"]),
    (lambda: nn.MaxUnpool2d(2, stride=0), ValueError, ["MaxUnpool2d", "stride", "0"]),
    (lambda: nn.AdaptiveAvgPool2d(0), ValueError, ["AdaptiveAvgPool2d", "output_size", "0"]),
    (lambda: nn.AdaptiveAvgPool2d(2.5), TypeError, ["AdaptiveAvgPool2d", "output_size"]),
    (lambda: nn.BatchNorm2d(0), ValueError, ["BatchNorm2d", "num_features", "0"]),
    (lambda: nn.BatchNorm1d(-1), ValueError, ["BatchNorm1d", "num_features", "-1"]),
    (lambda: nn.BatchNorm2d(3, eps=0), ValueError, ["BatchNorm2d", "eps", "0"]),
    (lambda: nn.BatchNorm2d(3, eps=-1e-5), ValueError, ["BatchNorm2d", "eps"]),
    (lambda: nn.BatchNorm2d(3, eps=float("nan")), ValueError, ["BatchNorm2d", "eps", "nan"]),
    (lambda: nn.BatchNorm2d(3, momentum=2), ValueError, ["BatchNorm2d", "momentum", "2"]),
    (lambda: nn.BatchNorm2d(3, momentum=-0.1), ValueError, ["BatchNorm2d", "momentum"]),
    (lambda: nn.Dropout(1.5), ValueError, ["Dropout", "p", "1.5"]),
    (lambda: nn.Dropout(-0.1), ValueError, ["Dropout", "p", "-0.1"]),
    (lambda: nn.Dropout("0.5"), TypeError, ["Dropout", "p", "0.5"]),
    (lambda: nn.Dropout2d(2), ValueError, ["Dropout2d", "p", "2"]),
    (lambda: nn.LeakyReLU("a"), TypeError, ["LeakyReLU", "negative_slope"]),
    (lambda: nn.CELU(0), ValueError, ["CELU", "alpha", "0"]),
    (lambda: nn.Softplus(beta=0), ValueError, ["Softplus", "beta", "0"]),
    (lambda: nn.Hardtanh(1, -1), ValueError, ["Hardtanh", "max_val"]),
    (lambda: nn.Maxout(0), ValueError, ["Maxout", "pieces", "0"]),
    (lambda: nn.Maxout(2.0), TypeError, ["Maxout", "pieces", "2.0"]),
    (lambda: nn.Softmax(dim=1.0), TypeError, ["Softmax", "dim", "1.0"]),
    (lambda: nn.LogSoftmax(dim="1"), TypeError, ["LogSoftmax", "dim"]),
    (lambda: nn.GELU("x"), ValueError, ["GELU", "approximate", "x"]),
    (lambda: nn.Flatten(2, 1), ValueError, ["Flatten", "start_dim", "end_dim"]),
    (lambda: nn.Flatten(1.0), TypeError, ["Flatten", "start_dim"]),
    (lambda: nn.CrossEntropyLoss(label_smoothing=2), ValueError,
     ["CrossEntropyLoss", "label_smoothing", "2"]),
    (lambda: nn.CrossEntropyLoss(reduction="avg"), ValueError,
     ["CrossEntropyLoss", "reduction", "avg"]),
    (lambda: nn.NLLLoss(ignore_index=1.5), TypeError, ["NLLLoss", "ignore_index", "1.5"]),
    (lambda: nn.MSELoss(reduction="x"), ValueError, ["MSELoss", "reduction"]),
]


@pytest.mark.parametrize("make,exc,words", BAD, ids=[" ".join(b[2][:2]) + f" {i}"
                                                     for i, b in enumerate(BAD)])
def test_bad_constructor_arguments_raise_clearly(make, exc, words):
    with pytest.raises(exc) as err:
        make()
    for w in words:
        assert w in str(err.value), f"{w!r} not in {str(err.value)!r}"


def test_conv2d_kernel_zero_no_longer_builds():
    """The issue's example: accepted before, and a 5x5 output from a 4x4 input."""
    with pytest.raises(ValueError, match="Conv2d: kernel_size must be >= 1, got 0"):
        nn.Conv2d(1, 6, 0)


GOOD = [
    lambda: nn.Linear(0, 3), lambda: nn.Linear(3, 0),  # PyTorch computes these too
    lambda: nn.Conv2d(2, 4, (1, 3), stride=(1, 2), padding=(0, 5), dilation=2, groups=2),
    lambda: nn.Conv2d(1, 2, 3, padding="same"), lambda: nn.Conv1d(1, 2, 1, padding="valid"),
    lambda: nn.Conv2d(1, 2, np.int64(3)),
    lambda: nn.ConvTranspose2d(2, 2, 3, stride=2, output_padding=1),
    lambda: nn.MaxPool2d(3, padding=1), lambda: nn.MaxPool2d((2, 4), padding=(1, 2)),
    lambda: nn.AvgPool2d(2, stride=1, padding=1), lambda: nn.MaxUnpool2d(2),
    lambda: nn.AdaptiveAvgPool2d((None, 2)), lambda: nn.BatchNorm2d(3, momentum=None),
    lambda: nn.BatchNorm1d(3, eps=1e-3, momentum=1.0), lambda: nn.Dropout(0), lambda: nn.Dropout(1),
    lambda: nn.LeakyReLU(-1), lambda: nn.Softplus(beta=-1), lambda: nn.Flatten(0, -1),
    lambda: nn.Flatten(-3, 2), lambda: nn.Softmax(None), lambda: nn.Identity(0, foo="bar"),
    lambda: nn.CrossEntropyLoss(label_smoothing=1.0),
]


@pytest.mark.parametrize("make", GOOD)
def test_valid_arguments_still_build(make):
    assert isinstance(make(), nn.Module)


@pytest.mark.filterwarnings("ignore:Initializing zero-element tensors")
def test_torch_agrees_that_these_are_invalid():
    """PyTorch builds most of these but refuses them at the first forward; minigrad refuses
    them when the layer is built."""
    torch = pytest.importorskip("torch")
    tnn = torch.nn
    x = torch.rand(1, 1, 4, 4)
    for call in (lambda: tnn.Conv2d(1, 6, 0)(x), lambda: tnn.Conv2d(1, 6, 3, stride=0)(x),
                 lambda: tnn.Conv2d(1, 6, 3, padding=-1)(x),
                 lambda: tnn.Conv2d(1, 6, 3, dilation=0)(x), lambda: tnn.Conv2d(1, 0, 3)(x),
                 lambda: tnn.ConvTranspose2d(1, 6, 3, output_padding=-1)(x),
                 lambda: tnn.MaxPool2d(0)(x), lambda: tnn.MaxPool2d(2, padding=2)(x),
                 lambda: tnn.AvgPool2d(2, padding=2)(x),
                 lambda: tnn.BatchNorm2d(1, eps=0)(x), lambda: tnn.Dropout(1.5),
                 lambda: tnn.CELU(0)(x), lambda: tnn.Flatten(2, 1)(x),
                 lambda: tnn.CrossEntropyLoss(label_smoothing=2)(torch.rand(2, 3),
                                                                 torch.tensor([0, 1]))):
        with pytest.raises((RuntimeError, ValueError, TypeError, ZeroDivisionError)):
            call()


# -- the input's dtype ---------------------------------------------------------------------------
def _layers():
    return [
        (lambda: nn.Linear(4, 3), (2, 4)),
        (lambda: nn.Conv1d(2, 3, 3), (2, 2, 8)),
        (lambda: nn.Conv2d(2, 3, 3), (2, 2, 6, 6)),
        (lambda: nn.Conv2d(2, 3, 3, padding_mode="reflect", padding=1), (2, 2, 6, 6)),
        (lambda: nn.ConvTranspose2d(2, 3, 3), (2, 2, 4, 4)),
        (lambda: nn.BatchNorm1d(4), (5, 4)),
        (lambda: nn.BatchNorm2d(2), (3, 2, 4, 4)),
        (lambda: nn.BatchNorm2d(2, affine=False), (3, 2, 4, 4)),
    ]


def _state(m):
    return {k: v.numpy().copy() for k, v in m.state_dict().items()}


@pytest.mark.parametrize("make,shape", _layers())
def test_float64_input_into_float32_layer_raises(make, shape):
    m = make()
    name = type(m).__name__
    before = _state(m)
    x = mg.tensor(RNG.integers(0, 256, size=shape).astype(np.uint8) / 255.0)  # float64
    assert x.dtype == mg.float64
    with pytest.raises(TypeError) as err:
        m(x)
    msg = str(err.value)
    for w in (name, "float64", "float32", "x.float()", "model.double()"):
        assert w in msg, f"{w!r} not in {msg!r}"
    after = _state(m)  # parameters and running statistics untouched
    assert before.keys() == after.keys()
    for k in before:
        np.testing.assert_array_equal(before[k], after[k])
    # the fixes the message names both work
    assert m(x.float()).dtype == mg.float32
    assert m.double()(x).dtype == mg.float64
    with pytest.raises(TypeError, match=r"x\.double\(\) or the model with model\.float\(\)"):
        m(x.float())
    m.float()
    with pytest.raises(TypeError, match=r"int64.*x\.float\(\)"):
        m(mg.tensor(RNG.integers(0, 3, size=shape)))


def test_float64_input_error_names_the_first_layer_of_a_model():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8, 2))
    with pytest.raises(TypeError, match="^Conv2d: input dtype float64"):
        model(mg.tensor(np.zeros((1, 1, 4, 4))))
    assert model(mg.tensor(np.zeros((1, 1, 4, 4), np.float32))).dtype == mg.float32


def test_torch_also_refuses_float64_into_float32():
    torch = pytest.importorskip("torch")
    with pytest.raises(RuntimeError, match="dtype"):
        torch.nn.Linear(4, 3)(torch.zeros(2, 4, dtype=torch.float64))
