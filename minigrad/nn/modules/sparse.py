"""Embedding tables: ``Embedding`` and ``EmbeddingBag`` (PyTorch's names, arguments, defaults
and initialisation: weights from N(0, 1), the padding row zeroed)."""

from __future__ import annotations

from typing import Any

import numpy as np

from minigrad.autograd import no_grad
from minigrad.nn import functional as F
from minigrad.nn import init
from minigrad.nn.modules.module import Module
from minigrad.nn.parameter import Parameter
from minigrad.ops._args import float_tensor, integer, one_of, positive
from minigrad.ops.embedding import _BAG_MODES, _check_common, _padding_idx, check_indices
from minigrad.tensor import Tensor

__all__ = ["Embedding", "EmbeddingBag"]


class _EmbeddingBase(Module):
    def _setup(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None,
               max_norm: float | None, norm_type: float, scale_grad_by_freq: bool, sparse: bool,
               _weight: Any, _freeze: bool, dtype: Any) -> None:
        who = type(self).__name__
        _check_common(who, Tensor._make(np.zeros((0, 0), np.float32)), max_norm, norm_type,
                      sparse)
        self.num_embeddings = integer(who, "num_embeddings", num_embeddings, 0)
        self.embedding_dim = integer(who, "embedding_dim", embedding_dim, 0)
        self.padding_idx = _padding_idx(who, padding_idx, self.num_embeddings)
        self.max_norm = None if max_norm is None else positive(who, "max_norm", max_norm)
        self.norm_type = float(norm_type)
        self.scale_grad_by_freq = bool(scale_grad_by_freq)
        self.sparse = False
        shape = (self.num_embeddings, self.embedding_dim)
        if _weight is None:
            dt = np.dtype(dtype) if dtype is not None else np.float32
            self.weight = Parameter(np.empty(shape, dtype=dt), requires_grad=not _freeze)
            self.reset_parameters()
        else:
            w = float_tensor(who, "_weight", _weight)
            if w.shape != shape:
                raise ValueError(f"{who}: _weight must have shape {shape} (num_embeddings, "
                                 f"embedding_dim), got {w.shape}")
            self.weight = Parameter(w, requires_grad=not _freeze)

    def reset_parameters(self) -> None:
        """N(0, 1) weights; the padding row (if any) zeros."""
        init.normal_(self.weight)
        if self.padding_idx is not None:
            with no_grad():
                self.weight.data[self.padding_idx] = 0

    def _check(self, input: Any) -> None:
        """Indices checked before anything runs (the weight is renormalised in place under
        ``max_norm``): errors name this layer and the shapes."""
        check_indices(type(self).__name__, input, self.weight)

    def _repr_common(self) -> list[str]:
        s = []
        if self.max_norm is not None:
            s.append(f"max_norm={self.max_norm}")
        if self.norm_type != 2:
            s.append(f"norm_type={self.norm_type}")
        if self.scale_grad_by_freq:
            s.append("scale_grad_by_freq=True")
        return s


class Embedding(_EmbeddingBase):
    """A lookup table of ``num_embeddings`` vectors of size ``embedding_dim``:
    ``input: (*)`` int64 indices ``-> (*, embedding_dim)``.

    weight (num_embeddings, embedding_dim) ~ N(0, 1). ``padding_idx``: that row starts at zeros
    and gets no gradient (entries equal to it still return it). ``max_norm``: each looked-up row
    whose ``norm_type``-norm exceeds it is renormalised in place first (under ``no_grad``, as
    PyTorch). ``scale_grad_by_freq``: gradients divided by the index's frequency in the batch.
    Repeated indices accumulate their gradients. ``sparse=True`` is not supported (ValueError).
    An index that is negative or >= num_embeddings raises ``IndexError``, a float input
    ``TypeError``, naming the layer and the shapes, before anything changes.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 max_norm: float | None = None, norm_type: float = 2.0,
                 scale_grad_by_freq: bool = False, sparse: bool = False, _weight: Any = None,
                 _freeze: bool = False, dtype: Any = None) -> None:
        super().__init__()
        self._setup(num_embeddings, embedding_dim, padding_idx, max_norm, norm_type,
                    scale_grad_by_freq, sparse, _weight, _freeze, dtype)

    def forward(self, input: Tensor) -> Tensor:
        self._check(input)
        return F.embedding(input, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                           self.scale_grad_by_freq, self.sparse)

    def extra_repr(self) -> str:
        pad = [] if self.padding_idx is None else [f"padding_idx={self.padding_idx}"]
        return ", ".join([f"{self.num_embeddings}, {self.embedding_dim}", *pad,
                          *self._repr_common()])

    @classmethod
    def from_pretrained(cls, embeddings: Tensor, freeze: bool = True,
                        padding_idx: int | None = None, max_norm: float | None = None,
                        norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                        sparse: bool = False) -> Embedding:
        """An Embedding whose weight is ``embeddings`` (2-D, shared, not copied; its padding row
        is kept as given); ``freeze=True``: the weight does not require grad."""
        emb = float_tensor("Embedding.from_pretrained", "embeddings", embeddings)
        if emb.ndim != 2:
            raise ValueError(f"Embedding.from_pretrained: embeddings must be 2-D "
                             f"(num_embeddings, embedding_dim), got shape {emb.shape}")
        return cls(emb.shape[0], emb.shape[1], padding_idx, max_norm, norm_type,
                   scale_grad_by_freq, sparse, _weight=emb, _freeze=freeze)


class EmbeddingBag(_EmbeddingBase):
    """Sums, means or maxima of bags of embeddings, without the (n, D) lookups' autograd
    bookkeeping per bag: input (B, L), or (n,) with offsets (B,) -> (B, embedding_dim).

    ``mode``: ``"mean"`` (default), ``"sum"`` or ``"max"``; an empty bag gives zeros.
    ``forward(input, offsets=None, per_sample_weights=None)``: ``offsets`` mark where each bag
    of a 1-D input starts (``include_last_offset``: one more entry, ``len(input)``);
    ``per_sample_weights`` (input's shape, ``mode="sum"`` only) weight each entry.
    ``padding_idx`` entries are left out of their bag. Other arguments as :class:`Embedding`.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, max_norm: float | None = None,
                 norm_type: float = 2.0, scale_grad_by_freq: bool = False, mode: str = "mean",
                 sparse: bool = False, _weight: Any = None, include_last_offset: bool = False,
                 padding_idx: int | None = None, dtype: Any = None) -> None:
        super().__init__()
        self.mode = one_of(type(self).__name__, "mode", mode, _BAG_MODES)
        self.include_last_offset = bool(include_last_offset)
        self._setup(num_embeddings, embedding_dim, padding_idx, max_norm, norm_type,
                    scale_grad_by_freq, sparse, _weight, False, dtype)

    def forward(self, input: Tensor, offsets: Tensor | None = None,
                per_sample_weights: Tensor | None = None) -> Tensor:
        self._check(input)
        return F.embedding_bag(input, self.weight, offsets, self.max_norm, self.norm_type,
                               self.scale_grad_by_freq, self.mode, self.sparse,
                               per_sample_weights, self.include_last_offset, self.padding_idx)

    def extra_repr(self) -> str:
        pad = [] if self.padding_idx is None else [f"padding_idx={self.padding_idx}"]
        return ", ".join([f"{self.num_embeddings}, {self.embedding_dim}", *self._repr_common(),
                          f"mode={self.mode!r}", *pad])

    @classmethod
    def from_pretrained(cls, embeddings: Tensor, freeze: bool = True,
                        max_norm: float | None = None, norm_type: float = 2.0,
                        scale_grad_by_freq: bool = False, mode: str = "mean",
                        sparse: bool = False, include_last_offset: bool = False,
                        padding_idx: int | None = None) -> EmbeddingBag:
        """An EmbeddingBag whose weight is ``embeddings`` (2-D, shared); ``freeze=True``: the
        weight does not require grad."""
        emb = float_tensor("EmbeddingBag.from_pretrained", "embeddings", embeddings)
        if emb.ndim != 2:
            raise ValueError(f"EmbeddingBag.from_pretrained: embeddings must be 2-D "
                             f"(num_embeddings, embedding_dim), got shape {emb.shape}")
        bag = cls(emb.shape[0], emb.shape[1], max_norm, norm_type, scale_grad_by_freq, mode,
                  sparse, emb, include_last_offset, padding_idx)
        bag.weight.requires_grad_(not freeze)
        return bag
