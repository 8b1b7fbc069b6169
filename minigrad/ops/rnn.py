"""Recurrent cells (PyTorch's ``torch.rnn_tanh_cell``, ``rnn_relu_cell``, ``lstm_cell``,
``gru_cell``) and ``unbind``, the per-timestep split the recurrent layers use.

One step of a cell is two matrix products and the gate arithmetic::

    RNN    h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)          (or relu)
    LSTM   i, f, g, o = split(x W_ih^T + b_ih + h W_hh^T + b_hh, 4)
           c' = sigmoid(f) c + sigmoid(i) tanh(g),   h' = sigmoid(o) tanh(c')
    GRU    r, z, n from x W_ih^T + b_ih and h W_hh^T + b_hh (3 chunks each):
           r = sigmoid(xr + hr), z = sigmoid(xz + hz), n = tanh(xn + r * hn),
           h' = (1 - z) n + z h

The products are ordinary ops (the recurrent layers compute the input part for every timestep in
one product); the LSTM and GRU gate arithmetic of one step is one Function each
(:class:`LSTMCellFn`, :class:`GRUCellFn`) over a fused kernel
(:mod:`minigrad.ops.kernels.cpu.rnn`), forward and backward: a dozen graph nodes and passes over
memory fewer per step. Under ``create_graph=True`` their backward is written with Tensor ops
instead, so the cells can be differentiated again.

Backpropagation through time is the ordinary backward pass over the unrolled graph.
"""

from __future__ import annotations

import numpy as np

from minigrad import _device
from minigrad.autograd import Function, is_grad_enabled
from minigrad.ops._args import float_tensor
from minigrad.ops.activation import relu, sigmoid
from minigrad.ops.elementwise import tanh
from minigrad.ops.kernels import kernels_for
from minigrad.ops.shape import cat, stack
from minigrad.tensor import Tensor

__all__ = ["unbind", "rnn_tanh_cell", "rnn_relu_cell", "lstm_cell", "gru_cell", "UnbindFn",
           "LSTMCellFn", "GRUCellFn"]


# ---------------------------------------------------------------------------------------------
# unbind
# ---------------------------------------------------------------------------------------------


class UnbindFn(Function):
    """The slices ``x[i]`` along ``dim`` as separate outputs; backward stacks their gradients
    (one node for all of them: slicing a sequence step by step with ``x[t]`` would add a
    zero-filled full-size gradient per step)."""

    @staticmethod
    def forward(ctx, x, *, dim):
        ctx.dim = dim
        lead = (slice(None),) * dim
        return tuple(x.data[(*lead, i)] for i in range(x.shape[dim]))

    @staticmethod
    def backward(ctx, *gs):
        if is_grad_enabled():
            return stack(list(gs), dim=ctx.dim)
        return Tensor._make(np.stack([g.data for g in gs], axis=ctx.dim))


def unbind(input: Tensor, dim: int = 0) -> tuple[Tensor, ...]:
    """The slices of ``input`` along ``dim``, as a tuple (PyTorch's ``torch.unbind``)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"unbind: input must be a Tensor, got {type(input).__name__}")
    if input.ndim == 0:
        raise ValueError("unbind: input must have at least one dimension, got a 0-d tensor")
    if not isinstance(dim, int | np.integer) or not -input.ndim <= dim < input.ndim:
        raise ValueError(f"unbind: dim {dim!r} out of range for input of shape {input.shape}")
    d = int(dim) % input.ndim
    if input.shape[d] == 0:
        return ()
    if not input.requires_grad:
        lead = (slice(None),) * d
        return tuple(Tensor._make(_device.wrap(input.data[(*lead, i)]))
                     for i in range(input.shape[d]))
    out = UnbindFn.apply(input, dim=d)
    return out if isinstance(out, tuple) else (out,)


# ---------------------------------------------------------------------------------------------
# Gate Functions
# ---------------------------------------------------------------------------------------------


def _chunks(t: Tensor, n: int) -> list[Tensor]:
    h = t.shape[-1] // n
    return [t[..., i * h:(i + 1) * h] for i in range(n)]


class LSTMCellFn(Function):
    """(h', c') of one LSTM step from the gate pre-activations ``xg + hg``: (N, 4H) (chunks i,
    f, g, o: PyTorch's order) and the cell state c: (N, H)."""

    kinks = "none: smooth (sigmoid and tanh)"

    @staticmethod
    def forward(ctx, xg, hg, c):
        h_new, c_new = kernels_for(xg.data).rnn.lstm_cell_forward(xg.data, hg.data, c.data)
        ctx.save_for_backward(xg, hg, c, c_new)
        return h_new, c_new

    @staticmethod
    def backward(ctx, dh, dc_new):
        xg, hg, c, c_new = ctx.saved_tensors
        need = ctx.needs_input_grad
        if is_grad_enabled():  # create_graph: Tensor ops, differentiable again
            i, f, g, o = _chunks(xg + hg, 4)
            i, f, g, o = sigmoid(i), sigmoid(f), tanh(g), sigmoid(o)
            tc = tanh(c_new)
            dct = dc_new + dh * o * (1 - tc * tc)
            dgates = cat([dct * g * i * (1 - i), dct * c * f * (1 - f), dct * i * (1 - g * g),
                          dh * tc * o * (1 - o)], dim=-1)
            return (dgates if need[0] else None, dgates if need[1] else None,
                    dct * f if need[2] else None)
        dgates, dc = kernels_for(xg.data).rnn.lstm_cell_backward(
            xg.data, hg.data, c.data, c_new.data, dh.data, dc_new.data)
        dg = Tensor._make(dgates)
        return (dg if need[0] else None, dg if need[1] else None,
                Tensor._make(dc) if need[2] else None)


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
            xr, xz, xn = _chunks(xg, 3)
            hr, hz, hn = _chunks(hg, 3)
            r, z = sigmoid(xr + hr), sigmoid(xz + hz)
            n = tanh(xn + r * hn)
            dn = dh_out * (1 - z) * (1 - n * n)
            dr = dn * hn * r * (1 - r)
            dz = dh_out * (h - n) * z * (1 - z)
            return (cat([dr, dz, dn], dim=-1) if need[0] else None,
                    cat([dr, dz, dn * r], dim=-1) if need[1] else None,
                    dh_out * z if need[2] else None)
        dxg, dhg, dh = kernels_for(xg.data).rnn.gru_cell_backward(xg.data, hg.data, h.data,
                                                            dh_out.data)
        return tuple(Tensor._make(a) if n else None for a, n in zip((dxg, dhg, dh), need))


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
    return LSTMCellFn.apply(_affine(input, w_ih, b_ih), _affine(h, w_hh, b_hh), c)


def gru_cell(input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None = None,
             b_hh: Tensor | None = None) -> Tensor:
    """One GRU step: input: (N, I), hx: (N, H), w_ih: (3H, I), w_hh: (3H, H), biases (3H,) ->
    h': (N, H)."""
    _check_cell("gru_cell", input, hx, w_ih, w_hh, b_ih, b_hh, 3)
    return GRUCellFn.apply(_affine(input, w_ih, b_ih), _affine(hx, w_hh, b_hh), hx)
