"""Normalization: batch norm (evaluation and training), instance, layer, group and RMS norm; the
references are the definitions in NumPy (statistics by explicit reductions, no minigrad code)."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from minigrad.ops.normalization import (
    BatchNormTrainFn,
    GroupNormFn,
    LayerNormFn,
    batch_norm,
    group_norm,
    instance_norm,
    layer_norm,
    rms_norm,
)
from minigrad.testing import strategies as S
from minigrad.testing.opinfo.core import OpInfo, Sample


def _ref(x, running_mean, running_var, weight=None, bias=None, training=False, eps=1e-5):
    c = x.shape[1]
    axes = (0, *range(2, x.ndim))
    cs = (1, c) + (1,) * (x.ndim - 2)
    if training:
        n = x.size // c
        mean = x.sum(axis=axes) / n
        var = ((x - mean.reshape(cs)) ** 2).sum(axis=axes) / n
    else:
        mean, var = running_mean, running_var
    y = (x - mean.reshape(cs)) / np.sqrt(var.reshape(cs) + eps)
    if weight is not None:
        y = y * weight.reshape(cs)
    if bias is not None:
        y = y + bias.reshape(cs)
    return y


def _samples(training: bool):
    @st.composite
    def draw(d):
        ndim = d(st.integers(2, 4))
        shape = [d(st.integers(2 if training else 1, 3)), d(st.integers(1, 3))]
        shape += [d(st.integers(1, 3)) for _ in range(ndim - 2)]
        x = d(S.arrays(tuple(shape), lo=-3, hi=3))
        if training and np.ptp(x.reshape(shape[0], shape[1], -1), axis=(0, 2)).min() < 0.5:
            # a near-constant channel has variance ~0: 1/sqrt(var + eps) is too steep for finite
            # differences, so spread the values
            x = x + np.arange(x.size).reshape(x.shape) * 0.3
        c = shape[1]
        rm = d(S.arrays((c,), lo=-1, hi=1))
        rv = d(S.arrays((c,), lo=0.5, hi=2))
        affine = d(st.booleans())
        args = (x, rm, rv) + ((d(S.arrays((c,))), d(S.arrays((c,)))) if affine else ())
        grad_args = (0, 3, 4)
        return Sample(args, {"training": training, "eps": 1e-3}, grad_args=grad_args)

    return draw()


def _spread_rows(x: np.ndarray, rows: int) -> np.ndarray:
    """Spread each of ``rows`` equal slices of ``x`` so its variance is not ~0: a near-constant row
    makes 1/sqrt(var + eps) too steep for finite differences."""
    r = x.reshape(rows, -1)
    if r.shape[1] > 1 and np.ptp(r, axis=1).min() < 0.5:
        x = x + np.arange(x.size).reshape(x.shape) * 0.3
    return x


def _ref_normalize(x, axes, eps):
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + eps)


def _ref_layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    y = _ref_normalize(x, tuple(range(x.ndim - len(shape), x.ndim)), eps)
    y = y if weight is None else y * weight
    return y if bias is None else y + bias


def _ref_group_norm(x, num_groups, weight=None, bias=None, eps=1e-5):
    n, c = x.shape[:2]
    y = _ref_normalize(x.reshape(n, num_groups, -1), (2,), eps).reshape(x.shape)
    cs = (1, c) + (1,) * (x.ndim - 2)
    y = y if weight is None else y * weight.reshape(cs)
    return y if bias is None else y + bias.reshape(cs)


def _ref_instance_norm(x, running_mean=None, running_var=None, weight=None, bias=None,
                       use_input_stats=True, momentum=0.1, eps=1e-5):
    cs = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    if use_input_stats:
        y = _ref_normalize(x, tuple(range(2, x.ndim)), eps)
    else:
        y = (x - running_mean.reshape(cs)) / np.sqrt(running_var.reshape(cs) + eps)
    y = y if weight is None else y * weight.reshape(cs)
    return y if bias is None else y + bias.reshape(cs)


def _ref_rms_norm(x, normalized_shape, weight=None, eps=None):
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    eps = np.finfo(x.dtype).eps if eps is None else eps
    ms = (x * x).mean(axis=tuple(range(x.ndim - len(shape), x.ndim)), keepdims=True)
    y = x / np.sqrt(ms + eps)
    return y if weight is None else y * weight


@st.composite
def _layer_norm_samples(d, rms: bool = False):
    lead = tuple(d(st.integers(1, 3)) for _ in range(d(st.integers(0, 2))))
    norm = tuple(d(st.integers(1, 4)) for _ in range(d(st.integers(1, 2))))
    x = d(S.arrays(lead + norm, lo=-3, hi=3))
    rows = int(np.prod(lead)) if lead else 1
    if rms:  # mean(x^2) ~ 0 is as steep as a constant row
        x = np.where(np.abs(x) < 0.3, 0.3, x)
    else:
        x = _spread_rows(x, rows)
    shape = norm[0] if len(norm) == 1 and d(st.booleans()) else norm
    w = d(S.arrays(norm)) if d(st.booleans()) else None
    if rms:
        eps = d(st.sampled_from([None, 1e-3]))
        return Sample((x, shape, w), {"eps": eps})
    b = d(S.arrays(norm)) if d(st.booleans()) else None
    return Sample((x, shape, w, b), {"eps": 1e-3})


@st.composite
def _group_norm_samples(d):
    groups, per = d(st.integers(1, 3)), d(st.integers(1, 2))
    n = d(st.integers(1, 3))
    spatial = tuple(d(st.integers(1, 3)) for _ in range(d(st.integers(0, 2))))
    x = _spread_rows(d(S.arrays((n, groups * per, *spatial), lo=-3, hi=3)), n * groups)
    c = groups * per
    w = d(S.arrays((c,))) if d(st.booleans()) else None
    b = d(S.arrays((c,))) if d(st.booleans()) else None
    return Sample((x, groups, w, b), {"eps": 1e-3})


@st.composite
def _instance_norm_samples(d):
    n, c = d(st.integers(1, 3)), d(st.integers(1, 3))
    spatial = (d(st.integers(2, 4)),) + tuple(d(st.integers(1, 3))
                                              for _ in range(d(st.integers(0, 1))))
    x = _spread_rows(d(S.arrays((n, c, *spatial), lo=-3, hi=3)), n * c)
    use_input_stats = d(st.booleans())
    rm = d(S.arrays((c,), lo=-1, hi=1))
    rv = d(S.arrays((c,), lo=0.5, hi=2))
    stats = (rm, rv) if not use_input_stats or d(st.booleans()) else (None, None)
    affine = (d(S.arrays((c,))), d(S.arrays((c,)))) if d(st.booleans()) else (None, None)
    return Sample((x, *stats, *affine), {"use_input_stats": use_input_stats, "eps": 1e-3},
                  grad_args=(0, 3, 4))


op_db = [
    OpInfo("batch_norm", batch_norm, lambda: _samples(False), ref=_ref),
    OpInfo("batch_norm_train", batch_norm, lambda: _samples(True), ref=_ref,
           kinks=BatchNormTrainFn.kinks),
    OpInfo("layer_norm", layer_norm, _layer_norm_samples, ref=_ref_layer_norm,
           kinks=LayerNormFn.kinks),
    OpInfo("group_norm", group_norm, _group_norm_samples, ref=_ref_group_norm,
           kinks=GroupNormFn.kinks),
    OpInfo("instance_norm", instance_norm, _instance_norm_samples, ref=_ref_instance_norm,
           kinks=BatchNormTrainFn.kinks),
    OpInfo("rms_norm", rms_norm, lambda: _layer_norm_samples(rms=True), ref=_ref_rms_norm,
           kinks="an all-zero row: gradients scale like 1/sqrt(eps)"),
]
