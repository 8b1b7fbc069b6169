"""The issue-14 ops beyond what the registry checks: bad input (clear errors, nothing written),
``AxisError``, gradients at zeros (prod, cumprod, scatter_reduce prod), PyTorch's placement of
index arrays in ``x[...]`` and ``x[...] = v``, the ops without gradients (against NumPy), tie
conventions, the CPU scatter kernels, and the GPU host fallbacks (counted, named by strict mode,
listed in the README)."""

from __future__ import annotations

import pathlib
import re

import numpy as np
import pytest

import minigrad as mg
import minigrad.cuda as mcuda
import minigrad.nn.functional as F
from minigrad.ops._args import AxisError
from minigrad.testing import gradcheck, gradgradcheck

RNG = np.random.default_rng(14)
ROOT = pathlib.Path(__file__).resolve().parent.parent


def _x(*shape, grad=False):
    return mg.tensor(RNG.standard_normal(shape), requires_grad=grad)


# -- bad input ---------------------------------------------------------------------------------

X = mg.tensor(np.arange(12.0).reshape(3, 4))
IDX = mg.tensor([[0, 1], [2, 3], [1, 1]])

BAD = [
    ("gather float index", lambda: X.gather(1, mg.tensor([[0.0]])), TypeError,
     r"gather: index must be an integer tensor .*float32"),
    ("gather out of range", lambda: X.gather(1, mg.tensor([[4]])), IndexError,
     r"gather: index value 4 is out of range for dim 1 of size 4 \(input shape \(3, 4\)"),
    ("gather negative", lambda: X.gather(1, mg.tensor([[-1]])), IndexError, r"value -1"),
    ("gather rank", lambda: X.gather(1, mg.tensor([0])), ValueError,
     r"gather: index must have as many dimensions .*\(1,\) .*\(3, 4\)"),
    ("gather larger off dim", lambda: X.gather(1, mg.zeros(4, 1, dtype=mg.int64)), ValueError,
     r"index shape \(4, 1\) is larger than the input shape \(3, 4\) at dim 0"),
    ("scatter_add small src", lambda: X.scatter_add(1, IDX, mg.zeros(3, 1)), ValueError,
     r"scatter_add: src of shape \(3, 1\) .*index shape \(3, 2\)"),
    ("scatter_add bool index", lambda: X.scatter_add(1, IDX > 0, mg.zeros(3, 2)), TypeError,
     r"scatter_add: index must be an integer tensor .*bool"),
    ("scatter_reduce mode", lambda: X.scatter_reduce(1, IDX, mg.zeros(3, 2), "max"),
     ValueError, r"scatter_reduce: reduce must be one of .*'max'"),
    ("scatter src and value", lambda: X.scatter(1, IDX), TypeError, r"scatter: give src"),
    ("index_select 2-D index", lambda: X.index_select(0, IDX), ValueError,
     r"index_select: index must be 0-d or 1-D, got shape \(3, 2\)"),
    ("index_select range", lambda: X.index_select(0, mg.tensor([3])), IndexError,
     r"index_select: index value 3 .*dim 0 of size 3"),
    ("index_add source", lambda: X.index_add(0, mg.tensor([0]), mg.zeros(2, 4)), ValueError,
     r"index_add: source must have shape \(1, 4\).*got \(2, 4\)"),
    ("masked_fill int mask", lambda: X.masked_fill(mg.tensor([1, 0, 1, 0]), 1.0), TypeError,
     r"masked_fill: mask must be a bool tensor, got dtype int64"),
    ("masked_fill mask shape", lambda: X.masked_fill(mg.tensor([True, False]), 1.0),
     ValueError, r"masked_fill: mask of shape \(2,\) does not broadcast .*\(3, 4\)"),
    ("masked_fill value", lambda: X.masked_fill(X > 0, mg.zeros(2)), ValueError,
     r"value must be a number or a 0-d tensor"),
    ("take_along_dim range", lambda: mg.take_along_dim(X, mg.tensor([[5]]), 1), IndexError,
     r"take_along_dim: indices value 5"),
    ("one_hot range", lambda: F.one_hot(mg.tensor([3]), 2), IndexError,
     r"one_hot: class 3 is out of range for num_classes = 2"),
    ("bincount negative", lambda: mg.bincount(mg.tensor([-1])), ValueError,
     r"bincount: input must be non-negative"),
    ("topk k", lambda: X.topk(5), ValueError, r"topk: k = 5 is larger than dim 1 of size 4"),
    ("kthvalue k", lambda: X.kthvalue(0), ValueError, r"kthvalue: k must be >= 1"),
    ("vector_norm ints", lambda: mg.linalg.vector_norm(IDX), TypeError,
     r"vector_norm: expected a floating tensor, got int64"),
    ("repeat sizes", lambda: X.repeat(2), ValueError, r"repeat: give at least one size"),
    ("roll lengths", lambda: X.roll((1, 2), 0), ValueError,
     r"roll: shifts \(1, 2\) and dims 0 must have the same length"),
    ("unfold size", lambda: X.unfold(1, 5, 1), ValueError, r"unfold: size 5 is larger"),
    ("narrow", lambda: X.narrow(1, 3, 2), ValueError, r"narrow: start \(3\) \+ length \(2\)"),
    ("unflatten", lambda: X.unflatten(1, (3, 2)), ValueError, r"do not multiply to 4"),
    ("einsum sizes", lambda: mg.einsum("ij,jk->ik", X, X), ValueError,
     r"einsum: label 'j' of 'ij,jk->ik' has sizes 4 and 3"),
    ("einsum subscript", lambda: mg.einsum("i1->i", X), ValueError, r"invalid subscript '1'"),
    ("einsum operands", lambda: mg.einsum("ij->i", X, X), ValueError,
     r"1 operand term\(s\) but 2 operand\(s\)"),
    ("tensordot", lambda: mg.tensordot(X, X, ([0], [0, 1])), ValueError, r"differ in length"),
    ("mm", lambda: mg.mm(X, X), ValueError, r"mm: shapes \(3, 4\) and \(3, 4\)"),
    ("bmm", lambda: mg.bmm(X, X), ValueError, r"bmm: input must be 3-D"),
    ("bmm batch", lambda: mg.bmm(mg.zeros(2, 3, 4), mg.zeros(3, 4, 3)), ValueError,
     r"bmm: shapes \(2, 3, 4\) and \(3, 4, 3\) have different batch sizes \(2 != 3\)"),
    ("inv square", lambda: mg.linalg.inv(X), ValueError, r"inv: expected square matrices"),
    ("inv singular", lambda: mg.linalg.inv(mg.zeros(2, 2)), np.linalg.LinAlgError,
     r"inv: Singular matrix \(input shape \(2, 2\)\)"),
    ("cholesky", lambda: mg.linalg.cholesky(-mg.eye(2)), ValueError, r"cholesky: .*definite"),
    ("pad crop", lambda: F.pad(X, (-3, -2)), ValueError, r"removes more than its 4 elements"),
    ("getitem range", lambda: X[0, mg.tensor([9])], IndexError, r"getitem: index 9 .*\(3, 4\)"),
    ("setitem value shape", lambda: X.clone().__setitem__((0, mg.tensor([0, 1])), mg.zeros(3)),
     ValueError, r"setitem: value of shape \(3,\) does not fit .*shape \(3, 4\)"),
]


@pytest.mark.parametrize("call,exc,match", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_is_a_clear_error(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


IN_PLACE = [
    ("scatter_add_", lambda t: t.scatter_add_(1, mg.tensor([[4]]), mg.ones(1, 1))),
    ("scatter_", lambda t: t.scatter_(1, mg.tensor([[0, 9]]), 1.0)),
    ("scatter_reduce_", lambda t: t.scatter_reduce_(1, mg.tensor([[0, 1]]), mg.ones(1, 1),
                                                    "amax")),
    ("index_add_", lambda t: t.index_add_(0, mg.tensor([0, 3]), mg.ones(2, 4))),
    ("masked_fill_ broadcast", lambda t: t.masked_fill_(mg.ones(2, 3, 4, dtype=mg.bool_), 1.0)),
    ("setitem", lambda t: t.__setitem__((0, mg.tensor([0, 9])), 5.0)),
    ("setitem value shape", lambda t: t.__setitem__((0, mg.tensor([0, 1])), mg.zeros(3))),
    ("setitem torch order", lambda t: t.__setitem__((slice(None), 0, mg.tensor([0, 1])), 1.0)),
]


@pytest.mark.parametrize("call", [c[1] for c in IN_PLACE], ids=[c[0] for c in IN_PLACE])
def test_failed_in_place_ops_leave_the_tensor_untouched(call):
    t = mg.tensor(np.arange(12.0).reshape(3, 4))
    before = t.numpy().copy()
    version = t._version
    with pytest.raises((IndexError, ValueError, RuntimeError)):
        call(t)
    np.testing.assert_array_equal(t.numpy(), before)
    assert t._version == version


def test_in_place_forms_match_the_out_of_place_ops():
    t = mg.zeros(3, 4)
    t.scatter_add_(1, IDX, mg.ones(3, 2))
    np.testing.assert_array_equal(t.numpy(), mg.zeros(3, 4).scatter_add(1, IDX, mg.ones(3, 2))
                                  .numpy())
    before = t.numpy().copy()
    t.index_add_(0, mg.tensor([2, 2]), mg.ones(2, 4), alpha=2)
    np.testing.assert_array_equal(t.numpy()[2], before[2] + 4)
    t.masked_fill_(t > 3, -1.0)
    assert (t.numpy() <= 3).all()


# -- AxisError ---------------------------------------------------------------------------------

AXIS_OPS = {
    "sum": lambda x: x.sum(3), "gather": lambda x: x.gather(3, IDX[:2, :, None]),
    "cumsum": lambda x: x.cumsum(-4), "cummax": lambda x: x.cummax(3),
    "sort": lambda x: x.sort(3), "topk": lambda x: x.topk(1, 3), "median": lambda x: x.median(3),
    "kthvalue": lambda x: x.kthvalue(1, 3), "mode": lambda x: x.mode(3),
    "index_select": lambda x: x.index_select(3, mg.tensor([0])), "flip": lambda x: x.flip(3),
    "roll": lambda x: x.roll(1, 3), "movedim": lambda x: x.movedim(3, 0),
    "narrow": lambda x: x.narrow(3, 0, 1), "unbind": lambda x: x.unbind(3),
    "chunk": lambda x: x.chunk(2, 3), "diagonal": lambda x: x.diagonal(0, 0, 3),
    "unflatten": lambda x: x.unflatten(3, (1, 2)), "prod": lambda x: x.prod(3),
    "softmax": lambda x: x.softmax(3), "unsqueeze": lambda x: x.unsqueeze(5),
    "max": lambda x: x.max(3), "unique": lambda x: mg.unique(x, dim=3),
    "logcumsumexp": lambda x: x.logcumsumexp(3), "repeat_interleave": lambda x:
        x.repeat_interleave(2, 3), "unfold": lambda x: x.unfold(3, 1, 1),
}


@pytest.mark.parametrize("op", sorted(AXIS_OPS))
def test_axis_out_of_range_raises_axis_error(op):
    x = mg.zeros(2, 3, 4)
    with pytest.raises(AxisError) as err:
        AXIS_OPS[op](x)
    e = err.value
    assert isinstance(e, IndexError) and isinstance(e, ValueError)
    assert str(e).startswith(f"{op}: ") and "out of range" in str(e)
    assert mg.AxisError is AxisError
    assert e.ndim in (3, 4)  # the rank (unsqueeze counts the result's)


# -- gradients at zeros ------------------------------------------------------------------------


def _others(a, axis):
    """The product of the other elements along ``axis``, element by element (no division)."""
    out = np.empty_like(a)
    moved_in, moved_out = np.moveaxis(a, axis, -1), np.moveaxis(out, axis, -1)
    for pos in np.ndindex(*moved_in.shape[:-1]):
        row = moved_in[pos]
        for i in range(len(row)):
            moved_out[pos + (i,)] = np.prod(np.delete(row, i))
    return out


@pytest.mark.parametrize("zeros", [0, 1, 2, 3])
def test_prod_gradient_with_zeros_is_the_product_of_the_others(zeros):
    a = RNG.uniform(0.5, 1.5, (3, 5)) * RNG.choice([-1, 1], (3, 5))
    for row in range(3):
        a[row, RNG.choice(5, size=zeros, replace=False)] = 0.0
    x = mg.tensor(a, requires_grad=True)
    x.prod(1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), _others(a, 1), rtol=1e-12, atol=1e-15)
    assert gradcheck(lambda t: t.prod(1), [mg.tensor(a, requires_grad=True)])
    assert gradgradcheck(lambda t: t.prod(1), [mg.tensor(a, requires_grad=True)])
    assert gradgradcheck(lambda t: t.prod(), [mg.tensor(a[:2], requires_grad=True)])


@pytest.mark.parametrize("zeros", [1, 2])
def test_cumprod_gradient_with_zeros(zeros):
    a = RNG.uniform(0.5, 1.5, (2, 6))
    for row in range(2):
        a[row, RNG.choice(6, size=zeros, replace=False)] = 0.0
    assert gradcheck(lambda t: t.cumprod(1), [mg.tensor(a, requires_grad=True)])
    if zeros == 1:  # second derivatives are exact with one zero per row
        assert gradgradcheck(lambda t: t.cumprod(1), [mg.tensor(a, requires_grad=True)])


def test_scatter_reduce_prod_gradient_with_zeros():
    x = np.array([[0.0, 2.0, 3.0], [1.5, 0.0, -1.0]])
    src = np.array([[0.0, 4.0, -0.5, 0.7], [2.0, 0.0, 0.0, 1.1]])
    idx = mg.tensor([[0, 0, 1, 1], [1, 1, 2, 0]])
    for include_self in (True, False):
        def fn(a, s, inc=include_self):
            return a.scatter_reduce(1, idx, s, "prod", include_self=inc)

        args = [mg.tensor(x, requires_grad=True), mg.tensor(src, requires_grad=True)]
        assert gradcheck(fn, args)
        assert gradgradcheck(fn, args)


@pytest.mark.parametrize("p", [2, 3, 1, 0.5])
def test_norm_gradient_is_zero_at_the_zero_vector(p):
    x = mg.zeros(2, 3, dtype=mg.float64, requires_grad=True)
    mg.linalg.vector_norm(x, p, dim=1).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros((2, 3)))  # PyTorch's convention
    y = mg.zeros(2, 3, dtype=mg.float64, requires_grad=True)
    F.normalize(y).sum().backward()  # x / max(|x|, eps): 1 / eps, finite
    np.testing.assert_array_equal(y.grad.numpy(), np.full((2, 3), 1e12))


# -- PyTorch's placement of index arrays -------------------------------------------------------


def test_integer_and_array_indices_follow_pytorch_placement():
    a = np.arange(24.0).reshape(2, 3, 4)
    x = mg.tensor(a)
    idx = mg.tensor([0, 2])
    y = x[0, :, idx]
    assert y.shape == (3, 2)  # NumPy: (2, 3)
    np.testing.assert_array_equal(y.numpy(), a[0][:, [0, 2]])
    assert x[:, 1, idx].shape == (2, 2)
    assert x[1, None, :, idx].shape == (1, 3, 2)
    assert x[mg.tensor(1), :, idx].shape == (3, 2)  # a 0-d integer tensor is an integer
    assert x[idx[:1], 0].shape == (1, 4)  # adjacent: as NumPy
    z = mg.tensor(a, requires_grad=True)
    z[0, :, idx].sum().backward()
    expect = np.zeros_like(a)
    expect[0][:, [0, 2]] = 1
    np.testing.assert_array_equal(z.grad.numpy(), expect)


def test_setitem_uses_the_same_placement():
    a = np.arange(24.0).reshape(2, 3, 4)
    x = mg.tensor(a)
    x[0, :, mg.tensor([0, 2])] = mg.tensor(np.full((3, 2), -1.0))
    want = a.copy()
    want[0][:, [0, 2]] = -1.0
    np.testing.assert_array_equal(x.numpy(), want)


@pytest.mark.cuda
def test_setitem_placement_on_the_gpu():
    if not mcuda.is_available():
        pytest.skip("no CUDA (or simulator)")
    a = np.arange(24.0, dtype=np.float32).reshape(2, 3, 4)
    x = mg.tensor(a, device="cuda")
    idx = mg.tensor([0, 2], device="cuda")
    x[0, :, idx] = mg.tensor(np.full((3, 2), -1.0, np.float32), device="cuda")
    want = a.copy()
    want[0][:, [0, 2]] = -1.0
    np.testing.assert_array_equal(x.numpy(), want)
    np.testing.assert_array_equal(x[1, :, idx].numpy(), want[1][:, [0, 2]])


# -- ops without gradients, against NumPy -------------------------------------------------------


def test_index_valued_ops_match_numpy():
    a = RNG.integers(-1, 2, (3, 4)).astype(np.float64)
    x = mg.tensor(a)
    np.testing.assert_array_equal(x.nonzero().numpy(), np.argwhere(a))
    np.testing.assert_array_equal(mg.argwhere(x).numpy(), np.argwhere(a))
    for got, want in zip(x.nonzero(as_tuple=True), np.nonzero(a)):
        np.testing.assert_array_equal(got.numpy(), want)
    assert mg.count_nonzero(x, 1).tolist() == np.count_nonzero(a, 1).tolist()
    assert x.any(1).dtype == mg.bool_ and x.any(1).tolist() == a.any(1).tolist()
    assert x.all(dim=(0, 1), keepdim=True).shape == (1, 1)
    assert isinstance(x.any(), mg.Tensor) and bool(x.any()) == bool(a.any())
    t = mg.tensor([2, 0, 1])
    np.testing.assert_array_equal(F.one_hot(t).numpy(), np.eye(3, dtype=np.int64)[[2, 0, 1]])
    assert F.one_hot(t, 5).shape == (3, 5) and F.one_hot(t).dtype == mg.int64
    w = mg.tensor([0.5, 1.0, 2.0], dtype=mg.float64)
    np.testing.assert_array_equal(mg.bincount(t, w, minlength=5).numpy(),
                                  np.bincount([2, 0, 1], [0.5, 1.0, 2.0], minlength=5))
    vals, inv, cnt = mg.unique(x, return_inverse=True, return_counts=True)
    u, i, c = np.unique(a, return_inverse=True, return_counts=True)
    np.testing.assert_array_equal(vals.numpy(), u)
    np.testing.assert_array_equal(inv.numpy(), i.reshape(a.shape))
    np.testing.assert_array_equal(cnt.numpy(), c)


def test_ties_follow_the_documented_conventions():
    x = mg.tensor([3.0, 1.0, 3.0, 2.0, 1.0], requires_grad=True)
    values, indices = x.sort(descending=True)
    assert indices.tolist() == [0, 2, 3, 1, 4]  # equal values keep their order
    values[0].backward()
    assert x.grad.tolist() == [1, 0, 0, 0, 0]  # the gradient follows the index returned
    assert x.argsort().tolist() == [1, 4, 3, 0, 2]
    assert x.topk(2).indices.tolist() == [0, 2]
    assert x.kthvalue(2).indices.tolist() == 4
    m = mg.tensor([3.0, 1.0, 2.0, 2.0, 1.0, 5.0]).mode()
    assert (m.values.item(), m.indices.item()) == (1.0, 4)  # smallest of the most frequent
    c = mg.tensor([1.0, 3.0, 3.0, 2.0]).cummax(0)
    assert c.indices.tolist() == [0, 1, 2, 2]  # the latest at ties
    s = mg.zeros(3, requires_grad=True)
    src = mg.tensor([1.0, 1.0], requires_grad=True)
    s.scatter_reduce(0, mg.tensor([0, 0]), src, "amax", include_self=False).sum().backward()
    assert src.grad.tolist() == [0.5, 0.5] and s.grad.tolist() == [0.0, 1.0, 1.0]


def test_scatter_reduce_amax_shares_the_gradient_among_ties():
    x = mg.tensor([[1.0, 0.0]], dtype=mg.float64, requires_grad=True)
    src = mg.tensor([[1.0, 1.0, -3.0]], dtype=mg.float64, requires_grad=True)
    out = x.scatter_reduce(1, mg.tensor([[0, 0, 1]]), src, "amax")
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[1 / 3, 1.0]])
    np.testing.assert_allclose(src.grad.numpy(), [[1 / 3, 1 / 3, 0.0]])


# -- einsum -----------------------------------------------------------------------------------


@pytest.mark.parametrize("eq,shapes", [
    ("ij,jk->ik", [(2, 3), (3, 4)]), ("ij,jk", [(2, 3), (3, 4)]), ("ii", [(3, 3)]),
    ("iij->ji", [(2, 2, 3)]), ("...ij,...jk->...ik", [(2, 1, 2, 3), (4, 3, 2)]),
    ("bA,AC->Cb", [(2, 3), (3, 1)]), ("i,i,i->", [(4,), (4,), (4,)]),
    ("ijk,ilk,jl->", [(2, 3, 4), (2, 2, 4), (3, 2)]), ("i...->...i", [(2, 3, 1)]),
])
def test_einsum_matches_numpy(eq, shapes):
    arrays = [RNG.standard_normal(s) for s in shapes]
    got = mg.einsum(eq, *[mg.tensor(a) for a in arrays])
    np.testing.assert_allclose(got.numpy(), np.einsum(eq, *arrays), rtol=1e-12, atol=1e-12)
    got = mg.einsum(eq, [mg.tensor(a) for a in arrays])  # PyTorch's list form
    np.testing.assert_allclose(got.numpy(), np.einsum(eq, *arrays), rtol=1e-12, atol=1e-12)


def test_einsum_sublist_form():
    a, b = RNG.standard_normal((2, 3)), RNG.standard_normal((3, 4))
    got = mg.einsum(mg.tensor(a), [0, 1], mg.tensor(b), [1, 2], [0, 2])
    np.testing.assert_allclose(got.numpy(), a @ b, rtol=1e-12)
    c = RNG.standard_normal((3, 2))
    got = mg.einsum(mg.tensor(a), [Ellipsis, 1], mg.tensor(c), [1, Ellipsis])
    np.testing.assert_allclose(got.numpy(), np.einsum(a, [Ellipsis, 1], c, [1, Ellipsis]),
                               rtol=1e-12)


def _slow_einsum(eq, *arrays):
    """An independent reference: loops over every assignment of the labels (tiny sizes only)."""
    import itertools

    lhs, rhs = eq.split("->")
    terms = lhs.split(",")
    size = {}
    for term, a in zip(terms, arrays):
        for c, n in zip(term, a.shape):
            size[c] = max(size.get(c, 1), n)  # size 1 broadcasts
    labels = sorted(size)
    out = np.zeros(tuple(size[c] for c in rhs))
    for values in itertools.product(*(range(size[c]) for c in labels)):
        at = dict(zip(labels, values))
        prod = 1.0
        for term, a in zip(terms, arrays):
            prod *= a[tuple(at[c] if n > 1 else 0 for c, n in zip(term, a.shape))]
        out[tuple(at[c] for c in rhs)] += prod
    return out


@pytest.mark.parametrize("eq,shapes", [
    ("bij,bij->b", [(2, 3, 4), (2, 3, 4)]), ("ij,ij->i", [(3, 5), (3, 5)]),
    ("bhqd,bhkd->bhqk", [(2, 1, 2, 3), (2, 1, 3, 3)]), ("ij,j->i", [(3, 4), (4,)]),
    ("i,j->ij", [(3,), (4,)]), ("ij,ji->", [(3, 4), (4, 3)]), ("bi,bj->bji", [(2, 3), (2, 4)]),
    ("ab,b->ba", [(3, 1), (4,)]), ("ii->", [(4, 4)]), ("ii->i", [(3, 3)]),
    ("iji->ji", [(3, 2, 3)]), ("iij->", [(2, 2, 3)]),
])
@pytest.mark.parametrize("layout", ["c", "transposed"])
def test_einsum_pairs_match_a_slow_reference(eq, shapes, layout):
    """Each two-operand plan (np.einsum for dots, matrix-vector and outer products, BLAS matmul
    for matrix products) against loops, on contiguous and transposed inputs; and its gradients
    (the transposed contractions) against the same loops, through ``.sum().backward()`` (a
    broadcast gradient, the layout BLAS cannot read directly)."""
    arrays = [RNG.standard_normal(s) for s in shapes]
    if layout == "transposed":
        arrays = [np.asfortranarray(a) for a in arrays]
    want = _slow_einsum(eq, *arrays)
    for dt, tol in ((np.float64, 1e-12), (np.float32, 1e-5)):
        ts = [mg.tensor(a.astype(dt), requires_grad=True) for a in arrays]
        got = mg.einsum(eq, *ts)
        assert got.dtype == dt and got.shape == want.shape
        np.testing.assert_allclose(got.numpy(), want, rtol=tol, atol=tol)
        (got * mg.tensor(np.full(want.shape, 2.0, dt))).sum().backward()
        for k, t in enumerate(ts):
            ones = [np.ones_like(a) if j == k else a for j, a in enumerate(arrays)]
            # d(2 * sum(out))/d a[i] = 2 * sum of the other factors over the matching terms
            grad = np.zeros_like(arrays[k])
            for idx in np.ndindex(arrays[k].shape):
                unit = np.zeros_like(arrays[k])
                unit[idx] = 1.0
                grad[idx] = 2 * _slow_einsum(eq, *[unit if j == k else a
                                                   for j, a in enumerate(ones)]).sum()
            np.testing.assert_allclose(t.grad.numpy(), grad, rtol=tol * 10, atol=tol * 10)


def test_einsum_diagonal_is_a_new_array_and_checks_sizes():
    x = mg.tensor(RNG.standard_normal((3, 3)))
    d = mg.einsum("ii->i", x)
    d.data[0] = 100.0  # not a view of x
    assert x.numpy()[0, 0] != 100.0
    with pytest.raises(ValueError, match=r"einsum: label 'i' of 'ii->i' has sizes 2 and 3"):
        mg.einsum("ii->i", mg.zeros(2, 3))
    with pytest.raises(ValueError, match=r"einsum: the repeated label 'i' spans dims of sizes "
                                         r"1 and 3"):
        mg.einsum("ii->i", mg.zeros(1, 3))  # size 1 does not broadcast within one operand


def test_einsum_pair_of_mixed_dtypes_promotes():
    a, b = RNG.standard_normal((2, 3)), RNG.standard_normal((3, 4))
    got = mg.einsum("ij,jk->ik", mg.tensor(a.astype(np.float32)), mg.tensor(b))
    assert got.dtype == np.float64
    np.testing.assert_allclose(got.numpy(), a.astype(np.float32) @ b, rtol=1e-6)


def test_einsum_contraction_plans():
    """Matrix products go to matmul; per-row dot products of contiguous operands to the row
    kernel; the other pairs to np.einsum (one pass over each operand), never multiply-then-sum
    on the CPU."""
    from minigrad.ops.kernels.cpu import einsum as K

    a, b, v = np.ones((2, 3, 4)), np.ones((2, 4, 5)), np.ones((2, 4))
    assert K.is_matrix_product(a, b, (1, 2, 3), (1, 3, 4), (1, 2, 4))
    assert not K.is_matrix_product(a, a, (1, 2, 3), (1, 2, 3), (1,))  # bij,bij->b
    assert not K.is_matrix_product(a[:, :1], b, (1, 2, 3), (1, 3, 4), (1, 2, 4))  # m = 1
    calls = []
    real = np.einsum
    at = np.ones((2, 4, 3)).transpose(0, 2, 1)  # not C-contiguous: no row kernel
    try:
        np.einsum = lambda *args, **kw: calls.append(args[0]) or real(*args, **kw)
        rows = K.contract(a, a * 2, (1, 2, 3), (1, 2, 3), (1,))  # bij,bij->b
        assert calls == []
        mv = K.contract(a, v, (1, 2, 3), (1, 3), (1, 2))  # bij,bj->bi
        strided = K.contract(at, a, (1, 2, 3), (1, 2, 3), (1,))
    finally:
        np.einsum = real
    assert calls == ["abc,ac->ab", "abc,abc->a"]
    assert rows.tolist() == [24.0, 24.0] and rows.dtype == np.float64
    assert mv.tolist() == [[4.0] * 3] * 2 and strided.tolist() == [12.0, 12.0]


# -- the CPU scatter kernels --------------------------------------------------------------------


@pytest.mark.parametrize("dim", [0, 1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
def test_gather_kernel_matches_take_along_axis(dim, dtype):
    shape = (4, 5, 6)
    ishape = list(shape)
    ishape[dim] = 7
    if dim != 0:
        ishape[0] = 3  # smaller off dim
    idx = RNG.integers(0, shape[dim], ishape)
    x = (RNG.standard_normal(shape[::-1]).T * 10).astype(dtype)  # non-contiguous
    got = mg.tensor(x).gather(dim, mg.tensor(idx.astype(np.int32)))
    block = x[tuple(slice(None) if d == dim else slice(0, n) for d, n in enumerate(ishape))]
    np.testing.assert_array_equal(got.numpy(), np.take_along_axis(block, idx, dim))
    assert got.dtype == dtype
    empty = mg.tensor(x).gather(dim, mg.tensor(np.zeros((0, 1, 1), np.int64)))
    assert empty.shape == (0, 1, 1)


@pytest.mark.parametrize("bad", [-1, 6, 100])
def test_gather_kernel_finds_every_out_of_range_value(bad):
    x = mg.tensor(RNG.standard_normal((300, 6)), requires_grad=True)
    idx = RNG.integers(0, 6, (300, 200))
    idx[217 % 300, 199] = bad  # one bad value deep in a large (parallel) index
    for t in (x, x.detach()):
        with pytest.raises(IndexError, match=f"gather: index value {bad} is out of range for "
                                             r"dim 1 of size 6 \(input shape \(300, 6\)"):
            t.gather(1, mg.tensor(idx))


@pytest.mark.parametrize("dim", [0, 1, 2])
def test_scatter_add_kernel_matches_add_at(dim):
    from minigrad.ops.index import ScatterAddFn  # noqa: F401  (the op under test)

    shape = (5, 6, 7)
    ishape = list(shape)
    ishape[dim] = 9
    if dim != 0:
        ishape[0] = 3  # smaller off dim: the block path
    idx = RNG.integers(0, shape[dim], ishape)
    src = RNG.standard_normal(ishape[::-1]).T  # non-contiguous
    x = RNG.standard_normal(shape).astype(np.float32)
    got = mg.tensor(x).scatter_add(dim, mg.tensor(idx), mg.tensor(src.astype(np.float32)))
    want = x.astype(np.float64).copy()
    grids = list(np.indices(ishape))
    grids[dim] = idx
    np.add.at(want, tuple(grids), src)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=1e-5)
    ix = mg.tensor(RNG.integers(0, shape[dim], 8))
    src2 = RNG.standard_normal(shape[:dim] + (8,) + shape[dim + 1:])
    got = mg.tensor(np.zeros(shape)).index_add(dim, ix, mg.tensor(src2))
    want = np.zeros(shape)
    np.add.at(want, (slice(None),) * dim + (ix.numpy(),), src2)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=1e-12)


# -- GPU host fallbacks --------------------------------------------------------------------------


def _readme_fallbacks() -> str:
    text = (ROOT / "README.md").read_text()
    m = re.search(r"<!-- host-fallbacks -->(.*?)<!-- /host-fallbacks -->", text, re.S)
    assert m, "README: the list of GPU host fallbacks is missing"
    return m.group(1)


def test_readme_lists_every_gpu_host_fallback():
    from tests.test_cuda_parity import HOST_FALLBACK

    listed = set(re.findall(r"`([a-z_.0-9]+)`", _readme_fallbacks()))
    ops = {name.removesuffix("_dim").rsplit("_", 1)[0] if name.startswith("scatter_reduce")
           else name.removesuffix("_dim") for name in HOST_FALLBACK}
    ops |= {"argsort", "nonzero", "argwhere", "masked_select", "unique", "bincount"}
    ops = {("linalg." + o) if o in ("inv", "det", "solve", "cholesky") else o for o in ops}
    missing = ops - listed
    assert not missing, f"README does not list these GPU host fallbacks: {sorted(missing)}"


@pytest.mark.cuda
def test_gpu_fallback_is_counted_and_named_in_strict_mode():
    if not mcuda.is_available():
        pytest.skip("no CUDA (or simulator)")
    x = mg.tensor(RNG.standard_normal((3, 4)).astype(np.float32), device="cuda")
    mcuda.reset_fallback_counts()
    y = x.cumsum(1)
    assert y.device == "cuda" and mcuda.fallback_counts().get("cumsum") == 1
    np.testing.assert_allclose(y.numpy(), np.cumsum(x.numpy(), 1), rtol=1e-5)
    prev = mcuda.strict(True)
    try:
        with pytest.raises(mcuda.HostFallbackError, match="argsort"):
            x.sort(1)
        y = x.gather(1, mg.tensor([[0, 3]] * 3, device="cuda"))  # on the device: no error
        z = x.scatter_add(1, mg.tensor([[0, 0]] * 3, device="cuda"), y)
        e = mg.einsum("ij,kj->ik", x, x)
    finally:
        mcuda.strict(prev)
    np.testing.assert_allclose(z.numpy()[:, 0], x.numpy()[:, 0] * 2 + x.numpy()[:, 3],
                               rtol=1e-5)
    np.testing.assert_allclose(e.numpy(), x.numpy() @ x.numpy().T, rtol=1e-4, atol=1e-5)


def test_float_sort_fast_path_is_stable():
    """Rows without ties take NumPy's quicksort, the others its stable sort: stable either way."""
    a = RNG.standard_normal((60, 40)).astype(np.float32)
    a[::3, ::4] = 0.5  # ties in every third row
    a[1, 5] = a[1, 7] = np.nan  # NaNs sort last, in input order
    for dim in (0, 1):
        for desc in (False, True):
            got = mg.tensor(a).argsort(dim, descending=desc).numpy()
            key = -a if desc else a
            want = np.argsort(np.where(np.isnan(a), -np.inf if desc else np.inf, key), axis=dim,
                              kind="stable")
            np.testing.assert_array_equal(got, want)
