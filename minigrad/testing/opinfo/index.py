"""Selection and scatter along a dim (gather, scatter, scatter_add, scatter_reduce, index_select,
index_add, take_along_dim, masked_fill, masked_select); loop-by-loop NumPy references.

Index arrays are positional (constant int tensors, on the op's device in the GPU parity test).
Samples keep index shapes smaller than the input off ``dim`` half the time (PyTorch allows it),
repeat indices (accumulation), and draw ``scatter``'s indices without repeats (which element a
repeated write keeps is unspecified) and ``amax``/``amin`` values without ties (kinks).
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from minigrad.ops.index import (
    ScatterFn,
    ScatterReduceFn,
    gather,
    index_add,
    index_select,
    masked_fill,
    masked_select,
    scatter,
    scatter_add,
    scatter_reduce,
    take_along_dim,
)
from minigrad.testing import strategies as S
from minigrad.testing.opinfo import _draw as D
from minigrad.testing.opinfo.core import OpInfo, Sample

# ---------------------------------------------------------------------------------------------
# references: explicit loops over the index
# ---------------------------------------------------------------------------------------------


def _target(pos: tuple[int, ...], dim: int, value: int) -> tuple[int, ...]:
    t = list(pos)
    t[dim] = int(value)
    return tuple(t)


def _ref_gather(x, index, dim):
    dim %= x.ndim
    out = np.empty(index.shape)
    for pos in np.ndindex(*index.shape):
        out[pos] = x[_target(pos, dim, index[pos])]
    return out


def _ref_scatter_add(x, index, src, dim):
    dim %= x.ndim
    out = x.astype(np.float64).copy()
    for pos in np.ndindex(*index.shape):
        out[_target(pos, dim, index[pos])] += src[pos]
    return out


def _ref_scatter(x, index, src, dim):
    dim %= x.ndim
    out = x.astype(np.float64).copy()
    for pos in np.ndindex(*index.shape):
        out[_target(pos, dim, index[pos])] = src[pos]
    return out


def _ref_scatter_reduce(x, index, src, dim, reduce, include_self):
    dim %= x.ndim
    groups: dict[tuple[int, ...], list[float]] = {}
    for pos in np.ndindex(*index.shape):
        groups.setdefault(_target(pos, dim, index[pos]), []).append(float(src[pos]))
    out = x.astype(np.float64).copy()
    fold = {"sum": np.sum, "prod": np.prod, "mean": np.mean, "amax": np.max, "amin": np.min}
    for t, vals in groups.items():
        out[t] = fold[reduce](vals + ([x[t]] if include_self else []))
    return out


def _ref_index_select(x, index, dim):
    return np.stack([np.take(x, int(i), axis=dim) for i in index], axis=dim % x.ndim)


def _ref_index_add(x, index, source, dim, alpha=1.0):
    dim %= x.ndim
    out = x.astype(np.float64).copy()
    for j, i in enumerate(index):
        sl = [slice(None)] * x.ndim
        sl[dim] = int(i)
        src = [slice(None)] * x.ndim
        src[dim] = j
        out[tuple(sl)] += alpha * source[tuple(src)]
    return out


def _ref_take_along_dim(x, indices, dim):
    if dim is None:
        return np.take_along_axis(x.reshape(-1), indices.reshape(-1), 0)
    shape = np.broadcast_shapes(x.shape[:dim % x.ndim] + (1,) + x.shape[dim % x.ndim + 1:],
                                indices.shape[:dim % x.ndim] + (1,)
                                + indices.shape[dim % x.ndim + 1:])
    d = dim % x.ndim
    xb = np.broadcast_to(x, shape[:d] + (x.shape[d],) + shape[d + 1:])
    ib = np.broadcast_to(indices, shape[:d] + (indices.shape[d],) + shape[d + 1:])
    return np.take_along_axis(xb, ib, d)


# ---------------------------------------------------------------------------------------------
# samples
# ---------------------------------------------------------------------------------------------


def _index_shape(draw, shape, d, along_max=4, smaller=True):
    """An index shape: as many dims as ``shape``, no larger off ``d`` (smaller sometimes)."""
    out = []
    for k, n in enumerate(shape):
        if k == d % len(shape):
            out.append(draw(st.integers(1, along_max)))
        else:
            out.append(draw(st.integers(1, n)) if smaller and draw(st.booleans()) else n)
    return tuple(out)


@st.composite
def _gather_samples(draw):
    shape, d = D.shape_and_dim(draw)
    ishape = _index_shape(draw, shape, d)
    index = D.ints(draw, ishape, 0, shape[d] - 1)
    return Sample((draw(S.arrays(shape)), index), {"dim": d})


@st.composite
def _scatter_add_samples(draw):
    shape, d = D.shape_and_dim(draw)
    ishape = _index_shape(draw, shape, d)
    index = D.ints(draw, ishape, 0, shape[d] - 1)
    sshape = tuple(n + draw(st.integers(0, 1)) for n in ishape)  # src may be larger
    return Sample((draw(S.arrays(shape)), index, draw(S.arrays(sshape))), {"dim": d})


@st.composite
def _scatter_samples(draw):
    shape, d = D.shape_and_dim(draw)
    ishape = list(_index_shape(draw, shape, d))
    ishape[d] = draw(st.integers(1, shape[d]))
    index = D.unique_rows(draw, tuple(ishape), d % len(shape), shape[d])
    return Sample((draw(S.arrays(shape)), index, draw(S.arrays(tuple(ishape)))), {"dim": d})


def _scatter_reduce_samples(reduce):
    @st.composite
    def draw_sample(draw):
        shape, d = D.shape_and_dim(draw)
        ishape = _index_shape(draw, shape, d)
        index = D.ints(draw, ishape, 0, shape[d] - 1)
        n, m = int(np.prod(shape)), int(np.prod(ishape))
        if reduce in ("amax", "amin"):  # no ties anywhere: x and src drawn as one
            both = D.distinct(draw, (n + m,))
            x, src = both[:n].reshape(shape), both[n:].reshape(ishape)
        else:
            lo = 0.5 if reduce == "mean" else -2.0
            x, src = draw(S.arrays(shape, lo=lo)), draw(S.arrays(ishape, lo=lo))
            if reduce == "prod":  # exact zeros (the gradient's special cases), others not tiny
                x = D.with_zeros(draw, S.push_away(x, (0.0,), 0.05), 1)
                src = D.with_zeros(draw, S.push_away(src, (0.0,), 0.05), 2)
        return Sample((x, index, src), {"dim": d, "reduce": reduce,
                                        "include_self": draw(st.booleans())})

    return draw_sample


@st.composite
def _index_select_samples(draw):
    shape, d = D.shape_and_dim(draw)
    index = D.ints(draw, (draw(st.integers(1, 5)),), 0, shape[d] - 1)
    return Sample((draw(S.arrays(shape)), index), {"dim": d})


@st.composite
def _index_add_samples(draw):
    shape, d = D.shape_and_dim(draw)
    k = draw(st.integers(1, 5))
    index = D.ints(draw, (k,), 0, shape[d] - 1)
    sshape = list(shape)
    sshape[d] = k
    alpha = draw(st.sampled_from([1.0, -0.5, 2.0]))
    return Sample((draw(S.arrays(shape)), index, draw(S.arrays(tuple(sshape)))),
                  {"dim": d, "alpha": alpha})


@st.composite
def _take_along_dim_samples(draw):
    shape, d = D.shape_and_dim(draw)
    if draw(st.booleans()):
        n = int(np.prod(shape))
        idx = D.ints(draw, (draw(st.integers(1, 6)),), 0, n - 1)
        return Sample((draw(S.arrays(shape)), idx), {"dim": None})
    ishape = [1 if draw(st.booleans()) else n for n in shape]  # broadcast off dim
    ishape[d] = draw(st.integers(1, 4))
    xshape = [1 if ishape[k] != 1 and draw(st.booleans()) and k != d % len(shape) else n
              for k, n in enumerate(shape)]
    idx = D.ints(draw, tuple(ishape), -shape[d], shape[d] - 1)
    return Sample((draw(S.arrays(tuple(xshape))), idx), {"dim": d})


@st.composite
def _masked_fill_samples(draw):
    pair = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3))
    xs, ms = pair.input_shapes
    mask = draw(hnp.arrays(np.bool_, ms))
    x = draw(S.arrays(xs))
    if draw(st.booleans()):  # a 0-d tensor value receives the filled positions' gradient
        return Sample((x, mask, draw(S.arrays(()))))
    return Sample((x, mask), {"value": draw(st.sampled_from([0.0, -1.5, 3.0]))})


@st.composite
def _masked_select_samples(draw):
    pair = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3))
    xs, ms = pair.input_shapes
    return Sample((draw(S.arrays(xs)), draw(hnp.arrays(np.bool_, ms))))


def _ref_masked_fill(x, mask, value):
    return np.where(mask, value, x)


def _ref_masked_select(x, mask):
    xb, mb = np.broadcast_arrays(x, mask)
    return xb[mb]


op_db = [
    OpInfo("gather", lambda x, index, dim: gather(x, dim, index), _gather_samples,
           ref=_ref_gather),
    OpInfo("scatter_add", lambda x, index, src, dim: scatter_add(x, dim, index, src),
           _scatter_add_samples, ref=_ref_scatter_add),
    OpInfo("scatter", lambda x, index, src, dim: scatter(x, dim, index, src), _scatter_samples,
           ref=_ref_scatter, kinks=ScatterFn.kinks),
    OpInfo("scatter_value", lambda x, index, src, dim: scatter(x, dim, index, value=0.5),
           lambda: _scatter_samples().map(lambda s: Sample(s.args, s.kwargs, grad_args=(0,))),
           ref=lambda x, index, src, dim: _ref_scatter(x, index, np.full(index.shape, 0.5), dim),
           kinks=ScatterFn.kinks),
    *[OpInfo(f"scatter_reduce_{r}",
             lambda x, index, src, dim, reduce, include_self: scatter_reduce(
                 x, dim, index, src, reduce, include_self=include_self),
             (lambda r=r: _scatter_reduce_samples(r)()), ref=_ref_scatter_reduce,
             kinks=ScatterReduceFn.kinks if r in ("amax", "amin", "prod") else "")
      for r in ("sum", "prod", "mean", "amax", "amin")],
    OpInfo("index_select", lambda x, index, dim: index_select(x, dim, index),
           _index_select_samples, ref=_ref_index_select),
    OpInfo("index_add", lambda x, index, source, dim, alpha: index_add(x, dim, index, source,
                                                                       alpha=alpha),
           _index_add_samples, ref=_ref_index_add),
    OpInfo("take_along_dim", lambda x, indices, dim: take_along_dim(x, indices, dim),
           _take_along_dim_samples, ref=_ref_take_along_dim),
    OpInfo("masked_fill", lambda x, mask, value: masked_fill(x, mask, value),
           _masked_fill_samples, ref=_ref_masked_fill),
    OpInfo("masked_select", masked_select, _masked_select_samples, ref=_ref_masked_select),
]
