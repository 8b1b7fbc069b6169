"""Softmax and losses (PyTorch names, argument orders and defaults).

Kernel-backed Functions, each with a first-order backward that is itself a kernel Function whose
own backward is written with Tensor ops (so ``create_graph=True`` works to any order):

    Softmax          y = softmax(x)              dx = SoftmaxBackward(g, y)
    SoftmaxBackward  gx = y * (g - sum(g*y))     dg = SoftmaxBackward(gg, y), dy: Tensor ops
    LogSoftmax       y = log_softmax(x)          dx = LogSoftmaxBackward(g, y)
    LogSoftmaxBackward  gx = g - exp(y)*sum(g)   dg, dy: Tensor ops
    CrossEntropy     fused log-softmax + NLL     dx = CrossEntropyGrad(g_rows, x)
    CrossEntropyGrad one kernel pass             dg, dx: Tensor ops through Softmax

``nll_loss``, ``mse_loss``, ``l1_loss``, ``binary_cross_entropy(_with_logits)`` are compositions
of Tensor ops (cheap, and differentiable for free).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from minigrad import _device as mdev
from minigrad.autograd import Function
from minigrad.ops.activation import Activation
from minigrad.ops.kernels import kernels_for
from minigrad.ops.registry import OpInfo, Sample, register
from minigrad.tensor import Tensor

__all__ = [
    "softmax",
    "log_softmax",
    "cross_entropy",
    "nll_loss",
    "mse_loss",
    "l1_loss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
]

_REDUCTIONS = ("none", "mean", "sum")


# ------------------------------------------------------------------------------------------------
# softmax / log_softmax along any dim: the kernels work on rows, so the dim is moved last


def _last(a: np.ndarray, dim: int) -> np.ndarray:
    return a if dim == a.ndim - 1 else np.moveaxis(a, dim, -1)


def _back(a: np.ndarray, dim: int) -> np.ndarray:
    return a if dim == a.ndim - 1 else np.moveaxis(a, -1, dim)


class Softmax(Function):
    @staticmethod
    def forward(ctx, x, *, dim: int):
        y = _back(kernels_for(x.data).softmax.softmax_forward(_last(x.data, dim)), dim)
        ctx.save_for_backward(y)
        ctx.dim = dim
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return SoftmaxBackward.apply(g, y, dim=ctx.dim)


class SoftmaxBackward(Function):
    """gx = y * (g - sum(g * y, dim)) for the softmax output y."""

    @staticmethod
    def forward(ctx, g, y, *, dim: int):
        ctx.save_for_backward(g, y)
        ctx.dim = dim
        gy = g.data.astype(y.dtype, copy=False)
        K = kernels_for(gy).softmax
        return _back(K.softmax_backward(_last(gy, dim), _last(y.data, dim)), dim)

    @staticmethod
    def backward(ctx, gg):
        g, y = ctx.saved_tensors
        d = ctx.dim
        need_g, need_y = ctx.needs_input_grad
        # the map g -> gx is symmetric, so its adjoint is itself
        dg = SoftmaxBackward.apply(gg, y, dim=d) if need_g else None
        dy = None
        if need_y:
            dy = gg * (g - (g * y).sum(axis=d, keepdims=True)) - g * (gg * y).sum(
                axis=d, keepdims=True
            )
        return dg, dy


class LogSoftmax(Function):
    @staticmethod
    def forward(ctx, x, *, dim: int):
        y = _back(kernels_for(x.data).softmax.log_softmax_forward(_last(x.data, dim)), dim)
        ctx.save_for_backward(y)
        ctx.dim = dim
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return LogSoftmaxBackward.apply(g, y, dim=ctx.dim)


class LogSoftmaxBackward(Function):
    """gx = g - exp(y) * sum(g, dim) for the log-softmax output y."""

    @staticmethod
    def forward(ctx, g, y, *, dim: int):
        ctx.save_for_backward(g, y)
        ctx.dim = dim
        gy = g.data.astype(y.dtype, copy=False)
        K = kernels_for(gy).softmax
        return _back(K.log_softmax_backward(_last(gy, dim), _last(y.data, dim)), dim)

    @staticmethod
    def backward(ctx, gg):
        g, y = ctx.saved_tensors
        d = ctx.dim
        need_g, need_y = ctx.needs_input_grad
        p = y.exp()
        dg = gg - (gg * p).sum(axis=d, keepdims=True) if need_g else None
        dy = -gg * p * g.sum(axis=d, keepdims=True) if need_y else None
        return dg, dy


def _float_input(op: str, x: Any) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(x).__name__}")
    if x.dtype not in (np.float32, np.float64):
        raise TypeError(f"{op}: input must be float32 or float64, got {x.dtype}")
    return x


def _dim(op: str, x: Tensor, dim: Any) -> int:
    if dim is None:
        raise TypeError(f"{op}: dim must be given (PyTorch's implicit dim choice is deprecated)")
    nd = max(x.ndim, 1)
    if not isinstance(dim, int | np.integer) or not -nd <= dim < nd:
        raise ValueError(f"{op}: dim {dim} out of range for input of shape {x.shape}")
    return int(dim) % nd


def softmax(input: Tensor, dim: int | None = None) -> Tensor:
    """exp(x) / sum(exp(x)) along ``dim``, shifted by the maximum so nothing overflows."""
    x = _float_input("softmax", input)
    d = _dim("softmax", x, dim)
    if x.ndim == 0:
        return Softmax.apply(x.reshape(1), dim=0).reshape(())
    return Softmax.apply(x, dim=d)


def log_softmax(input: Tensor, dim: int | None = None) -> Tensor:
    """x - logsumexp(x) along ``dim`` (stable for any finite x)."""
    x = _float_input("log_softmax", input)
    d = _dim("log_softmax", x, dim)
    if x.ndim == 0:
        return LogSoftmax.apply(x.reshape(1), dim=0).reshape(())
    return LogSoftmax.apply(x, dim=d)


# ------------------------------------------------------------------------------------------------
# cross-entropy: a fused kernel for (M, C) rows


class CrossEntropy(Function):
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
        return CrossEntropyGrad.apply(g_rows, x, lse=lse.data, **ctx.params)


class CrossEntropyGrad(Function):
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
        p = Softmax.apply(x, dim=1)
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
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


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
    x = _float_input(op, input)
    _check_reduction(op, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{op}: label_smoothing must be in [0, 1], got {label_smoothing}")
    rows, t, c = _rows_and_targets(op, x, target, ignore_index)
    w = _class_weight(op, weight, c, x.dtype)
    loss = CrossEntropy.apply(
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
    x = _float_input(op, input)
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
    x = _float_input(op, input)
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
    """|input - target|, reduced; gradient 0 where input == target."""
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
    sp = Activation.apply(-x, name="softplus", a=1.0, b=math.inf)  # = -log sigmoid(x)
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


class BinaryCrossEntropy(Function):
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
    loss = BinaryCrossEntropy.apply(x, t)
    if weight is not None:
        w = (
            weight
            if isinstance(weight, Tensor)
            else Tensor._make(mdev.asarray(weight, x.dtype, like=x.data))
        )
        loss = loss * w
    return _reduce(loss, reduction)


# ------------------------------------------------------------------------------------------------
# Registry: references in plain NumPy, written from the definitions


def _np_log_softmax(x, dim):
    m = x.max(axis=dim, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=dim, keepdims=True))


def _np_cross_entropy(
    x, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0
):
    c = x.shape[1]
    xr = np.moveaxis(x, 1, -1).reshape(-1, c)
    t = target.reshape(-1)
    w = np.ones(c) if weight is None else weight
    losses, wsum = [], 0.0
    for i in range(t.size):
        if t[i] == ignore_index:
            losses.append(0.0)
            continue
        logp = _np_log_softmax(xr[i], 0)
        nll = -w[t[i]] * logp[t[i]]
        smooth = -(w * logp).sum() / c
        losses.append((1 - label_smoothing) * nll + label_smoothing * smooth)
        wsum += w[t[i]]
    losses = np.array(losses)
    if reduction == "none":
        return losses.reshape(target.shape)
    return losses.sum() if reduction == "sum" else losses.sum() / wsum


def _np_nll(x, target, weight=None, ignore_index=-100, reduction="mean"):
    c = x.shape[1]
    xr = np.moveaxis(x, 1, -1).reshape(-1, c)
    t = target.reshape(-1)
    w = np.ones(c) if weight is None else weight
    losses = np.array([0.0 if ti == ignore_index else -w[ti] * xr[i, ti] for i, ti in enumerate(t)])
    if reduction == "none":
        return losses.reshape(target.shape)
    wsum = sum(w[ti] for ti in t if ti != ignore_index)
    return losses.sum() if reduction == "sum" else losses.sum() / wsum


def _np_bce_logits(x, t, weight=None, reduction="mean", pos_weight=None):
    p = 1 / (1 + np.exp(-x))
    pw = 1.0 if pos_weight is None else pos_weight
    loss = -(pw * t * np.log(p) + (1 - t) * np.log(1 - p))
    if weight is not None:
        loss = loss * weight
    return {"none": loss, "sum": loss.sum(), "mean": loss.mean()}[reduction]


def _dim_samples():
    from hypothesis import strategies as st

    from minigrad.testing import strategies as S

    @st.composite
    def draw(d):
        x = d(S.arrays(S.shapes(min_dims=1, max_dims=3), lo=-3, hi=3))
        return Sample((x,), {"dim": d(st.integers(-x.ndim, x.ndim - 1))})

    return draw()


def _ce_samples(kind: str):
    def strategy():
        from hypothesis import strategies as st
        from hypothesis.extra import numpy as hnp

        from minigrad.testing import strategies as S

        @st.composite
        def draw(d):
            n, c = d(st.integers(1, 4)), d(st.integers(2, 5))
            extra = d(st.sampled_from([(), (), (2,)]))
            x = d(S.arrays((n, c, *extra), lo=-3, hi=3))
            t = d(hnp.arrays(np.int64, (n, *extra), elements=st.integers(0, c - 1)))
            kwargs: dict[str, Any] = {"reduction": d(st.sampled_from(_REDUCTIONS))}
            if d(st.booleans()):
                t.flat[0] = -100  # one ignored target
            if kind == "ce":
                kwargs["label_smoothing"] = d(st.sampled_from([0.0, 0.0, 0.2]))
            args: tuple = (x, t)
            if d(st.booleans()):
                args = (x, t, d(S.arrays((c,), lo=0.5, hi=2.0)))
            if kwargs["reduction"] == "mean" and not (t != -100).any():
                t.flat[0] = 0
            return Sample(args, kwargs, grad_args=(0,))

        return draw()

    return strategy


def _pair_samples(kind: str):
    def strategy():
        from hypothesis import strategies as st

        from minigrad.testing import strategies as S

        @st.composite
        def draw(d):
            shape = d(S.shapes(min_dims=1, max_dims=3))
            red = d(st.sampled_from(_REDUCTIONS))
            if kind == "bce_logits":
                x = d(S.arrays(shape, lo=-4, hi=4))
                t = d(S.arrays(shape, lo=0, hi=1))
                kwargs: dict[str, Any] = {"reduction": red}
                if d(st.booleans()):
                    kwargs["pos_weight"] = d(S.arrays(shape[-1:], lo=0.5, hi=3))
                return Sample((x, t), kwargs, grad_args=(0, 1))
            if kind == "bce":
                x = d(S.arrays(shape, lo=0.05, hi=0.95))
                t = d(S.arrays(shape, lo=0, hi=1))
                return Sample((x, t), {"reduction": red}, grad_args=(0, 1))
            x = d(S.arrays(shape))
            t = d(S.arrays(shape))
            if kind == "l1":
                t = x + S.push_away(t - x, (0.0,), 0.05)  # |x - t| has a kink at 0
            return Sample((x, t), {"reduction": red})

        return draw()

    return strategy


register(
    OpInfo("softmax", softmax, _dim_samples, ref=lambda x, dim: np.exp(_np_log_softmax(x, dim)))
)
register(OpInfo("log_softmax", log_softmax, _dim_samples, ref=_np_log_softmax))
register(OpInfo("cross_entropy", cross_entropy, _ce_samples("ce"), ref=_np_cross_entropy))
register(OpInfo("nll_loss", nll_loss, _ce_samples("nll"), ref=_np_nll))
register(
    OpInfo(
        "mse_loss",
        mse_loss,
        _pair_samples("mse"),
        ref=lambda x, t, reduction: _reduce_np((x - t) ** 2, reduction),
    )
)
register(
    OpInfo(
        "l1_loss",
        l1_loss,
        _pair_samples("l1"),
        ref=lambda x, t, reduction: _reduce_np(np.abs(x - t), reduction),
        kinks="input == target: gradient 0",
    )
)
register(
    OpInfo(
        "binary_cross_entropy_with_logits",
        binary_cross_entropy_with_logits,
        _pair_samples("bce_logits"),
        ref=_np_bce_logits,
    )
)
register(
    OpInfo(
        "binary_cross_entropy",
        binary_cross_entropy,
        _pair_samples("bce"),
        ref=lambda x, t, reduction: _reduce_np(
            -(t * np.log(x) + (1 - t) * np.log(1 - x)), reduction
        ),
    )
)


def _reduce_np(a, reduction):
    return {"none": a, "sum": a.sum(), "mean": a.mean()}[reduction]
