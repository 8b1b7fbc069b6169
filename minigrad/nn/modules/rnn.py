"""Recurrent layers: ``RNN``, ``LSTM``, ``GRU`` and the cells ``RNNCell``, ``LSTMCell``,
``GRUCell``, with PyTorch's arguments, parameter names, shapes and initialisation.

A layer runs each (layer, direction) over the sequence as one Function,
:class:`~minigrad.ops.rnn.LSTMFn`, :class:`~minigrad.ops.rnn.GRUFn` or
:class:`~minigrad.ops.rnn.RNNFn` (the input part of every step's gates in one matrix product,
then per step ``h @ W_hh^T`` and the gate arithmetic, fused for LSTM and GRU; backward is the
reverse walk through time with the weights' gradients as single products over all steps; an LSTM
with ``proj_size`` runs one cell Function per step). A sequence of T steps keeps T steps of
activations.

Shapes (``batch_first=False``; with ``batch_first=True`` input and output are (N, L, .), the
states stay (D*num_layers, N, H) as in PyTorch; a 2-D input is one unbatched sequence)::

    input (L, N, H_in)   h_0 (D*num_layers, N, H_out)   [LSTM: c_0 (D*num_layers, N, H)]
    output (L, N, D*H_out)   h_n (D*num_layers, N, H_out)   [LSTM: c_n]

D = 2 when ``bidirectional`` (the reverse direction reads the sequence backwards; its outputs are
the second half of the features), H_out = proj_size for an LSTM with a projection, else H.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from minigrad.nn import functional as F
from minigrad.nn import init
from minigrad.nn.modules.module import Module
from minigrad.nn.parameter import Parameter
from minigrad.ops import rnn as R
from minigrad.ops._args import check_input_dtype, integer, one_of, probability
from minigrad.ops.shape import cat, stack
from minigrad.tensor import Tensor, zeros

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


class RNNBase(Module):
    """The multi-layer recurrent layer behind :class:`RNN`, :class:`LSTM` and :class:`GRU`."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        name = type(self).__name__
        self.mode = mode
        self.input_size = integer(name, "input_size", input_size, 0)
        self.hidden_size = integer(name, "hidden_size", hidden_size, 1)
        self.num_layers = integer(name, "num_layers", num_layers, 1)
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.dropout = probability(name, "dropout", dropout)
        self.bidirectional = bool(bidirectional)
        self.proj_size = integer(name, "proj_size", proj_size, 0)
        if self.proj_size and mode != "LSTM":
            raise ValueError(f"{name}: proj_size is only supported by LSTM")
        if self.proj_size >= self.hidden_size:
            raise ValueError(f"{name}: proj_size ({proj_size}) must be smaller than hidden_size "
                             f"({hidden_size})")
        dt = np.dtype(dtype) if dtype is not None else np.float32
        gate_size = _GATES[mode] * self.hidden_size
        out_size = self.proj_size or self.hidden_size
        self._flat_weights_names: list[str] = []
        for layer in range(self.num_layers):
            for direction in range(self.num_directions):
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                in_size = self.input_size if layer == 0 else out_size * self.num_directions
                shapes = {f"weight_ih{suffix}": (gate_size, in_size),
                          f"weight_hh{suffix}": (gate_size, out_size)}
                if self.bias:
                    shapes[f"bias_ih{suffix}"] = (gate_size,)
                    shapes[f"bias_hh{suffix}"] = (gate_size,)
                if self.proj_size:
                    shapes[f"weight_hr{suffix}"] = (self.proj_size, self.hidden_size)
                for pname, shape in shapes.items():
                    setattr(self, pname, Parameter(np.empty(shape, dtype=dt)))
                    self._flat_weights_names.append(pname)
        self.reset_parameters()
        if device is not None:
            self.to(device)

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    def reset_parameters(self) -> None:
        """Every weight and bias from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)) (PyTorch)."""
        stdv = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -stdv, stdv)

    @property
    def all_weights(self) -> list[list[Parameter]]:
        """Per (layer, direction): its parameters in PyTorch's order."""
        per = len(self._flat_weights_names) // (self.num_layers * self.num_directions)
        names = self._flat_weights_names
        return [[getattr(self, n) for n in names[i:i + per]] for i in range(0, len(names), per)]

    def _params(self, layer: int, direction: int) -> tuple[Any, ...]:
        suffix = f"_l{layer}" + ("_reverse" if direction else "")
        get = lambda n: getattr(self, f"{n}{suffix}", None)  # noqa: E731
        return get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh"), \
            get("weight_hr")

    # -- checks ----------------------------------------------------------------------------
    def _check_input(self, input: Any) -> bool:
        """Raise for a wrong input; True when it is batched (3-D)."""
        name = type(self).__name__
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: input must be a Tensor, got {type(input).__name__}")
        layout = "(N, L, H_in)" if self.batch_first else "(L, N, H_in)"
        if input.ndim not in (2, 3):
            raise ValueError(f"{name}: input must be 3-D {layout} or 2-D (L, H_in) for one "
                             f"unbatched sequence, got shape {input.shape}")
        if input.shape[-1] != self.input_size:
            raise ValueError(f"{name}: input.shape[-1] must be input_size={self.input_size}, "
                             f"got input of shape {input.shape}")
        check_input_dtype(name, input, self.weight_ih_l0)
        return input.ndim == 3

    def _check_state(self, what: str, t: Any, shape: tuple[int, ...], batched: bool) -> Tensor:
        name = type(self).__name__
        want = shape if batched else (shape[0], shape[2])
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}: {what} must be a Tensor, got {type(t).__name__}")
        if t.shape != want:
            raise ValueError(f"{name}: expected {what} of shape {want} (num_layers * "
                             f"num_directions, {'N, ' if batched else ''}hidden), got "
                             f"{t.shape}")
        check_input_dtype(name, t, self.weight_ih_l0)
        return t if batched else t.unsqueeze(1)

    # -- forward ---------------------------------------------------------------------------
    def forward(self, input: Tensor, hx: Any = None) -> tuple[Tensor, Any]:
        batched = self._check_input(input)
        x = input if batched else input.unsqueeze(1)
        if self.batch_first and batched:
            x = x.swapaxes(0, 1)
        n = x.shape[1]
        states = self._initial_states(hx, n, batched, x)
        layers_in = x
        finals: list[list[Tensor]] = [[] for _ in states]
        for layer in range(self.num_layers):
            outs = []
            for d in range(self.num_directions):
                k = layer * self.num_directions + d
                out, last = self._run(layers_in, [s[k] for s in states], layer, d)
                outs.append(out)
                for f, s in zip(finals, last):
                    f.append(s)
            layers_in = outs[0] if len(outs) == 1 else cat(outs, dim=-1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layers_in = F.dropout(layers_in, self.dropout, True)
        output = layers_in
        if self.batch_first and batched:
            output = output.swapaxes(0, 1)
        final = [stack(f, dim=0) for f in finals]
        if not batched:
            output = output.squeeze(1)
            final = [f.squeeze(1) for f in final]
        if self.mode == "LSTM":
            return output, (final[0], final[1])
        return output, final[0]

    def _initial_states(self, hx: Any, n: int, batched: bool, x: Tensor) -> list[Tensor]:
        """[h_0] or [h_0, c_0] as (D*num_layers, N, .) tensors (zeros when hx is None)."""
        name = type(self).__name__
        k = self.num_layers * self.num_directions
        h_shape = (k, n, self.proj_size or self.hidden_size)
        c_shape = (k, n, self.hidden_size)
        if hx is None:
            z = [zeros(*h_shape, dtype=x.dtype, device=x.device)]
            if self.mode == "LSTM":
                z.append(zeros(*c_shape, dtype=x.dtype, device=x.device))
            return z
        if self.mode == "LSTM":
            if not isinstance(hx, tuple | list) or len(hx) != 2:
                raise TypeError(f"{name}: hx must be a tuple (h_0, c_0), got "
                                f"{type(hx).__name__}")
            return [self._check_state("h_0", hx[0], h_shape, batched),
                    self._check_state("c_0", hx[1], c_shape, batched)]
        return [self._check_state("h_0", hx, h_shape, batched)]

    def _run(self, x: Tensor, state: list[Tensor], layer: int,
             direction: int) -> tuple[Tensor, list[Tensor]]:
        """One direction of one layer over x: (L, N, I) -> (output (L, N, H_out), final
        states)."""
        w_ih, w_hh, b_ih, b_hh, w_hr = self._params(layer, direction)
        steps, n = x.shape[0], x.shape[1]
        if not steps:
            return zeros(0, n, self.proj_size or self.hidden_size, dtype=x.dtype,
                         device=x.device), state
        if self.mode == "LSTM":
            return self._run_lstm(x, state, w_ih, w_hh, b_ih, b_hh, w_hr, bool(direction))
        if self.mode == "GRU":
            out, h = R.GRUFn.apply(x, state[0], w_ih, w_hh, b_ih, b_hh, reverse=bool(direction))
            return out, [h]
        out, h = R.RNNFn.apply(x, state[0], w_ih, w_hh, b_ih, b_hh, reverse=bool(direction),
                               relu=self.mode == "RNN_RELU")
        return out, [h]

    @staticmethod
    def _run_lstm(x: Tensor, state: list[Tensor], w_ih: Tensor, w_hh: Tensor,
                  b_ih: Tensor | None, b_hh: Tensor | None, w_hr: Tensor | None,
                  reverse: bool) -> tuple[Tensor, list[Tensor]]:
        """:meth:`_run` for an LSTM: one :class:`~minigrad.ops.rnn.LSTMFn` for the sequence,
        or with a projection (h = (o tanh(c)) W_hr^T, which the fused sequence does not do) one
        :class:`~minigrad.ops.rnn.LSTMCellFn` per step."""
        h, c = state
        if w_hr is None:
            out, h, c = R.LSTMFn.apply(x, h, c, w_ih, w_hh, b_ih, b_hh, reverse=reverse)
            return out, [h, c]
        xs = R.unbind(x, 0)
        outs: list[Tensor | None] = [None] * len(xs)
        w_hr_t = w_hr.T
        for t in (range(len(xs) - 1, -1, -1) if reverse else range(len(xs))):
            h, c = R.LSTMCellFn.apply(xs[t], h, c, w_ih, w_hh, b_ih, b_hh)
            h = outs[t] = h @ w_hr_t
        return stack(outs, dim=0), [h, c]

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


class RNN(RNNBase):
    """Elman RNN: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) (``nonlinearity="relu"``:
    relu), stacked ``num_layers`` deep. Arguments, shapes and parameter names as PyTorch's
    ``nn.RNN``: ``RNN(input_size, hidden_size, num_layers=1, nonlinearity='tanh', bias=True,
    batch_first=False, dropout=0.0, bidirectional=False)``; ``forward(input, h_0=None) ->
    (output, h_n)`` (see the module docstring for the shapes)."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, device: Any = None,
                 dtype: Any = None) -> None:
        one_of("RNN", "nonlinearity", nonlinearity, ("tanh", "relu"))
        self.nonlinearity = nonlinearity
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size,
                         hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype)

    def extra_repr(self) -> str:
        s = super().extra_repr()
        return s if self.nonlinearity == "tanh" else s + ", nonlinearity='relu'"


class LSTM(RNNBase):
    """Long short-term memory (Hochreiter and Schmidhuber 1997), PyTorch's gate order (i, f, g,
    o) and arguments: ``LSTM(input_size, hidden_size, num_layers=1, bias=True,
    batch_first=False, dropout=0.0, bidirectional=False, proj_size=0)``; ``forward(input,
    (h_0, c_0)=None) -> (output, (h_n, c_n))``. With ``proj_size`` > 0, h_t = (o * tanh(c_t))
    W_hr^T is projected to proj_size features (``weight_hr_l{k}``)."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0, device: Any = None, dtype: Any = None) -> None:
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, proj_size, device, dtype)


class GRU(RNNBase):
    """Gated recurrent unit (Cho et al. 2014), PyTorch's gate order (r, z, n) and arguments:
    ``GRU(input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
    bidirectional=False)``; ``forward(input, h_0=None) -> (output, h_n)``."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, device=device, dtype=dtype)


# ---------------------------------------------------------------------------------------------
# Cells
# ---------------------------------------------------------------------------------------------


class RNNCellBase(Module):
    """One step of a recurrent layer: parameters ``weight_ih`` (G*H, input_size), ``weight_hh``
    (G*H, H), ``bias_ih``, ``bias_hh`` (G*H,), all from U(+-1/sqrt(H)) as in PyTorch."""

    _gates = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        name = type(self).__name__
        self.input_size = integer(name, "input_size", input_size, 0)
        self.hidden_size = integer(name, "hidden_size", hidden_size, 1)
        self.bias = bool(bias)
        dt = np.dtype(dtype) if dtype is not None else np.float32
        g = self._gates * self.hidden_size
        self.weight_ih = Parameter(np.empty((g, self.input_size), dtype=dt))
        self.weight_hh = Parameter(np.empty((g, self.hidden_size), dtype=dt))
        if self.bias:
            self.bias_ih = Parameter(np.empty(g, dtype=dt))
            self.bias_hh = Parameter(np.empty(g, dtype=dt))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()
        if device is not None:
            self.to(device)

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -stdv, stdv)

    def _prepare(self, input: Any, hx: Any) -> tuple[Tensor, Tensor, bool]:
        """(input (N, I), state (N, H), batched) with checks; hx None -> zeros."""
        name = type(self).__name__
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: input must be a Tensor, got {type(input).__name__}")
        if input.ndim not in (1, 2) or input.shape[-1] != self.input_size:
            raise ValueError(f"{name}: input must be (N, {self.input_size}) or "
                             f"({self.input_size},), got shape {input.shape}")
        check_input_dtype(name, input, self.weight_ih)
        batched = input.ndim == 2
        x = input if batched else input.unsqueeze(0)
        if hx is None:
            return x, zeros(x.shape[0], self.hidden_size, dtype=x.dtype, device=x.device), \
                batched
        if not isinstance(hx, Tensor):
            raise TypeError(f"{name}: hx must be a Tensor, got {type(hx).__name__}")
        want = (x.shape[0], self.hidden_size) if batched else (self.hidden_size,)
        if hx.shape != want:
            raise ValueError(f"{name}: expected hidden state of shape {want}, got {hx.shape}")
        check_input_dtype(name, hx, self.weight_ih)
        return x, (hx if batched else hx.unsqueeze(0)), batched

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        return s if self.bias else s + ", bias=False"


class RNNCell(RNNCellBase):
    """h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or relu); input (N, I) or (I,), hx (N, H)
    or None (zeros) -> h' (N, H)."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device: Any = None, dtype: Any = None) -> None:
        self.nonlinearity = one_of("RNNCell", "nonlinearity", nonlinearity, ("tanh", "relu"))
        super().__init__(input_size, hidden_size, bias, device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        x, h, batched = self._prepare(input, hx)
        cell = R.rnn_tanh_cell if self.nonlinearity == "tanh" else R.rnn_relu_cell
        out = cell(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return out if batched else out.squeeze(0)

    def extra_repr(self) -> str:
        s = super().extra_repr()
        return s if self.nonlinearity == "tanh" else s + ", nonlinearity='relu'"


class LSTMCell(RNNCellBase):
    """One LSTM step: input (N, I) or (I,), hx = (h, c) (N, H) each or None (zeros) ->
    (h', c')."""

    _gates = 4

    def forward(self, input: Tensor,
                hx: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        name = type(self).__name__
        if hx is not None and (not isinstance(hx, tuple | list) or len(hx) != 2):
            raise TypeError(f"{name}: hx must be a tuple (h, c) or None, got "
                            f"{type(hx).__name__}")
        x, h, batched = self._prepare(input, None if hx is None else hx[0])
        c = zeros(*h.shape, dtype=h.dtype, device=h.device) if hx is None else \
            self._prepare(input, hx[1])[1]
        h, c = R.lstm_cell(x, (h, c), self.weight_ih, self.weight_hh, self.bias_ih,
                           self.bias_hh)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(RNNCellBase):
    """One GRU step: input (N, I) or (I,), hx (N, H) or None (zeros) -> h' (N, H)."""

    _gates = 3

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        x, h, batched = self._prepare(input, hx)
        out = R.gru_cell(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return out if batched else out.squeeze(0)
