"""Pooling: samples with distinct values (no window ties) and NumPy-loop references written from
the definitions, not from the kernels."""

from __future__ import annotations

import functools
import itertools
from typing import Any

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from minigrad.ops import pool as P
from minigrad.ops.pool import AdaptiveMaxPool2dFn, MaxPool2dFn
from minigrad.testing import strategies as S
from minigrad.testing.opinfo.core import OpInfo, Sample


def _per_axis(v, n):
    return (v,) * n if isinstance(v, int) else tuple(v)


def pool_output_length(n, k, s, p, d=1, ceil_mode=False):
    """PyTorch's pooling output length along one axis; with ``ceil_mode`` rounded up, but the
    last window must start inside the input or its left padding."""
    span = d * (k - 1) + 1
    if not ceil_mode:
        return (n + 2 * p - span) // s + 1
    out = -(-(n + 2 * p - span) // s) + 1
    return out - 1 if (out - 1) * s >= n + p else out


def _pool_windows(x, spatial, kernel_size, stride, padding, dilation, ceil_mode):
    """Per output position (a tuple of indices): the list of in-range input positions of its
    window (each a tuple), and the window's size counted PyTorch's ``count_include_pad`` way
    (the window clipped to the padded input, padding included)."""
    k = _per_axis(kernel_size, spatial)
    s = k if stride is None else _per_axis(stride, spatial)
    p, d = _per_axis(padding, spatial), _per_axis(dilation, spatial)
    size = x.shape[2:]
    out = tuple(pool_output_length(*a, ceil_mode) for a in zip(size, k, s, p, d))
    windows = {}
    for o in np.ndindex(*out):
        starts = [oo * ss - pp for oo, ss, pp in zip(o, s, p)]
        axes = [[st_ + t * dd for t in range(kk) if 0 <= st_ + t * dd < n]
                for st_, kk, dd, n in zip(starts, k, d, size)]
        padded = int(np.prod([min(st_ + kk, n + pp) - st_
                              for st_, kk, n, pp in zip(starts, k, size, p)]))
        windows[o] = (list(itertools.product(*axes)), padded)
    return out, windows


def ref_max_pool(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                 return_indices=False, spatial=2):
    """Max over each window's in-range inputs (padding never wins)."""
    out, windows = _pool_windows(x, spatial, kernel_size, stride, padding, dilation, ceil_mode)
    y = np.empty(x.shape[:2] + out)
    for o, (taps, _) in windows.items():
        y[(slice(None), slice(None), *o)] = np.max([x[(slice(None), slice(None), *t)]
                                                   for t in taps], axis=0)
    return y


def ref_avg_pool(x, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True, divisor_override=None, spatial=2):
    """Sum of each window's in-range inputs over the window size (padding included or not), or
    over ``divisor_override``."""
    out, windows = _pool_windows(x, spatial, kernel_size, stride, padding, 1, ceil_mode)
    y = np.empty(x.shape[:2] + out)
    for o, (taps, padded) in windows.items():
        total = np.sum([x[(slice(None), slice(None), *t)] for t in taps], axis=0)
        div = divisor_override or (padded if count_include_pad else len(taps))
        y[(slice(None), slice(None), *o)] = total / div
    return y


def ref_adaptive(x, output_size, how):
    """``how`` (mean or max) over PyTorch's adaptive windows: output cell i of an axis of length
    n covers [floor(i*n/m), ceil((i+1)*n/m)), m = its output length."""
    spatial = x.ndim - 2
    out = tuple(x.shape[2 + a] if o is None else o
                for a, o in enumerate(_per_axis(output_size, spatial)))
    y = np.empty(x.shape[:2] + out)
    for o in np.ndindex(*out):
        sl = tuple(slice((i * n) // m, -((-(i + 1) * n) // m))
                   for i, n, m in zip(o, x.shape[2:], out))
        y[(slice(None), slice(None), *o)] = how(x[(slice(None), slice(None), *sl)],
                                               axis=tuple(range(2, x.ndim)))
    return y


def _ref_max_unpool_roundtrip(x, kernel_size):
    """max_unpool2d(max_pool2d(x)): keep each window's maximum in place, zero elsewhere."""
    k = kernel_size
    n, c, h, w = x.shape
    out = np.zeros_like(x)
    for i in range(h // k):
        for j in range(w // k):
            win = x[:, :, i * k : (i + 1) * k, j * k : (j + 1) * k]
            m = win.max(axis=(2, 3), keepdims=True)
            out[:, :, i * k : (i + 1) * k, j * k : (j + 1) * k] += np.where(win == m, win, 0)
    return out


def _distinct(d, shape):
    """Values spaced 0.2 apart in random order (window maxima are unique: no ties)."""
    n = int(np.prod(shape))
    perm = np.asarray(d(st.permutations(range(n))), dtype=np.float64)
    return (perm * 0.2 - 0.1 * n).reshape(shape)


def _pool_samples(kind: str, spatial: int = 2):
    def strategy():
        @st.composite
        def draw(d):
            if kind == "unpool":
                k = d(st.integers(1, 3))
                shape = (d(st.integers(1, 2)), d(st.integers(1, 2)), k * d(st.integers(1, 3)),
                         k * d(st.integers(1, 3)))
                return Sample((_distinct(d, shape),), {"kernel_size": k})
            k = tuple(d(st.integers(1, 3), label="kernel") for _ in range(spatial))
            s = tuple(d(st.integers(1, 3), label="stride") for _ in range(spatial))
            p = tuple(d(st.integers(0, kk // 2), label="padding") for kk in k)
            dil = tuple(d(st.integers(1, 2), label="dilation") if kind == "max" else 1
                        for _ in range(spatial))
            ceil_mode = d(st.booleans(), label="ceil_mode")
            size = tuple(d(st.integers(max(1, dd * (kk - 1) + 1 - 2 * pp), 6), label="size")
                         for kk, pp, dd in zip(k, p, dil))
            shape = (d(st.integers(1, 2)), d(st.integers(1, 2)), *size)

            def form(v):  # 1-d: an int or a 1-tuple; 2-d: the pair
                return v[0] if spatial == 1 and d(st.booleans()) else v

            kwargs: dict[str, Any] = {"kernel_size": form(k), "stride": form(s),
                                      "padding": form(p), "ceil_mode": ceil_mode}
            if kind == "max":
                kwargs["dilation"] = form(dil)
                # a dilated window can step over the whole input (the op refuses it)
                _, windows = _pool_windows(np.zeros(shape), spatial, k, s, p, dil, ceil_mode)
                assume(all(taps for taps, _ in windows.values()))
            if kind == "avg":
                kwargs["count_include_pad"] = d(st.booleans())
                if spatial == 2 and d(st.booleans(), label="divisor_override"):
                    kwargs["divisor_override"] = d(st.integers(1, 5))
            return Sample((_distinct(d, shape),), kwargs)

        return draw()

    return strategy


def _adaptive_samples(spatial: int = 2, distinct: bool = False):
    @st.composite
    def draw(d):
        size = tuple(d(st.integers(1, 7), label="size") for _ in range(spatial))
        shape = (d(st.integers(1, 2)), d(st.integers(1, 2)), *size)
        out = tuple(d(st.integers(1, n + 1), label="output_size") for n in size)
        x = _distinct(d, shape) if distinct else d(S.arrays(shape))
        return Sample((x,), {"output_size": out if spatial == 2 or d(st.booleans()) else out[0]})

    return draw()


def _global_samples():
    return S.arrays(S.shapes(min_dims=4, max_dims=4)).map(lambda a: Sample((a,)))


def _unpool_roundtrip(x, kernel_size):
    y, idx = P.max_pool2d(x, kernel_size, return_indices=True)
    return P.max_unpool2d(y, idx, kernel_size, output_size=x.shape)


op_db = [
    OpInfo("max_pool2d", P.max_pool2d, _pool_samples("max"), ref=ref_max_pool,
           kinks=MaxPool2dFn.kinks),
    OpInfo("avg_pool2d", P.avg_pool2d, _pool_samples("avg"), ref=ref_avg_pool),
    OpInfo("adaptive_avg_pool2d", P.adaptive_avg_pool2d, _adaptive_samples,
           ref=functools.partial(ref_adaptive, how=np.mean)),
    OpInfo("global_avg_pool2d", P.global_avg_pool2d, _global_samples,
           ref=lambda x: x.mean(axis=(2, 3), keepdims=True)),
    # values drawn distinct: no ties in a window
    OpInfo("max_unpool2d", _unpool_roundtrip, _pool_samples("unpool"),
           ref=_ref_max_unpool_roundtrip, kinks=MaxPool2dFn.kinks),
    # 1-d pooling and adaptive max pooling (windows as the 2-d ops'; values distinct: no ties)
    OpInfo("max_pool1d", P.max_pool1d, _pool_samples("max", 1),
           ref=functools.partial(ref_max_pool, spatial=1), kinks=MaxPool2dFn.kinks),
    OpInfo("avg_pool1d", P.avg_pool1d, _pool_samples("avg", 1),
           ref=functools.partial(ref_avg_pool, spatial=1)),
    OpInfo("adaptive_avg_pool1d", P.adaptive_avg_pool1d, lambda: _adaptive_samples(1),
           ref=functools.partial(ref_adaptive, how=np.mean)),
    OpInfo("adaptive_max_pool2d", P.adaptive_max_pool2d, lambda: _adaptive_samples(2, True),
           ref=functools.partial(ref_adaptive, how=np.max), kinks=AdaptiveMaxPool2dFn.kinks),
    OpInfo("adaptive_max_pool1d", P.adaptive_max_pool1d, lambda: _adaptive_samples(1, True),
           ref=functools.partial(ref_adaptive, how=np.max), kinks=AdaptiveMaxPool2dFn.kinks),
]
