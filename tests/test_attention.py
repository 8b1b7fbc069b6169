"""scaled_dot_product_attention: the fused kernel against the definition (NumPy, one row at a
time) and against PyTorch; masks, causality, padding, fully masked rows, huge logits, dropout,
what is kept for backward, double backward, and clear errors for bad input.

The registry entries (minigrad/testing/opinfo/attention.py) add the gradient fuzz, the float32
check and the GPU parity.
"""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn.functional as F
from minigrad.ops import attention as A
from minigrad.ops.kernels.cpu import attention as K
from minigrad.testing import gradcheck, gradgradcheck
from minigrad.testing.opinfo.attention import np_attention

rng = np.random.default_rng(0)


def t(*shape, dtype=np.float64, scale=1.0):
    return mg.tensor(rng.standard_normal(shape).astype(dtype) * scale, requires_grad=True)


def unfused(q, k, v, bias=None, causal=False, scale=None):
    """The composition of existing ops: matmul, add, where, softmax, matmul."""
    sc = 1 / np.sqrt(q.shape[-1]) if scale is None else scale
    s = (q @ k.swapaxes(-1, -2)) * sc
    if bias is not None:
        s = s + bias
    if causal:
        n_q, n_k = s.shape[-2:]
        s = mg.where(mg.tensor(np.tril(np.ones((n_q, n_k), dtype=bool))), s, -np.inf)
    return F.softmax(s, -1) @ v


# ------------------------------------------------------------------------------------------------
# the fused kernel against the definition and against the unfused composition


@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-12), (np.float32, 2e-5)])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("n_q,n_k", [(5, 7), (130, 300), (300, 130), (257, 257)])
def test_fused_kernel_matches_the_definition(dtype, tol, causal, n_q, n_k):
    """Sizes above the causal query tile (CAUSAL_BLOCK = 64) cover several tiles of queries,
    the causal cut of the keys and partial last tiles."""
    q, k, v = t(2, n_q, 8, dtype=dtype), t(2, n_k, 8, dtype=dtype), t(2, n_k, 3, dtype=dtype)
    out = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    ref = np_attention(q.numpy().astype(np.float64), k.numpy().astype(np.float64),
                       v.numpy().astype(np.float64), is_causal=causal)
    assert out.dtype == dtype
    np.testing.assert_allclose(out.numpy(), ref, rtol=tol, atol=tol)
    assert K.CAUSAL_BLOCK < 130  # the large cases do cover several tiles


@pytest.mark.parametrize("parallel", [False, True])
@pytest.mark.parametrize("e,ev", [(21, 3), (16, 16)])
@pytest.mark.parametrize("case", ["plain", "causal", "mask", "dropout"])
def test_register_tiled_blocks_serial_and_parallel(monkeypatch, parallel, e, ev, case):
    """The kernels' register-tiled blocks in their serial and parallel builds, with head widths
    that are whole vectors (16: written in place) or not (21, 3: through padded copies), 37 keys
    (not whole vectors: the packed keys are padded) and blocks of 40 queries (3 per batch row,
    adding into the same dk, dv rows). Forward and lse against the definition in float64; every
    gradient against the Tensor-op backward (create_graph=True), which has no blocks."""
    from minigrad.ops.kernels.cpu import _jit
    from minigrad.testing.opinfo.attention import _SEED

    monkeypatch.setattr(_jit, "PARALLEL_MIN_SIZE", 0 if parallel else 1 << 60)
    monkeypatch.setattr(K, "CACHE_BYTES", 40 * 37 * 8)
    b, n_q, n_k = 5, 100, 37
    q, k, v = t(b, n_q, e), t(b, n_k, e), t(b, n_k, ev)
    m = t(b, n_q, n_k) if case == "mask" else None
    p_drop = 0.3 if case == "dropout" else 0.0
    kw = {"attn_mask": m, "is_causal": case == "causal", "scale": 0.4, "dropout_p": p_drop}
    ref = np_attention(q.numpy(), k.numpy(), v.numpy(), None if m is None else m.numpy(),
                       is_causal=case == "causal", scale=0.4, dropout_p=p_drop)
    seed = int(np.random.default_rng(_SEED).integers(0, 2**63))
    o, lse = K.sdpa_forward(q.numpy(), k.numpy(), v.numpy(), None if m is None else m.numpy(),
                            (b,), case == "causal", 0.4, p_drop, seed)
    np.testing.assert_allclose(o, ref, rtol=1e-12, atol=1e-13)
    s = np.einsum("bie,bje->bij", q.numpy(), k.numpy()) * 0.4 + (0.0 if m is None else m.numpy())
    if case == "causal":
        s = np.where(np.tril(np.ones((n_q, n_k), bool)), s, -np.inf)
    np.testing.assert_allclose(lse, np.log(np.exp(s).sum(-1)), rtol=1e-12)

    g = mg.tensor(rng.standard_normal((b, n_q, ev)))
    inputs = [q, k, v] + ([m] if m is not None else [])

    def grads(create_graph):
        out = F.scaled_dot_product_attention(q, k, v, generator=np.random.default_rng(_SEED),
                                             **kw)
        return [out.numpy()] + [d.numpy() for d in mg.grad(out, inputs, g,
                                                            create_graph=create_graph)]

    for fast, slow in zip(grads(False), grads(True)):
        np.testing.assert_allclose(fast, slow, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cache_bytes", [1, 700, 5000])
@pytest.mark.parametrize("case", ["plain", "causal", "float_mask", "dropout"])
def test_tiles_of_any_size_give_the_same_answer(monkeypatch, cache_bytes, case):
    """A small tile budget splits the queries into tiles (1: one query row per tile, 700: a few,
    5000: several batch rows per tile); output and every gradient still equal the unfused
    Tensor-op backward (create_graph=True), which uses no tiles."""
    monkeypatch.setattr(K, "CACHE_BYTES", cache_bytes)
    monkeypatch.setattr(K, "CAUSAL_BLOCK", 5)
    q, k, v, m = t(3, 2, 13, 4), t(3, 2, 11, 4), t(3, 2, 11, 3), t(2, 13, 11)
    g = mg.tensor(rng.standard_normal((3, 2, 13, 3)))
    kw = {"float_mask": {"attn_mask": m}, "causal": {"is_causal": True},
          "dropout": {"dropout_p": 0.4}}.get(case, {})
    inputs = [q, k, v] + ([m] if case == "float_mask" else [])

    def run(create_graph):
        out = F.scaled_dot_product_attention(q, k, v, generator=np.random.default_rng(3), **kw)
        return [out.numpy()] + [d.numpy() for d in mg.grad(out, inputs, g,
                                                            create_graph=create_graph)]

    ref = np_attention(*(x.numpy() for x in (q, k, v)), is_causal=case == "causal",
                       mask=m.numpy() if case == "float_mask" else None)
    fused, slow = run(False), run(True)
    if case != "dropout":
        np.testing.assert_allclose(fused[0], ref, rtol=1e-12, atol=1e-13)
    for a, b in zip(fused, slow):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("n", [6, 200])
def test_fused_forward_and_gradients_equal_the_unfused_composition(n):
    q, k, v, m = t(2, 3, n, 4), t(2, 3, n + 5, 4), t(2, 3, n + 5, 2), t(3, n, n + 5)
    g = mg.tensor(rng.standard_normal((2, 3, n, 2)))
    grads = []
    for fn in (lambda: F.scaled_dot_product_attention(q, k, v, attn_mask=m),
               lambda: unfused(q, k, v, m)):
        for x in (q, k, v, m):
            x.grad = None
        out = fn()
        out.backward(g)
        grads.append([out.numpy()] + [x.grad.numpy() for x in (q, k, v, m)])
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("mask_grad", [False, True])
def test_gradients_do_not_depend_on_whether_the_mask_needs_one(mask_grad):
    """The backward kernel scales d score in the loop that forms it when the float mask needs no
    gradient, and in a loop of its own after writing it out when it does: q, k and v get the
    unfused composition's gradients both ways."""
    q, k, v = t(2, 7, 4), t(2, 9, 4), t(2, 9, 3)
    m = mg.tensor(rng.standard_normal((7, 9)), requires_grad=mask_grad)
    g = mg.tensor(rng.standard_normal((2, 7, 3)))
    fused = mg.grad(F.scaled_dot_product_attention(q, k, v, attn_mask=m, scale=0.7), [q, k, v], g)
    ref = mg.grad(unfused(q, k, v, m, scale=0.7), [q, k, v], g)
    for a, b in zip(fused, ref):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-11, atol=1e-13)


def test_create_graph_backward_equals_the_kernel_backward():
    """Under create_graph=True the backward is Tensor ops; its first-order values are the
    kernel's (the registry's gradgradcheck then checks its own derivative)."""
    q, k, v, m = t(2, 9, 4), t(2, 11, 4), t(2, 11, 3), t(9, 11)
    g = mg.tensor(rng.standard_normal((2, 9, 3)))
    fast = mg.grad(F.scaled_dot_product_attention(q, k, v, attn_mask=m, is_causal=False),
                   [q, k, v, m], g)
    slow = mg.grad(F.scaled_dot_product_attention(q, k, v, attn_mask=m), [q, k, v, m], g,
                   create_graph=True)
    assert all(s.requires_grad for s in slow)
    for a, b in zip(fast, slow):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-11, atol=1e-13)


def test_double_backward_through_attention():
    q, k, v = t(1, 4, 3), t(1, 5, 3), t(1, 5, 2)
    assert gradgradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
                         [q, k, v])


@pytest.mark.parametrize("causal", [False, True])
def test_gradients_match_finite_differences_over_several_tiles(monkeypatch, causal):
    """A tile budget of 3 query rows (and causal tiles of 2): dk and dv add up over tiles."""
    monkeypatch.setattr(K, "CACHE_BYTES", 3 * 9 * 8)
    monkeypatch.setattr(K, "CAUSAL_BLOCK", 2)
    q, k, v = t(2, 8, 3), t(2, 9, 3), t(2, 9, 2)
    assert gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=causal),
                     [q, k, v])


def test_nothing_of_size_L_by_S_is_kept_for_backward():
    q, k, v = t(2, 64, 8), t(2, 96, 8), t(2, 96, 8)
    out = F.scaled_dot_product_attention(q, k, v)
    saved = [getattr(s, "array", s) for s in out.grad_fn._saved]
    sizes = [a.size for a in saved if isinstance(a, np.ndarray)]
    assert max(sizes) <= 2 * 96 * 8 < 2 * 64 * 96  # inputs, the output and lse only


# ------------------------------------------------------------------------------------------------
# masks


def test_causal_masking_leaks_nothing():
    """Output row i depends on keys and values 0..i only: their gradients from row i are exactly
    zero at later positions, and changing later keys/values leaves rows 0..i bit for bit."""
    n = 150
    q, k, v = t(2, n, 4), t(2, n, 4), t(2, n, 3)
    for i in (0, 37, 128, n - 1):
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        dq, dk, dv = mg.grad(out[:, i].sum(), [q, k, v])
        assert (dk.numpy()[:, i + 1:] == 0).all() and (dv.numpy()[:, i + 1:] == 0).all()
        assert (dq.numpy()[:, :i] == 0).all() and (dq.numpy()[:, i + 1:] == 0).all()
        if i:  # row 0 attends key 0 alone: its output is v[0] whatever k[0] is
            assert np.abs(dk.numpy()[:, : i + 1]).sum() > 0
    out = F.scaled_dot_product_attention(q, k, v, is_causal=True).numpy()
    k2, v2 = k.numpy().copy(), v.numpy().copy()
    k2[:, 60:] = 1e3
    v2[:, 60:] = -7.0
    out2 = F.scaled_dot_product_attention(q, mg.tensor(k2), mg.tensor(v2), is_causal=True).numpy()
    np.testing.assert_array_equal(out2[:, :60], out[:, :60])


def test_padding_mask_ignores_padded_keys():
    """A (N, 1, 1, S) bool mask (True: attend): output equals attention over the real keys only,
    and padded keys and values get exactly zero gradient."""
    q, k, v = t(2, 2, 5, 4), t(2, 2, 9, 4), t(2, 2, 9, 3)
    lengths = [9, 6]
    keep = np.arange(9)[None, :] < np.array(lengths)[:, None]
    mask = mg.tensor(keep.reshape(2, 1, 1, 9))
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    for b, n in enumerate(lengths):
        ref = F.scaled_dot_product_attention(q[b], k[b, :, :n], v[b, :, :n])
        np.testing.assert_allclose(out[b].numpy(), ref.numpy(), rtol=1e-12, atol=1e-14)
    dk, dv = mg.grad(out.sum(), [k, v])
    assert (dk.numpy()[1, :, 6:] == 0).all() and (dv.numpy()[1, :, 6:] == 0).all()


def test_float_mask_is_added_and_gets_its_gradient_summed_over_broadcast_axes():
    q, k, v = t(2, 3, 4, 5), t(2, 3, 6, 5), t(2, 3, 6, 2)
    m = t(1, 3, 1, 6)  # broadcast over batch and queries
    assert gradcheck(lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m),
                     [q, k, v, m])
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=m)
    np.testing.assert_allclose(out.numpy(), unfused(q, k, v, m).numpy(), rtol=1e-12)


def test_fully_masked_rows_give_zero_and_zero_gradients():
    q, k, v = t(1, 3, 4), t(1, 5, 4), t(1, 5, 2)
    keep = np.ones((3, 5), dtype=bool)
    keep[1] = False
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mg.tensor(keep))
    assert np.isfinite(out.numpy()).all() and (out.numpy()[0, 1] == 0).all()
    (dq,) = mg.grad(out.sum(), [q])
    assert np.isfinite(dq.numpy()).all() and (dq.numpy()[0, 1] == 0).all()
    # the same under create_graph (the Tensor-op backward)
    (dq2,) = mg.grad(F.scaled_dot_product_attention(q, k, v, attn_mask=mg.tensor(keep)).sum(),
                     [q], create_graph=True)
    np.testing.assert_allclose(dq2.numpy(), dq.numpy(), atol=1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_huge_logits_stay_finite(dtype):
    """Scores of 1e4 and more: the softmax shifts each row by its maximum, so nothing
    overflows; the output is the value at the best key, as the float64 definition says."""
    q, k, v = t(2, 40, 8, dtype=dtype, scale=300.0), t(2, 300, 8, dtype=dtype, scale=300.0), \
        t(2, 300, 4, dtype=dtype)
    out = F.scaled_dot_product_attention(q, k, v)
    assert np.isfinite(out.numpy()).all()
    ref = np_attention(*(x.numpy().astype(np.float64) for x in (q, k, v)))
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-3, atol=1e-3)
    dq, dk, dv = mg.grad((out * out).sum(), [q, k, v])
    assert all(np.isfinite(d.numpy()).all() for d in (dq, dk, dv))


# ------------------------------------------------------------------------------------------------
# scale, broadcasting, GQA, dropout


def test_scale_broadcast_batch_and_gqa_agree_with_the_definition():
    q, k, v = t(2, 4, 3, 5), t(1, 2, 6, 5), t(2, 2, 6, 3)
    out = F.scaled_dot_product_attention(q, k, v, scale=0.3, enable_gqa=True)
    rep = lambda x: np.repeat(x.numpy(), 2, axis=1)  # noqa: E731 - head h uses kv head h // 2
    ref = np_attention(q.numpy(), rep(k), rep(v), scale=0.3)
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-12)
    assert gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, enable_gqa=True),
                     [q, k, v])


def test_dropout_is_reproducible_and_scales_the_kept_weights():
    q, k, v = t(4, 64, 8), t(4, 64, 8), mg.tensor(np.ones((4, 64, 1)))
    a = F.scaled_dot_product_attention(q, k, v, dropout_p=0.3,
                                       generator=np.random.default_rng(5))
    b = F.scaled_dot_product_attention(q, k, v, dropout_p=0.3,
                                       generator=np.random.default_rng(5))
    c = F.scaled_dot_product_attention(q, k, v, dropout_p=0.3,
                                       generator=np.random.default_rng(6))
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert not np.array_equal(a.numpy(), c.numpy())
    # with v = 1 each output is sum(kept p) / (1 - p): 1 on average
    assert abs(a.numpy().mean() - 1.0) < 0.05
    mask = K.dropout_keep(123, (4, 64, 64), 0.3)
    assert abs(mask.mean() - 0.7) < 0.01
    assert F.scaled_dot_product_attention(q, k, v, dropout_p=0.0).numpy().std() < 1e-12


# ------------------------------------------------------------------------------------------------
# against PyTorch


@pytest.mark.parametrize("case", ["plain", "causal", "bool", "float", "scale", "gqa", "rect",
                                  "broadcast"])
def test_matches_pytorch(case):
    torch = pytest.importorskip("torch")
    shapes = {"rect": ((2, 3, 7, 4), (2, 3, 5, 4), (2, 3, 5, 6)),
              "gqa": ((2, 4, 5, 4), (2, 2, 6, 4), (2, 2, 6, 3)),
              "broadcast": ((2, 3, 5, 4), (1, 3, 6, 4), (2, 1, 6, 3))}
    sq, sk, sv = shapes.get(case, ((2, 3, 5, 4), (2, 3, 6, 4), (2, 3, 6, 3)))
    arrays = [rng.standard_normal(s) for s in (sq, sk, sv)]
    kwargs: dict = {}
    mask = None
    if case == "causal":
        kwargs["is_causal"] = True
    elif case == "bool":
        mask = rng.random((2, 1, 5, 6)) > 0.3
    elif case == "float":
        mask = rng.standard_normal((3, 5, 6))
    elif case == "scale":
        kwargs["scale"] = 0.7
    elif case == "gqa":
        kwargs["enable_gqa"] = True
    tt = [torch.tensor(a, requires_grad=True) for a in arrays]
    mt = [mg.tensor(a, requires_grad=True) for a in arrays]
    if mask is not None:
        tm = torch.tensor(mask, requires_grad=mask.dtype != bool)
        mm = mg.tensor(mask, requires_grad=mask.dtype != bool)
        tt.append(tm)
        mt.append(mm)
    ref = torch.nn.functional.scaled_dot_product_attention(*tt[:3], attn_mask=tm if mask
                                                           is not None else None, **kwargs)
    out = F.scaled_dot_product_attention(*mt[:3], attn_mask=mm if mask is not None else None,
                                         **kwargs)
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-10, atol=1e-12)
    cot = rng.standard_normal(ref.shape)
    ref.backward(torch.tensor(cot))
    out.backward(mg.tensor(cot))
    for a, b in zip(mt, tt):
        if b.requires_grad:
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_fully_masked_row_matches_pytorch():
    torch = pytest.importorskip("torch")
    q, k, v = (rng.standard_normal(s) for s in ((1, 3, 4), (1, 5, 4), (1, 5, 2)))
    keep = np.ones((3, 5), dtype=bool)
    keep[2] = False
    ref = torch.nn.functional.scaled_dot_product_attention(
        *(torch.tensor(a) for a in (q, k, v)), attn_mask=torch.tensor(keep))
    out = F.scaled_dot_product_attention(*(mg.tensor(a) for a in (q, k, v)),
                                         attn_mask=mg.tensor(keep))
    np.testing.assert_allclose(out.numpy(), ref.numpy(), atol=1e-12)


# ------------------------------------------------------------------------------------------------
# bad input


@pytest.mark.parametrize("make,err,words", [
    (lambda: (t(2, 3, 4), t(2, 5, 3), t(2, 5, 2)), ValueError, "last dimension E"),
    (lambda: (t(2, 3, 4), t(2, 5, 4), t(2, 6, 2)), ValueError, "sequence length S"),
    (lambda: (t(4), t(4), t(4)), ValueError, "at least 2 dimensions"),
    (lambda: (t(2, 3, 4), t(3, 5, 4), t(3, 5, 2)), ValueError, "cannot be broadcast"),
    (lambda: (t(2, 3, 4), t(2, 5, 4, dtype=np.float32), t(2, 5, 2)), TypeError, "one dtype"),
])
def test_bad_shapes_raise_clear_errors(make, err, words):
    q, k, v = make()
    with pytest.raises(err, match=words) as e:
        F.scaled_dot_product_attention(q, k, v)
    assert "scaled_dot_product_attention" in str(e.value)
    if err is ValueError and "broadcast" not in words:
        assert str(q.shape) in str(e.value) or str(k.shape) in str(e.value)
    assert q.grad is None and k.grad is None


def test_bad_masks_and_arguments_raise_clear_errors():
    q, k, v = t(2, 3, 4), t(2, 5, 4), t(2, 5, 2)
    op = F.scaled_dot_product_attention
    with pytest.raises(ValueError, match=r"attn_mask of shape \(4, 5\) does not broadcast"):
        op(q, k, v, attn_mask=mg.ones(4, 5, dtype=mg.bool_))
    with pytest.raises(TypeError, match="attn_mask must be bool or have the query's dtype"):
        op(q, k, v, attn_mask=mg.zeros(3, 5, dtype=mg.float32))
    with pytest.raises(ValueError, match="not both"):
        op(q, k, v, attn_mask=mg.ones(3, 5, dtype=mg.bool_), is_causal=True)
    with pytest.raises(ValueError, match=r"dropout_p must lie in \[0, 1\]"):
        op(q, k, v, dropout_p=1.5)
    with pytest.raises(TypeError, match="query must be a Tensor"):
        op(q.numpy(), k, v)
    with pytest.raises(ValueError, match="multiple of the key/value heads"):
        op(t(1, 3, 2, 4), t(1, 2, 5, 4), t(1, 2, 5, 2), enable_gqa=True)


def test_attention_probabilities_helper_rows_sum_to_one():
    q, k = t(2, 4, 3), t(2, 6, 3)
    p = A.attention_probabilities(q, k, None, True, 0.5).numpy()
    np.testing.assert_allclose(p.sum(-1), 1.0)
    assert (np.triu(p[0], 1) == 0).all()
