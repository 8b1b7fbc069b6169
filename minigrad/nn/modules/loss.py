"""Loss layers: thin modules over ``nn.functional``'s losses (``reduction`` is ``"mean"``,
``"sum"`` or ``"none"``)."""

from __future__ import annotations

from minigrad.nn import functional as F
from minigrad.nn.modules.module import Module
from minigrad.ops._args import REDUCTIONS, integer, one_of, positive, probability, real
from minigrad.ops.loss import _KL_REDUCTIONS, _norm_order
from minigrad.tensor import Tensor

__all__ = ["CrossEntropyLoss", "NLLLoss", "MSELoss", "L1Loss", "BCELoss", "BCEWithLogitsLoss",
           "KLDivLoss", "HuberLoss", "SmoothL1Loss", "MarginRankingLoss", "CosineEmbeddingLoss",
           "TripletMarginLoss", "CTCLoss"]


class _Loss(Module):
    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = one_of(type(self).__name__, "reduction", reduction, REDUCTIONS)

    def extra_repr(self) -> str:
        return "" if self.reduction == "mean" else f"reduction={self.reduction!r}"


class CrossEntropyLoss(_Loss):
    """Cross-entropy of logits (N, C) (or (N, C, d1, ...)) against class indices (N, ...)
    (``log_softmax`` + ``nll_loss`` fused) or against class probabilities of the logits' shape
    (``mean``: over the rows). ``weight``: per-class weights (C,); ``ignore_index``: targets to
    skip (class indices only); ``label_smoothing`` in [0, 1]."""

    def __init__(self, weight: Tensor | None = None, ignore_index: int = -100,
                 reduction: str = "mean", label_smoothing: float = 0.0) -> None:
        super().__init__(reduction)
        self.register_buffer("weight", weight)
        self.ignore_index = integer("CrossEntropyLoss", "ignore_index", ignore_index)
        self.label_smoothing = probability("CrossEntropyLoss", "label_smoothing",
                                           label_smoothing)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.cross_entropy(input, target, weight=self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)


class NLLLoss(_Loss):
    """Negative log-likelihood of log-probabilities (N, C) against class indices (N,)."""

    def __init__(self, weight: Tensor | None = None, ignore_index: int = -100,
                 reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.register_buffer("weight", weight)
        self.ignore_index = integer("NLLLoss", "ignore_index", ignore_index)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index,
                          reduction=self.reduction)


class MSELoss(_Loss):
    """Mean squared error ``(input - target) ** 2``, reduced."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """Mean absolute error ``|input - target|``, reduced."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.l1_loss(input, target, reduction=self.reduction)


class BCELoss(_Loss):
    """Binary cross-entropy of probabilities in [0, 1] (each log clamped at -100, as PyTorch);
    prefer :class:`BCEWithLogitsLoss` on logits. ``weight`` rescales each element."""

    def __init__(self, weight: Tensor | None = None, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.register_buffer("weight", weight)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy(input, target, weight=self.weight,
                                      reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy of logits against targets in [0, 1] (sigmoid fused, stable for
    large logits). ``weight`` rescales each element; ``pos_weight`` (one per class, broadcast
    over the last axis) weights the positive term."""

    def __init__(self, weight: Tensor | None = None, reduction: str = "mean",
                 pos_weight: Tensor | None = None) -> None:
        super().__init__(reduction)
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy_with_logits(input, target, weight=self.weight,
                                                  reduction=self.reduction,
                                                  pos_weight=self.pos_weight)


class KLDivLoss(Module):
    """Kullback-Leibler divergence of log-probabilities ``input`` from ``target`` (probabilities,
    or log-probabilities with ``log_target=True``); same shapes. ``reduction="batchmean"`` is the
    divergence's definition (sum / batch size); ``"mean"`` (the default, as PyTorch) averages
    over every element and warns."""

    def __init__(self, reduction: str = "mean", log_target: bool = False) -> None:
        super().__init__()
        self.reduction = one_of("KLDivLoss", "reduction", reduction, _KL_REDUCTIONS)
        self.log_target = bool(log_target)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


class HuberLoss(_Loss):
    """``0.5 * d^2`` for ``abs(d) < delta``, else ``delta * (abs(d) - 0.5 * delta)``,
    d = input - target; delta > 0."""

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction)
        self.delta = positive("HuberLoss", "delta", delta)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class SmoothL1Loss(_Loss):
    """``0.5 * d^2 / beta`` for ``abs(d) < beta``, else ``abs(d) - 0.5 * beta``, d = input - target;
    ``beta=0`` is the L1 loss."""

    def __init__(self, reduction: str = "mean", beta: float = 1.0) -> None:
        super().__init__(reduction)
        self.beta = real("SmoothL1Loss", "beta", beta)
        if self.beta < 0:
            raise ValueError(f"SmoothL1Loss: beta must be >= 0, got {beta!r}")

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class _PairMarginLoss(_Loss):
    """MarginRankingLoss, CosineEmbeddingLoss: a ``margin`` and ``forward(input1, input2,
    target)`` calling the functional form, ``_loss``."""

    _loss: staticmethod

    def __init__(self, margin: float = 0.0, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.margin = real(type(self).__name__, "margin", margin)

    def forward(self, input1: Tensor, input2: Tensor, target: Tensor) -> Tensor:
        return self._loss(input1, input2, target, self.margin, self.reduction)


class MarginRankingLoss(_PairMarginLoss):
    """``max(0, -target * (input1 - input2) + margin)`` for targets 1 (input1 should rank
    higher) or -1; ``forward(input1, input2, target)``."""

    _loss = staticmethod(F.margin_ranking_loss)


class CosineEmbeddingLoss(_PairMarginLoss):
    """``1 - cos(x1, x2)`` for target 1, ``max(0, cos(x1, x2) - margin)`` for target -1:
    ``forward(input1, input2, target)`` with (N, D), (N, D), (N,) or (D,), (D,), ()."""

    _loss = staticmethod(F.cosine_embedding_loss)


class TripletMarginLoss(_Loss):
    """``max(0, d(a, p) - d(a, n) + margin)`` with the p-norm pairwise distance d;
    ``forward(anchor, positive, negative)``, each (N, D) or (D,). ``swap``: use
    min(d(a, n), d(p, n)) for the negative distance."""

    def __init__(self, margin: float = 1.0, p: float = 2.0, eps: float = 1e-6,
                 swap: bool = False, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.margin = real("TripletMarginLoss", "margin", margin)
        self.p = _norm_order("TripletMarginLoss", p)
        self.eps = real("TripletMarginLoss", "eps", eps)
        self.swap = bool(swap)

    def forward(self, anchor: Tensor, positive: Tensor, negative: Tensor) -> Tensor:
        return F.triplet_margin_loss(anchor, positive, negative, self.margin, self.p, self.eps,
                                     self.swap, self.reduction)



class CTCLoss(_Loss):
    """Connectionist temporal classification loss (see :func:`minigrad.nn.functional.ctc_loss`
    for the shapes and the one difference from PyTorch): ``forward(log_probs, targets,
    input_lengths, target_lengths)`` with log_probs ``(T, N, C)`` or ``(T, C)``.

    Args:
        blank: the blank class index.
        reduction: ``"mean"`` (each sample's loss divided by its target length, then averaged),
            ``"sum"`` or ``"none"``.
        zero_infinity: replace infinite losses and their gradients by zeros.
    """

    def __init__(self, blank: int = 0, reduction: str = "mean",
                 zero_infinity: bool = False) -> None:
        super().__init__(reduction)
        self.blank = integer("CTCLoss", "blank", blank, minimum=0)
        self.zero_infinity = bool(zero_infinity)

    def forward(self, log_probs: Tensor, targets: Tensor, input_lengths: Tensor,
                target_lengths: Tensor) -> Tensor:
        return F.ctc_loss(log_probs, targets, input_lengths, target_lengths, self.blank,
                          self.reduction, self.zero_infinity)
