"""Sliding blocks: ``unfold`` (im2col) and ``fold`` (col2im) with every kernel, dilation, padding
and stride option, batched and unbatched. The references are loops over blocks written from the
layout's definition (``cols[n, (c*kh + r)*kw + s, i*OW + j] = x[n, c, i*sh + r*dh - ph,
j*sw + s*dw - pw]``), not from the im2col kernels."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st

from minigrad.ops.fold import UnfoldFn, fold, unfold
from minigrad.testing import strategies as S
from minigrad.testing.opinfo.core import OpInfo, Sample


def _two(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _blocks(hw, k, d, p, s):
    return tuple((n + 2 * pp - dd * (kk - 1) - 1) // ss + 1
                 for n, kk, dd, pp, ss in zip(hw, k, d, p, s))


def _positions(hw, k, d, p, s):
    """Every (channel-row offset r*kw + q, block l, pixel row, pixel col) of the layout, pixels
    in padded coordinates."""
    oh, ow = _blocks(hw, k, d, p, s)
    for r in range(k[0]):
        for q in range(k[1]):
            for i in range(oh):
                for j in range(ow):
                    yield r * k[1] + q, i * ow + j, i * s[0] + r * d[0], j * s[1] + q * d[1]


def ref_unfold(x, kernel_size, dilation=1, padding=0, stride=1):
    k, d, p, s = _two(kernel_size), _two(dilation), _two(padding), _two(stride)
    unbatched = x.ndim == 3
    x = x[None] if unbatched else x
    n, c, h, w = x.shape
    xp = np.zeros((n, c, h + 2 * p[0], w + 2 * p[1]))
    xp[:, :, p[0]:p[0] + h, p[1]:p[1] + w] = x
    oh, ow = _blocks((h, w), k, d, p, s)
    cols = np.zeros((n, c * k[0] * k[1], oh * ow))
    for ch in range(c):
        for row, l_, pr, pc in _positions((h, w), k, d, p, s):
            cols[:, ch * k[0] * k[1] + row, l_] = xp[:, ch, pr, pc]
    return cols[0] if unbatched else cols


def ref_fold(cols, output_size, kernel_size, dilation=1, padding=0, stride=1):
    hw, k, d, p, s = _two(output_size), _two(kernel_size), _two(dilation), _two(padding), \
        _two(stride)
    unbatched = cols.ndim == 2
    cols = cols[None] if unbatched else cols
    n, ck, _ = cols.shape
    c = ck // (k[0] * k[1])
    yp = np.zeros((n, c, hw[0] + 2 * p[0], hw[1] + 2 * p[1]))
    for ch in range(c):
        for row, l_, pr, pc in _positions(hw, k, d, p, s):
            yp[:, ch, pr, pc] += cols[:, ch * k[0] * k[1] + row, l_]
    y = yp[:, :, p[0]:p[0] + hw[0], p[1]:p[1] + hw[1]]
    return y[0] if unbatched else y


def _samples(folding: bool):
    @st.composite
    def draw(d):
        k = (d(st.integers(1, 3), label="kh"), d(st.integers(1, 3), label="kw"))
        dil = (d(st.integers(1, 2), label="dh"), d(st.integers(1, 2), label="dw"))
        pad = (d(st.integers(0, 1), label="ph"), d(st.integers(0, 1), label="pw"))
        stride = (d(st.integers(1, 2), label="sh"), d(st.integers(1, 2), label="sw"))
        # the smallest image the dilated kernel fits in, plus up to 3 more pixels
        hw = tuple(max(1, dd * (kk - 1) + 1 - 2 * pp) + d(st.integers(0, 3), label="extra")
                   for kk, dd, pp in zip(k, dil, pad))
        c = d(st.integers(1, 2), label="channels")
        lead = () if d(st.booleans(), label="unbatched") else (d(st.integers(1, 2)),)

        def form(v):  # an int when both axes agree and the draw says so, else the pair
            return v[0] if v[0] == v[1] and d(st.booleans()) else v

        kwargs: dict[str, Any] = {"kernel_size": form(k), "dilation": form(dil),
                                  "padding": form(pad), "stride": form(stride)}
        if not folding:
            return Sample((d(S.arrays((*lead, c, *hw)), label="input"),), kwargs)
        oh, ow = _blocks(hw, k, dil, pad, stride)
        cols = d(S.arrays((*lead, c * k[0] * k[1], oh * ow)), label="input")
        return Sample((cols,), {"output_size": form(hw), **kwargs})

    return draw()


op_db = [
    OpInfo("unfold", unfold, lambda: _samples(False), ref=ref_unfold, kinks=UnfoldFn.kinks),
    OpInfo("fold", fold, lambda: _samples(True), ref=ref_fold, kinks=UnfoldFn.kinks),
]
