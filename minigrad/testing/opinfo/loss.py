"""Losses: class-index and pairwise samples over every reduction; references in plain NumPy,
written from the definitions."""

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
]
