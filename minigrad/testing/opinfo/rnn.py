"""Recurrent cells (LSTM and GRU steps over their fused gate Functions, the plain RNN steps) and
``unbind``; references in plain NumPy from the cell equations."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from minigrad.ops import rnn as R
from minigrad.ops.shape import cat, stack
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


def _unbind(x, dim):
    return stack(list(reversed(R.unbind(x, dim))), dim=0)


def _unbind_samples():
    @st.composite
    def draw(d):
        x = d(S.arrays(S.shapes(min_dims=1, max_dims=3)))
        return Sample((x,), {"dim": d(st.integers(-x.ndim, x.ndim - 1))})

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
    OpInfo("unbind_fused", _unbind, _unbind_samples,
           ref=lambda x, dim: np.flip(np.moveaxis(x, dim, 0), axis=0)),
]
