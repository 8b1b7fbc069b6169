"""2-D pooling kernels on (N, C, H, W) arrays, float32 and float64 (PyTorch's semantics: output
sizes with or without ``ceil_mode``, ``dilation`` for max pooling, ``count_include_pad`` and
``divisor_override`` for average pooling; adaptive windows).

Every kernel works plane by plane (one plane = one (n, c) image) and runs the planes in parallel, so
no two threads ever write the same output element and the scatter-adds need no atomics.

Max pooling returns the argmax as flat indices into each H*W plane (int64, like PyTorch's
``return_indices``). Convention for ties: the FIRST maximum in row-major window order wins (strict
``>``). A NaN in a window wins over every number (the first NaN), so NaN propagates like in
PyTorch. Padded positions are never selected (PyTorch's "-inf padding").

The backward of max pooling is a scatter-add of ``gy`` through those indices (overlapping windows
accumulate); its own backward is the matching gather, so the pair closes under differentiation.

Contiguous windows (dilation 1, any ``ceil_mode``) are tabulated per axis (:func:`window_bounds`)
and share one kernel per operation; the 2x2 / stride 2 geometry of most CNNs has unrolled kernels
of its own, and dilated max pooling a general kernel that skips the taps outside the input.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from minigrad.ops.kernels import api
from minigrad.ops.kernels.cpu._jit import kernel
from minigrad.ops.kernels.cpu.softmax import lane_sum

__all__ = [*api.POOL, "window_bounds", "adaptive_window_bounds"]


def pool_output_size(size: int, kernel: int, stride: int, padding: int, dilation: int = 1,
                     ceil_mode: bool = False) -> int:
    """PyTorch's pooling output length along one axis.

    Floor mode: ``(size + 2*padding - dilation*(kernel - 1) - 1) // stride + 1`` (every window
    inside the padded input). ``ceil_mode`` rounds that division up, so a last, partial window
    covers the leftover inputs, but drops that window if it would start in the right padding
    (PyTorch's rule: the last window starts inside the input or the left padding).
    """
    span = dilation * (kernel - 1) + 1
    if not ceil_mode:
        return (size + 2 * padding - span) // stride + 1
    n_out = -(-(size + 2 * padding - span) // stride) + 1
    return n_out - 1 if (n_out - 1) * stride >= size + padding else n_out


def _planes(x: np.ndarray) -> np.ndarray:
    n, c, h, w = x.shape
    return np.ascontiguousarray(x).reshape(n * c, h, w)


def window_bounds(size: int, kernel: int, stride: int, padding: int,
                  ceil_mode: bool = False) -> tuple[np.ndarray, ...]:
    """Per output index along one axis: (lo, hi, padded_len) of its window, clipped to [0, size).

    ``padded_len`` counts padding too but not what lies past it (a ``ceil_mode`` window can reach
    beyond the right padding): PyTorch's ``count_include_pad`` divisor. Windows are tabulated once
    per call because clipping them inside the kernel's inner loop measured 1.4x slower.
    """
    n_out = pool_output_size(size, kernel, stride, padding, 1, ceil_mode)
    start = np.arange(n_out, dtype=np.int64) * stride - padding
    end = np.minimum(start + kernel, size + padding)
    return np.maximum(start, 0), np.minimum(end, size), end - start


def adaptive_window_bounds(size: int, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    """PyTorch's adaptive windows: output i covers [floor(i*size/n_out), ceil((i+1)*size/n_out))."""
    i = np.arange(n_out, dtype=np.int64)
    return (i * size) // n_out, ((i + 1) * size + n_out - 1) // n_out


# ------------------------------------------------------------------------------------------------
# max pooling


@kernel
def _max_pool_planes(x, h_lo, h_hi, w_lo, w_hi, y, idx):
    planes, h, w = x.shape
    _, oh, ow = y.shape
    for p in prange(planes):
        for i in range(oh):
            for j in range(ow):
                best = x[p, h_lo[i], w_lo[j]]
                best_at = h_lo[i] * w + w_lo[j]
                for r in range(h_lo[i], h_hi[i]):
                    for c in range(w_lo[j], w_hi[j]):
                        v = x[p, r, c]
                        # strict > keeps the first maximum; the NaN test takes the first NaN.
                        # Written as selects, not an `if`: random data mispredicts the branch,
                        # and the select form measured 2x faster.
                        take = (v > best) | ((v != v) & (best == best))
                        best = v if take else best
                        best_at = r * w + c if take else best_at
                y[p, i, j] = best
                idx[p, i, j] = best_at


def _is_2x2(kernel, stride, padding, hw=None, ceil_mode=False) -> bool:
    """The common CNN geometry (2x2 windows, stride 2, no padding), which has its own kernels;
    with ``ceil_mode`` only when it changes nothing (even ``hw``)."""
    return (tuple(kernel) == (2, 2) and tuple(stride) == (2, 2) and tuple(padding) == (0, 0)
            and not (ceil_mode and (hw[0] % 2 or hw[1] % 2)))


@njit(cache=True, inline="always")
def _take(v, best):
    # strict > keeps the first maximum; the NaN test takes the first NaN
    return (v > best) | ((v != v) & (best == best))


@njit(cache=True, inline="always")
def _floored(v, floor):
    """max(v, floor), NaN kept (relu(v) for floor 0); v itself when ``floor`` is None (compiled
    out: Numba drops the branch of a None argument)."""
    if floor is None:
        return v
    return floor if v <= floor else v


@kernel
def _max_pool_2x2_planes(x, y, idx, floor):
    """The 2x2 / stride 2 case of ``_max_pool_planes`` with the window unrolled (measured 3-4x
    faster on (64, 32, 32, 32): no window tables, no inner loops of run-time length), on
    max(x, floor) read on the fly: ``floor = None`` pools x itself, ``floor = 0`` pools relu(x)
    (``fused.relu_max_pool2d``) with the same first-maximum / first-NaN rule."""
    planes, h, w = x.shape
    _, oh, ow = y.shape
    for p in prange(planes):
        for i in range(oh):
            r = 2 * i
            for j in range(ow):
                c = 2 * j
                best = _floored(x[p, r, c], floor)
                at = r * w + c
                v = _floored(x[p, r, c + 1], floor)
                take = _take(v, best)
                best = v if take else best
                at = r * w + c + 1 if take else at
                v = _floored(x[p, r + 1, c], floor)
                take = _take(v, best)
                best = v if take else best
                at = (r + 1) * w + c if take else at
                v = _floored(x[p, r + 1, c + 1], floor)
                take = _take(v, best)
                best = v if take else best
                at = (r + 1) * w + c + 1 if take else at
                y[p, i, j] = best
                idx[p, i, j] = at


@kernel
def _max_pool_dilated_planes(x, h_start, w_start, kh, kw, dh, dw, y, idx):
    """Max pooling with dilated windows: taps ``start + t * dilation``, those outside the input
    skipped (the general path; contiguous windows take ``_max_pool_planes``). The caller
    guarantees every window has a tap inside the input."""
    planes, h, w = x.shape
    _, oh, ow = y.shape
    for p in prange(planes):
        for i in range(oh):
            for j in range(ow):
                best = x[p, 0, 0]
                best_at = -1
                for r in range(kh):
                    row = h_start[i] + r * dh
                    if row < 0 or row >= h:
                        continue
                    for c in range(kw):
                        col = w_start[j] + c * dw
                        if col < 0 or col >= w:
                            continue
                        v = x[p, row, col]
                        if best_at < 0 or _take(v, best):
                            best = v
                            best_at = row * w + col
                y[p, i, j] = best
                idx[p, i, j] = best_at


def max_pool2d_forward(
    x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int], padding: tuple[int, int],
    dilation: tuple[int, int] = (1, 1), ceil_mode: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """x: (N, C, H, W) -> y: (N, C, OH, OW), indices: (N, C, OH, OW) int64 into each H*W plane.

    Caller guarantees a valid geometry: padding <= kernel // 2, and with ``dilation`` every
    window has a tap inside the input. ``ceil_mode``: PyTorch's output size (see
    :func:`pool_output_size`).
    """
    n, c, h, w = x.shape
    if tuple(dilation) != (1, 1):
        oh, ow = (pool_output_size(x.shape[2 + d], kernel[d], stride[d], padding[d], dilation[d],
                                   ceil_mode) for d in (0, 1))
        y = np.empty((n * c, oh, ow), dtype=x.dtype)
        idx = np.empty(y.shape, dtype=np.int64)
        h_start = np.arange(oh, dtype=np.int64) * stride[0] - padding[0]
        w_start = np.arange(ow, dtype=np.int64) * stride[1] - padding[1]
        _max_pool_dilated_planes(_planes(x), h_start, w_start, kernel[0], kernel[1],
                                 dilation[0], dilation[1], y, idx)
        return y.reshape(n, c, oh, ow), idx.reshape(n, c, oh, ow)
    if _is_2x2(kernel, stride, padding, (h, w), ceil_mode):  # no window tables needed
        y = np.empty((n * c, h // 2, w // 2), dtype=x.dtype)
        idx = np.empty(y.shape, dtype=np.int64)
        _max_pool_2x2_planes(_planes(x), y, idx, None)
        return y.reshape(n, c, *y.shape[1:]), idx.reshape(n, c, *y.shape[1:])
    h_lo, h_hi, _ = window_bounds(h, kernel[0], stride[0], padding[0], ceil_mode)
    w_lo, w_hi, _ = window_bounds(w, kernel[1], stride[1], padding[1], ceil_mode)
    y = np.empty((n * c, h_lo.size, w_lo.size), dtype=x.dtype)
    idx = np.empty(y.shape, dtype=np.int64)
    _max_pool_planes(_planes(x), h_lo, h_hi, w_lo, w_hi, y, idx)
    return y.reshape(n, c, *y.shape[1:]), idx.reshape(n, c, *y.shape[1:])


@kernel
def _scatter_add_planes(src, idx, out):
    planes, length = src.shape
    for p in prange(planes):
        # each plane is zeroed right before its scatter, while it is in cache: one pass over the
        # output instead of np.zeros' separate pass (and its page faults) first
        for k in range(out.shape[1]):
            out[p, k] = 0.0
        for k in range(length):
            out[p, idx[p, k]] += src[p, k]


@kernel
def _gather_planes(src, idx, out):
    planes, length = idx.shape
    for p in prange(planes):
        for k in range(length):
            out[p, k] = src[p, idx[p, k]]


def scatter_add_planes(
    src: np.ndarray, idx: np.ndarray, plane_shape: tuple[int, int], overlapping: bool = True
) -> np.ndarray:
    """src, idx: (N, C, *S) -> out: (N, C, *plane_shape) with ``out.flat_plane[idx] += src``.

    Max pooling's backward (src = gy) and max unpooling's forward. Indices must lie in the plane.
    ``overlapping`` (whether two entries of a plane may share an index) changes nothing here:
    each plane is one thread's, so no atomics are needed either way (the GPU kernel uses it).
    """
    n, c = src.shape[:2]
    out = np.empty((n * c, plane_shape[0] * plane_shape[1]), dtype=src.dtype)
    _scatter_add_planes(
        np.ascontiguousarray(src).reshape(n * c, -1),
        np.ascontiguousarray(idx).reshape(n * c, -1),
        out,
    )
    return out.reshape(n, c, *plane_shape)


def gather_planes(src: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """src: (N, C, H, W), idx: (N, C, *S) -> out: (N, C, *S) with ``out = src.flat_plane[idx]``."""
    n, c = src.shape[:2]
    out = np.empty((n * c, idx[0, 0].size), dtype=src.dtype)
    _gather_planes(
        np.ascontiguousarray(src).reshape(n * c, -1),
        np.ascontiguousarray(idx).reshape(n * c, -1),
        out,
    )
    return out.reshape(idx.shape)


# ------------------------------------------------------------------------------------------------
# average pooling (plain and adaptive) as one "mean over a table of windows" kernel pair


@kernel
def _window_mean(x, h_lo, h_hi, w_lo, w_hi, div, y):
    planes, _, w = x.shape
    _, oh, ow = y.shape
    for p in prange(planes):
        for i in range(oh):
            for j in range(ow):
                acc = 0.0  # float64 accumulator: large windows stay accurate in float32
                # wide windows (global pooling): 8 partial sums instead of one chain of dependent
                # adds, over whole rows at once when the window spans them (4x faster)
                if w_lo[j] == 0 and w_hi[j] == w:
                    acc = lane_sum(x[p, h_lo[i] : h_hi[i]].ravel())
                elif w_hi[j] - w_lo[j] >= 16:
                    for r in range(h_lo[i], h_hi[i]):
                        acc += lane_sum(x[p, r, w_lo[j] : w_hi[j]])
                else:
                    for r in range(h_lo[i], h_hi[i]):
                        for c in range(w_lo[j], w_hi[j]):
                            acc += x[p, r, c]
                y[p, i, j] = acc / div[i, j]


@kernel
def _window_mean_backward(gy, h_lo, h_hi, w_lo, w_hi, div, gx):
    planes, oh, ow = gy.shape
    for p in prange(planes):
        gx[p] = 0.0  # zeroed plane by plane while in cache (see _scatter_add_planes)
        for i in range(oh):
            for j in range(ow):
                g = gy[p, i, j] / div[i, j]
                for r in range(h_lo[i], h_hi[i]):
                    for c in range(w_lo[j], w_hi[j]):
                        gx[p, r, c] += g


def _avg_tables(hw, kernel, stride, padding, count_include_pad, ceil_mode=False,
                divisor_override=None):
    (h_lo, h_hi, h_len), (w_lo, w_hi, w_len) = (
        window_bounds(hw[d], kernel[d], stride[d], padding[d], ceil_mode) for d in (0, 1)
    )
    if not count_include_pad:
        h_len, w_len = h_hi - h_lo, w_hi - w_lo
    div = np.outer(h_len, w_len).astype(np.float64)
    if divisor_override is not None:
        div[...] = divisor_override
    return h_lo, h_hi, w_lo, w_hi, div


def _adaptive_tables(hw, output_size):
    (h_lo, h_hi), (w_lo, w_hi) = (adaptive_window_bounds(hw[d], output_size[d]) for d in (0, 1))
    return h_lo, h_hi, w_lo, w_hi, np.outer(h_hi - h_lo, w_hi - w_lo).astype(np.float64)


def _whole_plane(hw, tables) -> bool:
    """One window covering every pixel once (global pooling, or a kernel the size of the input)."""
    h_lo, h_hi, w_lo, w_hi, div = tables
    return (div.shape == (1, 1) and (h_lo[0], h_hi[0], w_lo[0], w_hi[0]) == (0, hw[0], 0, hw[1])
            and div[0, 0] == hw[0] * hw[1])


# columns summed per BLAS call in _plane_means: float32 sums of at most this many terms, then
# float64 across blocks (a two-level cascade, as PyTorch's reductions do)
_MEAN_BLOCK = 4096


def _plane_means(planes: np.ndarray) -> np.ndarray:
    """Row means of planes: (P, L) C-contiguous -> (P,), in planes' dtype.

    Each block of columns is summed as a matrix-vector product with ones: BLAS streams the input
    at memory speed (0.15 ms for 2048 planes of 32x32 float32 on 2 cores, against 1.1 ms for the
    window kernel's float64 lane sums). Its float32 partial sums are short (see ``_MEAN_BLOCK``);
    the blocks add up in float64.
    """
    total = np.zeros(planes.shape[0])
    ones = np.ones(min(planes.shape[1], _MEAN_BLOCK), planes.dtype)
    for lo in range(0, planes.shape[1], _MEAN_BLOCK):
        block = planes[:, lo:lo + _MEAN_BLOCK]
        total += block @ ones[:block.shape[1]]
    return (total / planes.shape[1]).astype(planes.dtype)


def _mean_forward(x, tables):
    n, c = x.shape[:2]
    h_lo, h_hi, w_lo, w_hi, div = tables
    if _whole_plane(x.shape[2:], tables):
        return _plane_means(np.ascontiguousarray(x).reshape(n * c, -1)).reshape(n, c, 1, 1)
    y = np.empty((n * c, *div.shape), dtype=x.dtype)
    _window_mean(_planes(x), h_lo, h_hi, w_lo, w_hi, div, y)
    return y.reshape(n, c, *div.shape)


@kernel
def _avg_pool_2x2_planes(x, y):
    """The 2x2 / stride 2 case of ``_window_mean`` (same float64 sum, same division by 4)."""
    _, oh, ow = y.shape
    for p in prange(x.shape[0]):
        for i in range(oh):
            for j in range(ow):
                acc = 0.0
                acc += x[p, 2 * i, 2 * j]
                acc += x[p, 2 * i, 2 * j + 1]
                acc += x[p, 2 * i + 1, 2 * j]
                acc += x[p, 2 * i + 1, 2 * j + 1]
                y[p, i, j] = acc / 4.0


@kernel
def _avg_pool_2x2_backward_planes(gy, gx):
    """gx = gy / 4 spread over each 2x2 window, every gx element written once (odd trailing
    rows/columns, which no window covers, get 0)."""
    _, oh, ow = gy.shape
    _, h, w = gx.shape
    for p in prange(gy.shape[0]):
        for r in range(2 * oh):
            for c in range(2 * ow):
                gx[p, r, c] = gy[p, r // 2, c // 2] / 4.0
            for c in range(2 * ow, w):
                gx[p, r, c] = 0.0
        for r in range(2 * oh, h):
            for c in range(w):
                gx[p, r, c] = 0.0


def _mean_backward(gy, input_hw, tables):
    n, c = gy.shape[:2]
    if _whole_plane(input_hw, tables):
        # gx[p, :] = gy[p] / (H*W): one store pass. NumPy's broadcast copy keeps its speed
        # wherever the heap puts gx; a Numba loop's vector stores ran ~18 % slower when gx
        # started 16 bytes past a 64-byte boundary (each store then straddles two cache lines)
        g = np.ascontiguousarray(gy).reshape(-1, 1) / gy.dtype.type(input_hw[0] * input_hw[1])
        gx = np.empty((n * c, input_hw[0] * input_hw[1]), dtype=gy.dtype)
        np.copyto(gx, g)
        return gx.reshape(n, c, *input_hw)
    gx = np.empty((n * c, *input_hw), dtype=gy.dtype)
    _window_mean_backward(_planes(gy), *tables, gx)
    return gx.reshape(n, c, *input_hw)


def avg_pool2d_forward(
    x: np.ndarray,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    count_include_pad: bool = True,
    ceil_mode: bool = False,
    divisor_override: int | None = None,
) -> np.ndarray:
    """x: (N, C, H, W) -> y: (N, C, OH, OW). ``count_include_pad``, ``ceil_mode`` and
    ``divisor_override`` (every window sum divided by it) as in PyTorch."""
    if _is_2x2(kernel, stride, padding, x.shape[2:], ceil_mode) and divisor_override is None:
        n, c, h, w = x.shape
        y = np.empty((n * c, h // 2, w // 2), dtype=x.dtype)
        _avg_pool_2x2_planes(_planes(x), y)
        return y.reshape(n, c, h // 2, w // 2)
    return _mean_forward(x, _avg_tables(x.shape[2:], kernel, stride, padding, count_include_pad,
                                        ceil_mode, divisor_override))


def avg_pool2d_backward(
    gy: np.ndarray,
    input_hw: tuple[int, int],
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    count_include_pad: bool = True,
    ceil_mode: bool = False,
    divisor_override: int | None = None,
) -> np.ndarray:
    """gy: (N, C, OH, OW) -> gx: (N, C, H, W), H, W = input_hw (the transpose of the forward)."""
    if _is_2x2(kernel, stride, padding, input_hw, ceil_mode) and divisor_override is None:
        n, c = gy.shape[:2]
        gx = np.empty((n * c, *input_hw), dtype=gy.dtype)
        _avg_pool_2x2_backward_planes(_planes(gy), gx)
        return gx.reshape(n, c, *input_hw)
    tables = _avg_tables(input_hw, kernel, stride, padding, count_include_pad, ceil_mode,
                         divisor_override)
    return _mean_backward(gy, input_hw, tables)


def adaptive_avg_pool2d_forward(x: np.ndarray, output_size: tuple[int, int]) -> np.ndarray:
    """x: (N, C, H, W) -> y: (N, C, OH, OW); output_size (1, 1) is global average pooling."""
    return _mean_forward(x, _adaptive_tables(x.shape[2:], output_size))


def adaptive_avg_pool2d_backward(gy: np.ndarray, input_hw: tuple[int, int]) -> np.ndarray:
    """gy: (N, C, OH, OW) -> gx: (N, C, H, W)."""
    return _mean_backward(gy, input_hw, _adaptive_tables(input_hw, gy.shape[2:]))


def adaptive_max_pool2d_forward(x: np.ndarray, output_size: tuple[int, int]
                                ) -> tuple[np.ndarray, np.ndarray]:
    """x: (N, C, H, W) -> y, indices: (N, C, OH, OW) over PyTorch's adaptive windows (those of
    :func:`adaptive_window_bounds`); indices and ties as :func:`max_pool2d_forward`."""
    n, c, h, w = x.shape
    (h_lo, h_hi), (w_lo, w_hi) = (adaptive_window_bounds(x.shape[2 + d], output_size[d])
                                  for d in (0, 1))
    y = np.empty((n * c, *output_size), dtype=x.dtype)
    idx = np.empty(y.shape, dtype=np.int64)
    _max_pool_planes(_planes(x), h_lo, h_hi, w_lo, w_hi, y, idx)
    return y.reshape(n, c, *output_size), idx.reshape(n, c, *output_size)
