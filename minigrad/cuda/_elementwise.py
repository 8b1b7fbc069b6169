"""Elementwise GPU kernels for ``CudaArray``: NumPy's ufuncs, ``where``, ``clip``, casts, fills,
and the strided gather that materialises transposes and broadcasts.

As in MiniTorch's backends, there is one kernel *shape* per arity (map, zip, three-way), written
once; each ufunc is a scalar device function handed to it. Operands are flat buffers indexed
through ``_launch.as_operand`` layouts (contiguous, strided/broadcast, or a scalar by value), so
broadcasting and scalar operands cost no extra copies. Result dtypes are NumPy's own
(``ufunc.resolve_dtypes``, with NEP 50 weak Python scalars), so a GPU op returns the dtype the
CPU op does.

Under the simulator the scalar functions use NumPy's scalar maths instead of ``math`` (the
simulator runs device code as Python, where ``math.log(-1.0)`` raises instead of giving NaN).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from minigrad.cuda import _launch as L
from minigrad.cuda import _math
from minigrad.cuda._runtime import launch, load_cuda, sim
from minigrad.cuda.array import CudaArray, empty, implements

cuda: Any = None  # numba.cuda, bound on first use (the simulator patches module globals)


def _bind() -> None:
    global cuda
    if cuda is None:
        cuda = load_cuda()


# ---------------------------------------------------------------------------------------------
# Scalar functions: one per ufunc
# ---------------------------------------------------------------------------------------------


def extremum(larger: bool, nan_wins: bool) -> Callable[[Any, Any], Any]:
    """The larger (``larger``) or smaller of two scalars; a NaN operand wins (``np.maximum``,
    ``np.minimum``) or, ``nan_wins=False``, loses (the nan-reductions' combine: only an all-NaN
    input gives NaN). The flags are constants of the compiled function."""

    def pick(a, b):
        if a != a:
            return a if nan_wins else b
        if b != b:
            return b if nan_wins else a
        if larger:
            return a if a >= b else b
        return a if a <= b else b

    return pick


maximum = extremum(True, True)  # np.maximum (the reductions' ``max`` combine too)
minimum = extremum(False, True)  # np.minimum


@functools.cache
def _scalar_fns() -> dict[Any, tuple[int, Callable[..., Any]]]:
    """``{ufunc: (nin, device function)}``, built on first use for the active target."""
    _bind()
    m: Any = np if sim() else math
    exp, log, sqrt, tanh, sin, cos = m.exp, m.log, m.sqrt, m.tanh, m.sin, m.cos
    log1p, expm1, floor, ceil = m.log1p, m.expm1, m.floor, m.ceil
    inf = math.inf

    def sign(a):
        if a != a:
            return a
        return 1 if a > 0 else (-1 if a < 0 else 0)

    def logaddexp(a, b):
        hi = a if a >= b else b
        if hi == -inf:
            return hi
        d = a - b
        return hi + log1p(exp(-(d if d >= 0 else -d)))

    def heaviside(a, h0):
        if a != a:
            return a
        return 0 if a < 0 else (h0 if a == 0 else 1)

    table: dict[Any, tuple[int, Callable[..., Any]]] = {
        np.add: (2, lambda a, b: a + b),
        np.subtract: (2, lambda a, b: a - b),
        np.multiply: (2, lambda a, b: a * b),
        np.true_divide: (2, lambda a, b: a / b),
        np.floor_divide: (2, lambda a, b: floor(a / b)),
        np.power: (2, lambda a, b: a**b),
        np.maximum: (2, maximum),
        np.minimum: (2, minimum),
        np.logaddexp: (2, logaddexp),
        np.heaviside: (2, heaviside),
        np.greater: (2, lambda a, b: a > b),
        np.greater_equal: (2, lambda a, b: a >= b),
        np.less: (2, lambda a, b: a < b),
        np.less_equal: (2, lambda a, b: a <= b),
        np.equal: (2, lambda a, b: a == b),
        np.not_equal: (2, lambda a, b: a != b),
        np.logical_and: (2, lambda a, b: bool(a) and bool(b)),
        np.logical_or: (2, lambda a, b: bool(a) or bool(b)),
        np.bitwise_and: (2, lambda a, b: a & b),
        np.bitwise_or: (2, lambda a, b: a | b),
        np.bitwise_xor: (2, lambda a, b: a ^ b),
        np.negative: (1, lambda a: -a),
        np.positive: (1, lambda a: a),
        np.absolute: (1, lambda a: a if a >= 0 else -a),
        np.sign: (1, sign),
        np.square: (1, lambda a: a * a),
        np.reciprocal: (1, lambda a: 1 / a),
        np.logical_not: (1, lambda a: not a),
        np.invert: (1, lambda a: not a),  # bool arrays only (see _ufunc)
        np.isnan: (1, lambda a: a != a),
        np.isfinite: (1, lambda a: a == a and a != inf and a != -inf),
        np.isinf: (1, lambda a: a == inf or a == -inf),
    }
    # the ufuncs that are one call of a math function
    table.update(_math.calls({
        np.exp: exp, np.log: log, np.sqrt: sqrt, np.sin: sin, np.cos: cos, np.tanh: tanh,
        np.log1p: log1p, np.expm1: expm1, np.floor: floor, np.ceil: ceil,
    }))
    jit = cuda.jit(device=True)
    # the ufuncs of minigrad.ops.math and minigrad.ops.bitwise (and a Python-exact floor_divide)
    table.update(_math.scalar_table(jit))
    return {k: (nin, jit(fn)) for k, (nin, fn) in table.items()}


# ---------------------------------------------------------------------------------------------
# Kernel shapes
# ---------------------------------------------------------------------------------------------


@functools.cache
def _device_fns() -> tuple[Callable[..., Any], Callable[..., Any]]:
    """(offset, read): the device functions every array kernel indexes its operands with."""
    _bind()
    offset = L.offset_fn()

    @cuda.jit(device=True)
    def read(a, i, shape, base, st, mode, value):
        """The operand's value for output element ``i``: passed by value (scalar), the same
        flat element (contiguous, same shape), or found through offset and strides."""
        if mode == 2:
            return value
        if mode == 0:
            return a[i]
        return a[offset(i, shape, base, st)]

    return offset, read


@functools.cache
def _map_kernel(fn: Callable[..., Any]) -> Any:
    _, read = _device_fns()

    @cuda.jit
    def k(out, n, shape, a, ao, ast, am, av):
        for i in range(cuda.grid(1), n, cuda.gridsize(1)):
            out[i] = fn(read(a, i, shape, ao, ast, am, av))

    return k


@functools.cache
def _zip_kernel(fn: Callable[..., Any]) -> Any:
    _, read = _device_fns()

    @cuda.jit
    def k(out, n, shape, a, ao, ast, am, av, b, bo, bst, bm, bv):
        for i in range(cuda.grid(1), n, cuda.gridsize(1)):
            out[i] = fn(read(a, i, shape, ao, ast, am, av), read(b, i, shape, bo, bst, bm, bv))

    return k


@functools.cache
def _where_kernel() -> Any:
    _, read = _device_fns()

    @cuda.jit
    def k(out, n, shape, c, co, cst, cm, cv, a, ao, ast, am, av, b, bo, bst, bm, bv):
        for i in range(cuda.grid(1), n, cuda.gridsize(1)):
            if read(c, i, shape, co, cst, cm, cv):
                out[i] = read(a, i, shape, ao, ast, am, av)
            else:
                out[i] = read(b, i, shape, bo, bst, bm, bv)

    return k


@functools.cache
def _fill_kernel() -> Any:
    _bind()

    @cuda.jit
    def k(out, n, v):
        for i in range(cuda.grid(1), n, cuda.gridsize(1)):
            out[i] = v

    return k


def _identity(x):  # the map function of casts and gathers
    return x


@functools.cache
def _identity_dev() -> Callable[..., Any]:
    _bind()
    return cuda.jit(device=True)(_identity)


def _launch(kernel: Any, out: CudaArray, *operands: tuple) -> CudaArray:
    n = out.size
    if n == 0:
        return out
    blocks, threads = launch(n)
    flat = [v for op in operands for v in op[:3] + (np.int64(op[3]), op[4])]
    kernel[blocks, threads](out._buf, np.int64(n), L.pad(out.shape, 1), *flat)
    return out


# ---------------------------------------------------------------------------------------------
# Public building blocks (used by the other array modules too)
# ---------------------------------------------------------------------------------------------


def gather(a: CudaArray, shape: tuple[int, ...], strides: tuple[int, ...], offset: int = 0,
           dtype: Any = None) -> CudaArray:
    """A new contiguous array whose element ``idx`` is ``a.flat[offset + sum(idx * strides)]``.

    Materialises transposes (permuted strides), broadcasts (zero strides) and basic slices.
    """
    out = empty(shape, a.dtype if dtype is None else dtype)
    op = (a._buf, np.int64(offset), L.pad(strides, 0), L.STRIDED, a.dtype.type(0))
    return _launch(_map_kernel(_identity_dev()), out, op)


def scatter(dst: CudaArray, shape: tuple[int, ...], strides: tuple[int, ...], offset: int,
            value: Any) -> None:
    """Write ``value`` (a CudaArray broadcastable to ``shape``, or a scalar) into the elements
    ``dst.flat[offset + sum(idx * strides)]`` for every ``idx`` of ``shape`` (basic-slice
    assignment). The written positions must be distinct (true for basic slices)."""
    n = math.prod(shape)
    if n == 0:
        return
    k = _scatter_kernel()
    src = L.as_operand(value, tuple(shape), dst.dtype)
    blocks, threads = launch(n)
    k[blocks, threads](dst._buf, np.int64(offset), L.pad(strides, 0), np.int64(n),
                       L.pad(shape, 1), src[0], np.int64(src[1]), src[2], np.int64(src[3]),
                       src[4])


@functools.cache
def _scatter_kernel() -> Any:
    offset, read = _device_fns()

    @cuda.jit
    def k(dst, do, dst_st, n, shape, a, ao, ast, am, av):
        for i in range(cuda.grid(1), n, cuda.gridsize(1)):
            dst[offset(i, shape, do, dst_st)] = read(a, i, shape, ao, ast, am, av)

    return k


def fill(a: CudaArray, value: Any) -> None:
    if a.size:
        blocks, threads = launch(a.size)
        _fill_kernel()[blocks, threads](a._buf, np.int64(a.size), a.dtype.type(value))


implements("fill")(fill)


@implements("astype")
def astype(a: CudaArray, dtype: np.dtype) -> CudaArray:
    out = empty(a.shape, dtype)
    op = L.as_operand(a, a.shape, a.dtype)
    return _launch(_map_kernel(_identity_dev()), out, op)


# ---------------------------------------------------------------------------------------------
# ufuncs
# ---------------------------------------------------------------------------------------------


def _weak(x: Any) -> Any:
    """What ``resolve_dtypes`` takes for an operand: Python scalars are weak (NEP 50)."""
    if type(x) is CudaArray:
        return x.dtype
    if isinstance(x, np.generic | np.ndarray):  # NumPy scalars are strong (NEP 50)
        return x.dtype
    if isinstance(x, bool):
        return np.dtype(np.bool_)
    for t in (int, float, complex):
        if isinstance(x, t):
            return t
    return np.asarray(x).dtype


def _ufunc(ufunc: np.ufunc, *inputs: Any, out: Any = None, **kw: Any) -> Any:
    if kw or ufunc.nout != 1:
        return NotImplemented
    fns = _scalar_fns()
    if ufunc not in fns:
        return NotImplemented
    nin, fn = fns[ufunc]
    if len(inputs) != nin:
        return NotImplemented
    for x in inputs:
        if type(x) is not CudaArray and not L.is_scalar(x):
            raise TypeError(
                f"{ufunc.__name__}: cannot mix a GPU array with a host array of shape "
                f"{np.shape(x)}; move it to the GPU first"
            )
    try:
        loop = ufunc.resolve_dtypes(tuple(_weak(x) for x in inputs) + (None,))
    except (TypeError, np.exceptions.DTypePromotionError):
        return NotImplemented  # NumPy raises its own error from the host fallback
    if ufunc is np.invert and loop[0] != np.bool_:
        return NotImplemented
    shapes = [x.shape for x in inputs if type(x) is CudaArray]
    shape = np.broadcast_shapes(*shapes)
    if out is not None:
        o = out[0] if isinstance(out, tuple) else out
        if type(o) is not CudaArray or o.shape != shape:
            return NotImplemented
    else:
        o = empty(shape, loop[-1])
    ops = [L.as_operand(x, shape, np.dtype(dt)) for x, dt in zip(inputs, loop[:-1])]
    kernel = _map_kernel(fn) if nin == 1 else _zip_kernel(fn)
    return _launch(kernel, o, *ops)


for _u in (
    np.add, np.subtract, np.multiply, np.true_divide, np.floor_divide, np.power, np.maximum,
    np.minimum, np.logaddexp, np.heaviside, np.greater, np.greater_equal, np.less,
    np.less_equal, np.equal, np.not_equal, np.logical_and, np.logical_or, np.bitwise_and,
    np.bitwise_or, np.bitwise_xor, np.negative, np.positive, np.absolute, np.sign, np.exp,
    np.log, np.sqrt, np.square, np.reciprocal, np.sin, np.cos, np.tanh, np.log1p, np.expm1,
    np.floor, np.ceil, np.logical_not, np.invert, np.isnan, np.isfinite, np.isinf,
):
    implements(_u)(functools.partial(_ufunc, _u))
for _u in _math.ufuncs():
    implements(_u)(functools.partial(_ufunc, _u))


@implements(np.where)
def where(cond: Any, a: Any = None, b: Any = None) -> Any:
    if a is None or b is None:
        return NotImplemented  # np.where(cond) (nonzero) has a data-dependent shape
    arrays = [x for x in (cond, a, b) if type(x) is CudaArray]
    shape = np.broadcast_shapes(*(x.shape for x in arrays))
    dt = np.result_type(_weak(a) if type(a) is CudaArray else a,
                        _weak(b) if type(b) is CudaArray else b)
    o = empty(shape, dt)
    ops = [L.as_operand(cond, shape, np.dtype(np.bool_) if type(cond) is not CudaArray
                        else cond.dtype),
           L.as_operand(a, shape, dt), L.as_operand(b, shape, dt)]
    return _launch(_where_kernel(), o, *ops)


@implements(np.clip)
def clip(a: Any, a_min: Any = None, a_max: Any = None, out: Any = None, **kw: Any) -> Any:
    if kw:
        return NotImplemented
    r = a
    if a_max is not None:
        r = np.minimum(r, a_max)
    if a_min is not None:
        r = np.maximum(r, a_min)
    if r is a:
        r = a.copy()
    if out is not None:
        o = out[0] if isinstance(out, tuple) else out
        scatter(o, o.shape, L.c_strides(o.shape), 0, r)
        return o
    return r


# ---------------------------------------------------------------------------------------------
# Layout: transposes and broadcasts (copies; CudaArray has no strided views)
# ---------------------------------------------------------------------------------------------


@implements(np.transpose)
def transpose(a: CudaArray, axes: Any = None) -> CudaArray:
    nd = a.ndim
    axes = tuple(range(nd))[::-1] if axes is None else tuple(int(x) % max(nd, 1) for x in axes)
    if sorted(axes) != list(range(nd)):
        raise ValueError(f"transpose: axes {axes} don't match array of {nd} dims")
    if axes == tuple(range(nd)):
        return a.copy()
    st = L.c_strides(a.shape)
    return gather(a, tuple(a.shape[x] for x in axes), tuple(st[x] for x in axes))


@implements(np.swapaxes)
def swapaxes(a: CudaArray, axis1: int, axis2: int) -> CudaArray:
    axes = list(range(a.ndim))
    axes[axis1], axes[axis2] = axes[axis2], axes[axis1]
    return transpose(a, axes)


@implements(np.moveaxis)
def moveaxis(a: CudaArray, source: Any, destination: Any) -> CudaArray:
    src = [source] if isinstance(source, int | np.integer) else list(source)
    dst = [destination] if isinstance(destination, int | np.integer) else list(destination)
    nd = a.ndim
    src = [int(s) % nd for s in src]
    dst = [int(d) % nd for d in dst]
    order = [n for n in range(nd) if n not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return transpose(a, order)


@implements(np.broadcast_to)
def broadcast_to(a: CudaArray, shape: Any, subok: bool = False) -> CudaArray:
    shape = tuple(int(s) for s in ((shape,) if isinstance(shape, int | np.integer) else shape))
    if np.broadcast_shapes(a.shape, shape) != shape:
        raise ValueError(f"operands could not be broadcast together with remapped shapes "
                         f"[original->remapped]: {a.shape} and requested shape {shape}")
    if shape == a.shape:
        return a
    return gather(a, shape, L.broadcast_strides(a.shape, shape))
