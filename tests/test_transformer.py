"""MultiheadAttention and the Transformer layers: against a NumPy reference written from the
definition, against PyTorch with copied weights (forward and every gradient, float64), masks and
their conventions, the fused causal path, state dicts, the sequence models of the zoo, and clear
errors for bad input."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad.nn.models import LSTMLM, LearnedPositionalEmbedding, PositionalEncoding, TransformerLM
from minigrad.nn.modules import transformer as T
from minigrad.testing.opinfo.attention import np_attention

rng = np.random.default_rng(0)


def copy_weights(m, tm):
    names = [n for n, _ in m.named_parameters()]
    assert names == [n for n, _ in tm.named_parameters()]
    for n, p in tm.named_parameters():
        obj = m
        for part in n.split("."):
            obj = getattr(obj, part)
        obj.data[...] = p.detach().numpy()


def np_mha(m, q, k, v, key_padding_mask=None, attn_mask=None):
    """Multi-head attention from the definition (seq-first inputs, bool masks True = masked)."""
    e, h = m.embed_dim, m.num_heads
    hd = e // h
    w = m.in_proj_weight.numpy()
    b = m.in_proj_bias.numpy()
    qp, kp, vp = q @ w[:e].T + b[:e], k @ w[e:2 * e].T + b[e:2 * e], v @ w[2 * e:].T + b[2 * e:]
    n_q, n, _ = q.shape
    n_k = k.shape[0]
    keep = np.ones((n, 1, n_q, n_k), dtype=bool)
    if key_padding_mask is not None:
        keep &= ~key_padding_mask[:, None, None, :]
    if attn_mask is not None:
        keep &= ~attn_mask
    split = lambda x, n_s: x.reshape(n_s, n, h, hd).transpose(1, 2, 0, 3)  # noqa: E731
    o = np_attention(split(qp, n_q), split(kp, n_k), split(vp, n_k), keep)
    o = o.transpose(2, 0, 1, 3).reshape(n_q, n, e)
    return o @ m.out_proj.weight.numpy().T + m.out_proj.bias.numpy()


def test_mha_matches_the_definition():
    m = nn.MultiheadAttention(8, 2, dtype=np.float64)
    q, k = rng.standard_normal((4, 3, 8)), rng.standard_normal((6, 3, 8))
    kpm = rng.random((3, 6)) > 0.7
    kpm[:, 0] = False
    am = rng.random((4, 6)) > 0.8
    am[:, 0] = False
    out, w = m(mg.tensor(q), mg.tensor(k), mg.tensor(k), key_padding_mask=mg.tensor(kpm),
               attn_mask=mg.tensor(am), need_weights=False)
    assert w is None
    np.testing.assert_allclose(out.numpy(), np_mha(m, q, k, k, kpm, am), rtol=1e-12, atol=1e-12)
    out2, w2 = m(mg.tensor(q), mg.tensor(k), mg.tensor(k), key_padding_mask=mg.tensor(kpm),
                 attn_mask=mg.tensor(am))  # need_weights: the explicit path
    np.testing.assert_allclose(out2.numpy(), out.numpy(), rtol=1e-12, atol=1e-12)
    assert w2.shape == (3, 4, 6)
    np.testing.assert_allclose(w2.numpy().sum(-1), 1.0)
    assert (w2.numpy()[np.broadcast_to(kpm[:, None, :], (3, 4, 6))] == 0).all()


MHA_CASES = [({}, "none"), ({}, "kpm"), ({}, "attn2"), ({}, "attn3f"), ({}, "both"),
             ({"kdim": 3, "vdim": 5}, "kpm"), ({"add_bias_kv": True}, "both"),
             ({"add_zero_attn": True}, "attn3f"), ({"bias": False}, "attn2"),
             ({"add_bias_kv": True, "add_zero_attn": True, "kdim": 6}, "both")]


@pytest.mark.parametrize("kw,masks", MHA_CASES)
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("need_weights", [False, True])
def test_mha_matches_pytorch(kw, masks, batch_first, need_weights):
    torch = pytest.importorskip("torch")
    n_q, n_k, n, e, h = 4, 5, 3, 8, 2
    tm = torch.nn.MultiheadAttention(e, h, batch_first=batch_first, **kw).double()
    m = nn.MultiheadAttention(e, h, batch_first=batch_first, dtype=np.float64, **kw)
    copy_weights(m, tm)

    def shape(s, d):
        return (n, s, d) if batch_first else (s, n, d)

    arrays = [rng.standard_normal(shape(n_q, e)),
              rng.standard_normal(shape(n_k, kw.get("kdim", e))),
              rng.standard_normal(shape(n_k, kw.get("vdim", e)))]
    tt = [torch.tensor(a, requires_grad=True) for a in arrays]
    mt = [mg.tensor(a, requires_grad=True) for a in arrays]
    kpm = am = None
    if masks in ("kpm", "both"):
        kpm = rng.random((n, n_k)) > 0.7
        kpm[:, 0] = False
    if masks in ("attn2", "both"):
        am = rng.random((n_q, n_k)) > 0.7
        am[:, :2] = False  # key 0 stays allowed under both masks: no row is fully masked
    if masks == "attn3f":
        am = rng.standard_normal((n * h, n_q, n_k))
    conv_t = lambda a: None if a is None else torch.tensor(a)  # noqa: E731
    conv_m = lambda a: None if a is None else mg.tensor(a)  # noqa: E731
    to = tm(*tt, key_padding_mask=conv_t(kpm), attn_mask=conv_t(am), need_weights=need_weights)
    mo = m(*mt, key_padding_mask=conv_m(kpm), attn_mask=conv_m(am), need_weights=need_weights)
    for a, b in zip(mo, to):
        assert (a is None) == (b is None)
        if b is not None:
            np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-10, atol=1e-12)
    outs = [(a, b) for a, b in zip(mo, to) if b is not None]
    cots = [rng.standard_normal(b.shape) for _, b in outs]
    sum((b * torch.tensor(c)).sum() for (_, b), c in zip(outs, cots)).backward()
    sum((a * mg.tensor(c)).sum() for (a, _), c in zip(outs, cots)).backward()
    for a, b in zip(mt, tt):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10, atol=1e-12)
    for name, p in tm.named_parameters():
        obj = m
        for part in name.split("."):
            obj = getattr(obj, part)
        np.testing.assert_allclose(obj.grad.numpy(), p.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_mha_unbatched_per_head_weights_match_pytorch():
    torch = pytest.importorskip("torch")
    tm = torch.nn.MultiheadAttention(8, 2).double()
    m = nn.MultiheadAttention(8, 2, dtype=np.float64)
    copy_weights(m, tm)
    x = rng.standard_normal((4, 8))
    to, tw = tm(*(torch.tensor(x),) * 3, average_attn_weights=False)
    mx = mg.tensor(x)
    mo, mw = m(mx, mx, mx, average_attn_weights=False)
    assert mw.shape == (2, 4, 4)
    np.testing.assert_allclose(mo.numpy(), to.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(mw.numpy(), tw.detach().numpy(), rtol=1e-10)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_encoder_and_decoder_layers_match_pytorch(norm_first, activation, batch_first):
    torch = pytest.importorskip("torch")
    e, h, ff, n_q, n_k, n = 8, 2, 16, 4, 5, 3
    kw = dict(dropout=0.0, activation=activation, batch_first=batch_first, norm_first=norm_first)
    shape = lambda s: (n, s, e) if batch_first else (s, n, e)  # noqa: E731
    causal_t = torch.nn.Transformer.generate_square_subsequent_mask(n_q, dtype=torch.float64)
    causal_m = nn.Transformer.generate_square_subsequent_mask(n_q, dtype=np.float64)
    np.testing.assert_array_equal(causal_m.numpy(), causal_t.numpy())
    kpm = rng.random((n, n_k)) > 0.7
    kpm[:, 0] = False
    for tcls, mcls in ((torch.nn.TransformerEncoderLayer, nn.TransformerEncoderLayer),
                       (torch.nn.TransformerDecoderLayer, nn.TransformerDecoderLayer)):
        tl = tcls(e, h, ff, **kw).double()
        ml = mcls(e, h, ff, dtype=np.float64, **kw)
        copy_weights(ml, tl)
        decoder = mcls is nn.TransformerDecoderLayer
        arrays = [rng.standard_normal(shape(n_q))] + ([rng.standard_normal(shape(n_k))]
                                                       if decoder else [])
        tt = [torch.tensor(a, requires_grad=True) for a in arrays]
        mt = [mg.tensor(a, requires_grad=True) for a in arrays]
        if decoder:
            to = tl(*tt, tgt_mask=causal_t, memory_key_padding_mask=torch.tensor(kpm),
                    tgt_is_causal=True)
            mo = ml(*mt, tgt_mask=causal_m, memory_key_padding_mask=mg.tensor(kpm),
                    tgt_is_causal=True)
        else:
            to = tl(*tt, src_mask=causal_t, is_causal=True)
            mo = ml(*mt, src_mask=causal_m, is_causal=True)
        np.testing.assert_allclose(mo.numpy(), to.detach().numpy(), rtol=1e-10, atol=1e-12)
        cot = rng.standard_normal(to.shape)
        (to * torch.tensor(cot)).sum().backward()
        (mo * mg.tensor(cot)).sum().backward()
        for a, b in zip(mt, tt):
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10, atol=1e-12)
        for name, p in tl.named_parameters():
            obj = ml
            for part in name.split("."):
                obj = getattr(obj, part)
            np.testing.assert_allclose(obj.grad.numpy(), p.grad.numpy(), rtol=1e-10,
                                       atol=1e-12)


@pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")
def test_transformer_matches_pytorch():
    torch = pytest.importorskip("torch")
    tt = torch.nn.Transformer(8, 2, 2, 2, 16, dropout=0.0).double()
    mt = nn.Transformer(8, 2, 2, 2, 16, dropout=0.0, dtype=np.float64)
    copy_weights(mt, tt)
    src, tgt = rng.standard_normal((5, 3, 8)), rng.standard_normal((4, 3, 8))
    mask_t = torch.nn.Transformer.generate_square_subsequent_mask(4, dtype=torch.float64)
    mask_m = nn.Transformer.generate_square_subsequent_mask(4, dtype=np.float64)
    ref = tt(torch.tensor(src), torch.tensor(tgt), tgt_mask=mask_t)
    out = mt(mg.tensor(src), mg.tensor(tgt), tgt_mask=mask_m)
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_encoder_detects_the_causal_mask_and_runs_the_fused_causal_kernel(monkeypatch):
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
    enc = nn.TransformerEncoder(layer, 2)
    assert [n for n, _ in enc.named_parameters()][0] == "layers.0.self_attn.in_proj_weight"
    assert enc.layers[0].linear1.weight is not enc.layers[1].linear1.weight
    calls = []
    real = T.scaled_dot_product_attention

    def spy(*args, **kwargs):
        calls.append((kwargs.get("is_causal"), kwargs.get("attn_mask")))
        return real(*args, **kwargs)

    monkeypatch.setattr(T, "scaled_dot_product_attention", spy)
    x = mg.randn(2, 6, 8)
    mask = nn.Transformer.generate_square_subsequent_mask(6)
    a = enc(x, mask=mask)
    assert calls == [(True, None), (True, None)]
    calls.clear()
    b = enc(x, mask=mask, is_causal=False)  # the mask itself, added to the scores
    assert [c[0] for c in calls] == [False, False] and calls[0][1] is not None
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)


def test_bool_masks_in_layers_mean_masked_and_in_sdpa_mean_allowed():
    """The two conventions PyTorch has: nn layers mask where True, F.scaled_dot_product_attention
    attends where True."""
    m = nn.MultiheadAttention(4, 1, dtype=np.float64)
    x = mg.tensor(rng.standard_normal((3, 1, 4)))
    blocked = np.zeros((3, 3), dtype=bool)
    blocked[:, 2] = True
    _, w = m(x, x, x, attn_mask=mg.tensor(blocked))
    assert (w.numpy()[0, :, 2] == 0).all() and (w.numpy()[0, :, :2] > 0).all()
    q = mg.tensor(rng.standard_normal((1, 3, 4)))
    out = F.scaled_dot_product_attention(q, q, q, attn_mask=mg.tensor(~blocked))
    ref = F.scaled_dot_product_attention(q, q[:, :2], q[:, :2])
    np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=1e-12)


def test_state_dict_round_trip_and_names(tmp_path):
    a = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16), 2)
    b = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16), 2)
    a.eval()
    b.eval()
    x = mg.randn(5, 3, 8)
    assert not np.allclose(a(x).numpy(), b(x).numpy())
    a.save(tmp_path / "enc.npz")
    b.load(tmp_path / "enc.npz")
    np.testing.assert_array_equal(a(x).numpy(), b(x).numpy())
    assert "layers.1.norm2.bias" in a.state_dict()


def test_mha_initialisation_follows_pytorch():
    m = nn.MultiheadAttention(16, 4, add_bias_kv=True)
    w = m.in_proj_weight.numpy()
    bound = np.sqrt(6 / (16 + 48))  # xavier_uniform on (3E, E)
    assert np.abs(w).max() <= bound and w.std() > bound / 3
    assert (m.in_proj_bias.numpy() == 0).all() and (m.out_proj.bias.numpy() == 0).all()
    assert m.bias_k.shape == (1, 1, 16)
    sep = nn.MultiheadAttention(16, 4, kdim=5, vdim=7)
    assert sep.in_proj_weight is None and sep.k_proj_weight.shape == (16, 5)
    assert sep.v_proj_weight.shape == (16, 7)


# ------------------------------------------------------------------------------------------------
# the sequence models of the zoo


def test_sinusoidal_positions_follow_the_formula():
    pe = PositionalEncoding(6, max_len=10, dtype=np.float64)
    table = pe.pe.numpy()
    for p in (0, 3, 9):
        for i in range(3):
            np.testing.assert_allclose(table[p, 2 * i], np.sin(p / 10000 ** (2 * i / 6)))
            np.testing.assert_allclose(table[p, 2 * i + 1], np.cos(p / 10000 ** (2 * i / 6)))
    x = mg.zeros(2, 4, 6, dtype=mg.float64)
    np.testing.assert_array_equal(pe(x).numpy()[1], table[:4])
    assert "pe" not in pe.state_dict()
    with pytest.raises(ValueError, match="longer than max_len=10"):
        pe(mg.zeros(1, 11, 6))
    learned = LearnedPositionalEmbedding(10, 6)
    assert learned(mg.zeros(2, 4, 6)).shape == (2, 4, 6) and learned.weight.requires_grad


@pytest.mark.parametrize("positional", ["sinusoidal", "learned"])
def test_transformer_lm_is_causal(positional):
    """Changing a later token never changes an earlier position's logits."""
    m = TransformerLM(20, d_model=16, nhead=2, num_layers=2, dim_feedforward=32, max_len=12,
                      positional=positional, dtype=np.float64).eval()
    tokens = rng.integers(0, 20, (2, 12))
    a = m(mg.tensor(tokens)).numpy()
    tokens[:, 7] = (tokens[:, 7] + 1) % 20
    b = m(mg.tensor(tokens)).numpy()
    np.testing.assert_allclose(a[:, :7], b[:, :7], rtol=1e-12, atol=1e-13)
    assert not np.allclose(a[:, 7:], b[:, 7:])


def test_language_models_train_and_generate():
    mg.manual_seed(0)  # the models' initial weights: independent of which tests ran before
    for m in (TransformerLM(12, d_model=16, nhead=2, num_layers=1, dim_feedforward=16,
                            max_len=8), LSTMLM(12, embed_dim=8, hidden_size=16, num_layers=2)):
        opt = mg.optim.Adam(m.parameters(), lr=3e-2)  # 1e-2 left the LSTM near the bar
        tokens = mg.tensor(np.tile(np.arange(8) % 4, (4, 1)))
        losses = []
        for _ in range(30):
            out = m(tokens[:, :-1])
            logits = out[0] if isinstance(out, tuple) else out
            loss = F.cross_entropy(logits.reshape(-1, 12), tokens[:, 1:].reshape(-1))
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        assert losses[-1] < 0.5 * losses[0]
        assert all(p.grad is not None for p in m.parameters())
        ids = m.generate([0, 1], 10, temperature=0.5, generator=np.random.default_rng(0))
        assert len(ids) == 12 and all(0 <= i < 12 for i in ids) and m.training
    with pytest.raises(ValueError, match=r"token ids must lie in \[0, 12\)"):
        m(mg.tensor(np.array([[0, 12]])))
    with pytest.raises(ValueError, match=r"tokens must be an integer tensor \(N, L\)"):
        m(mg.zeros(2, 3))


# ------------------------------------------------------------------------------------------------
# bad input


def _snapshot(m):
    return {n: p.numpy().copy() for n, p in m.named_parameters()}


@pytest.mark.parametrize("args,kwargs,err,words", [
    ((mg.randn(4, 3, 6),) * 3, {}, ValueError,
     r"MultiheadAttention: query must end in 8 features, got shape \(4, 3, 6\)"),
    ((mg.randn(2, 4, 3, 8),) * 3, {}, ValueError,
     r"MultiheadAttention: query must be 3-D \(L, N, E\) or 2-D \(L, E\) unbatched, got shape "
     r"\(2, 4, 3, 8\)"),
    ((mg.randn(4, 3, 8), mg.randn(5, 3, 8), mg.randn(6, 3, 8)), {}, ValueError,
     "must have the same sequence length"),
    ((mg.randn(4, 3, 8), mg.randn(5, 2, 8), mg.randn(5, 2, 8)), {}, ValueError,
     "must have the same batch size"),
    ((mg.randn(4, 3, 8),) * 3, {"key_padding_mask": mg.zeros(3, 5, dtype=mg.bool_)},
     ValueError, r"key_padding_mask must have shape \(3, 4\) \(N, S\), got \(3, 5\)"),
    ((mg.randn(4, 3, 8),) * 3, {"attn_mask": mg.zeros(4, 5, dtype=mg.bool_)}, ValueError,
     r"attn_mask must have shape \(4, 4\) \(L, S\) or \(6, 4, 4\)"),
    ((mg.randn(4, 3, 8),) * 3, {"is_causal": True}, ValueError, "needs attn_mask too"),
    ((mg.randn(4, 3, 8, dtype=mg.float64),) * 3, {}, TypeError,
     "MultiheadAttention: input dtype float64 does not match"),
])
def test_mha_bad_input_raises_and_leaves_parameters_untouched(args, kwargs, err, words):
    m = nn.MultiheadAttention(8, 2)
    before = _snapshot(m)
    with pytest.raises(err, match=words):
        m(*args, **kwargs)
    assert all(np.array_equal(p.numpy(), before[n]) for n, p in m.named_parameters())


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match=r"MultiheadAttention: embed_dim \(10\) must be divisible "
                                         r"by num_heads \(3\)"):
        nn.MultiheadAttention(10, 3)
    with pytest.raises(ValueError, match="TransformerEncoderLayer: activation must be 'relu', "
                                         "'gelu' or a callable, got 'swish'"):
        nn.TransformerEncoderLayer(8, 2, activation="swish")
    with pytest.raises(ValueError, match="TransformerEncoder: num_layers must be >= 1"):
        nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2), 0)
    layer = nn.TransformerEncoderLayer(8, 2, activation=nn.GELU())
    assert isinstance(layer.activation, nn.GELU)
    with pytest.raises(ValueError, match=r"Transformer: src \(3, 2, 6\) and tgt \(4, 2, 8\) must "
                                         r"end in d_model=8"):
        nn.Transformer(8, 2, 1, 1, 16)(mg.randn(3, 2, 6), mg.randn(4, 2, 8))


@pytest.mark.cuda
def test_encoder_layer_and_mha_weights_on_the_gpu_match_the_cpu():
    import minigrad.cuda as mcuda

    if not mcuda.is_available():
        pytest.skip("CUDA (or its simulator) is not available")
    cpu = nn.TransformerEncoderLayer(4, 2, 8, dropout=0.0, batch_first=True)
    gpu = nn.TransformerEncoderLayer(4, 2, 8, dropout=0.0, batch_first=True)
    gpu.load_state_dict(cpu.state_dict())
    gpu.to("cuda")
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    kpm = np.zeros((2, 3), dtype=bool)
    kpm[1, 2:] = True
    out_c = cpu(mg.tensor(x), src_key_padding_mask=mg.tensor(kpm))
    prev = mcuda.strict(True)
    try:
        out_g = gpu(mg.tensor(x, device="cuda"),
                    src_key_padding_mask=mg.tensor(kpm, device="cuda"))
        out_g.sum().backward()
        _, w = gpu.self_attn(*(mg.tensor(x, device="cuda"),) * 3)
    finally:
        mcuda.strict(prev)
    out_c.sum().backward()
    np.testing.assert_allclose(out_g.numpy(), out_c.numpy(), rtol=1e-4, atol=1e-5)
    for (n, pc), pg in zip(cpu.named_parameters(), gpu.parameters()):
        np.testing.assert_allclose(pg.grad.numpy(), pc.grad.numpy(), rtol=1e-4, atol=1e-5,
                                   err_msg=n)
    assert w.device == "cuda" and w.shape == (2, 3, 3)
