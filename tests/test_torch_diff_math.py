"""Differential tests against PyTorch (float64) for issue 14's elementwise maths, activations,
integer and bitwise ops, and type promotion.

Every op's forward and gradient (``sum(out * cotangent)`` with a drawn cotangent) are compared
with ``torch``'s on Hypothesis-drawn inputs: shapes with size-0 and size-1 axes and broadcasting,
and inputs that are non-contiguous views (transposed or strided slices of a larger array, shared
with minigrad through ``from_numpy``). The conventions at kinks are compared on explicit points
(``pow`` at 0, ``hardswish`` at +-3, ``floor`` at integers, ...). Integer and bitwise ops are
compared exactly over the integer dtypes, and the result dtype of every binary op over a grid of
operand kinds (tensor, 0-d tensor, Python scalar) and dtypes against ``torch.result_type`` and
torch's own result. Skipped when torch is not installed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigrad as mg
import minigrad.nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional


# ---------------------------------------------------------------------------------------------
# Drawing inputs
# ---------------------------------------------------------------------------------------------

shapes_with_empty = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)


@st.composite
def laid_out(draw, shape, lo, hi, dtype=np.float64):
    """A float array of ``shape`` with values in [lo, hi], as a contiguous array, a transposed
    view or a strided slice of a larger array (both non-contiguous)."""
    elements = st.floats(lo, hi, allow_nan=False, allow_infinity=False, allow_subnormal=False)
    # non-contiguous first: Hypothesis draws the first choice most often (and shrinks to it)
    layout = draw(st.sampled_from(["transposed", "strided", "contiguous"]))
    if layout == "transposed" and len(shape) < 2:
        layout = "strided"
    if layout == "transposed":
        base = draw(hnp.arrays(dtype, shape[::-1], elements=elements))
        return base.T
    if layout == "strided" and len(shape) >= 1:
        big = (2 * shape[0],) + tuple(shape[1:])
        base = draw(hnp.arrays(dtype, big, elements=elements))
        return base[::2]
    return draw(hnp.arrays(dtype, shape, elements=elements))


def _mg(a: np.ndarray, grad: bool) -> mg.Tensor:
    """A minigrad tensor sharing ``a``'s (possibly non-contiguous) storage."""
    t = mg.from_numpy(a)
    return t.requires_grad_() if grad else t


def _torch(a: np.ndarray, grad: bool):
    return torch.tensor(a.copy(order="C"), requires_grad=grad)


def _close(got, want, what, rtol=1e-10, atol=1e-12):
    want = want.detach().numpy() if hasattr(want, "detach") else np.asarray(want)
    got = got.numpy() if isinstance(got, mg.Tensor) else np.asarray(got)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != torch's {want.shape}"
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype} != torch's {want.dtype}"
    if got.dtype.kind in "biu":
        np.testing.assert_array_equal(got, want, err_msg=what)
    else:
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, equal_nan=True, err_msg=what)


def _compare(mg_fn, torch_fn, arrays, grad_mask, data, what, rtol=1e-10, atol=1e-12):
    """Forward and (where ``grad_mask``) the gradient of sum(out * cot) against torch."""
    xs = [_mg(a, g) for a, g in zip(arrays, grad_mask)]
    ts = [_torch(a, g) for a, g in zip(arrays, grad_mask)]
    out, want = mg_fn(*xs), torch_fn(*ts)
    _close(out, want, f"{what}: forward", rtol, atol)
    if not any(grad_mask) or not want.requires_grad:
        return
    cot = data.draw(hnp.arrays(np.float64, want.shape, elements=st.floats(-1, 1)), label="cot")
    (out * mg.tensor(cot)).sum().backward()
    (want * torch.tensor(cot)).sum().backward()
    for i, (x, t) in enumerate(zip(xs, ts)):
        if grad_mask[i]:
            got = x.grad if x.grad is not None else mg.zeros_like(x)
            w = t.grad if t.grad is not None else torch.zeros_like(t)
            _close(got, w, f"{what}: gradient of input {i}", rtol, atol)


# ---------------------------------------------------------------------------------------------
# Unary ops
# ---------------------------------------------------------------------------------------------


# torch's float64 hardsigmoid backward multiplies by the float32 constant 1/6 (relative error
# 3e-8); minigrad's is exact, so hardsigmoid gradients are compared to that precision
TORCH_SIXTH = 1e-7


@dataclass(frozen=True)
class Unary:
    name: str
    mg_fn: Any
    torch_fn: Any
    lo: float = -3.0
    hi: float = 3.0
    grad: bool = True
    method: bool = True  # also compare the Tensor method x.name()
    rtol: float = 1e-10


def _u(name, lo=-3.0, hi=3.0, grad=True, method=True):
    return Unary(name, getattr(mg, name), getattr(torch, name), lo, hi, grad, method)


UNARY = [
    _u("tan", -1.4, 1.4), _u("asin", -0.99, 0.99), _u("acos", -0.99, 0.99), _u("atan"),
    _u("sinh"), _u("cosh"), _u("asinh"), _u("acosh", 1.01, 5), _u("atanh", -0.99, 0.99),
    _u("arcsin", -0.99, 0.99), _u("arccos", -0.99, 0.99), _u("arctan"), _u("arcsinh"),
    _u("arccosh", 1.01, 5), _u("arctanh", -0.99, 0.99),
    _u("log2", 0.01, 5), _u("log10", 0.01, 5), _u("log1p", -0.99, 5), _u("expm1"),
    _u("exp2"), _u("rsqrt", 0.01, 5), _u("reciprocal", 0.1, 5), _u("square"),
    _u("erf"), _u("erfc"), _u("erfinv", -0.999, 0.999),
    _u("floor"), _u("ceil"), _u("trunc"), _u("fix"), _u("round"), _u("frac"),
    _u("isnan", grad=False), _u("isinf", grad=False), _u("isfinite", grad=False),
    _u("signbit", grad=False),
    Unary("round_decimals", lambda x: mg.round(x, decimals=2),
          lambda t: torch.round(t, decimals=2), method=False),
    Unary("hardsigmoid", F.hardsigmoid, TF.hardsigmoid, -5, 5, method=False, rtol=TORCH_SIXTH),
    Unary("hardswish", F.hardswish, TF.hardswish, -5, 5, method=False),
    Unary("softsign", F.softsign, TF.softsign, method=False),
    Unary("mish", F.mish, TF.mish, -25, 25, method=False),
    Unary("tanhshrink", F.tanhshrink, TF.tanhshrink, method=False),
    Unary("softshrink", F.softshrink, TF.softshrink, method=False),
    Unary("softshrink_lambd", lambda x: F.softshrink(x, 1.2), lambda t: TF.softshrink(t, 1.2),
          method=False),
    Unary("hardshrink", F.hardshrink, TF.hardshrink, method=False),
    Unary("threshold", lambda x: F.threshold(x, 0.3, -2.0),
          lambda t: TF.threshold(t, 0.3, -2.0), method=False),
    Unary("pow_scalar", lambda x: x**2.5, lambda t: t**2.5, 0.0, 3.0, method=False),
    Unary("pow_int_scalar", lambda x: x**3, lambda t: t**3, method=False),
    Unary("rpow", lambda x: 0.7**x, lambda t: 0.7**t, method=False),
    Unary("clip_min_above_max", lambda x: x.clip(1.0, -1.0), lambda t: t.clip(1.0, -1.0),
          method=False),
    Unary("mod_scalar", lambda x: x % 0.7, lambda t: t % 0.7, method=False),
    # torch has no derivative for remainder(Scalar, Tensor): forward only
    Unary("rmod_scalar", lambda x: 2.5 % x, lambda t: 2.5 % t, 0.3, 3, grad=False, method=False),
    Unary("floordiv_scalar", lambda x: x // 0.7, lambda t: torch.div(t, 0.7, rounding_mode="floor"),
          method=False),
]


@pytest.mark.parametrize("spec", UNARY, ids=[s.name for s in UNARY])
@given(data=st.data())
def test_unary_matches_torch(spec, data):
    shape = data.draw(shapes_with_empty, label="shape")
    a = data.draw(laid_out(shape, spec.lo, spec.hi), label="input")
    _compare(spec.mg_fn, spec.torch_fn, [a], [spec.grad], data, spec.name, rtol=spec.rtol)
    if spec.method:
        _compare(lambda x: getattr(x, spec.name)(), lambda t: getattr(t, spec.name)(), [a],
                 [spec.grad], data, f"Tensor.{spec.name}")


# ---------------------------------------------------------------------------------------------
# Binary (and ternary) ops
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Nary:
    name: str
    mg_fn: Any
    torch_fn: Any
    n: int = 2
    lo: float = -3.0
    hi: float = 3.0
    grad: tuple[bool, ...] = (True, True)
    away_from_zero: tuple[bool, ...] = (False, False)


NARY = [
    Nary("atan2", mg.atan2, torch.atan2, away_from_zero=(False, True)),
    Nary("copysign", mg.copysign, torch.copysign),
    Nary("logaddexp", mg.logaddexp, torch.logaddexp),
    Nary("hypot", mg.hypot, torch.hypot, away_from_zero=(True, False)),
    Nary("lerp", mg.lerp, torch.lerp, 3, grad=(True, True, True)),
    Nary("lerp_method", lambda a, b: a.lerp(b, 0.3), lambda a, b: a.lerp(b, 0.3)),
    Nary("remainder", mg.remainder, torch.remainder, away_from_zero=(False, True)),
    Nary("fmod", mg.fmod, torch.fmod, away_from_zero=(False, True)),
    Nary("mod_operator", lambda a, b: a % b, lambda a, b: a % b, away_from_zero=(False, True)),
    # torch raises "derivative not implemented" for floor_divide's backward: forward only
    Nary("floordiv_operator", lambda a, b: a // b, lambda a, b: a // b, grad=(False, False),
         away_from_zero=(False, True)),
    Nary("div_trunc", lambda a, b: mg.div(a, b, rounding_mode="trunc"),
         lambda a, b: torch.div(a, b, rounding_mode="trunc"), away_from_zero=(False, True)),
    Nary("div_floor", lambda a, b: a.div(b, rounding_mode="floor"),
         lambda a, b: a.div(b, rounding_mode="floor"), away_from_zero=(False, True)),
    Nary("pow", lambda a, b: a**b, lambda a, b: a**b, lo=0.1, hi=2.5),
    Nary("isclose", lambda a, b: mg.isclose(a, b, rtol=0.1, atol=0.05),
         lambda a, b: torch.isclose(a, b, rtol=0.1, atol=0.05), grad=(False, False)),
    Nary("where", lambda a, b: mg.where(a > b, a, b), lambda a, b: torch.where(a > b, a, b)),
]


@st.composite
def _nary_arrays(draw, spec):
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=spec.n, min_dims=0, max_dims=3,
                                                    min_side=0, max_side=3))
    arrays = []
    for i, shape in enumerate(shapes.input_shapes):
        a = draw(laid_out(shape, spec.lo, spec.hi))
        if i < len(spec.away_from_zero) and spec.away_from_zero[i]:
            a = np.where(np.abs(a) < 0.2, np.where(a < 0, -0.2, 0.2), a)
        arrays.append(a)
    return arrays


@pytest.mark.parametrize("spec", NARY, ids=[s.name for s in NARY])
@given(data=st.data())
def test_nary_matches_torch(spec, data):
    arrays = data.draw(_nary_arrays(spec), label="inputs")
    grad = spec.grad if len(spec.grad) == spec.n else spec.grad + (spec.grad[-1],) * spec.n
    _compare(spec.mg_fn, spec.torch_fn, arrays, list(grad[: spec.n]), data, spec.name)


@pytest.mark.parametrize("dim", [0, 1, -1])
@given(data=st.data())
def test_softmin_and_glu_match_torch(dim, data):
    a = data.draw(laid_out((4, 2, 6), -3, 3), label="input")
    _compare(lambda x: F.softmin(x, dim), lambda t: TF.softmin(t, dim), [a], [True], data,
             "softmin")
    _compare(lambda x: F.glu(x, dim), lambda t: TF.glu(t, dim), [a], [True], data, "glu")
    _compare(lambda x: mg.nn.Softmin(dim)(x), lambda t: torch.nn.Softmin(dim)(t), [a], [True],
             data, "nn.Softmin")
    _compare(lambda x: mg.nn.GLU(dim)(x), lambda t: torch.nn.GLU(dim)(t), [a], [True], data,
             "nn.GLU")


MODULES = [("Hardsigmoid", ()), ("Hardswish", ()), ("Softsign", ()), ("Mish", ()),
           ("Tanhshrink", ()), ("Softshrink", (0.8,)), ("Hardshrink", (0.3,)),
           ("Threshold", (0.1, 5.0))]


@pytest.mark.parametrize("name,args", MODULES, ids=[m[0] for m in MODULES])
def test_activation_modules_match_torch(name, args):
    a = np.linspace(-5, 5, 41).reshape(1, 41)
    x, t = mg.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    got, want = getattr(mg.nn, name)(*args)(x), getattr(torch.nn, name)(*args)(t)
    _close(got, want, f"nn.{name}")
    got.sum().backward()
    want.sum().backward()
    _close(x.grad, t.grad, f"nn.{name} gradient", rtol=TORCH_SIXTH if "sigmoid" in name else 1e-10)
    assert repr(getattr(mg.nn, name)(*args)) == repr(getattr(torch.nn, name)(*args))


# ---------------------------------------------------------------------------------------------
# Conventions at kinks and edge values, on explicit points
# ---------------------------------------------------------------------------------------------

KINK_POINTS = [
    ("hardsigmoid", F.hardsigmoid, TF.hardsigmoid, [-3.0, 3.0, -4.0, 0.0, 4.0]),
    ("hardswish", F.hardswish, TF.hardswish, [-3.0, 3.0, -4.0, 0.0, 4.0]),
    ("softshrink", F.softshrink, TF.softshrink, [-0.5, 0.5, 0.0, 1.0]),
    ("hardshrink", F.hardshrink, TF.hardshrink, [-0.5, 0.5, 0.0, 1.0]),
    ("threshold", lambda x: F.threshold(x, 1.0, 0.0), lambda t: TF.threshold(t, 1.0, 0.0),
     [1.0, 0.0, 2.0]),
    ("softsign", F.softsign, TF.softsign, [0.0, -0.0]),
    ("floor", mg.floor, torch.floor, [-1.0, 0.0, 2.0, 2.5]),
    ("round", mg.round, torch.round, [0.5, 1.5, 2.5, -0.5, -1.5]),
    ("frac", mg.frac, torch.frac, [-1.0, 0.0, 2.0, -2.5]),
    ("clip", lambda x: x.clip(-1.0, 1.0), lambda t: t.clip(-1.0, 1.0), [-1.0, 1.0, 0.0, 2.0]),
    ("clip_min_above_max", lambda x: mg.clip(x, 1.0, -1.0), lambda t: torch.clip(t, 1.0, -1.0),
     [-1.0, 1.0, 0.0, 2.0]),
    ("pow_2", lambda x: x**2.0, lambda t: t**2.0, [0.0, -1.0]),
    ("pow_1", lambda x: x**1, lambda t: t**1, [0.0, -1.0]),
    ("pow_0", lambda x: x**0, lambda t: t**0, [0.0, -1.0]),
    ("pow_half", lambda x: x**0.5, lambda t: t**0.5, [0.0, 1.0]),
    ("pow_minus1", lambda x: x**-1.0, lambda t: t**-1.0, [0.0, 2.0]),
    ("zero_base", lambda x: 0.0**x, lambda t: 0.0**t, [0.0, 1.0, 2.5, -1.0]),
    ("two_base", lambda x: 2.0**x, lambda t: 2.0**t, [0.0, -1.0]),
    ("copysign_zero", lambda x: mg.copysign(x, -1.0), lambda t: torch.copysign(t, -1.0),
     [0.0, -0.0, 1.0]),
    ("erfinv_edges", mg.erfinv, torch.erfinv, [-1.0, 1.0, 0.0, 1.5]),
    ("atanh_edges", mg.atanh, torch.atanh, [-1.0, 1.0, 0.0]),
    ("log2_zero", mg.log2, torch.log2, [0.0, -1.0]),
    ("predicates_special", lambda x: mg.isfinite(x) & ~mg.signbit(x),
     lambda t: torch.isfinite(t) & ~torch.signbit(t),
     [float("nan"), float("inf"), -float("inf"), -0.0, 0.0, 1.0]),
]


@pytest.mark.parametrize("name,mg_fn,torch_fn,points", KINK_POINTS,
                         ids=[k[0] for k in KINK_POINTS])
def test_conventions_at_kinks_match_torch(name, mg_fn, torch_fn, points):
    a = np.array(points)
    x, t = mg.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    with np.errstate(all="ignore"):
        got, want = mg_fn(x), torch_fn(t)
    _close(got, want, f"{name}: forward")
    zeros = want.detach().numpy() == 0
    np.testing.assert_array_equal(np.signbit(got.numpy()[zeros]),
                                  np.signbit(want.detach().numpy()[zeros]),
                                  err_msg=f"{name}: signs of zeros")
    if want.requires_grad:
        with np.errstate(all="ignore"):
            got.sum().backward()
        want.sum().backward()
        rtol = TORCH_SIXTH if "sigmoid" in name else 1e-10
        _close(x.grad, t.grad, f"{name}: gradient", rtol=rtol)


@pytest.mark.parametrize("a,b", [(0.0, 2.0), (0.0, 1.0), (0.0, 0.0), (0.0, 0.5), (0.0, -1.0),
                                 (-2.0, 2.0), (-2.0, 0.5), (2.0, 0.0), (0.0, -0.0)])
def test_pow_gradients_of_both_inputs_match_torch(a, b):
    x, y = mg.tensor(a, dtype=mg.float64, requires_grad=True), mg.tensor(b, dtype=mg.float64,
                                                                           requires_grad=True)
    tx = torch.tensor(a, dtype=torch.float64, requires_grad=True)
    ty = torch.tensor(b, dtype=torch.float64, requires_grad=True)
    with np.errstate(all="ignore"):
        (x**y).backward()
    (tx**ty).backward()
    _close(x.grad, tx.grad, f"d/da of {a} ** {b}")
    _close(y.grad, ty.grad, f"d/db of {a} ** {b}")


# ---------------------------------------------------------------------------------------------
# Integer and bitwise ops: exact, over the integer dtypes
# ---------------------------------------------------------------------------------------------

INT_DTYPES = [np.int64, np.int32, np.int16, np.int8, np.uint8]

INT_BINARY = [
    ("floordiv", lambda a, b: a // b, True),
    ("mod", lambda a, b: a % b, True),
    ("fmod", lambda a, b: a.fmod(b), True),
    ("remainder", lambda a, b: a.remainder(b), True),
    ("div_trunc", lambda a, b: a.div(b, rounding_mode="trunc"), True),
    ("div_floor", lambda a, b: a.div(b, rounding_mode="floor"), True),
    ("true_div", lambda a, b: a / b, True),
    ("and", lambda a, b: a & b, False),
    ("or", lambda a, b: a | b, False),
    ("xor", lambda a, b: a ^ b, False),
    ("bitwise_and", lambda a, b: a.bitwise_and(b), False),
    ("lshift", lambda a, b: a << b, False),
    ("rshift", lambda a, b: a >> b, False),
    ("logical_and", lambda a, b: a.logical_and(b), False),
    ("logical_or", lambda a, b: a.logical_or(b), False),
    ("logical_xor", lambda a, b: a.logical_xor(b), False),
    ("pow", lambda a, b: a**b, False),
]


@st.composite
def _int_pair(draw, dtype, name, nonzero_b):
    info = np.iinfo(dtype)
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_side=0, max_side=3))
    sa, sb = shapes.input_shapes
    lo, hi = max(info.min, -100), min(info.max, 100)
    a = draw(hnp.arrays(dtype, sa, elements=st.integers(lo, hi)))
    if name in ("lshift", "rshift"):
        bits = 8 * np.dtype(dtype).itemsize
        b = draw(hnp.arrays(dtype, sb, elements=st.integers(0, bits - 1)))
    elif name == "pow":
        b = draw(hnp.arrays(dtype, sb, elements=st.integers(0, 3)))
    else:
        b = draw(hnp.arrays(dtype, sb, elements=st.integers(lo, hi)))
        if nonzero_b:
            b = np.where(b == 0, 1, b).astype(dtype)
    return a, b


def _noncontiguous(a: np.ndarray) -> np.ndarray:
    """``a``'s values as a non-contiguous view: transposed storage, or every second row of a
    larger array (a 0-d array as it is)."""
    if a.ndim >= 2:
        return np.ascontiguousarray(a.T).T
    if a.ndim == 1:
        return np.repeat(a, 2)[::2]
    return a


@pytest.mark.parametrize("dtype", INT_DTYPES, ids=[np.dtype(d).name for d in INT_DTYPES])
@pytest.mark.parametrize("name,op,nonzero_b", INT_BINARY, ids=[o[0] for o in INT_BINARY])
@settings(max_examples=15)
@given(data=st.data())
def test_integer_ops_match_torch_exactly(name, op, nonzero_b, dtype, data):
    a, b = data.draw(_int_pair(dtype, name, nonzero_b), label="operands")
    want = op(torch.tensor(a), torch.tensor(b))
    _close(op(mg.tensor(a), mg.tensor(b)), want, name)
    _close(op(_mg(_noncontiguous(a), False), _mg(_noncontiguous(b), False)), want,
           f"{name} (non-contiguous operands)")


@pytest.mark.parametrize("dtype", INT_DTYPES + [np.bool_],
                         ids=[np.dtype(d).name for d in INT_DTYPES + [np.bool_]])
def test_unary_integer_ops_match_torch(dtype):
    a = np.array([0, 1, 2, 5, 7] if dtype in (np.uint8, np.bool_) else [-7, -1, 0, 1, 5],
                 dtype=dtype)
    x, t = mg.tensor(a), torch.tensor(a)
    _close(~x, ~t, "invert")
    _close(x.bitwise_not(), t.bitwise_not(), "bitwise_not")
    _close(x.logical_not(), t.logical_not(), "logical_not")
    _close(mg.isnan(x), torch.isnan(t), "isnan")
    _close(mg.isfinite(x), torch.isfinite(t), "isfinite")
    _close(mg.signbit(x), torch.signbit(t), "signbit")
    _close(mg.exp2(x), torch.exp2(t), "exp2 (int -> float32)", rtol=1e-6)
    if dtype is not np.bool_:  # torch has no floor or square for bool tensors
        _close(mg.square(x), torch.square(t), "square")
        _close(x.floor(), t.floor(), "floor")


@pytest.mark.parametrize("expr", [
    lambda m, x: 6 & x, lambda m, x: 6 | x, lambda m, x: 6 ^ x, lambda m, x: 3 << x,
    lambda m, x: 100 >> x, lambda m, x: 7 // (x + 1), lambda m, x: -7 % (x + 1),
    lambda m, x: x & True, lambda m, x: (x > 2) ^ True,
    lambda m, x: m.fmod(-x - 3, x + 1), lambda m, x: m.remainder(-7, x + 1),
    lambda m, x: 2 ** x, lambda m, x: x ** 2, lambda m, x: 0.7 ** x, lambda m, x: x ** 2.5,
    lambda m, x: x * 2.5, lambda m, x: x / 2, lambda m, x: x + True,
    lambda m, x: x << 64, lambda m, x: (-x) >> 64, lambda m, x: x << -1,
    lambda m, x: m.where(x > 2, x, 2.5), lambda m, x: x.clip(min=2.5), lambda m, x: x.clip(2, 3),
    lambda m, x: x == 2.0, lambda m, x: x < 2.5,
])
def test_reflected_and_scalar_forms_match_torch(expr):
    a = np.array([0, 1, 2, 3, 4, 5], dtype=np.int64)
    got, want = expr(mg, mg.tensor(a)), expr(torch, torch.tensor(a))
    _close(got, want, "expression", rtol=1e-6)


def test_integer_pow_with_negative_exponent_tensor_matches_torch():
    a, b = np.array([0, 1, -1, 2, -2, -1]), np.array([-1, -1, -1, -2, -3, -2])
    _close(mg.tensor(a) ** mg.tensor(b), torch.tensor(a) ** torch.tensor(b), "int pow")


def test_integer_errors_like_torch():
    x = mg.tensor([1, 2, 3])
    with pytest.raises(ValueError, match="negative integer powers"):
        x ** -1
    for op in (lambda t: t // 0, lambda t: t % 0, lambda t: t.fmod(0),
               lambda t: t.div(t - 2, rounding_mode="trunc")):
        with pytest.raises(ZeroDivisionError):
            op(x)
        with pytest.raises(RuntimeError, match="ZeroDivisionError"):
            op(torch.tensor([1, 2, 3]))
    f = mg.tensor([1.0, 2.0])
    for op in (lambda t: t & 1, lambda t: 1 | t, lambda t: t ^ t, lambda t: ~t,
               lambda t: t << 1):
        with pytest.raises(TypeError, match="bitwise"):
            op(f)
        with pytest.raises((RuntimeError, TypeError)):  # torch: NotImplementedError, TypeError
            op(torch.tensor([1.0, 2.0]))


# ---------------------------------------------------------------------------------------------
# Type promotion: minigrad.result_type and every op's output dtype against torch
# ---------------------------------------------------------------------------------------------

DTYPES = [np.bool_, np.uint8, np.int8, np.int16, np.int32, np.int64, np.float32, np.float64]


def _operands():
    """(label, minigrad operand, torch operand) for each dtype as a 1-D and a 0-d tensor, and
    the Python scalars."""
    out = []
    for dt in DTYPES:
        v = np.array([1, 2], dtype=dt) if dt is not np.bool_ else np.array([True, True])
        out.append((f"{np.dtype(dt).name}[2]", mg.tensor(v), torch.tensor(v)))
        out.append((f"{np.dtype(dt).name}[]", mg.tensor(v[0]), torch.tensor(v[0])))
    for s in (True, 2, 2.5):
        out.append((repr(s), s, s))
    return out


OPERANDS = _operands()
PAIRS = [(a, b) for a in OPERANDS for b in OPERANDS
         if isinstance(a[1], mg.Tensor) or isinstance(b[1], mg.Tensor)]

def _torch_like(fn, a, b):
    try:
        return fn(a, b), None
    except Exception as e:  # noqa: BLE001 - any error counts as "refused"
        return None, e


@pytest.mark.parametrize("a,b", PAIRS, ids=[f"{a[0]}-{b[0]}" for a, b in PAIRS])
def test_result_type_matches_torch(a, b):
    want = torch.result_type(a[2], b[2])
    assert mg.result_type(a[1], b[1]) == np.dtype(str(want).removeprefix("torch.")), \
        f"result_type({a[0]}, {b[0]})"


@pytest.mark.parametrize("op", ["add", "mul", "sub", "truediv", "pow", "eq", "maximum", "where",
                                "atan2", "remainder", "floordiv"])
def test_binary_op_dtypes_match_torch(op):
    def run(lib, x, y):
        if op == "maximum":
            xt = x if isinstance(x, mg.Tensor | torch.Tensor) else lib.tensor(x)
            yt = y if isinstance(y, mg.Tensor | torch.Tensor) else lib.tensor(y)
            return lib.maximum(xt, yt)
        if op == "where":
            return lib.where(lib.tensor(True), x, y)
        if op == "atan2":
            xt = x if isinstance(x, mg.Tensor | torch.Tensor) else lib.tensor(x)
            return lib.atan2(xt, y if isinstance(y, mg.Tensor | torch.Tensor) else lib.tensor(y))
        if op == "remainder":
            return lib.remainder(x, y)
        if op == "floordiv":
            return x // y
        return {"add": lambda: x + y, "mul": lambda: x * y, "sub": lambda: x - y,
                "truediv": lambda: x / y, "pow": lambda: x**y, "eq": lambda: x == y}[op]()

    mismatches = []
    for a, b in PAIRS:
        want, terr = _torch_like(lambda x, y: run(torch, x, y), a[2], b[2])
        got, merr = _torch_like(lambda x, y: run(mg, x, y), a[1], b[1])
        if terr is not None or merr is not None:
            if (terr is None) != (merr is None):
                mismatches.append(f"{a[0]} {op} {b[0]}: torch "
                                  f"{'raised ' + repr(terr) if terr else want.dtype}, minigrad "
                                  f"{'raised ' + repr(merr) if merr else got.dtype}")
            continue
        wd = np.dtype(str(want.dtype).removeprefix("torch."))
        if got.dtype != wd or got.shape != tuple(want.shape):
            mismatches.append(f"{a[0]} {op} {b[0]}: torch {wd}{tuple(want.shape)}, minigrad "
                              f"{got.dtype}{got.shape}")
    assert not mismatches, "\n".join(mismatches)
