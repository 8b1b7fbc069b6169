"""Shape ops and indexing; NumPy's own functions as references."""

from __future__ import annotations

import numpy as np

from minigrad.ops import shape as SH
from minigrad.testing import strategies as S
from minigrad.testing.opinfo.core import OpInfo

_unary = S.unary_samples


def _unary_1d():
    return S.unary_samples(min_dims=1)


op_db = [
    OpInfo("reshape", lambda a: SH.reshape(a, -1), _unary, ref=lambda a: a.reshape(-1)),
    OpInfo("permute", lambda a: SH.permute(a, tuple(range(a.ndim))[::-1]), _unary,
           ref=lambda a: np.transpose(a)),
    OpInfo("swapaxes", lambda a: SH.swapaxes(a, 0, -1), _unary_1d,
           ref=lambda a: np.swapaxes(a, 0, -1)),
    OpInfo("expand", lambda a: SH.expand(a, (2,) + a.shape), _unary,
           ref=lambda a: np.broadcast_to(a, (2,) + a.shape)),
    OpInfo("squeeze_unsqueeze", lambda a: SH.squeeze(SH.unsqueeze(a, 0)).flatten(), _unary,
           ref=lambda a: np.squeeze(a).reshape(-1)),
    OpInfo("clone", lambda a: SH.clone(a.transpose()), _unary,
           ref=lambda a: np.transpose(a).copy()),
    OpInfo("getitem", lambda a, index: a[index], S.getitem_samples,
           ref=lambda a, index: a[index]),
    OpInfo("cat", lambda a, b, axis: SH.cat([a, b], axis=axis), S.cat_samples,
           ref=lambda a, b, axis: np.concatenate([a, b], axis=axis)),
    OpInfo("stack", lambda a: SH.stack([a, 2 * a, a * a], axis=-1), _unary,
           ref=lambda a: np.stack([a, 2 * a, a * a], axis=-1)),
    OpInfo("split", lambda a: SH.split(a, 1, dim=0)[-1] * 2 + SH.split(a, 1, dim=0)[0],
           _unary_1d, ref=lambda a: np.split(a, a.shape[0], axis=0)[-1] * 2 + a[:1]),
    OpInfo("pad", lambda a: SH.pad(a, 1, value=0.5), _unary_1d,
           ref=lambda a: np.pad(a, 1, constant_values=0.5)),
]



# -- issue 14 (h14b): repeating, rolling, flipping, diagonals, windows, moving, splitting ------
from hypothesis import strategies as st  # noqa: E402

from minigrad.nn.functional import pad as F_pad  # noqa: E402
from minigrad.testing.opinfo import _draw as D  # noqa: E402
from minigrad.testing.opinfo.core import Sample  # noqa: E402


def _with(kwargs_for, min_dims=1, max_dims=3, max_side=4):
    """Samples ``(x,)`` with keyword arguments ``kwargs_for(draw, shape)``."""

    @st.composite
    def draw_sample(draw):
        shape = draw(S.shapes(min_dims=min_dims, max_dims=max_dims, max_side=max_side))
        return Sample((draw(S.arrays(shape)),), kwargs_for(draw, shape))

    return draw_sample


def _dim(draw, shape):
    return draw(st.integers(-len(shape), len(shape) - 1))


def _dims(draw, shape):
    return tuple(draw(st.lists(st.integers(0, len(shape) - 1), min_size=1, unique=True)))


def _plane(draw, ndim):
    return tuple(draw(st.permutations(range(ndim)))[:2])


def _kw_repeat(draw, shape):
    return {"sizes": tuple(draw(st.integers(1, 3))
                           for _ in range(len(shape) + draw(st.integers(0, 1))))}


def _kw_tile(draw, shape):
    return {"dims": tuple(draw(st.integers(1, 2))
                          for _ in range(draw(st.integers(1, len(shape) + 1))))}


def _kw_roll(draw, shape):
    dims = _dims(draw, shape)
    return {"dims": dims, "shifts": tuple(draw(st.integers(-5, 5)) for _ in dims)}


def _kw_diagonal(draw, shape):
    d1, d2 = _plane(draw, len(shape))
    return {"offset": draw(st.integers(-2, 2)), "dim1": d1, "dim2": d2}


def _kw_diag_embed(draw, shape):
    d1, d2 = _plane(draw, len(shape) + 1)
    return {"offset": draw(st.integers(-2, 2)), "dim1": d1, "dim2": d2}


def _kw_unfold(draw, shape):
    d = _dim(draw, shape)
    return {"dim": d, "size": draw(st.integers(0, shape[d])), "step": draw(st.integers(1, 3))}


def _kw_movedim(draw, shape):
    src = _dims(draw, shape)
    return {"source": src, "destination": tuple(draw(st.permutations(range(len(shape))))
                                                [:len(src)])}


def _kw_unflatten(draw, shape):
    d = _dim(draw, shape)
    return {"dim": d, "sizes": (1, -1) if draw(st.booleans()) else (shape[d], 1)}


def _kw_narrow(draw, shape):
    d = _dim(draw, shape)
    start = draw(st.integers(0, shape[d]))
    return {"dim": d, "start": start, "length": draw(st.integers(0, shape[d] - start))}


@st.composite
def _repeat_interleave_tensor_samples(draw):
    shape = draw(S.shapes(min_dims=1))
    d = _dim(draw, shape)
    repeats = D.ints(draw, (shape[d],), 0, 3)
    return Sample((draw(S.arrays(shape)), repeats), {"dim": d})


@st.composite
def _meshgrid_samples(draw):
    a = draw(S.arrays((draw(st.integers(1, 4)),)))
    b = draw(S.arrays((draw(st.integers(1, 4)),)))
    return Sample((a, b), {"indexing": draw(st.sampled_from(["ij", "xy"]))})


def _like(make_shape):
    """Samples ``(x, other)`` with ``other`` a constant int array of shape
    ``make_shape(x.shape)`` (the ``*_as`` methods read only its shape)."""
    return lambda: S.unary_samples().map(
        lambda s: Sample((s.args[0], np.zeros(make_shape(s.args[0].shape), np.int64))))


def _ref_unfold(a, dim, size, step):
    w = np.lib.stride_tricks.sliding_window_view(a, size, axis=dim % a.ndim)
    sl = [slice(None)] * w.ndim
    sl[dim % a.ndim] = slice(None, None, step)
    return w[tuple(sl)]


def _ref_diag_embed(a, offset, dim1, dim2):
    n = a.shape[-1] + abs(offset)
    out = np.zeros(a.shape[:-1] + (n, n))
    for i in range(a.shape[-1]):
        out[..., i + max(-offset, 0), i + max(offset, 0)] = a[..., i]
    return np.moveaxis(out, (-2, -1), (dim1, dim2))


def _ref_chunk(a, chunks, dim):
    n = a.shape[dim]
    size = max(-(-n // chunks), 1)
    pieces = [np.take(a, range(s, min(s + size, n)), axis=dim) for s in range(0, n, size)]
    return np.concatenate([p * (i + 1) for i, p in enumerate(pieces)], axis=dim)


def _ref_unflatten(a, dim, sizes):
    d = dim % a.ndim
    sizes = tuple(a.shape[d] if v == -1 else v for v in sizes)
    return a.reshape(a.shape[:d] + sizes + a.shape[d + 1:])


def _ref_torch_index(a, index):
    """PyTorch's placement, written out: integers first (as np.take, from the last one), then the
    rest with NumPy."""
    items = list(index)
    ints = [k for k, i in enumerate(items) if isinstance(i, int)]
    for k in reversed(ints):
        a = np.take(a, items[k], axis=k)
    return a[tuple(i for k, i in enumerate(items) if k not in ints)]


@st.composite
def _torch_index_samples(draw):
    shape = draw(S.shapes(min_dims=2, max_dims=3, min_side=2))
    length = draw(st.integers(1, 3))  # one length: the index arrays broadcast together
    index = []
    for n in shape:
        kind = draw(st.sampled_from(["int", "array", "slice"]))
        if kind == "int":
            index.append(draw(st.integers(-n, n - 1)))
        elif kind == "array":
            index.append(D.ints(draw, (length,), -n, n - 1))
        else:
            index.append(slice(None, None, draw(st.sampled_from([1, -1, 2]))))
    if not any(isinstance(i, np.ndarray) for i in index):
        index[-1] = np.zeros(length, np.int64) - 1
    return Sample((draw(S.arrays(shape)),), {"index": tuple(index)})


@st.composite
def _pad_samples(draw):
    shape = draw(S.shapes(min_dims=1, max_dims=3, min_side=2, max_side=4))
    mode = draw(st.sampled_from(["constant", "reflect", "replicate", "circular"]))
    k = draw(st.integers(1, len(shape)))
    pads = []
    for n in reversed(shape[-k:]):  # (lo, hi) of the last axis first
        limit = n - 1 if mode == "reflect" else n if mode == "circular" else 2
        lo, hi = draw(st.integers(-1, limit)), draw(st.integers(-1, limit))
        if n + lo + hi < 1:
            lo, hi = 0, 0
        pads += [lo, hi]
    return Sample((draw(S.arrays(shape)),), {"pad": tuple(pads), "mode": mode})


def _ref_pad(a, pad, mode):
    """np.pad by the positive pads, then the negative ones cut off (PyTorch's rule: the output
    spans positions -left .. n + right - 1 of the input extended by the mode)."""
    k = len(pad) // 2
    widths = [(0, 0)] * (a.ndim - k) + [(pad[2 * i], pad[2 * i + 1]) for i in reversed(range(k))]
    np_mode = {"constant": "constant", "reflect": "reflect", "replicate": "edge",
               "circular": "wrap"}[mode]
    out = np.pad(a, [(max(lo, 0), max(hi, 0)) for lo, hi in widths], mode=np_mode)
    return out[tuple(slice(max(-lo, 0), out.shape[i] - max(-hi, 0))
                     for i, (lo, hi) in enumerate(widths))]


def _chunk(a, chunks, dim):
    return SH.cat([c * (i + 1) for i, c in enumerate(SH.chunk(a, chunks, dim))], dim=dim)


def _unbind(a, dim):
    return sum(t * (i + 1) for i, t in enumerate(SH.unbind(a, dim)))


def _ref_unbind(a, dim):
    return sum(np.take(a, i, axis=dim) * (i + 1) for i in range(a.shape[dim]))


def _unary_dims(min_dims=0, max_dims=3):
    return lambda: S.unary_samples(min_dims=min_dims).filter(lambda s: s.args[0].ndim <= max_dims)


op_db += [
    OpInfo("repeat", lambda a, sizes: SH.repeat(a, *sizes), _with(_kw_repeat),
           ref=lambda a, sizes: np.tile(a, sizes)),
    OpInfo("tile", lambda a, dims: SH.tile(a, dims), _with(_kw_tile),
           ref=lambda a, dims: np.tile(a, dims)),
    OpInfo("repeat_interleave", lambda a, repeats, dim: SH.repeat_interleave(a, repeats, dim),
           _with(lambda draw, s: {"repeats": draw(st.integers(0, 3)),
                                  "dim": draw(st.none() | st.integers(-len(s), len(s) - 1))}),
           ref=lambda a, repeats, dim: np.repeat(a, repeats, axis=dim)),
    OpInfo("repeat_interleave_tensor",
           lambda a, repeats, dim: SH.repeat_interleave(a, repeats, dim),
           _repeat_interleave_tensor_samples,
           ref=lambda a, repeats, dim: np.repeat(a, repeats, axis=dim)),
    OpInfo("roll", lambda a, shifts, dims: SH.roll(a, shifts, dims), _with(_kw_roll),
           ref=lambda a, shifts, dims: np.roll(a, shifts, dims)),
    OpInfo("roll_flat", lambda a, shifts: SH.roll(a, shifts),
           _with(lambda draw, s: {"shifts": draw(st.integers(-7, 7))}, min_dims=0),
           ref=lambda a, shifts: np.roll(a, shifts)),
    OpInfo("flip", lambda a, dims: SH.flip(a, dims),
           _with(lambda draw, s: {"dims": _dims(draw, s)}), ref=lambda a, dims: np.flip(a, dims)),
    OpInfo("fliplr", SH.fliplr, _unary_dims(min_dims=2), ref=np.fliplr),
    OpInfo("flipud", SH.flipud, _unary_dims(min_dims=1), ref=np.flipud),
    OpInfo("rot90", lambda a, k, dims: SH.rot90(a, k, dims),
           _with(lambda draw, s: {"k": draw(st.integers(-4, 4)), "dims": _plane(draw, len(s))},
                 min_dims=2), ref=lambda a, k, dims: np.rot90(a, k, dims)),
    OpInfo("tril", lambda a, k: SH.tril(a, k),
           _with(lambda draw, s: {"k": draw(st.integers(-3, 3))}, min_dims=2),
           ref=lambda a, k: np.tril(a, k)),
    OpInfo("triu", lambda a, k: SH.triu(a, k),
           _with(lambda draw, s: {"k": draw(st.integers(-3, 3))}, min_dims=2),
           ref=lambda a, k: np.triu(a, k)),
    OpInfo("diag", lambda a, k: SH.diag(a, k),
           _with(lambda draw, s: {"k": draw(st.integers(-2, 2))}, max_dims=2),
           ref=lambda a, k: np.diag(a, k)),
    OpInfo("diagonal", lambda a, offset, dim1, dim2: SH.diagonal(a, offset, dim1, dim2),
           _with(_kw_diagonal, min_dims=2),
           ref=lambda a, offset, dim1, dim2: np.diagonal(a, offset, dim1, dim2)),
    OpInfo("diag_embed", lambda a, offset, dim1, dim2: SH.diag_embed(a, offset, dim1, dim2),
           _with(_kw_diag_embed, max_dims=2), ref=_ref_diag_embed),
    OpInfo("trace", SH.trace, _unary_dims(min_dims=2, max_dims=2), ref=np.trace),
    OpInfo("Tensor.unfold", lambda a, dim, size, step: SH.unfold(a, dim, size, step),
           _with(_kw_unfold), ref=_ref_unfold),
    OpInfo("movedim", lambda a, source, destination: SH.movedim(a, source, destination),
           _with(_kw_movedim), ref=lambda a, source, destination: np.moveaxis(a, source,
                                                                              destination)),
    OpInfo("unflatten", lambda a, dim, sizes: SH.unflatten(a, dim, sizes), _with(_kw_unflatten),
           ref=_ref_unflatten),
    OpInfo("narrow", lambda a, dim, start, length: SH.narrow(a, dim, start, length),
           _with(_kw_narrow),
           ref=lambda a, dim, start, length: np.take(a, range(start, start + length), axis=dim)),
    OpInfo("chunk", _chunk, _with(lambda draw, s: {"chunks": draw(st.integers(1, 4)),
                                                   "dim": _dim(draw, s)}), ref=_ref_chunk),
    OpInfo("unbind", _unbind, _with(lambda draw, s: {"dim": _dim(draw, s)}), ref=_ref_unbind),
    OpInfo("meshgrid", lambda a, b, indexing: SH.stack(SH.meshgrid(a, b, indexing=indexing)),
           _meshgrid_samples,
           ref=lambda a, b, indexing: np.stack(np.meshgrid(a, b, indexing=indexing))),
    OpInfo("broadcast_tensors", lambda a, b: SH.stack(SH.broadcast_tensors(a, b)),
           S.binary_samples, ref=lambda a, b: np.stack(np.broadcast_arrays(a, b))),
    OpInfo("atleast_1d", SH.atleast_1d, _unary_dims(max_dims=1), ref=np.atleast_1d),
    OpInfo("atleast_2d", SH.atleast_2d, _unary_dims(max_dims=2), ref=np.atleast_2d),
    OpInfo("atleast_3d", SH.atleast_3d, _unary_dims(max_dims=2), ref=np.atleast_3d),
    OpInfo("view_as", lambda a, other: a.view_as(other), _like(lambda s: (int(np.prod(s)),)),
           ref=lambda a, other: a.reshape(other.shape)),
    OpInfo("reshape_as", lambda a, other: a.reshape_as(other),
           _like(lambda s: (1, int(np.prod(s)))), ref=lambda a, other: a.reshape(other.shape)),
    OpInfo("expand_as", lambda a, other: a.expand_as(other), _like(lambda s: (2,) + s),
           ref=lambda a, other: np.broadcast_to(a, other.shape)),
    OpInfo("pad_modes", lambda a, pad, mode: F_pad(a, pad, mode), _pad_samples, ref=_ref_pad),
    OpInfo("getitem_torch_order", lambda a, index: a[index], _torch_index_samples,
           ref=_ref_torch_index),
]
