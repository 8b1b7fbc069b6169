"""Shape ops: reshape, permute/transpose/swapaxes, expand, squeeze/unsqueeze/flatten, indexing,
cat/stack/split, constant padding, and clone (a copy).

The primitives with their own backward are Reshape, Permute, Expand, GetItem / IndexAdd (each
other's adjoint), Cat, Pad and Clone; the rest are compositions of them.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import numpy as np

from minigrad import _device as _device
from minigrad.autograd import Function
from minigrad.ops.elementwise import as_tensor
from minigrad.ops.reduce import normalize_axes
from minigrad.ops.registry import OpInfo, register
from minigrad.tensor import Tensor


def _shape_from(args: tuple[Any, ...]) -> tuple[int, ...]:
    if len(args) == 1 and isinstance(args[0], Sequence | np.ndarray):
        args = tuple(args[0])
    return tuple(int(a) for a in args)


def _axis(op: str, axis: int, ndim: int) -> int:
    axes = normalize_axes(op, axis, ndim)
    return axes[0] if axes else 0


# ---------------------------------------------------------------------------------------------
# Reshape / permute / expand
# ---------------------------------------------------------------------------------------------


class Reshape(Function):
    @staticmethod
    def forward(ctx, x, *, shape):
        ctx.in_shape = x.shape
        return x.data.reshape(shape)

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.in_shape)


class Permute(Function):
    @staticmethod
    def forward(ctx, x, *, axes):
        ctx.axes = axes
        return np.transpose(x.data, axes)

    @staticmethod
    def backward(ctx, g):
        return g.permute(tuple(np.argsort(ctx.axes)))


class Expand(Function):
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
    known = int(np.prod([s for s in shape if s != -1], dtype=np.int64))
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
    return Reshape.apply(x, shape=shape)


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
    return Permute.apply(x, axes=axes)


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
    return Expand.apply(x, shape=shape)


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
    if not -x.ndim - 1 <= dim <= x.ndim:
        raise ValueError(f"unsqueeze: dim {dim} is out of range for a tensor of {x.ndim} dims")
    d = dim % (x.ndim + 1)
    return reshape(x, x.shape[:d] + (1,) + x.shape[d:])


def flatten(x: Any, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge axes ``start_dim..end_dim`` (inclusive) into one."""
    x = as_tensor(x, None, "flatten")
    if x.ndim == 0:
        return reshape(x, (1,))
    s, e = _axis("flatten", start_dim, x.ndim), _axis("flatten", end_dim, x.ndim)
    if s > e:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    merged = int(np.prod(x.shape[s : e + 1], dtype=np.int64))
    return reshape(x, x.shape[:s] + (merged,) + x.shape[e + 1 :])


class Clone(Function):
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
    return Clone.apply(x)


# ---------------------------------------------------------------------------------------------
# Indexing
# ---------------------------------------------------------------------------------------------


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


class GetItem(Function):
    @staticmethod
    def forward(ctx, x, *, index):
        ctx.in_shape = x.shape
        ctx.index = index
        return x.data[index]

    @staticmethod
    def backward(ctx, g):
        return IndexAdd.apply(g, shape=ctx.in_shape, index=ctx.index)


class IndexAdd(Function):
    """zeros(shape) with ``g`` added at ``index`` (repeated indices accumulate)."""

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
        return GetItem.apply(gg, index=ctx.index)


def getitem(x: Tensor, index: Any) -> Tensor:
    """``x[index]`` with ints, slices, None, Ellipsis, integer arrays and bool masks."""
    idx = _index_value(index)
    items = idx if isinstance(idx, tuple) else (idx,)
    for i in items:
        if (isinstance(i, np.ndarray) or _device.is_cuda(i)) and not (
            i.dtype == np.bool_ or np.issubdtype(i.dtype, np.integer)
        ):
            raise TypeError(f"getitem: index arrays must be integer or bool, got {i.dtype}")
    if not x.is_cuda and builtins.any(_device.is_cuda(i) for i in items):
        raise ValueError("getitem: a cuda index tensor cannot index a cpu tensor; use .cpu()")
    # Validate on the host, GPU index arrays included (one copy; an out-of-bounds gather on
    # the GPU would read garbage instead of raising).
    host_idx = tuple(_device.to_host(i) for i in items) if isinstance(idx, tuple) \
        else _device.to_host(idx)
    try:
        probe = np.empty(x.shape, dtype=np.uint8)[host_idx]  # validates the index, cheaply
    except IndexError as e:
        raise IndexError(f"getitem: {e} (tensor shape {x.shape})") from None
    del probe
    if not x.requires_grad:
        return Tensor._make(_device.wrap(x.data[idx]))
    return GetItem.apply(x, index=idx)


# ---------------------------------------------------------------------------------------------
# Joining and splitting
# ---------------------------------------------------------------------------------------------


class Cat(Function):
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
    return Cat.apply(*ts, axis=a)


concatenate = cat


def stack(tensors: Sequence[Any], axis: int = 0, *, dim: int | None = None) -> Tensor:
    """Join same-shaped tensors along a new axis."""
    ts = [as_tensor(t, None, "stack") for t in tensors]
    if not ts:
        raise ValueError("stack: expected a non-empty sequence of tensors")
    if builtins.any(t.shape != ts[0].shape for t in ts):
        raise ValueError(f"stack: all tensors need the same shape; got {[t.shape for t in ts]}")
    axis = dim if dim is not None else axis
    if not -ts[0].ndim - 1 <= axis <= ts[0].ndim:
        raise ValueError(f"stack: axis {axis} is out of range for {ts[0].ndim + 1} dims")
    return cat([unsqueeze(t, axis) for t in ts], axis=axis % (ts[0].ndim + 1))


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


class Pad(Function):
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
    return Pad.apply(x, pad_width=pw, value=value)


# ---------------------------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------------------------


def _s(name: str, **kw: Any):
    def strategy():
        from minigrad.testing import strategies as S

        return getattr(S, name)(**kw)

    return strategy


register(OpInfo("reshape", lambda a: reshape(a, -1), _s("unary_samples"),
                ref=lambda a: a.reshape(-1)))
register(OpInfo("permute", lambda a: permute(a, tuple(range(a.ndim))[::-1]),
                _s("unary_samples"), ref=lambda a: np.transpose(a)))
register(OpInfo("swapaxes", lambda a: swapaxes(a, 0, -1), _s("unary_samples", min_dims=1),
                ref=lambda a: np.swapaxes(a, 0, -1)))
register(OpInfo("expand", lambda a: expand(a, (2,) + a.shape), _s("unary_samples"),
                ref=lambda a: np.broadcast_to(a, (2,) + a.shape)))
register(OpInfo("squeeze_unsqueeze", lambda a: squeeze(unsqueeze(a, 0)).flatten(),
                _s("unary_samples"), ref=lambda a: np.squeeze(a).reshape(-1)))
register(OpInfo("clone", lambda a: clone(a.transpose()), _s("unary_samples"),
                ref=lambda a: np.transpose(a).copy()))
register(OpInfo("getitem", lambda a, index: a[index], _s("getitem_samples"),
                ref=lambda a, index: a[index]))
register(OpInfo("cat", lambda a, b, axis: cat([a, b], axis=axis), _s("cat_samples"),
                ref=lambda a, b, axis: np.concatenate([a, b], axis=axis)))
register(OpInfo("stack", lambda a: stack([a, 2 * a, a * a], axis=-1),
                _s("unary_samples"), ref=lambda a: np.stack([a, 2 * a, a * a], axis=-1)))
register(OpInfo("split", lambda a: split(a, 1, dim=0)[-1] * 2 + split(a, 1, dim=0)[0],
                _s("unary_samples", min_dims=1),
                ref=lambda a: np.split(a, a.shape[0], axis=0)[-1] * 2 + a[:1]))
register(OpInfo("pad", lambda a: pad(a, 1, value=0.5), _s("unary_samples", min_dims=1),
                ref=lambda a: np.pad(a, 1, constant_values=0.5)))
