"""Recurrent cells (the LSTM step Function, the GRU step over its fused gate Function, the plain
RNN steps) and the whole-sequence LSTM, GRU and RNN Functions (both directions); references in
plain NumPy from the cell equations."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from minigrad.ops import rnn as R
from minigrad.ops.shape import cat
from minigrad.testing import strategies as S
from minigrad.testing.opinfo.core import OpInfo, Sample


def _sig(x):
    return 1 / (1 + np.exp(-x))


def _lstm(x, h, c, wi, wh, bi=None, bh=None):
    hs, cs = R.lstm_cell(x, (h, c), wi, wh, bi, bh)
    return cat([hs, cs], dim=-1)


def np_lstm(x, h, c, wi, wh, bi=None, bh=None):
    g = x @ wi.T + h @ wh.T + (0 if bi is None else bi) + (0 if bh is None else bh)
    i, f, gg, o = np.split(g, 4, axis=-1)
    c2 = _sig(f) * c + _sig(i) * np.tanh(gg)
    return np.concatenate([_sig(o) * np.tanh(c2), c2], axis=-1)


def np_gru(x, h, wi, wh, bi=None, bh=None):
    gi = x @ wi.T + (0 if bi is None else bi)
    gh = h @ wh.T + (0 if bh is None else bh)
    (xr, xz, xn), (hr, hz, hn) = np.split(gi, 3, axis=-1), np.split(gh, 3, axis=-1)
    r, z = _sig(xr + hr), _sig(xz + hz)
    n = np.tanh(xn + r * hn)
    return (1 - z) * n + z * h


def np_rnn(act):
    def ref(x, h, wi, wh, bi=None, bh=None):
        a = x @ wi.T + h @ wh.T + (0 if bi is None else bi) + (0 if bh is None else bh)
        return np.tanh(a) if act == "tanh" else np.maximum(a, 0)

    return ref


def _cell_samples(gates: int, cell_state: bool):
    @st.composite
    def draw(d):
        n, i, h = d(st.integers(1, 3)), d(st.integers(1, 4)), d(st.integers(1, 4))
        arr = lambda *shape: d(S.arrays(shape, lo=-1.5, hi=1.5))  # noqa: E731
        args = [arr(n, i), arr(n, h)] + ([arr(n, h)] if cell_state else [])
        args += [arr(gates * h, i), arr(gates * h, h)]
        if d(st.booleans()):
            args += [arr(gates * h), arr(gates * h)]
        return Sample(tuple(args))

    return draw()


def _lstm_layer(x, h, c, wi, wh, bi=None, bh=None, *, reverse):
    out, hn, cn = R.LSTMFn.apply(x, h, c, wi, wh, bi, bh, reverse=reverse)
    return cat([out.reshape(-1), hn.reshape(-1), cn.reshape(-1)], dim=0)


def np_lstm_layer(x, h, c, wi, wh, bi=None, bh=None, *, reverse):
    out = [None] * len(x)
    for t in (range(len(x) - 1, -1, -1) if reverse else range(len(x))):
        h, c = np.split(np_lstm(x[t], h, c, wi, wh, bi, bh), 2, axis=-1)
        out[t] = h
    return np.concatenate([np.stack(out).reshape(-1), h.reshape(-1), c.reshape(-1)])


def _gru_layer(x, h, wi, wh, bi=None, bh=None, *, reverse):
    out, hn = R.GRUFn.apply(x, h, wi, wh, bi, bh, reverse=reverse)
    return cat([out.reshape(-1), hn.reshape(-1)], dim=0)


def np_gru_layer(x, h, wi, wh, bi=None, bh=None, *, reverse):
    out = [None] * len(x)
    for t in (range(len(x) - 1, -1, -1) if reverse else range(len(x))):
        h = out[t] = np_gru(x[t], h, wi, wh, bi, bh)
    return np.concatenate([np.stack(out).reshape(-1), h.reshape(-1)])


def _rnn_layer(relu: bool):
    def fn(x, h, wi, wh, bi=None, bh=None, *, reverse):
        out, hn = R.RNNFn.apply(x, h, wi, wh, bi, bh, reverse=reverse, relu=relu)
        return cat([out.reshape(-1), hn.reshape(-1)], dim=0)

    def ref(x, h, wi, wh, bi=None, bh=None, *, reverse):
        out = [None] * len(x)
        for t in (range(len(x) - 1, -1, -1) if reverse else range(len(x))):
            h = out[t] = np_rnn("relu" if relu else "tanh")(x[t], h, wi, wh, bi, bh)
        return np.concatenate([np.stack(out).reshape(-1), h.reshape(-1)])

    return fn, ref


def _layer_samples(gates: int, cell_state: bool):
    @st.composite
    def draw(d):
        t, n, i, h = (d(st.integers(1, 3)), d(st.integers(1, 2)), d(st.integers(1, 3)),
                      d(st.integers(1, 3)))
        arr = lambda *shape: d(S.arrays(shape, lo=-1.5, hi=1.5))  # noqa: E731
        args = [arr(t, n, i), arr(n, h)] + ([arr(n, h)] if cell_state else [])
        args += [arr(gates * h, i), arr(gates * h, h)]
        if d(st.booleans()):
            args += [arr(gates * h), arr(gates * h)]
        return Sample(tuple(args), {"reverse": d(st.booleans())})

    return draw()


op_db = [
    OpInfo("lstm_cell", _lstm, lambda: _cell_samples(4, True), ref=np_lstm,
           kinks=R.LSTMCellFn.kinks),
    OpInfo("gru_cell", R.gru_cell, lambda: _cell_samples(3, False), ref=np_gru,
           kinks=R.GRUCellFn.kinks),
    OpInfo("rnn_tanh_cell", R.rnn_tanh_cell, lambda: _cell_samples(1, False),
           ref=np_rnn("tanh")),
    OpInfo("rnn_relu_cell", R.rnn_relu_cell, lambda: _cell_samples(1, False),
           ref=np_rnn("relu"), kinks="relu's: the gradient at a pre-activation of 0 is 0"),
    OpInfo("lstm_layer", _lstm_layer, lambda: _layer_samples(4, True), ref=np_lstm_layer,
           kinks=R.LSTMFn.kinks),
    OpInfo("gru_layer", _gru_layer, lambda: _layer_samples(3, False), ref=np_gru_layer,
           kinks=R.GRUFn.kinks),
    OpInfo("rnn_tanh_layer", _rnn_layer(False)[0], lambda: _layer_samples(1, False),
           ref=_rnn_layer(False)[1]),
    OpInfo("rnn_relu_layer", _rnn_layer(True)[0], lambda: _layer_samples(1, False),
           ref=_rnn_layer(True)[1], kinks=R.RNNFn.kinks),
]
