"""Selection and scatter along a dim: ``gather``, ``scatter``, ``scatter_add``,
``scatter_reduce``, ``index_select``, ``index_add``, ``take_along_dim``, ``masked_fill``,
``masked_select``; and the index-valued ops with no gradient: ``nonzero``/``argwhere``,
``one_hot``, ``bincount``, ``unique``.

The differentiable primitives come in adjoint pairs, each one's backward being the other, so every
op built from them differentiates to any order:

- :class:`GatherFn` (``out[i] = x[..., index[i], ...]``) and :class:`ScatterAddFn` (zeros with
  ``src`` added at ``index``; repeated indices accumulate);
- :class:`IndexSelectFn` (whole slices picked by a 1-D index) and :class:`IndexAddFn` (slices
  added at a 1-D index).

:class:`ScatterFn` writes ``src`` over ``x`` (PyTorch's ``scatter``) and :class:`ScatterReduceFn`
combines with ``amax``/``amin``/``prod``; ``sum`` and ``mean`` are compositions of the pairs.
Gradient conventions (PyTorch's): ``scatter`` with repeated indices writes one of the values, and
every repeated ``src`` element gets the gradient of the position it was scattered to;
``scatter_reduce`` with ``amax``/``amin`` shares the gradient equally among all elements equal to
the result (``self`` included when ``include_self``); with ``prod`` each element gets the product
of the others, zeros included.

Indices are integer tensors (any integer dtype) on the input's device; out-of-range values raise
``IndexError`` naming the op, the value, the dim and the shapes, before anything is written. The
loops that add at indices are the ``scatter`` kernels (``kernels_for(array).scatter``): Numba loops
on the CPU (``np.add.at`` measured 5x slower) and ``np.add.at`` (atomic adds) on the GPU.
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from minigrad import _device
from minigrad.autograd import Function
from minigrad.ops import _args
from minigrad.ops.elementwise import where
from minigrad.ops.kernels import kernels_for
from minigrad.tensor import Tensor

# ---------------------------------------------------------------------------------------------
# Argument checks
# ---------------------------------------------------------------------------------------------


def _tensor(op: str, name: str, x: Any) -> Tensor:
    if isinstance(x, Tensor):
        return x
    if isinstance(x, np.ndarray | list | tuple):
        return Tensor(np.asarray(x))
    raise TypeError(f"{op}: {name} must be a Tensor, got {type(x).__name__}")


def index_tensor(op: str, name: str, index: Any, like: Tensor | None = None) -> Tensor:
    """``index`` as an integer Tensor on ``like``'s device, or a TypeError/ValueError naming
    ``op``."""
    index = _tensor(op, name, index)
    if index.dtype.kind not in "iu":
        raise TypeError(f"{op}: {name} must be an integer tensor (int64), got dtype {index.dtype}"
                        f" (shape {index.shape})")
    if like is not None and index.is_cuda != like.is_cuda:
        raise ValueError(f"{op}: {name} is on {index.device} but the input is on {like.device};"
                         " move it with .to(input.device)")
    return index


def check_range(op: str, name: str, index: Any, n: int, dim: int, shape: tuple[int, ...],
                negative: bool = False) -> None:
    """Raise IndexError unless every value of the integer array ``index`` lies in ``0..n-1``
    (``-n..n-1`` with ``negative``); ``dim`` and ``shape`` describe the indexed tensor."""
    if index.size == 0:
        return
    lo, hi = int(np.min(index)), int(np.max(index))
    low = -n if negative else 0
    bad = lo if lo < low else hi if hi >= n else None
    if bad is not None:
        allowed = f"{-n}..{n - 1}" if negative else f"0..{n - 1}"
        raise IndexError(f"{op}: {name} value {bad} is out of range for dim {dim} of size {n} "
                         f"(input shape {shape}; allowed {allowed})")


def _int64(index: Tensor) -> Any:
    return index.data if index.dtype == np.int64 else index.data.astype(np.int64)


def _arange_along(n: int, d: int, ndim: int, like: Any) -> Any:
    shape = [1] * ndim
    shape[d] = n
    return _device.asarray(np.arange(n, dtype=np.int64).reshape(shape), like=like)


def _fancy(index: Any, dim: int, like: Any) -> tuple[Any, ...]:
    """The NumPy index that picks ``x[i0, ..., index[i], ..., ik]`` for every position ``i`` of
    ``index`` (aranges on the other axes)."""
    return tuple(index if d == dim else _arange_along(n, d, index.ndim, like)
                 for d, n in enumerate(index.shape))


def _kernels(a: Any) -> Any:
    """The scatter kernels for ``a``'s device (``kernels/{cpu,cuda}/scatter.py``)."""
    return kernels_for(a).scatter


def _contiguous(a: Any) -> Any:
    """``a`` as a C-contiguous array (GPU arrays always are)."""
    return a if _device.is_cuda(a) else np.ascontiguousarray(a)


def _leading(shape: tuple[int, ...]) -> tuple[slice, ...]:
    return tuple(slice(0, s) for s in shape)


# ---------------------------------------------------------------------------------------------
# Gather / scatter-add: each other's adjoint
# ---------------------------------------------------------------------------------------------


def _gather_array(x: Any, dim: int, index: Any) -> Any:
    """``x[i0, .., index[i], .., ik]`` for every position ``i`` of ``index`` (the kernel checks
    the range in the same pass; IndexError naming ``gather`` for a value out of range)."""
    out, bad = _kernels(x).gather(x, dim, index)
    if bad:
        check_range("gather", "index", index, x.shape[dim], dim, x.shape)
    return out


class GatherFn(Function):
    """``out[i] = x[i0, .., index[i], .., ik]`` along ``dim``; out has ``index``'s shape."""

    @staticmethod
    def forward(ctx, x, *, dim, index):
        ctx.dim, ctx.index, ctx.in_shape = dim, index, x.shape
        return _gather_array(x.data, dim, index)

    @staticmethod
    def backward(ctx, g):
        return ScatterAddFn.apply(g, dim=ctx.dim, index=ctx.index, shape=ctx.in_shape)


def _scatter_add_into(out: Any, dim: int, idx: Any, src: Any) -> None:
    """``out[.., idx[i], ..] += src[i]`` along ``dim``, in place (``out`` C-contiguous, ``src``
    of ``idx``'s shape, no larger than ``out`` off ``dim``)."""
    _kernels(out).scatter_add(out, dim, idx, src)


class ScatterAddFn(Function):
    """Zeros of ``shape`` with ``src[i]`` added at ``(i0, .., index[i], .., ik)``; ``src`` has
    ``index``'s shape. Repeated indices accumulate."""

    @staticmethod
    def forward(ctx, src, *, dim, index, shape):
        ctx.dim, ctx.index = dim, index
        out = _device.zeros(shape, src.dtype, like=src.data)
        _scatter_add_into(out, dim, index, src.data)
        return out

    @staticmethod
    def backward(ctx, g):
        return GatherFn.apply(g, dim=ctx.dim, index=ctx.index)


def _gather_args(op: str, x: Any, dim: Any, index: Any,
                 check: bool = True) -> tuple[Tensor, int, Tensor]:
    """Checked ``(x, dim, index)``; ``check=False`` leaves the index range (not the shapes) to a
    kernel that checks it in its own pass (gather's)."""
    x = _tensor(op, "input", x)
    index = index_tensor(op, "index", index, x)
    if x.ndim == 0:
        if index.ndim > 1 or index.data.size != 1:
            raise ValueError(f"{op}: a 0-d input takes a one-element index of at most one "
                             f"dimension, got index shape {index.shape}")
        _args.dim(op, dim, 0)
        check_range(op, "index", index.data, 1, 0, x.shape)
        return x, 0, index
    d = _args.dim(op, dim, x.ndim)
    if index.ndim != x.ndim:
        raise ValueError(f"{op}: index must have as many dimensions as the input; got index shape "
                         f"{index.shape} for input shape {x.shape}")
    for k in range(x.ndim):
        if k != d and index.shape[k] > x.shape[k]:
            raise ValueError(f"{op}: index shape {index.shape} is larger than the input shape "
                             f"{x.shape} at dim {k} (only dim {d} may be larger)")
    if check:
        check_range(op, "index", index.data, x.shape[d], d, x.shape)
    return x, d, index


def gather(input: Any, dim: int, index: Any) -> Tensor:  # noqa: A002
    """``out[i][j][k] = input[i][index[i][j][k]][k]`` (``dim=1``; likewise for any dim).

    input: (d0, .., dn); index: integer, as many dims, ``index.shape[k] <= input.shape[k]`` for
    ``k != dim``, values in ``0..input.shape[dim]-1``; returns a tensor of index's shape. The
    gradient is scatter-added back (repeated indices accumulate).
    """
    x, d, index = _gather_args("gather", input, dim, index, check=False)
    if x.ndim == 0:
        return GatherFn.apply(x.reshape(1), dim=0, index=_int64(index).reshape(1)).reshape(
            index.shape)
    idx = _int64(index)
    if not x.requires_grad:
        return Tensor._make(_gather_array(x.data, d, idx))
    return GatherFn.apply(x, dim=d, index=idx)


def _scatter_args(op: str, input: Any, dim: Any, index: Any, src: Any,
                  value_ok: bool = True) -> tuple[Tensor, int, Any, Tensor]:
    """Checked ``(x, dim, int64 index array, src)`` with ``x`` at least 1-D and ``src`` cut to
    index's shape (a number becomes a constant tensor of index's shape)."""
    x, d, index = _gather_args(op, input, dim, index)
    if x.ndim == 0:
        x, index = x.reshape(1), index.reshape(1)
    idx = _int64(index)
    if isinstance(src, Tensor | np.ndarray | list):
        src = _tensor(op, "src", src)
        if src.ndim == 0 and index.ndim == 1 and np.ndim(input) == 0:
            src = src.reshape(1)
        if src.ndim != index.ndim or builtins.any(i > s for i, s in zip(index.shape, src.shape)):
            raise ValueError(f"{op}: src of shape {src.shape} must have index's number of "
                             f"dimensions and be at least as large (index shape {index.shape})")
        if src.is_cuda != x.is_cuda:
            raise ValueError(f"{op}: src is on {src.device} but the input is on {x.device}")
        if src.shape != index.shape:
            src = src[_leading(index.shape)]
        if src.dtype != x.dtype:
            src = src.astype(x.dtype)
    elif value_ok and isinstance(src, bool | int | float | np.number):
        src = Tensor._make(_device.full(index.shape, src, x.dtype, like=x.data))
    else:
        raise TypeError(f"{op}: src must be a Tensor{' or a number' if value_ok else ''}, got "
                        f"{type(src).__name__}")
    return x, d, idx, src


def _copy(a: Any) -> Any:
    """A C-contiguous, writeable copy of an array, on its device."""
    return np.array(a, order="C", copy=True) if isinstance(a, np.ndarray) else a.copy()


def _hit(shape: tuple[int, ...], dim: int, idx: Any, like: Any) -> Any:
    """A bool array of ``shape``: True where ``idx`` scatters to along ``dim``."""
    hit = _device.zeros(shape, np.bool_, like=like)
    if idx.size:
        hit[_fancy(idx, dim, like)] = True
    return hit


def _const(a: Any, dtype: Any) -> Tensor:
    return Tensor._make(a.astype(dtype))


def _result(t: Tensor, input: Any) -> Tensor:
    """``t`` reshaped back to 0-d when the user's input was 0-d."""
    return t.reshape(()) if np.ndim(input.data if isinstance(input, Tensor) else input) == 0 \
        else t


def scatter_add(input: Any, dim: int, index: Any, src: Any) -> Tensor:  # noqa: A002
    """``input`` with ``src[i][j][k]`` added at ``[i][index[i][j][k]][k]`` (``dim=1``; any dim).

    index: integer, as many dims as input, no larger than ``src`` anywhere and than ``input``
    off ``dim``; only the leading ``index.shape`` block of ``src`` is used (PyTorch's rule).
    Gradients: ``input`` gets the output's gradient, ``src`` gathers it.
    """
    x, d, idx, src = _scatter_args("scatter_add", input, dim, index, src, value_ok=False)
    if not (x.requires_grad or src.requires_grad):
        out = _copy(x.data)
        _scatter_add_into(out, d, idx, src.data)
        return _result(Tensor._make(out), input)
    return _result(x + ScatterAddFn.apply(src, dim=d, index=idx, shape=x.shape), input)


def _scatter_arrays(x: Any, src: Any, dim: int, index: Any) -> Any:
    out = _copy(x)
    if index.size:
        out[_fancy(index, dim, out)] = src
    return out


class ScatterFn(Function):
    """``x`` with ``src[i]`` written at ``(i0, .., index[i], .., ik)`` (PyTorch's ``scatter``)."""

    kinks = ("repeated indices: one of the values is written (which one is unspecified, as in "
             "PyTorch), and each repeated src element gets the gradient of its target")

    @staticmethod
    def forward(ctx, x, src, *, dim, index):
        ctx.dim, ctx.index, ctx.shape = dim, index, x.shape
        return _scatter_arrays(x.data, src.data, dim, index)

    @staticmethod
    def backward(ctx, g):
        dx, dsrc = ctx.needs_input_grad
        gx = g * _const(~_hit(ctx.shape, ctx.dim, ctx.index, g.data), g.dtype) if dx else None
        gsrc = GatherFn.apply(g, dim=ctx.dim, index=ctx.index) if dsrc else None
        return gx, gsrc


def scatter(input: Any, dim: int, index: Any, src: Any = None, *, value: Any = None,  # noqa: A002
            reduce: str | None = None) -> Tensor:
    """``input`` with ``src[i][j][k]`` written at ``[i][index[i][j][k]][k]`` (``dim=1``).

    ``src``: a tensor (its leading ``index.shape`` block is used) or a number (``value=`` is
    the same). With repeated indices one of the values is written and every repeated src element
    gets the gradient of its target (PyTorch's rules). ``reduce='add'`` / ``'multiply'`` is
    PyTorch's older spelling of :func:`scatter_reduce` with ``'sum'`` / ``'prod'``.
    """
    if (src is None) == (value is None):
        raise TypeError("scatter: give src (a tensor or a number) or value, not both or neither")
    src = value if src is None else src
    if reduce is not None:
        mode = _args.one_of("scatter", "reduce", reduce, ("add", "multiply"))
        if not isinstance(src, Tensor):
            x = _tensor("scatter", "input", input)
            idx = index_tensor("scatter", "index", index, x)
            src = Tensor._make(_device.full(idx.shape, src, x.dtype, like=x.data))
        return scatter_reduce(input, dim, index, src, "sum" if mode == "add" else "prod")
    x, d, idx, src = _scatter_args("scatter", input, dim, index, src)
    if not (x.requires_grad or src.requires_grad):
        return _result(Tensor._make(_scatter_arrays(x.data, src.data, d, idx)), input)
    return _result(ScatterFn.apply(x, src, dim=d, index=idx), input)


# ---------------------------------------------------------------------------------------------
# scatter_reduce
# ---------------------------------------------------------------------------------------------

_REDUCE_MODES = ("sum", "prod", "mean", "amax", "amin")
_UFUNCS = {"amax": np.maximum, "amin": np.minimum, "prod": np.multiply}


def _identity(reduce: str, dtype: np.dtype) -> Any:
    if reduce == "prod":
        return 1
    if dtype.kind == "f":
        return -np.inf if reduce == "amax" else np.inf
    if dtype == np.bool_:
        return reduce == "amin"
    info = np.iinfo(dtype)
    return info.min if reduce == "amax" else info.max


def _scatter_reduce_arrays(x: Any, src: Any, dim: int, index: Any, reduce: str,
                           include_self: bool) -> Any:
    """amax/amin/prod scatter on arrays (``ufunc.at``; on the GPU a counted host fallback)."""
    out = _copy(x)
    if index.size:
        fancy = _fancy(index, dim, out)
        if not include_self:
            out[fancy] = _identity(reduce, out.dtype)
        out = _ufunc_at(_UFUNCS[reduce], out, fancy, src)
    return out


def _ufunc_at(ufunc: np.ufunc, out: Any, fancy: tuple[Any, ...], src: Any) -> Any:
    """``ufunc.at(out, fancy, src)``, returning the result. GPU arrays have no kernel for it:
    the host computes it, counted as the fallback ``"<ufunc>.at"`` (strict mode raises)."""
    if _device.is_cuda(out):
        from minigrad.cuda.array import dispatch

        return dispatch(f"{ufunc.__name__}.at", _host_ufunc_at, (ufunc, out, fancy, src), {})
    return _host_ufunc_at(ufunc, out, fancy, src)


def _host_ufunc_at(ufunc: np.ufunc, out: np.ndarray, fancy: tuple[Any, ...],
                   src: np.ndarray) -> np.ndarray:
    ufunc.at(out, fancy, src)
    return out


class ScatterReduceFn(Function):
    """``x`` combined with the ``src`` elements scattered to each position by ``amax``, ``amin``
    or ``prod`` (``include_self``: whether ``x``'s own value takes part where something is
    scattered; positions nothing is scattered to keep ``x``)."""

    kinks = ("amax/amin ties: the gradient is shared equally among all elements equal to the "
             "result (PyTorch's rule); prod: each element gets the product of the others, zeros "
             "included")

    @staticmethod
    def forward(ctx, x, src, *, dim, index, reduce, include_self):
        ctx.dim, ctx.index, ctx.reduce, ctx.include_self = dim, index, reduce, include_self
        out = _scatter_reduce_arrays(x.data, src.data, dim, index, reduce, include_self)
        ctx.save_for_backward(x, src, out)
        return out

    @staticmethod
    def backward(ctx, g):
        x, src, out = ctx.saved_tensors
        dim, idx = ctx.dim, ctx.index
        hit = _hit(x.shape, dim, idx, x.data)
        # where x's own value takes part: everywhere with include_self, else where nothing hit
        self_part = _device.full(x.shape, True, np.bool_, like=x.data) if ctx.include_self \
            else ~hit
        if ctx.reduce == "prod":
            return _prod_scatter_grads(ctx, g, x, src, out, hit, self_part)
        # amax / amin: share equally among the elements equal to the result
        src_eq = src.data == out.data[_fancy(idx, dim, out.data)]
        self_eq = self_part & (x.data == out.data)
        count = self_eq.astype(g.dtype)
        _scatter_add_into(count, dim, idx, src_eq.astype(g.dtype))
        count = np.maximum(count, 1)
        dx, dsrc = ctx.needs_input_grad
        gx = g * _const(self_eq / count, g.dtype) if dx else None
        gsrc = None
        if dsrc:
            gsrc = GatherFn.apply(g * _const(1 / count, g.dtype), dim=dim, index=idx) \
                * _const(src_eq, g.dtype)
        return gx, gsrc


def _prod_scatter_grads(ctx: Any, g: Tensor, x: Tensor, src: Tensor, out: Tensor, hit: Any,
                        self_part: Any) -> tuple[Tensor | None, Tensor | None]:
    """The gradients of a scatter product: each contributor gets the product of the others at its
    position (see :func:`minigrad.ops.reduce.product_of_others`)."""
    from minigrad.ops.reduce import product_of_others

    dim, idx = ctx.dim, ctx.index
    xz, sz = x.data == 0, src.data == 0
    x_nz = where(Tensor._make(xz), 1.0, x)
    s_nz = where(Tensor._make(sz), 1.0, src)
    nonzero = scatter_reduce(x_nz, dim, Tensor._make(idx), s_nz, "prod",
                             include_self=ctx.include_self)
    zeros = (xz & self_part).astype(np.int64)
    _scatter_add_into(zeros, dim, idx, sz.astype(np.int64))
    zero_sum = where(Tensor._make(xz & self_part), x, 0.0) + ScatterAddFn.apply(
        where(Tensor._make(sz), src, 0.0), dim=dim, index=idx, shape=x.shape)
    dx, dsrc = ctx.needs_input_grad
    gx = gsrc = None
    if dx:
        others = product_of_others(x, out, nonzero, zeros, zero_sum)
        gx = g * others * _const(self_part, g.dtype)
    if dsrc:
        def at(t: Any) -> Any:
            if isinstance(t, Tensor):
                return GatherFn.apply(t, dim=dim, index=idx) if t.requires_grad else \
                    Tensor._make(t.data[_fancy(idx, dim, t.data)])
            return t[_fancy(idx, dim, t)]

        gsrc = at(g) * product_of_others(src, at(out), at(nonzero), at(zeros), at(zero_sum))
    return gx, gsrc


def scatter_reduce(input: Any, dim: int, index: Any, src: Any, reduce: str, *,  # noqa: A002
                   include_self: bool = True) -> Tensor:
    """``input`` with each ``src`` element combined into position ``[i][index[i][j][k]][k]``
    (``dim=1``) by ``reduce``: ``'sum'``, ``'prod'``, ``'mean'``, ``'amax'`` or ``'amin'``.

    ``include_self=False`` leaves ``input``'s own value out at the positions something is
    scattered to (positions nothing is scattered to keep it either way). Integer ``'mean'``
    rounds down, as PyTorch. Gradients (PyTorch's rules): ``'sum'``/``'mean'`` are linear;
    ``'amax'``/``'amin'`` share the gradient equally among the elements equal to the result;
    ``'prod'`` gives each element the product of the others (zeros included).
    """
    op = "scatter_reduce"
    mode = _args.one_of(op, "reduce", reduce, _REDUCE_MODES)
    if not isinstance(include_self, bool | np.bool_):
        raise TypeError(f"{op}: include_self must be a bool, got {include_self!r}")
    x, d, idx, src = _scatter_args(op, input, dim, index, src, value_ok=False)
    grad = x.requires_grad or src.requires_grad
    if mode in ("sum", "mean"):
        hit = _hit(x.shape, d, idx, x.data)
        # how many values meet at each position (x's own included or not)
        count = _device.full(x.shape, 1 if include_self else 0, np.int64, like=x.data)
        _scatter_add_into(count, d, idx, _device.full(idx.shape, 1, np.int64, like=x.data))
        count = np.where(hit, count, 1)
        if not grad:
            out = _copy(x.data)
            if not include_self:
                out[hit] = 0
            _scatter_add_into(out, d, idx, src.data)
            if mode == "mean":
                out = out // count.astype(out.dtype) if out.dtype.kind in "iu" else \
                    (out / count).astype(x.dtype)
            return _result(Tensor._make(out), input)
        base = x if include_self else where(Tensor._make(hit), 0.0, x)
        total = base + ScatterAddFn.apply(src, dim=d, index=idx, shape=x.shape)
        if mode == "sum":
            return _result(total, input)
        return _result(total / _const(count, x.dtype), input)
    if not grad:
        return _result(Tensor._make(_scatter_reduce_arrays(x.data, src.data, d, idx, mode,
                                                           include_self)), input)
    return _result(ScatterReduceFn.apply(x, src, dim=d, index=idx, reduce=mode,
                                         include_self=include_self), input)


# ---------------------------------------------------------------------------------------------
# index_select / index_add: each other's adjoint
# ---------------------------------------------------------------------------------------------


class IndexSelectFn(Function):
    """The slices ``x[.., index[j], ..]`` along ``dim`` (1-D ``index``), stacked in order."""

    @staticmethod
    def forward(ctx, x, *, dim, index):
        ctx.dim, ctx.index, ctx.in_shape = dim, index, x.shape
        return x.data[(slice(None),) * dim + (index,)]

    @staticmethod
    def backward(ctx, g):
        return IndexAddFn.apply(g, dim=ctx.dim, index=ctx.index, shape=ctx.in_shape)


class IndexAddFn(Function):
    """Zeros of ``shape`` with slice ``j`` of ``src`` along ``dim`` added at ``index[j]``
    (repeated indices accumulate)."""

    @staticmethod
    def forward(ctx, src, *, dim, index, shape):
        ctx.dim, ctx.index = dim, index
        out = _device.zeros(shape, src.dtype, like=src.data)
        _kernels(out).index_add(out, dim, index, src.data)
        return out

    @staticmethod
    def backward(ctx, g):
        return IndexSelectFn.apply(g, dim=ctx.dim, index=ctx.index)


def _index_1d(op: str, x: Tensor, dim: Any, index: Any) -> tuple[int, Any]:
    index = index_tensor(op, "index", index, x)
    if index.ndim > 1:
        raise ValueError(f"{op}: index must be 0-d or 1-D, got shape {index.shape}")
    d = _args.dim(op, dim, x.ndim)
    n = x.shape[d] if x.ndim else 1
    check_range(op, "index", index.data, n, d, x.shape)
    return d, _int64(index).reshape(-1)


def index_select(input: Any, dim: int, index: Any) -> Tensor:  # noqa: A002
    """The slices of ``input`` along ``dim`` at the positions in ``index`` (0-d or 1-D integer,
    values in ``0..input.shape[dim]-1``, repeats allowed): the result has ``len(index)`` along
    ``dim``. The gradient is added back at the same positions."""
    x = _tensor("index_select", "input", input)
    d, idx = _index_1d("index_select", x, dim, index)
    if x.ndim == 0:
        return x.reshape(1)[idx].reshape(idx.shape if np.ndim(index) else ())
    if not x.requires_grad:
        return Tensor._make(x.data[(slice(None),) * d + (idx,)])
    return IndexSelectFn.apply(x, dim=d, index=idx)


def index_add(input: Any, dim: int, index: Any, source: Any, *,  # noqa: A002
              alpha: float = 1) -> Tensor:
    """``input`` with ``alpha * source``'s slice ``j`` along ``dim`` added at ``index[j]``.

    source: input's shape with ``len(index)`` along ``dim``. Repeated indices accumulate.
    """
    op = "index_add"
    x = _tensor(op, "input", input)
    d, idx = _index_1d(op, x, dim, index)
    source = _tensor(op, "source", source)
    if x.ndim == 0:
        return index_add(x.reshape(1), 0, idx, source.reshape(-1), alpha=alpha).reshape(())
    want = x.shape[:d] + (idx.size,) + x.shape[d + 1:]
    if source.shape != want:
        raise ValueError(f"{op}: source must have shape {want} (the input's {x.shape} with "
                         f"len(index) = {idx.size} at dim {d}), got {source.shape}")
    if source.is_cuda != x.is_cuda:
        raise ValueError(f"{op}: source is on {source.device} but the input is on {x.device}")
    if source.dtype != x.dtype:
        source = source.astype(x.dtype)
    if not (x.requires_grad or source.requires_grad):
        out = _copy(x.data)
        src = source.data if alpha == 1 else source.data * np.asarray(alpha, x.dtype)
        _kernels(out).index_add(out, d, idx, src)
        return Tensor._make(out)
    added = IndexAddFn.apply(source, dim=d, index=idx, shape=x.shape)
    return x + (added if alpha == 1 else added * alpha)


# ---------------------------------------------------------------------------------------------
# take_along_dim, masked_fill, masked_select
# ---------------------------------------------------------------------------------------------


def take_along_dim(input: Any, indices: Any, dim: int | None = None) -> Tensor:  # noqa: A002
    """``input``'s values at ``indices`` along ``dim`` (NumPy's ``take_along_axis``): input and
    indices broadcast against each other off ``dim``; negative indices count from the end.
    ``dim=None``: both are flattened first (and, as in PyTorch, indices must be >= 0)."""
    op = "take_along_dim"
    x = _tensor(op, "input", input)
    index = index_tensor(op, "indices", indices, x)
    if dim is None:
        x, index, d = x.reshape(-1), index.reshape(-1), 0
    else:
        if index.ndim != x.ndim:
            raise ValueError(f"{op}: input and indices must have the same number of dimensions, "
                             f"got shapes {x.shape} and {index.shape}")
        d = _args.dim(op, dim, x.ndim)
    if x.ndim == 0:
        x, index = x.reshape(1), index.reshape(1)
    n = x.shape[d]
    # PyTorch counts negative indices from the end along a dim, but not for dim=None
    check_range(op, "indices", index.data, n, d, x.shape, negative=dim is not None)
    try:
        xs = np.broadcast_shapes(x.shape[:d] + (1,) + x.shape[d + 1:],
                                 index.shape[:d] + (1,) + index.shape[d + 1:])
    except ValueError:
        raise ValueError(f"{op}: input {x.shape} and indices {index.shape} do not broadcast off "
                         f"dim {d}") from None
    x = x.expand(xs[:d] + (n,) + xs[d + 1:])
    idx = _int64(index)
    if np.min(idx) < 0 if idx.size else False:
        idx = np.where(idx < 0, idx + n, idx)
    idx = np.broadcast_to(idx, xs[:d] + (index.shape[d],) + xs[d + 1:])
    if not x.requires_grad:
        return Tensor._make(x.data[_fancy(idx, d, x.data)])
    return GatherFn.apply(x, dim=d, index=_contiguous(idx))


def _mask(op: str, mask: Any, x: Tensor) -> Tensor:
    mask = _tensor(op, "mask", mask)
    if mask.dtype != np.bool_:
        raise TypeError(f"{op}: mask must be a bool tensor, got dtype {mask.dtype} (compare, "
                        f"e.g. mask != 0, to make one)")
    if mask.is_cuda != x.is_cuda:
        raise ValueError(f"{op}: mask is on {mask.device} but the input is on {x.device}")
    return mask


def masked_fill(input: Any, mask: Any, value: Any) -> Tensor:  # noqa: A002
    """``input`` with ``value`` where the bool ``mask`` (broadcastable) is True; ``value`` is a
    number or a 0-d tensor (which receives the gradient of the filled positions)."""
    op = "masked_fill"
    x = _tensor(op, "input", input)
    mask = _mask(op, mask, x)
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise ValueError(f"{op}: value must be a number or a 0-d tensor, got shape "
                             f"{value.shape}")
        value = value.astype(x.dtype) if value.dtype != x.dtype else value
    elif not isinstance(value, bool | int | float | np.number):
        raise TypeError(f"{op}: value must be a number or a 0-d tensor, got "
                        f"{type(value).__name__}")
    try:
        np.broadcast_shapes(x.shape, mask.shape)
    except ValueError:
        raise ValueError(f"{op}: mask of shape {mask.shape} does not broadcast with the input's "
                         f"shape {x.shape}") from None
    if not isinstance(value, Tensor):
        value = Tensor._make(_device.full((), value, x.dtype, like=x.data))
    return where(mask, value, x)


def masked_select(input: Any, mask: Any) -> Tensor:  # noqa: A002
    """The elements of ``input`` where ``mask`` is True, as a 1-D tensor (input and mask
    broadcast; row-major order). The gradient goes back to the selected positions."""
    op = "masked_select"
    x = _tensor(op, "input", input)
    mask = _mask(op, mask, x)
    try:
        shape = np.broadcast_shapes(x.shape, mask.shape)
    except ValueError:
        raise ValueError(f"{op}: mask of shape {mask.shape} does not broadcast with the input's "
                         f"shape {x.shape}") from None
    if mask.shape != shape:
        mask = Tensor._make(np.broadcast_to(mask.data, shape))
    if not shape:  # a 0-d mask selects from a 1-element vector (the result is 1-D anyway)
        return x.reshape(1)[mask.reshape(1)]
    return x.expand(shape)[mask]


# ---------------------------------------------------------------------------------------------
# Index-valued ops (no gradient)
# ---------------------------------------------------------------------------------------------


def nonzero(input: Any, *, as_tuple: bool = False) -> Tensor | tuple[Tensor, ...]:  # noqa: A002
    """The indices of the nonzero elements: an int64 tensor ``(n, input.ndim)`` in row-major
    order, or with ``as_tuple=True`` one 1-D tensor per dim (NumPy's ``nonzero``). On the GPU the
    result's size depends on the data, so it is computed on the host (a counted fallback)."""
    x = _tensor("nonzero", "input", input)
    if as_tuple:
        found = np.argwhere(x.data if x.ndim else x.data.reshape(1))
        return tuple(Tensor._make(found[:, k].astype(np.int64)) for k in range(found.shape[1]))
    return Tensor._make(_device.wrap(np.argwhere(x.data)).astype(np.int64))


def argwhere(input: Any) -> Tensor:  # noqa: A002
    """The indices of the nonzero elements, ``(n, input.ndim)`` int64 (``nonzero(input)``)."""
    return nonzero(input)


def one_hot(tensor: Any, num_classes: int = -1) -> Tensor:
    """int64 ``(*tensor.shape, num_classes)`` with a 1 at each value's position (values in
    ``0..num_classes-1``); ``num_classes=-1`` uses ``max + 1``."""
    op = "one_hot"
    t = index_tensor(op, "tensor", tensor)
    n = _args.integer(op, "num_classes", num_classes, minimum=-1)
    if n == -1:
        if t.data.size == 0:
            raise ValueError(f"{op}: cannot infer num_classes from an empty tensor (shape "
                             f"{t.shape}); pass num_classes")
        n = int(np.max(t.data)) + 1
    if t.data.size:
        lo, hi = int(np.min(t.data)), int(np.max(t.data))
        if lo < 0 or hi >= n:
            raise IndexError(f"{op}: class {lo if lo < 0 else hi} is out of range for "
                             f"num_classes = {n} (tensor shape {t.shape}; allowed 0..{n - 1})")
    classes = _device.asarray(np.arange(n, dtype=t.dtype), like=t.data)
    return Tensor._make((t.data[..., None] == classes).astype(np.int64))


def bincount(input: Any, weights: Any = None, minlength: int = 0) -> Tensor:  # noqa: A002
    """How often each value ``0..max`` occurs in the 1-D non-negative integer ``input`` (at least
    ``minlength`` bins); with ``weights`` (input's shape), their sums instead, in weights' float
    dtype. No gradient. A GPU input is counted on the host (a counted fallback)."""
    op = "bincount"
    x = index_tensor(op, "input", input)
    if x.ndim != 1:
        raise ValueError(f"{op}: input must be 1-D, got shape {x.shape}")
    n = _args.integer(op, "minlength", minlength, minimum=0)
    if x.data.size and int(np.min(x.data)) < 0:
        raise ValueError(f"{op}: input must be non-negative, got {int(np.min(x.data))}")
    if weights is None:
        return Tensor._make(_device.wrap(np.bincount(x.data, minlength=n)).astype(np.int64))
    w = _tensor(op, "weights", weights)
    if w.shape != x.shape:
        raise ValueError(f"{op}: weights must have the input's shape {x.shape}, got {w.shape}")
    dt = w.dtype if w.dtype.kind == "f" else np.dtype(np.float64)
    return Tensor._make(_device.wrap(np.bincount(x.data, weights=w.data, minlength=n)).astype(dt))


def unique(input: Any, sorted: bool = True, return_inverse: bool = False,  # noqa: A002
           return_counts: bool = False, dim: int | None = None) -> Any:
    """The distinct values of ``input``, sorted (``dim=None``: of the flattened input; with
    ``dim``: the distinct slices along it). ``return_inverse``: also where each element (slice)
    went, shaped as ``input`` (``(input.shape[dim],)``); ``return_counts``: how often each
    occurs. Returns a tensor, or a tuple when either flag is set. No gradient; on the GPU a
    counted host fallback."""
    op = "unique"
    x = _tensor(op, "input", input)
    axis = None if dim is None else _args.dim(op, dim, x.ndim)
    vals, inv, counts = np.unique(x.data, return_inverse=True, return_counts=True, axis=axis)
    vals = Tensor._make(_device.wrap(vals))
    if not (return_inverse or return_counts):
        return vals
    out = [vals]
    if return_inverse:
        shape = x.shape if axis is None else (x.shape[axis],)
        out.append(Tensor._make(_device.wrap(inv).reshape(shape).astype(np.int64)))
    if return_counts:
        out.append(Tensor._make(_device.wrap(counts).astype(np.int64)))
    return tuple(out)
