"""Indexing and joining on ``CudaArray``: ``a[index]``, ``a[index] = v``, ``np.add.at``,
``np.concatenate``, ``np.stack``, ``np.split``/``np.array_split``, ``np.pad`` (constant),
``np.flip``.

An index is compiled on the host into a *plan*: the result's shape, a base offset, per result axis
a source stride (basic axes: ints fold into the offset, slices scale the stride, None adds a
stride-0 axis) and, for NumPy's advanced indexing, the integer index arrays broadcast together to
``B`` and stacked into one (n_adv, prod(B)) int64 device array, plus where the ``B`` axes go in the
result (in place of the advanced indices when they are adjacent, in front otherwise — NumPy's
rule; integers count as advanced indices when arrays are present, as in NumPy). One kernel then
walks the result: offset = base + sum(coord * stride) + sum(index_k[b] * stride_k). Basic indices
use ``_elementwise.gather``/``scatter`` directly.

Boolean masks are turned into integer arrays with ``np.nonzero`` on the host (the result's shape
depends on the data, so a GPU mask is copied to the host once; the indexed array never is).
Out-of-bounds indices raise ``IndexError`` as in NumPy (GPU index arrays are range-checked with a
min/max reduction first). Assignments with repeated indices: some write wins (NumPy promises
nothing more for repeats); ``np.add.at`` accumulates them with atomics.
"""

from __future__ import annotations

import functools
import math
import operator
from typing import Any

import numpy as np
from numpy.lib.array_utils import normalize_axis_index

from minigrad.cuda import _launch as L
from minigrad.cuda._elementwise import gather, scatter
from minigrad.cuda._runtime import launch, load_cuda
from minigrad.cuda.array import CudaArray, empty, from_host, full, implements

cuda: Any = None  # numba.cuda, bound on first use (the simulator patches module globals)

_ATOMIC = tuple(np.dtype(t) for t in (np.float32, np.float64, np.int32, np.int64, np.uint32,
                                      np.uint64))


def _bind() -> None:
    global cuda
    if cuda is None:
        cuda = load_cuda()


# ---------------------------------------------------------------------------------------------
# Kernels
# ---------------------------------------------------------------------------------------------


def _walker() -> Any:
    offsets2 = L.offsets2_fn()

    @cuda.jit(device=True)
    def walk(i, base, oshape, ostr, bstr, idx, nadv, nb, asize, astr):
        """Source offset of result element ``i``: its basic-index offset, plus each advanced
        index array's entry (read at the broadcast position bi) times that axis's stride."""
        off, bi = offsets2(i, oshape, ostr, bstr)
        off += base
        for k in range(nadv):
            v = idx[k * nb + bi]
            if v < 0:
                v += asize[k]
            off += v * astr[k]
        return off

    return walk


@functools.cache
def _kernels() -> tuple[Any, Any, Any]:
    _bind()
    walk = _walker()
    offset = L.offset_fn()

    @cuda.jit(device=True)
    def value_at(i, oshape, v, vo, vst, vm, vv):
        if vm == 2:
            return vv
        if vm == 0:
            return v[i]
        return v[offset(i, oshape, vo, vst)]

    @cuda.jit
    def take(out, n, src, base, oshape, ostr, bstr, idx, nadv, nb, asize, astr):
        for i in range(cuda.grid(1), n, cuda.gridsize(1)):
            out[i] = src[walk(i, base, oshape, ostr, bstr, idx, nadv, nb, asize, astr)]

    @cuda.jit
    def put(dst, n, base, oshape, ostr, bstr, idx, nadv, nb, asize, astr, v, vo, vst, vm, vv):
        for i in range(cuda.grid(1), n, cuda.gridsize(1)):
            dst[walk(i, base, oshape, ostr, bstr, idx, nadv, nb, asize, astr)] = value_at(
                i, oshape, v, vo, vst, vm, vv)

    @cuda.jit
    def add_at(dst, n, base, oshape, ostr, bstr, idx, nadv, nb, asize, astr, v, vo, vst, vm,
               vv):
        for i in range(cuda.grid(1), n, cuda.gridsize(1)):
            cuda.atomic.add(dst, walk(i, base, oshape, ostr, bstr, idx, nadv, nb, asize, astr),
                            value_at(i, oshape, v, vo, vst, vm, vv))

    return take, put, add_at


# ---------------------------------------------------------------------------------------------
# Index plans
# ---------------------------------------------------------------------------------------------


class _Plan:
    """Where each element of ``a[index]`` lives in ``a`` (see the module docstring)."""

    shape: tuple[int, ...]
    base: int
    ostr: tuple[int, ...]
    bstr: tuple[int, ...]
    adv: list[Any]  # index arrays (host ndarrays or CudaArrays), before broadcasting
    bshape: tuple[int, ...]
    asize: list[int]
    astr: list[int]


def _is_int(x: Any) -> bool:
    if isinstance(x, bool | np.bool_):
        return False
    if isinstance(x, int | np.integer):
        return True
    return isinstance(x, np.ndarray) and x.ndim == 0 and x.dtype.kind in "iu"


def _normalize(index: Any) -> tuple[Any, ...] | None:
    """Index entries with lists as arrays and boolean masks as nonzero() integer arrays; None
    when the index has a form handled only by NumPy (the caller falls back)."""
    items = index if isinstance(index, tuple) else (index,)
    out: list[Any] = []
    for it in items:
        if isinstance(it, list):
            it = np.asarray(it)
            if it.size == 0:
                it = it.astype(np.intp)
        if type(it) is CudaArray and it.dtype == np.bool_:
            it = it.get()  # the result's shape depends on the mask: read it once
        if isinstance(it, np.ndarray) and it.dtype == np.bool_:
            if it.ndim == 0:
                return None
            out.extend(np.nonzero(it))
            out[-it.ndim:] = [_Mask(x) for x in out[-it.ndim:]]
            continue
        if isinstance(it, np.ndarray) and it.ndim > 0 and it.dtype.kind not in "iu":
            raise IndexError("arrays used as indices must be of integer (or boolean) type")
        if type(it) is CudaArray and it.dtype.kind not in "iu":
            raise IndexError("arrays used as indices must be of integer (or boolean) type")
        if not (it is None or it is Ellipsis or isinstance(it, slice) or _is_int(it)
                or isinstance(it, np.ndarray) or type(it) is CudaArray):
            return None
        out.append(it)
    return tuple(out)


class _Mask:
    """One axis' integer array from a boolean mask (consumes one axis, like any index array)."""

    def __init__(self, a: np.ndarray) -> None:
        self.a = a


def _plan(shape: tuple[int, ...], index: Any) -> _Plan | None:
    items = _normalize(index)
    if items is None:
        return None
    if sum(1 for it in items if it is Ellipsis) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    used = sum(1 for it in items if it is not None and it is not Ellipsis)
    if used > len(shape):
        raise IndexError(f"too many indices for array: array is {len(shape)}-dimensional, "
                         f"but {used} were indexed")
    if any(it is Ellipsis for it in items):
        pos = next(i for i, it in enumerate(items) if it is Ellipsis)
        items = items[:pos] + (slice(None),) * (len(shape) - used) + items[pos + 1:]
    else:
        items = items + (slice(None),) * (len(shape) - used)
    st = L.c_strides(shape)
    p = _Plan()
    p.base = 0
    dims: list[tuple[int, int]] = []  # basic result axes: (size, stride)
    p.adv, p.asize, p.astr = [], [], []
    adv_pos: list[int] = []  # tuple positions of advanced entries (ints count)
    first_adv_dim = None
    d = 0
    has_arrays = any(isinstance(it, np.ndarray | CudaArray | _Mask) and not _is_int(it)
                     for it in items)
    for pos, it in enumerate(items):
        if it is None:
            dims.append((1, 0))
            continue
        n = shape[d]
        if isinstance(it, slice):
            start, _, step = it.indices(n)
            size = len(range(*it.indices(n)))
            if size:
                p.base += start * st[d]
            dims.append((size, step * st[d]))
        elif _is_int(it):
            i = operator.index(it)
            if not -n <= i < n:
                raise IndexError(f"index {i} is out of bounds for axis {d} with size {n}")
            p.base += (i % n) * st[d]
            if has_arrays:
                adv_pos.append(pos)
                if first_adv_dim is None:
                    first_adv_dim = len(dims)
        else:
            arr = it.a if isinstance(it, _Mask) else it
            if isinstance(arr, np.ndarray) and arr.size:
                lo, hi = int(arr.min()), int(arr.max())
                if lo < -n or hi >= n:
                    bad = hi if hi >= n else lo
                    raise IndexError(f"index {bad} is out of bounds for axis {d} with size {n}")
            p.adv.append(arr)
            p.asize.append(n)
            p.astr.append(st[d])
            adv_pos.append(pos)
            if first_adv_dim is None:
                first_adv_dim = len(dims)
        d += 1
    if not p.adv:
        p.bshape = ()
        p.shape = tuple(s for s, _ in dims)
        p.ostr = tuple(x for _, x in dims)
        p.bstr = (0,) * len(dims)
        return p
    if len(p.adv) > L.MAXD:
        return None
    try:
        p.bshape = np.broadcast_shapes(*(a.shape for a in p.adv))
    except ValueError:
        raise IndexError("shape mismatch: indexing arrays could not be broadcast together "
                         f"with shapes {' '.join(str(a.shape) for a in p.adv)}") from None
    adjacent = adv_pos == list(range(adv_pos[0], adv_pos[0] + len(adv_pos)))
    at = first_adv_dim if adjacent else 0
    bst = L.c_strides(p.bshape)
    full_dims = dims[:at] + [(s, 0) for s in p.bshape] + dims[at:]
    bstr = [0] * at + list(bst) + [0] * (len(dims) - at)
    p.shape = tuple(s for s, _ in full_dims)
    p.ostr = tuple(x for _, x in full_dims)
    p.bstr = tuple(bstr)
    return p


def _index_array(p: _Plan) -> tuple[Any, int]:
    """The plan's index arrays as one (n_adv * prod(B),) int64 device buffer (range-checked)."""
    nb = math.prod(p.bshape)
    if not p.adv:
        return L.dummy(np.dtype(np.int64)), 1
    if all(isinstance(a, np.ndarray) for a in p.adv):
        host = np.stack([np.broadcast_to(a, p.bshape).astype(np.int64).reshape(-1)
                         for a in p.adv])
        return from_host(host.reshape(-1))._buf, nb
    buf = empty((len(p.adv) * nb,), np.int64)
    for k, (a, n) in enumerate(zip(p.adv, p.asize)):
        if type(a) is CudaArray:
            if a.size:
                lo, hi = int(np.min(a).item()), int(np.max(a).item())
                if lo < -n or hi >= n:
                    bad = hi if hi >= n else lo
                    raise IndexError(f"index {bad} is out of bounds for size {n}")
        else:
            a = from_host(np.asarray(a, dtype=np.int64))
        scatter(buf, p.bshape, L.c_strides(p.bshape), k * nb, a)
    return buf._buf, nb


def _launch_args(p: _Plan) -> tuple:
    idx, nb = _index_array(p)
    return (np.int64(p.base), L.pad(p.shape, 1), L.pad(p.ostr, 0), L.pad(p.bstr, 0), idx,
            np.int64(len(p.adv)), np.int64(nb), _front(p.asize, 1), _front(p.astr, 0))


def _front(v: list[int], fill: int) -> tuple[int, ...]:
    return tuple(int(x) for x in v) + (fill,) * (L.MAXD - len(v))


def _value(dst: CudaArray, value: Any, shape: tuple[int, ...]) -> Any:
    """``value`` ready to be broadcast to ``shape``: a scalar, or a CudaArray (host arrays are
    uploaded, leading unit axes beyond ``shape``'s rank dropped, a buffer shared with ``dst``
    copied)."""
    if L.is_scalar(value):
        return value
    if type(value) is not CudaArray:
        value = from_host(np.asarray(value, dtype=dst.dtype))
    vs = value.shape
    while len(vs) > len(shape) and vs[0] == 1:  # NumPy drops leading unit axes here
        vs = vs[1:]
    try:
        ok = np.broadcast_shapes(vs, shape) == shape
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"could not broadcast input array from shape {value.shape} into "
                         f"shape {shape}")
    if value._buf is dst._buf:
        value = value.copy()  # reading and writing the same buffer would race
    return value.reshape(vs)


# ---------------------------------------------------------------------------------------------
# getitem / setitem / add.at
# ---------------------------------------------------------------------------------------------


@implements("getitem")
def getitem(a: CudaArray, index: Any) -> Any:
    """``a[index]``: a new array (basic slices are copies too: CudaArray has no views)."""
    p = _plan(a.shape, index)
    if p is None:
        return NotImplemented
    if not p.adv:
        return gather(a, p.shape, p.ostr, p.base)
    out = empty(p.shape, a.dtype)
    n = out.size
    if n == 0:
        return out
    take = _kernels()[0]
    blocks, threads = launch(n)
    take[blocks, threads](out._buf, np.int64(n), a._buf, *_launch_args(p))
    return out


@implements("setitem")
def setitem(a: CudaArray, index: Any, value: Any) -> Any:
    """``a[index] = value`` (value: scalar, CudaArray or host array broadcastable to the
    indexed shape)."""
    p = _plan(a.shape, index)
    if p is None:
        return NotImplemented
    if not p.adv:
        v = _value(a, value, p.shape)
        scatter(a, p.shape, p.ostr, p.base, v)
        return None
    _put(_kernels()[1], a, p, value)
    return None


def _put(kernel: Any, a: CudaArray, p: _Plan, value: Any) -> None:
    op = L.as_operand(_value(a, value, p.shape), p.shape, a.dtype)
    n = math.prod(p.shape)
    if n == 0:
        return
    blocks, threads = launch(n)
    kernel[blocks, threads](a._buf, np.int64(n), *_launch_args(p), op[0], np.int64(op[1]),
                            op[2], np.int64(op[3]), op[4])


@implements((np.add, "at"))
def add_at(a: Any, indices: Any, b: Any = None) -> Any:
    """``np.add.at(a, indices, b)``: ``a[indices] += b`` with repeated indices accumulating."""
    if type(a) is not CudaArray or a.dtype not in _ATOMIC or b is None:
        return NotImplemented
    if type(b) is CudaArray and np.result_type(a.dtype, b.dtype) != a.dtype:
        return NotImplemented  # NumPy's casting error comes from the host
    p = _plan(a.shape, indices)
    if p is None:
        return NotImplemented
    _put(_kernels()[2], a, p, b)
    return None


# ---------------------------------------------------------------------------------------------
# Joining, splitting, padding, flipping
# ---------------------------------------------------------------------------------------------


def _all_gpu(arrays: Any, op: str) -> list[CudaArray]:
    """The arrays to join, as a list: at least one, all on the GPU."""
    arrays = list(arrays)
    if not arrays:
        raise ValueError(f"need at least one array to {op}")
    for x in arrays:
        if type(x) is not CudaArray:
            raise TypeError(f"{op}: cannot mix GPU arrays with a host {type(x).__name__}; move "
                            "it to the GPU first")
    return arrays


@implements(np.concatenate)
def concatenate(arrays: Any, axis: Any = 0, out: Any = None, dtype: Any = None,
                casting: str = "same_kind") -> Any:
    """Join arrays along ``axis`` (None: flatten first); one copy kernel per input."""
    if out is not None:
        return NotImplemented
    xs = _all_gpu(arrays, "concatenate")
    if axis is None:
        xs = [x.reshape(-1) for x in xs]
        axis = 0
    nd = xs[0].ndim
    if nd == 0:
        raise ValueError("zero-dimensional arrays cannot be concatenated")
    ax = normalize_axis_index(axis, nd)
    for i, x in enumerate(xs):
        if x.ndim != nd:
            raise ValueError("all the input array dimensions except for the concatenation axis "
                             f"must match exactly, but array at index 0 has {nd} dimension(s) "
                             f"and the array at index {i} has {x.ndim} dimension(s)")
        if x.shape[:ax] + x.shape[ax + 1:] != xs[0].shape[:ax] + xs[0].shape[ax + 1:]:
            raise ValueError("all the input array dimensions except for the concatenation axis "
                             f"must match exactly, but along dimension {ax}, the array at index "
                             f"0 has size {xs[0].shape[ax]} and the array at index {i} has size "
                             f"{x.shape[ax]}")
    dt = np.dtype(dtype) if dtype is not None else np.result_type(*(x.dtype for x in xs))
    shape = list(xs[0].shape)
    shape[ax] = sum(x.shape[ax] for x in xs)
    res = empty(tuple(shape), dt)
    st = L.c_strides(res.shape)
    start = 0
    for x in xs:
        scatter(res, x.shape, st, start * st[ax], x)
        start += x.shape[ax]
    return res


@implements(np.stack)
def stack(arrays: Any, axis: int = 0, out: Any = None, dtype: Any = None,
          casting: str = "same_kind") -> Any:
    """Join same-shaped arrays along a new ``axis``: as NumPy does it, by concatenating them
    with a new axis of length 1 there (``out`` goes on to :func:`concatenate`)."""
    xs = _all_gpu(arrays, "stack")
    if any(x.shape != xs[0].shape for x in xs):
        raise ValueError("all input arrays must have the same shape")
    ax = normalize_axis_index(axis, xs[0].ndim + 1)
    shape = xs[0].shape[:ax] + (1,) + xs[0].shape[ax:]
    return concatenate([x.reshape(shape) for x in xs], axis=ax, out=out, dtype=dtype,
                       casting=casting)


def _split(ary: CudaArray, indices_or_sections: Any, axis: int, exact: bool) -> list:
    n = ary.shape[axis]
    if isinstance(indices_or_sections, int | np.integer):
        k = int(indices_or_sections)
        if k <= 0:
            raise ValueError("number sections must be larger than 0.")
        if exact and n % k:
            raise ValueError("array split does not result in an equal division")
        q, r = divmod(n, k)
        sizes = [q + 1] * r + [q] * (k - r)
        bounds = np.cumsum([0] + sizes)
    else:
        bounds = np.asarray([0] + [int(i) for i in indices_or_sections] + [n])
    sl = [slice(None)] * ary.ndim
    out = []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        sl[axis] = slice(int(lo), int(hi))
        out.append(getitem(ary, tuple(sl)))
    return out


@implements(np.split)
def split(ary: Any, indices_or_sections: Any, axis: int = 0) -> Any:
    if type(ary) is not CudaArray:
        return NotImplemented
    return _split(ary, indices_or_sections, int(axis) % max(ary.ndim, 1), True)


@implements(np.array_split)
def array_split(ary: Any, indices_or_sections: Any, axis: int = 0) -> Any:
    if type(ary) is not CudaArray:
        return NotImplemented
    return _split(ary, indices_or_sections, int(axis) % max(ary.ndim, 1), False)


@implements(np.pad)
def pad(array: Any, pad_width: Any, mode: str = "constant", **kw: Any) -> Any:
    """Constant padding (a scalar ``constant_values``); other modes fall back to the host."""
    if type(array) is not CudaArray or mode != "constant" or set(kw) - {"constant_values"}:
        return NotImplemented
    value = kw.get("constant_values", 0)
    if np.ndim(value) != 0:
        return NotImplemented
    widths = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (array.ndim, 2))
    if (widths < 0).any():
        raise ValueError("index can't contain negative values")
    shape = tuple(int(s + b + a) for s, (b, a) in zip(array.shape, widths))
    res = full(shape, value, array.dtype)
    st = L.c_strides(shape)
    scatter(res, array.shape, st, sum(int(b) * s for (b, _), s in zip(widths, st)), array)
    return res


@implements(np.flip)
def flip(m: Any, axis: Any = None) -> Any:
    """A reversed copy along ``axis`` (all axes when None)."""
    if type(m) is not CudaArray:
        return NotImplemented
    nd = m.ndim
    axes = range(nd) if axis is None else (
        (axis,) if isinstance(axis, int | np.integer) else tuple(axis))
    sl = [slice(None)] * nd
    for ax in axes:
        if not -nd <= ax < nd:
            raise np.exceptions.AxisError(ax, nd)
        sl[int(ax) % nd] = slice(None, None, -1)
    return getitem(m, tuple(sl))
