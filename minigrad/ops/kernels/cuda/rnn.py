"""The LSTM and GRU gate kernels on the GPU: the functions of ``kernels/cpu/rnn.py`` (same
arguments and results), written as elementwise device-array operations (each a numba.cuda
kernel; not fused into one launch)."""

from __future__ import annotations

from typing import Any

import numpy as np

from minigrad.ops.kernels import api

__all__ = list(api.RNN)


def _sigmoid(x: Any) -> Any:
    e = np.exp(-np.abs(x))  # exp of a non-positive number: no overflow
    s = 1 / (1 + e)
    return np.where(x >= 0, s, e * s)


def _chunks(a: Any, n: int) -> list[Any]:
    h = a.shape[1] // n
    return [a[:, i * h:(i + 1) * h] for i in range(n)]


def lstm_gates_forward(xg: Any, hg: Any, c: Any) -> tuple[Any, Any, Any]:
    i, f, g, o = _chunks(xg + hg, 4)
    i, f, g, o = _sigmoid(i), _sigmoid(f), np.tanh(g), _sigmoid(o)
    c_new = f * c + i * g
    return np.concatenate([i, f, g, o], axis=1), o * np.tanh(c_new), c_new


def lstm_gates_backward(acts: Any, c: Any, c_new: Any, dh: Any,
                        dc_new: Any) -> tuple[Any, Any]:
    i, f, g, o = _chunks(acts, 4)
    tc = np.tanh(c_new)
    dct = dc_new + dh * o * (1 - tc * tc)
    dgates = np.concatenate([dct * g * i * (1 - i), dct * c * f * (1 - f),
                             dct * i * (1 - g * g), dh * tc * o * (1 - o)], axis=1)
    return dgates, dct * f


def _gru_gates(xg: Any, hg: Any) -> tuple[Any, Any, Any, Any]:
    xr, xz, xn = _chunks(xg, 3)
    hr, hz, hn = _chunks(hg, 3)
    r, z = _sigmoid(xr + hr), _sigmoid(xz + hz)
    return r, z, np.tanh(xn + r * hn), hn


def gru_cell_forward(xg: Any, hg: Any, h: Any) -> Any:
    _, z, n, _ = _gru_gates(xg, hg)
    return n + z * (h - n)


def gru_cell_backward(xg: Any, hg: Any, h: Any, dh_out: Any) -> tuple[Any, Any, Any]:
    r, z, n, hn = _gru_gates(xg, hg)
    dn = dh_out * (1 - z) * (1 - n * n)
    dr = dn * hn * r * (1 - r)
    dz = dh_out * (h - n) * z * (1 - z)
    return (np.concatenate([dr, dz, dn], axis=1), np.concatenate([dr, dz, dn * r], axis=1),
            dh_out * z)


def times_transposed(a: Any, w: Any) -> Any:
    """As the CPU kernel: ``a @ w.T`` (N, G*H), C-ordered."""
    return (w @ a.T).T.copy()


def transposed_copy(w: Any) -> Any:
    """As the CPU kernel: ``w.T`` as a C-contiguous copy."""
    return w.T.copy()
