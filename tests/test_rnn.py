"""Recurrent layers and cells: against NumPy loops written from the equations, against PyTorch
with copied weights (forward and every gradient, float64), finite differences over 50 steps,
shapes, state dicts, initialisation, dropout between layers, and clear errors for bad input.

The registry entries (minigrad/testing/opinfo/rnn.py) add the gradient fuzz of the fused LSTM/GRU
gate Functions, their float32 check and GPU parity.
"""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
from minigrad.ops.rnn import unbind
from minigrad.testing import gradcheck
from minigrad.testing.opinfo.rnn import np_gru, np_lstm, np_rnn

rng = np.random.default_rng(0)
MODES = {"RNN": nn.RNN, "LSTM": nn.LSTM, "GRU": nn.GRU}


def np_layer(m: nn.RNNBase, x: np.ndarray, h0: np.ndarray, c0: np.ndarray | None = None):
    """The multi-layer, maybe bidirectional recurrence in NumPy, time-major x: (L, N, I)."""
    h_n, c_n = [], []
    inp = x
    for layer in range(m.num_layers):
        outs = []
        for d in range(m.num_directions):
            w_ih, w_hh, b_ih, b_hh, w_hr = (None if p is None else p.numpy()
                                            for p in m._params(layer, d))
            k = layer * m.num_directions + d
            h, c = h0[k], None if c0 is None else c0[k]
            out = [None] * len(inp)
            steps = range(len(inp) - 1, -1, -1) if d else range(len(inp))
            for s in steps:
                if m.mode == "LSTM":
                    hc = np_lstm(inp[s], h, c, w_ih, w_hh, b_ih, b_hh)
                    h, c = np.split(hc, 2, axis=-1)
                    if w_hr is not None:
                        h = h @ w_hr.T
                elif m.mode == "GRU":
                    h = np_gru(inp[s], h, w_ih, w_hh, b_ih, b_hh)
                else:
                    h = np_rnn("tanh" if m.mode == "RNN_TANH" else "relu")(inp[s], h, w_ih, w_hh,
                                                                          b_ih, b_hh)
                out[s] = h
            outs.append(np.stack(out))
            h_n.append(h)
            c_n.append(c)
        inp = np.concatenate(outs, axis=-1)
    return inp, np.stack(h_n), (np.stack(c_n) if c0 is not None else None)


@pytest.mark.parametrize("mode", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("kw", [{}, {"num_layers": 2, "bidirectional": True},
                                {"num_layers": 3, "bias": False}, {"nonlinearity": "relu"},
                                {"proj_size": 2, "num_layers": 2}])
def test_layer_matches_numpy_recurrence(mode, kw):
    if "nonlinearity" in kw and mode != "RNN" or "proj_size" in kw and mode != "LSTM":
        pytest.skip("argument of another layer")
    m = MODES[mode](3, 4, dtype=np.float64, **kw)
    d, nl = m.num_directions, m.num_layers
    x = rng.standard_normal((6, 2, 3))
    h0 = rng.standard_normal((d * nl, 2, m.proj_size or 4))
    c0 = rng.standard_normal((d * nl, 2, 4)) if mode == "LSTM" else None
    hx = mg.tensor(h0) if c0 is None else (mg.tensor(h0), mg.tensor(c0))
    out, state = m(mg.tensor(x), hx)
    ref, rh, rc = np_layer(m, x, h0, c0)
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-12, atol=1e-12)
    hn = state[0] if mode == "LSTM" else state
    np.testing.assert_allclose(hn.numpy(), rh, rtol=1e-12, atol=1e-12)
    if mode == "LSTM":
        np.testing.assert_allclose(state[1].numpy(), rc, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mode", ["LSTM", "GRU"])
def test_fifty_steps_gradients_match_finite_differences(mode):
    """Backpropagation through time over 50 steps, float64: the layer's gradients for the input
    and the initial states, then the weights' through the functional cells (the same steps, with
    the weights as inputs)."""
    from minigrad.ops import rnn as R

    m = MODES[mode](2, 2, dtype=np.float64)
    x = mg.tensor(rng.standard_normal((50, 1, 2)), requires_grad=True)
    h0 = mg.tensor(rng.standard_normal((1, 1, 2)), requires_grad=True)
    c0 = mg.tensor(rng.standard_normal((1, 1, 2)), requires_grad=True)
    lstm = mode == "LSTM"

    def layer(x, h0, c0=None):
        return m(x, (h0, c0) if lstm else h0)[0][-5:]  # the last steps depend on all 50

    assert gradcheck(layer, [x, h0, c0] if lstm else [x, h0])

    def unrolled(*w):
        h, c = h0[0], c0[0]
        outs = []
        for s in range(50):
            if lstm:
                h, c = R.lstm_cell(x[s], (h, c), *w)
            else:
                h = R.gru_cell(x[s], h, *w)
            outs.append(h)
        return mg.stack(outs[-5:])

    ws = [mg.tensor(p.numpy().copy(), requires_grad=True) for p in m.parameters()]
    np.testing.assert_allclose(unrolled(*ws).numpy(), layer(x, h0, c0).numpy(), rtol=1e-12)
    assert gradcheck(unrolled, ws)


@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_output_and_state_shapes(cls, batch_first, bidirectional):
    m = cls(5, 7, num_layers=2, batch_first=batch_first, bidirectional=bidirectional)
    d = 2 if bidirectional else 1
    x = mg.randn(3, 4, 5)  # (N=3, L=4) if batch_first else (L=3, N=4)
    out, state = m(x)
    n, steps = (3, 4) if batch_first else (4, 3)
    assert out.shape == ((n, steps, d * 7) if batch_first else (steps, n, d * 7))
    states = state if cls is nn.LSTM else (state,)
    assert all(s.shape == (2 * d, n, 7) for s in states)
    out1, state1 = m(x[0])  # unbatched: (L, H_in)
    assert out1.shape == (4, d * 7)
    assert all(s.shape == (2 * d, 7) for s in (state1 if cls is nn.LSTM else (state1,)))


def test_bidirectional_reverse_direction_reads_backwards():
    m = nn.GRU(2, 3, bidirectional=True, dtype=np.float64)
    x = rng.standard_normal((5, 1, 2))
    out, h = m(mg.tensor(x))
    out_r, _ = m(mg.tensor(x[::-1].copy()))
    # the backward half at step t is the forward-style run over the reversed sequence
    np.testing.assert_allclose(out.numpy()[0, 0, 3:], h.numpy()[1, 0], rtol=1e-12)
    np.testing.assert_allclose(out.numpy()[-1, 0, :3], h.numpy()[0, 0], rtol=1e-12)
    assert not np.allclose(out.numpy(), out_r.numpy())


def test_parameter_names_and_initialisation_follow_pytorch():
    m = nn.LSTM(3, 4, num_layers=2, bidirectional=True, proj_size=2)
    names = [n for n, _ in m.named_parameters()]
    assert names[:5] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
                         "weight_hr_l0"]
    assert names[5] == "weight_ih_l0_reverse" and names[-1] == "weight_hr_l1_reverse"
    assert m.weight_ih_l1.shape == (16, 4) and m.weight_hh_l0.shape == (16, 2)
    g = nn.GRU(10, 25)
    for p in g.parameters():
        a = p.numpy()
        assert np.abs(a).max() <= 1 / 5 and a.std() > 0.05  # U(+-1/sqrt(25))
    assert nn.GRUCell(3, 4).weight_ih.shape == (12, 3)


@pytest.mark.parametrize("cls", [nn.LSTM, nn.GRU, nn.RNN])
def test_state_dict_round_trip(cls, tmp_path):
    a = cls(3, 4, num_layers=2, bidirectional=True)
    b = cls(3, 4, num_layers=2, bidirectional=True)
    x = mg.randn(5, 2, 3)
    assert not np.allclose(a(x)[0].numpy(), b(x)[0].numpy())
    b.load_state_dict(a.state_dict())
    np.testing.assert_array_equal(a(x)[0].numpy(), b(x)[0].numpy())
    a.save(tmp_path / "rnn.npz")
    c = cls(3, 4, num_layers=2, bidirectional=True)
    c.load(tmp_path / "rnn.npz")
    np.testing.assert_array_equal(a(x)[0].numpy(), c(x)[0].numpy())


def test_dropout_only_between_layers_and_only_in_training():
    m = nn.LSTM(3, 4, num_layers=2, dropout=0.5)
    x = mg.randn(6, 2, 3)
    m.eval()
    a, b = m(x)[0].numpy(), m(x)[0].numpy()
    np.testing.assert_array_equal(a, b)
    m.train()
    mg.manual_seed(1)
    c = m(x)[0].numpy()
    assert not np.allclose(a, c)
    one = nn.LSTM(3, 4, num_layers=1, dropout=0.5)  # nothing between layers to drop
    one.train()
    np.testing.assert_array_equal(one(x)[0].numpy(), one.eval()(x)[0].numpy())


@pytest.mark.parametrize("mode", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("kw", [{}, {"num_layers": 2, "bidirectional": True},
                                {"batch_first": True, "num_layers": 2}, {"bias": False},
                                {"proj_size": 3, "bidirectional": True}])
@pytest.mark.parametrize("unbatched", [False, True])
def test_layer_matches_pytorch(mode, kw, unbatched):
    torch = pytest.importorskip("torch")
    if "proj_size" in kw and mode != "LSTM":
        pytest.skip("LSTM only")
    tm = getattr(torch.nn, mode)(4, 5, **kw).double()
    m = MODES[mode](4, 5, dtype=np.float64, **kw)
    assert [n for n, _ in m.named_parameters()] == [n for n, _ in tm.named_parameters()]
    for n, p in tm.named_parameters():
        getattr(m, n).data[...] = p.detach().numpy()
    d, nl = (2 if kw.get("bidirectional") else 1), kw.get("num_layers", 1)
    shape = (7, 4) if unbatched else ((3, 7, 4) if kw.get("batch_first") else (7, 3, 4))
    x = rng.standard_normal(shape)
    hs = (d * nl, kw.get("proj_size") or 5) if unbatched else (d * nl, 3, kw.get("proj_size")
                                                                or 5)
    cs = hs[:-1] + (5,)
    arrays = [x, rng.standard_normal(hs)] + ([rng.standard_normal(cs)] if mode == "LSTM" else [])
    tt = [torch.tensor(a, requires_grad=True) for a in arrays]
    mt = [mg.tensor(a, requires_grad=True) for a in arrays]
    to, ts = tm(tt[0], tuple(tt[1:]) if mode == "LSTM" else tt[1])
    mo, ms = m(mt[0], tuple(mt[1:]) if mode == "LSTM" else mt[1])
    ts, ms = (ts, ms) if mode == "LSTM" else ((ts,), (ms,))
    for a, b in zip((mo, *ms), (to, *ts)):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-10, atol=1e-12)
    cots = [rng.standard_normal(b.shape) for b in (to, *ts)]
    sum((b * torch.tensor(c)).sum() for b, c in zip((to, *ts), cots)).backward()
    sum((a * mg.tensor(c)).sum() for a, c in zip((mo, *ms), cots)).backward()
    for a, b in zip(mt, tt):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10, atol=1e-12)
    for n, p in tm.named_parameters():
        np.testing.assert_allclose(getattr(m, n).grad.numpy(), p.grad.numpy(), rtol=1e-10,
                                   atol=1e-12)


@pytest.mark.parametrize("name", ["RNNCell", "LSTMCell", "GRUCell"])
@pytest.mark.parametrize("unbatched", [False, True])
def test_cells_match_pytorch(name, unbatched):
    torch = pytest.importorskip("torch")
    tm = getattr(torch.nn, name)(3, 4).double()
    m = getattr(nn, name)(3, 4, dtype=np.float64)
    for n, p in tm.named_parameters():
        getattr(m, n).data[...] = p.detach().numpy()
    x = rng.standard_normal((3,) if unbatched else (2, 3))
    h = rng.standard_normal((4,) if unbatched else (2, 4))
    tx, th, tc = (torch.tensor(a, requires_grad=True) for a in (x, h, h * 0.5))
    mx, mh, mc = (mg.tensor(a, requires_grad=True) for a in (x, h, h * 0.5))
    if name == "LSTMCell":
        to, mo = tm(tx, (th, tc)), m(mx, (mh, mc))
    else:
        to, mo = (tm(tx, th),), (m(mx, mh),)
    for a, b in zip(mo, to):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-12)
    sum((b ** 2).sum() for b in to).backward()
    sum((a ** 2).sum() for a in mo).backward()
    for a, b in zip((mx, mh) + ((mc,) if name == "LSTMCell" else ()), (tx, th, tc)):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10)
    for n, p in tm.named_parameters():
        np.testing.assert_allclose(getattr(m, n).grad.numpy(), p.grad.numpy(), rtol=1e-10)
    assert m(mx)[0].shape == ((4,) if unbatched else (2, 4)) or name != "LSTMCell"


def test_fused_gates_equal_the_composition_in_float32():
    """The float32 gate kernels (vectorised sigmoid/tanh) agree with the float64 equations."""
    m = nn.LSTM(8, 16)
    x = rng.standard_normal((5, 3, 8)).astype(np.float32)
    out, _ = m(mg.tensor(x))
    ref, _, _ = np_layer(m, x.astype(np.float64), np.zeros((1, 3, 16)), np.zeros((1, 3, 16)))
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-5, atol=1e-6)
    g = nn.GRU(8, 16)
    out, _ = g(mg.tensor(x))
    ref, _, _ = np_layer(g, x.astype(np.float64), np.zeros((1, 3, 16)))
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("batch, hidden", [(3, 5), (32, 16)])
def test_gru_backward_kernel_builds_match_the_composition(batch, hidden):
    """The GRU backward gate kernel runs its parallel build from GRU_BACKWARD_PARALLEL_UNITS
    hidden units on, its serial build below: both equal each other bitwise and the Tensor-op
    VJP (float64)."""
    from minigrad.ops.kernels.cpu import rnn as K
    from minigrad.ops.rnn import _gru_gates_vjp

    assert 3 * 5 < K.GRU_BACKWARD_PARALLEL_UNITS <= 32 * 16
    xg, hg = rng.standard_normal((2, batch, 3 * hidden))
    h, dh = rng.standard_normal((2, batch, hidden))
    got = K.gru_cell_backward(xg, hg, h, dh)
    for build in (K._gru_backward.serial, K._gru_backward.parallel):
        out = np.empty_like(xg), np.empty_like(xg), np.empty_like(h)
        build(xg, hg, h, dh, *out, 1.0)
        for a, b in zip(out, got):
            np.testing.assert_array_equal(a, b)
    want = _gru_gates_vjp(*(mg.tensor(a) for a in (xg, hg, h, dh)))
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b.numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("unbind_", [unbind, mg.unbind], ids=["ops.rnn", "mg"])
def test_unbind_gives_views_with_one_backward_node(unbind_):
    x = mg.tensor(rng.standard_normal((4, 3, 2)), requires_grad=True)
    parts = unbind_(x, 1)
    assert len(parts) == 3 and parts[0].shape == (4, 2)
    assert len({p.grad_fn for p in parts}) == 1
    (parts[0] * 2 + parts[2]).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy()[:, 1], 0)
    np.testing.assert_array_equal(x.grad.numpy()[:, 0], 2)
    assert unbind is mg.unbind  # one op, one place (issue 15: mg.unbind made a node per slice)


@pytest.mark.parametrize("mode", ["LSTM", "GRU", "RNN"])
def test_layer_is_one_node_per_direction(mode):
    """nn.LSTM / GRU / RNN run one LSTMFn / GRUFn / RNNFn per (layer, direction), not nodes
    per step."""
    from minigrad.explain import graph_nodes

    m = MODES[mode](3, 4, num_layers=2, bidirectional=True, dtype=np.float64)
    out, _ = m(mg.tensor(rng.standard_normal((20, 2, 3)), requires_grad=True))
    names = [type(n).__name__ for n in graph_nodes(out)]
    assert names.count(f"{mode}Fn") == 4 and f"{mode}CellFn" not in names
    assert len(names) < 20


@pytest.mark.parametrize("mode", ["LSTM", "GRU", "RNN_TANH", "RNN_RELU"])
@pytest.mark.parametrize("reverse", [False, True])
def test_sequence_functions_fifty_steps_all_gradients(mode, reverse):
    """LSTMFn / GRUFn / RNNFn over 50 steps, float64: every input's gradient (sequence, states,
    weights, biases) against central differences, in both directions."""
    from minigrad.ops.rnn import GRUFn, LSTMFn, RNNFn

    g = {"LSTM": 4, "GRU": 3}.get(mode, 1)
    shapes = [(50, 1, 2), (1, 2)] + [(1, 2)] * (mode == "LSTM") + [(g * 2, 2)] * 2 + [(g * 2,)] * 2
    ts = [mg.tensor(rng.standard_normal(s) * 0.5, requires_grad=True) for s in shapes]
    fn = {"LSTM": LSTMFn, "GRU": GRUFn}.get(mode, RNNFn)
    kw = {"relu": mode == "RNN_RELU"} if fn is RNNFn else {}

    def f(*args):
        out, *states = fn.apply(*args, reverse=reverse, **kw)
        keep = out[:5] if reverse else out[-5:]  # the steps that depend on all 50
        return mg.cat([keep.reshape(-1)] + [s.reshape(-1) for s in states])

    assert gradcheck(f, ts)


@pytest.mark.parametrize("mode", ["LSTMCell", "LSTM", "GRU", "RNN_TANH", "RNN_RELU"])
@pytest.mark.parametrize("reverse", [False, True])
def test_create_graph_gradients_equal_the_fused_ones(mode, reverse):
    """The Tensor-op backward used under create_graph=True (what the registry's gradgradcheck
    differentiates) gives the fused backward's first-order gradients."""
    from minigrad.ops.rnn import GRUFn, LSTMCellFn, LSTMFn, RNNFn

    g = {"LSTM": 4, "LSTMCell": 4, "GRU": 3}.get(mode, 1)
    x_shape = (3, 2) if mode == "LSTMCell" else (4, 3, 2)
    shapes = [x_shape, (3, 2)] + [(3, 2)] * mode.startswith("LSTM") + [(g * 2, 2)] * 2 + \
        [(g * 2,)] * 2
    ts = [mg.tensor(rng.standard_normal(s), requires_grad=True) for s in shapes]
    if mode == "LSTMCell":
        outs = LSTMCellFn.apply(*ts)
    else:
        fn = {"LSTM": LSTMFn, "GRU": GRUFn}.get(mode, RNNFn)
        kw = {"relu": mode == "RNN_RELU"} if fn is RNNFn else {}
        outs = fn.apply(*ts, reverse=reverse, **kw)
    cots = [mg.tensor(rng.standard_normal(o.shape)) for o in outs]
    fused = mg.autograd.grad(outs, ts, cots, retain_graph=True)
    composed = mg.autograd.grad(outs, ts, cots, create_graph=True)
    for a, b in zip(fused, composed):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------------------------------------
# bad input: clear errors naming the layer and the shapes; nothing changed


def _snapshot(m):
    return {n: p.numpy().copy() for n, p in m.named_parameters()}


@pytest.mark.parametrize("call,err,words", [
    (lambda m: m(mg.randn(2, 3, 4, 5)), ValueError, r"LSTM: input must be 3-D \(L, N, H_in\) "
     r"or 2-D \(L, H_in\).*got shape \(2, 3, 4, 5\)"),
    (lambda m: m(mg.randn(5)), ValueError, r"LSTM: input must be 3-D.*got shape \(5,\)"),
    (lambda m: m(mg.randn(4, 2, 7)), ValueError, r"LSTM: input.shape\[-1\] must be "
     r"input_size=3, got input of shape \(4, 2, 7\)"),
    (lambda m: m(mg.randn(4, 2, 3), (mg.zeros(2, 2, 5), mg.zeros(1, 2, 5))), ValueError,
     r"LSTM: expected h_0 of shape \(1, 2, 5\).*got \(2, 2, 5\)"),
    (lambda m: m(mg.randn(4, 2, 3), mg.zeros(1, 2, 5)), TypeError, "LSTM: hx must be a tuple"),
    (lambda m: m(mg.randn(4, 2, 3, dtype=mg.float64)), TypeError,
     "LSTM: input dtype float64 does not match"),
])
def test_bad_input_raises_and_leaves_parameters_untouched(call, err, words):
    m = nn.LSTM(3, 5)
    before = _snapshot(m)
    with pytest.raises(err, match=words):
        call(m)
    assert all(np.array_equal(p.numpy(), before[n]) for n, p in m.named_parameters())
    assert all(p.grad is None for p in m.parameters())


def test_bad_state_shape_names_the_expected_shape():
    m = nn.GRU(3, 5, num_layers=2)
    with pytest.raises(ValueError, match=r"GRU: expected h_0 of shape \(2, 4, 5\).*got "
                                         r"\(1, 4, 5\)"):
        m(mg.randn(6, 4, 3), mg.zeros(1, 4, 5))
    cell = nn.LSTMCell(3, 5)
    with pytest.raises(ValueError, match=r"LSTMCell: input must be \(N, 3\) or \(3,\), got shape "
                                         r"\(2, 4\)"):
        cell(mg.randn(2, 4))
    with pytest.raises(ValueError, match=r"LSTMCell: expected hidden state of shape \(2, 5\), "
                                         r"got \(2, 4\)"):
        cell(mg.randn(2, 3), (mg.zeros(2, 4), mg.zeros(2, 4)))


@pytest.mark.parametrize("kwargs,err,words", [
    ({"hidden_size": 0}, ValueError, "LSTM: hidden_size must be >= 1"),
    ({"num_layers": 0}, ValueError, "LSTM: num_layers must be >= 1"),
    ({"dropout": 1.5}, ValueError, r"LSTM: dropout must lie in \[0, 1\]"),
    ({"proj_size": 9}, ValueError, "LSTM: proj_size .* must be smaller than hidden_size"),
    ({"hidden_size": 2.5}, TypeError, "LSTM: hidden_size must be an int"),
])
def test_bad_constructor_arguments(kwargs, err, words):
    args = {"input_size": 3, "hidden_size": 5, **kwargs}
    with pytest.raises(err, match=words):
        nn.LSTM(**args)
    with pytest.raises(ValueError, match="RNN: nonlinearity must be one of"):
        nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="proj_size is only supported by LSTM"):
        nn.modules.rnn.RNNBase("GRU", 3, 4, proj_size=2)


@pytest.mark.cuda
@pytest.mark.parametrize("mode,kw", [("LSTM", {}), ("GRU", {}), ("RNN", {"nonlinearity": "relu"})])
def test_layer_on_the_gpu_matches_the_cpu(mode, kw):
    """Strict mode: every op of the layer runs on the (simulated) GPU, none falls back (the GRU
    and LSTM gate kernels themselves are in the registry's GPU parity test)."""
    import minigrad.cuda as mcuda

    if not mcuda.is_available():
        pytest.skip("CUDA (or its simulator) is not available")
    cpu = MODES[mode](3, 4, **kw)  # small: the simulator runs every GPU thread in Python
    gpu = MODES[mode](3, 4, **kw)
    gpu.load_state_dict(cpu.state_dict())
    gpu.to("cuda")
    x = rng.standard_normal((3, 2, 3)).astype(np.float32)
    out_c = cpu(mg.tensor(x))[0]
    prev = mcuda.strict(True)
    try:
        out_g = gpu(mg.tensor(x, device="cuda"))[0]
        out_g.sum().backward()
    finally:
        mcuda.strict(prev)
    out_c.sum().backward()
    assert out_g.device == "cuda"
    np.testing.assert_allclose(out_g.numpy(), out_c.numpy(), rtol=1e-4, atol=1e-5)
    for (n, pc), pg in zip(cpu.named_parameters(), gpu.parameters()):
        np.testing.assert_allclose(pg.grad.numpy(), pc.grad.numpy(), rtol=1e-4, atol=1e-5,
                                   err_msg=n)


@pytest.mark.parametrize("mode", ["RNN", "LSTM", "GRU", "LSTMCell", "GRUCell"])
def test_forward_and_backward_leave_inputs_and_parameters_untouched(mode):
    """The layers add their biases in place into fresh products and copy W_hh^T once per
    sequence: no parameter, input or state array may change (and a Fortran-ordered W_hh, whose
    transpose is C-ordered, gives the same answer as a C-ordered one)."""
    cell = mode.endswith("Cell")
    m = getattr(nn, mode)(4, 5, dtype=np.float64)
    x = mg.tensor(rng.standard_normal((3, 4) if cell else (6, 3, 4)), requires_grad=True)
    hs = (3, 5) if cell else (1, 3, 5)
    h = mg.tensor(rng.standard_normal(hs), requires_grad=True)
    c = mg.tensor(rng.standard_normal(hs), requires_grad=True)
    state = (h, c) if mode.startswith("LSTM") else h
    before = {n: p.numpy().copy() for n, p in m.named_parameters()}
    arrays = [(t, t.numpy().copy()) for t in (x, h, c)]
    out = m(x, state)  # GRUCell: h'; the others: (output or h', states or c')
    first = out if isinstance(out, mg.Tensor) else out[0]
    first.sum().backward()
    for n, p in m.named_parameters():
        np.testing.assert_array_equal(p.numpy(), before[n], err_msg=n)
    for t, a in arrays:
        np.testing.assert_array_equal(t.numpy(), a)
    grads = {n: p.grad.numpy().copy() for n, p in m.named_parameters()}
    whh = m.weight_hh if cell else m.weight_hh_l0
    whh.data = np.asfortranarray(whh.data)
    m.zero_grad()
    out2 = m(x, state)
    second = out2 if isinstance(out2, mg.Tensor) else out2[0]
    np.testing.assert_allclose(second.numpy(), first.numpy(), rtol=1e-13, atol=1e-15)
    second.sum().backward()
    for n, p in m.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), grads[n], rtol=1e-12, atol=1e-14, err_msg=n)
