"""Pooling: samples with distinct values (no window ties) and NumPy-loop references written from
the definitions, not from the kernels."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st

from minigrad.ops.pool import (
    MaxPool2dFn,
    adaptive_avg_pool2d,
    avg_pool2d,
    global_avg_pool2d,
    max_pool2d,
    max_unpool2d,
)
from minigrad.testing import strategies as S
from minigrad.testing.opinfo.core import OpInfo, Sample


def _two(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _windows(x, kernel_size, stride, padding, fill):
    """x padded with ``fill`` and the window geometry: (xp, k, s, p, oh, ow)."""
    k = _two(kernel_size)
    s = k if stride is None else _two(stride)
    p = _two(padding)
    n, c, h, w = x.shape
    xp = np.full((n, c, h + 2 * p[0], w + 2 * p[1]), fill)
    xp[:, :, p[0] : p[0] + h, p[1] : p[1] + w] = x
    oh, ow = (h + 2 * p[0] - k[0]) // s[0] + 1, (w + 2 * p[1] - k[1]) // s[1] + 1
    return xp, k, s, p, oh, ow


def _ref_max_pool2d(x, kernel_size, stride=None, padding=0):
    xp, k, s, _, oh, ow = _windows(x, kernel_size, stride, padding, -np.inf)
    y = np.empty((*x.shape[:2], oh, ow))
    for i in range(oh):
        for j in range(ow):
            win = xp[:, :, i * s[0] : i * s[0] + k[0], j * s[1] : j * s[1] + k[1]]
            y[:, :, i, j] = win.max(axis=(2, 3))
    return y


def _ref_avg_pool2d(x, kernel_size, stride=None, padding=0, count_include_pad=True):
    xp, k, s, _, oh, ow = _windows(x, kernel_size, stride, padding, 0.0)
    ones, *_ = _windows(np.ones((1, 1, *x.shape[2:])), kernel_size, stride, padding, 0.0)
    y = np.empty((*x.shape[:2], oh, ow))
    for i in range(oh):
        for j in range(ow):
            rows, cols = slice(i * s[0], i * s[0] + k[0]), slice(j * s[1], j * s[1] + k[1])
            count = k[0] * k[1] if count_include_pad else ones[0, 0, rows, cols].sum()
            y[:, :, i, j] = xp[:, :, rows, cols].sum(axis=(2, 3)) / count
    return y


def _ref_adaptive_avg_pool2d(x, output_size):
    oh, ow = (output_size, output_size) if isinstance(output_size, int) else output_size
    n, c, h, w = x.shape
    y = np.empty((n, c, oh, ow))
    for i in range(oh):
        r0, r1 = int(np.floor(i * h / oh)), int(np.ceil((i + 1) * h / oh))
        for j in range(ow):
            c0, c1 = int(np.floor(j * w / ow)), int(np.ceil((j + 1) * w / ow))
            y[:, :, i, j] = x[:, :, r0:r1, c0:c1].mean(axis=(2, 3))
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


def _pool_samples(kind: str):
    def strategy():
        @st.composite
        def draw(d):
            kh, kw = d(st.integers(1, 3)), d(st.integers(1, 3))
            sh, sw = d(st.integers(1, 3)), d(st.integers(1, 3))
            ph, pw = d(st.integers(0, kh // 2)), d(st.integers(0, kw // 2))
            h = d(st.integers(max(1, kh - 2 * ph), 6))
            w = d(st.integers(max(1, kw - 2 * pw), 6))
            shape = (d(st.integers(1, 2)), d(st.integers(1, 2)), h, w)
            kwargs: dict[str, Any] = {
                "kernel_size": (kh, kw),
                "stride": (sh, sw),
                "padding": (ph, pw),
            }
            if kind == "avg":
                kwargs["count_include_pad"] = d(st.booleans())
            if kind == "unpool":
                k = d(st.integers(1, 3))
                shape = shape[:2] + (k * d(st.integers(1, 3)), k * d(st.integers(1, 3)))
                kwargs = {"kernel_size": k}
            return Sample((_distinct(d, shape),), kwargs)

        return draw()

    return strategy


def _adaptive_samples():
    @st.composite
    def draw(d):
        shape = (
            d(st.integers(1, 2)),
            d(st.integers(1, 2)),
            d(st.integers(1, 7)),
            d(st.integers(1, 7)),
        )
        out = (d(st.integers(1, shape[2] + 1)), d(st.integers(1, shape[3] + 1)))
        return Sample((d(S.arrays(shape)),), {"output_size": out})

    return draw()


def _global_samples():
    return S.arrays(S.shapes(min_dims=4, max_dims=4)).map(lambda a: Sample((a,)))


def _unpool_roundtrip(x, kernel_size):
    y, idx = max_pool2d(x, kernel_size, return_indices=True)
    return max_unpool2d(y, idx, kernel_size, output_size=x.shape)


op_db = [
    OpInfo("max_pool2d", max_pool2d, _pool_samples("max"), ref=_ref_max_pool2d,
           kinks=MaxPool2dFn.kinks),
    OpInfo("avg_pool2d", avg_pool2d, _pool_samples("avg"), ref=_ref_avg_pool2d),
    OpInfo("adaptive_avg_pool2d", adaptive_avg_pool2d, _adaptive_samples,
           ref=_ref_adaptive_avg_pool2d),
    OpInfo("global_avg_pool2d", global_avg_pool2d, _global_samples,
           ref=lambda x: x.mean(axis=(2, 3), keepdims=True)),
    # values drawn distinct: no ties in a window
    OpInfo("max_unpool2d", _unpool_roundtrip, _pool_samples("unpool"),
           ref=_ref_max_unpool_roundtrip, kinks=MaxPool2dFn.kinks),
]
