"""Differential tests of the issue-14 ops (selection, scatter, scans, sorts, reductions, shape,
products) against PyTorch in float64: forward values (and indices) and the gradient of
``sum(out * cotangent)`` for every float input.

Shapes are drawn by Hypothesis with size-0 and size-1 axes, and inputs are handed to minigrad as
non-contiguous NumPy views (transposed or strided) half the time. Where PyTorch raises (an empty
dim for ``kthvalue``, say), minigrad must raise too. Values are drawn from a few integers half the
time (ties); at ties, indices and gradients are compared only for ops whose tie rule is defined
(stable sorts, cummax/cummin, mode), values always.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
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

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


# ---------------------------------------------------------------------------------------------
# drawing inputs
# ---------------------------------------------------------------------------------------------


@dataclass
class Draw:
    """One drawn call: positional inputs (NumPy arrays or plain values) and keyword arguments."""

    args: list[Any]
    kwargs: dict[str, Any] = field(default_factory=dict)
    ties: bool = False  # values may repeat


def _shape(data, min_dims=1, max_dims=3, min_side=0, max_side=4):
    return data.draw(hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                                      max_side=max_side), label="shape")


def _values(data, shape, ties=None, lo=-2.0, hi=2.0):
    """Float64 values (a few integers when ``ties``), laid out non-contiguously half the time."""
    ties = data.draw(st.booleans(), label="ties") if ties is None else ties
    n = math.prod(shape)
    if ties:
        flat = np.asarray(data.draw(st.lists(st.integers(-2, 2), min_size=n, max_size=n)),
                          dtype=np.float64)
    else:
        # no magnitudes near the smallest floats: the libraries lose precision differently
        # there (x * x underflows)
        elements = st.floats(lo, hi, width=64).filter(lambda v: v == 0 or abs(v) > 1e-8)
        flat = data.draw(hnp.arrays(np.float64, (n,), elements=elements, unique=True),
                         label="values")
    a = flat.reshape(shape)
    layout = data.draw(st.sampled_from(["c", "transposed", "strided"]), label="layout")
    if layout == "transposed" and a.ndim >= 2:
        a = np.ascontiguousarray(a.T).T  # same values, Fortran order
    elif layout == "strided":
        wide = np.zeros(shape[:-1] + (2 * shape[-1],) if shape else (2,))
        wide[..., ::2] = a
        a = wide[..., ::2] if shape else a
    return a


def _dim(data, shape):
    return data.draw(st.integers(-max(len(shape), 1), max(len(shape), 1) - 1), label="dim")


def _index(data, shape, lo, hi):
    if hi < lo:
        return np.zeros(shape, np.int64) if math.prod(shape) == 0 else None
    return data.draw(hnp.arrays(np.int64, shape, elements=st.integers(lo, hi)), label="index")


# ---------------------------------------------------------------------------------------------
# running both libraries
# ---------------------------------------------------------------------------------------------


def _mg_inputs(args):
    out = []
    for a in args:
        if isinstance(a, np.ndarray) and a.dtype == np.float64:
            out.append(mg.from_numpy(a).requires_grad_())  # keeps the non-contiguous view
        elif isinstance(a, np.ndarray):
            out.append(mg.tensor(a))
        else:
            out.append(a)
    return out


def _torch_inputs(args):
    out = []
    for a in args:
        if isinstance(a, np.ndarray) and a.dtype == np.float64:
            out.append(torch.tensor(a.copy(order="C"), requires_grad=True))
        elif isinstance(a, np.ndarray):
            out.append(torch.tensor(a))
        else:
            out.append(a)
    return out


def _outs(o):
    if isinstance(o, tuple | list):
        return list(o)
    if hasattr(o, "indices") and not isinstance(o, mg.Tensor | np.ndarray) and \
            not torch.is_tensor(o):
        return [o.values, o.indices]
    return [o]


def _as_np(o):
    if isinstance(o, mg.Tensor):
        return o.numpy()
    if torch.is_tensor(o):
        return o.detach().numpy()
    return np.asarray(o)


@dataclass
class Case:
    name: str
    draw: Callable[[Any], Draw | None]
    mg: Callable[..., Any]
    th: Callable[..., Any]
    tie_rule: bool = False  # indices/gradients are defined at ties (compare them too)
    grad: bool = True
    rtol: float = 1e-9


def _check(case: Case, d: Draw):
    torch_args = _torch_inputs(d.args)
    try:
        want = case.th(*torch_args, **d.kwargs)
    except (RuntimeError, IndexError, ValueError, TypeError) as e:
        with pytest.raises((RuntimeError, IndexError, ValueError, TypeError)):
            case.mg(*_mg_inputs(d.args), **d.kwargs)
        return str(e)
    mg_args = _mg_inputs(d.args)
    got = case.mg(*mg_args, **d.kwargs)
    gots, wants = _outs(got), _outs(want)
    assert len(gots) == len(wants), f"{case.name}: {len(gots)} outputs, torch {len(wants)}"
    exact = case.tie_rule or not d.ties
    for i, (g, w) in enumerate(zip(gots, wants)):
        gn, wn = _as_np(g), _as_np(w)
        assert gn.shape == wn.shape, f"{case.name} output {i}: shape {gn.shape} != {wn.shape}"
        if case.name == "bincount" and d.args[0].size == 0:  # PyTorch: int64 for empty input
            continue
        if wn.dtype.kind in "iub":
            assert gn.dtype.kind == wn.dtype.kind or wn.dtype == np.bool_ == gn.dtype, \
                f"{case.name} output {i}: dtype {gn.dtype}, torch {wn.dtype}"
            if exact or i == 0:
                np.testing.assert_array_equal(gn, wn, err_msg=f"{case.name} output {i}")
        else:
            assert gn.dtype == np.float64, f"{case.name} output {i}: dtype {gn.dtype}"
            np.testing.assert_allclose(gn, wn, rtol=case.rtol, atol=1e-10,
                                       err_msg=f"{case.name} output {i}")
    if not (case.grad and exact):
        return None
    diff = [(i, g, w) for i, (g, w) in enumerate(zip(gots, wants))
            if torch.is_tensor(w) and w.requires_grad]
    if not diff:
        return None
    rng = np.random.default_rng(0)
    cots = [rng.standard_normal(tuple(w.shape)) for _, _, w in diff]
    torch.autograd.backward([w for _, _, w in diff], [torch.tensor(c) for c in cots])
    mg.autograd.backward([g for _, g, _ in diff], [mg.tensor(c) for c in cots])
    for k, (m, t) in enumerate(zip(mg_args, torch_args)):
        if torch.is_tensor(t) and t.requires_grad:
            tg = np.zeros(t.shape) if t.grad is None else t.grad.numpy()
            mgg = np.zeros(m.shape) if m.grad is None else m.grad.numpy()
            np.testing.assert_allclose(mgg, tg, rtol=1e-8, atol=1e-10,
                                       err_msg=f"{case.name}: gradient of input {k}")
    return None


# ---------------------------------------------------------------------------------------------
# the cases
# ---------------------------------------------------------------------------------------------

CASES: list[Case] = []


def case(name, mg_fn, th_fn, **kw):
    def deco(draw):
        CASES.append(Case(name, draw, mg_fn, th_fn, **kw))
        return draw

    return deco


# -- selection and scatter -------------------------------------------------------------------


def _gather_like(data, larger_src=False):
    shape = _shape(data)
    d = _dim(data, shape)
    ishape = tuple(data.draw(st.integers(0, n)) if k != d % len(shape)
                   else data.draw(st.integers(0, 4)) for k, n in enumerate(shape))
    idx = _index(data, ishape, 0, shape[d] - 1)
    if idx is None:
        return None
    return shape, d, ishape, idx


@case("gather", lambda x, i, dim: x.gather(dim, i), lambda x, i, dim: x.gather(dim, i))
def _(data):
    g = _gather_like(data)
    if g is None:
        return None
    shape, d, _, idx = g
    return Draw([_values(data, shape), idx], {"dim": d})


@case("scatter_add", lambda x, i, s, dim: x.scatter_add(dim, i, s),
      lambda x, i, s, dim: x.scatter_add(dim, i, s))
def _(data):
    g = _gather_like(data)
    if g is None:
        return None
    shape, d, ishape, idx = g
    return Draw([_values(data, shape), idx, _values(data, ishape)], {"dim": d})


@case("scatter", lambda x, i, s, dim: x.scatter(dim, i, s),
      lambda x, i, s, dim: x.scatter(dim, i, s))
def _(data):
    shape = _shape(data, min_side=1)
    d = _dim(data, shape) % len(shape)
    ishape = list(shape)
    ishape[d] = data.draw(st.integers(0, shape[d]))
    moved = np.moveaxis(np.zeros(ishape), d, -1)
    rows = [np.asarray(data.draw(st.permutations(range(shape[d]))))[:ishape[d]]
            for _ in range(math.prod(moved.shape[:-1]))]
    idx = np.moveaxis(np.asarray(rows, np.int64).reshape(moved.shape), -1, d)
    return Draw([_values(data, shape), idx, _values(data, tuple(ishape))], {"dim": d})


@case("scatter_value", lambda x, i, dim: x.scatter(dim, i, value=1.5),
      lambda x, i, dim: x.scatter(dim, i, value=1.5))
def _(data):
    g = _gather_like(data)
    if g is None:
        return None
    shape, d, _, idx = g
    return Draw([_values(data, shape), idx], {"dim": d})


for _red in ("sum", "prod", "mean", "amax", "amin"):
    @case(f"scatter_reduce_{_red}",
          lambda x, i, s, dim, inc, r=_red: x.scatter_reduce(dim, i, s, r, include_self=inc),
          lambda x, i, s, dim, inc, r=_red: x.scatter_reduce(dim, i, s, r, include_self=inc))
    def _(data, r=_red):
        g = _gather_like(data)
        if g is None:
            return None
        shape, d, ishape, idx = g
        ties = r in ("amax", "amin") and data.draw(st.booleans())
        if r in ("amax", "amin") and not ties:
            # no ties between x and src either: at such a tie PyTorch shares the gradient with
            # x even when include_self=False leaves x out (minigrad gives it all to src)
            both = _values(data, (math.prod(shape) + math.prod(ishape),), ties=False).copy()
            x, s = both[:math.prod(shape)].reshape(shape), both[math.prod(shape):].reshape(ishape)
        else:
            x, s = _values(data, shape, ties=ties), _values(data, ishape, ties=ties)
        if r == "prod" and data.draw(st.booleans()) and x.size and s.size:
            x, s = np.array(x), np.array(s)
            x.flat[0] = 0.0
            s.flat[-1] = 0.0
        return Draw([x, idx, s], {"dim": d, "inc": data.draw(st.booleans())}, ties=ties)


@case("index_select", lambda x, i, dim: x.index_select(dim, i),
      lambda x, i, dim: x.index_select(dim, i))
def _(data):
    shape = _shape(data)
    d = _dim(data, shape)
    idx = _index(data, (data.draw(st.integers(0, 4)),), 0, shape[d] - 1)
    return None if idx is None else Draw([_values(data, shape), idx], {"dim": d})


@case("index_add", lambda x, i, s, dim: x.index_add(dim, i, s, alpha=0.5),
      lambda x, i, s, dim: x.index_add(dim, i, s, alpha=0.5))
def _(data):
    shape = _shape(data)
    d = _dim(data, shape)
    k = data.draw(st.integers(0, 4))
    idx = _index(data, (k,), 0, shape[d] - 1)
    sshape = list(shape)
    sshape[d] = k
    return None if idx is None else Draw([_values(data, shape), idx,
                                          _values(data, tuple(sshape))], {"dim": d})


@case("take_along_dim", lambda x, i, dim: mg.take_along_dim(x, i, dim),
      lambda x, i, dim: torch.take_along_dim(x, i, dim))
def _(data):
    shape = _shape(data)
    if data.draw(st.booleans()):
        n = math.prod(shape)
        idx = _index(data, (data.draw(st.integers(0, 4)),), -n, n - 1)
        return None if idx is None else Draw([_values(data, shape), idx], {"dim": None})
    d = _dim(data, shape) % len(shape)
    ishape = tuple(data.draw(st.integers(0, 3)) if k == d else
                   data.draw(st.sampled_from([1, n])) for k, n in enumerate(shape))
    idx = _index(data, ishape, -shape[d], shape[d] - 1)
    return None if idx is None else Draw([_values(data, shape), idx], {"dim": d})


@case("masked_fill", lambda x, m, v: x.masked_fill(m, v), lambda x, m, v: x.masked_fill(m, v))
def _(data):
    shape = _shape(data, min_dims=0)
    m = data.draw(hnp.arrays(np.bool_, shape[data.draw(st.integers(0, len(shape))):]))
    v = _values(data, (), ties=False) if data.draw(st.booleans()) else -3.0
    return Draw([_values(data, shape), m, v])


@case("masked_select", lambda x, m: x.masked_select(m), lambda x, m: x.masked_select(m))
def _(data):
    pair = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3,
                                                       min_side=0))
    xs, ms = pair.input_shapes
    return Draw([_values(data, xs), data.draw(hnp.arrays(np.bool_, ms))])


@case("nonzero", lambda x: x.nonzero(), lambda x: x.nonzero(), grad=False)
def _(data):
    return Draw([_values(data, _shape(data, min_dims=0), ties=True)])


@case("nonzero_tuple", lambda x: mg.nonzero(x, as_tuple=True),
      lambda x: torch.nonzero(x, as_tuple=True), grad=False)
def _(data):
    return Draw([_values(data, _shape(data, min_dims=0), ties=True)])


@case("argwhere", mg.argwhere, torch.argwhere, grad=False)
def _(data):
    return Draw([_values(data, _shape(data, min_dims=0), ties=True)])


@case("one_hot", lambda t, n: F.one_hot(t, n), lambda t, n: TF.one_hot(t, n), grad=False)
def _(data):
    shape = _shape(data, min_dims=0)
    n = data.draw(st.sampled_from([-1, 3, 5]))
    idx = _index(data, shape, 0, 2)
    return Draw([idx, n])


@case("bincount", lambda t, w, n: mg.bincount(t, w, n), lambda t, w, n: torch.bincount(t, w, n),
      grad=False)
def _(data):
    k = data.draw(st.integers(0, 6))
    idx = _index(data, (k,), 0, 4)
    w = _values(data, (k,)) if data.draw(st.booleans()) else None
    return Draw([idx, w, data.draw(st.integers(0, 6))])


@case("unique", lambda x, inv, cnt, dim: mg.unique(x, return_inverse=inv, return_counts=cnt,
                                                   dim=dim),
      lambda x, inv, cnt, dim: torch.unique(x, return_inverse=inv, return_counts=cnt, dim=dim),
      grad=False)
def _(data):
    shape = _shape(data, min_dims=1, min_side=1)
    dim = data.draw(st.none() | st.integers(0, len(shape) - 1))
    return Draw([_values(data, shape, ties=True), data.draw(st.booleans()),
                 data.draw(st.booleans()), dim])


# -- scans -----------------------------------------------------------------------------------


def _scan_draw(data, ties=None, zeros=False):
    shape = _shape(data, min_dims=0)
    a = _values(data, shape, ties=ties)
    if zeros and a.size and data.draw(st.booleans()):
        a = np.array(a)
        for i in data.draw(st.lists(st.integers(0, a.size - 1), max_size=3)):
            a.flat[i] = 0.0
    return Draw([a], {"dim": _dim(data, shape)}, ties=ties is not False and bool(ties))


for _name in ("cumsum", "logcumsumexp"):
    case(_name, lambda x, dim, n=_name: getattr(x, n)(dim),
         lambda x, dim, n=_name: getattr(x, n)(dim), rtol=1e-8)(
        lambda data: _scan_draw(data, ties=False))

case("cumprod", lambda x, dim: x.cumprod(dim), lambda x, dim: x.cumprod(dim), rtol=1e-8)(
    lambda data: _scan_draw(data, ties=False, zeros=True))

for _name in ("cummax", "cummin"):
    case(_name, lambda x, dim, n=_name: getattr(x, n)(dim),
         lambda x, dim, n=_name: getattr(x, n)(dim), tie_rule=True)(
        lambda data: _scan_draw(data))


# -- reductions ------------------------------------------------------------------------------


def _reduce_draw(data, zeros=False, ties=False, single=False):
    shape = _shape(data, min_dims=0)
    a = _values(data, shape, ties=ties)
    if zeros and a.size:
        a = np.array(a)
        for i in data.draw(st.lists(st.integers(0, a.size - 1), max_size=3)):
            a.flat[i] = 0.0
    if single or not shape:
        dim = data.draw(st.none() | st.just(_dim(data, shape)))
    else:
        dim = data.draw(st.none() | st.lists(st.integers(0, len(shape) - 1), min_size=1,
                                             unique=True).map(tuple))
    return Draw([a], {"dim": dim, "keepdim": data.draw(st.booleans())})


def _torch_dim(kw):
    return {k: v for k, v in kw.items() if not (k == "dim" and v is None)}


case("prod", lambda x, dim, keepdim: x.prod(dim, keepdim) if dim is not None else x.prod(),
     lambda x, dim, keepdim: x.prod(dim, keepdim) if dim is not None else x.prod(), rtol=1e-8)(
    lambda data: _reduce_draw(data, zeros=True, single=True))

for _name in ("any", "all"):
    case(_name, lambda x, dim, keepdim, n=_name: getattr(x, n)(dim, keepdim),
         lambda x, dim, keepdim, n=_name: getattr(x, n)(**_torch_dim(
             {"dim": dim, "keepdim": keepdim})) if dim is not None or not keepdim
         else getattr(x, n)(dim=tuple(range(x.ndim)), keepdim=True), grad=False)(
        lambda data: _reduce_draw(data, ties=True))

case("count_nonzero", lambda x, dim, keepdim: mg.count_nonzero(x, dim),
     lambda x, dim, keepdim: torch.count_nonzero(x, dim), grad=False)(
    lambda data: _reduce_draw(data, ties=True))

for _name in ("var_mean", "std_mean"):
    case(_name, lambda x, dim, keepdim, n=_name: getattr(mg, n)(x, dim, keepdim),
         lambda x, dim, keepdim, n=_name: getattr(torch, n)(x, dim, keepdim=keepdim),
         rtol=1e-8)(lambda data: _reduce_draw(data))

for _p in (1, 2, 3, 0.5, math.inf, -math.inf, 0):
    case(f"vector_norm_{_p}",
         lambda x, dim, keepdim, p=_p: mg.linalg.vector_norm(x, p, dim, keepdim),
         lambda x, dim, keepdim, p=_p: torch.linalg.vector_norm(x, p, dim, keepdim),
         rtol=1e-8)(lambda data: _reduce_draw(data))

case("norm_fro", lambda x, dim, keepdim: x.norm(dim=dim, keepdim=keepdim),
     lambda x, dim, keepdim: x.norm(dim=dim, keepdim=keepdim), rtol=1e-8)(
    lambda data: _reduce_draw(data))


@case("normalize", lambda x, p, dim: F.normalize(x, p, dim), lambda x, p, dim: TF.normalize(
    x, p, dim), rtol=1e-8)
def _(data):
    shape = _shape(data, min_dims=1)
    return Draw([_values(data, shape)], {"p": data.draw(st.sampled_from([1.0, 2.0, 3.0])),
                                         "dim": _dim(data, shape)})


# -- sorting ---------------------------------------------------------------------------------


def _sort_draw(data, k=False, min_side=0):
    shape = _shape(data, min_dims=0, min_side=min_side)
    d = _dim(data, shape)
    kw: dict[str, Any] = {"dim": d}
    n = shape[d] if shape else 1
    if k:  # (topk of a 0-d tensor with k = 0 gives a 0-d result in PyTorch: not drawn)
        kw["k"] = data.draw(st.integers(0 if k == "topk" and shape else 1, max(n, 1)))
    ties = data.draw(st.booleans())
    return Draw([_values(data, shape, ties=ties)], kw, ties=ties)


case("sort", lambda x, dim, desc: x.sort(dim, desc),
     lambda x, dim, desc: x.sort(dim=dim, descending=desc, stable=True), tie_rule=True)(
    lambda data: (lambda dr: Draw(dr.args, {**dr.kwargs, "desc": data.draw(st.booleans())},
                                  dr.ties))(_sort_draw(data)))
case("argsort", lambda x, dim, desc: x.argsort(dim, desc),
     lambda x, dim, desc: torch.argsort(x, dim=dim, descending=desc, stable=True),
     tie_rule=True, grad=False)(
    lambda data: (lambda dr: Draw(dr.args, {**dr.kwargs, "desc": data.draw(st.booleans())},
                                  dr.ties))(_sort_draw(data)))
case("topk", lambda x, dim, k, largest: x.topk(k, dim, largest),
     lambda x, dim, k, largest: x.topk(k, dim, largest))(
    lambda data: (lambda dr: Draw(dr.args, {**dr.kwargs, "largest": data.draw(st.booleans())},
                                  dr.ties))(_sort_draw(data, k="topk")))
case("kthvalue", lambda x, dim, k, keepdim: x.kthvalue(k, dim, keepdim),
     lambda x, dim, k, keepdim: x.kthvalue(k, dim, keepdim))(
    lambda data: (lambda dr: Draw(dr.args, {**dr.kwargs, "keepdim": data.draw(st.booleans())},
                                  dr.ties))(_sort_draw(data, k=True)))
case("median_dim", lambda x, dim, keepdim: x.median(dim, keepdim),
     lambda x, dim, keepdim: x.median(dim, keepdim))(
    lambda data: (lambda dr: Draw(dr.args, {**dr.kwargs, "keepdim": data.draw(st.booleans())},
                                  dr.ties))(_sort_draw(data)))
case("median", lambda x, dim: x.median(), lambda x, dim: x.median())(_sort_draw)
case("mode", lambda x, dim: x.mode(dim), lambda x, dim: x.mode(dim), tie_rule=True)(
    lambda data: _sort_draw(data, min_side=1))


# -- shape -----------------------------------------------------------------------------------


def _one(data, min_dims=0, max_dims=3, min_side=0, **kw):
    """One float input; each keyword ``k=f`` is drawn as ``f(data, shape)``."""
    shape = _shape(data, min_dims=min_dims, max_dims=max_dims, min_side=min_side)
    return Draw([_values(data, shape)], {k: f(data, shape) for k, f in kw.items()})


def _dims_of(data, shape):
    return tuple(data.draw(st.lists(st.integers(0, max(len(shape) - 1, 0)), min_size=1,
                                    max_size=max(len(shape), 1), unique=True)))


case("repeat", lambda x, sizes: x.repeat(*sizes), lambda x, sizes: x.repeat(*sizes))(
    lambda data: _one(data, sizes=lambda d, s: tuple(
        d.draw(st.integers(0, 3)) for _ in range(len(s) + d.draw(st.integers(0, 1))))))
case("tile", lambda x, dims: x.tile(dims), lambda x, dims: x.tile(dims))(
    lambda data: _one(data, dims=lambda d, s: tuple(
        d.draw(st.integers(0, 2)) for _ in range(d.draw(st.integers(1, 4))))))
case("repeat_interleave", lambda x, r, dim: x.repeat_interleave(r, dim),
     lambda x, r, dim: x.repeat_interleave(r, dim))(
    lambda data: _one(data, r=lambda d, s: d.draw(st.integers(0, 3)),
                      dim=lambda d, s: d.draw(st.none() | st.integers(-max(len(s), 1),
                                                                       max(len(s), 1) - 1))))


@case("repeat_interleave_tensor", lambda x, r, dim: x.repeat_interleave(r, dim),
      lambda x, r, dim: x.repeat_interleave(r, dim))
def _(data):
    shape = _shape(data)
    d = _dim(data, shape)
    return Draw([_values(data, shape), _index(data, (shape[d],), 0, 3)], {"dim": d})


case("roll", lambda x, shifts, dims: x.roll(shifts, dims),
     lambda x, shifts, dims: x.roll(shifts, dims))(
    lambda data: (lambda dr: Draw(dr.args, {"dims": dr.kwargs["dims"], "shifts": tuple(
        data.draw(st.integers(-5, 5)) for _ in dr.kwargs["dims"])}))(
        _one(data, min_dims=1, dims=_dims_of)))
case("roll_flat", lambda x, s: x.roll(s), lambda x, s: x.roll(s))(
    lambda data: _one(data, s=lambda d, s: d.draw(st.integers(-6, 6))))
case("flip", lambda x, dims: x.flip(dims), lambda x, dims: x.flip(dims))(
    lambda data: _one(data, min_dims=1, dims=_dims_of))
case("fliplr", lambda x: x.fliplr(), lambda x: x.fliplr())(lambda data: _one(data, min_dims=2))
case("flipud", lambda x: x.flipud(), lambda x: x.flipud())(lambda data: _one(data, min_dims=1))
case("rot90", lambda x, k, dims: x.rot90(k, dims), lambda x, k, dims: x.rot90(k, dims))(
    lambda data: _one(data, min_dims=2, k=lambda d, s: d.draw(st.integers(-5, 5)),
                      dims=lambda d, s: tuple(d.draw(st.permutations(range(len(s))))[:2])))
for _name in ("tril", "triu"):
    case(_name, lambda x, k, n=_name: getattr(x, n)(k),
         lambda x, k, n=_name: getattr(x, n)(k))(
        lambda data: _one(data, min_dims=2, k=lambda d, s: d.draw(st.integers(-3, 3))))
case("diag", lambda x, k: x.diag(k), lambda x, k: x.diag(k))(
    lambda data: _one(data, min_dims=1, max_dims=2, k=lambda d, s: d.draw(st.integers(-2, 2))))
case("diagonal", lambda x, o, dims: x.diagonal(o, *dims),
     lambda x, o, dims: x.diagonal(o, *dims))(
    lambda data: _one(data, min_dims=2, o=lambda d, s: d.draw(st.integers(-3, 3)),
                      dims=lambda d, s: tuple(d.draw(st.permutations(range(len(s))))[:2])))
case("diag_embed", lambda x, o, dims: x.diag_embed(o, *dims),
     lambda x, o, dims: torch.diag_embed(x, o, *dims))(
    lambda data: _one(data, min_dims=1, max_dims=2, o=lambda d, s: d.draw(st.integers(-2, 2)),
                      dims=lambda d, s: tuple(d.draw(st.permutations(range(len(s) + 1)))[:2])))
case("trace", lambda x: x.trace(), lambda x: x.trace())(
    lambda data: _one(data, min_dims=2, max_dims=2))


@case("unfold", lambda x, dim, size, step: x.unfold(dim, size, step),
      lambda x, dim, size, step: x.unfold(dim, size, step))
def _(data):
    shape = _shape(data, min_dims=1)
    d = _dim(data, shape)
    return Draw([_values(data, shape)], {"dim": d, "size": data.draw(st.integers(0, shape[d] + 1)),
                                         "step": data.draw(st.integers(1, 3))})


case("movedim", lambda x, src, dst: x.movedim(src, dst), lambda x, src, dst: x.movedim(src, dst))(
    lambda data: (lambda dr: Draw(dr.args, {"src": dr.kwargs["src"], "dst": tuple(data.draw(
        st.permutations(range(dr.args[0].ndim))))[:len(dr.kwargs["src"])]}))(
        _one(data, min_dims=1, src=_dims_of)))


@case("unflatten", lambda x, dim, sizes: x.unflatten(dim, sizes),
      lambda x, dim, sizes: x.unflatten(dim, sizes))
def _(data):
    shape = _shape(data, min_dims=1)
    d = _dim(data, shape)
    sizes = data.draw(st.sampled_from([(1, -1), (shape[d], 1), (-1,)]))
    return Draw([_values(data, shape)], {"dim": d, "sizes": sizes})


@case("narrow", lambda x, dim, start, length: x.narrow(dim, start, length),
      lambda x, dim, start, length: x.narrow(dim, start, length))
def _(data):
    shape = _shape(data, min_dims=1)
    d = _dim(data, shape)
    start = data.draw(st.integers(-shape[d], shape[d]))
    return Draw([_values(data, shape)], {"dim": d, "start": start,
                                         "length": data.draw(st.integers(0, shape[d]))})


case("chunk", lambda x, c, dim: x.chunk(c, dim), lambda x, c, dim: x.chunk(c, dim))(
    lambda data: _one(data, min_dims=1, c=lambda d, s: d.draw(st.integers(1, 4)),
                      dim=lambda d, s: d.draw(st.integers(-len(s), len(s) - 1))))
case("unbind", lambda x, dim: x.unbind(dim), lambda x, dim: x.unbind(dim))(
    lambda data: _one(data, min_dims=1, dim=lambda d, s: d.draw(st.integers(-len(s),
                                                                          len(s) - 1))))


@case("meshgrid", lambda a, b, ix: mg.meshgrid(a, b, indexing=ix),
      lambda a, b, ix: torch.meshgrid(a, b, indexing=ix))
def _(data):
    return Draw([_values(data, _shape(data, max_dims=1)), _values(data, _shape(data, max_dims=1))],
                {"ix": data.draw(st.sampled_from(["ij", "xy"]))})


@case("broadcast_tensors", mg.broadcast_tensors, torch.broadcast_tensors)
def _(data):
    pair = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3,
                                                       min_side=0))
    return Draw([_values(data, s) for s in pair.input_shapes])


for _n in (1, 2, 3):
    case(f"atleast_{_n}d", getattr(mg, f"atleast_{_n}d"), getattr(torch, f"atleast_{_n}d"))(
        lambda data: _one(data, max_dims=3))


@case("as_methods", lambda x, o: (x.view_as(o), x.reshape_as(o.reshape(-1)),
                                  x.expand_as(o.unsqueeze(0).expand(2, *o.shape))),
      lambda x, o: (x.view_as(o), x.reshape_as(o.reshape(-1)),
                    x.expand_as(o.unsqueeze(0).expand(2, *o.shape))), grad=True)
def _(data):
    shape = _shape(data, min_dims=0)
    return Draw([_values(data, shape), np.zeros(shape, np.int64)])


@case("pad", lambda x, pad, mode: F.pad(x, pad, mode), lambda x, pad, mode: TF.pad(x, pad, mode))
def _(data):
    shape = _shape(data, min_dims=3, max_dims=4, min_side=1)
    mode = data.draw(st.sampled_from(["constant", "reflect", "replicate", "circular"]))
    # PyTorch pads exactly the ndim - 2 spatial axes in the non-constant modes
    k = len(shape) - 2 if mode != "constant" else data.draw(st.integers(1, 2))
    # (circular with a negative pad: PyTorch 2.x returns uninitialized memory; not drawn)
    low = 0 if mode == "circular" else -2
    pads = tuple(data.draw(st.integers(low, 3)) for _ in range(2 * k))
    sides = [shape[-1 - i] + pads[2 * i] + pads[2 * i + 1] for i in range(k)]
    if mode in ("reflect", "replicate") and min(sides) < 1:
        return None  # PyTorch checks only some axes for an empty result; minigrad raises
    return Draw([_values(data, shape)], {"pad": pads, "mode": mode})


# -- products --------------------------------------------------------------------------------


@case("einsum", lambda *ops, eq: mg.einsum(eq, *ops), lambda *ops, eq: torch.einsum(eq, *ops))
def _(data):
    from minigrad.testing.opinfo.einsum import EQUATIONS

    eq = data.draw(st.sampled_from(EQUATIONS))
    size = {c: data.draw(st.integers(0, 3)) for c in set(eq) if c.isalpha()}
    lhs = eq.split("->")[0].split(",")
    batch = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=len(lhs), max_dims=2,
                                                        max_side=2)).input_shapes
    arrays = []
    for term, b in zip(lhs, batch):
        parts = term.split("...")
        shape = tuple(size[c] for c in parts[0]) + (b if len(parts) > 1 else ()) + \
            (tuple(size[c] for c in parts[1]) if len(parts) > 1 else ())
        arrays.append(_values(data, shape))
    return Draw(arrays, {"eq": eq})


@case("tensordot", lambda a, b, dims: mg.tensordot(a, b, dims),
      lambda a, b, dims: torch.tensordot(a, b, dims))
def _(data):
    n = data.draw(st.integers(0, 2))
    shared = _shape(data, min_dims=n, max_dims=n)
    a = _values(data, _shape(data, min_dims=0, max_dims=2) + shared)
    b = _values(data, shared + _shape(data, min_dims=0, max_dims=2))
    return Draw([a, b], {"dims": n})


@case("outer", mg.outer, torch.outer)
def _(data):
    return Draw([_values(data, _shape(data, max_dims=1)), _values(data, _shape(data, max_dims=1))])


@case("dot", mg.dot, torch.dot)
def _(data):
    s = _shape(data, max_dims=1)
    return Draw([_values(data, s), _values(data, s)])


@case("mv", mg.mv, torch.mv)
def _(data):
    n, m = _shape(data, min_dims=2, max_dims=2)
    return Draw([_values(data, (n, m)), _values(data, (m,))])


@case("bmm", mg.bmm, torch.bmm)
def _(data):
    b, n, m, p = _shape(data, min_dims=4, max_dims=4)
    return Draw([_values(data, (b, n, m)), _values(data, (b, m, p))])


@case("addmm", lambda i, a, b, beta: mg.addmm(i, a, b, beta=beta, alpha=2.0),
      lambda i, a, b, beta: torch.addmm(i, a, b, beta=beta, alpha=2.0))
def _(data):
    n, m, p = _shape(data, min_dims=3, max_dims=3)
    ishape = data.draw(st.sampled_from([(n, p), (p,), (1, p)]))
    return Draw([_values(data, ishape), _values(data, (n, m)), _values(data, (m, p))],
                {"beta": data.draw(st.sampled_from([1.0, 0.5, 0.0]))})


@case("baddbmm", lambda i, a, b: mg.baddbmm(i, a, b, beta=0.5, alpha=2.0),
      lambda i, a, b: torch.baddbmm(i, a, b, beta=0.5, alpha=2.0))
def _(data):
    b, n, m, p = _shape(data, min_dims=4, max_dims=4)
    return Draw([_values(data, (b, n, p)), _values(data, (b, n, m)), _values(data, (b, m, p))])


@case("kron", mg.kron, torch.kron)
def _(data):
    return Draw([_values(data, _shape(data, min_dims=0, max_dims=2)),
                 _values(data, _shape(data, min_dims=0, max_dims=2))])


def _spd_draw(data, extra=False):
    n = data.draw(st.integers(1, 3))
    batch = data.draw(st.sampled_from([(), (2,)]))
    a = data.draw(hnp.arrays(np.float64, batch + (n, n), elements=st.floats(-1, 1))) + \
        3 * np.eye(n)
    args = [a]
    if extra:
        args.append(_values(data, batch + data.draw(st.sampled_from([(n,), (n, 2)]))))
    return Draw(args)


case("inv", mg.linalg.inv, torch.linalg.inv, rtol=1e-8)(_spd_draw)
case("det", mg.linalg.det, torch.linalg.det, rtol=1e-8)(_spd_draw)
case("solve", mg.linalg.solve, torch.linalg.solve, rtol=1e-8)(
    lambda data: _spd_draw(data, extra=True))
case("cholesky", lambda a: mg.linalg.cholesky(a @ a.swapaxes(-1, -2)),
     lambda a: torch.linalg.cholesky(a @ a.mT), rtol=1e-8)(_spd_draw)


# -- indexing with PyTorch's dimension placement -----------------------------------------------


@case("getitem_torch_order", lambda x, ix: x[ix], lambda x, ix: x[ix])
def _(data):
    shape = _shape(data, min_dims=2, max_dims=3, min_side=1)
    length = data.draw(st.integers(1, 3))
    index = []
    for n in shape:
        kind = data.draw(st.sampled_from(["int", "array", "slice", "none"]))
        if kind == "int":
            index.append(data.draw(st.integers(-n, n - 1)))
        elif kind == "array":
            index.append(_index(data, (length,), -n, n - 1))
        elif kind == "none":
            index += [None, slice(None)]
        else:
            index.append(slice(None))
    return Draw([_values(data, shape), _IndexHolder(tuple(index))])


class _IndexHolder:
    """An index passed through to both libraries (arrays as each library's tensors)."""

    def __init__(self, index):
        self.index = index


def _unwrap_index(fn, lib):
    def call(x, holder):
        conv = tuple(lib.tensor(i) if isinstance(i, np.ndarray) else i for i in holder.index)
        return fn(x, conv)

    return call


for _c in CASES:
    if _c.name == "getitem_torch_order":
        _c.mg, _c.th = _unwrap_index(_c.mg, mg), _unwrap_index(_c.th, torch)


# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
@settings(max_examples=25)
@given(data=st.data())
def test_matches_torch(case, data):
    d = case.draw(data)
    if d is None:
        return
    _check(case, d)


def test_every_case_is_named_once():
    names = [c.name for c in CASES]
    assert len(names) == len(set(names))
