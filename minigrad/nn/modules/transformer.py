"""Attention layers: ``MultiheadAttention``, ``TransformerEncoderLayer``,
``TransformerDecoderLayer``, ``TransformerEncoder``, ``TransformerDecoder`` and ``Transformer``,
with PyTorch's arguments, parameter names, initialisation and mask conventions.

Masks, as in PyTorch (the opposite of :func:`~minigrad.nn.functional.scaled_dot_product_attention`'s
bool masks): in these layers a bool ``attn_mask`` / ``key_padding_mask`` is True where attention is
NOT allowed; a float mask is added to the scores. ``key_padding_mask``: (N, S), True for padding
keys. ``attn_mask``: (L, S) or (N*num_heads, L, S).

The attention itself is :func:`~minigrad.nn.functional.scaled_dot_product_attention` (the fused
kernel) unless ``need_weights=True`` asks for the attention weights, which are then computed
explicitly (as PyTorch does). Differences from PyTorch: a query row whose every key is masked gives
0 on both paths (PyTorch: 0 without weights, NaN with ``need_weights=True``); the inference fast
path and nested tensors do not exist (``enable_nested_tensor`` is accepted and ignored).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from minigrad import _device
from minigrad.nn import functional as F
from minigrad.nn import init
from minigrad.nn.modules.container import ModuleList
from minigrad.nn.modules.dropout import Dropout
from minigrad.nn.modules.linear import Linear
from minigrad.nn.modules.module import Module
from minigrad.nn.modules.normalization import LayerNorm
from minigrad.nn.parameter import Parameter
from minigrad.ops._args import check_input_dtype, integer, positive, probability
from minigrad.ops.attention import attention_probabilities, scaled_dot_product_attention
from minigrad.ops.rnn import unbind
from minigrad.ops.shape import cat
from minigrad.tensor import Tensor, zeros

__all__ = ["MultiheadAttention", "TransformerEncoderLayer", "TransformerDecoderLayer",
           "TransformerEncoder", "TransformerDecoder", "Transformer",
           "generate_square_subsequent_mask"]


def generate_square_subsequent_mask(sz: int, device: Any = None, dtype: Any = None) -> Tensor:
    """The causal mask (sz, sz): 0 on and below the diagonal, -inf above (PyTorch's
    ``nn.Transformer.generate_square_subsequent_mask``)."""
    n = integer("generate_square_subsequent_mask", "sz", sz, 0)
    dt = np.dtype(dtype) if dtype is not None else np.float32
    m = np.triu(np.full((n, n), -np.inf, dtype=dt), k=1)
    return Tensor(m, device=device)


def _is_causal_mask(mask: Tensor | None, size: int) -> bool:
    """Whether ``mask`` is exactly the causal mask of ``size`` (PyTorch's detection)."""
    if mask is None or mask.shape != (size, size):
        return False
    m = _device.to_host(mask.data)
    upper = np.triu(np.ones((size, size), dtype=bool), k=1)
    if m.dtype == np.bool_:
        return bool((m == upper).all())
    return bool(((m == -np.inf) == upper).all() and (m[~upper] == 0).all())


def _additive(name: str, who: str, mask: Any, dtype: np.dtype) -> Tensor | None:
    """A bool mask (True: masked) as 0 / -inf of ``dtype``; a float mask as it is."""
    if mask is None:
        return None
    if not isinstance(mask, Tensor):
        raise TypeError(f"{who}: {name} must be a Tensor or None, got {type(mask).__name__}")
    if mask.dtype == np.bool_:
        zero = _device.zeros(mask.shape, dtype, like=mask.data)
        return Tensor._make(np.where(mask.data, dtype.type(-np.inf), zero))
    if mask.dtype != dtype:
        raise TypeError(f"{who}: {name} must be bool or have the query's dtype {dtype}, got "
                        f"{mask.dtype}")
    return mask


class MultiheadAttention(Module):
    """Multi-head attention (Vaswani et al. 2017): project query, key and value, split
    ``embed_dim`` into ``num_heads`` heads, attend in each, concatenate, project out.

    ``MultiheadAttention(embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False,
    add_zero_attn=False, kdim=None, vdim=None, batch_first=False)``; ``forward(query, key, value,
    key_padding_mask=None, need_weights=True, attn_mask=None, average_attn_weights=True,
    is_causal=False) -> (attn_output, attn_weights or None)``.

    query (L, N, E) (``batch_first``: (N, L, E); unbatched: (L, E)), key (S, N, kdim), value
    (S, N, vdim) -> attn_output like query; attn_weights (N, L, S) averaged over heads, or
    (N, num_heads, L, S). Parameters as PyTorch: ``in_proj_weight`` (3E, E) when
    kdim == vdim == E, else ``q_proj_weight``, ``k_proj_weight``, ``v_proj_weight``;
    ``in_proj_bias`` (3E,), ``out_proj`` (a Linear), ``bias_k``, ``bias_v`` (1, 1, E).
    Initialisation: Xavier-uniform projections, zero biases, Xavier-normal ``bias_k``/``bias_v``.
    ``is_causal`` is a hint that ``attn_mask`` is the causal mask (PyTorch requires the mask too).
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim: int | None = None,
                 vdim: int | None = None, batch_first: bool = False, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        name = "MultiheadAttention"
        self.embed_dim = integer(name, "embed_dim", embed_dim, 1)
        self.num_heads = integer(name, "num_heads", num_heads, 1)
        if self.embed_dim % self.num_heads:
            raise ValueError(f"{name}: embed_dim ({embed_dim}) must be divisible by num_heads "
                             f"({num_heads})")
        self.kdim = self.embed_dim if kdim is None else integer(name, "kdim", kdim, 1)
        self.vdim = self.embed_dim if vdim is None else integer(name, "vdim", vdim, 1)
        self._qkv_same_embed_dim = self.kdim == self.embed_dim and self.vdim == self.embed_dim
        self.dropout = probability(name, "dropout", dropout)
        self.batch_first = bool(batch_first)
        self.head_dim = self.embed_dim // self.num_heads
        self.add_zero_attn = bool(add_zero_attn)
        dt = np.dtype(dtype) if dtype is not None else np.float32
        e = self.embed_dim

        def param(*shape: int) -> Parameter:
            return Parameter(np.empty(shape, dtype=dt))

        if self._qkv_same_embed_dim:
            self.in_proj_weight = param(3 * e, e)
            for n in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(n, None)
        else:
            self.q_proj_weight = param(e, e)
            self.k_proj_weight = param(e, self.kdim)
            self.v_proj_weight = param(e, self.vdim)
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = param(3 * e)
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(e, e, bias=bias, dtype=dt)
        if add_bias_kv:
            self.bias_k = param(1, 1, e)
            self.bias_v = param(1, 1, e)
        else:
            self.bias_k = self.bias_v = None
        self._reset_parameters()
        if device is not None:
            self.to(device)

    def _reset_parameters(self) -> None:
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            for w in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(w)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
            init.xavier_normal_(self.bias_v)

    # -- checks ----------------------------------------------------------------------------
    def _check(self, query: Any, key: Any, value: Any, key_padding_mask: Any,
               attn_mask: Any) -> bool:
        """Raise for wrong inputs (naming the layer and the shapes); True when batched."""
        name = "MultiheadAttention"
        for what, t in (("query", query), ("key", key), ("value", value)):
            if not isinstance(t, Tensor):
                raise TypeError(f"{name}: {what} must be a Tensor, got {type(t).__name__}")
        if query.ndim not in (2, 3):
            layout = "(N, L, E)" if self.batch_first else "(L, N, E)"
            raise ValueError(f"{name}: query must be 3-D {layout} or 2-D (L, E) unbatched, got "
                             f"shape {query.shape}")
        batched = query.ndim == 3
        if key.ndim != query.ndim or value.ndim != query.ndim:
            raise ValueError(f"{name}: query, key and value must all be {query.ndim}-D, got "
                             f"shapes {query.shape}, {key.shape}, {value.shape}")
        for what, t, dim in (("query", query, self.embed_dim), ("key", key, self.kdim),
                             ("value", value, self.vdim)):
            if t.shape[-1] != dim:
                raise ValueError(f"{name}: {what} must end in {dim} features, got shape "
                                 f"{t.shape}")
            check_input_dtype(name, t, self.out_proj.weight)
        seq = 1 if self.batch_first and batched else 0
        if key.shape[seq] != value.shape[seq]:
            raise ValueError(f"{name}: key {key.shape} and value {value.shape} must have the "
                             "same sequence length")
        if batched:
            nb = 0 if self.batch_first else 1
            if not query.shape[nb] == key.shape[nb] == value.shape[nb]:
                raise ValueError(f"{name}: query {query.shape}, key {key.shape} and value "
                                 f"{value.shape} must have the same batch size")
        n = query.shape[0 if self.batch_first else 1] if batched else None
        n_q, n_k = query.shape[seq], key.shape[seq]
        if key_padding_mask is not None:
            want = (n, n_k) if batched else (n_k,)
            if not isinstance(key_padding_mask, Tensor) or key_padding_mask.shape != want:
                got = getattr(key_padding_mask, "shape", type(key_padding_mask).__name__)
                raise ValueError(f"{name}: key_padding_mask must have shape {want} (N, S), got "
                                 f"{got}")
        if attn_mask is not None:
            h = self.num_heads
            wants = [(n_q, n_k), ((n * h if batched else h), n_q, n_k)]
            if not isinstance(attn_mask, Tensor) or attn_mask.shape not in wants:
                got = getattr(attn_mask, "shape", type(attn_mask).__name__)
                raise ValueError(f"{name}: attn_mask must have shape {wants[0]} (L, S) or "
                                 f"{wants[1]} (N*num_heads, L, S), got {got}")
        return batched

    # -- forward ---------------------------------------------------------------------------
    def forward(self, query: Tensor, key: Tensor, value: Tensor,
                key_padding_mask: Tensor | None = None, need_weights: bool = True,
                attn_mask: Tensor | None = None, average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple[Tensor, Tensor | None]:
        name = "MultiheadAttention"
        batched = self._check(query, key, value, key_padding_mask, attn_mask)
        if is_causal and attn_mask is None:
            raise ValueError(f"{name}: is_causal=True is a hint that attn_mask is the causal "
                             "mask and needs attn_mask too (as in PyTorch; make one with "
                             "nn.Transformer.generate_square_subsequent_mask(L))")
        # batch first (N, L, E) inside
        if not batched:
            query, key, value = (t.unsqueeze(0) for t in (query, key, value))
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask.unsqueeze(0)
        elif not self.batch_first:
            query, key, value = (t.swapaxes(0, 1) for t in (query, key, value))
        n, n_q, e = query.shape
        h, hd = self.num_heads, self.head_dim
        dt = query.dtype
        q, k, v = self._project(query, key, value)
        kpm = _additive("key_padding_mask", name, key_padding_mask, dt)
        causal = bool(is_causal) and kpm is None and not need_weights
        mask = None if causal else _additive("attn_mask", name, attn_mask, dt)
        if mask is not None and mask.ndim == 3:
            mask = mask.reshape(n, h, n_q, mask.shape[-1])
        if self.bias_k is not None:
            k = cat([k, self.bias_k.expand(n, 1, e)], dim=1)
            v = cat([v, self.bias_v.expand(n, 1, e)], dim=1)
            mask, kpm = _pad_key(mask), _pad_key(kpm)
        # heads: (N, L, E) -> (N, H, L, hd)
        q = q.reshape(n, n_q, h, hd).swapaxes(1, 2)
        k = k.reshape(n, k.shape[1], h, hd).swapaxes(1, 2)
        v = v.reshape(n, v.shape[1], h, hd).swapaxes(1, 2)
        if self.add_zero_attn:
            k = cat([k, zeros(n, h, 1, hd, dtype=dt, device=k.device)], dim=2)
            v = cat([v, zeros(n, h, 1, hd, dtype=dt, device=v.device)], dim=2)
            mask, kpm = _pad_key(mask), _pad_key(kpm)
        if kpm is not None:
            kpm = kpm.reshape(n, 1, 1, kpm.shape[-1])
            mask = kpm if mask is None else mask + kpm
        p = self.dropout if self.training else 0.0
        weights = None
        if need_weights:
            n_k = k.shape[2]
            qf, kf, vf = (t.reshape(n * h, t.shape[2], t.shape[3]) for t in (q, k, v))
            bias = None if mask is None else mask.expand(n, h, n_q, n_k).reshape(n * h, n_q,
                                                                                    n_k)
            w = attention_probabilities(qf, kf, bias, False, 1.0 / math.sqrt(hd))
            if p > 0.0:
                w = F.dropout(w, p, True)
            out = (w @ vf).reshape(n, h, n_q, hd)
            weights = w.reshape(n, h, n_q, n_k)
            if average_attn_weights:
                weights = weights.mean(axis=1)
            if not batched:
                weights = weights.squeeze(0)
        else:
            out = scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p,
                                               is_causal=causal)
        out = self.out_proj(out.swapaxes(1, 2).reshape(n, n_q, e))
        if not batched:
            out = out.squeeze(0)
        elif not self.batch_first:
            out = out.swapaxes(0, 1)
        return out, weights

    def _project(self, query: Tensor, key: Tensor, value: Tensor) -> tuple[Tensor, ...]:
        """q, k, v = the input projections, (N, L or S, E) each."""
        e = self.embed_dim
        b = self.in_proj_bias
        bq, bk, bv = (None, None, None) if b is None else (b[:e], b[e:2 * e], b[2 * e:])
        if self._qkv_same_embed_dim:
            w = self.in_proj_weight
            if query is key and key is value:  # self-attention: one product
                proj = F.linear(query, w, b)
                return unbind(proj.reshape(*proj.shape[:-1], 3, e), dim=-2)
            wq, wk, wv = w[:e], w[e:2 * e], w[2 * e:]
        else:
            wq, wk, wv = self.q_proj_weight, self.k_proj_weight, self.v_proj_weight
        return F.linear(query, wq, bq), F.linear(key, wk, bk), F.linear(value, wv, bv)

    def extra_repr(self) -> str:
        s = f"embed_dim={self.embed_dim}, num_heads={self.num_heads}"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if not self._qkv_same_embed_dim:
            s += f", kdim={self.kdim}, vdim={self.vdim}"
        if self.batch_first:
            s += ", batch_first=True"
        return s


def _pad_key(mask: Tensor | None) -> Tensor | None:
    """One more (allowed) key column at the end of a mask's last axis."""
    if mask is None:
        return None
    return F.pad(mask, (0, 1))


# ------------------------------------------------------------------------------------------------
# Transformer layers


def _activation(who: str, activation: Any) -> Callable[[Tensor], Tensor]:
    if isinstance(activation, str):
        if activation == "relu":
            return F.relu
        if activation == "gelu":
            return F.gelu
        raise ValueError(f"{who}: activation must be 'relu', 'gelu' or a callable, got "
                         f"{activation!r}")
    if not callable(activation):
        raise TypeError(f"{who}: activation must be 'relu', 'gelu' or a callable, got "
                        f"{type(activation).__name__}")
    return activation


class _TransformerLayer(Module):
    """What the encoder and decoder layers share: the argument checks, the sub-modules in
    PyTorch's registration order (so ``parameters()`` and ``state_dict()`` come out in PyTorch's
    order) and the self-attention block. ``attentions`` names the MultiheadAttention attributes
    (``self_attn`` first); after the feed-forward ``linear1``, ``dropout``, ``linear2`` come one
    LayerNorm ``norm1``, ``norm2``, ... and one Dropout ``dropout1``, ... per attention block
    plus one for the feed-forward block."""

    def __init__(self, attentions: tuple[str, ...], d_model: int, nhead: int,
                 dim_feedforward: int, dropout: float,
                 activation: str | Callable[[Tensor], Tensor], layer_norm_eps: float,
                 batch_first: bool, norm_first: bool, bias: bool, device: Any,
                 dtype: Any) -> None:
        super().__init__()
        name = type(self).__name__
        d_model = integer(name, "d_model", d_model, 1)
        dim_feedforward = integer(name, "dim_feedforward", dim_feedforward, 1)
        eps = positive(name, "layer_norm_eps", layer_norm_eps)
        probability(name, "dropout", dropout)
        for attr in attentions:
            setattr(self, attr, MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                                   batch_first=batch_first, dtype=dtype))
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
        self.norm_first = bool(norm_first)
        blocks = range(1, len(attentions) + 2)
        for i in blocks:
            setattr(self, f"norm{i}", LayerNorm(d_model, eps=eps, bias=bias, dtype=dtype))
        for i in blocks:
            setattr(self, f"dropout{i}", Dropout(dropout))
        self.activation = _activation(name, activation)
        if device is not None:
            self.to(device)

    def _sa_block(self, x: Tensor, attn_mask: Tensor | None, key_padding_mask: Tensor | None,
                  is_causal: bool) -> Tensor:
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           need_weights=False, is_causal=is_causal)[0]
        return self.dropout1(x)


class TransformerEncoderLayer(_TransformerLayer):
    """Self-attention and a feed-forward block, each with dropout, a residual connection and a
    layer norm (after the residual; ``norm_first=True``: before the block, the "pre-LN" layout
    that trains more stably). PyTorch's signature: ``TransformerEncoderLayer(d_model, nhead,
    dim_feedforward=2048, dropout=0.1, activation='relu', layer_norm_eps=1e-5,
    batch_first=False, norm_first=False, bias=True)``; ``forward(src, src_mask=None,
    src_key_padding_mask=None, is_causal=False)``; src (L, N, E) or (N, L, E) or (L, E)."""

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation: str | Callable[[Tensor], Tensor] = "relu",
                 layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__(("self_attn",), d_model, nhead, dim_feedforward, dropout, activation,
                         layer_norm_eps, batch_first, norm_first, bias, device, dtype)

    def forward(self, src: Tensor, src_mask: Tensor | None = None,
                src_key_padding_mask: Tensor | None = None, is_causal: bool = False) -> Tensor:
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + self._ff_block(x))
        return x

    def _ff_block(self, x: Tensor) -> Tensor:
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class TransformerDecoderLayer(_TransformerLayer):
    """Self-attention over the target, attention over the encoder's output (``memory``) and a
    feed-forward block, each with dropout, a residual connection and a layer norm (``norm_first``
    as in :class:`TransformerEncoderLayer`). PyTorch's signature and parameter names;
    ``forward(tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
    memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False)``."""

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation: str | Callable[[Tensor], Tensor] = "relu",
                 layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__(("self_attn", "multihead_attn"), d_model, nhead, dim_feedforward,
                         dropout, activation, layer_norm_eps, batch_first, norm_first, bias,
                         device, dtype)

    def forward(self, tgt: Tensor, memory: Tensor, tgt_mask: Tensor | None = None,
                memory_mask: Tensor | None = None, tgt_key_padding_mask: Tensor | None = None,
                memory_key_padding_mask: Tensor | None = None, tgt_is_causal: bool = False,
                memory_is_causal: bool = False) -> Tensor:
        x = tgt
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha_block(self.norm2(x), memory, memory_mask, memory_key_padding_mask,
                                    memory_is_causal)
            x = x + self._ff_block(self.norm3(x))
        else:
            x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
            x = self.norm2(x + self._mha_block(x, memory, memory_mask, memory_key_padding_mask,
                                               memory_is_causal))
            x = self.norm3(x + self._ff_block(x))
        return x

    def _mha_block(self, x: Tensor, mem: Tensor, attn_mask: Tensor | None,
                   key_padding_mask: Tensor | None, is_causal: bool) -> Tensor:
        x = self.multihead_attn(x, mem, mem, attn_mask=attn_mask,
                                key_padding_mask=key_padding_mask, is_causal=is_causal,
                                need_weights=False)[0]
        return self.dropout2(x)

    def _ff_block(self, x: Tensor) -> Tensor:
        return self.dropout3(self.linear2(self.dropout(self.activation(self.linear1(x)))))


def _clones(layer: Module, n: int, who: str) -> ModuleList:
    n = integer(who, "num_layers", n, 1)
    return ModuleList([copy.deepcopy(layer) for _ in range(n)])


def _seq_len(x: Tensor, batch_first: bool) -> int:
    return x.shape[0] if x.ndim == 2 else x.shape[1 if batch_first else 0]


class _LayerStack(Module):
    """What the encoder and decoder stacks share: ``layers`` (deep copies of one layer),
    ``num_layers``, the optional final ``norm``, the input check and the causal-mask detection."""

    def __init__(self, layer: Module, num_layers: int, norm: Module | None) -> None:
        super().__init__()
        self.layers = _clones(layer, num_layers, type(self).__name__)
        self.num_layers = num_layers
        self.norm = norm

    def _causal(self, x: Tensor, arg: str, mask: Tensor | None, is_causal: bool | None) -> bool:
        """Check that input ``x`` (named ``arg``) is a Tensor; ``is_causal=None``: whether
        ``mask`` is the causal mask of ``x``'s sequence length."""
        if not isinstance(x, Tensor):
            raise TypeError(f"{type(self).__name__}: {arg} must be a Tensor, got "
                            f"{type(x).__name__}")
        if is_causal is not None:
            return is_causal
        first = self.layers[0]
        batch_first = getattr(getattr(first, "self_attn", None), "batch_first", False)
        return _is_causal_mask(mask, _seq_len(x, batch_first))

    def _final_norm(self, out: Tensor) -> Tensor:
        return out if self.norm is None else self.norm(out)


class TransformerEncoder(_LayerStack):
    """``num_layers`` copies of ``encoder_layer`` (deep copies: independent parameters,
    ``layers.0``, ``layers.1``, ...) and an optional final ``norm``. ``forward(src, mask=None,
    src_key_padding_mask=None, is_causal=None)``: ``is_causal=None`` detects a causal ``mask``
    (then the fused causal kernel runs). ``enable_nested_tensor`` and ``mask_check`` are
    accepted for PyTorch compatibility and ignored."""

    def __init__(self, encoder_layer: Module, num_layers: int, norm: Module | None = None,
                 enable_nested_tensor: bool = True, mask_check: bool = True) -> None:
        super().__init__(encoder_layer, num_layers, norm)

    def forward(self, src: Tensor, mask: Tensor | None = None,
                src_key_padding_mask: Tensor | None = None,
                is_causal: bool | None = None) -> Tensor:
        is_causal = self._causal(src, "src", mask, is_causal)
        out = src
        for layer in self.layers:
            out = layer(out, src_mask=mask, src_key_padding_mask=src_key_padding_mask,
                        is_causal=is_causal)
        return self._final_norm(out)


class TransformerDecoder(_LayerStack):
    """``num_layers`` copies of ``decoder_layer`` and an optional final ``norm``;
    ``forward(tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
    memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False)``."""

    def __init__(self, decoder_layer: Module, num_layers: int,
                 norm: Module | None = None) -> None:
        super().__init__(decoder_layer, num_layers, norm)

    def forward(self, tgt: Tensor, memory: Tensor, tgt_mask: Tensor | None = None,
                memory_mask: Tensor | None = None, tgt_key_padding_mask: Tensor | None = None,
                memory_key_padding_mask: Tensor | None = None,
                tgt_is_causal: bool | None = None, memory_is_causal: bool = False) -> Tensor:
        tgt_is_causal = self._causal(tgt, "tgt", tgt_mask, tgt_is_causal)
        out = tgt
        for layer in self.layers:
            out = layer(out, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                        tgt_key_padding_mask=tgt_key_padding_mask,
                        memory_key_padding_mask=memory_key_padding_mask,
                        tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)
        return self._final_norm(out)


class Transformer(Module):
    """The encoder-decoder Transformer (Vaswani et al. 2017) with PyTorch's signature:
    ``Transformer(d_model=512, nhead=8, num_encoder_layers=6, num_decoder_layers=6,
    dim_feedforward=2048, dropout=0.1, activation='relu', custom_encoder=None,
    custom_decoder=None, layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True)``;
    ``forward(src, tgt, src_mask=None, tgt_mask=None, memory_mask=None, ...)``. Every parameter
    with more than one dimension is re-drawn Xavier-uniform, as in PyTorch."""

    def __init__(self, d_model: int = 512, nhead: int = 8, num_encoder_layers: int = 6,
                 num_decoder_layers: int = 6, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: str | Callable[[Tensor], Tensor] = "relu",
                 custom_encoder: Module | None = None, custom_decoder: Module | None = None,
                 layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()

        def stack(custom: Module | None, stack_cls: type, layer_cls: type, n: int) -> Module:
            if custom is not None:
                return custom
            layer = layer_cls(d_model, nhead, dim_feedforward, dropout, activation,
                              layer_norm_eps, batch_first, norm_first, bias, dtype=dtype)
            return stack_cls(layer, n, LayerNorm(d_model, eps=layer_norm_eps, bias=bias,
                                                 dtype=dtype))

        self.encoder = stack(custom_encoder, TransformerEncoder, TransformerEncoderLayer,
                             num_encoder_layers)
        self.decoder = stack(custom_decoder, TransformerDecoder, TransformerDecoderLayer,
                             num_decoder_layers)
        for p in self.parameters():
            if p.ndim > 1:
                init.xavier_uniform_(p)
        self.d_model = d_model
        self.nhead = nhead
        self.batch_first = batch_first
        if device is not None:
            self.to(device)

    def forward(self, src: Tensor, tgt: Tensor, src_mask: Tensor | None = None,
                tgt_mask: Tensor | None = None, memory_mask: Tensor | None = None,
                src_key_padding_mask: Tensor | None = None,
                tgt_key_padding_mask: Tensor | None = None,
                memory_key_padding_mask: Tensor | None = None,
                src_is_causal: bool | None = None, tgt_is_causal: bool | None = None,
                memory_is_causal: bool = False) -> Tensor:
        for what, t in (("src", src), ("tgt", tgt)):
            if not isinstance(t, Tensor):
                raise TypeError(f"Transformer: {what} must be a Tensor, got {type(t).__name__}")
        if src.ndim == 3 and tgt.ndim == 3:
            nb = 0 if self.batch_first else 1
            if src.shape[nb] != tgt.shape[nb]:
                raise ValueError(f"Transformer: the batch sizes of src {src.shape} and tgt "
                                 f"{tgt.shape} must be equal")
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise ValueError(f"Transformer: src {src.shape} and tgt {tgt.shape} must end in "
                             f"d_model={self.d_model} features")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask,
                              is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask,
                            tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)

    generate_square_subsequent_mask = staticmethod(generate_square_subsequent_mask)
