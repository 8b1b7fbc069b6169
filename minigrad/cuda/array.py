"""``CudaArray``: a NumPy-like n-d array in GPU memory whose operations run as numba.cuda kernels.

Why numba.cuda and not CuPy (issue 6's decision): every GPU path has to run under numba's CUDA
simulator (``NUMBA_ENABLE_CUDASIM=1``), because CI has no GPU; CuPy has no simulator, so each of
its paths would need a second, numba.cuda fallback anyway. numba-cuda is also one small, pure-
Python dependency (CuPy is a several-hundred-MB wheel per CUDA version), and the kernels are
written in the same Python as the CPU ones. The price: minigrad writes its own elementwise,
reduction and matmul kernels (a tiled shared-memory matmul instead of cuBLAS).

How op code runs on it unchanged: ``CudaArray`` implements NumPy's dispatch protocols
(``__array_ufunc__``, NEP 13, and ``__array_function__``, NEP 18), so the NumPy code in the ops'
forward functions (``a.data * b.data``, ``np.exp(x.data)``, ``np.sum(g, axis=0)``) dispatches
here when its arguments live on the GPU. Implementations are registered per NumPy function with
:func:`implements` by the modules in ``_IMPL_MODULES``. A NumPy function or argument combination
without a GPU implementation *falls back to the host* (copy in, NumPy, copy out), counted in
:func:`fallback_counts`; ``strict(True)`` (or ``MINIGRAD_CUDA_STRICT=1``) turns every fallback
into :class:`HostFallbackError`, which is how the tests prove that a training step stays on the
device.

Storage is always one C-contiguous buffer (``_buf``: a flat numba device array). ``reshape``
shares it; transposes and slices are copied by a strided-gather kernel (no strided views: every
kernel can then index its operands flat).
"""

from __future__ import annotations

import collections
import importlib
import math
import operator
import os
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = [
    "CudaArray",
    "HostFallbackError",
    "asarray",
    "empty",
    "fallback_counts",
    "from_host",
    "full",
    "implements",
    "is_cuda_array",
    "reset_fallback_counts",
    "strict",
    "to_host",
    "zeros",
]

# Modules that register GPU implementations; imported on the first dispatch (not at import).
_IMPL_MODULES = (
    "minigrad.cuda._elementwise",
    "minigrad.cuda._reduce",
    "minigrad.cuda._linalg",
    "minigrad.cuda._index",
)
_IMPLS: dict[Any, Callable[..., Any]] = {}
_loaded = False
_strict = [os.environ.get("MINIGRAD_CUDA_STRICT", "0") not in ("", "0")]
_counts: collections.Counter[str] = collections.Counter()


class HostFallbackError(RuntimeError):
    """A NumPy call on GPU arrays has no GPU kernel, and strict mode forbids the host fallback."""


def strict(on: bool | None = None) -> bool:
    """Get (no argument) or set whether host fallbacks raise :class:`HostFallbackError`.

    Returns the previous setting, so ``prev = strict(True); ...; strict(prev)`` restores it.
    """
    prev = _strict[0]
    if on is not None:
        _strict[0] = bool(on)
    return prev


def fallback_counts() -> dict[str, int]:
    """How many times each NumPy function ran on the host for GPU arrays in this process."""
    return dict(_counts)


def reset_fallback_counts() -> None:
    _counts.clear()


def implements(*keys: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a GPU implementation for NumPy functions/ufuncs (or the string keys
    ``"getitem"``, ``"setitem"``, ``"astype"``, ``"copy"``).

    The implementation gets the same arguments as the NumPy call (for a ufunc: the inputs, then
    ``out=`` and the other keywords). It may return ``NotImplemented`` for argument combinations
    it does not handle; the call then falls back to the host.
    """

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        for k in keys:
            _IMPLS[k] = fn
        return fn

    return deco


def _load_impls() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for name in _IMPL_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as e:  # a module not written yet: everything falls back
            if e.name != name:
                raise


def _cuda() -> Any:
    from minigrad.cuda._runtime import require

    return require("CudaArray")


def is_cuda_array(a: Any) -> bool:
    return type(a) is CudaArray


def _name(key: Any) -> str:
    if isinstance(key, str):
        return key
    return getattr(key, "__name__", repr(key))


def _to_host_tree(x: Any) -> Any:
    if type(x) is CudaArray:
        return x.get()
    if isinstance(x, list | tuple):
        return type(x)(_to_host_tree(v) for v in x)
    if isinstance(x, dict):
        return {k: _to_host_tree(v) for k, v in x.items()}
    return x


def _to_device_tree(x: Any) -> Any:
    if isinstance(x, np.ndarray | np.generic) and not isinstance(x, np.dtype):
        return from_host(np.asarray(x))
    if isinstance(x, list | tuple):
        return type(x)(_to_device_tree(v) for v in x)
    return x


def _describe(args: Any) -> str:
    parts = []
    for a in args:
        if type(a) is CudaArray:
            parts.append(f"CudaArray{a.shape} {a.dtype}")
        elif isinstance(a, np.ndarray):
            parts.append(f"ndarray{a.shape} {a.dtype}")
        else:
            parts.append(type(a).__name__)
    return ", ".join(parts)


def _host_fallback(key: Any, fn: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
    name = _name(key)
    if _strict[0]:
        raise HostFallbackError(
            f"{name}({_describe(args)}): no GPU kernel for this call, and strict mode forbids "
            "running it on the host (minigrad.cuda.strict(False) allows it)"
        )
    _counts[name] += 1
    out = kwargs.pop("out", None)
    result = fn(*_to_host_tree(args), **_to_host_tree(kwargs))
    if fn is _host_setitem:  # write the modified host copy back
        args[0]._set_from_host(result)
        return None
    if out is None:
        return _to_device_tree(result)
    outs = out if isinstance(out, tuple) else (out,)
    results = result if isinstance(result, tuple) else (result,)
    for o, r in zip(outs, results):
        if type(o) is CudaArray:
            o._set_from_host(np.asarray(r))
        else:
            o[...] = r
    return outs[0] if len(outs) == 1 else out


def _host_setitem(host: np.ndarray, index: Any, value: Any) -> np.ndarray:
    host[index] = value
    return host


def dispatch(key: Any, fn: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
    """Run ``key``'s GPU implementation, or ``fn`` on the host (the fallback)."""
    _load_impls()
    impl = _IMPLS.get(key)
    if impl is not None:
        r = impl(*args, **kwargs)
        if r is not NotImplemented:
            return r
    return _host_fallback(key, fn, args, dict(kwargs))


def _normalize_shape(shape: Any, size: int | None = None) -> tuple[int, ...]:
    if isinstance(shape, int | np.integer):
        shape = (int(shape),)
    shape = tuple(operator.index(s) for s in shape)
    if size is not None and -1 in shape:
        if shape.count(-1) > 1:
            raise ValueError("reshape: can only specify one unknown dimension")
        known = math.prod(s for s in shape if s != -1)
        if known == 0 or size % known:
            raise ValueError(f"reshape: cannot reshape array of size {size} into shape {shape}")
        shape = tuple(size // known if s == -1 else s for s in shape)
    return shape


class CudaArray:
    """An n-d array in GPU memory (C-contiguous), operated on with NumPy's functions.

    Build one with :func:`from_host`, :func:`empty`, :func:`zeros`, :func:`full`; bring it back
    with :meth:`get`. ``numpy.asarray(a)`` raises (an implicit device-to-host copy is almost
    always a bug); use :meth:`get`.
    """

    __slots__ = ("_buf", "shape", "dtype")
    __array_priority__ = 2000

    def __init__(self, buf: Any, shape: tuple[int, ...], dtype: Any) -> None:
        self._buf = buf  # flat numba device array holding prod(shape) elements
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)

    # -- metadata -------------------------------------------------------------------------------
    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def itemsize(self) -> int:
        return self.dtype.itemsize

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    @property
    def strides(self) -> tuple[int, ...]:
        out, acc = [], self.itemsize
        for s in reversed(self.shape):
            out.append(acc)
            acc *= max(s, 1)
        return tuple(reversed(out))

    @property
    def device(self) -> str:
        return "cuda"

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of unsized object")
        return self.shape[0]

    # -- transfers ------------------------------------------------------------------------------
    def get(self) -> np.ndarray:
        """A host (NumPy) copy; waits for pending kernels."""
        if self.size == 0:
            return np.empty(self.shape, self.dtype)
        return self._buf.copy_to_host().reshape(self.shape)

    copy_to_host = get

    def _set_from_host(self, arr: np.ndarray) -> None:
        arr = np.asarray(np.broadcast_to(arr, self.shape), dtype=self.dtype, order="C")
        if self.size:
            self._buf.copy_to_device(arr.reshape(-1))

    def device_view(self) -> Any:
        """This array as a numba device array of its shape (shares memory), for kernels."""
        return self._buf.reshape(self.shape) if self.shape else self._buf.reshape(())

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        raise TypeError(
            f"a CudaArray {self.shape} {self.dtype} lives on the GPU; NumPy cannot read it "
            "implicitly. Copy it to the host with .get() (or Tensor.cpu() / Tensor.numpy())"
        )

    def __repr__(self) -> str:
        return f"CudaArray({np.array2string(self.get(), separator=', ')}, dtype={self.dtype})"

    def item(self) -> Any:
        if self.size != 1:
            raise ValueError("can only convert an array of size 1 to a Python scalar")
        return self.get().item()

    def tolist(self) -> Any:
        return self.get().tolist()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        if self.size != 1:
            raise ValueError(
                "The truth value of an array with more than one element is ambiguous."
            )
        return bool(self.item())

    def __index__(self) -> int:
        if not np.issubdtype(self.dtype, np.integer) or self.size != 1:
            raise TypeError("only integer scalar arrays can be converted to a scalar index")
        return int(self.item())

    # -- NumPy protocols ------------------------------------------------------------------------
    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        if method == "__call__":
            return dispatch(ufunc, ufunc, inputs, kwargs)
        key = (ufunc, method)
        return dispatch(key, getattr(ufunc, method), inputs, kwargs)

    def __array_function__(self, func: Callable, types: Any, args: tuple, kwargs: dict) -> Any:
        native = _NATIVE.get(func)
        if native is not None:
            return native(*args, **kwargs)
        return dispatch(func, func, args, kwargs)

    # -- shape (no data movement) ---------------------------------------------------------------
    def reshape(self, *shape: Any, order: str = "C") -> CudaArray:
        if order != "C":
            return NotImplemented
        if len(shape) == 1 and not isinstance(shape[0], int | np.integer):
            shape = shape[0]
        new = _normalize_shape(shape, self.size)
        if math.prod(new) != self.size:
            raise ValueError(f"cannot reshape array of size {self.size} into shape {new}")
        return CudaArray(self._buf, new, self.dtype)

    def ravel(self) -> CudaArray:
        return self.reshape(-1)

    def view(self) -> CudaArray:
        """A new array object on the same buffer (NumPy's ``a.view()``; no dtype argument)."""
        return CudaArray(self._buf, self.shape, self.dtype)

    def flatten(self) -> CudaArray:
        return self.reshape(-1).copy()

    # -- methods that are NumPy functions -------------------------------------------------------
    def copy(self, order: str = "C") -> CudaArray:
        out = empty(self.shape, self.dtype)
        if self.size:
            out._buf.copy_to_device(self._buf)
        return out

    def astype(self, dtype: Any, order: str = "K", casting: str = "unsafe",
               copy: bool = True) -> CudaArray:
        dt = np.dtype(dtype)
        if dt == self.dtype and not copy:
            return self
        return dispatch("astype", lambda a, d: a.astype(d), (self, dt), {})

    def fill(self, value: Any) -> None:
        dispatch("fill", lambda a, v: a.fill(v), (self, value), {})

    def transpose(self, *axes: Any) -> CudaArray:
        if len(axes) == 1 and (axes[0] is None or not isinstance(axes[0], int | np.integer)):
            axes = axes[0]
        return np.transpose(self, axes if axes else None)

    @property
    def T(self) -> CudaArray:  # noqa: N802
        return np.transpose(self)

    def swapaxes(self, a1: int, a2: int) -> CudaArray:
        return np.swapaxes(self, a1, a2)

    def squeeze(self, axis: Any = None) -> CudaArray:
        return np.squeeze(self, axis)

    def sum(self, axis: Any = None, dtype: Any = None, out: Any = None,
            keepdims: bool = False) -> CudaArray:
        return np.sum(self, axis=axis, dtype=dtype, out=out, keepdims=keepdims)

    def mean(self, axis: Any = None, dtype: Any = None, out: Any = None,
             keepdims: bool = False) -> CudaArray:
        return np.mean(self, axis=axis, dtype=dtype, out=out, keepdims=keepdims)

    def max(self, axis: Any = None, out: Any = None, keepdims: bool = False) -> CudaArray:
        return np.max(self, axis=axis, out=out, keepdims=keepdims)

    def min(self, axis: Any = None, out: Any = None, keepdims: bool = False) -> CudaArray:
        return np.min(self, axis=axis, out=out, keepdims=keepdims)

    def argmax(self, axis: Any = None, out: Any = None, keepdims: bool = False) -> CudaArray:
        return np.argmax(self, axis=axis, out=out, keepdims=keepdims)

    def argmin(self, axis: Any = None, out: Any = None, keepdims: bool = False) -> CudaArray:
        return np.argmin(self, axis=axis, out=out, keepdims=keepdims)

    def var(self, axis: Any = None, dtype: Any = None, out: Any = None, ddof: int = 0,
            keepdims: bool = False) -> CudaArray:
        return np.var(self, axis=axis, dtype=dtype, out=out, ddof=ddof, keepdims=keepdims)

    def std(self, axis: Any = None, dtype: Any = None, out: Any = None, ddof: int = 0,
            keepdims: bool = False) -> CudaArray:
        return np.std(self, axis=axis, dtype=dtype, out=out, ddof=ddof, keepdims=keepdims)

    def any(self, axis: Any = None, keepdims: bool = False) -> CudaArray:
        return np.any(self, axis=axis, keepdims=keepdims)

    def all(self, axis: Any = None, keepdims: bool = False) -> CudaArray:
        return np.all(self, axis=axis, keepdims=keepdims)

    def clip(self, min: Any = None, max: Any = None) -> CudaArray:  # noqa: A002
        return np.clip(self, min, max)

    def __getitem__(self, index: Any) -> CudaArray:
        return dispatch("getitem", operator.getitem, (self, index), {})

    def __setitem__(self, index: Any, value: Any) -> None:
        dispatch("setitem", _host_setitem, (self, index, value), {})

    # -- operators (through the ufuncs, so dispatch is in one place) ----------------------------
    def __add__(self, o: Any) -> Any:
        return np.add(self, o)

    def __radd__(self, o: Any) -> Any:
        return np.add(o, self)

    def __sub__(self, o: Any) -> Any:
        return np.subtract(self, o)

    def __rsub__(self, o: Any) -> Any:
        return np.subtract(o, self)

    def __mul__(self, o: Any) -> Any:
        return np.multiply(self, o)

    def __rmul__(self, o: Any) -> Any:
        return np.multiply(o, self)

    def __truediv__(self, o: Any) -> Any:
        return np.true_divide(self, o)

    def __rtruediv__(self, o: Any) -> Any:
        return np.true_divide(o, self)

    def __floordiv__(self, o: Any) -> Any:
        return np.floor_divide(self, o)

    def __mod__(self, o: Any) -> Any:
        return np.remainder(self, o)

    def __pow__(self, o: Any) -> Any:
        return np.power(self, o)

    def __rpow__(self, o: Any) -> Any:
        return np.power(o, self)

    def __matmul__(self, o: Any) -> Any:
        return np.matmul(self, o)

    def __rmatmul__(self, o: Any) -> Any:
        return np.matmul(o, self)

    def __neg__(self) -> Any:
        return np.negative(self)

    def __pos__(self) -> Any:
        return self

    def __abs__(self) -> Any:
        return np.absolute(self)

    def __invert__(self) -> Any:
        return np.invert(self)

    def __and__(self, o: Any) -> Any:
        return np.bitwise_and(self, o)

    def __or__(self, o: Any) -> Any:
        return np.bitwise_or(self, o)

    def __xor__(self, o: Any) -> Any:
        return np.bitwise_xor(self, o)

    def __lt__(self, o: Any) -> Any:
        return np.less(self, o)

    def __le__(self, o: Any) -> Any:
        return np.less_equal(self, o)

    def __gt__(self, o: Any) -> Any:
        return np.greater(self, o)

    def __ge__(self, o: Any) -> Any:
        return np.greater_equal(self, o)

    def __eq__(self, o: Any) -> Any:  # type: ignore[override]
        return np.equal(self, o)

    def __ne__(self, o: Any) -> Any:  # type: ignore[override]
        return np.not_equal(self, o)

    __hash__ = None  # type: ignore[assignment]

    def __iadd__(self, o: Any) -> Any:
        return np.add(self, o, out=self)

    def __isub__(self, o: Any) -> Any:
        return np.subtract(self, o, out=self)

    def __imul__(self, o: Any) -> Any:
        return np.multiply(self, o, out=self)

    def __itruediv__(self, o: Any) -> Any:
        return np.true_divide(self, o, out=self)

    def __ipow__(self, o: Any) -> Any:
        return np.power(self, o, out=self)


# ---------------------------------------------------------------------------------------------
# Constructors and metadata functions
# ---------------------------------------------------------------------------------------------


def empty(shape: Any, dtype: Any = np.float32) -> CudaArray:
    """An uninitialised array on the GPU."""
    shape = _normalize_shape(shape)
    dt = np.dtype(dtype)
    return CudaArray(_cuda().device_array(math.prod(shape), dtype=dt), shape, dt)


def full(shape: Any, value: Any, dtype: Any = np.float32) -> CudaArray:
    out = empty(shape, dtype)
    out.fill(value)
    return out


def zeros(shape: Any, dtype: Any = np.float32) -> CudaArray:
    return full(shape, 0, dtype)


def from_host(arr: Any, dtype: Any = None) -> CudaArray:
    """A GPU copy of a host array (anything ``np.asarray`` takes)."""
    h = np.asarray(arr, dtype=dtype, order="C")  # (ascontiguousarray makes 0-d 1-d)
    return CudaArray(_cuda().to_device(h.reshape(-1)), h.shape, h.dtype)


def asarray(x: Any, dtype: Any = None) -> CudaArray:
    """``x`` on the GPU (no copy when it already is and has the dtype)."""
    if type(x) is CudaArray:
        return x if dtype is None or np.dtype(dtype) == x.dtype else x.astype(dtype)
    return from_host(x, dtype)


def to_host(x: Any) -> np.ndarray:
    """A host array for ``x`` (a copy when ``x`` is on the GPU)."""
    return x.get() if type(x) is CudaArray else np.asarray(x)


def _dtype_of(x: Any) -> Any:
    return x.dtype if type(x) is CudaArray else x


def _result_type(*arrays_and_dtypes: Any) -> np.dtype:
    return np.result_type(*(_dtype_of(a) for a in arrays_and_dtypes))


def _shape(a: Any) -> tuple[int, ...]:
    return a.shape if type(a) is CudaArray else np.shape(a)


def _ndim(a: Any) -> int:
    return a.ndim if type(a) is CudaArray else np.ndim(a)


def _size(a: Any, axis: Any = None) -> int:
    if type(a) is not CudaArray:
        return np.size(a, axis)
    return a.size if axis is None else a.shape[axis]


def _empty_like(a: Any, dtype: Any = None, order: str = "K", subok: bool = True,
                shape: Any = None, **kw: Any) -> CudaArray:
    return empty(a.shape if shape is None else shape, a.dtype if dtype is None else dtype)


def _zeros_like(a: Any, dtype: Any = None, order: str = "K", subok: bool = True,
                shape: Any = None, **kw: Any) -> CudaArray:
    return zeros(a.shape if shape is None else shape, a.dtype if dtype is None else dtype)


def _ones_like(a: Any, dtype: Any = None, order: str = "K", subok: bool = True,
               shape: Any = None, **kw: Any) -> CudaArray:
    return full(a.shape if shape is None else shape, 1, a.dtype if dtype is None else dtype)


def _full_like(a: Any, fill_value: Any, dtype: Any = None, order: str = "K", subok: bool = True,
               shape: Any = None, **kw: Any) -> CudaArray:
    return full(a.shape if shape is None else shape, fill_value,
                a.dtype if dtype is None else dtype)


def _reshape(a: Any, shape: Any = None, order: str = "C", **kw: Any) -> CudaArray:
    if shape is None:
        shape = kw.get("newshape")
    return a.reshape(shape, order=order)


def _ravel(a: Any, order: str = "C") -> CudaArray:
    return a.ravel()


def _expand_dims(a: Any, axis: Any) -> CudaArray:
    axes = (axis,) if isinstance(axis, int | np.integer) else tuple(axis)
    nd = a.ndim + len(axes)
    axes = sorted(int(x) % nd for x in axes)
    shape = list(a.shape)
    for ax in axes:
        shape.insert(ax, 1)
    return a.reshape(tuple(shape))


def _squeeze(a: Any, axis: Any = None) -> CudaArray:
    if axis is None:
        return a.reshape(tuple(s for s in a.shape if s != 1))
    axes = (axis,) if isinstance(axis, int | np.integer) else tuple(axis)
    axes = {int(x) % max(a.ndim, 1) for x in axes}
    for ax in axes:
        if a.shape[ax] != 1:
            raise ValueError("cannot select an axis to squeeze out which has size not equal to one")
    return a.reshape(tuple(s for i, s in enumerate(a.shape) if i not in axes))


def _ascontiguousarray(a: Any, dtype: Any = None, **kw: Any) -> CudaArray:
    return a if dtype is None or np.dtype(dtype) == a.dtype else a.astype(dtype)


def _copy(a: Any, order: str = "K", subok: bool = False) -> CudaArray:
    return a.copy()


def _shares_memory(a: Any, b: Any, max_work: Any = None) -> bool:
    return type(a) is CudaArray and type(b) is CudaArray and a._buf is b._buf


# Functions answered without a kernel and never sent to the host (metadata, constructors, views).
_NATIVE: dict[Callable, Callable[..., Any]] = {
    np.result_type: _result_type,
    np.shape: _shape,
    np.ndim: _ndim,
    np.size: _size,
    np.empty_like: _empty_like,
    np.zeros_like: _zeros_like,
    np.ones_like: _ones_like,
    np.full_like: _full_like,
    np.reshape: _reshape,
    np.ravel: _ravel,
    np.expand_dims: _expand_dims,
    np.squeeze: _squeeze,
    np.ascontiguousarray: _ascontiguousarray,
    np.copy: _copy,
    np.shares_memory: _shares_memory,
    np.may_share_memory: _shares_memory,
}
