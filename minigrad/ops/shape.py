"""Shape ops: reshape, permute/transpose/swapaxes, expand, squeeze/unsqueeze/flatten, indexing,
cat/stack/split, constant padding, and clone (a copy).

The primitives with their own backward are ReshapeFn, PermuteFn, ExpandFn, GetItemFn / IndexAddFn
(each other's adjoint), CatFn, PadFn and CloneFn; the rest are compositions of them.
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from minigrad import _device as _device
from minigrad.autograd import Function, is_grad_enabled
from minigrad.ops import _args
from minigrad.ops.elementwise import as_tensor
from minigrad.ops.reduce import normalize_axes
from minigrad.tensor import Tensor


def _shape_from(args: tuple[Any, ...]) -> tuple[int, ...]:
    if len(args) == 1 and isinstance(args[0], Sequence | np.ndarray):
        args = tuple(args[0])
    return tuple(int(a) for a in args)


def _axis(op: str, axis: int, ndim: int) -> int:
    return _args.dim(op, axis, ndim, "axis" if op in ("swapaxes", "cat") else "dim")


# ---------------------------------------------------------------------------------------------
# Reshape / permute / expand
# ---------------------------------------------------------------------------------------------


class ReshapeFn(Function):
    @staticmethod
    def forward(ctx, x, *, shape):
        ctx.in_shape = x.shape
        return x.data.reshape(shape)

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.in_shape)


class PermuteFn(Function):
    @staticmethod
    def forward(ctx, x, *, axes):
        ctx.axes = axes
        return np.transpose(x.data, axes)

    @staticmethod
    def backward(ctx, g):
        return g.permute(tuple(np.argsort(ctx.axes)))


class ExpandFn(Function):
    @staticmethod
    def forward(ctx, x, *, shape):
        ctx.in_shape = x.shape
        return np.broadcast_to(x.data, shape)

    @staticmethod
    def backward(ctx, g):
        return g.sum_to(ctx.in_shape)


def reshape(x: Any, *shape: Any) -> Tensor:
    """A tensor with the same elements in ``shape`` (one entry may be -1)."""
    x = as_tensor(x, None, "reshape")
    shape = _shape_from(shape)
    n = x.data.size
    known = math.prod(s for s in shape if s != -1)  # (np.prod costs ~2 us on a short list)
    if shape.count(-1) > 1 or any(s < -1 for s in shape):
        raise ValueError(f"reshape: invalid shape {shape}")
    if -1 in shape:
        if known == 0 or n % known:
            raise ValueError(f"reshape: cannot reshape a tensor of shape {x.shape} ({n} elements) "
                             f"into shape {shape}")
        shape = tuple(n // known if s == -1 else s for s in shape)
    elif known != n:
        raise ValueError(f"reshape: cannot reshape a tensor of shape {x.shape} ({n} elements) "
                         f"into shape {shape}")
    if shape == x.shape:
        return x
    return ReshapeFn.apply(x, shape=shape)


def permute(x: Any, *dims: Any) -> Tensor:
    """Reorder axes: output axis i is input axis ``dims[i]``."""
    x = as_tensor(x, None, "permute")
    axes = _shape_from(dims)
    if sorted(a % builtins.max(x.ndim, 1) for a in axes) != list(range(x.ndim)) or builtins.any(
        not -x.ndim <= a < x.ndim for a in axes
    ):
        raise ValueError(f"permute: {axes} is not a permutation of the {x.ndim} axes of {x.shape}")
    axes = tuple(a % x.ndim for a in axes)
    if axes == tuple(range(x.ndim)):
        return x
    return PermuteFn.apply(x, axes=axes)


def transpose(x: Any, *axes: Any) -> Tensor:
    """``transpose(x)`` reverses the axes; ``transpose(x, d0, d1)`` swaps two axes (PyTorch);
    ``transpose(x, (a0, a1, ...))`` or one int per axis permutes them (NumPy)."""
    x = as_tensor(x, None, "transpose")
    if not axes:
        return permute(x, tuple(range(x.ndim))[::-1])
    if len(axes) == 2 and builtins.all(isinstance(a, int | np.integer) for a in axes):
        return swapaxes(x, axes[0], axes[1])
    return permute(x, *axes)


def swapaxes(x: Any, axis1: int, axis2: int) -> Tensor:
    x = as_tensor(x, None, "swapaxes")
    a, b = _axis("swapaxes", axis1, x.ndim), _axis("swapaxes", axis2, x.ndim)
    order = list(range(x.ndim))
    order[a], order[b] = order[b], order[a]
    return permute(x, tuple(order))


def expand(x: Any, *shape: Any) -> Tensor:
    """Broadcast ``x`` to ``shape`` without copying (-1 keeps an axis, as in PyTorch)."""
    x = as_tensor(x, None, "expand")
    shape = _shape_from(shape)
    lead = len(shape) - x.ndim
    if lead < 0:
        raise ValueError(f"expand: cannot expand shape {x.shape} to fewer dimensions {shape}")
    shape = tuple(x.shape[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(shape))
    try:
        ok = np.broadcast_shapes(x.shape, shape) == shape
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"expand: cannot broadcast shape {x.shape} to {shape}")
    if shape == x.shape:
        return x
    return ExpandFn.apply(x, shape=shape)


broadcast_to = expand


def squeeze(x: Any, axis: Any = None, *, dim: Any = None) -> Tensor:
    """Drop size-1 axes (all of them, or those in ``axis`` that have size 1, as PyTorch)."""
    x = as_tensor(x, None, "squeeze")
    axis = dim if dim is not None else axis
    axes = normalize_axes("squeeze", axis, x.ndim)
    drop = {i for i, s in enumerate(x.shape) if s == 1 and (axes is None or i in axes)}
    return reshape(x, tuple(s for i, s in enumerate(x.shape) if i not in drop))


def unsqueeze(x: Any, dim: int) -> Tensor:
    """Insert a size-1 axis at ``dim`` (negative counts from the end of the result)."""
    x = as_tensor(x, None, "unsqueeze")
    d = _args.dim("unsqueeze", dim, x.ndim + 1)
    return reshape(x, x.shape[:d] + (1,) + x.shape[d:])


def flatten(x: Any, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge axes ``start_dim..end_dim`` (inclusive) into one."""
    x = as_tensor(x, None, "flatten")
    if x.ndim == 0:
        return reshape(x, (1,))
    s, e = _axis("flatten", start_dim, x.ndim), _axis("flatten", end_dim, x.ndim)
    if s > e:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    merged = math.prod(x.shape[s : e + 1])
    return reshape(x, x.shape[:s] + (merged,) + x.shape[e + 1 :])


class CloneFn(Function):
    """A C-contiguous copy; the gradient passes through unchanged."""

    @staticmethod
    def forward(ctx, x):
        return x.data.copy()

    @staticmethod
    def backward(ctx, g):
        return g


def clone(x: Any) -> Tensor:
    """A copy of ``x`` with its own (C-contiguous) storage, still in the graph (PyTorch's
    ``clone``): gradients flow back to ``x``, writes to the copy do not reach ``x``."""
    if not isinstance(x, Tensor):
        raise TypeError(f"clone: expected a Tensor, got {type(x).__name__}")
    if not x.requires_grad:
        return Tensor._make(x.data.copy())
    return CloneFn.apply(x)


# ---------------------------------------------------------------------------------------------
# Indexing
# ---------------------------------------------------------------------------------------------


class GetItemFn(Function):
    @staticmethod
    def forward(ctx, x, *, index):
        ctx.in_shape = x.shape
        ctx.index = index
        return x.data[index]

    @staticmethod
    def backward(ctx, g):
        return GetItemGradFn.apply(g, shape=ctx.in_shape, index=ctx.index)


class GetItemGradFn(Function):
    """zeros(shape) with ``g`` added at ``index`` (repeated indices accumulate): the gradient of
    ``x[index]``."""

    @staticmethod
    def forward(ctx, g, *, shape, index):
        ctx.index = index
        out = _device.zeros(shape, g.dtype, like=g.data)
        if _is_advanced(index):
            np.add.at(out, index, g.data)
        else:
            out[index] = g.data
        return out

    @staticmethod
    def backward(ctx, gg):
        return GetItemFn.apply(gg, index=ctx.index)


def _is_int_index(i: Any) -> bool:
    """An integer index (a Python/NumPy int or a 0-d integer array): PyTorch's basic index."""
    if isinstance(i, int | np.integer) and not isinstance(i, bool | np.bool_):
        return True
    return (isinstance(i, np.ndarray) or _device.is_cuda(i)) and i.ndim == 0 and \
        i.dtype.kind in "iu"


def torch_order(index: Any) -> tuple[Any, ...] | None:
    """PyTorch's dimension placement for an index mixing integers with index arrays, as two
    NumPy indices applied one after the other; None when NumPy's placement is already PyTorch's.

    NumPy counts an integer as an advanced index when arrays are present, so ``x[0, :, idx]``
    (x: (2, 3, 4), idx of length 2) puts the broadcast axis first, (2, 3). PyTorch applies
    integers as basic indices first, then the arrays to what is left: (3, 2). The first index
    holds the integers and slices (a view on the CPU), the second the arrays, None and the
    rest.
    """
    items = index if isinstance(index, tuple) else (index,)
    arrays = [i for i in items if (isinstance(i, np.ndarray) or _device.is_cuda(i))
              and not _is_int_index(i)]
    if not arrays or not builtins.any(_is_int_index(i) for i in items):
        return None
    first: list[Any] = []
    second: list[Any] = []
    for i in items:
        if _is_int_index(i):
            first.append(i)
        elif i is None:
            second.append(None)
        elif i is Ellipsis:
            first.append(Ellipsis)
            second.append(Ellipsis)
        elif isinstance(i, slice):
            first.append(i)
            second.append(slice(None))
        else:  # an index array (a bool mask spans its number of axes)
            first.extend([slice(None)] * (i.ndim if i.dtype == np.bool_ else 1))
            second.append(i)
    return tuple(first), tuple(second)


def _index_value(index: Any) -> Any:
    """Replace Tensors (and lists) inside an index by arrays NumPy understands."""
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, tuple):
        return tuple(_index_value(i) for i in index)
    if isinstance(index, list):
        return np.asarray([_index_value(i) for i in index])
    return index


def _is_advanced(index: Any) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return builtins.any(isinstance(i, np.ndarray) or _device.is_cuda(i) for i in items)


def _check_index(x: Tensor, idx: Any, op: str = "getitem") -> None:
    items = idx if isinstance(idx, tuple) else (idx,)
    for i in items:
        if (isinstance(i, np.ndarray) or _device.is_cuda(i)) and not (
            i.dtype == np.bool_ or np.issubdtype(i.dtype, np.integer)
        ):
            raise TypeError(f"{op}: index arrays must be integer or bool, got {i.dtype}")
    if not x.is_cuda and builtins.any(_device.is_cuda(i) for i in items):
        raise ValueError(f"{op}: a cuda index tensor cannot index a cpu tensor; use .cpu()")
    # Validate on the host, GPU index arrays included (one copy; an out-of-bounds gather on
    # the GPU would read garbage instead of raising).
    host_idx = tuple(_device.to_host(i) for i in items) if isinstance(idx, tuple) \
        else _device.to_host(idx)
    try:
        probe = np.empty(x.shape, dtype=np.uint8)[host_idx]  # validates the index, cheaply
    except IndexError as e:
        raise IndexError(f"{op}: {e} (tensor shape {x.shape})") from None
    del probe


def getitem(x: Tensor, index: Any) -> Tensor:
    """``x[index]`` with ints, slices, None, Ellipsis, integer arrays and bool masks.

    Index arrays follow PyTorch's dimension placement, which differs from NumPy's when integers
    and arrays are mixed: integers are basic indices, applied first (``x[0, :, idx]`` has shape
    ``(3, 2)`` for x: (2, 3, 4), idx of length 2; NumPy gives ``(2, 3)``). See
    :func:`torch_order`.
    """
    idx = _index_value(index)
    _check_index(x, idx)
    staged = torch_order(idx)
    if staged is not None:
        return getitem(getitem(x, staged[0]), staged[1])
    if not x.requires_grad:
        return Tensor._make(_device.wrap(x.data[idx]))
    return GetItemFn.apply(x, index=idx)


def setitem(x: Tensor, index: Any, value: Any) -> None:
    """``x.data[index] = value`` with PyTorch's placement of index arrays (see :func:`getitem`);
    the caller (``Tensor.__setitem__``) decides whether the write is allowed."""
    idx = _index_value(index)
    _check_index(x, idx, "setitem")
    staged = torch_order(idx)
    try:
        if staged is None:
            x.data[idx] = value
        elif isinstance(x.data, np.ndarray):
            x.data[staged[0]][staged[1]] = value  # the first index gives a view
        else:  # GPU arrays have no views: read the block, write into it, write it back
            block = x.data[staged[0]]
            block[staged[1]] = value
            x.data[staged[0]] = block
    except ValueError as e:  # a value that does not broadcast to the indexed block
        raise ValueError(f"setitem: value of shape {np.shape(value)} does not fit the indexed "
                         f"block of the tensor of shape {x.shape} ({e})") from None


# ---------------------------------------------------------------------------------------------
# Joining and splitting
# ---------------------------------------------------------------------------------------------


class CatFn(Function):
    @staticmethod
    def forward(ctx, *xs, axis):
        ctx.axis = axis
        ctx.sizes = [x.shape[axis] for x in xs]
        return np.concatenate([x.data for x in xs], axis=axis)

    @staticmethod
    def backward(ctx, g):
        out, start = [], 0
        for size, need in zip(ctx.sizes, ctx.needs_input_grad):
            if need:
                sl = [slice(None)] * g.ndim
                sl[ctx.axis] = slice(start, start + size)
                out.append(g[tuple(sl)])
            else:
                out.append(None)
            start += size
        return tuple(out)


def cat(tensors: Sequence[Any], axis: int = 0, *, dim: int | None = None) -> Tensor:
    """Join tensors along an existing axis (``dim`` is the PyTorch alias)."""
    ts = [as_tensor(t, None, "cat") for t in tensors]
    if not ts:
        raise ValueError("cat: expected a non-empty sequence of tensors")
    axis = dim if dim is not None else axis
    nd = ts[0].ndim
    if nd == 0 or builtins.any(t.ndim != nd for t in ts):
        raise ValueError(f"cat: all tensors need the same number (>= 1) of dimensions; got "
                         f"shapes {[t.shape for t in ts]}")
    a = _axis("cat", axis, nd)
    for t in ts:
        if t.shape[:a] + t.shape[a + 1 :] != ts[0].shape[:a] + ts[0].shape[a + 1 :]:
            raise ValueError(f"cat: shapes {[t.shape for t in ts]} differ outside axis {a}")
    dt = np.result_type(*[t.dtype for t in ts])
    ts = [t if t.dtype == dt else t.astype(dt) for t in ts]
    return CatFn.apply(*ts, axis=a)


concatenate = cat


def stack(tensors: Sequence[Any], axis: int = 0, *, dim: int | None = None) -> Tensor:
    """Join same-shaped tensors along a new axis."""
    ts = [as_tensor(t, None, "stack") for t in tensors]
    if not ts:
        raise ValueError("stack: expected a non-empty sequence of tensors")
    if builtins.any(t.shape != ts[0].shape for t in ts):
        raise ValueError(f"stack: all tensors need the same shape; got {[t.shape for t in ts]}")
    axis = dim if dim is not None else axis
    axis = _args.dim("stack", axis, ts[0].ndim + 1)
    return cat([unsqueeze(t, axis) for t in ts], axis=axis)


def split(x: Tensor, split_size_or_sections: int | Sequence[int], dim: int = 0) -> list[Tensor]:
    """PyTorch's split: pieces of ``split_size`` (the last may be smaller), or the given sizes."""
    a = _axis("split", dim, x.ndim)
    n = x.shape[a]
    if isinstance(split_size_or_sections, int | np.integer):
        size = int(split_size_or_sections)
        if size <= 0:
            raise ValueError(f"split: split_size must be positive, got {size}")
        sizes = [builtins.min(size, n - s) for s in range(0, n, size)] or [0]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if builtins.sum(sizes) != n or builtins.any(s < 0 for s in sizes):
            raise ValueError(f"split: sections {sizes} do not add up to {n}, the size of axis "
                             f"{a} of {x.shape}")
    out, start = [], 0
    for s in sizes:
        sl = [slice(None)] * x.ndim
        sl[a] = slice(start, start + s)
        out.append(x[tuple(sl)])
        start += s
    return out


# ---------------------------------------------------------------------------------------------
# Padding
# ---------------------------------------------------------------------------------------------


class PadFn(Function):
    @staticmethod
    def forward(ctx, x, *, pad_width, value):
        ctx.crop = tuple(slice(b, b + s) for (b, _), s in zip(pad_width, x.shape))
        return np.pad(x.data, pad_width, mode="constant", constant_values=value)

    @staticmethod
    def backward(ctx, g):
        return g[ctx.crop]


def pad(x: Any, pad_width: Any, value: float = 0.0) -> Tensor:
    """Constant padding, NumPy style: ``pad_width`` is an int, a ``(before, after)`` pair for every
    axis, or one pair per axis. (``nn.functional.pad`` takes PyTorch's last-axis-first tuple.)"""
    x = as_tensor(x, None, "pad")
    try:
        widths = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (x.ndim, 2))
    except ValueError:
        raise ValueError(f"pad: pad_width {pad_width!r} does not fit a tensor of shape "
                         f"{x.shape}") from None
    if (widths < 0).any():
        raise ValueError(f"pad: negative padding {pad_width!r}")
    pw = tuple((int(b), int(a)) for b, a in widths)
    if not pw:  # a 0-d tensor has no axis to pad (np.pad returns it unchanged too)
        return x
    if not np.issubdtype(x.dtype, np.floating):
        return Tensor._make(np.pad(x.data, pw, constant_values=value))
    return PadFn.apply(x, pad_width=pw, value=value)


# ---------------------------------------------------------------------------------------------
# Repeating, rolling, flipping, rotating (issue 14): compositions of the primitives above
# ---------------------------------------------------------------------------------------------


def _sizes(op: str, name: str, sizes: tuple[Any, ...]) -> tuple[int, ...]:
    if len(sizes) == 1 and isinstance(sizes[0], Sequence | np.ndarray):
        sizes = tuple(sizes[0])
    return _args.ntuple(op, name, sizes, len(sizes), minimum=0) if sizes else ()


def repeat(x: Any, *sizes: Any) -> Tensor:
    """``x`` tiled ``sizes[i]`` times along each axis (PyTorch's ``Tensor.repeat``; NumPy's
    ``tile``). ``sizes`` may be longer than ``x.ndim`` (new leading axes), not shorter."""
    x = as_tensor(x, None, "repeat")
    if not sizes:
        raise TypeError("repeat: missing the sizes (one per dimension, e.g. x.repeat(2, 1))")
    reps = _sizes("repeat", "sizes", sizes)
    if len(reps) < x.ndim:
        raise ValueError(f"repeat: give at least one size per dimension ({x.ndim} for shape "
                         f"{x.shape}), got {reps}")
    shape = (1,) * (len(reps) - x.ndim) + x.shape
    spread = tuple(v for s in shape for v in (1, s))
    big = tuple(v for r, s in zip(reps, shape) for v in (r, s))
    return reshape(expand(reshape(x, spread), big), tuple(r * s for r, s in zip(reps, shape)))


def tile(x: Any, dims: Any) -> Tensor:
    """``x`` repeated ``dims[i]`` times along each axis; a ``dims`` shorter than ``x.ndim`` is
    padded with leading 1s (``torch.tile``)."""
    x = as_tensor(x, None, "tile")
    reps = _sizes("tile", "dims", (dims,) if isinstance(dims, int | np.integer) else tuple(dims))
    return repeat(x, (1,) * (x.ndim - len(reps)) + reps)


def repeat_interleave(x: Any, repeats: Any = None, dim: int | None = None, *,
                      output_size: int | None = None) -> Tensor:
    """Each element (each slice along ``dim``) repeated ``repeats`` times in place:
    ``[1, 2] -> [1, 1, 2, 2]``. ``repeats``: an int or a 1-D integer tensor (one count per
    slice); ``dim=None`` flattens first. ``repeat_interleave(counts)`` with one integer tensor
    returns ``0`` repeated ``counts[0]`` times, ``1`` repeated ``counts[1]`` times, ..."""
    op = "repeat_interleave"
    from minigrad.ops.index import index_select, index_tensor

    if repeats is None:
        counts = index_tensor(op, "repeats", x)
        if counts.ndim != 1:
            raise ValueError(f"{op}: repeats must be 1-D, got shape {counts.shape}")
        return repeat_interleave(Tensor._make(_device.asarray(
            np.arange(counts.shape[0], dtype=np.int64), like=counts.data)), counts, 0)
    x = as_tensor(x, None, op)
    if dim is None:
        x, d = reshape(x, -1), 0
    elif x.ndim == 0:
        raise ValueError(f"{op}: a 0-d input has no dim {dim} (use dim=None)")
    else:
        d = _args.dim(op, dim, x.ndim)
    n = x.shape[d]
    if isinstance(repeats, int | np.integer) and not isinstance(repeats, bool):
        r = _args.integer(op, "repeats", repeats, minimum=0)
        out = expand(unsqueeze(x, d + 1), x.shape[:d + 1] + (r,) + x.shape[d + 1:])
        return reshape(out, x.shape[:d] + (n * r,) + x.shape[d + 1:])
    counts = index_tensor(op, "repeats", repeats)
    if counts.ndim > 1 or counts.data.size not in (1, n):
        raise ValueError(f"{op}: repeats must be an int or hold one count per slice ({n} along "
                         f"dim {d}) or a single count, got shape {counts.shape}")
    host = _device.to_host(counts.data).reshape(-1)
    if host.size and host.min() < 0:
        raise ValueError(f"{op}: repeats must be >= 0, got {int(host.min())}")
    if host.size == 1:
        return repeat_interleave(x, int(host[0]), d)
    idx = np.repeat(np.arange(n, dtype=np.int64), host)
    if output_size is not None and output_size != idx.size:
        raise ValueError(f"{op}: output_size {output_size} does not match the repeats' total "
                         f"{idx.size}")
    return index_select(x, d, Tensor._make(_device.asarray(idx, like=x.data)))


def narrow(x: Any, dim: int, start: int, length: int) -> Tensor:
    """``x``'s elements ``start .. start + length - 1`` along ``dim`` (``start`` may be negative,
    counting from the end)."""
    op = "narrow"
    x = as_tensor(x, None, op)
    d = _args.dim(op, dim, x.ndim)
    n = x.shape[d]
    start = _args.integer(op, "start", start)
    length = _args.integer(op, "length", length, minimum=0)
    if not -n <= start <= n:
        raise IndexError(f"{op}: start {start} is out of range for dim {d} of size {n}")
    if start < 0:
        start += n
    if start + length > n:
        raise ValueError(f"{op}: start ({start}) + length ({length}) exceeds dim {d} of size "
                         f"{n} (shape {x.shape})")
    return x[(slice(None),) * d + (slice(start, start + length),)]


def roll(x: Any, shifts: Any, dims: Any = None) -> Tensor:
    """Shift elements ``shifts`` places along ``dims`` (ints or tuples of one length), wrapping
    around; ``dims=None`` rolls the flattened tensor and restores the shape."""
    op = "roll"
    x = as_tensor(x, None, op)
    if dims is None:
        if not isinstance(shifts, int | np.integer):
            shifts = _args.ntuple(op, "shifts", shifts, 1)[0]
        return reshape(roll(reshape(x, -1), int(shifts), 0), x.shape)
    ds = _args.dims(op, dims, x.ndim, "dims")
    ss = (shifts,) if isinstance(shifts, int | np.integer) else tuple(shifts)
    if len(ss) != len(ds):
        raise ValueError(f"{op}: shifts {shifts!r} and dims {dims!r} must have the same length")
    ss = _args.ntuple(op, "shifts", ss, len(ds))
    out = x
    for s, d in zip(ss, ds):
        n = out.shape[d]
        if n == 0 or s % n == 0:
            continue
        s %= n
        out = cat([narrow(out, d, n - s, s), narrow(out, d, 0, n - s)], dim=d)
    return out


def flip(x: Any, dims: Any) -> Tensor:
    """``x`` reversed along each axis in ``dims`` (an int or a sequence)."""
    x = as_tensor(x, None, "flip")
    ds = _args.dims("flip", dims, x.ndim, "dims")
    if x.ndim == 0:
        return x
    index = [slice(None)] * x.ndim
    for d in ds:
        index[d] = slice(None, None, -1)
    return x[tuple(index)]


def fliplr(x: Any) -> Tensor:
    """``x`` reversed along dim 1 (at least 2-D)."""
    x = as_tensor(x, None, "fliplr")
    if x.ndim < 2:
        raise ValueError(f"fliplr: input must be at least 2-D, got shape {x.shape}")
    return flip(x, 1)


def flipud(x: Any) -> Tensor:
    """``x`` reversed along dim 0 (at least 1-D)."""
    x = as_tensor(x, None, "flipud")
    if x.ndim < 1:
        raise ValueError(f"flipud: input must be at least 1-D, got shape {x.shape}")
    return flip(x, 0)


def rot90(x: Any, k: int = 1, dims: Sequence[int] = (0, 1)) -> Tensor:
    """``x`` rotated by 90 degrees ``k`` times in the plane of ``dims``, from the first axis
    towards the second (``torch.rot90``)."""
    op = "rot90"
    x = as_tensor(x, None, op)
    k = _args.integer(op, "k", k)
    if x.ndim < 2:
        raise ValueError(f"{op}: input must be at least 2-D, got shape {x.shape}")
    if not isinstance(dims, Sequence) or len(dims) != 2:
        raise ValueError(f"{op}: dims must be a pair of dims, got {dims!r}")
    d0, d1 = _args.dims(op, tuple(dims), x.ndim, "dims")
    k %= 4
    if k == 1:
        return swapaxes(flip(x, d1), d0, d1)
    if k == 2:
        return flip(x, (d0, d1))
    if k == 3:
        return swapaxes(flip(x, d0), d0, d1)
    return x


# ---------------------------------------------------------------------------------------------
# Moving, splitting and broadcasting (issue 14)
# ---------------------------------------------------------------------------------------------


def movedim(x: Any, source: Any, destination: Any) -> Tensor:
    """Move axes ``source`` to positions ``destination`` (ints or sequences of one length), the
    others keeping their order (``torch.movedim``, ``np.moveaxis``)."""
    op = "movedim"
    x = as_tensor(x, None, op)
    src = _args.dims(op, source, x.ndim, "source")
    dst = _args.dims(op, destination, x.ndim, "destination")
    if len(src) != len(dst):
        raise ValueError(f"{op}: source {source!r} and destination {destination!r} must have "
                         "the same number of dims")
    order = [d for d in range(x.ndim) if d not in src]
    for s, d in sorted(zip(dst, src)):
        order.insert(s, d)
    return permute(x, tuple(order)) if x.ndim else x


moveaxis = movedim


def unflatten(x: Any, dim: int, sizes: Sequence[int]) -> Tensor:
    """Split axis ``dim`` into ``sizes`` (their product must be its length; one may be -1)."""
    op = "unflatten"
    x = as_tensor(x, None, op)
    d = _args.dim(op, dim, x.ndim)
    sizes = tuple(sizes)
    if not sizes or not builtins.all(isinstance(s, int | np.integer) for s in sizes):
        raise TypeError(f"{op}: sizes must be a non-empty sequence of ints, got {sizes!r}")
    known = int(np.prod([s for s in sizes if s != -1], dtype=np.int64))
    n = x.shape[d]
    bad = sizes.count(-1) > 1 or (-1 not in sizes and known != n) or \
        (-1 in sizes and (known == 0 or n % known))
    if bad:
        raise ValueError(f"{op}: sizes {sizes} do not multiply to {n}, the size of dim {d} of "
                         f"{x.shape}")
    sizes = tuple(n // known if s == -1 else int(s) for s in sizes)
    return reshape(x, x.shape[:d] + sizes + x.shape[d + 1:])


def chunk(x: Any, chunks: int, dim: int = 0) -> list[Tensor]:
    """Split into ``chunks`` pieces of ``ceil(n / chunks)`` along ``dim`` (the last may be
    smaller, and there may be fewer pieces), as ``torch.chunk``."""
    op = "chunk"
    x = as_tensor(x, None, op)
    c = _args.integer(op, "chunks", chunks, minimum=1)
    d = _args.dim(op, dim, x.ndim)
    n = x.shape[d]
    if n == 0:  # PyTorch: `chunks` empty pieces
        return [narrow(x, d, 0, 0) for _ in range(c)]
    return split(x, -(-n // c), d)


class UnbindFn(Function):
    """The slices ``x[i]`` along ``dim`` as separate outputs; backward stacks their gradients:
    one node for all of them (a node per slice, ``x[t]``, would add a zero-filled full-size
    gradient per slice, O(T^2) work for a sequence of T steps)."""

    @staticmethod
    def forward(ctx, x, *, dim):
        ctx.dim = dim
        lead = (slice(None),) * dim
        return tuple(x.data[(*lead, i)] for i in range(x.shape[dim]))

    @staticmethod
    def backward(ctx, *gs):
        if is_grad_enabled():
            return stack(list(gs), dim=ctx.dim)
        return Tensor._make(np.stack([g.data for g in gs], axis=ctx.dim))


def unbind(x: Any, dim: int = 0) -> tuple[Tensor, ...]:
    """The slices of ``x`` along ``dim``, each without that axis (PyTorch's ``torch.unbind``);
    one graph node for all of them."""
    x = as_tensor(x, None, "unbind")
    d = _args.dim("unbind", dim, x.ndim)
    if x.ndim == 0:
        raise ValueError("unbind: a 0-d tensor has no dim to unbind")
    if x.shape[d] == 0:
        return ()
    out = UnbindFn.apply(x, dim=d)
    return out if isinstance(out, tuple) else (out,)


def broadcast_tensors(*tensors: Any) -> tuple[Tensor, ...]:
    """The tensors expanded to their common broadcast shape."""
    ts = [as_tensor(t, None, "broadcast_tensors") for t in tensors]
    try:
        shape = np.broadcast_shapes(*[t.shape for t in ts])
    except ValueError:
        raise ValueError(f"broadcast_tensors: shapes {[t.shape for t in ts]} do not broadcast "
                         "together") from None
    return tuple(expand(t, shape) for t in ts)


def meshgrid(*tensors: Any, indexing: str = "ij") -> tuple[Tensor, ...]:
    """Coordinate grids from 1-D (or 0-d) tensors: output ``i`` holds ``tensors[i]`` along axis
    ``i`` (``indexing='ij'``, PyTorch's default) or with the first two axes swapped
    (``'xy'``, NumPy's default)."""
    op = "meshgrid"
    if len(tensors) == 1 and isinstance(tensors[0], list | tuple):
        tensors = tuple(tensors[0])
    _args.one_of(op, "indexing", indexing, ("ij", "xy"))
    ts = [as_tensor(t, None, op) for t in tensors]
    if builtins.any(t.ndim > 1 for t in ts):
        raise ValueError(f"{op}: expected 0-d or 1-D tensors, got shapes {[t.shape for t in ts]}")
    ts = [reshape(t, -1) for t in ts]
    swap = indexing == "xy" and len(ts) >= 2
    order = [1, 0] + list(range(2, len(ts))) if swap else list(range(len(ts)))
    shape = tuple(ts[i].shape[0] for i in order)
    out = []
    for k, t in enumerate(ts):
        axis = order.index(k)
        view = [1] * len(ts)
        view[axis] = t.shape[0]
        out.append(expand(reshape(t, tuple(view)), shape))
    return tuple(out)


def _atleast(op: str, n: int, tensors: tuple[Any, ...]) -> Any:
    if len(tensors) == 1 and isinstance(tensors[0], list | tuple):
        tensors = tuple(tensors[0])
    out = []
    for t in tensors:
        t = as_tensor(t, None, op)
        if t.ndim < n:
            if t.ndim == 0:
                shape = (1,) * n
            elif t.ndim == 1:
                shape = (1,) + t.shape + ((1,) if n == 3 else ())
            else:
                shape = t.shape + (1,)
            t = reshape(t, shape)
        out.append(t)
    return out[0] if len(out) == 1 else tuple(out)


def atleast_1d(*tensors: Any) -> Any:
    """Each tensor with at least 1 dim (a 0-d one becomes shape (1,)); one tensor or a tuple."""
    return _atleast("atleast_1d", 1, tensors)


def atleast_2d(*tensors: Any) -> Any:
    """At least 2 dims: () -> (1, 1), (N,) -> (1, N)."""
    return _atleast("atleast_2d", 2, tensors)


def atleast_3d(*tensors: Any) -> Any:
    """At least 3 dims: () -> (1, 1, 1), (N,) -> (1, N, 1), (M, N) -> (M, N, 1)."""
    return _atleast("atleast_3d", 3, tensors)


def unfold(x: Any, dimension: int, size: int, step: int) -> Tensor:
    """``Tensor.unfold``: every window of ``size`` elements along ``dimension``, ``step`` apart:
    that axis becomes the window count ``(n - size) // step + 1`` and a new last axis of
    ``size`` holds each window."""
    op = "unfold"
    x = as_tensor(x, None, op)
    if x.ndim == 0:
        x = reshape(x, 1)
    d = _args.dim(op, dimension, x.ndim, "dimension")
    size = _args.integer(op, "size", size, minimum=0)
    step = _args.integer(op, "step", step, minimum=1)
    n = x.shape[d]
    if size > n:
        raise ValueError(f"{op}: size {size} is larger than dimension {d} of size {n} (shape "
                         f"{x.shape})")
    count = (n - size) // step + 1
    idx = np.arange(count, dtype=np.int64)[:, None] * step + np.arange(size, dtype=np.int64)
    windows = movedim(x, d, -1)[..., _device.asarray(idx, like=x.data)]  # (..., count, size)
    return movedim(windows, -2, d)


# ---------------------------------------------------------------------------------------------
# Triangles and diagonals (issue 14)
# ---------------------------------------------------------------------------------------------


def _triangle(op: str, x: Any, diagonal: int, lower: bool) -> Tensor:
    from minigrad.ops.elementwise import where

    x = as_tensor(x, None, op)
    k = _args.integer(op, "diagonal", diagonal)
    if x.ndim < 2:
        raise ValueError(f"{op}: input must be at least 2-D, got shape {x.shape}")
    m, n = x.shape[-2:]
    keep = np.tri(m, n, k, dtype=bool) if lower else ~np.tri(m, n, k - 1, dtype=bool)
    return where(Tensor._make(_device.asarray(keep, like=x.data)), x, 0)


def tril(x: Any, diagonal: int = 0) -> Tensor:
    """The lower triangle of the last two axes (on and below diagonal ``diagonal``); zeros
    elsewhere (written, not multiplied: an inf above the diagonal gives 0)."""
    return _triangle("tril", x, diagonal, True)


def triu(x: Any, diagonal: int = 0) -> Tensor:
    """The upper triangle of the last two axes (on and above diagonal ``diagonal``)."""
    return _triangle("triu", x, diagonal, False)


def _diag_positions(m: int, n: int, offset: int) -> tuple[np.ndarray, np.ndarray]:
    length = builtins.max(0, builtins.min(m, n - offset) if offset >= 0 else
                          builtins.min(m + offset, n))
    i = np.arange(length, dtype=np.int64)
    return i + builtins.max(-offset, 0), i + builtins.max(offset, 0)


def diagonal(x: Any, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """The diagonal ``offset`` (above the main one when > 0) of the planes spanned by ``dim1``
    and ``dim2``: those axes are removed and the diagonal becomes the last axis."""
    op = "diagonal"
    x = as_tensor(x, None, op)
    offset = _args.integer(op, "offset", offset)
    if x.ndim < 2:
        raise ValueError(f"{op}: input must be at least 2-D, got shape {x.shape}")
    d1, d2 = _args.dim(op, dim1, x.ndim, "dim1"), _args.dim(op, dim2, x.ndim, "dim2")
    if d1 == d2:
        raise ValueError(f"{op}: dim1 and dim2 must differ, got {dim1} and {dim2}")
    moved = movedim(x, (d1, d2), (-2, -1))
    rows, cols = _diag_positions(moved.shape[-2], moved.shape[-1], offset)
    return moved[..., _device.asarray(rows, like=x.data), _device.asarray(cols, like=x.data)]


_diagonal = diagonal  # diag's argument `diagonal` (PyTorch's name) shadows the function


def diag_embed(x: Any, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """Square matrices with ``x``'s last axis on diagonal ``offset``: the result has one more
    dim, the matrices spanning ``dim1`` and ``dim2`` (of the result), zeros elsewhere."""
    op = "diag_embed"
    x = as_tensor(x, None, op)
    offset = _args.integer(op, "offset", offset)
    if x.ndim == 0:
        x = reshape(x, 1)
    d1, d2 = _args.dim(op, dim1, x.ndim + 1, "dim1"), _args.dim(op, dim2, x.ndim + 1, "dim2")
    if d1 == d2:
        raise ValueError(f"{op}: dim1 and dim2 must differ, got {dim1} and {dim2}")
    n = x.shape[-1]
    m = n + builtins.abs(offset)
    rows, cols = _diag_positions(m, m, offset)
    shape = x.shape[:-1] + (m, m)
    index = (Ellipsis, _device.asarray(rows, like=x.data), _device.asarray(cols, like=x.data))
    if x.requires_grad:
        out = GetItemGradFn.apply(x, shape=shape, index=index)
    else:
        arr = _device.zeros(shape, x.dtype, like=x.data)
        arr[index] = x.data
        out = Tensor._make(arr)
    return movedim(out, (-2, -1), (d1, d2))


def diag(x: Any, diagonal: int = 0) -> Tensor:
    """1-D ``x``: the square matrix with ``x`` on diagonal ``diagonal``; 2-D ``x``: that
    diagonal of ``x`` (``torch.diag``)."""
    x = as_tensor(x, None, "diag")
    k = _args.integer("diag", "diagonal", diagonal)
    if x.ndim == 1:
        return diag_embed(x, k)
    if x.ndim == 2:
        return _diagonal(x, k)
    raise ValueError(f"diag: input must be 1-D or 2-D, got shape {x.shape}")


def trace(x: Any) -> Tensor:
    """The sum of the main diagonal of a 2-D tensor."""
    x = as_tensor(x, None, "trace")
    if x.ndim != 2:
        raise ValueError(f"trace: input must be 2-D, got shape {x.shape}")
    return diagonal(x).sum()
