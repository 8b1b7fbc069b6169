"""Recurrent cells (PyTorch's ``torch.rnn_tanh_cell``, ``rnn_relu_cell``, ``lstm_cell``,
``gru_cell``) and the whole-sequence LSTM Function the recurrent layers run.

One step of a cell is two matrix products and the gate arithmetic::

    RNN    h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)          (or relu)
    LSTM   i, f, g, o = split(x W_ih^T + b_ih + h W_hh^T + b_hh, 4)
           c' = sigmoid(f) c + sigmoid(i) tanh(g),   h' = sigmoid(o) tanh(c')
    GRU    r, z, n from x W_ih^T + b_ih and h W_hh^T + b_hh (3 chunks each):
           r = sigmoid(xr + hr), z = sigmoid(xz + hz), n = tanh(xn + r * hn),
           h' = (1 - z) n + z h

:class:`LSTMCellFn` is a whole LSTM step (both products, the fused gate kernel of
:mod:`minigrad.ops.kernels.cpu.rnn`, and in backward the four products of the weights' and
inputs' gradients): one graph node instead of a dozen. :class:`LSTMFn` is one layer and direction
over a whole sequence, as cuDNN and PyTorch run it: the input part of every step's gates in one
product ((T*N, I) @ W_ih^T), then per step one product h @ W_hh^T and the gate kernel; backward
walks the steps in reverse with one product per step (dh) and computes dW_ih, dW_hh and the
biases as single products and sums over the stacked steps. :class:`GRUCellFn` fuses the GRU's
gate arithmetic of one step. Under ``create_graph=True`` their backward is written with Tensor
ops instead (recomputing the gates), so they can be differentiated again.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minigrad.autograd import Function, is_grad_enabled
from minigrad.ops._args import float_tensor
from minigrad.ops.activation import relu, sigmoid
from minigrad.ops.elementwise import tanh
from minigrad.ops.kernels import kernels_for
from minigrad.ops.shape import UnbindFn, cat, stack, unbind
from minigrad.tensor import Tensor

__all__ = ["unbind", "rnn_tanh_cell", "rnn_relu_cell", "lstm_cell", "gru_cell", "UnbindFn",
           "LSTMCellFn", "LSTMFn", "GRUCellFn", "GRUFn", "RNNFn"]


# ---------------------------------------------------------------------------------------------
# Gate Functions
# ---------------------------------------------------------------------------------------------


def _chunks(t: Tensor, n: int) -> list[Tensor]:
    h = t.shape[-1] // n
    return [t[..., i * h:(i + 1) * h] for i in range(n)]


def _bias(b_ih: Any, b_hh: Any) -> Any:
    """The sum of the biases' arrays present (None when neither is)."""
    bs = [b.data for b in (b_ih, b_hh) if b is not None]
    return None if not bs else bs[0] if len(bs) == 1 else bs[0] + bs[1]


def _lstm_gates(pre: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The activated gates (sigmoid(i), sigmoid(f), tanh(g), sigmoid(o)) as Tensor ops."""
    i, f, g, o = _chunks(pre, 4)
    return sigmoid(i), sigmoid(f), tanh(g), sigmoid(o)


def _lstm_gates_vjp(gates: tuple[Tensor, ...], c: Tensor, tc: Tensor, dh: Tensor,
                    dc_new: Tensor) -> tuple[Tensor, Tensor]:
    """(d gate pre-activations (N, 4H), dc (N, H)) as Tensor ops (differentiable again), from
    the activated gates, c, tanh(c') and the upstream dh, dc'."""
    i, f, g, o = gates
    dct = dc_new + dh * o * (1 - tc * tc)
    return cat([dct * g * i * (1 - i), dct * c * f * (1 - f), dct * i * (1 - g * g),
                dh * tc * o * (1 - o)], dim=-1), dct * f


def _weight_grads(dxg: Any, dhg: Any, x: Any, h: Any, need: tuple[bool, ...]) -> list[Any]:
    """[dW_ih, dW_hh, db_ih, db_hh] (None where not needed; ``need``: the last four inputs')
    from the (M, G*H) gradients of the input and hidden parts of the gates and the (M, I),
    (M, H) inputs they multiply (arrays, or Tensors under create_graph). The LSTM passes one
    array for both parts."""
    n_wi, n_wh, n_bi, n_bh = need[-4:]
    tensor = isinstance(dxg, Tensor)
    wrap = (lambda a: a) if tensor else Tensor._make
    db_ih = dxg.sum(0) if n_bi or (n_bh and dhg is dxg) else None
    if not n_bh:
        db_hh = None
    elif dhg is not dxg:
        db_hh = dhg.sum(0)
    else:  # the same sum: a copy, so the two .grad never share an array
        db_hh = db_ih if tensor or not n_bi else db_ih.copy()
    return [wrap(dxg.T @ x) if n_wi else None, wrap(dhg.T @ h) if n_wh else None,
            wrap(db_ih) if n_bi else None, wrap(db_hh) if n_bh else None]


class LSTMCellFn(Function):
    """(h', c') of one LSTM step from x: (N, I), h: (N, H_h), c: (N, H), w_ih: (4H, I),
    w_hh: (4H, H_h) and the biases b_ih, b_hh: (4H,) or None (gate chunks i, f, g, o: PyTorch's
    order)."""

    kinks = "none: smooth (sigmoid and tanh)"

    @staticmethod
    def forward(ctx, x, h, c, w_ih, w_hh, b_ih, b_hh):
        xg = _times_transposed(x.data, w_ih.data)
        b = _bias(b_ih, b_hh)
        if b is not None:
            xg += b
        acts, h_new, c_new = kernels_for(xg).rnn.lstm_gates_forward(
            xg, _times_transposed(h.data, w_hh.data), c.data)
        ctx.acts = acts
        ctx.save_for_backward(x, h, c, w_ih, w_hh, b_ih, b_hh, c_new)
        return h_new, c_new

    @staticmethod
    def backward(ctx, dh, dc_new):
        x, h, c, w_ih, w_hh, b_ih, b_hh, c_new = ctx.saved_tensors
        need = ctx.needs_input_grad
        if is_grad_enabled():  # create_graph: Tensor ops, differentiable again
            gates = _lstm_gates(_affine(x, w_ih, b_ih) + _affine(h, w_hh, b_hh))
            i, f, g, _ = gates
            dgates, dc = _lstm_gates_vjp(gates, c, tanh(f * c + i * g), dh, dc_new)
            return (dgates @ w_ih if need[0] else None, dgates @ w_hh if need[1] else None,
                    dc if need[2] else None, *_weight_grads(dgates, dgates, x, h, need))
        dgates, dc = kernels_for(dh.data).rnn.lstm_gates_backward(
            ctx.acts, c.data, c_new.data, dh.data, dc_new.data)
        return (Tensor._make(dgates @ w_ih.data) if need[0] else None,
                Tensor._make(dgates @ w_hh.data) if need[1] else None,
                Tensor._make(dc) if need[2] else None,
                *_weight_grads(dgates, dgates, x.data, h.data, need))


class LSTMFn(Function):
    """One LSTM layer and direction over a whole sequence: x: (T, N, I), h0: (N, H), c0: (N, H),
    w_ih: (4H, I), w_hh: (4H, H), b_ih, b_hh: (4H,) or None -> (output (T, N, H), h_n (N, H),
    c_n (N, H)). ``reverse=True`` runs the steps from T-1 down to 0 (the reverse direction of a
    bidirectional layer; output[t] stays the state after reading x[t])."""

    kinks = "none: smooth (sigmoid and tanh)"

    @staticmethod
    def forward(ctx, x, h0, c0, w_ih, w_hh, b_ih, b_hh, *, reverse):
        steps = x.shape[0]
        xg = _input_part(x.data, w_ih.data, _bias(b_ih, b_hh))
        gates = kernels_for(xg).rnn.lstm_gates_forward
        w_hh_t = _transposed(w_hh.data)
        h, c = h0.data, c0.data
        acts, hs, cs = [None] * steps, [None] * steps, [None] * steps
        for t in _order(steps, reverse):
            acts[t], h, c = gates(xg[t], h @ w_hh_t, c)
            hs[t], cs[t] = h, c
        out = np.stack(hs)
        ctx.acts, ctx.cs, ctx.reverse = acts, cs, reverse
        ctx.save_for_backward(x, h0, c0, w_ih, w_hh, b_ih, b_hh, out)
        return out, h, c

    @staticmethod
    def backward(ctx, dout, dh_n, dc_n):
        x, h0, c0, w_ih, w_hh, b_ih, b_hh, out = ctx.saved_tensors
        need = ctx.needs_input_grad
        if is_grad_enabled():  # create_graph: Tensor ops, differentiable again
            return _lstm_sequence_vjp(x, h0, c0, w_ih, w_hh, b_ih, b_hh, ctx.reverse,
                                      dout, dh_n, dc_n, need)
        steps, n = x.shape[:2]
        gates_backward = kernels_for(dout.data).rnn.lstm_gates_backward
        w = w_hh.data
        dh, dc, douts = dh_n.data, dc_n.data, dout.data
        cs, c0a = ctx.cs, c0.data
        dgs = [None] * steps
        order = _order(steps, ctx.reverse)
        prev = dict(zip(order[1:], order))  # the step before t in running order
        for t in reversed(order):
            c_prev = cs[prev[t]] if t in prev else c0a
            dgs[t], dc = gates_backward(ctx.acts[t], c_prev, cs[t], douts[t] + dh, dc)
            dh = dgs[t] @ w
        dg = np.stack(dgs).reshape(steps * n, -1)
        return _sequence_grads(ctx, dg, dg, [dh, dc], x, h0, w_ih, out)


def _order(steps: int, reverse: bool) -> list[int]:
    return list(range(steps - 1, -1, -1) if reverse else range(steps))


def _lstm_sequence_vjp(x: Tensor, h0: Tensor, c0: Tensor, w_ih: Tensor, w_hh: Tensor,
                       b_ih: Tensor | None, b_hh: Tensor | None, reverse: bool, dout: Tensor,
                       dh: Tensor, dc: Tensor, need: tuple[bool, ...]) -> tuple[Any, ...]:
    """:class:`LSTMFn`'s gradients as Tensor ops: the forward recomputed step by step, then the
    same reverse walk as the fused backward."""
    xs = _input_steps(x, w_ih, b_ih)
    order = _order(len(xs), reverse)
    h, c = h0, c0
    saved: list[Any] = [None] * len(xs)
    for t in order:
        gates = _lstm_gates(xs[t] + _affine(h, w_hh, b_hh))
        i, f, g, o = gates
        c_new = f * c + i * g
        tc = tanh(c_new)
        saved[t] = (gates, c, tc, h)
        h, c = o * tc, c_new
    douts = unbind(dout, 0)
    dgs: list[Any] = [None] * len(xs)
    for t in reversed(order):
        gates, c_prev, tc, _ = saved[t]
        dgs[t], dc = _lstm_gates_vjp(gates, c_prev, tc, douts[t] + dh, dc)
        dh = dgs[t] @ w_hh
    return _stacked_grads(x, w_ih, dgs, dgs, [s[3] for s in saved], [dh, dc], need)


def _input_steps(x: Tensor, w_ih: Tensor, b_ih: Tensor | None) -> list[Tensor]:
    """x W_ih^T + b_ih of every step as one product, unbound into T Tensors (N, G*H)."""
    steps, n, width = x.shape
    xg = _affine(x.reshape(steps * n, width), w_ih, b_ih)
    return unbind(xg.reshape(steps, n, xg.shape[-1]), 0)


def _stacked_grads(x: Tensor, w_ih: Tensor, dxgs: list[Tensor], dhgs: list[Tensor],
                   h_prevs: list[Tensor], dstates: list[Tensor],
                   need: tuple[bool, ...]) -> tuple[Any, ...]:
    """A sequence's gradients as Tensor ops from its steps' gate gradients (input and hidden
    parts; one list for both where they are equal) and the state each step started from:
    (dx, d states..., dW_ih, dW_hh, db_ih, db_hh), None where not needed."""
    steps, n, width = x.shape
    dxg = stack(dxgs, dim=0).reshape(steps * n, -1)
    dhg = dxg if dhgs is dxgs else stack(dhgs, dim=0).reshape(steps * n, -1)
    h_prev = stack(h_prevs, dim=0).reshape(steps * n, -1)
    return ((dxg @ w_ih).reshape(x.shape) if need[0] else None,
            *[d if k else None for d, k in zip(dstates, need[1:])],
            *_weight_grads(dxg, dhg, x.reshape(steps * n, width), h_prev, need))


def _gru_gates_vjp(xg: Tensor, hg: Tensor, h: Tensor,
                   dh_out: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(d xg, d hg: (N, 3H), the direct part of dh through z*h: (N, H)) of one GRU step as
    Tensor ops (differentiable again)."""
    xr, xz, xn = _chunks(xg, 3)
    hr, hz, hn = _chunks(hg, 3)
    r, z = sigmoid(xr + hr), sigmoid(xz + hz)
    n = tanh(xn + r * hn)
    dn = dh_out * (1 - z) * (1 - n * n)
    dr = dn * hn * r * (1 - r)
    dz = dh_out * (h - n) * z * (1 - z)
    return cat([dr, dz, dn], dim=-1), cat([dr, dz, dn * r], dim=-1), dh_out * z


class GRUCellFn(Function):
    """h' of one GRU step from xg = x W_ih^T + b_ih, hg = h W_hh^T + b_hh: (N, 3H) (chunks r,
    z, n: PyTorch's order) and h: (N, H)."""

    kinks = "none: smooth (sigmoid and tanh)"

    @staticmethod
    def forward(ctx, xg, hg, h):
        ctx.save_for_backward(xg, hg, h)
        return kernels_for(xg.data).rnn.gru_cell_forward(xg.data, hg.data, h.data)

    @staticmethod
    def backward(ctx, dh_out):
        xg, hg, h = ctx.saved_tensors
        need = ctx.needs_input_grad
        if is_grad_enabled():  # create_graph: Tensor ops, differentiable again
            grads = _gru_gates_vjp(xg, hg, h, dh_out)
        else:
            grads = tuple(Tensor._make(a) for a in kernels_for(xg.data).rnn.gru_cell_backward(
                xg.data, hg.data, h.data, dh_out.data))
        return tuple(g if n else None for g, n in zip(grads, need))


class _OneStateSequence:
    """The backward of the sequence Functions with one state, :class:`GRUFn` and
    :class:`RNNFn` (a mixin): both save ``(x, h0, w_ih, w_hh, b_ih, b_hh, output)``; a subclass
    gives ``sequence_vjp`` (its gradients as Tensor ops, for create_graph) and ``gate_grads``
    (the reverse walk over the steps on arrays: the (T*N, G*H) gradients of the input and hidden
    parts of the gates, and dh0)."""

    @staticmethod
    def backward(ctx, dout, dh_n):
        x, h0, w_ih, w_hh, b_ih, b_hh, out = ctx.saved_tensors
        if is_grad_enabled():  # create_graph: Tensor ops, differentiable again
            return ctx.sequence_vjp(x, h0, w_ih, w_hh, b_ih, b_hh, dout, dh_n,
                                    ctx.needs_input_grad)
        dxg, dhg, dh = ctx.gate_grads(h0.data, w_hh.data, out.data, dout.data, dh_n.data)
        return _sequence_grads(ctx, dxg, dhg, [dh], x, h0, w_ih, out)


class GRUFn(_OneStateSequence, Function):
    """One GRU layer and direction over a whole sequence: x: (T, N, I), h0: (N, H),
    w_ih: (3H, I), w_hh: (3H, H), b_ih, b_hh: (3H,) or None -> (output (T, N, H), h_n (N, H));
    ``reverse`` as :class:`LSTMFn`'s. The input part of the gates of all steps is one product,
    each step one product h @ W_hh^T and the fused gate kernel; backward walks the steps in
    reverse and computes the weights' and biases' gradients over the stacked steps at once."""

    kinks = "none: smooth (sigmoid and tanh)"

    @staticmethod
    def forward(ctx, x, h0, w_ih, w_hh, b_ih, b_hh, *, reverse):
        steps = x.shape[0]
        xg = _input_part(x.data, w_ih.data, _bias(b_ih, None))
        step = kernels_for(xg).rnn.gru_cell_forward
        w_hh_t, b = _transposed(w_hh.data), None if b_hh is None else b_hh.data
        h = h0.data
        hgs, hs = [None] * steps, [None] * steps
        for t in _order(steps, reverse):
            hgs[t] = hg = h @ w_hh_t
            if b is not None:
                hg += b
            hs[t] = h = step(xg[t], hg, h)
        out = np.stack(hs)
        ctx.xg, ctx.hgs, ctx.reverse = xg, hgs, reverse
        ctx.save_for_backward(x, h0, w_ih, w_hh, b_ih, b_hh, out)
        return out, h

    def sequence_vjp(self, *saved_and_grads: Tensor | None) -> tuple[Any, ...]:
        return _gru_sequence_vjp(*saved_and_grads, reverse=self.reverse)

    def gate_grads(self, h0: Any, w: Any, o: Any, douts: Any, dh: Any) -> tuple[Any, Any, Any]:
        steps, n = o.shape[:2]
        step_backward = kernels_for(douts).rnn.gru_cell_backward
        dxgs, dhgs = [None] * steps, [None] * steps
        order = _order(steps, self.reverse)
        prev = dict(zip(order[1:], order))
        for t in reversed(order):
            h_prev = o[prev[t]] if t in prev else h0
            dxgs[t], dhgs[t], dd = step_backward(self.xg[t], self.hgs[t], h_prev, douts[t] + dh)
            dh = dd + dhgs[t] @ w
        return (np.stack(dxgs).reshape(steps * n, -1), np.stack(dhgs).reshape(steps * n, -1),
                dh)


def _input_part(x: Any, w_ih: Any, b: Any) -> Any:
    """x W_ih^T + b for every step at once: x: (T, N, I) -> (T, N, G*H) (arrays)."""
    steps, n, width = x.shape
    xg = x.reshape(steps * n, width) @ w_ih.T
    if b is not None:
        xg += b  # in place: a second (T*N, G*H) array would be as large as xg
    return xg.reshape(steps, n, -1)


def _times_transposed(a: Any, w: Any) -> Any:
    """a @ w^T for one step, a: (N, K), w: (G*H, K) -> (N, G*H), C-ordered (see the kernel)."""
    return kernels_for(a).rnn.times_transposed(a, w)


def _transposed(w: Any) -> Any:
    """w^T as a C-contiguous copy, for the per-step product h @ W_hh^T: OpenBLAS runs that
    product slower on the transposed view (bench/RESULTS.md), and one copy per sequence costs
    less than a third of one step."""
    return kernels_for(w).rnn.transposed_copy(w)


def _sequence_grads(ctx: Function, dxg: Any, dhg: Any, dstates: list[Any], x: Tensor,
                    h0: Tensor, w_ih: Tensor, out: Tensor) -> tuple[Tensor | None, ...]:
    """A sequence Function's input gradients from the (T*N, G*H) gate gradients (input and
    hidden parts) and the initial states' gradients: (dx, d states..., dW_ih, dW_hh, db_ih,
    db_hh), None where not needed."""
    need = ctx.needs_input_grad
    steps, n, width = x.shape
    states = [Tensor._make(d) if k else None for d, k in zip(dstates, need[1:])]
    return (Tensor._make((dxg @ w_ih.data).reshape(x.shape)) if need[0] else None, *states,
            *_weight_grads(dxg, dhg, x.data.reshape(steps * n, width),
                           _previous_states(out.data, h0.data, ctx.reverse), need))


def _previous_states(out: Any, h0: Any, reverse: bool) -> Any:
    """The state each step of the (T, N, H) output started from, stacked as (T*N, H)."""
    first = np.expand_dims(h0, 0)
    prev = np.concatenate([out[1:], first] if reverse else [first, out[:-1]])
    return prev.reshape(-1, prev.shape[-1])


def _gru_sequence_vjp(x: Tensor, h0: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None,
                      b_hh: Tensor | None, dout: Tensor, dh: Tensor, need: tuple[bool, ...], *,
                      reverse: bool) -> tuple[Any, ...]:
    """:class:`GRUFn`'s gradients as Tensor ops: the forward recomputed step by step, then the
    same reverse walk as the fused backward."""
    xs = _input_steps(x, w_ih, b_ih)
    order = _order(len(xs), reverse)
    h = h0
    saved: list[Any] = [None] * len(xs)
    for t in order:
        hg = _affine(h, w_hh, b_hh)
        saved[t] = (xs[t], hg, h)
        h = GRUCellFn.apply(xs[t], hg, h)
    douts = unbind(dout, 0)
    dxgs: list[Any] = [None] * len(xs)
    dhgs: list[Any] = [None] * len(xs)
    for t in reversed(order):
        dxgs[t], dhgs[t], dd = _gru_gates_vjp(*saved[t], douts[t] + dh)
        dh = dd + dhgs[t] @ w_hh
    return _stacked_grads(x, w_ih, dxgs, dhgs, [s[2] for s in saved], [dh], need)


class RNNFn(_OneStateSequence, Function):
    """One Elman RNN layer and direction over a whole sequence: h_t = tanh(x_t W_ih^T + b_ih +
    h_{t-1} W_hh^T + b_hh) (``relu=True``: relu); x: (T, N, I), h0: (N, H), w_ih: (H, I),
    w_hh: (H, H), b_ih, b_hh: (H,) or None -> (output (T, N, H), h_n (N, H)); ``reverse`` as
    :class:`LSTMFn`'s, and the same layout of the work: one product for the input part of all
    steps, one per step forward and backward, the weights' gradients over the stacked steps."""

    kinks = "relu only: the gradient at a pre-activation of 0 is 0 (tanh is smooth)"

    @staticmethod
    def forward(ctx, x, h0, w_ih, w_hh, b_ih, b_hh, *, reverse, relu):
        steps = x.shape[0]
        xg = _input_part(x.data, w_ih.data, _bias(b_ih, b_hh))
        w_hh_t, h = _transposed(w_hh.data), h0.data
        hs = [None] * steps
        for t in _order(steps, reverse):
            pre = xg[t] + h @ w_hh_t
            hs[t] = h = np.maximum(pre, 0) if relu else np.tanh(pre)
        out = np.stack(hs)
        ctx.reverse, ctx.relu = reverse, relu
        ctx.save_for_backward(x, h0, w_ih, w_hh, b_ih, b_hh, out)
        return out, h

    def sequence_vjp(self, *saved_and_grads: Tensor | None) -> tuple[Any, ...]:
        return _rnn_sequence_vjp(*saved_and_grads, reverse=self.reverse, use_relu=self.relu)

    def gate_grads(self, h0: Any, w: Any, o: Any, douts: Any, dh: Any) -> tuple[Any, Any, Any]:
        steps, n = o.shape[:2]
        dgs = [None] * steps
        for t in reversed(_order(steps, self.reverse)):
            slope = (o[t] > 0).astype(o.dtype) if self.relu else 1 - o[t] * o[t]
            dgs[t] = (douts[t] + dh) * slope
            dh = dgs[t] @ w
        dg = np.stack(dgs).reshape(steps * n, -1)
        return dg, dg, dh


def _rnn_sequence_vjp(x: Tensor, h0: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None,
                      b_hh: Tensor | None, dout: Tensor, dh: Tensor, need: tuple[bool, ...], *,
                      reverse: bool, use_relu: bool) -> tuple[Any, ...]:
    """:class:`RNNFn`'s gradients as Tensor ops (the forward recomputed step by step)."""
    xs = _input_steps(x, w_ih, b_ih)
    order = _order(len(xs), reverse)
    h = h0
    hs: list[Any] = [None] * len(xs)
    prevs: list[Any] = [None] * len(xs)
    for t in order:
        prevs[t] = h
        hs[t] = h = (relu if use_relu else tanh)(xs[t] + _affine(h, w_hh, b_hh))
    douts = unbind(dout, 0)
    dgs: list[Any] = [None] * len(xs)
    for t in reversed(order):
        slope = (Tensor._make((hs[t].data > 0).astype(hs[t].dtype)) if use_relu
                 else 1 - hs[t] * hs[t])
        dgs[t] = (douts[t] + dh) * slope
        dh = dgs[t] @ w_hh
    return _stacked_grads(x, w_ih, dgs, dgs, prevs, [dh], need)


# ---------------------------------------------------------------------------------------------
# Cells
# ---------------------------------------------------------------------------------------------


def _check_cell(op: str, input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor,
                b_ih: Tensor | None, b_hh: Tensor | None, gates: int) -> None:
    x = float_tensor(op, "input", input)
    h = float_tensor(op, "hx", hx)
    nh = w_hh.shape[-1]
    if w_ih.ndim != 2 or w_hh.ndim != 2 or w_ih.shape[0] != gates * nh \
            or w_hh.shape[0] != gates * nh:
        raise ValueError(f"{op}: weights must be w_ih: ({gates}*H, input_size) and w_hh: "
                         f"({gates}*H, H), got {w_ih.shape} and {w_hh.shape}")
    for name, b in (("b_ih", b_ih), ("b_hh", b_hh)):
        if b is not None and b.shape != (gates * nh,):
            raise ValueError(f"{op}: {name} must have shape ({gates * nh},), got {b.shape}")
    if x.ndim != 2 or x.shape[1] != w_ih.shape[1]:
        raise ValueError(f"{op}: input must be (N, {w_ih.shape[1]}), got shape {x.shape}")
    if h.shape != (x.shape[0], nh):
        raise ValueError(f"{op}: hidden state must be (N, H) = {(x.shape[0], nh)}, got shape "
                         f"{h.shape}")
    dts = {t.dtype for t in (x, h, w_ih, w_hh, b_ih, b_hh) if t is not None}
    if len(dts) > 1:
        raise TypeError(f"{op}: input, state, weights and biases must have one dtype, got "
                        f"{sorted(str(d) for d in dts)}")


def _affine(x: Tensor, w: Tensor, b: Tensor | None) -> Tensor:
    y = x @ w.T
    return y if b is None else y + b


def rnn_tanh_cell(input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor,
                  b_ih: Tensor | None = None, b_hh: Tensor | None = None) -> Tensor:
    """h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh); input: (N, I), hx: (N, H) -> (N, H)."""
    _check_cell("rnn_tanh_cell", input, hx, w_ih, w_hh, b_ih, b_hh, 1)
    return tanh(_affine(input, w_ih, b_ih) + _affine(hx, w_hh, b_hh))


def rnn_relu_cell(input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor,
                  b_ih: Tensor | None = None, b_hh: Tensor | None = None) -> Tensor:
    """h' = relu(x W_ih^T + b_ih + h W_hh^T + b_hh); input: (N, I), hx: (N, H) -> (N, H)."""
    _check_cell("rnn_relu_cell", input, hx, w_ih, w_hh, b_ih, b_hh, 1)
    return relu(_affine(input, w_ih, b_ih) + _affine(hx, w_hh, b_hh))


def lstm_cell(input: Tensor, hx: tuple[Tensor, Tensor], w_ih: Tensor, w_hh: Tensor,
              b_ih: Tensor | None = None, b_hh: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """One LSTM step: input: (N, I), hx = (h, c): (N, H) each, w_ih: (4H, I), w_hh: (4H, H),
    biases (4H,) -> (h', c')."""
    if not isinstance(hx, tuple | list) or len(hx) != 2:
        raise TypeError("lstm_cell: hx must be a pair (h, c) of (N, H) tensors")
    h, c = hx
    _check_cell("lstm_cell", input, h, w_ih, w_hh, b_ih, b_hh, 4)
    float_tensor("lstm_cell", "c", c)
    if c.shape != h.shape or c.dtype != h.dtype:
        raise ValueError(f"lstm_cell: the cell state c {c.shape} must match h {h.shape}")
    return LSTMCellFn.apply(input, h, c, w_ih, w_hh, b_ih, b_hh)


def gru_cell(input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None = None,
             b_hh: Tensor | None = None) -> Tensor:
    """One GRU step: input: (N, I), hx: (N, H), w_ih: (3H, I), w_hh: (3H, H), biases (3H,) ->
    h': (N, H)."""
    _check_cell("gru_cell", input, hx, w_ih, w_hh, b_ih, b_hh, 3)
    return GRUCellFn.apply(_affine(input, w_ih, b_ih), _affine(hx, w_hh, b_hh), hx)
