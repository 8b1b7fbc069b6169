"""Losses and distances: class-index, class-probability and pairwise samples over every
reduction; references in plain NumPy, written from the definitions (loops where the definition
is per sample)."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from minigrad.ops import loss as L
from minigrad.ops.elementwise import AbsFn
from minigrad.testing import strategies as S
from minigrad.testing.opinfo.core import OpInfo, Sample
from minigrad.testing.opinfo.softmax import np_log_softmax

REDUCTIONS = ("none", "mean", "sum")


def _reduce_np(a, reduction):
    return {"none": a, "sum": a.sum(), "mean": a.mean()}[reduction]


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
        logp = np_log_softmax(xr[i], 0)
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
    return _reduce_np(loss, reduction)


def _ce_samples(kind: str):
    def strategy():
        @st.composite
        def draw(d):
            n, c = d(st.integers(1, 4)), d(st.integers(2, 5))
            extra = d(st.sampled_from([(), (), (2,)]))
            x = d(S.arrays((n, c, *extra), lo=-3, hi=3))
            t = d(hnp.arrays(np.int64, (n, *extra), elements=st.integers(0, c - 1)))
            kwargs: dict[str, Any] = {"reduction": d(st.sampled_from(REDUCTIONS))}
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
        @st.composite
        def draw(d):
            shape = d(S.shapes(min_dims=1, max_dims=3))
            red = d(st.sampled_from(REDUCTIONS))
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


# -- class probabilities, KL, Huber ---------------------------------------------------------------


def _np_ce_probs(x, t, weight=None, reduction="mean", label_smoothing=0.0):
    c = x.shape[1] if x.ndim >= 2 else x.shape[0]
    dim = 1 if x.ndim >= 2 else 0
    logp = np_log_softmax(x, dim)
    t = t * (1 - label_smoothing) + label_smoothing / c
    w = np.ones(c) if weight is None else weight
    ws = w.reshape((1, c) + (1,) * (x.ndim - 2)) if x.ndim >= 2 else w
    loss = -(logp * t * ws).sum(axis=dim)
    if reduction == "mean":
        return loss.sum() / (x.size / c)
    return _reduce_np(loss, reduction)


@st.composite
def _ce_prob_samples(d):
    shape = d(st.sampled_from([(3,), (2, 4), (3, 2), (2, 3, 2)]))
    x = d(S.arrays(shape, lo=-3, hi=3))
    t = d(S.arrays(shape, lo=0.05, hi=1.0))
    t = t / t.sum(axis=1 if len(shape) >= 2 else 0, keepdims=True)
    c = shape[1] if len(shape) >= 2 else shape[0]
    kwargs: dict[str, Any] = {"reduction": d(st.sampled_from(REDUCTIONS)),
                              "label_smoothing": d(st.sampled_from([0.0, 0.1]))}
    weight = d(S.arrays((c,), lo=0.5, hi=2.0)) if d(st.booleans()) else None
    return Sample((x, t, weight), kwargs, grad_args=(0, 1))


def _np_kl_div(x, t, reduction="mean", log_target=False):
    loss = np.exp(t) * (t - x) if log_target else t * (np.log(t) - x)
    if reduction == "batchmean":
        return loss.sum() / x.shape[0]
    return _reduce_np(loss, reduction)


@st.composite
def _kl_samples(d):
    shape = d(S.shapes(min_dims=1, max_dims=3))
    log_target = d(st.booleans())
    x = d(S.arrays(shape, lo=-3, hi=0))
    t = d(S.arrays(shape, lo=-3, hi=0)) if log_target else d(S.arrays(shape, lo=0.05, hi=1))
    # "mean" warns (as PyTorch); its value is tested in tests/test_losses.py
    kwargs = {"reduction": d(st.sampled_from(["none", "sum", "batchmean"])),
              "log_target": log_target}
    return Sample((x, t), kwargs)


def _np_huber(x, t, reduction="mean", delta=1.0, weight=None):
    a = np.abs(x - t)
    loss = np.where(a < delta, 0.5 * a ** 2, delta * (a - 0.5 * delta))
    return _reduce_np(loss if weight is None else loss * weight, reduction)


def _np_smooth_l1(x, t, reduction="mean", beta=1.0):
    a = np.abs(x - t)
    return _reduce_np(np.where(a < beta, 0.5 * a ** 2 / beta, a - 0.5 * beta), reduction)


def _huber_samples(kind: str):
    @st.composite
    def draw(d):
        shape = d(S.shapes(min_dims=1, max_dims=3))
        width = d(st.sampled_from([0.5, 1.0, 1.5]))
        x = d(S.arrays(shape, lo=-3, hi=3))
        t = d(S.arrays(shape, lo=-3, hi=3))
        # |x - t| == width: the second derivative jumps
        t = x + S.push_away(t - x, (width, -width), 0.05)
        red = d(st.sampled_from(REDUCTIONS))
        if kind == "smooth_l1":
            return Sample((x, t), {"reduction": red, "beta": width})
        weight = d(S.arrays(shape, lo=0, hi=2)) if d(st.booleans()) else None
        return Sample((x, t, red, width, weight))  # huber_loss(input, target, reduction, ...)

    return draw


# -- margin losses and distances -----------------------------------------------------------------


def _np_margin_ranking(a, b, y, margin=0.0, reduction="mean"):
    return _reduce_np(np.maximum(0, -y * (a - b) + margin), reduction)


@st.composite
def _margin_ranking_samples(d):
    shape = d(S.shapes(min_dims=1, max_dims=2))
    a, b = d(S.arrays(shape)), d(S.arrays(shape))
    y = d(hnp.arrays(np.float64, shape, elements=st.sampled_from([-1.0, 1.0])))
    margin = d(st.sampled_from([0.0, 0.5]))
    gap = -y * (a - b) + margin
    a = a - y * (S.push_away(gap, (0.0,), 0.05) - gap)  # moves the gap away from the hinge
    return Sample((a, b, y), {"margin": margin, "reduction": d(st.sampled_from(REDUCTIONS))},
                  grad_args=(0, 1))


def _np_cos_eps(a, b, dim):
    eps = 1e-12
    return (a * b).sum(dim) / np.sqrt(((a * a).sum(dim) + eps) * ((b * b).sum(dim) + eps))


def _np_cosine_embedding(a, b, y, margin=0.0, reduction="mean"):
    cos = _np_cos_eps(a, b, y.ndim)
    loss = np.where(y == 1, 1 - cos, 0.0) + np.where(y == -1, np.maximum(0, cos - margin), 0.0)
    return _reduce_np(loss, reduction)


@st.composite
def _cosine_embedding_samples(d):
    batched = d(st.booleans())
    n, dim = d(st.integers(1, 3)), d(st.integers(1, 4))
    shape = (n, dim) if batched else (dim,)
    a = d(S.arrays(shape, away_from=(0.0,), gap=0.2))
    b = d(S.arrays(shape, away_from=(0.0,), gap=0.2))
    y = d(hnp.arrays(np.int64, shape[:-1], elements=st.sampled_from([-1, 1])))
    margin = d(st.sampled_from([-0.5, 0.0, 0.5]))
    if (np.abs(_np_cos_eps(a, b, y.ndim) - margin) < 0.05).any():
        margin += 0.13  # keep cos - margin away from the hinge
    return Sample((a, b, y), {"margin": margin, "reduction": d(st.sampled_from(REDUCTIONS))})


def _np_norm(v, p, axis=-1, keepdims=False):
    if np.isinf(p):
        return np.abs(v).max(axis=axis, keepdims=keepdims)
    return (np.abs(v) ** p).sum(axis=axis, keepdims=keepdims) ** (1 / p)


def _np_pairwise(a, b, p=2.0, eps=1e-6, keepdim=False):
    d = a - b + eps
    return _np_norm(d, p, axis=d.ndim - 1, keepdims=keepdim)


def _spread(v: np.ndarray) -> np.ndarray:
    """Distinct, nonzero components: no ties for the inf-norm, no zero for the 1-norm."""
    return v + (np.arange(v.size).reshape(v.shape) + 1) * 0.071


@st.composite
def _pairwise_samples(d):
    shape = d(S.shapes(min_dims=1, max_dims=2))
    a = d(S.arrays(shape))
    b = _spread(d(S.arrays(shape)) - 5.0)  # a - b stays away from 0 in every component
    if len(shape) == 2 and d(st.booleans()):
        b = b[:1]  # broadcast over rows
    p = d(st.sampled_from([1.0, 2.0, 3.0, float("inf")]))
    return Sample((a, b), {"p": p, "keepdim": d(st.booleans())})


def _np_triplet(a, pos, neg, margin=1.0, p=2.0, eps=1e-6, swap=False, reduction="mean"):
    dp = _np_pairwise(a, pos, p, eps)
    dn = _np_pairwise(a, neg, p, eps)
    if swap:
        dn = np.minimum(dn, _np_pairwise(pos, neg, p, eps))
    return _reduce_np(np.maximum(0, margin + dp - dn), reduction)


@st.composite
def _triplet_samples(d):
    shape = d(st.sampled_from([(3,), (2, 3), (3, 2)]))
    a = d(S.arrays(shape))
    pos = _spread(d(S.arrays(shape)) + 4.0)
    neg = _spread(d(S.arrays(shape)) - 4.0) * 1.3
    p = d(st.sampled_from([1.0, 2.0, float("inf")]))
    swap = d(st.booleans())
    margin = d(st.sampled_from([0.5, 1.0, 6.0]))
    kwargs = {"margin": margin, "p": p, "swap": swap}
    dn, dpn = _np_pairwise(a, neg, p), _np_pairwise(pos, neg, p)
    raw = margin + _np_pairwise(a, pos, p) - (np.minimum(dn, dpn) if swap else dn)
    if (np.abs(raw) < 0.05).any():
        kwargs["margin"] = margin + 0.37  # keep away from the hinge (swap ties: rare, rejected)
    return Sample((a, pos, neg), {**kwargs, "reduction": d(st.sampled_from(REDUCTIONS))})


def _np_cosine(a, b, dim=1, eps=1e-8):
    a, b = np.broadcast_arrays(a, b)
    na = np.maximum(np.sqrt((a * a).sum(dim, keepdims=True)), eps)
    nb = np.maximum(np.sqrt((b * b).sum(dim, keepdims=True)), eps)
    return (a / na * b / nb).sum(dim)


@st.composite
def _cosine_samples(d):
    shape = d(S.shapes(min_dims=1, max_dims=3))
    dim = d(st.integers(-len(shape), len(shape) - 1))
    a = _spread(d(S.arrays(shape)))
    b = _spread(d(S.arrays(shape))[..., ::-1].copy())
    if d(st.booleans()):
        b = b[(slice(0, 1),) + (slice(None),) * (len(shape) - 1)]  # broadcast along axis 0
    return Sample((a, b), {"dim": dim})


# -- CTC -----------------------------------------------------------------------------------------


def _np_ctc(lp, targets, input_lengths, target_lengths, blank=0, reduction="mean",
            zero_infinity=False):
    """The CTC forward recursion in probabilities (not logs), one sample at a time."""
    losses = []
    for n in range(lp.shape[1]):
        frames, labels = int(input_lengths[n]), list(targets[n, :target_lengths[n]])
        ext = [blank]
        for c in labels:
            ext += [c, blank]
        p = np.exp(lp[:frames, n])
        alpha = np.zeros(len(ext))
        alpha[0] = 1.0
        for t in range(frames):
            prev, alpha = alpha, np.zeros(len(ext))
            for s, c in enumerate(ext):
                if t == 0:
                    total = prev[s] if s == 0 else 0.0
                    total += 1.0 if s == 1 else 0.0
                else:
                    total = prev[s] + (prev[s - 1] if s >= 1 else 0.0)
                    if s >= 2 and c != blank and c != ext[s - 2]:
                        total += prev[s - 2]
                alpha[s] = total * p[t, c]
        like = alpha[-1] + (alpha[-2] if len(ext) > 1 else 0.0)
        loss = -np.log(like) if like > 0 else np.inf
        losses.append(0.0 if zero_infinity and np.isinf(loss) else loss)
    losses = np.array(losses)
    if reduction == "mean":
        losses = losses / np.maximum(np.asarray(target_lengths), 1)
    return _reduce_np(losses, reduction)


@st.composite
def _ctc_samples(d):
    t_max, n, c = d(st.integers(1, 6)), d(st.integers(1, 3)), d(st.integers(2, 4))
    blank = d(st.integers(0, c - 1))
    labels = [k for k in range(c) if k != blank]
    lp = d(S.arrays((t_max, n, c))) - 1.0
    target_lengths = np.array([d(st.integers(0, 3)) for _ in range(n)])
    targets = np.array([[d(st.sampled_from(labels)) for _ in range(3)] for _ in range(n)])
    # the shortest input that fits: one frame per label plus one between repeated labels
    need = [int(target_lengths[i] + (np.diff(targets[i, :target_lengths[i]]) == 0).sum())
            for i in range(n)]
    zero_infinity = d(st.booleans())
    input_lengths = np.array([d(st.integers(min(need[i], t_max), t_max)) for i in range(n)])
    if not zero_infinity:  # an infinite loss has no finite differences to compare with
        target_lengths = np.array([tl if need[i] <= t_max else 0
                                   for i, tl in enumerate(target_lengths)])
        input_lengths = np.maximum(input_lengths, np.minimum(need, t_max))
    return Sample((lp, targets, input_lengths, target_lengths),
                  {"blank": blank, "reduction": d(st.sampled_from(REDUCTIONS)),
                   "zero_infinity": zero_infinity}, grad_args=(0,))


op_db = [
    OpInfo("cross_entropy", L.cross_entropy, _ce_samples("ce"), ref=_np_cross_entropy),
    OpInfo("nll_loss", L.nll_loss, _ce_samples("nll"), ref=_np_nll),
    OpInfo("mse_loss", L.mse_loss, _pair_samples("mse"),
           ref=lambda x, t, reduction: _reduce_np((x - t) ** 2, reduction)),
    # |input - target|: abs's kink where input == target
    OpInfo("l1_loss", L.l1_loss, _pair_samples("l1"),
           ref=lambda x, t, reduction: _reduce_np(np.abs(x - t), reduction), kinks=AbsFn.kinks),
    OpInfo("binary_cross_entropy_with_logits", L.binary_cross_entropy_with_logits,
           _pair_samples("bce_logits"), ref=_np_bce_logits),
    OpInfo("binary_cross_entropy", L.binary_cross_entropy, _pair_samples("bce"),
           ref=lambda x, t, reduction: _reduce_np(
               -(t * np.log(x) + (1 - t) * np.log(1 - x)), reduction)),
    OpInfo("cross_entropy_probs", L.cross_entropy, _ce_prob_samples, ref=_np_ce_probs),
    OpInfo("kl_div", L.kl_div, _kl_samples, ref=_np_kl_div),
    OpInfo("huber_loss", L.huber_loss, _huber_samples("huber"), ref=_np_huber,
           kinks="|input - target| == delta: the second derivative jumps"),
    OpInfo("smooth_l1_loss", L.smooth_l1_loss, _huber_samples("smooth_l1"), ref=_np_smooth_l1,
           kinks="|input - target| == beta: the second derivative jumps"),
    OpInfo("margin_ranking_loss", L.margin_ranking_loss, _margin_ranking_samples,
           ref=_np_margin_ranking, kinks="-target * (input1 - input2) + margin == 0 (hinge)"),
    OpInfo("cosine_embedding_loss", L.cosine_embedding_loss, _cosine_embedding_samples,
           ref=_np_cosine_embedding, kinks="cos - margin == 0 for target -1 (hinge)"),
    OpInfo("triplet_margin_loss", L.triplet_margin_loss, _triplet_samples, ref=_np_triplet,
           kinks="d(a, p) - d(a, n) + margin == 0 (hinge); swap: d(a, n) == d(p, n); the "
                 "p-norm's kinks (p = 1: a zero component; p = inf: ties)"),
    OpInfo("cosine_similarity", L.cosine_similarity, _cosine_samples, ref=_np_cosine,
           kinks="a norm equal to eps (the clamp)"),
    OpInfo("pairwise_distance", L.pairwise_distance, _pairwise_samples, ref=_np_pairwise,
           kinks="a zero difference (the norm's cone point); p = 1: a zero component; "
                 "p = inf: ties"),
    OpInfo("ctc_loss", L.ctc_loss, _ctc_samples, ref=_np_ctc,
           kinks="none: smooth in log_probs (an infinite loss has a zero gradient)"),
]
