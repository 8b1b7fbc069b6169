"""Losses (PyTorch names, argument orders and defaults).

Cross-entropy is a fused kernel Function whose backward is itself a kernel Function, differentiable
again through softmax (:mod:`minigrad.ops.softmax`), so ``create_graph=True`` works to any order:

    CrossEntropyFn      fused log-softmax + NLL     dx = CrossEntropyGradFn(g_rows, x)
    CrossEntropyGradFn  one kernel pass             dg, dx: Tensor ops through SoftmaxFn

``binary_cross_entropy`` is one NumPy Function (its logs are clamped as PyTorch's). ``nll_loss``,
``mse_loss``, ``l1_loss`` and ``binary_cross_entropy_with_logits`` are compositions of Tensor ops
(cheap, and differentiable for free).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from minigrad import _device as mdev
from minigrad.autograd import Function
from minigrad.ops._args import REDUCTIONS, float_tensor, one_of, probability
from minigrad.ops.activation import ActivationFn
from minigrad.ops.kernels import kernels_for
from minigrad.ops.softmax import SoftmaxFn
from minigrad.tensor import Tensor

__all__ = [
    "cross_entropy",
    "nll_loss",
    "mse_loss",
    "l1_loss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
]


# ------------------------------------------------------------------------------------------------
# cross-entropy: a fused kernel for (M, C) rows


class CrossEntropyFn(Function):
    """x: (M, C) logits, target: (M,) int64 -> loss: () or (M,) for reduction 'none'."""

    @staticmethod
    def forward(ctx, x, *, target, weight, ignore_index, label_smoothing, reduction):
        K = kernels_for(x.data).softmax
        target = mdev.asarray(target, np.int64, like=x.data)
        weight = mdev.asarray(weight, x.dtype, like=x.data)
        loss, lse = K.cross_entropy_forward(x.data, target, weight, ignore_index, label_smoothing)
        ctx.save_for_backward(x, lse)
        ctx.params = dict(
            target=target, weight=weight, ignore_index=ignore_index, label_smoothing=label_smoothing
        )
        ctx.reduction = reduction
        if reduction == "none":
            return loss
        # sum, or mean: divided by the total weight of the non-ignored targets (NaN when there is
        # none); the factor stays on the input's device for the backward
        out, scale = K.cross_entropy_total(loss, target, weight, ignore_index, reduction == "mean")
        ctx.scale = Tensor._make(scale.reshape(()))
        return out.reshape(())

    @staticmethod
    def backward(ctx, g):
        x, lse = ctx.saved_tensors
        m = x.shape[0]
        g_rows = g if ctx.reduction == "none" else (g * ctx.scale).expand(m)
        return CrossEntropyGradFn.apply(g_rows, x, lse=lse.data, **ctx.params)


class CrossEntropyGradFn(Function):
    """gx: (M, C) = g_rows[i] * dloss_i/dx_i, one kernel pass."""

    @staticmethod
    def forward(ctx, g_rows, x, *, lse, target, weight, ignore_index, label_smoothing):
        ctx.save_for_backward(g_rows, x)
        ctx.params = (target, weight, ignore_index, label_smoothing)
        return kernels_for(x.data).softmax.cross_entropy_backward(
            g_rows.data, x.data, target, weight, lse, ignore_index, label_smoothing
        )

    @staticmethod
    def backward(ctx, ggx):
        g_rows, x = ctx.saved_tensors
        target, weight, ignore_index, eps = ctx.params
        a, b = kernels_for(x.data).softmax.cross_entropy_coefficients(target, weight,
                                                                       ignore_index, eps)
        a_t, b_t = Tensor._make(a.astype(x.dtype)), Tensor._make(b.astype(x.dtype))
        p = SoftmaxFn.apply(x, dim=1)
        need_g, need_x = ctx.needs_input_grad
        dg = (ggx * (a_t.reshape(-1, 1) * p - b_t)).sum(axis=1) if need_g else None
        dx = None
        if need_x:
            v = ggx * (g_rows * a_t).reshape(-1, 1)
            dx = p * (v - (v * p).sum(axis=1, keepdims=True))
        return dg, dx




def _class_target(op: str, x: Tensor, target: Any) -> np.ndarray:
    """Integer class indices with the shape of ``x`` minus its class axis 1."""
    t = target.data if isinstance(target, Tensor) else np.asarray(target)
    if not np.issubdtype(t.dtype, np.integer):
        raise TypeError(
            f"{op}: target must hold integer class indices (int64), got dtype {t.dtype} "
            "(class-probability targets are not supported)"
        )
    expected = (x.shape[0],) + x.shape[2:] if x.ndim >= 2 else ()
    if t.shape != expected:
        raise ValueError(
            f"{op}: target shape {t.shape} does not match input shape {x.shape} "
            f"(expected {expected}: input is (N, C, d1, ...), target (N, d1, ...))"
        )
    return t.astype(np.int64, copy=False)


def _class_weight(op: str, weight: Any, c: int, dtype: np.dtype) -> np.ndarray:
    if weight is None:
        return np.ones(c, dtype=dtype)
    w = weight.data if isinstance(weight, Tensor) else np.asarray(weight)
    if w.shape != (c,):
        raise ValueError(f"{op}: weight must have shape ({c},) for {c} classes, got {w.shape}")
    return w.astype(dtype)


def _rows_and_targets(op: str, x: Tensor, target: Any, ignore_index: int):
    """(M, C) logits view, (M,) int64 targets, validated against the class count."""
    if x.ndim == 0:
        raise ValueError(f"{op}: input must have a class axis, got a 0-d tensor")
    t = _class_target(op, x, target)
    c = x.shape[1] if x.ndim >= 2 else x.shape[0]
    bad = (t != ignore_index) & ((t < 0) | (t >= c))
    if bad.any():
        raise ValueError(
            f"{op}: target value {int(t[bad].flat[0])} is out of range for {c} classes "
            f"(and is not ignore_index={ignore_index})"
        )
    if x.ndim == 1:
        rows = x.reshape(1, c)
    elif x.ndim == 2:
        rows = x
    else:
        perm = (0, *range(2, x.ndim), 1)
        rows = x.permute(*perm).reshape(-1, c)
    return rows, t.reshape(-1), c


def _check_reduction(op: str, reduction: str) -> None:
    one_of(op, "reduction", reduction, REDUCTIONS)


def cross_entropy(
    input: Tensor,
    target: Any,
    weight: Any = None,
    *,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Softmax cross-entropy with integer class targets (PyTorch's definition).

    input: (N, C), (C,) or (N, C, d1, ...) logits; target: matching (N,), () or (N, d1, ...)
    int class indices (``ignore_index`` entries contribute nothing); weight: (C,) class weights.
    ``mean`` divides by the summed weight of the non-ignored targets. With ``label_smoothing``
    eps, the loss is (1 - eps) * NLL + eps * (mean over classes of -w_c * log p_c).
    """
    op = "cross_entropy"
    x = float_tensor(op, "input", input)
    _check_reduction(op, reduction)
    label_smoothing = probability(op, "label_smoothing", label_smoothing)
    rows, t, c = _rows_and_targets(op, x, target, ignore_index)
    w = _class_weight(op, weight, c, x.dtype)
    loss = CrossEntropyFn.apply(
        rows,
        target=t,
        weight=w,
        ignore_index=int(ignore_index),
        label_smoothing=float(label_smoothing),
        reduction=reduction,
    )
    if reduction == "none":
        shape = (x.shape[0], *x.shape[2:]) if x.ndim >= 2 else ()
        return loss.reshape(*shape)
    return loss


def nll_loss(
    input: Tensor,
    target: Any,
    weight: Any = None,
    *,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> Tensor:
    """Negative log-likelihood of log-probabilities ``input`` (N, C[, d1, ...]) at ``target``."""
    op = "nll_loss"
    x = float_tensor(op, "input", input)
    _check_reduction(op, reduction)
    rows, t, c = _rows_and_targets(op, x, target, ignore_index)
    w = _class_weight(op, weight, c, x.dtype)
    # targets and weights on the input's device: the gather and the scale stay there
    t = mdev.asarray(t, np.int64, like=x.data)
    w = mdev.asarray(w, x.dtype, like=x.data)
    valid = t != ignore_index
    safe = np.where(valid, t, 0)
    wt = Tensor._make((w[safe] * valid).astype(x.dtype))
    losses = -rows[np.arange(t.size), safe] * wt
    if reduction == "none":
        return losses.reshape(*((x.shape[0], *x.shape[2:]) if x.ndim >= 2 else ()))
    if reduction == "sum":
        return losses.sum()
    _, scale = kernels_for(x.data).softmax.cross_entropy_total(None, t, w, int(ignore_index),
                                                                True)
    return losses.sum() * Tensor._make(scale.reshape(()))  # NaN when all are ignored


def _pair_inputs(op: str, input: Any, target: Any) -> tuple[Tensor, Tensor]:
    x = float_tensor(op, "input", input)
    if isinstance(target, Tensor):
        t = target
    else:
        t = Tensor._make(np.asarray(target))
    if not np.issubdtype(t.dtype, np.floating):
        t = Tensor._make(t.data.astype(x.dtype))
    if t.shape != x.shape:
        raise ValueError(
            f"{op}: target shape {t.shape} must equal input shape {x.shape} (no broadcasting)"
        )
    return x, t


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else loss.mean()


def mse_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """(input - target)^2, reduced. input and target: same shape."""
    _check_reduction("mse_loss", reduction)
    x, t = _pair_inputs("mse_loss", input, target)
    d = x - t
    return _reduce(d * d, reduction)


def l1_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """``abs(input - target)``, reduced; gradient 0 where input == target."""
    _check_reduction("l1_loss", reduction)
    x, t = _pair_inputs("l1_loss", input, target)
    return _reduce((x - t).abs(), reduction)


def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Any,
    weight: Any = None,
    reduction: str = "mean",
    pos_weight: Any = None,
) -> Tensor:
    """-[pos_weight * t * log sigmoid(x) + (1 - t) * log(1 - sigmoid(x))], stable for any x.

    Uses log sigmoid(x) = -softplus(-x) and log(1 - sigmoid(x)) = -x - softplus(-x), so no exp
    overflows. input, target: same shape; weight broadcasts to it; pos_weight broadcasts along
    the last (class) axis. Target may require grad.
    """
    op = "binary_cross_entropy_with_logits"
    _check_reduction(op, reduction)
    x, t = _pair_inputs(op, input, target)
    sp = ActivationFn.apply(-x, name="softplus", a=1.0, b=math.inf)  # = -log sigmoid(x)
    if pos_weight is None:
        loss = (1 - t) * x + sp
    else:
        pw = (
            pos_weight
            if isinstance(pos_weight, Tensor)
            else Tensor._make(mdev.asarray(pos_weight, x.dtype, like=x.data))
        )
        loss = (1 - t) * x + (1 + (pw - 1) * t) * sp
    if weight is not None:
        loss = loss * (
            weight
            if isinstance(weight, Tensor)
            else Tensor._make(mdev.asarray(weight, x.dtype, like=x.data))
        )
    return _reduce(loss, reduction)


def _clamped_log(q: Tensor) -> Tensor:
    """max(log q, -100) for q in [0, 1] with Tensor ops (0 gives -100, without a log(0))."""
    floor = math.exp(-100)
    keep = Tensor._make(q.data > floor)
    return (q.clip(min=floor).log() + 100) * keep.astype(q.dtype) - 100


class BinaryCrossEntropyFn(Function):
    """loss = -(t * max(log p, -100) + (1 - t) * max(log(1 - p), -100)), elementwise."""

    @staticmethod
    def forward(ctx, p, t):
        ctx.save_for_backward(p, t)
        with np.errstate(divide="ignore"):
            logp = np.maximum(np.log(p.data), -100)
            log1mp = np.maximum(np.log1p(-p.data), -100)
        return -(t.data * logp + (1 - t.data) * log1mp)

    @staticmethod
    def backward(ctx, g):
        p, t = ctx.saved_tensors
        need_p, need_t = ctx.needs_input_grad
        # PyTorch's formula: the denominator is floored so that p = 0 or 1 gives finite gradients
        gp = g * (p - t) / (p * (1 - p)).clip(min=1e-12) if need_p else None
        gt = g * (_clamped_log(1 - p) - _clamped_log(p)) if need_t else None
        return gp, gt


def binary_cross_entropy(
    input: Tensor, target: Any, weight: Any = None, reduction: str = "mean"
) -> Tensor:
    """-[t * log(p) + (1 - t) * log(1 - p)] for probabilities p = input in [0, 1].

    Like PyTorch, each log is clamped at -100 so p = 0 or 1 gives a finite loss, and the
    gradient's denominator p(1 - p) is floored at 1e-12.
    """
    op = "binary_cross_entropy"
    _check_reduction(op, reduction)
    x, t = _pair_inputs(op, input, target)
    if x.data.size and (np.nanmin(x.data) < 0 or np.nanmax(x.data) > 1):
        raise ValueError(f"{op}: input must hold probabilities in [0, 1]")
    loss = BinaryCrossEntropyFn.apply(x, t)
    if weight is not None:
        w = (
            weight
            if isinstance(weight, Tensor)
            else Tensor._make(mdev.asarray(weight, x.dtype, like=x.data))
        )
        loss = loss * w
    return _reduce(loss, reduction)
