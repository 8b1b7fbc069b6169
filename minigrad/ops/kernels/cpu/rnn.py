"""Fused per-timestep gate kernels of the LSTM and GRU cells (forward and backward).

One recurrent step is two matrix products (the input part for every step at once, the hidden
part per step; both BLAS, in the ops) and then this elementwise work on the gate pre-activations,
which as separate ops would be a dozen graph nodes and passes over memory per step (constants
are passed in the arrays' dtype: a Python ``1`` would turn float32 arithmetic into float64)::

    LSTM   gates = xg + hg: (N, 4H), chunks (i, f, g, o)
           i, f, o = sigmoid(.), g = tanh(.), c' = f*c + i*g, h' = o*tanh(c')
    GRU    xg = x W_ih^T + b_ih, hg = h W_hh^T + b_hh: (N, 3H), chunks (r, z, n)
           r = sigmoid(xr + hr), z = sigmoid(xz + hz), n = tanh(xn + r*hn), h' = (1-z)*n + z*h

The LSTM forward returns the activated gates (i, f, g, o), which its backward reads (one (N, 4H)
array per step, the layer's backward needs them for every step anyway); the GRU backward
recomputes its activations from the saved pre-activations. ``sigmoid`` takes ``exp`` of ``-|x|``
only and ``tanh`` is the vectorisable float32 polynomial of the activation kernels (libm in
float64), so the loops over the hidden units vectorise; rows run in parallel when the batch is
large.
"""

from __future__ import annotations

import numpy as np
from numba import prange, types
from numba.extending import overload

from minigrad.ops.kernels import api
from minigrad.ops.kernels.cpu._jit import Kernel, inline, kernel, wide_vectors
from minigrad.ops.kernels.cpu.f32math import exp_nonpos
from minigrad.ops.kernels.cpu.f32math import tanh_any as _tanh
from minigrad.ops.kernels.cpu.packing import transposed

__all__ = list(api.RNN)


def _sigmoid(x):  # pragma: no cover - resolved at compile time by the overload below
    raise NotImplementedError


@overload(_sigmoid)
def _sigmoid_impl(x):
    if not isinstance(x, types.Float):
        return None
    one, zero = (np.float32(1), np.float32(0)) if x == types.float32 else (1.0, 0.0)

    def impl(x):
        e = exp_nonpos(-abs(x))
        s = one / (one + e)
        return s if x >= zero else e * s

    return impl


@inline
def _pre(xg, hg, b, k):
    """The pre-activation xg + hg at row b, column k."""
    return xg[b, k] + hg[b, k]


@kernel
def _lstm_forward(xg, hg, c, acts, h_out, c_out):
    n, h4 = xg.shape
    nh = h4 // 4
    for b in prange(n):
        # One short loop per gate and one for the cell: a single loop reading and writing all
        # six arrays needs more runtime alias checks than LLVM allows, and ran scalar (13x
        # slower at (32, 256)).
        wide_vectors()
        for j in range(nh):
            acts[b, j] = _sigmoid(_pre(xg, hg, b, j))
        for j in range(nh, 2 * nh):
            acts[b, j] = _sigmoid(_pre(xg, hg, b, j))
        for j in range(2 * nh, 3 * nh):
            acts[b, j] = _tanh(_pre(xg, hg, b, j))
        for j in range(3 * nh, h4):
            acts[b, j] = _sigmoid(_pre(xg, hg, b, j))
        for j in range(nh):
            cn = acts[b, nh + j] * c[b, j] + acts[b, j] * acts[b, 2 * nh + j]
            c_out[b, j] = cn
            h_out[b, j] = acts[b, 3 * nh + j] * _tanh(cn)


@kernel
def _lstm_backward(acts, c, c_new, dh, dc_new, dgates, dc, one):
    n, h4 = acts.shape
    nh = h4 // 4
    for b in prange(n):
        # Short loops with few arrays each, as in the forward: one loop over all of them ran
        # scalar. dc holds d c' (through h' and directly) until the last loop scales it by f.
        wide_vectors()
        for j in range(nh):
            o, tc = acts[b, 3 * nh + j], _tanh(c_new[b, j])
            dc[b, j] = dc_new[b, j] + dh[b, j] * o * (one - tc * tc)
            dgates[b, 3 * nh + j] = dh[b, j] * tc * o * (one - o)
        for j in range(nh):
            i, g = acts[b, j], acts[b, 2 * nh + j]
            dgates[b, j] = dc[b, j] * g * i * (one - i)
            dgates[b, 2 * nh + j] = dc[b, j] * i * (one - g * g)
        for j in range(nh):
            f = acts[b, nh + j]
            dgates[b, nh + j] = dc[b, j] * c[b, j] * f * (one - f)
            dc[b, j] = dc[b, j] * f


@kernel
def _gru_forward(xg, hg, h, h_out):
    n, h3 = xg.shape
    nh = h3 // 3
    for b in prange(n):
        wide_vectors()
        for j in range(nh):
            r, z = _sigmoid(_pre(xg, hg, b, j)), _sigmoid(_pre(xg, hg, b, nh + j))
            nn = _tanh(xg[b, 2 * nh + j] + r * hg[b, 2 * nh + j])
            h_out[b, j] = nn + z * (h[b, j] - nn)


@kernel
def _gru_backward(xg, hg, h, dh_out, dxg, dhg, dh, one):
    n, h3 = xg.shape
    nh = h3 // 3
    for b in prange(n):
        wide_vectors()
        for j in range(nh):
            r, z = _sigmoid(_pre(xg, hg, b, j)), _sigmoid(_pre(xg, hg, b, nh + j))
            hn = hg[b, 2 * nh + j]
            nn = _tanh(xg[b, 2 * nh + j] + r * hn)
            d = dh_out[b, j]
            dh[b, j] = d * z
            dn = d * (one - z) * (one - nn * nn)
            dr = dn * hn * r * (one - r)
            dz = d * (h[b, j] - nn) * z * (one - z)
            dxg[b, j] = dr
            dhg[b, j] = dr
            dxg[b, nh + j] = dz
            dhg[b, nh + j] = dz
            dxg[b, 2 * nh + j] = dn
            dhg[b, 2 * nh + j] = dn * r


# A step's gate work is small (tens of ns per hidden unit): split it over threads only from this
# many hidden units (batch x hidden) on. The elementwise kernels' threshold (PARALLEL_MIN_SIZE
# elements of the largest array) would split a (32, 256) LSTM step, whose 4 gate columns make
# 32768 elements, and a parallel launch costs more than the step when the cores are busy.
PARALLEL_MIN_UNITS = 1 << 17


# The GRU backward's one loop writes three arrays and reads four. Its serial build runs scalar
# (LLVM cannot rule out that they overlap); the parallel build vectorises, because Numba's parfor
# lowering proves the arrays distinct and marks them noalias. So that build runs from this many
# hidden units (batch x hidden) on, far below PARALLEL_MIN_UNITS: at (32, 256) 22 against 162 us,
# and at (8, 64) still 8 against 16 us. (Short loops writing one array each, as the LSTM's, made
# the serial build vectorise too, but at 1.6x the parallel build's time for large batches.)
GRU_BACKWARD_PARALLEL_UNITS = 256


def _c(*arrays: np.ndarray) -> list[np.ndarray]:
    return [np.ascontiguousarray(a) for a in arrays]


def _pick(k: Kernel, units: int, parallel_from: int = PARALLEL_MIN_UNITS):
    return k.parallel if units >= parallel_from else k.serial


def lstm_gates_forward(xg: np.ndarray, hg: np.ndarray,
                       c: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(activated gates (N, 4H): sigmoid(i), sigmoid(f), tanh(g), sigmoid(o); h': (N, H); c':
    (N, H)) from the two parts of the gate pre-activations xg, hg: (N, 4H) and the cell state
    c: (N, H)."""
    acts, h_out, c_out = np.empty_like(xg), np.empty_like(c), np.empty_like(c)
    _pick(_lstm_forward, c.size)(*_c(xg, hg, c), acts, h_out, c_out)
    return acts, h_out, c_out


def lstm_gates_backward(acts: np.ndarray, c: np.ndarray, c_new: np.ndarray, dh: np.ndarray,
                        dc_new: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(d gate pre-activations: (N, 4H), dc: (N, H)) for the upstream gradients dh, dc_new of
    h', c', from the activated gates of :func:`lstm_gates_forward`, c and c'."""
    dgates, dc = np.empty_like(acts), np.empty_like(c)
    _pick(_lstm_backward, c.size)(*_c(acts, c, c_new, dh, dc_new), dgates, dc,
                                  acts.dtype.type(1))
    return dgates, dc


def gru_cell_forward(xg: np.ndarray, hg: np.ndarray, h: np.ndarray) -> np.ndarray:
    """h': (N, H) from xg = x W_ih^T + b_ih, hg = h W_hh^T + b_hh: (N, 3H) (chunks r, z, n)
    and h: (N, H)."""
    h_out = np.empty_like(h)
    _pick(_gru_forward, h.size)(*_c(xg, hg, h), h_out)
    return h_out


def gru_cell_backward(xg: np.ndarray, hg: np.ndarray, h: np.ndarray,
                      dh_out: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(d xg, d hg: (N, 3H), dh: (N, H), the direct part through z*h) for dh_out."""
    dxg, dhg, dh = np.empty_like(xg), np.empty_like(xg), np.empty_like(h)
    _pick(_gru_backward, h.size, GRU_BACKWARD_PARALLEL_UNITS)(*_c(xg, hg, h, dh_out), dxg, dhg,
                                                                dh, xg.dtype.type(1))
    return dxg, dhg, dh


def times_transposed(a: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``a @ w.T`` for one step, a: (N, K), w: (G*H, K) -> (N, G*H), C-ordered: computed as
    ``w @ a.T`` by BLAS, which OpenBLAS runs faster than ``a @ (view of w.T)`` for a small batch
    N (a contiguous w.T cannot be made once per sequence for a cell), then transposed back
    through the transpose tile (``packing.transposed``: 10 us for (1024, 32) float32 where
    NumPy's strided ``.T.copy()`` took 27)."""
    return transposed(w @ a.T, pad=False)


def transposed_copy(w: np.ndarray) -> np.ndarray:
    """``w.T`` as a C-contiguous copy (w: 2-D), through the transpose tile."""
    return transposed(np.ascontiguousarray(w), pad=False)
