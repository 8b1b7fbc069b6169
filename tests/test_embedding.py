"""Embedding and EmbeddingBag: the row kernels against NumPy (``np.add.at`` with duplicates), the
layers against PyTorch with copied weights (forward and gradients, float64), padding rows,
max_norm, frequency scaling, bags, and bad indices (clear errors, weights untouched)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad.ops.kernels.cpu import embedding as KE

RNG = np.random.default_rng(0)


# -- kernels -----------------------------------------------------------------------------------


@given(st.integers(0, 40), st.integers(1, 6), st.integers(1, 70),
       st.sampled_from([np.float32, np.float64]), st.integers(0, 999))
def test_scatter_add_rows_matches_add_at_with_duplicates(n, v, d, dtype, seed):
    rng = np.random.default_rng(seed)
    g = rng.standard_normal((n, d)).astype(dtype)
    index = rng.integers(-1, v, n)  # -1: skipped
    scale = rng.standard_normal(n).astype(dtype)
    want = np.zeros((v, d), dtype=np.float64)
    keep = index >= 0
    np.add.at(want, index[keep], (g * scale[:, None])[keep])
    got = KE.scatter_add_rows(g, index, v, scale)
    assert got.dtype == dtype and got.shape == (v, d)
    np.testing.assert_allclose(got, want, rtol=1e-5 if dtype == np.float32 else 1e-12,
                               atol=1e-5 if dtype == np.float32 else 1e-12)
    got = KE.gather_rows(g.T.copy(), np.where(index < d, index, -1) if n else index)
    ref = np.where((index >= 0)[:, None] & (index < d)[:, None],
                   g.T[np.clip(index, 0, d - 1)] if d else 0, 0) if n else np.zeros((0, n))
    np.testing.assert_array_equal(got, ref)


def test_scatter_add_parallel_path_is_exact_and_deterministic():
    g = RNG.standard_normal((3000, 64))  # above the parallel threshold
    index = RNG.integers(0, 7, 3000)
    want = np.zeros((7, 64))
    np.add.at(want, index, g)
    first = KE.scatter_add_rows(g, index, 7)
    np.testing.assert_allclose(first, want, rtol=1e-12, atol=1e-12)
    for _ in range(3):  # the same order of additions every time
        np.testing.assert_array_equal(KE.scatter_add_rows(g, index, 7), first)


# -- F.embedding and nn.Embedding against PyTorch ----------------------------------------------


def _torch():
    return pytest.importorskip("torch")


def _check(y, yt, w, wt, tol=1e-12):
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(w.grad.numpy(), wt.grad.numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(w.numpy(), wt.detach().numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize("kw", [{}, {"padding_idx": 2}, {"padding_idx": -1},
                                {"scale_grad_by_freq": True},
                                {"padding_idx": 0, "scale_grad_by_freq": True},
                                {"max_norm": 1.0}, {"max_norm": 2.5, "norm_type": 1.0},
                                {"max_norm": 0.5, "norm_type": float("inf")}])
def test_embedding_matches_torch(kw):
    torch = _torch()
    table = RNG.standard_normal((10, 4))
    idx = np.array([[1, 2, 2, 9], [0, 9, 2, 2], [5, 5, 5, 1]])  # repeats: gradients accumulate
    g = RNG.standard_normal((3, 4, 4))
    ours = nn.Embedding(10, 4, **kw).double()
    theirs = torch.nn.Embedding(10, 4, **kw).double()
    ours.weight.data[...] = table
    theirs.weight.data[...] = torch.tensor(table)
    y, yt = ours(mg.tensor(idx)), theirs(torch.tensor(idx))
    (y * mg.tensor(g)).sum().backward()
    (yt * torch.tensor(g)).sum().backward()
    _check(y, yt, ours.weight, theirs.weight)
    assert repr(ours) == repr(theirs)


def test_padding_row_starts_at_zero_and_gets_no_gradient():
    emb = nn.Embedding(6, 3, padding_idx=4)
    np.testing.assert_array_equal(emb.weight.numpy()[4], 0)
    emb.weight.data[4] = 7.0  # a trained padding row is still returned ...
    y = emb(mg.tensor([4, 1, 4]))
    np.testing.assert_array_equal(y.numpy()[0], 7.0)
    (y * y).sum().backward()
    np.testing.assert_array_equal(emb.weight.grad.numpy()[4], 0)  # ... but gets no gradient
    np.testing.assert_allclose(emb.weight.grad.numpy()[1], 2 * emb.weight.numpy()[1])


def test_from_pretrained_shares_freezes_and_keeps_the_padding_row():
    torch = _torch()
    table = RNG.standard_normal((5, 2))
    w = mg.tensor(table)
    emb = nn.Embedding.from_pretrained(w, padding_idx=1)
    assert emb.weight.data is w.data and not emb.weight.requires_grad
    np.testing.assert_array_equal(emb.weight.numpy()[1], table[1])
    ref = torch.nn.Embedding.from_pretrained(torch.tensor(table), padding_idx=1)
    np.testing.assert_array_equal(emb(mg.tensor([1, 3])).numpy(),
                                  ref(torch.tensor([1, 3])).numpy())
    assert nn.Embedding.from_pretrained(w, freeze=False).weight.requires_grad
    bag = nn.EmbeddingBag.from_pretrained(w, mode="sum")
    assert not bag.weight.requires_grad
    np.testing.assert_allclose(bag(mg.tensor([[0, 2]])).numpy(), table[[0]] + table[[2]])


def test_double_backward_through_embedding():
    w = mg.tensor(RNG.standard_normal((5, 3)), requires_grad=True)
    idx = mg.tensor([1, 1, 4])
    (g,) = mg.grad((F.embedding(idx, w) ** 3).sum(), w, create_graph=True)
    (h,) = mg.grad((g * g).sum(), w)
    # g = 3 * count * w^2 on used rows -> d/dw sum(g^2) = 2 g * 6 count w
    count = np.array([0, 2, 0, 0, 1])[:, None]
    want = 2 * (3 * count * w.numpy() ** 2) * 6 * count * w.numpy()
    np.testing.assert_allclose(h.numpy(), want, rtol=1e-12)


# -- EmbeddingBag ------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("layout", ["2d", "offsets", "last_offset", "empty_bags"])
@pytest.mark.parametrize("padding_idx", [None, 3])
def test_embedding_bag_matches_torch(mode, layout, padding_idx):
    torch = _torch()
    table = RNG.standard_normal((8, 5))
    kw: dict = {"mode": mode, "padding_idx": padding_idx}
    if layout == "2d":
        idx, offsets = np.array([[1, 3, 3], [7, 0, 2]]), None
    else:
        idx = np.array([1, 3, 4, 3, 3, 6, 0, 2, 2])
        offsets = {"offsets": [0, 2, 5], "last_offset": [0, 2, 5, 9],
                   "empty_bags": [0, 0, 5, 5, 7]}[layout]
        kw["include_last_offset"] = layout == "last_offset"
    ours = nn.EmbeddingBag(8, 5, **kw).double()
    theirs = torch.nn.EmbeddingBag(8, 5, **kw).double()
    ours.weight.data[...] = table
    theirs.weight.data[...] = torch.tensor(table)
    y = ours(mg.tensor(idx), None if offsets is None else mg.tensor(offsets))
    yt = theirs(torch.tensor(idx), None if offsets is None else torch.tensor(offsets))
    g = RNG.standard_normal(yt.shape)
    (y * mg.tensor(g)).sum().backward()
    (yt * torch.tensor(g)).sum().backward()
    _check(y, yt, ours.weight, theirs.weight)
    assert repr(ours) == repr(theirs)


def test_embedding_bag_per_sample_weights_match_torch():
    torch = _torch()
    table = RNG.standard_normal((6, 3))
    idx, offsets = np.array([1, 2, 2, 5, 1, 0]), np.array([0, 3])
    psw = RNG.standard_normal(6)
    w, wt = mg.tensor(table, requires_grad=True), torch.tensor(table, requires_grad=True)
    p, pt = mg.tensor(psw, requires_grad=True), torch.tensor(psw, requires_grad=True)
    y = F.embedding_bag(mg.tensor(idx), w, mg.tensor(offsets), mode="sum",
                        per_sample_weights=p)
    yt = torch.nn.functional.embedding_bag(torch.tensor(idx), wt, torch.tensor(offsets),
                                           mode="sum", per_sample_weights=pt)
    (y ** 2).sum().backward()
    (yt ** 2).sum().backward()
    _check(y, yt, w, wt)
    np.testing.assert_allclose(p.grad.numpy(), pt.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("mode", ["sum", "mean"])
def test_embedding_bag_scale_grad_by_freq_divides_by_each_index_count(mode):
    """Each entry's gradient divided by its own index's count in the batch (F.embedding's rule;
    PyTorch 2.13's CPU embedding_bag divides row 5 here by index 2's count, #190063)."""
    idx, offsets = np.array([1, 2, 2, 5, 1, 0]), np.array([0, 3])
    w = mg.tensor(RNG.standard_normal((6, 2)), requires_grad=True)
    g = RNG.standard_normal((2, 2))
    y = F.embedding_bag(mg.tensor(idx), w, mg.tensor(offsets), mode=mode,
                        scale_grad_by_freq=True)
    (y * mg.tensor(g)).sum().backward()
    bag = np.array([0, 0, 0, 1, 1, 1])
    per_entry = g[bag] / (3.0 if mode == "mean" else 1.0)
    counts = {0: 1, 1: 2, 2: 2, 5: 1}
    want = np.zeros((6, 2))
    for k, i in enumerate(idx):
        want[i] += per_entry[k] / counts[i]
    np.testing.assert_allclose(w.grad.numpy(), want, rtol=1e-12)


# -- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize("layer", ["Embedding", "EmbeddingBag"])
@pytest.mark.parametrize("bad, error, match", [
    (mg.tensor([[1, 10]]), IndexError, r"index 10 is out of range for num_embeddings=10 \(input "
                                       r"shape \(1, 2\), weight shape \(10, 3\)\)"),
    (mg.tensor([[3, -1]]), IndexError, "index -1 is out of range"),
    (mg.tensor([[1.0, 2.0]]), TypeError, r"integer indices .* float32 .* shape \(1, 2\)"),
    (np.array([[1, 2]]), TypeError, "must be a Tensor of indices"),
])
def test_bad_indices_name_the_layer_and_leave_the_weight_untouched(layer, bad, error, match):
    module = getattr(nn, layer)(10, 3, max_norm=0.1)  # max_norm would rewrite looked-up rows
    before = module.weight.numpy().copy()
    with pytest.raises(error, match=f"{layer}: .*{match}"):
        module(bad)
    np.testing.assert_array_equal(module.weight.numpy(), before)


@pytest.mark.parametrize("call, error, match", [
    (lambda w: F.embedding(mg.tensor([1]), w, sparse=True), ValueError, "sparse=True"),
    (lambda w: F.embedding(mg.tensor([1]), w, padding_idx=5), ValueError, "padding_idx"),
    (lambda w: F.embedding(mg.tensor([1]), w[0]), ValueError, "weight must be 2-D"),
    (lambda w: F.embedding(mg.tensor([1]), w, max_norm=-1.0), ValueError, "max_norm"),
    (lambda w: F.embedding_bag(mg.tensor([1, 2]), w), ValueError, "offsets are required"),
    (lambda w: F.embedding_bag(mg.tensor([[1, 2]]), w, mg.tensor([0])), ValueError,
     "offsets must be None"),
    (lambda w: F.embedding_bag(mg.tensor([1, 2]), w, mg.tensor([1])), ValueError,
     r"offsets\[0\] must be 0"),
    (lambda w: F.embedding_bag(mg.tensor([1, 2]), w, mg.tensor([0, 3])), ValueError,
     "non-decreasing and at most len"),
    (lambda w: F.embedding_bag(mg.tensor([1, 2]), w, mg.tensor([0, 1]),
                               include_last_offset=True), ValueError, "last offset must be"),
    (lambda w: F.embedding_bag(mg.tensor([1, 2]), w, mg.tensor([0.0])), TypeError,
     "offsets must be a 1-D integer Tensor"),
    (lambda w: F.embedding_bag(mg.tensor([1, 2]), w, mg.tensor([0]), mode="mean",
                               per_sample_weights=mg.tensor([1.0, 2.0])), ValueError,
     "only supported for mode='sum'"),
    (lambda w: F.embedding_bag(mg.tensor([1, 2]), w, mg.tensor([0]), mode="sum",
                               per_sample_weights=mg.tensor([1.0])), ValueError,
     "must have the input's shape"),
    (lambda w: F.embedding_bag(mg.tensor([1, 2]), w, mg.tensor([0]), mode="min"), ValueError,
     "mode must be one of"),
    (lambda w: nn.Embedding(4, 2, sparse=True), ValueError, "sparse=True"),
    (lambda w: nn.Embedding(4, 2, _weight=mg.randn(3, 2)), ValueError, r"_weight must have"),
])
def test_bad_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call(mg.randn(4, 3))


def test_max_norm_renormalises_in_place_and_bumps_the_version():
    emb = nn.Embedding(4, 3, max_norm=1.0).double()
    emb.weight.data[...] = [[3.0, 4.0, 0.0], [0.1, 0.0, 0.0], [0.0, 0.0, 2.0], [1.0, 1.0, 1.0]]
    v0 = emb.weight._version
    emb(mg.tensor([0, 1]))
    np.testing.assert_allclose(np.linalg.norm(emb.weight.numpy()[0]), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(emb.weight.numpy()[1], [0.1, 0, 0])  # below max_norm
    np.testing.assert_array_equal(emb.weight.numpy()[2], [0, 0, 2])  # not looked up
    assert emb.weight._version > v0
