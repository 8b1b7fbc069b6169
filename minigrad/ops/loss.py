"""Losses (PyTorch names, argument orders and defaults).

Cross-entropy is a fused kernel Function whose backward is itself a kernel Function, differentiable
again through softmax (:mod:`minigrad.ops.softmax`), so ``create_graph=True`` works to any order:

    CrossEntropyFn      fused log-softmax + NLL     dx = CrossEntropyGradFn(g_rows, x)
    CrossEntropyGradFn  one kernel pass             dg, dx: Tensor ops through SoftmaxFn

``binary_cross_entropy`` is one NumPy Function (its logs are clamped as PyTorch's). ``nll_loss``,
``mse_loss``, ``l1_loss`` and ``binary_cross_entropy_with_logits`` are compositions of Tensor ops
(cheap, and differentiable for free), as are cross-entropy with class-probability targets,
``kl_div``, ``huber_loss``, ``smooth_l1_loss``, the margin losses (``margin_ranking_loss``,
``cosine_embedding_loss``, ``triplet_margin_loss``) and the distances they use
(``cosine_similarity``, ``pairwise_distance``) and ``ctc_loss`` (the forward recursion in log
space, one step of Tensor ops per time step), each written as PyTorch computes it so that values
and gradients agree to rounding (tested in float64 against PyTorch).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from minigrad import _device as mdev
from minigrad.autograd import Function
from minigrad.ops._args import (
    REDUCTIONS,
    float_tensor,
    integer,
    one_of,
    positive,
    probability,
    real,
)
from minigrad.ops.activation import ActivationFn
from minigrad.ops.elementwise import where
from minigrad.ops.kernels import kernels_for
from minigrad.ops.reduce import logsumexp
from minigrad.ops.shape import cat, stack
from minigrad.ops.softmax import SoftmaxFn, log_softmax
from minigrad.tensor import Tensor

__all__ = [
    "cross_entropy",
    "nll_loss",
    "mse_loss",
    "l1_loss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "kl_div",
    "huber_loss",
    "smooth_l1_loss",
    "margin_ranking_loss",
    "cosine_embedding_loss",
    "triplet_margin_loss",
    "cosine_similarity",
    "pairwise_distance",
    "ctc_loss",
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
        probs = " or class probabilities of the input's shape" if op == "cross_entropy" else ""
        raise TypeError(
            f"{op}: target must hold integer class indices (int64){probs}, got dtype {t.dtype} "
            f"of shape {t.shape} for input of shape {x.shape}"
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
    """Softmax cross-entropy of logits against class indices or class probabilities
    (PyTorch's definition).

    input: (N, C), (C,) or (N, C, d1, ...) logits. target, either:

    - class indices: matching (N,), () or (N, d1, ...) ints (``ignore_index`` entries contribute
      nothing); ``mean`` divides by the summed weight of the non-ignored targets; with
      ``label_smoothing`` eps the loss is ``(1 - eps) * NLL + eps * (mean over classes of
      -w_c * log p_c)``; one fused kernel;
    - class probabilities: a float tensor of the input's shape (each row a distribution, not
      checked, as PyTorch); ``loss = -sum_c w_c * t_c * log p_c`` with t smoothed to
      ``t * (1 - eps) + eps / C``; ``mean`` divides by the number of rows (N * d1 * ...);
      ``ignore_index`` must stay negative (PyTorch's rule); differentiable in the target too.

    weight: (C,) class weights.
    """
    op = "cross_entropy"
    x = float_tensor(op, "input", input)
    _check_reduction(op, reduction)
    label_smoothing = probability(op, "label_smoothing", label_smoothing)
    if _is_float_target(target) and np.shape(target) == x.shape and x.ndim >= 1:
        return _cross_entropy_probs(op, x, target, weight, ignore_index, reduction,
                                    label_smoothing)
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


def _is_float_target(target: Any) -> bool:
    dt = target.dtype if isinstance(target, Tensor) else np.asarray(target).dtype
    return np.issubdtype(dt, np.floating)


def _cross_entropy_probs(op: str, x: Tensor, target: Any, weight: Any, ignore_index: int,
                         reduction: str, eps: float) -> Tensor:
    """Cross-entropy against class probabilities (same shape as the logits), Tensor ops."""
    if integer(op, "ignore_index", ignore_index) >= 0:
        raise ValueError(f"{op}: ignore_index is not supported with class-probability targets "
                         f"(got ignore_index={ignore_index}; leave it at -100)")
    t = _as_float(target, x)
    dim = 1 if x.ndim >= 2 else 0
    c = x.shape[dim]
    logp = log_softmax(x, dim)
    if eps:
        t = t * (1 - eps) + eps / c
    prod = logp * t
    if weight is not None:
        w = _class_weight(op, weight, c, x.dtype)
        cs = (1, c) + (1,) * (x.ndim - 2) if x.ndim >= 2 else (c,)
        prod = prod * Tensor._make(mdev.asarray(w.reshape(cs), like=x.data))
    loss = -prod.sum(axis=dim)
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    rows = x.data.size // c if c else 0
    return loss.sum() * (1.0 / rows if rows else math.nan)


def _as_float(v: Any, x: Tensor) -> Tensor:
    """A float Tensor of x's dtype from a Tensor (kept, with its graph, when float) or an
    array."""
    if isinstance(v, Tensor):
        return v if v.dtype == x.dtype else v.astype(x.dtype)
    return Tensor._make(mdev.asarray(np.asarray(v), x.dtype, like=x.data))


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


# ------------------------------------------------------------------------------------------------
# KL divergence, Huber and smooth L1


_KL_REDUCTIONS = ("none", "batchmean", "sum", "mean")


def kl_div(input: Tensor, target: Any, reduction: str = "mean", log_target: bool = False
           ) -> Tensor:
    """Kullback-Leibler divergence with ``input`` log-probabilities: pointwise
    ``target * (log(target) - input)`` (0 where target is 0), or with ``log_target=True``
    (target given as log-probabilities) ``exp(target) * (target - input)``.

    input and target: the same shape. reduction: ``"batchmean"`` (the sum divided by the batch
    size input.shape[0]: the KL divergence's definition), ``"sum"``, ``"none"`` or ``"mean"``
    (the mean over every element; PyTorch warns that it is not the KL divergence, and so do
    we). The target may require grad; at target == 0 the ``target * log(target)`` term
    contributes 0 to its gradient (PyTorch's gives NaN there).
    """
    op = "kl_div"
    one_of(op, "reduction", reduction, _KL_REDUCTIONS)
    if reduction == "mean":
        warnings.warn(
            "reduction: 'mean' divides the total loss by both the batch size and the support "
            "size.'batchmean' divides only by the batch size, and aligns with the KL div math "
            "definition.'mean' will be changed to behave the same as 'batchmean' in the next "
            "major release.", UserWarning, stacklevel=2)
    x, t = _pair_inputs(op, input, target)
    if log_target:
        loss = t.exp() * (t - x)
    else:
        # xlogy(t, t) = t * log(t), 0 at t = 0 (log of 1 there, so no -inf * 0 in backward);
        # a negative target gives NaN, as in PyTorch
        nonzero = Tensor._make(t.data != 0)
        loss = t * where(nonzero, t, 1.0).log() - t * x
    if reduction == "batchmean":
        return loss.sum() / (x.shape[0] if x.ndim else 1)
    return _reduce(loss, reduction)


def _piecewise_quadratic(op: str, input: Any, target: Any, width: float, quad: float,
                         lin: float, weight: Any = None) -> tuple[Tensor, Tensor]:
    """(elementwise loss, x): ``quad * d^2`` where ``abs(d) < width``, else
    ``lin * (abs(d) - width/2)``, d = input - target."""
    x, t = _pair_inputs(op, input, target)
    d = x - t
    ad = d.abs()
    inside = Tensor._make(ad.data < width)
    return where(inside, quad * d * d, lin * (ad - 0.5 * width)), x


def huber_loss(input: Tensor, target: Any, reduction: str = "mean", delta: float = 1.0,
               weight: Any = None) -> Tensor:
    """Huber loss: ``0.5 * d^2`` where ``abs(d) < delta``, else ``delta * (abs(d) - 0.5 * delta)``,
    d = input - target (same shapes). ``weight`` (the input's shape) multiplies each element
    before the reduction (``mean``: of the weighted elements, as PyTorch)."""
    op = "huber_loss"
    _check_reduction(op, reduction)
    delta = positive(op, "delta", delta)
    loss, x = _piecewise_quadratic(op, input, target, delta, 0.5, delta)
    if weight is not None:
        w = float_tensor(op, "weight", weight)
        if w.shape != x.shape:
            raise ValueError(f"{op}: weight of shape {w.shape} must have the input's shape "
                             f"{x.shape}")
        loss = loss * w
    return _reduce(loss, reduction)


def smooth_l1_loss(input: Tensor, target: Any, reduction: str = "mean", beta: float = 1.0
                   ) -> Tensor:
    """Smooth L1 loss: ``0.5 * d^2 / beta`` where ``abs(d) < beta``, else ``abs(d) - 0.5 * beta``
    (Huber loss divided by beta); ``beta=0`` is the L1 loss. d = input - target (same
    shapes)."""
    op = "smooth_l1_loss"
    _check_reduction(op, reduction)
    beta = real(op, "beta", beta)
    if beta < 0:
        raise ValueError(f"{op}: beta must be >= 0, got {beta!r}")
    if beta == 0:
        return l1_loss(input, target, reduction)
    loss, _ = _piecewise_quadratic(op, input, target, beta, 0.5 / beta, 1.0)
    return _reduce(loss, reduction)


# ------------------------------------------------------------------------------------------------
# distances and margin losses


def _safe_root(s: Tensor, p: float) -> Tensor:
    """s ** (1/p) for s >= 0 with a zero gradient where s == 0 (PyTorch's vector-norm rule)
    instead of an infinite one."""
    pos = Tensor._make(s.data > 0)
    root = where(pos, s, 1.0) ** (1.0 / p)
    return where(pos, root, 0.0)


def _vector_norm(d: Tensor, p: float, axis: int, keepdims: bool) -> Tensor:
    if math.isinf(p):
        return d.abs().amax(dim=axis, keepdim=keepdims)
    if p == 1:
        return d.abs().sum(axis=axis, keepdims=keepdims)
    if p == 2:
        return _safe_root((d * d).sum(axis=axis, keepdims=keepdims), 2.0)
    return _safe_root((d.abs() ** p).sum(axis=axis, keepdims=keepdims), p)


def _norm_order(op: str, p: Any) -> float:
    p = float(p) if isinstance(p, int | float | np.number) and not isinstance(p, bool) else p
    if not isinstance(p, float) or not p > 0:
        raise ValueError(f"{op}: p must be a number > 0 (inf allowed), got {p!r}")
    return p


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6,
                      keepdim: bool = False) -> Tensor:
    """The p-norm of ``x1 - x2 + eps`` along the last axis (x1, x2 broadcast):
    (N, D), (N, D) -> (N,) (``keepdim``: (N, 1)). p > 0 or inf; the gradient at a zero
    difference is 0, as PyTorch's."""
    op = "pairwise_distance"
    a, b = float_tensor(op, "x1", x1), float_tensor(op, "x2", x2)
    p = _norm_order(op, p)
    eps = real(op, "eps", eps)
    d = a - b + eps
    return _vector_norm(d, p, d.ndim - 1 if d.ndim else 0, keepdim)


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """Cosine of the angle between x1 and x2 along ``dim`` (they broadcast):
    ``sum(x1 / max(|x1|, eps) * x2 / max(|x2|, eps))``, (N, D), (N, D) -> (N,).

    As PyTorch computes it: each input divided by its own norm clamped at ``eps``, the clamp
    passing the norm's gradient through unchanged.
    """
    op = "cosine_similarity"
    a, b = float_tensor(op, "x1", x1), float_tensor(op, "x2", x2)
    eps = real(op, "eps", eps)
    shape = np.broadcast_shapes(a.shape, b.shape)
    nd = len(shape)
    if not isinstance(dim, int | np.integer) or not -max(nd, 1) <= dim < max(nd, 1):
        raise ValueError(f"{op}: dim {dim} is out of range for inputs of shapes {a.shape} and "
                         f"{b.shape}")
    a, b = a.expand(*shape), b.expand(*shape)
    dim = int(dim) % max(nd, 1)

    def unit(v: Tensor) -> Tensor:
        n = _vector_norm(v, 2.0, dim, True)
        # max(n, eps) in the forward, n's gradient in the backward (PyTorch's)
        lift = Tensor._make(mdev.asarray(np.maximum(mdev.to_host(n.data), eps) -
                                         mdev.to_host(n.data), like=n.data))
        return v / (n + lift)

    return (unit(a) * unit(b)).sum(axis=dim)


def _same_dims(op: str, names: tuple[str, ...], *ts: Tensor) -> None:
    if len({t.ndim for t in ts}) != 1:
        shapes = ", ".join(f"{n} {t.shape}" for n, t in zip(names, ts))
        raise ValueError(f"{op}: all inputs must have the same number of dimensions, got "
                         f"{shapes}")


def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Any, margin: float = 0.0,
                        reduction: str = "mean") -> Tensor:
    """``max(0, -target * (input1 - input2) + margin)``: target 1 means input1 should rank
    higher, -1 lower. input1, input2, target: the same number of dimensions (they broadcast,
    as in PyTorch)."""
    op = "margin_ranking_loss"
    _check_reduction(op, reduction)
    a, b = float_tensor(op, "input1", input1), float_tensor(op, "input2", input2)
    y = _as_float(target, a)
    _same_dims(op, ("input1", "input2", "target"), a, b, y)
    margin = real(op, "margin", margin)
    return _reduce((-y * (a - b) + margin).clip(min=0), reduction)


def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Any, margin: float = 0.0,
                          reduction: str = "mean") -> Tensor:
    """``1 - cos(x1, x2)`` where target == 1, ``max(0, cos(x1, x2) - margin)`` where
    target == -1 (0 for other targets). input1, input2: (N, D) with target (N,), or (D,) with a
    0-d target. The cosine is PyTorch's for this loss: ``x1.x2 / sqrt((|x1|^2 + 1e-12) *
    (|x2|^2 + 1e-12))``."""
    op = "cosine_embedding_loss"
    _check_reduction(op, reduction)
    a, b = float_tensor(op, "input1", input1), float_tensor(op, "input2", input2)
    y = target.data if isinstance(target, Tensor) else np.asarray(target)
    if y.ndim not in (0, 1) or a.ndim != y.ndim + 1 or b.ndim != y.ndim + 1:
        raise ValueError(f"{op}: expected input1, input2 (N, D) with target (N,), or (D,) with "
                         f"a 0-d target; got {a.shape}, {b.shape} and {y.shape}")
    margin = real(op, "margin", margin)
    dim = y.ndim
    eps = 1e-12
    cos = (a * b).sum(axis=dim) / (((a * a).sum(axis=dim) + eps) *
                                   ((b * b).sum(axis=dim) + eps)).sqrt()
    pos = Tensor._make(mdev.asarray(y == 1, like=a.data))
    neg = Tensor._make(mdev.asarray(y == -1, like=a.data))
    loss = where(pos, 1 - cos, 0.0) + where(neg, (cos - margin).clip(min=0), 0.0)
    return _reduce(loss, reduction)


def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor, margin: float = 1.0,
                        p: float = 2.0, eps: float = 1e-6, swap: bool = False,
                        reduction: str = "mean") -> Tensor:
    """``max(0, d(a, p) - d(a, n) + margin)`` with d the :func:`pairwise_distance` (order
    ``p``, ``eps``); ``swap``: d(a, n) is replaced by min(d(a, n), d(p, n)). anchor, positive,
    negative: (N, D) or (D,), the same number of dimensions."""
    op = "triplet_margin_loss"
    _check_reduction(op, reduction)
    a = float_tensor(op, "anchor", anchor)
    pos = float_tensor(op, "positive", positive)
    neg = float_tensor(op, "negative", negative)
    _same_dims(op, ("anchor", "positive", "negative"), a, pos, neg)
    if a.ndim not in (1, 2):
        raise ValueError(f"{op}: expected (N, D) or (D,) inputs, got anchor of shape {a.shape}")
    margin = real(op, "margin", margin)
    d_pos = pairwise_distance(a, pos, p, eps)
    d_neg = pairwise_distance(a, neg, p, eps)
    if swap:
        d_neg = d_neg.minimum(pairwise_distance(pos, neg, p, eps))
    return _reduce((margin + d_pos - d_neg).clip(min=0), reduction)



# ------------------------------------------------------------------------------------------------
# CTC: the forward (alpha) recursion of Graves et al. (2006) in log space, as Tensor ops

# "log 0" of the recursion: finite, so that the weights exp(_LOG_ZERO - max) of a logsumexp are
# exact zeros and no gradient is NaN; far below any reachable log-likelihood
_LOG_ZERO = -1e30


def _int_vector(op: str, name: str, v: Any) -> np.ndarray:
    a = v.numpy() if isinstance(v, Tensor) else np.asarray(v)
    if a.dtype == object or not (np.issubdtype(a.dtype, np.integer) or a.size == 0):
        raise TypeError(f"{op}: {name} must hold integers, got dtype {a.dtype}")
    return a.astype(np.int64)


def _ctc_args(op: str, lp: Tensor, targets: Any, input_lengths: Any, target_lengths: Any,
              blank: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(targets (N, S) padded, input lengths (N,), target lengths (N,)) checked against
    log_probs (T, N, C)."""
    t_max, n, c = lp.shape
    tg = _int_vector(op, "targets", targets)
    il = _int_vector(op, "input_lengths", input_lengths).reshape(-1)
    tl = _int_vector(op, "target_lengths", target_lengths).reshape(-1)
    for name, v in (("input_lengths", il), ("target_lengths", tl)):
        if v.shape != (n,):
            raise ValueError(f"{op}: {name} must have one entry per sample ({n}), got shape "
                             f"{v.shape}")
    if ((il < 0) | (il > t_max)).any():
        raise ValueError(f"{op}: input_lengths must be in [0, {t_max}] (log_probs has "
                         f"{t_max} time steps), got {il.tolist()}")
    if (tl < 0).any():
        raise ValueError(f"{op}: target_lengths must be >= 0, got {tl.tolist()}")
    s_max = int(tl.max(initial=0))
    if tg.ndim == 2 and tg.shape[0] == n:
        if tg.shape[1] < s_max:
            raise ValueError(f"{op}: padded targets {tg.shape} are shorter than the longest "
                             f"target length {s_max}")
        padded = tg[:, :s_max]
    elif tg.ndim == 1:
        if tg.shape[0] != tl.sum():
            raise ValueError(f"{op}: 1-d (concatenated) targets must have sum(target_lengths) "
                             f"= {int(tl.sum())} entries, got {tg.shape[0]}")
        padded = np.full((n, s_max), blank, dtype=np.int64)
        ends = np.cumsum(tl)
        for i in range(n):
            padded[i, :tl[i]] = tg[ends[i] - tl[i]:ends[i]]
    else:
        raise ValueError(f"{op}: targets must be (N, S) = ({n}, S) or 1-d concatenated, got "
                         f"shape {tg.shape}")
    used = np.arange(s_max)[None, :] < tl[:, None]
    bad = used & ((padded < 0) | (padded >= c) | (padded == blank))
    if bad.any():
        raise ValueError(f"{op}: targets must be class indices in [0, {c}) other than "
                         f"blank={blank}, got {padded[bad].tolist()}")
    return np.where(used, padded, blank), il, tl


def ctc_loss(log_probs: Tensor, targets: Any, input_lengths: Any, target_lengths: Any,
             blank: int = 0, reduction: str = "mean", zero_infinity: bool = False) -> Tensor:
    """Connectionist temporal classification loss (PyTorch's ``F.ctc_loss``): the negative log
    of the total probability of every alignment of each target to its input frames.

    Args:
        log_probs: ``(T, N, C)`` log-probabilities over C classes per frame (usually a
            ``log_softmax`` over the last axis), or ``(T, C)`` for one unbatched sequence.
        targets: integer class indices, ``(N, S)`` padded, or 1-d with the targets
            concatenated (``sum(target_lengths)`` entries); never ``blank``.
        input_lengths: ``(N,)`` ints in ``[0, T]``, the frames each sample uses.
        target_lengths: ``(N,)`` ints ``>= 0``.
        blank: the blank class, in ``[0, C)``.
        reduction: ``"mean"`` (each loss divided by its target length, at least 1, then the
            mean over the batch), ``"sum"`` or ``"none"`` (``(N,)``, or ``()`` unbatched).
        zero_infinity: replace infinite losses (no alignment fits the frames) and their
            gradients by zeros.

    Returns:
        The loss, a Tensor of log_probs' dtype.

    The alpha recursion runs in log space as Tensor ops (one step per frame), so the gradient
    is the exact derivative with respect to ``log_probs``, to any order. PyTorch's backward
    instead adds ``exp(log_probs)``, a term that assumes ``log_probs`` is a ``log_softmax``
    output: through a ``log_softmax`` the two agree (tested); on unnormalised inputs they
    differ. An infinite loss (``zero_infinity=False``) gets a zero gradient where PyTorch's is
    NaN. A target containing ``blank`` or an index outside ``[0, C)`` is a ``ValueError``.
    """
    op = "ctc_loss"
    lp = float_tensor(op, "log_probs", log_probs)
    _check_reduction(op, reduction)
    unbatched = lp.ndim == 2
    if unbatched:
        lp = lp.reshape(lp.shape[0], 1, lp.shape[1])
        tg = _int_vector(op, "targets", targets)
        if tg.ndim != 1:
            raise ValueError(f"{op}: unbatched log_probs {log_probs.shape} take 1-d targets, "
                             f"got shape {tg.shape}")
        targets = tg[None, :]
    elif lp.ndim != 3:
        raise ValueError(f"{op}: log_probs must be (T, N, C) or (T, C), got shape {lp.shape}")
    t_max, n, c = lp.shape
    blank = integer(op, "blank", blank, minimum=0)
    if blank >= c:
        raise ValueError(f"{op}: blank must be in [0, {c}) (log_probs has {c} classes), got "
                         f"{blank}")
    padded, il, tl = _ctc_args(op, lp, targets, input_lengths, target_lengths, blank)

    # the extended targets: blank, l1, blank, l2, ..., blank (length 2S + 1)
    s_max = padded.shape[1]
    width = 2 * s_max + 1
    ext = np.full((n, width), blank, dtype=np.int64)
    ext[:, 1::2] = padded
    skip = np.zeros((n, width), dtype=bool)  # may the path jump from s - 2 to s?
    skip[:, 2:] = (ext[:, 2:] != blank) & (ext[:, 2:] != ext[:, :-2])
    start = np.zeros((n, width), dtype=bool)
    start[:, 0] = True
    if width > 1:
        start[:, 1] = tl > 0

    def dev(a: np.ndarray) -> Tensor:
        return Tensor._make(mdev.asarray(a, like=lp.data))

    def log_zero(shape: tuple[int, ...]) -> Tensor:
        return Tensor._make(mdev.asarray(np.full(shape, _LOG_ZERO, dtype=lp.dtype),
                                         like=lp.data))

    if t_max == 0:
        emit = None
    else:
        emit = lp[:, np.arange(n)[:, None], ext]  # (T, N, 2S + 1): log p of each label
    # alpha at t = 0 for samples with frames; an empty input has probability 1 of the empty
    # alignment (position 0), so its alpha is log 1 there
    empty_start = np.where(np.arange(width) == 0, 0.0, _LOG_ZERO) * np.ones((n, 1))
    alpha = dev(empty_start.astype(lp.dtype))
    if emit is not None:
        alpha = where(dev(start & (il > 0)[:, None]), emit[0], alpha)
    zero_col = log_zero((n, 1))
    zero_two = log_zero((n, min(2, width)))
    skip_t = dev(skip)
    for t in range(1, int(il.max(initial=0))):
        stay = alpha
        step = cat([zero_col, alpha[:, :-1]], dim=1)
        jump = cat([zero_two, alpha[:, :-2]], dim=1) if width > 2 else zero_two
        jump = where(skip_t, jump, _LOG_ZERO)
        new = logsumexp(stack([stay, step, jump], dim=0), dim=0) + emit[t]
        alpha = where(dev((il > t)[:, None]), new, alpha)
    # end in the last label or the trailing blank
    rows = np.arange(n)
    last = alpha[rows, 2 * tl]
    prev = where(dev(tl > 0), alpha[rows, np.maximum(2 * tl - 1, 0)], _LOG_ZERO)
    log_likelihood = logsumexp(stack([last, prev], dim=0), dim=0)
    impossible = log_likelihood.detach() < _LOG_ZERO / 2
    loss = where(impossible, 0.0 if zero_infinity else math.inf, -log_likelihood)
    if reduction == "mean":
        loss = loss / dev(np.maximum(tl, 1).astype(lp.dtype))
    if unbatched:
        loss = loss.reshape(())
    return _reduce(loss, reduction)
