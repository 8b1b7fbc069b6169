"""PyTorch lines give PyTorch's answer or a clear error (issue 12, sections 2 and 3):
``max``/``min`` with ``dim``, non-numeric data, ``Tensor.to('gpu')``, the PyTorch method names
(``clone``, ``contiguous``, ``relu``, ``softmax``, ``type`` ...), ``mg.as_tensor`` and the hints
for PyTorch names minigrad does not have. Compared with torch where it is installed."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad.testing import gradcheck

RNG = np.random.default_rng(12)


def _torch():
    return pytest.importorskip("torch")


def _ties(shape):
    """Small integers as floats: rows with tied maxima and minima are common."""
    return RNG.integers(0, 3, size=shape).astype(np.float64)


# -- max / min ---------------------------------------------------------------------------------
@pytest.mark.parametrize("op", ["max", "min"])
@pytest.mark.parametrize("shape,dim", [((4, 5), 1), ((4, 5), 0), ((3, 4, 5), -1), ((3, 4, 5), 1),
                                       ((6,), 0)])
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("how", ["positional", "keyword", "function"])
def test_max_min_with_dim_match_torch(op, shape, dim, keepdim, how):
    torch = _torch()
    a = _ties(shape)
    x = mg.tensor(a, requires_grad=True)
    if how == "positional":
        out = getattr(x, op)(dim, keepdim)
    elif how == "keyword":
        out = getattr(x, op)(dim=dim, keepdim=keepdim)
    else:
        out = getattr(mg, op)(x, dim, keepdim=keepdim)
    t = torch.tensor(a, requires_grad=True)
    want = getattr(t, op)(dim, keepdim)
    values, indices = out  # unpacks as a pair
    assert out.values is values and out.indices is indices
    np.testing.assert_array_equal(values.numpy(), want.values.detach().numpy())
    np.testing.assert_array_equal(indices.numpy(), want.indices.numpy())
    assert indices.dtype == mg.int64 and values.shape == tuple(want.values.shape)
    # the gradient goes to the index returned, ties included (not shared as without dim)
    cot = RNG.standard_normal(values.shape)
    (values * mg.tensor(cot)).sum().backward()
    (want.values * torch.tensor(cot)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy())


def test_max_with_dim_gives_class_predictions():
    logits = mg.tensor([[0.1, 2.0, -1.0], [3.0, 0.0, 0.5]])
    _, pred = logits.max(1)
    np.testing.assert_array_equal(pred.numpy(), [1, 0])
    assert (pred == mg.tensor([1, 0])).all()


@pytest.mark.parametrize("op", ["max", "min"])
def test_max_min_axis_is_numpy_values_only(op):
    a = RNG.standard_normal((3, 4, 5))
    x = mg.tensor(a)
    for axis in (1, (0, 2), None):
        out = getattr(x, op)(axis=axis)
        assert isinstance(out, mg.Tensor)
        np.testing.assert_array_equal(out.numpy(), getattr(np, op)(a, axis=axis))
    out = getattr(mg, op)(x, axis=1, keepdims=True)
    np.testing.assert_array_equal(out.numpy(), getattr(np, op)(a, axis=1, keepdims=True))
    # no dim: the full reduction; ties share the gradient, as torch's max() without dim
    full = getattr(x, op)()
    assert isinstance(full, mg.Tensor) and full.shape == ()
    assert full.item() == getattr(np, op)(a)


def test_max_without_dim_shares_ties_like_torch():
    torch = _torch()
    a = np.array([[1.0, 3.0, 3.0], [0.0, 3.0, 2.0]])
    x, t = mg.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    x.max().backward()
    t.max().backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy())
    x.grad = None
    t.grad = None
    x.amax(1).sum().backward()
    t.amax(1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy())


def test_max_with_dim_gradchecks():
    a = RNG.permutation(20).reshape(4, 5).astype(np.float64)  # no ties: differentiable
    assert gradcheck(lambda t: t.max(1).values, [mg.tensor(a, requires_grad=True)])
    assert gradcheck(lambda t: mg.min(t, dim=0, keepdim=True).values,
                     [mg.tensor(a, requires_grad=True)])


def test_max_with_other_tensor_is_elementwise_like_torch():
    torch = _torch()
    a, b = RNG.standard_normal((2, 3)), RNG.standard_normal((2, 3))
    np.testing.assert_array_equal(mg.max(mg.tensor(a), mg.tensor(b)).numpy(),
                                  torch.max(torch.tensor(a), torch.tensor(b)).numpy())
    np.testing.assert_array_equal(mg.tensor(a).min(mg.tensor(b)).numpy(), np.minimum(a, b))


def test_amax_amin_match_torch():
    torch = _torch()
    a = _ties((3, 4, 5))
    for dim in ((0, 2), 1, -1):
        for op in ("amax", "amin"):
            got = getattr(mg, op)(mg.tensor(a), dim, keepdim=True).numpy()
            want = getattr(torch, op)(torch.tensor(a), dim, keepdim=True).numpy()
            np.testing.assert_array_equal(got, want)


def test_max_min_dim_edge_cases_match_torch():
    torch = _torch()
    # 0-d: dim 0 is allowed and gives the value and index 0
    v, i = mg.tensor(3.0).max(0)
    tv, ti = torch.tensor(3.0).max(0)
    assert v.item() == tv.item() and i.item() == ti.item() == 0 and v.shape == i.shape == ()
    # integer tensors: int values and indices, as torch
    v, i = mg.tensor([[1, 5, 5], [7, 0, 2]]).max(1)
    tv, ti = torch.tensor([[1, 5, 5], [7, 0, 2]]).max(1)
    assert v.dtype == mg.int64
    np.testing.assert_array_equal(v.numpy(), tv.numpy())
    np.testing.assert_array_equal(i.numpy(), ti.numpy())
    # NaN wins, and its index is returned
    v, i = mg.tensor([[1.0, np.nan, 0.0]]).max(1)
    tv, ti = torch.tensor([[1.0, np.nan, 0.0]]).max(1)
    assert np.isnan(v.item()) and i.item() == ti.item() == 1
    # an empty non-reduced axis is fine, an empty reduced one is not
    v, i = mg.zeros(0, 3).max(1)
    assert v.shape == i.shape == (0,)
    with pytest.raises(ValueError, match="max: dim 0 .* is empty"):
        mg.zeros(0, 3).max(0)


def test_max_min_dim_errors_are_clear():
    x = mg.rand(3, 4)
    with pytest.raises(TypeError, match=r"max: dim must be an int.*amax"):
        x.max((0, 1))
    with pytest.raises(TypeError, match="min: give dim .* or axis"):
        x.min(0, axis=1)
    with pytest.raises(ValueError, match="max: dim 2 is out of range"):
        x.max(2)
    with pytest.raises(ValueError, match="0-d"):
        mg.tensor(1.0).max(1)


def test_no_caller_relies_on_values_only_max():
    """Maxout calls max with axis=: its output is still a tensor of the maxima."""
    x = mg.tensor(RNG.standard_normal((2, 6)))
    out = F.maxout(x, 3)
    assert isinstance(out, mg.Tensor)
    np.testing.assert_array_equal(out.numpy(), x.numpy().reshape(2, 2, 3).max(axis=2))


# -- non-numeric data --------------------------------------------------------------------------
@pytest.mark.parametrize("data", ["hello", ["a"], [[1, "a"]], np.array(["x", "y"]),
                                  np.array([None, 1], dtype=object), [1 + 2j],
                                  np.array([b"ab"]), np.array(["2020-01-01"], dtype="M8[D]")])
def test_non_numeric_data_raises_type_error(data):
    with pytest.raises(TypeError, match="tensors hold bool, int or float numbers"):
        mg.tensor(data)
    with pytest.raises(TypeError, match="tensors hold bool, int or float numbers"):
        mg.as_tensor(data)
    if isinstance(data, np.ndarray):
        with pytest.raises(TypeError, match="from_numpy"):
            mg.from_numpy(data)


def test_non_numeric_dtype_argument_raises():
    with pytest.raises(TypeError, match="strings"):
        mg.tensor([1, 2], dtype=str)


def test_numeric_data_still_builds():
    for data, dtype in [([1, 2], mg.int64), ([1.5], mg.float32), ([True], mg.bool_),
                        (np.arange(3, dtype=np.uint8), np.uint8), (np.zeros(2), mg.float64)]:
        assert mg.tensor(data).dtype == dtype


# -- devices -----------------------------------------------------------------------------------
def test_tensor_to_unknown_device_gives_the_module_message():
    with pytest.raises(ValueError) as module_err:
        nn.Linear(2, 2).to("gpu")
    for call in (lambda: mg.zeros(2).to("gpu"), lambda: mg.zeros(2).to(device="gpu"),
                 lambda: mg.zeros(2).to("float64", "gpu")):
        with pytest.raises(ValueError) as tensor_err:
            call()
        assert str(tensor_err.value) == str(module_err.value)
        assert "'cpu', 'cuda' or 'cuda:0'" in str(tensor_err.value)
    assert mg.zeros(2).to("float64").dtype == mg.float64
    assert mg.zeros(2).to("cpu").device == "cpu"


# -- PyTorch's method names --------------------------------------------------------------------
def test_clone_is_a_differentiable_copy():
    x = mg.tensor([1.0, -2.0, 3.0], requires_grad=True)
    y = x.clone()
    assert y.data is not x.data and not np.shares_memory(y.data, x.data)
    assert not y.is_leaf
    (y * mg.tensor([1.0, 2.0, 3.0])).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 2.0, 3.0])
    c = mg.tensor([1.0, 2.0]).clone()
    c.data[0] = 9  # a copy: the original is untouched
    assert mg.clone(mg.tensor([5.0])).item() == 5.0
    assert gradcheck(lambda t: t.clone() * t, [mg.tensor(RNG.standard_normal(4),
                                                         requires_grad=True)])


def test_contiguous():
    x = mg.tensor(RNG.standard_normal((3, 4)), requires_grad=True)
    assert x.is_contiguous() and x.contiguous() is x
    t = x.T
    assert not t.is_contiguous()
    c = t.contiguous()
    assert c.is_contiguous() and c.data.flags.c_contiguous
    np.testing.assert_array_equal(c.numpy(), x.numpy().T)
    c.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones((3, 4)))


def test_activation_methods_match_torch():
    torch = _torch()
    a = RNG.standard_normal((3, 4))
    x, t = mg.tensor(a), torch.tensor(a)
    for got, want in [(x.relu(), t.relu()), (x.sigmoid(), t.sigmoid()), (x.tanh(), t.tanh()),
                      (x.softmax(1), t.softmax(1)), (x.softmax(dim=0), t.softmax(dim=0)),
                      (x.log_softmax(-1), t.log_softmax(-1))]:
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12, atol=1e-12)
    assert mg.tensor(a, dtype=mg.float32).softmax(1, dtype=mg.float64).dtype == mg.float64
    with pytest.raises(TypeError):
        x.softmax()  # dim is required, as torch's Tensor.softmax


def test_type_strings_and_casts():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    assert x.type() == "minigrad.FloatTensor"
    assert x.double().type() == "minigrad.DoubleTensor"
    assert mg.tensor([1]).type() == "minigrad.LongTensor"
    assert mg.tensor([1], dtype=mg.int32).type() == "minigrad.IntTensor"
    assert mg.tensor([True]).type() == "minigrad.BoolTensor"
    assert mg.tensor(np.zeros(1, np.uint8)).type() == "minigrad.ByteTensor"
    assert x.type(mg.float32) is x
    for arg in (mg.float64, "float64", "minigrad.DoubleTensor", "torch.DoubleTensor"):
        y = x.type(arg)
        assert y.dtype == mg.float64
    y.sum().backward()  # differentiable between floats
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0])
    assert x.type("torch.LongTensor").dtype == mg.int64
    with pytest.raises(ValueError, match="unknown tensor type"):
        x.type("torch.ComplexFloatTensor")


def test_as_tensor_shares_when_it_can():
    a = np.arange(3.0)  # float64 stays float64, as torch.as_tensor
    t = mg.as_tensor(a)
    assert t.dtype == mg.float64 and np.shares_memory(t.data, a)
    a[0] = 7
    assert t[0].item() == 7
    c = mg.as_tensor(a, dtype=mg.float32)  # a conversion must copy
    assert c.dtype == mg.float32 and not np.shares_memory(c.data, a)
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    assert mg.as_tensor(x) is x and mg.as_tensor(x, dtype=mg.float32, device="cpu") is x
    assert mg.as_tensor(x, dtype=mg.float64).grad_fn is not None  # differentiable conversion
    assert mg.as_tensor([1.0, 2.0]).dtype == mg.float32 and mg.as_tensor([1]).dtype == mg.int64


def test_as_tensor_matches_torch_dtypes():
    torch = _torch()
    for data in ([1.0, 2.0], [1, 2], [True], np.zeros(2, np.float64), np.zeros(2, np.int32)):
        assert str(mg.as_tensor(data).dtype) == str(torch.as_tensor(data).dtype).split(".")[1]


# -- hints for PyTorch names -------------------------------------------------------------------
_TARGETS = [("Tensor", lambda: mg.zeros(2), "TENSOR", "Tensor"),
            ("minigrad", lambda: mg, "MINIGRAD", "minigrad"),
            ("nn", lambda: nn, "NN", "nn"),
            ("nn.functional", lambda: F, "FUNCTIONAL", "nn.functional")]


def _table(name):
    return getattr(importlib.import_module("minigrad._hints"), name)


@pytest.mark.parametrize("label,obj,table,shown", _TARGETS, ids=[t[0] for t in _TARGETS])
def test_known_pytorch_names_get_a_hint(label, obj, table, shown):
    target, table = obj(), _table(table)
    assert table, "empty hint table"
    for name, hint in table.items():
        with pytest.raises(AttributeError) as err:
            getattr(target, name)
        assert str(err.value) == f"minigrad has no `{shown}.{name}`; {hint}"
        assert not hasattr(target, name)


@pytest.mark.parametrize("label,obj,table,shown", _TARGETS, ids=[t[0] for t in _TARGETS])
def test_hint_tables_only_name_missing_attributes(label, obj, table, shown):
    """When one of these names gets implemented, delete its hint."""
    table = _table(table)
    if label == "Tensor":
        stale = [n for n in table if hasattr(mg.Tensor, n)]
    else:
        stale = [n for n in table if n in vars(obj())]
    assert not stale, f"implemented now, remove from minigrad/_hints.py: {stale}"


def test_unknown_names_get_pythons_message():
    with pytest.raises(AttributeError, match="^'Tensor' object has no attribute 'fooo'$") as e:
        mg.zeros(2).fooo  # noqa: B018
    assert e.value.name == "fooo"
    with pytest.raises(AttributeError, match="^module 'minigrad' has no attribute 'fooo'$"):
        mg.fooo  # noqa: B018
    with pytest.raises(AttributeError, match="^module 'minigrad.nn' has no attribute 'Fooo'$"):
        nn.Fooo  # noqa: B018
    with pytest.raises(ImportError):
        from minigrad import fooo  # noqa: F401
    with pytest.raises(AttributeError, match="__array_interface__"):
        mg.zeros(2).__array_interface__  # noqa: B018


def test_pytorch_hint_examples_from_the_issue():
    with pytest.raises(AttributeError, match=r"minigrad has no `Tensor.type_as`; use "):
        mg.zeros(2).type_as  # noqa: B018
    with pytest.raises(AttributeError, match=r"minigrad has no `nn.PReLU`; not implemented yet"):
        nn.PReLU  # noqa: B018
    with pytest.raises(AttributeError, match=r"`minigrad.float`; use `mg.float32`"):
        mg.float  # noqa: B018
