"""Reductions over None, one or several axes, with and without keepdims; NumPy as the reference."""

from __future__ import annotations

import numpy as np

from minigrad.ops import reduce as R  # R.max, R.sum: no shadowed builtins
from minigrad.ops.elementwise import SqrtFn
from minigrad.ops.reduce import MaxMinDimFn, MaxMinFn
from minigrad.testing import strategies as S
from minigrad.testing.opinfo.core import OpInfo, Sample


def _reduction(distinct: bool = False, min_reduced: int = 1):
    return lambda: S.reduction_samples(distinct=distinct, min_reduced=min_reduced)


def _one_axis(strategy):
    """The samples of ``strategy`` with a single int axis (``max(x, dim)`` takes one)."""

    def pick(s: Sample) -> Sample:
        axis = s.kwargs["axis"]
        axis = -1 if axis is None else axis[0] if isinstance(axis, tuple) else axis
        return Sample(s.args, {**s.kwargs, "axis": axis})

    return lambda: strategy().map(pick)


def _np_kw(fn, **extra):
    """NumPy reference taking our (axis, keepdims) sample keywords."""
    return lambda a, axis=None, keepdims=False: fn(a, axis=axis, keepdims=keepdims, **extra)


def _ref_lse(a, axis=None, keepdims=False):
    m = np.max(a, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


def _ref_sum_to(a, shape):
    lead = a.ndim - len(shape)
    out = a.sum(axis=tuple(range(lead))) if lead else a
    for i, s in enumerate(shape):
        if s == 1:
            out = out.sum(axis=i, keepdims=True)
    return out


op_db = [
    OpInfo("sum", R.sum, _reduction(), ref=_np_kw(np.sum)),
    OpInfo("mean", R.mean, _reduction(), ref=_np_kw(np.mean)),
    OpInfo("max", R.max, _reduction(distinct=True), ref=_np_kw(np.max), kinks=MaxMinFn.kinks),
    OpInfo("min", R.min, _reduction(distinct=True), ref=_np_kw(np.min), kinks=MaxMinFn.kinks),
    # max(x, dim) / min(x, dim=d): PyTorch's (values, indices); the values are differentiated
    OpInfo("max_dim", lambda a, axis, keepdims: R.max(a, axis, keepdims).values,
           _one_axis(_reduction(distinct=True)), ref=_np_kw(np.max), kinks=MaxMinDimFn.kinks),
    OpInfo("min_dim", lambda a, axis, keepdims: R.min(a, dim=axis, keepdim=keepdims).values,
           _one_axis(_reduction(distinct=True)), ref=_np_kw(np.min), kinks=MaxMinDimFn.kinks),
    OpInfo("var", lambda a, axis=None, keepdims=False: R.var(a, axis, keepdims, ddof=0),
           _reduction(), ref=_np_kw(np.var)),
    OpInfo("var_unbiased", R.var, _reduction(min_reduced=2), ref=_np_kw(np.var, ddof=1)),
    # std = sqrt(var): sqrt's kink at a constant input (std = 0)
    OpInfo("std", R.std, _reduction(distinct=True, min_reduced=2), ref=_np_kw(np.std, ddof=1),
           kinks=SqrtFn.kinks),
    OpInfo("logsumexp", R.logsumexp, _reduction(), ref=_ref_lse),
    OpInfo("sum_to", R.sum_to, S.sum_to_samples, ref=_ref_sum_to),
]
