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


# -- issue 14 (h14b): prod, norms, var_mean/std_mean --------------------------------------------
from hypothesis import strategies as st  # noqa: E402

from minigrad.nn.functional import normalize  # noqa: E402
from minigrad.ops.reduce import (  # noqa: E402
    VectorNormFn,
    prod,
    std_mean,
    var_mean,
    vector_norm,
)
from minigrad.testing.opinfo import _draw as D  # noqa: E402


@st.composite
def _prod_samples(draw):
    """Reductions with up to two exact zeros: prod's gradient at zeros (exact to second order
    with at most two zeros per product)."""
    s = draw(S.reduction_samples())
    # nonzero factors stay 0.05 from 0: the gradient's out / x loses all precision for factors
    # near the smallest floats (as PyTorch's); exact zeros take the zero path
    return Sample((D.with_zeros(draw, S.push_away(s.args[0], (0.0,), 0.05)),), s.kwargs)


def _norm_samples(p: float):
    """Values away from 0 (|x|'s kink) for p <= 1, without ties in |x| for p = +-inf."""
    if p in (np.inf, -np.inf):
        def spread(s: Sample) -> Sample:
            a = s.args[0]
            return Sample((np.sign(a + 1e-9) * (np.abs(a) + 0.3),), s.kwargs)

        return lambda: S.reduction_samples(distinct=True).map(spread)
    # away from 0: |x|'s kink (p <= 1), and the norm's kink at a zero vector (a 1-element one)
    return lambda: S.reduction_samples().map(
        lambda s: Sample((S.push_away(s.args[0], (0.0,), 0.1),), s.kwargs))


def _ref_norm(p: float):
    def ref(a, axis=None, keepdims=False):
        m = np.abs(a)
        if p == np.inf:
            return np.max(m, axis=axis, keepdims=keepdims)
        if p == -np.inf:
            return np.min(m, axis=axis, keepdims=keepdims)
        return np.sum(m ** p, axis=axis, keepdims=keepdims) ** (1 / p)

    return ref


op_db += [
    OpInfo("prod", lambda a, axis, keepdims: prod(a, axis, keepdims), _prod_samples,
           ref=_np_kw(np.prod)),
    *[OpInfo(f"vector_norm_{p}", lambda a, axis, keepdims, p=p: vector_norm(a, p, axis, keepdims),
             _norm_samples(p), ref=_ref_norm(p), kinks=VectorNormFn.kinks)
      for p in (1, 2, 3, 0.5, np.inf, -np.inf)],
    OpInfo("normalize", lambda a, axis, keepdims: normalize(a, 2.0, axis),
           _one_axis(_norm_samples(1)), ref=lambda a, axis, keepdims: a / np.maximum(
               np.sqrt(np.sum(a * a, axis=axis, keepdims=True)), 1e-12)),
    OpInfo("var_mean", lambda a, axis, keepdims: (lambda vm: vm[0] + 3 * vm[1])(
        var_mean(a, axis, keepdims)), _reduction(min_reduced=2),
        ref=lambda a, axis=None, keepdims=False: np.var(a, axis=axis, ddof=1, keepdims=keepdims)
        + 3 * np.mean(a, axis=axis, keepdims=keepdims)),
    OpInfo("std_mean", lambda a, axis, keepdims: (lambda sm: sm[0] + 3 * sm[1])(
        std_mean(a, axis, keepdims)), _reduction(distinct=True, min_reduced=2),
        ref=lambda a, axis=None, keepdims=False: np.std(a, axis=axis, ddof=1, keepdims=keepdims)
        + 3 * np.mean(a, axis=axis, keepdims=keepdims), kinks=SqrtFn.kinks),
]
