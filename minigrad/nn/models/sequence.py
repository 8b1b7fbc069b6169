"""Sequence models: positional embeddings and two small language models.

- :class:`PositionalEncoding`: the fixed sinusoids of Vaswani et al. (2017), added to the input.
- :class:`LearnedPositionalEmbedding`: one trained vector per position (GPT's choice).
- :class:`TransformerLM`: token embedding + positions + a causal Transformer encoder + a linear
  head; ``forward(tokens (N, L) int) -> logits (N, L, vocab)``.
- :class:`LSTMLM`: token embedding + a multi-layer LSTM + a linear head;
  ``forward(tokens (N, L), state=None) -> (logits (N, L, vocab), state)``.

Both language models predict token ``t + 1`` from tokens ``0..t`` and have a ``generate`` method
that samples a continuation. ``examples/train_lm.py`` trains them on characters.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from minigrad import _device
from minigrad.autograd import no_grad
from minigrad.nn import init
from minigrad.nn.modules.dropout import Dropout
from minigrad.nn.modules.linear import Linear
from minigrad.nn.modules.module import Module
from minigrad.nn.modules.normalization import LayerNorm
from minigrad.nn.modules.rnn import LSTM
from minigrad.nn.modules.sparse import Embedding
from minigrad.nn.modules.transformer import (
    TransformerEncoder,
    TransformerEncoderLayer,
    generate_square_subsequent_mask,
)
from minigrad.nn.parameter import Parameter
from minigrad.ops._args import integer, one_of, positive, probability
from minigrad.tensor import Tensor

__all__ = ["PositionalEncoding", "LearnedPositionalEmbedding", "TransformerLM", "LSTMLM"]


def sinusoids(max_len: int, d_model: int) -> np.ndarray:
    """(max_len, d_model): PE[p, 2i] = sin(p / 10000^(2i/d)), PE[p, 2i+1] = cos(same)."""
    pos = np.arange(max_len, dtype=np.float64)[:, None]
    freq = np.exp(-math.log(10000.0) * np.arange(0, d_model, 2) / d_model)
    pe = np.zeros((max_len, d_model))
    pe[:, 0::2] = np.sin(pos * freq)
    pe[:, 1::2] = np.cos(pos * freq)[:, : d_model // 2]
    return pe


def _check_positions(who: str, x: Tensor, max_len: int, batch_first: bool) -> int:
    if not isinstance(x, Tensor) or x.ndim not in (2, 3):
        shape = getattr(x, "shape", type(x).__name__)
        raise ValueError(f"{who}: input must be (N, L, d_model) (batch_first) or (L, N, d_model) "
                         f"or (L, d_model), got {shape}")
    n = x.shape[1] if (x.ndim == 3 and batch_first) else x.shape[0]
    if n > max_len:
        raise ValueError(f"{who}: sequence of length {n} is longer than max_len={max_len}")
    return n


class PositionalEncoding(Module):
    """x + PE[:L], with the sinusoids of :func:`sinusoids` (a buffer ``pe``, not saved in the
    state dict: it is a function of the shape), then dropout. x: (N, L, d_model) with
    ``batch_first=True`` (the default here), (L, N, d_model) otherwise, or (L, d_model)."""

    def __init__(self, d_model: int, max_len: int = 5000, dropout: float = 0.0,
                 batch_first: bool = True, dtype: Any = None) -> None:
        super().__init__()
        self.d_model = integer("PositionalEncoding", "d_model", d_model, 1)
        self.max_len = integer("PositionalEncoding", "max_len", max_len, 1)
        self.batch_first = bool(batch_first)
        self.dropout = Dropout(dropout)
        dt = np.dtype(dtype) if dtype is not None else np.float32
        self.register_buffer("pe", Tensor(sinusoids(self.max_len, self.d_model).astype(dt)),
                             persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        n = _check_positions("PositionalEncoding", x, self.max_len, self.batch_first)
        pe = self.pe[:n]
        if x.ndim == 3 and not self.batch_first:
            pe = pe.unsqueeze(1)
        return self.dropout(x + pe)

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, max_len={self.max_len}"


class LearnedPositionalEmbedding(Module):
    """x + weight[:L] with a trained ``weight`` (max_len, d_model), drawn from N(0, 0.02^2) as in
    GPT-2. Same input layouts as :class:`PositionalEncoding`."""

    def __init__(self, max_len: int, d_model: int, batch_first: bool = True,
                 dtype: Any = None) -> None:
        super().__init__()
        self.max_len = integer("LearnedPositionalEmbedding", "max_len", max_len, 1)
        self.d_model = integer("LearnedPositionalEmbedding", "d_model", d_model, 1)
        self.batch_first = bool(batch_first)
        dt = np.dtype(dtype) if dtype is not None else np.float32
        self.weight = Parameter(np.empty((self.max_len, self.d_model), dtype=dt))
        init.normal_(self.weight, 0.0, 0.02)

    def forward(self, x: Tensor) -> Tensor:
        n = _check_positions("LearnedPositionalEmbedding", x, self.max_len, self.batch_first)
        pos = self.weight[:n]
        if x.ndim == 3 and not self.batch_first:
            pos = pos.unsqueeze(1)
        return x + pos

    def extra_repr(self) -> str:
        return f"max_len={self.max_len}, d_model={self.d_model}"


def _check_tokens(who: str, tokens: Any, vocab_size: int) -> None:
    if not isinstance(tokens, Tensor) or tokens.ndim != 2 or \
            not np.issubdtype(tokens.dtype, np.integer):
        what = (f"a {tokens.dtype} tensor of shape {tokens.shape}" if isinstance(tokens, Tensor)
                else type(tokens).__name__)
        raise ValueError(f"{who}: tokens must be an integer tensor (N, L), got {what}")
    t = _device.to_host(tokens.data)
    if t.size and (t.min() < 0 or t.max() >= vocab_size):
        raise ValueError(f"{who}: token ids must lie in [0, {vocab_size}), got values in "
                         f"[{t.min()}, {t.max()}]")


class TransformerLM(Module):
    """A decoder-only (GPT-style) Transformer language model.

    tokens (N, L) int -> logits (N, L, vocab_size): token embedding * sqrt(d_model), plus
    positions (``positional="sinusoidal"`` or ``"learned"``), ``num_layers`` pre-LN
    :class:`~minigrad.nn.TransformerEncoderLayer` s with a causal mask (position t sees 0..t),
    a final layer norm and a linear head. L <= ``max_len``.
    """

    def __init__(self, vocab_size: int, d_model: int = 128, nhead: int = 4, num_layers: int = 2,
                 dim_feedforward: int = 512, max_len: int = 256, dropout: float = 0.1,
                 positional: str = "sinusoidal", activation: str = "gelu",
                 dtype: Any = None) -> None:
        super().__init__()
        who = "TransformerLM"
        self.vocab_size = integer(who, "vocab_size", vocab_size, 1)
        self.d_model = integer(who, "d_model", d_model, 1)
        self.max_len = integer(who, "max_len", max_len, 1)
        self.positional = one_of(who, "positional", positional, ("sinusoidal", "learned"))
        probability(who, "dropout", dropout)
        self.embed = Embedding(self.vocab_size, self.d_model, dtype=dtype)
        if positional == "sinusoidal":
            self.pos = PositionalEncoding(self.d_model, self.max_len, dtype=dtype)
        else:
            self.pos = LearnedPositionalEmbedding(self.max_len, self.d_model, dtype=dtype)
        self.drop = Dropout(dropout)
        layer = TransformerEncoderLayer(self.d_model, nhead, dim_feedforward, dropout,
                                        activation, batch_first=True, norm_first=True,
                                        dtype=dtype)
        self.encoder = TransformerEncoder(layer, num_layers)
        self.norm = LayerNorm(self.d_model, dtype=dtype)
        self.head = Linear(self.d_model, self.vocab_size, dtype=dtype)
        init.normal_(self.embed.weight, 0.0, 1.0 / math.sqrt(self.d_model))

    def forward(self, tokens: Tensor) -> Tensor:
        _check_tokens("TransformerLM", tokens, self.vocab_size)
        n = tokens.shape[1]
        if n > self.max_len:
            raise ValueError(f"TransformerLM: sequence of length {n} is longer than "
                             f"max_len={self.max_len}")
        x = self.drop(self.pos(self.embed(tokens) * math.sqrt(self.d_model)))
        mask = generate_square_subsequent_mask(n, dtype=x.dtype, device=x.device)
        x = self.encoder(x, mask=mask, is_causal=True)
        return self.head(self.norm(x))

    @no_grad()
    def generate(self, prompt: Any, length: int, temperature: float = 1.0,
                 generator: np.random.Generator | None = None) -> list[int]:
        """``prompt`` (a list of token ids) continued by ``length`` sampled tokens; the model
        sees the last ``max_len`` tokens. Runs in evaluation mode."""
        return _generate(self, prompt, length, temperature, generator,
                         lambda ids, state: (self(_tokens(self, ids[-self.max_len:]))[0, -1],
                                             None))


class LSTMLM(Module):
    """An LSTM language model: tokens (N, L) int -> (logits (N, L, vocab_size), (h, c)); the
    state can be fed back to continue a sequence (truncated backpropagation through time)."""

    def __init__(self, vocab_size: int, embed_dim: int = 64, hidden_size: int = 256,
                 num_layers: int = 2, dropout: float = 0.1, dtype: Any = None) -> None:
        super().__init__()
        who = "LSTMLM"
        self.vocab_size = integer(who, "vocab_size", vocab_size, 1)
        self.embed = Embedding(self.vocab_size, embed_dim, dtype=dtype)
        self.drop = Dropout(dropout)
        self.lstm = LSTM(embed_dim, hidden_size, num_layers, batch_first=True,
                         dropout=dropout if num_layers > 1 else 0.0, dtype=dtype)
        self.head = Linear(hidden_size, self.vocab_size, dtype=dtype)

    def forward(self, tokens: Tensor, state: Any = None) -> tuple[Tensor, Any]:
        _check_tokens("LSTMLM", tokens, self.vocab_size)
        out, state = self.lstm(self.drop(self.embed(tokens)), state)
        return self.head(self.drop(out)), state

    @no_grad()
    def generate(self, prompt: Any, length: int, temperature: float = 1.0,
                 generator: np.random.Generator | None = None) -> list[int]:
        """``prompt`` (token ids) continued by ``length`` sampled tokens (the state carries the
        whole prefix). Runs in evaluation mode."""

        def step(ids: list[int], state: Any) -> tuple[Tensor, Any]:
            feed = ids if state is None else ids[-1:]
            logits, state = self(_tokens(self, feed), state)
            return logits[0, -1], state

        return _generate(self, prompt, length, temperature, generator, step)


def _tokens(model: Module, ids: list[int]) -> Tensor:
    dev = next(model.parameters()).device
    return Tensor(np.asarray([ids], dtype=np.int64), device=dev)


def _generate(model: Module, prompt: Any, length: int, temperature: float,
              generator: np.random.Generator | None, step: Any) -> list[int]:
    ids = [int(i) for i in prompt]
    if not ids:
        raise ValueError(f"{type(model).__name__}.generate: the prompt needs at least one token")
    length = integer(f"{type(model).__name__}.generate", "length", length, 0)
    temp = positive(f"{type(model).__name__}.generate", "temperature", temperature)
    rng = np.random.default_rng() if generator is None else generator
    was_training = model.training
    model.eval()
    try:
        state = None
        for _ in range(length):
            logits, state = step(ids, state)
            z = _device.to_host(logits.data).astype(np.float64) / temp
            p = np.exp(z - z.max())
            ids.append(int(rng.choice(len(p), p=p / p.sum())))
    finally:
        model.train(was_training)
    return ids
