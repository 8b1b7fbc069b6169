"""The shared argument and geometry helpers (minigrad/ops/_args.py) and what they promise across
the ops and layers: the same mistake gives the same error class everywhere (PyTorch's class where
PyTorch has one), output sizes agree with a count of window positions, and Function classes are
named apart from nn Modules."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad.autograd import Function
from minigrad.ops._args import (
    conv_output_size,
    conv_transpose_output_size,
    float_tensor,
    ntuple,
    padding_pairs,
)

# -- ntuple ---------------------------------------------------------------------------------------


def test_ntuple_accepts_an_int_or_n_ints():
    assert ntuple("op", "stride", 2, 2) == (2, 2)
    assert ntuple("op", "stride", np.int64(3), 1) == (3,)
    assert ntuple("op", "stride", [1, np.int32(2)], 2) == (1, 2)
    assert all(type(v) is int for v in ntuple("op", "stride", (np.int64(1), 2), 2))


@pytest.mark.parametrize("value", [2.5, "2", (1, 2.0), (1, True), True, None, ()])
def test_ntuple_wrong_type_is_a_type_error(value):
    with pytest.raises(TypeError, match=r"^conv2d: stride must be an int or a tuple of 2 ints"):
        ntuple("conv2d", "stride", value, 2)


@pytest.mark.parametrize("value, n, minimum", [((1, 2, 3), 2, None), ((1,), 2, None),
                                               (0, 2, 1), ((1, -1), 2, 0)])
def test_ntuple_wrong_length_or_range_is_a_value_error(value, n, minimum):
    with pytest.raises(ValueError, match=r"^op: padding must"):
        ntuple("op", "padding", value, n, minimum=minimum)


# -- the same mistake, the same error, in every op and layer --------------------------------------

X4 = mg.zeros(1, 2, 6, 6)
X3 = mg.zeros(1, 2, 3, 3)
W4 = mg.zeros(2, 2, 3, 3)
CALLS = {
    "conv2d": lambda **kw: F.conv2d(X4, W4, **kw),
    "conv1d": lambda **kw: F.conv1d(mg.zeros(1, 2, 6), mg.zeros(2, 2, 3), **kw),
    "conv_transpose2d": lambda **kw: F.conv_transpose2d(X4, W4, **kw),
    "max_pool2d": lambda **kw: F.max_pool2d(X4, 2, **kw),
    "avg_pool2d": lambda **kw: F.avg_pool2d(X4, 2, **kw),
    "max_unpool2d": lambda **kw: F.max_unpool2d(X3, mg.tensor(np.zeros(X3.shape, np.int64)), 2,
                                                **kw),
    "nn.Conv2d": lambda **kw: nn.Conv2d(2, 2, 3, **kw),
    "nn.ConvTranspose2d": lambda **kw: nn.ConvTranspose2d(2, 2, 3, **kw),
}


@pytest.mark.parametrize("name", CALLS)
@pytest.mark.parametrize("stride", [2.5, "1", (1, 1.5)])
def test_a_stride_of_the_wrong_type_is_a_type_error_everywhere(name, stride):
    with pytest.raises(TypeError, match="stride"):
        CALLS[name](stride=stride)


@pytest.mark.parametrize("name", CALLS)
def test_a_stride_of_the_wrong_length_is_a_value_error_everywhere(name):
    with pytest.raises(ValueError, match="stride"):
        CALLS[name](stride=(1, 1, 1))


@pytest.mark.parametrize("name", [n for n in CALLS if not n.startswith("nn.")])
def test_a_zero_stride_is_a_value_error_in_every_op(name):
    with pytest.raises(ValueError, match="stride"):
        CALLS[name](stride=0)


@pytest.mark.parametrize("size, error", [(2.5, TypeError), ((2, "2"), TypeError),
                                         ((2, 2, 2), ValueError), (0, ValueError)])
def test_adaptive_output_size_follows_the_same_rule(size, error):
    with pytest.raises(error, match="^adaptive_avg_pool2d: output_size"):
        F.adaptive_avg_pool2d(X4, size)
    assert F.adaptive_avg_pool2d(X4, (None, 3)).shape == (1, 2, 6, 3)


# A layer's constructor and the op it calls check an argument with the same helper: the same
# class, and the same message after the name ("MaxPool2d: ..." / "max_pool2d: ...").
X2 = mg.zeros(2, 3)
SAME_MISTAKE = {
    "pool padding over half the kernel": (lambda: nn.MaxPool2d(2, padding=2),
                                          lambda: F.max_pool2d(X4, 2, padding=2)),
    "avg pool zero stride": (lambda: nn.AvgPool2d(2, stride=(1, 0)),
                             lambda: F.avg_pool2d(X4, 2, stride=(1, 0))),
    "unpool float kernel": (lambda: nn.MaxUnpool2d(2.5),
                            lambda: F.max_unpool2d(X3, mg.tensor(np.zeros(X3.shape, np.int64)),
                                                   2.5)),
    "adaptive size": (lambda: nn.AdaptiveAvgPool2d((None, "2")),
                      lambda: F.adaptive_avg_pool2d(X4, (None, "2"))),
    "conv stride length": (lambda: nn.Conv2d(2, 2, 3, stride=(1, 1, 1)),
                           lambda: F.conv2d(X4, W4, stride=(1, 1, 1))),
    "conv dilation": (lambda: nn.Conv2d(2, 2, 3, dilation=0),
                      lambda: F.conv2d(X4, W4, dilation=0)),
    "conv groups type": (lambda: nn.Conv2d(2, 2, 3, groups=[1]),
                         lambda: F.conv2d(X4, W4, groups=[1])),
    "dropout p type": (lambda: nn.Dropout("0.5"), lambda: F.dropout(X2, "0.5")),
    "dropout p range": (lambda: nn.Dropout(1.5), lambda: F.dropout(X2, 1.5)),
    "batch norm eps": (lambda: nn.BatchNorm1d(3, eps=0),
                       lambda: F.batch_norm(X2, None, None, training=True, eps=0)),
    "loss reduction": (lambda: nn.MSELoss(reduction="avg"),
                       lambda: F.mse_loss(X2, X2, reduction="avg")),
    "label smoothing": (lambda: nn.CrossEntropyLoss(label_smoothing=2),
                        lambda: F.cross_entropy(X2, np.zeros(2, np.int64), label_smoothing=2)),
    "gelu mode": (lambda: nn.GELU("x"), lambda: F.gelu(X2, "x")),
}


def _raised(call):
    with pytest.raises((TypeError, ValueError)) as info:
        call()
    return type(info.value), str(info.value).partition(": ")[2]


@pytest.mark.parametrize("mistake", SAME_MISTAKE)
def test_a_layer_and_its_op_refuse_a_mistake_alike(mistake):
    layer, op = SAME_MISTAKE[mistake]
    assert _raised(layer) == _raised(op)


def test_adaptive_output_size_may_keep_an_axis():
    assert ntuple("op", "output_size", (None, 3), 2, minimum=1, allow_none=True) == (None, 3)
    with pytest.raises(TypeError):
        ntuple("op", "output_size", (None, 3), 2)
    with pytest.raises(TypeError):  # None alone is not a size
        ntuple("op", "output_size", None, 2, allow_none=True)


def test_unpool_output_size_is_not_truncated():
    x, idx = X3, mg.tensor(np.zeros(X3.shape, np.int64))
    with pytest.raises(TypeError, match="^max_unpool2d: output_size"):
        F.max_unpool2d(x, idx, 2, output_size=(6.5, 6))
    assert F.max_unpool2d(x, idx, 2, output_size=(1, 2, 7, 6)).shape == (1, 2, 7, 6)


FLOAT_OPS = {
    "conv2d": lambda x: F.conv2d(x, W4),
    "max_pool2d": lambda x: F.max_pool2d(x, 2),
    "max_unpool2d": lambda x: F.max_unpool2d(x, mg.tensor(np.zeros((1, 2, 6, 6), np.int64)), 2),
    "relu": F.relu,
    "softmax": lambda x: F.softmax(x, 1),
    "cross_entropy": lambda x: F.cross_entropy(x, np.zeros((1, 6, 6), np.int64)),
    "dropout": F.dropout,
    "batch_norm": lambda x: F.batch_norm(x, None, None, training=True),
}


@pytest.mark.parametrize("name", FLOAT_OPS)
@pytest.mark.parametrize("bad, what", [(mg.zeros(1, 2, 6, 6, dtype=mg.int64), "float32 or float64"),
                                       (np.zeros((1, 2, 6, 6)), "a Tensor")])
def test_non_float_input_is_the_same_type_error_everywhere(name, bad, what):
    with pytest.raises(TypeError) as info:
        FLOAT_OPS[name](bad)
    assert str(info.value).startswith(f"{name}: input must be {what}"), str(info.value)


def test_float_tensor_passes_float_tensors_through():
    x = mg.zeros(2, dtype=mg.float64)
    assert float_tensor("op", "input", x) is x


def test_type_errors_match_pytorch():
    torch = pytest.importorskip("torch")
    tx, tw = torch.zeros(1, 2, 6, 6), torch.zeros(2, 2, 3, 3)
    for kw in (dict(stride=2.5), dict(stride="1"), dict(padding=1.5)):
        with pytest.raises(TypeError):
            torch.nn.functional.conv2d(tx, tw, **kw)
        with pytest.raises(TypeError):
            F.conv2d(X4, W4, **kw)
    with pytest.raises(TypeError):
        torch.nn.functional.max_pool2d(tx, 2.5)
    with pytest.raises(TypeError):
        F.max_pool2d(X4, 2.5)


# -- geometry ------------------------------------------------------------------------------------


def _count_windows(n, f, stride, lo, hi, dilation):
    """Window positions that fit in the padded input, counted one by one."""
    span = dilation * (f - 1) + 1
    return sum(1 for start in range(0, n + lo + hi, stride) if start + span <= n + lo + hi)


@pytest.mark.parametrize("n", [1, 2, 5, 8])
@pytest.mark.parametrize("f, stride, dilation", [(1, 1, 1), (3, 2, 1), (2, 3, 2), (3, 1, 3)])
@pytest.mark.parametrize("lo, hi", [(0, 0), (1, 1), (2, 0), (1, 3)])
def test_conv_output_size_counts_the_windows(n, f, stride, dilation, lo, hi):
    expected = _count_windows(n, f, stride, lo, hi, dilation)
    got = conv_output_size(n, f, stride, (lo, hi), dilation)
    assert max(got, 0) == expected
    if lo == hi:
        assert conv_output_size(n, f, stride, lo, dilation) == got


@pytest.mark.parametrize("n, f, stride, padding, dilation", [(5, 3, 2, 1, 1), (4, 2, 3, 0, 2),
                                                             (7, 3, 1, 2, 2), (1, 1, 1, 0, 1)])
def test_transposed_output_size_inverts_the_conv_output_size(n, f, stride, padding, dilation):
    for extra in range(stride):  # each output_padding < stride: one of the inputs it came from
        out = conv_transpose_output_size(n, f, stride, padding, dilation, extra)
        if out >= 1:
            assert conv_output_size(out, f, stride, padding, dilation) == n


@pytest.mark.parametrize("f, dilation", [(1, 1), (2, 1), (3, 2), (4, 3)])
def test_padding_modes(f, dilation):
    for n in range(max(1, dilation * (f - 1)), 9):
        (same,) = padding_pairs("op", "same", (f,), (1,), (dilation,))
        assert conv_output_size(n, f, 1, same, dilation) == n
        assert same[1] - same[0] in (0, 1)  # the odd one after, as PyTorch
        (full,) = padding_pairs("op", "full", (f,), (1,), (dilation,))
        assert conv_output_size(n, f, 1, full, dilation) == n + dilation * (f - 1)
        assert padding_pairs("op", "valid", (f,), (1,), (dilation,)) == ((0, 0),)
    assert padding_pairs("op", (1, 2), (f, f), (1, 1), (1, 1)) == ((1, 1), (2, 2))


def test_layer_and_op_resolve_padding_modes_alike():
    x = mg.randn(1, 2, 7, 6)
    for mode in ("same", "full", "valid"):
        m = nn.Conv2d(2, 3, (4, 3), padding=mode, dilation=(1, 2), padding_mode="zeros")
        y = m(x)
        assert y.shape == F.conv2d(x, m.weight, m.bias, padding=mode, dilation=(1, 2)).shape
        reflected = nn.Conv2d(2, 3, (4, 3), padding=mode, dilation=(1, 2),
                              padding_mode="reflect") if mode != "full" else None
        if reflected is not None:
            assert reflected(x).shape == y.shape
    with pytest.raises(ValueError, match="stride 1"):
        nn.Conv2d(2, 3, 3, padding="same", stride=2)
    with pytest.raises(ValueError, match="stride 1"):
        F.conv2d(x, mg.zeros(3, 2, 3, 3), padding="same", stride=2)


# -- Function names ------------------------------------------------------------------------------


def _subclasses(base):
    out, todo = set(), [base]
    while todo:
        for c in todo.pop().__subclasses__():
            out.add(c)
            todo.append(c)
    return {c for c in out if c.__module__.startswith("minigrad.")}


def test_functions_are_named_apart_from_modules():
    functions = {c.__name__ for c in _subclasses(Function)}
    modules = {c.__name__ for c in _subclasses(nn.Module)}
    assert all(name.endswith("Fn") for name in functions), sorted(functions)
    assert not functions & modules


def test_nodes_show_the_name_without_the_suffix():
    x = mg.randn(1, 1, 4, 4, requires_grad=True)
    y = F.conv2d(x, mg.randn(1, 1, 3, 3))
    assert type(y.grad_fn).__name__ == "Conv2dFn"
    assert repr(y.grad_fn) == "<Conv2dBackward>"
    assert "grad_fn=<Conv2dBackward>" in repr(y)
