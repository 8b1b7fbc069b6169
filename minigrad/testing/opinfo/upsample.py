"""Upsampling: ``interpolate`` in every mode (sizes or scale factors, align_corners,
recompute_scale_factor), ``pixel_shuffle`` and ``pixel_unshuffle``.

The references are loops over output positions written from PyTorch's documented coordinate
rules (one output pixel at a time, all of its taps at once), not from the separable tables and
kernels of :mod:`minigrad.ops.upsample`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from minigrad.ops.upsample import InterpolateFn, interpolate, pixel_shuffle, pixel_unshuffle
from minigrad.testing import strategies as S
from minigrad.testing.opinfo.core import OpInfo, Sample

# scale factors whose products with small sizes are often not whole numbers, so that the
# coordinates' 1 / scale_factor and in / out differ
_FACTORS = (0.4, 0.5, 0.7, 1.0, 1.3, 1.5, 1.7, 2.0, 2.5, 3.0)


def _per_axis(v: Any, n: int) -> tuple[Any, ...]:
    return tuple(v) if isinstance(v, tuple | list) else (v,) * n


def _source(o: int, n_in: int, n_out: int, scale: float | None, mode: str,
            align_corners: bool) -> tuple[int, int, float]:
    """(i0, i1, weight of i1) of output position ``o`` along one axis (nearest modes: i1 = i0,
    weight 0). Float64 arithmetic; PyTorch floors a float32 (floorf), and so does this."""
    s = 1.0 / scale if scale is not None else n_in / n_out
    if mode == "nearest":
        i = int(np.floor(np.float32(o * s)))
        return min(i, n_in - 1), min(i, n_in - 1), 0.0
    if mode == "nearest-exact":
        i = int(np.floor(np.float32(max((o + 0.5) * s - 0.5, 0.0) + 0.5)))
        return min(i, n_in - 1), min(i, n_in - 1), 0.0
    if n_out == n_in:  # PyTorch copies an axis whose size does not change
        return o, o, 0.0
    if align_corners:
        real = o * (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
    else:
        real = max((o + 0.5) * s - 0.5, 0.0)
    i0 = min(int(np.floor(np.float32(real))), n_in - 1)
    i1 = i0 + 1 if i0 < n_in - 1 else i0
    return i0, i1, min(max(real - i0, 0.0), 1.0)


def _ref_area(x, out):
    """Adaptive average pooling: output cell i averages [floor(i*n/m), ceil((i+1)*n/m))."""
    y = np.empty(x.shape[:2] + tuple(out))
    for idx in np.ndindex(*out):
        sl = tuple(slice((i * n) // m, -((-(i + 1) * n) // m))
                   for i, n, m in zip(idx, x.shape[2:], out))
        y[(slice(None), slice(None), *idx)] = x[(slice(None), slice(None), *sl)].mean(
            axis=tuple(range(2, x.ndim)))
    return y


def ref_interpolate(x, size=None, scale_factor=None, mode="nearest", align_corners=None,
                    recompute_scale_factor=None):
    """PyTorch's interpolate on (N, C, L) or (N, C, H, W), one output pixel at a time."""
    spatial = x.ndim - 2
    if size is not None:
        out, scales = _per_axis(size, spatial), (None,) * spatial
    else:
        factors = _per_axis(scale_factor, spatial)
        out = tuple(math.floor(n * f) for n, f in zip(x.shape[2:], factors))
        scales = (None,) * spatial if recompute_scale_factor else factors
    if mode == "area":
        return _ref_area(x, out)
    taps = [[_source(o, n, m, s, mode, bool(align_corners)) for o in range(m)]
            for n, m, s in zip(x.shape[2:], out, scales)]
    y = np.zeros(x.shape[:2] + tuple(out))
    for idx in np.ndindex(*out):
        # every corner of the 1-D (L) or 2-D (H, W) cell, weighted by the product of its weights
        for corner in np.ndindex(*(2,) * spatial):
            weight, pos = 1.0, []
            for axis, (o, c) in enumerate(zip(idx, corner)):
                i0, i1, w1 = taps[axis][o]
                weight *= w1 if c else 1.0 - w1
                pos.append(i1 if c else i0)
            if weight:
                y[(slice(None), slice(None), *idx)] += weight * x[(slice(None), slice(None),
                                                                   *pos)]
    return y


def _interpolate_samples():
    @st.composite
    def draw(d):
        spatial = d(st.integers(1, 2), label="spatial")
        linear = "linear" if spatial == 1 else "bilinear"
        mode = d(st.sampled_from(["nearest", "nearest-exact", linear, "area"]), label="mode")
        sizes = tuple(d(st.integers(1, 5), label="size") for _ in range(spatial))
        shape = (d(st.integers(1, 2)), d(st.integers(1, 2)), *sizes)
        kwargs: dict[str, Any] = {"mode": mode}
        if d(st.booleans(), label="by_size"):
            out = tuple(d(st.integers(1, 7), label="out") for _ in range(spatial))
            kwargs["size"] = out if spatial == 2 or d(st.booleans()) else out[0]
        else:
            f = tuple(d(st.sampled_from(_FACTORS), label="factor") for _ in range(spatial))
            assume(all(math.floor(n * s) >= 1 for n, s in zip(sizes, f)))
            kwargs["scale_factor"] = f if len(set(f)) > 1 else f[0]
            if d(st.booleans(), label="recompute"):
                kwargs["recompute_scale_factor"] = True
        if mode == linear:
            kwargs["align_corners"] = d(st.sampled_from([None, False, True]))
        return Sample((d(S.arrays(shape), label="input"),), kwargs)

    return draw()


def _ref_pixel_shuffle(x, upscale_factor):
    r = upscale_factor
    *lead, c, h, w = x.shape
    y = np.empty((*lead, c // (r * r), h * r, w * r))
    for ch, i, j in np.ndindex(c // (r * r), h * r, w * r):
        y[..., ch, i, j] = x[..., ch * r * r + (i % r) * r + j % r, i // r, j // r]
    return y


def _ref_pixel_unshuffle(x, downscale_factor):
    r = downscale_factor
    *lead, c, h, w = x.shape
    y = np.empty((*lead, c * r * r, h // r, w // r))
    for ch, i, j in np.ndindex(c * r * r, h // r, w // r):
        k = ch % (r * r)
        y[..., ch, i, j] = x[..., ch // (r * r), i * r + k // r, j * r + k % r]
    return y


def _shuffle_samples(unshuffle: bool):
    @st.composite
    def draw(d):
        r = d(st.integers(1, 3), label="factor")
        lead = tuple(d(st.integers(1, 2)) for _ in range(d(st.integers(0, 2), label="lead")))
        c, h, w = d(st.integers(1, 2)), d(st.integers(1, 3)), d(st.integers(1, 3))
        shape = (*lead, c, h * r, w * r) if unshuffle else (*lead, c * r * r, h, w)
        name = "downscale_factor" if unshuffle else "upscale_factor"
        return Sample((d(S.arrays(shape), label="input"),), {name: r})

    return draw()


op_db = [
    OpInfo("interpolate", interpolate, _interpolate_samples, ref=ref_interpolate,
           kinks=InterpolateFn.kinks),
    OpInfo("pixel_shuffle", pixel_shuffle, lambda: _shuffle_samples(False),
           ref=_ref_pixel_shuffle),
    OpInfo("pixel_unshuffle", pixel_unshuffle, lambda: _shuffle_samples(True),
           ref=_ref_pixel_unshuffle),
]
