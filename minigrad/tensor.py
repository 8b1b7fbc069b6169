"""``Tensor``: a NumPy array that records the ops applied to it, and the tensor constructors."""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from minigrad import _device, _hints, autograd
from minigrad._device import device, device_of, move
from minigrad.cuda.array import CudaArray
from minigrad.random import generator

__all__ = [
    "Tensor",
    "tensor",
    "as_tensor",
    "from_numpy",
    "zeros",
    "ones",
    "full",
    "arange",
    "eye",
    "rand",
    "randn",
    "zeros_like",
    "ones_like",
    "float32",
    "float64",
    "int32",
    "int64",
    "bool_",
    "device",
]

float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
int32 = np.dtype(np.int32)
int64 = np.dtype(np.int64)
bool_ = np.dtype(np.bool_)

DEFAULT_DTYPE = float32

Shape = tuple[int, ...]
Axis = int | Sequence[int] | None


def _is_float(dtype: np.dtype) -> bool:
    return np.issubdtype(dtype, np.floating)


def _to_array(data: Any, dtype: Any = None) -> Any:
    """PyTorch's inference: Python floats become float32, ints int64; arrays keep their dtype."""
    if isinstance(data, Tensor):
        arr = data.data
    elif type(data) is CudaArray:
        arr = data
    elif isinstance(data, np.ndarray | np.generic):
        arr = np.asarray(data)
    else:
        arr = np.asarray(data)
        if dtype is None:
            if _is_float(arr.dtype):
                arr = arr.astype(DEFAULT_DTYPE)
            elif np.issubdtype(arr.dtype, np.integer):
                arr = arr.astype(np.int64)
    _check_numeric(arr.dtype, "tensor", data)
    if dtype is not None:
        arr = arr.astype(np.dtype(dtype), copy=False)
        _check_numeric(arr.dtype, "tensor", data)
    return arr


# dtype kinds a tensor may hold: bool, signed and unsigned ints, floats (not strings, bytes,
# objects, records, datetimes or complex numbers, which no op handles)
_NUMERIC_KINDS = frozenset("biuf")


def _check_numeric(dtype: np.dtype, who: str, data: Any) -> None:
    if dtype.kind in _NUMERIC_KINDS:
        return
    what = {"U": "strings", "S": "bytes", "O": "Python objects", "V": "records",
            "M": "datetimes", "m": "timedeltas", "c": "complex numbers"}.get(dtype.kind, "")
    shown = repr(data) if len(repr(data)) <= 40 else repr(data)[:37] + "..."
    raise TypeError(f"{who}: tensors hold bool, int or float numbers; got {what or dtype} "
                    f"(dtype {dtype}) from {type(data).__name__} {shown}")


_device_spec = device  # Tensor.to's `device` argument shadows the class


def _is_dtype_name(s: str) -> bool:
    try:
        np.dtype(s)
    except TypeError:
        return False
    return True


def _check_requires_grad(dtype: np.dtype, requires_grad: bool) -> None:
    if requires_grad and not _is_float(dtype):
        raise TypeError(
            f"requires_grad=True needs a floating dtype (float32 or float64); got {dtype}"
        )


class Tensor:
    """An n-dimensional array with reverse-mode autodiff.

    ``data`` is the NumPy storage; ``grad`` is filled by ``backward()`` on tensors created with
    ``requires_grad=True`` (leaves). Non-leaf tensors remember the op (``Function``) that made them.
    Arithmetic follows NumPy broadcasting; gradients are summed back to each input's shape.
    On the GPU (``device='cuda'``, ``.cuda()``, ``.to('cuda')``) ``data`` is a
    :class:`minigrad.cuda.CudaArray` instead; every op's inputs must share one device.
    """

    __slots__ = ("data", "grad", "_requires_grad", "_node", "_out_index", "_retains_grad",
                 "_hooks", "__weakref__")
    __array_priority__ = 1000  # make `ndarray <op> Tensor` defer to Tensor's reflected operators
    __array_ufunc__ = None

    def __init__(self, data: Any, dtype: Any = None, requires_grad: bool = False,
                 device: Any = None) -> None:
        arr = _to_array(data, dtype)
        if arr is (data.data if isinstance(data, Tensor) else data):
            arr = arr.copy()  # tensor(x) never aliases x (from_numpy does)
        _check_requires_grad(arr.dtype, requires_grad)
        if device is not None:
            arr = move(arr, device, "tensor(device='cuda')")
        self.data: Any = arr
        self.grad: Tensor | None = None
        self._requires_grad = bool(requires_grad)
        self._node: autograd.Function | None = None
        self._out_index = 0
        self._retains_grad = False
        self._hooks = None

    @classmethod
    def _make(cls, arr: np.ndarray) -> Tensor:
        """Wrap an array without copying or checks (internal fast path)."""
        t = cls.__new__(cls)
        t.data = arr
        t.grad = None
        t._requires_grad = False
        t._node = None
        t._out_index = 0
        t._retains_grad = False
        t._hooks = None
        return t

    # -- metadata ------------------------------------------------------------------------------
    @property
    def shape(self) -> Shape:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def device(self) -> device:
        """``'cpu'`` or ``'cuda'`` (a :class:`minigrad.device`, which compares equal to both
        spellings PyTorch users write: ``'cuda'`` and ``'cuda:0'``)."""
        return device_of(self.data)

    @property
    def is_cuda(self) -> bool:
        return type(self.data) is CudaArray

    def size(self, dim: int | None = None) -> Shape | int:
        """The shape, or the length of axis ``dim`` (PyTorch's ``size``)."""
        return self.shape if dim is None else self.shape[dim]

    def dim(self) -> int:
        return self.ndim

    def numel(self) -> int:
        return int(self.data.size)

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    # -- autograd state -------------------------------------------------------------------------
    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        self.requires_grad_(value)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if self._node is not None and not requires_grad:
            raise RuntimeError(
                "requires_grad_: a non-leaf tensor's requires_grad cannot be turned off; use "
                "detach()"
            )
        _check_requires_grad(self.dtype, requires_grad)
        self._requires_grad = bool(requires_grad)
        return self

    @property
    def is_leaf(self) -> bool:
        return self._node is None

    @property
    def grad_fn(self) -> autograd.Function | None:
        return self._node

    def retain_grad(self) -> None:
        """Keep this non-leaf tensor's gradient in ``.grad`` after ``backward()``."""
        if not self._requires_grad:
            raise RuntimeError("retain_grad: the tensor does not require grad")
        self._retains_grad = True

    def register_hook(self, hook: Callable[[Tensor], Tensor | None]) -> autograd.RemovableHandle:
        """``hook(grad)`` runs each time the gradient w.r.t. this tensor is computed (on a leaf,
        before it is accumulated into ``.grad``); a returned Tensor of the same shape replaces the
        gradient. Returns a handle whose ``remove()`` unregisters it (PyTorch's semantics)."""
        return autograd.register_hook(self, hook)

    def register_post_accumulate_grad_hook(
        self, hook: Callable[[Tensor], None]
    ) -> autograd.RemovableHandle:
        """On a leaf: ``hook(self)`` runs after ``backward()`` accumulated into ``self.grad``
        (e.g. to start an all-reduce or an optimizer step per parameter)."""
        return autograd.register_post_accumulate_grad_hook(self, hook)

    def detach(self) -> Tensor:
        """A tensor sharing this one's storage, cut from the graph."""
        return Tensor._make(self.data)

    def backward(
        self,
        gradient: Any = None,
        retain_graph: bool | None = None,
        create_graph: bool = False,
        explain: bool = False,
    ) -> None:
        """Accumulate d(self)/d(leaf) into the ``.grad`` of every leaf that requires grad.

        ``gradient`` is required when ``self`` is not a scalar. The graph's saved buffers are freed
        afterwards unless ``retain_graph=True``. ``explain=True`` prints each backward step.
        """
        if explain:
            _explain(self, gradient=gradient, retain_graph=retain_graph, create_graph=create_graph)
            return
        autograd.backward(self, gradient, retain_graph, create_graph)

    # -- conversion -----------------------------------------------------------------------------
    def numpy(self) -> np.ndarray:
        """The NumPy array behind this tensor (shared storage, as ``torch.Tensor.numpy``); for a
        GPU tensor, a host copy."""
        if type(self.data) is CudaArray:
            return self.data.get()
        return self.data

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        if type(self.data) is CudaArray:
            raise TypeError(
                f"a cuda tensor {self.shape} cannot be converted to NumPy implicitly; use "
                ".cpu() or .numpy() to copy it to the host first"
            )
        if dtype is not None and np.dtype(dtype) != self.dtype:
            return self.data.astype(dtype)
        return self.data.copy() if copy else self.data

    def item(self) -> float | int | bool:
        if self.data.size != 1:
            raise ValueError(f"item: only one-element tensors convert to scalars; got {self.shape}")
        return self.data.item()

    def tolist(self) -> Any:
        return self.data.tolist()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise ValueError(
                f"the truth value of a tensor of shape {self.shape} is ambiguous; use .any() or "
                ".all()"
            )
        return bool(self.data.item())

    def __index__(self) -> int:
        if not np.issubdtype(self.dtype, np.integer) or self.data.size != 1:
            raise TypeError("only integer tensors of one element can be used as an index")
        return int(self.data.item())

    def astype(self, dtype: Any) -> Tensor:
        """Cast (differentiable between float dtypes)."""
        return _ew.cast(self, dtype)

    def to(self, *args: Any, dtype: Any = None, device: Any = None) -> Tensor:
        """``to(device)``, ``to(dtype)``, ``to(device, dtype)`` or ``to(tensor)`` (its device and
        dtype), as in PyTorch. Differentiable; returns ``self`` when nothing changes."""
        for a in args:
            if isinstance(a, Tensor):
                device, dtype = a.device, a.dtype
            elif isinstance(a, str) and not _is_dtype_name(a):  # 'cpu', 'cuda', 'cuda:0'
                device = a
            else:  # a dtype, or a dtype's name such as "float64"
                dtype = a
        if device is not None:
            device = _device_spec(device)  # 'gpu' -> the device error Module.to gives
        out = self
        if device is not None:
            out = _dev.to_device(out, device)
        if dtype is not None and np.dtype(dtype) != out.dtype:
            out = out.astype(dtype)
        return out

    def cpu(self) -> Tensor:
        """This tensor on the host (``self`` if it is there already); differentiable."""
        return _dev.to_device(self, "cpu")

    def cuda(self) -> Tensor:
        """This tensor on the GPU (``self`` if it is there already); differentiable."""
        return _dev.to_device(self, "cuda")

    def float(self) -> Tensor:
        return self.astype(float32)

    def double(self) -> Tensor:
        return self.astype(float64)

    def long(self) -> Tensor:
        return self.astype(int64)

    def __repr__(self) -> str:
        host = self.data.get() if type(self.data) is CudaArray else self.data
        body = np.array2string(host, separator=", ", prefix="tensor(", precision=4)
        extra = []
        if type(self.data) is CudaArray:
            extra.append("device='cuda'")
        if self.dtype not in (float32, int64, bool_):
            extra.append(f"dtype={self.dtype}")
        if self._node is not None:
            extra.append(f"grad_fn={self._node!r}")
        elif self._requires_grad:
            extra.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extra) + ")"

    __hash__ = object.__hash__

    # -- in-place ops (the rules: minigrad.autograd.apply_inplace) -----------------------------
    # They write into this tensor's storage and bump its version counter. Under no_grad() they
    # are plain updates (optimizers, nn.init). In grad mode a leaf that requires grad refuses
    # them; on other tensors they are recorded and the tensor's history is rebased, as in
    # PyTorch; a saved tensor modified this way makes backward() raise.
    @property
    def _version(self) -> int:
        """How many in-place writes this tensor's storage has had (PyTorch's ``_version``)."""
        return autograd.versions.version(self.data)

    def add_(self, other: Any, *, alpha: float = 1) -> Tensor:
        return autograd.apply_inplace(
            self, "add_", lambda t: t + (other if alpha == 1 else other * alpha), other)

    def sub_(self, other: Any, *, alpha: float = 1) -> Tensor:
        return autograd.apply_inplace(
            self, "sub_", lambda t: t - (other if alpha == 1 else other * alpha), other)

    def mul_(self, other: Any) -> Tensor:
        return autograd.apply_inplace(self, "mul_", lambda t: t * other, other)

    def div_(self, other: Any) -> Tensor:
        return autograd.apply_inplace(self, "div_", lambda t: t / other, other)

    def __iadd__(self, other: Any) -> Tensor:
        return self.add_(other)

    def __isub__(self, other: Any) -> Tensor:
        return self.sub_(other)

    def __imul__(self, other: Any) -> Tensor:
        return self.mul_(other)

    def __itruediv__(self, other: Any) -> Tensor:
        return self.div_(other)

    def neg_(self) -> Tensor:
        return autograd.apply_inplace(self, "neg_", lambda t: -t)

    def clamp_(self, min: float | None = None, max: float | None = None) -> Tensor:  # noqa: A002
        return autograd.apply_inplace(self, "clamp_", lambda t: t.clip(min, max))

    clip_ = clamp_

    def _overwrite(self, op: str, make: Any, source: Any = None) -> Tensor:
        """Replace every element by ``make(t)`` (a Tensor broadcastable to ``t``); recorded, the
        gradient flows to that tensor and zero to the old content (PyTorch's fill/copy rules)."""

        def compute(t: Tensor) -> Tensor:
            v = make(t)
            if not (t._requires_grad or v._requires_grad):
                return v if v.shape == t.shape else _sh.expand(v, t.shape)
            old_kept = Tensor._make(_device.zeros(t.shape, bool_, like=t.data))
            return _ew.where(old_kept, t, v)

        return autograd.apply_inplace(self, op, compute, source)

    def zero_(self) -> Tensor:
        return self.fill_(0)

    def fill_(self, value: Any) -> Tensor:
        """Set every element to ``value`` (a number or a one-element tensor)."""
        if isinstance(value, Tensor) and value.data.size != 1:
            raise ValueError(f"fill_: value must be a number or a one-element tensor; got shape "
                             f"{value.shape}")

        def make(t: Tensor) -> Tensor:
            if isinstance(value, Tensor):
                return value.reshape(()).to(t.device, t.dtype)
            return Tensor._make(_device.full((), value, t.dtype, like=t.data))

        return self._overwrite("fill_", make, value)

    def copy_(self, src: Any) -> Tensor:
        """Copy ``src`` (broadcastable to this shape; any dtype and device) into this tensor."""
        arr = src.data if isinstance(src, Tensor) else src
        if not _device.is_array(arr):
            arr = np.asarray(arr)
        try:
            fits = np.broadcast_shapes(arr.shape, self.shape) == self.shape
        except ValueError:
            fits = False
        if not fits:
            raise ValueError(f"copy_: source shape {arr.shape} does not fit {self.shape}")

        def make(t: Tensor) -> Tensor:
            v = src if isinstance(src, Tensor) else Tensor._make(move(arr, t.device))
            return v.to(t.device, t.dtype)

        return self._overwrite("copy_", make, src)

    def uniform_(self, a: float = 0.0, b: float = 1.0) -> Tensor:
        """Fill with draws from U[a, b), from the generator seeded by ``manual_seed``."""
        self._check_random("uniform_")
        return self._overwrite("uniform_", lambda t: _random_like(
            t, generator().uniform(a, b, size=t.shape)))

    def normal_(self, mean: float = 0.0, std: float = 1.0) -> Tensor:
        """Fill with draws from N(mean, std^2), from the generator seeded by ``manual_seed``."""
        self._check_random("normal_")
        if std < 0:
            raise ValueError(f"normal_: std must be >= 0; got {std}")
        return self._overwrite("normal_", lambda t: _random_like(
            t, generator().normal(mean, std, size=t.shape)))

    def _check_random(self, op: str) -> None:
        if not _is_float(self.dtype):
            raise TypeError(f"{op}: needs a floating tensor; got {self.dtype}")

    def __setitem__(self, index: Any, value: Any) -> None:
        """``t[index] = value`` writes in place. It is not recorded in the graph: in grad mode it
        refuses tensors that require grad and values that require grad (build the result out of
        place with ``minigrad.where``/``cat``, or assign under ``no_grad()``). Index arrays are
        placed as in PyTorch (see ``__getitem__``)."""
        if autograd.check_inplace(self, "__setitem__", value):
            raise RuntimeError(
                f"__setitem__: assignment into a tensor of shape {self.shape} is not recorded "
                "in the autograd graph, so it is refused when the tensor or the value requires "
                "grad; build the result out of place (minigrad.where, minigrad.cat) or assign "
                "under minigrad.no_grad()"
            )
        if not _device.is_writeable(self.data):
            raise RuntimeError(f"__setitem__: the tensor of shape {self.shape} is a read-only "
                               "broadcast view (from expand); .clone() it first")
        _sh.setitem(self, index, value.data if isinstance(value, Tensor) else value)
        autograd.versions.bump(self.data)

    # -- arithmetic -----------------------------------------------------------------------------
    def __add__(self, other: Any) -> Tensor:
        return _ew.binary(_ew.AddFn, self, other)

    def __radd__(self, other: Any) -> Tensor:
        return _ew.binary(_ew.AddFn, other, self)

    def __sub__(self, other: Any) -> Tensor:
        return _ew.binary(_ew.SubFn, self, other)

    def __rsub__(self, other: Any) -> Tensor:
        return _ew.binary(_ew.SubFn, other, self)

    def __mul__(self, other: Any) -> Tensor:
        return _ew.binary(_ew.MulFn, self, other)

    def __rmul__(self, other: Any) -> Tensor:
        return _ew.binary(_ew.MulFn, other, self)

    def __truediv__(self, other: Any) -> Tensor:
        return _ew.binary(_ew.DivFn, self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        return _ew.binary(_ew.DivFn, other, self)

    def __pow__(self, other: Any) -> Tensor:
        return _ew.power(self, other)

    def __rpow__(self, other: Any) -> Tensor:
        return _ew.power(other, self)

    def __matmul__(self, other: Any) -> Tensor:
        if not isinstance(other, Tensor | np.ndarray | list):
            return NotImplemented
        return _la.matmul(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        if not isinstance(other, np.ndarray | list):
            return NotImplemented
        return _la.matmul(other, self)

    def __neg__(self) -> Tensor:
        return _ew.neg(self)

    def __pos__(self) -> Tensor:
        return self

    def __abs__(self) -> Tensor:
        return _ew.abs(self)

    # comparisons: bool tensors, no graph
    def __lt__(self, other: Any) -> Tensor:
        return _ew.compare(np.less, "lt", self, other)

    def __le__(self, other: Any) -> Tensor:
        return _ew.compare(np.less_equal, "le", self, other)

    def __gt__(self, other: Any) -> Tensor:
        return _ew.compare(np.greater, "gt", self, other)

    def __ge__(self, other: Any) -> Tensor:
        return _ew.compare(np.greater_equal, "ge", self, other)

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return _ew.compare(np.equal, "eq", self, other)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return _ew.compare(np.not_equal, "ne", self, other)

    # -- issue 14 (h14a): integer, bitwise and elementwise maths; creation from a tensor ---------
    # Integer division and modulo, bitwise and logical ops: minigrad.ops.bitwise (PyTorch's
    # semantics: // floors, % has the divisor's sign, & | ^ ~ << >> need integer or bool tensors).
    def __floordiv__(self, other: Any) -> Tensor:
        return _op(_bw.floor_divide, self, other)

    def __rfloordiv__(self, other: Any) -> Tensor:
        return _op(_bw.floor_divide, other, self)

    def __mod__(self, other: Any) -> Tensor:
        return _op(_bw.remainder, self, other)

    def __rmod__(self, other: Any) -> Tensor:
        return _op(_bw.remainder, other, self)

    def __and__(self, other: Any) -> Tensor:
        return _op(_bw.bitwise_and, self, other)

    def __rand__(self, other: Any) -> Tensor:
        return _op(_bw.bitwise_and, other, self)

    def __or__(self, other: Any) -> Tensor:
        return _op(_bw.bitwise_or, self, other)

    def __ror__(self, other: Any) -> Tensor:
        return _op(_bw.bitwise_or, other, self)

    def __xor__(self, other: Any) -> Tensor:
        return _op(_bw.bitwise_xor, self, other)

    def __rxor__(self, other: Any) -> Tensor:
        return _op(_bw.bitwise_xor, other, self)

    def __lshift__(self, other: Any) -> Tensor:
        return _op(_bw.bitwise_left_shift, self, other)

    def __rlshift__(self, other: Any) -> Tensor:
        return _op(_bw.bitwise_left_shift, other, self)

    def __rshift__(self, other: Any) -> Tensor:
        return _op(_bw.bitwise_right_shift, self, other)

    def __rrshift__(self, other: Any) -> Tensor:
        return _op(_bw.bitwise_right_shift, other, self)

    def __invert__(self) -> Tensor:
        return _bw.bitwise_not(self)

    def floor_divide(self, other: Any) -> Tensor:
        return _bw.floor_divide(self, other)

    def remainder(self, other: Any) -> Tensor:
        return _bw.remainder(self, other)

    def fmod(self, other: Any) -> Tensor:
        return _bw.fmod(self, other)

    def div(self, other: Any, *, rounding_mode: str | None = None) -> Tensor:
        """``self / other``; ``rounding_mode="trunc"`` or ``"floor"`` rounds the quotient."""
        return _ew.div(self, other, rounding_mode=rounding_mode)

    def bitwise_and(self, other: Any) -> Tensor:
        return _bw.bitwise_and(self, other)

    def bitwise_or(self, other: Any) -> Tensor:
        return _bw.bitwise_or(self, other)

    def bitwise_xor(self, other: Any) -> Tensor:
        return _bw.bitwise_xor(self, other)

    def bitwise_not(self) -> Tensor:
        return _bw.bitwise_not(self)

    def bitwise_left_shift(self, other: Any) -> Tensor:
        return _bw.bitwise_left_shift(self, other)

    def bitwise_right_shift(self, other: Any) -> Tensor:
        return _bw.bitwise_right_shift(self, other)

    def logical_and(self, other: Any) -> Tensor:
        return _bw.logical_and(self, other)

    def logical_or(self, other: Any) -> Tensor:
        return _bw.logical_or(self, other)

    def logical_xor(self, other: Any) -> Tensor:
        return _bw.logical_xor(self, other)

    def logical_not(self) -> Tensor:
        return _bw.logical_not(self)

    # elementwise maths (minigrad.ops.math)
    def tan(self) -> Tensor:
        return _math.tan(self)

    def asin(self) -> Tensor:
        return _math.asin(self)

    def acos(self) -> Tensor:
        return _math.acos(self)

    def atan(self) -> Tensor:
        return _math.atan(self)

    def atan2(self, other: Any) -> Tensor:
        return _math.atan2(self, other)

    def sinh(self) -> Tensor:
        return _math.sinh(self)

    def cosh(self) -> Tensor:
        return _math.cosh(self)

    def asinh(self) -> Tensor:
        return _math.asinh(self)

    def acosh(self) -> Tensor:
        return _math.acosh(self)

    def atanh(self) -> Tensor:
        return _math.atanh(self)

    arcsin, arccos, arctan, arctan2 = asin, acos, atan, atan2
    arcsinh, arccosh, arctanh = asinh, acosh, atanh

    def log2(self) -> Tensor:
        return _math.log2(self)

    def log10(self) -> Tensor:
        return _math.log10(self)

    def log1p(self) -> Tensor:
        return _math.log1p(self)

    def expm1(self) -> Tensor:
        return _math.expm1(self)

    def exp2(self) -> Tensor:
        return _math.exp2(self)

    def rsqrt(self) -> Tensor:
        return _math.rsqrt(self)

    def reciprocal(self) -> Tensor:
        return _math.reciprocal(self)

    def square(self) -> Tensor:
        return _math.square(self)

    def erf(self) -> Tensor:
        return _math.erf(self)

    def erfc(self) -> Tensor:
        return _math.erfc(self)

    def erfinv(self) -> Tensor:
        return _math.erfinv(self)

    def floor(self) -> Tensor:
        return _math.floor(self)

    def ceil(self) -> Tensor:
        return _math.ceil(self)

    def trunc(self) -> Tensor:
        return _math.trunc(self)

    fix = trunc

    def round(self, *, decimals: int = 0) -> Tensor:
        return _math.round(self, decimals=decimals)

    def __round__(self, ndigits: int | None = None) -> Tensor:
        """``round(t)`` / ``round(t, n)``: a tensor, as in PyTorch (halves to even)."""
        return _math.round(self, decimals=0 if ndigits is None else ndigits)

    def frac(self) -> Tensor:
        return _math.frac(self)

    def copysign(self, other: Any) -> Tensor:
        return _math.copysign(self, other)

    def logaddexp(self, other: Any) -> Tensor:
        return _math.logaddexp(self, other)

    def lerp(self, end: Any, weight: Any) -> Tensor:
        return _math.lerp(self, end, weight)

    def hypot(self, other: Any) -> Tensor:
        return _math.hypot(self, other)

    def isinf(self) -> Tensor:
        return _math.isinf(self)

    def isnan(self) -> Tensor:
        return _math.isnan(self)

    def isfinite(self) -> Tensor:
        return _math.isfinite(self)

    def signbit(self) -> Tensor:
        return _math.signbit(self)

    def isclose(self, other: Any, rtol: float = 1e-05, atol: float = 1e-08,
                equal_nan: bool = False) -> Tensor:
        return _math.isclose(self, other, rtol, atol, equal_nan)

    def allclose(self, other: Any, rtol: float = 1e-05, atol: float = 1e-08,
                 equal_nan: bool = False) -> bool:
        return _math.allclose(self, other, rtol, atol, equal_nan)

    # random draws shaped by this tensor (minigrad.ops.creation)
    def bernoulli(self, p: float | None = None, *, generator: Any = None) -> Tensor:
        return _cr.bernoulli(self, p, generator=generator)

    def multinomial(self, num_samples: int, replacement: bool = False, *,
                    generator: Any = None) -> Tensor:
        return _cr.multinomial(self, num_samples, replacement, generator=generator)

    # -- end of issue 14 (h14a) -----------------------------------------------------------------

    # -- elementwise functions ------------------------------------------------------------------
    def exp(self) -> Tensor:
        return _ew.exp(self)

    def log(self) -> Tensor:
        return _ew.log(self)

    def sqrt(self) -> Tensor:
        return _ew.sqrt(self)

    def abs(self) -> Tensor:
        return _ew.abs(self)

    def sin(self) -> Tensor:
        return _ew.sin(self)

    def cos(self) -> Tensor:
        return _ew.cos(self)

    def tanh(self) -> Tensor:
        return _ew.tanh(self)

    def sign(self) -> Tensor:
        return _ew.sign(self)

    def clip(self, min: float | None = None, max: float | None = None) -> Tensor:  # noqa: A002
        return _ew.clip(self, min, max)

    clamp = clip

    def maximum(self, other: Any) -> Tensor:
        return _ew.maximum(self, other)

    def minimum(self, other: Any) -> Tensor:
        return _ew.minimum(self, other)

    def pow(self, exponent: Any) -> Tensor:
        return _ew.pow(self, exponent)

    def matmul(self, other: Any) -> Tensor:
        return _la.matmul(self, other)

    # -- reductions -----------------------------------------------------------------------------
    def sum(self, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None,
            keepdim: bool | None = None) -> Tensor:
        return _red.sum(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def mean(self, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None,
             keepdim: bool | None = None) -> Tensor:
        return _red.mean(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def max(self, dim: Any = None, keepdim: bool = False, *, axis: Axis = None,
            keepdims: bool | None = None) -> Any:
        """``x.max()``: the largest value; ``x.max(dim)`` / ``x.max(dim=d)``: PyTorch's named
        tuple ``(values, indices)``; ``x.max(axis=a)``: NumPy's values only;
        ``x.max(other)``: the elementwise maximum. See :func:`minigrad.max`."""
        return _red.max(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def min(self, dim: Any = None, keepdim: bool = False, *, axis: Axis = None,
            keepdims: bool | None = None) -> Any:
        """As :meth:`max`, for the smallest value (``(values, indices)`` with ``dim``)."""
        return _red.min(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def amax(self, dim: Axis = None, keepdim: bool = False) -> Tensor:
        return _red.amax(self, dim, keepdim)

    def amin(self, dim: Axis = None, keepdim: bool = False) -> Tensor:
        return _red.amin(self, dim, keepdim)

    def var(self, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None,
            keepdim: bool | None = None, correction: int | None = None,
            ddof: int | None = None, unbiased: bool | None = None) -> Tensor:
        return _red.var(self, axis, keepdims, dim=dim, keepdim=keepdim, correction=correction,
                        ddof=ddof, unbiased=unbiased)

    def std(self, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None,
            keepdim: bool | None = None, correction: int | None = None,
            ddof: int | None = None, unbiased: bool | None = None) -> Tensor:
        return _red.std(self, axis, keepdims, dim=dim, keepdim=keepdim, correction=correction,
                        ddof=ddof, unbiased=unbiased)

    def logsumexp(self, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None,
                  keepdim: bool | None = None) -> Tensor:
        return _red.logsumexp(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def argmax(self, axis: int | None = None, keepdims: bool = False, *, dim: int | None = None,
               keepdim: bool | None = None) -> Tensor:
        return _red.argmax(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def argmin(self, axis: int | None = None, keepdims: bool = False, *, dim: int | None = None,
               keepdim: bool | None = None) -> Tensor:
        return _red.argmin(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def sum_to(self, shape: Shape) -> Tensor:
        """Sum broadcast axes away so the result has ``shape`` (the adjoint of ``expand``)."""
        return _red.sum_to(self, shape)

    # -- shape ----------------------------------------------------------------------------------
    def reshape(self, *shape: Any) -> Tensor:
        return _sh.reshape(self, *shape)

    view = reshape

    def transpose(self, *axes: Any) -> Tensor:
        return _sh.transpose(self, *axes)

    def permute(self, *dims: Any) -> Tensor:
        return _sh.permute(self, *dims)

    def swapaxes(self, axis1: int, axis2: int) -> Tensor:
        return _sh.swapaxes(self, axis1, axis2)

    @property
    def T(self) -> Tensor:  # noqa: N802
        return _sh.permute(self, tuple(range(self.ndim))[::-1])

    def expand(self, *shape: Any) -> Tensor:
        return _sh.expand(self, *shape)

    def broadcast_to(self, shape: Shape) -> Tensor:
        return _sh.expand(self, shape)

    def squeeze(self, axis: Axis = None, *, dim: Axis = None) -> Tensor:
        return _sh.squeeze(self, axis, dim=dim)

    def unsqueeze(self, dim: int) -> Tensor:
        return _sh.unsqueeze(self, dim)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        return _sh.flatten(self, start_dim, end_dim)

    def __getitem__(self, index: Any) -> Tensor:
        return _sh.getitem(self, index)

    def __iter__(self) -> Any:
        for i in range(len(self)):
            yield self[i]

    def split(self, split_size_or_sections: Any, dim: int = 0) -> list[Tensor]:
        return _sh.split(self, split_size_or_sections, dim)

    # -- PyTorch's names for copies, activations and types (issue 12 section 3) ------------------
    def clone(self) -> Tensor:
        """A copy with its own storage that stays in the graph (gradients flow back to
        ``self``); ``detach()`` is the opposite (shared storage, no graph)."""
        return _sh.clone(self)

    def is_contiguous(self) -> bool:
        """Whether the storage is C-contiguous (GPU storage always is)."""
        return type(self.data) is CudaArray or bool(self.data.flags.c_contiguous)

    def contiguous(self) -> Tensor:
        """``self`` when its storage is C-contiguous, else a contiguous :meth:`clone`."""
        return self if self.is_contiguous() else _sh.clone(self)

    def relu(self) -> Tensor:
        return _act.relu(self)

    def sigmoid(self) -> Tensor:
        return _act.sigmoid(self)

    def softmax(self, dim: int, dtype: Any = None) -> Tensor:
        """Softmax along ``dim`` (required, as ``F.softmax``); ``dtype`` casts first."""
        return _sm.softmax(self if dtype is None else self.astype(dtype), dim)

    def log_softmax(self, dim: int, dtype: Any = None) -> Tensor:
        """Log-softmax along ``dim`` (required); ``dtype`` casts first."""
        return _sm.log_softmax(self if dtype is None else self.astype(dtype), dim)

    def type(self, dtype: Any = None) -> Any:
        """No argument: the type as a string, PyTorch's names under ``minigrad.``:
        ``'minigrad.FloatTensor'`` (float32), ``'minigrad.DoubleTensor'``, ``'minigrad.LongTensor'``
        (int64), ``'minigrad.IntTensor'``, ``'minigrad.BoolTensor'``, ..., with ``.cuda.`` for a GPU
        tensor (``'minigrad.cuda.FloatTensor'``). Code comparing against ``'torch.FloatTensor'``
        must compare ``x.dtype`` instead.

        With an argument: this tensor cast to ``dtype`` (a dtype, its name such as ``'float64'``,
        or a type string: ``'minigrad.DoubleTensor'`` or ``'torch.DoubleTensor'``; a ``.cuda.``
        type string also moves it to the GPU, a CPU one to the host, as PyTorch).
        Differentiable between float dtypes; ``self`` when nothing changes.
        """
        if dtype is None:
            name = _TYPE_NAMES.get(self.dtype, f"Tensor[{self.dtype}]")
            return ("minigrad.cuda." if self.is_cuda else "minigrad.") + name
        if isinstance(dtype, str) and dtype.endswith("Tensor"):
            prefix, _, name = dtype.rpartition(".")
            by_name = {v: k for k, v in _TYPE_NAMES.items()}
            if prefix not in ("minigrad", "torch", "minigrad.cuda", "torch.cuda") \
                    or name not in by_name:
                raise ValueError(f"type: unknown tensor type {dtype!r}; expected e.g. "
                                 f"'minigrad.FloatTensor' or one of {sorted(by_name)}")
            return self.to("cuda" if prefix.endswith("cuda") else "cpu", by_name[name])
        return self.to(dtype=dtype)

    # -- issue 14: reductions, scans, sorting, selection, shape, products (h14b) ------------------
    # Thin methods over minigrad.ops.{reduce, scan, sort, index, shape, einsum, linalg}; each
    # function's docstring there has the details.
    def prod(self, dim: Axis = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
        return _red.prod(self, dim, keepdim, dtype=dtype)

    def any(self, dim: Axis = None, keepdim: bool = False) -> Tensor:
        """A bool tensor (0-d without ``dim``; ``if t.any():`` reads it as a Python bool)."""
        return _red.any(self, dim, keepdim)

    def all(self, dim: Axis = None, keepdim: bool = False) -> Tensor:
        return _red.all(self, dim, keepdim)

    def count_nonzero(self, dim: Axis = None) -> Tensor:
        return _red.count_nonzero(self, dim)

    def norm(self, p: Any = "fro", dim: Axis = None, keepdim: bool = False,
             dtype: Any = None) -> Tensor:
        return _red.norm(self, p, dim, keepdim, dtype)

    def cumsum(self, dim: int, *, dtype: Any = None) -> Tensor:
        return _scan.cumsum(self, dim, dtype=dtype)

    def cumprod(self, dim: int, *, dtype: Any = None) -> Tensor:
        return _scan.cumprod(self, dim, dtype=dtype)

    def cummax(self, dim: int) -> Any:
        return _scan.cummax(self, dim)

    def cummin(self, dim: int) -> Any:
        return _scan.cummin(self, dim)

    def logcumsumexp(self, dim: int) -> Tensor:
        return _scan.logcumsumexp(self, dim)

    def sort(self, dim: int = -1, descending: bool = False, stable: bool = False) -> Any:
        return _sort.sort(self, dim, descending, stable)

    def argsort(self, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
        return _sort.argsort(self, dim, descending, stable)

    def topk(self, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> Any:  # noqa: A002
        return _sort.topk(self, k, dim, largest, sorted)

    def kthvalue(self, k: int, dim: int = -1, keepdim: bool = False) -> Any:
        return _sort.kthvalue(self, k, dim, keepdim)

    def median(self, dim: int | None = None, keepdim: bool = False) -> Any:
        return _sort.median(self, dim, keepdim)

    def mode(self, dim: int = -1, keepdim: bool = False) -> Any:
        return _sort.mode(self, dim, keepdim)

    def gather(self, dim: int, index: Any) -> Tensor:
        return _idx.gather(self, dim, index)

    def scatter(self, dim: int, index: Any, src: Any = None, *, value: Any = None,
                reduce: str | None = None) -> Tensor:
        return _idx.scatter(self, dim, index, src, value=value, reduce=reduce)

    def scatter_add(self, dim: int, index: Any, src: Any) -> Tensor:
        return _idx.scatter_add(self, dim, index, src)

    def scatter_reduce(self, dim: int, index: Any, src: Any, reduce: str, *,
                       include_self: bool = True) -> Tensor:
        return _idx.scatter_reduce(self, dim, index, src, reduce, include_self=include_self)

    def index_select(self, dim: int, index: Any) -> Tensor:
        return _idx.index_select(self, dim, index)

    def index_add(self, dim: int, index: Any, source: Any, *, alpha: float = 1) -> Tensor:
        return _idx.index_add(self, dim, index, source, alpha=alpha)

    def take_along_dim(self, indices: Any, dim: int | None = None) -> Tensor:
        return _idx.take_along_dim(self, indices, dim)

    def masked_fill(self, mask: Any, value: Any) -> Tensor:
        return _idx.masked_fill(self, mask, value)

    def masked_select(self, mask: Any) -> Tensor:
        return _idx.masked_select(self, mask)

    def nonzero(self, *, as_tuple: bool = False) -> Any:
        return _idx.nonzero(self, as_tuple=as_tuple)

    def argwhere(self) -> Tensor:
        return _idx.argwhere(self)

    def bincount(self, weights: Any = None, minlength: int = 0) -> Tensor:
        return _idx.bincount(self, weights, minlength)

    def unique(self, sorted: bool = True, return_inverse: bool = False,  # noqa: A002
               return_counts: bool = False, dim: int | None = None) -> Any:
        return _idx.unique(self, sorted, return_inverse, return_counts, dim)

    # in-place forms: the out-of-place op, written back by apply_inplace (which writes nothing
    # when the op raises or changes the shape)
    def masked_fill_(self, mask: Any, value: Any) -> Tensor:
        return autograd.apply_inplace(
            self, "masked_fill_", lambda t: _idx.masked_fill(t, mask, value), value)

    def scatter_(self, dim: int, index: Any, src: Any = None, *, value: Any = None,
                 reduce: str | None = None) -> Tensor:
        return autograd.apply_inplace(self, "scatter_", lambda t: _idx.scatter(
            t, dim, index, src, value=value, reduce=reduce), src)

    def scatter_add_(self, dim: int, index: Any, src: Any) -> Tensor:
        return autograd.apply_inplace(self, "scatter_add_", lambda t: _idx.scatter_add(
            t, dim, index, src), src)

    def scatter_reduce_(self, dim: int, index: Any, src: Any, reduce: str, *,
                        include_self: bool = True) -> Tensor:
        return autograd.apply_inplace(self, "scatter_reduce_", lambda t: _idx.scatter_reduce(
            t, dim, index, src, reduce, include_self=include_self), src)

    def index_add_(self, dim: int, index: Any, source: Any, *, alpha: float = 1) -> Tensor:
        return autograd.apply_inplace(self, "index_add_", lambda t: _idx.index_add(
            t, dim, index, source, alpha=alpha), source)

    def repeat(self, *sizes: Any) -> Tensor:
        return _sh.repeat(self, *sizes)

    def repeat_interleave(self, repeats: Any, dim: int | None = None, *,
                          output_size: int | None = None) -> Tensor:
        return _sh.repeat_interleave(self, repeats, dim, output_size=output_size)

    def tile(self, dims: Any) -> Tensor:
        return _sh.tile(self, dims)

    def roll(self, shifts: Any, dims: Any = None) -> Tensor:
        return _sh.roll(self, shifts, dims)

    def flip(self, dims: Any) -> Tensor:
        return _sh.flip(self, dims)

    def fliplr(self) -> Tensor:
        return _sh.fliplr(self)

    def flipud(self) -> Tensor:
        return _sh.flipud(self)

    def rot90(self, k: int = 1, dims: Sequence[int] = (0, 1)) -> Tensor:
        return _sh.rot90(self, k, dims)

    def tril(self, diagonal: int = 0) -> Tensor:
        return _sh.tril(self, diagonal)

    def triu(self, diagonal: int = 0) -> Tensor:
        return _sh.triu(self, diagonal)

    def diag(self, diagonal: int = 0) -> Tensor:
        return _sh.diag(self, diagonal)

    def diagonal(self, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
        return _sh.diagonal(self, offset, dim1, dim2)

    def diag_embed(self, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
        return _sh.diag_embed(self, offset, dim1, dim2)

    def trace(self) -> Tensor:
        return _sh.trace(self)

    def unfold(self, dimension: int, size: int, step: int) -> Tensor:
        """Sliding windows along ``dimension`` (see :func:`minigrad.ops.shape.unfold`)."""
        return _sh.unfold(self, dimension, size, step)

    def movedim(self, source: Any, destination: Any) -> Tensor:
        return _sh.movedim(self, source, destination)

    moveaxis = movedim

    def unflatten(self, dim: int, sizes: Sequence[int]) -> Tensor:
        return _sh.unflatten(self, dim, sizes)

    def narrow(self, dim: int, start: int, length: int) -> Tensor:
        return _sh.narrow(self, dim, start, length)

    def chunk(self, chunks: int, dim: int = 0) -> list[Tensor]:
        return _sh.chunk(self, chunks, dim)

    def unbind(self, dim: int = 0) -> tuple[Tensor, ...]:
        return _sh.unbind(self, dim)

    def view_as(self, other: Tensor) -> Tensor:
        return _sh.reshape(self, _shape_of("view_as", other))

    def reshape_as(self, other: Tensor) -> Tensor:
        return _sh.reshape(self, _shape_of("reshape_as", other))

    def expand_as(self, other: Tensor) -> Tensor:
        return _sh.expand(self, _shape_of("expand_as", other))

    def dot(self, other: Any) -> Tensor:
        return _la.dot(self, other)

    def mv(self, vec: Any) -> Tensor:
        return _la.mv(self, vec)

    def mm(self, mat2: Any) -> Tensor:
        return _la.mm(self, mat2)

    def bmm(self, mat2: Any) -> Tensor:
        return _la.bmm(self, mat2)

    def outer(self, vec2: Any) -> Tensor:
        return _la.outer(self, vec2)

    def kron(self, other: Any) -> Tensor:
        return _la.kron(self, other)

    def addmm(self, mat1: Any, mat2: Any, *, beta: float = 1, alpha: float = 1) -> Tensor:
        return _la.addmm(self, mat1, mat2, beta=beta, alpha=alpha)

    def baddbmm(self, batch1: Any, batch2: Any, *, beta: float = 1, alpha: float = 1) -> Tensor:
        return _la.baddbmm(self, batch1, batch2, beta=beta, alpha=alpha)

    # -- unknown attributes: a hint for the PyTorch names we know ------------------------------
    def __getattr__(self, name: str) -> Any:
        # Only reached when normal lookup failed (a miss), so it costs nothing on hits.
        raise _hints.attribute_error("Tensor", name, self)


_TYPE_NAMES = {
    float32: "FloatTensor", float64: "DoubleTensor", np.dtype(np.float16): "HalfTensor",
    int64: "LongTensor", int32: "IntTensor", np.dtype(np.int16): "ShortTensor",
    np.dtype(np.int8): "CharTensor", np.dtype(np.uint8): "ByteTensor", bool_: "BoolTensor",
}


def _op(fn: Callable[[Any, Any], Tensor], a: Any, b: Any) -> Any:
    """A binary operator: ``fn(a, b)``, or NotImplemented when the other operand is no number,
    array or tensor (so Python tries its reflected operator)."""
    other = b if isinstance(a, Tensor) else a
    if not isinstance(other, Tensor | bool | int | float | np.number | np.ndarray | list | tuple):
        return NotImplemented
    return fn(a, b)


def _shape_of(op: str, other: Any) -> Shape:
    if not isinstance(other, Tensor):
        raise TypeError(f"{op}: other must be a Tensor, got {type(other).__name__}")
    return other.shape


def _random_like(t: Tensor, host: np.ndarray) -> Tensor:
    """Host draws as a constant tensor of ``t``'s dtype on ``t``'s device."""
    return Tensor._make(_device.asarray(host.astype(t.dtype), t.dtype, like=t.data))


# ---------------------------------------------------------------------------------------------
# Constructors
# ---------------------------------------------------------------------------------------------


def tensor(data: Any, dtype: Any = None, requires_grad: bool = False,
           device: Any = None) -> Tensor:
    """A new tensor holding a copy of ``data`` (lists, scalars, arrays, tensors).

    Python floats become float32 and ints int64 (PyTorch's defaults); NumPy arrays keep their dtype.
    ``device='cuda'`` puts it on the GPU.
    """
    return Tensor(data, dtype=dtype, requires_grad=requires_grad, device=device)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing ``array``'s storage."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected an np.ndarray, got {type(array).__name__}")
    _check_numeric(array.dtype, "from_numpy", array)
    return Tensor._make(array)


def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """``data`` as a tensor, without a copy where possible (PyTorch's ``as_tensor``).

    A Tensor with the requested dtype and device is returned as is (else converted with
    :meth:`Tensor.to`, differentiably); a NumPy array with the requested dtype, for the CPU,
    shares its storage (as :func:`from_numpy`; arrays keep their dtype, float64 included);
    anything else (lists, scalars) is copied as by :func:`tensor`.
    """
    if isinstance(data, Tensor):
        return data.to(device=device, dtype=dtype)
    if isinstance(data, np.ndarray) and (device is None or _device_spec(device) == "cpu") \
            and (dtype is None or np.dtype(dtype) == data.dtype):
        _check_numeric(data.dtype, "as_tensor", data)
        return Tensor._make(data)
    return Tensor(data, dtype=dtype, device=device)


def _shape_arg(shape: tuple[Any, ...], who: str) -> Shape:
    if len(shape) == 1 and isinstance(shape[0], Sequence | np.ndarray):
        shape = tuple(shape[0])
    try:
        out = tuple(operator.index(s) for s in shape)
    except TypeError:
        raise TypeError(f"{who}: shape must be ints, got {shape!r}") from None
    if any(s < 0 for s in out):
        raise ValueError(f"{who}: negative dimension in shape {out}")
    return out


def _leaf(arr: np.ndarray, requires_grad: bool, dev: Any) -> Tensor:
    """A new leaf from a host array made by a constructor, moved to ``dev``."""
    _check_requires_grad(arr.dtype, requires_grad)
    if dev is not None and device(dev) == "cuda":
        from minigrad.cuda import array as ca
        from minigrad.cuda import require

        require("device='cuda'")
        arr = ca.from_host(arr)
    t = Tensor._make(arr)
    t._requires_grad = requires_grad
    return t


def _filled(who: str, shape: tuple[Any, ...], value: float, dtype: Any,
            requires_grad: bool, dev: Any) -> Tensor:
    dt = np.dtype(dtype) if dtype is not None else DEFAULT_DTYPE
    shp = _shape_arg(shape, who)
    if dev is not None and device(dev) == "cuda":
        from minigrad.cuda import array as ca
        from minigrad.cuda import require

        require(f"{who}(device='cuda')")
        _check_requires_grad(dt, requires_grad)
        t = Tensor._make(ca.full(shp, value, dt))  # filled on the device: no host copy
        t._requires_grad = requires_grad
        return t
    return _leaf(np.full(shp, value, dtype=dt), requires_grad, None)


def zeros(*shape: Any, dtype: Any = None, requires_grad: bool = False,
          device: Any = None) -> Tensor:
    return _filled("zeros", shape, 0, dtype, requires_grad, device)


def ones(*shape: Any, dtype: Any = None, requires_grad: bool = False,
         device: Any = None) -> Tensor:
    return _filled("ones", shape, 1, dtype, requires_grad, device)


def full(shape: Any, fill_value: float, dtype: Any = None, requires_grad: bool = False,
         device: Any = None) -> Tensor:
    if dtype is None and isinstance(fill_value, bool | int | np.integer):
        dtype = bool_ if isinstance(fill_value, bool) else int64
    return _filled("full", (shape,), fill_value, dtype, requires_grad, device)


def zeros_like(t: Tensor, dtype: Any = None, requires_grad: bool = False,
               device: Any = None) -> Tensor:
    return zeros(t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad,
                 device=device or t.device)


def ones_like(t: Tensor, dtype: Any = None, requires_grad: bool = False,
              device: Any = None) -> Tensor:
    return ones(t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad,
                device=device or t.device)


def arange(start: float, end: float | None = None, step: float = 1, dtype: Any = None,
           requires_grad: bool = False, device: Any = None) -> Tensor:
    """Like ``torch.arange``: int64 for integer arguments, float32 otherwise."""
    if end is None:
        start, end = 0, start
    if dtype is None:
        ints = all(isinstance(v, int | np.integer) for v in (start, end, step))
        dtype = int64 if ints else DEFAULT_DTYPE
    return _leaf(np.arange(start, end, step).astype(np.dtype(dtype)), requires_grad, device)


def eye(n: int, m: int | None = None, dtype: Any = None, requires_grad: bool = False,
        device: Any = None) -> Tensor:
    dt = np.dtype(dtype) if dtype is not None else DEFAULT_DTYPE
    return _leaf(np.eye(n, m, dtype=dt), requires_grad, device)


def rand(*shape: Any, dtype: Any = None, requires_grad: bool = False,
         device: Any = None) -> Tensor:
    """Uniform on [0, 1), from the generator seeded by :func:`minigrad.manual_seed`.

    Drawn on the host for every device, so a seed gives the same numbers on CPU and GPU.
    """
    dt = np.dtype(dtype) if dtype is not None else DEFAULT_DTYPE
    return _leaf(generator().random(_shape_arg(shape, "rand")).astype(dt), requires_grad, device)


def randn(*shape: Any, dtype: Any = None, requires_grad: bool = False,
          device: Any = None) -> Tensor:
    """Standard normal, from the generator seeded by :func:`minigrad.manual_seed` (drawn on the
    host for every device, as :func:`rand`)."""
    dt = np.dtype(dtype) if dtype is not None else DEFAULT_DTYPE
    return _leaf(generator().standard_normal(_shape_arg(shape, "randn")).astype(dt),
                 requires_grad, device)


# Tensor's methods call the op modules through these names. The op modules import Tensor from
# here, so this module does not import them back: minigrad/ops/__init__.py binds them when it is
# imported (``import minigrad`` always does), keeping every import pointing one way (ops -> tensor).
_act: Any = None  # minigrad.ops.activation
_bw: Any = None  # minigrad.ops.bitwise
_cr: Any = None  # minigrad.ops.creation
_ew: Any = None  # minigrad.ops.elementwise
_idx: Any = None  # minigrad.ops.index
_la: Any = None  # minigrad.ops.linalg
_math: Any = None  # minigrad.ops.math
_red: Any = None  # minigrad.ops.reduce
_scan: Any = None  # minigrad.ops.scan
_sh: Any = None  # minigrad.ops.shape
_sm: Any = None  # minigrad.ops.softmax
_sort: Any = None  # minigrad.ops.sort
_dev: Any = None  # minigrad.ops.to_device
# ``backward(explain=True)``: minigrad/explain.py sets this to its ``explain`` when imported.
_explain: Any = None
