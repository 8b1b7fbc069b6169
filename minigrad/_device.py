"""Devices: ``minigrad.device("cuda")`` (the class, exported by the package), and the array
helpers that keep new arrays on the device of the arrays they are made for.

A tensor's storage is an ``np.ndarray`` (device ``cpu``) or a ``minigrad.cuda.CudaArray``
(device ``cuda``). Op code that makes a *new* array from a shape (``np.zeros(shape)``) would
always make it on the host; it calls :func:`zeros` / :func:`empty` / :func:`asarray` here with
``like=`` an input array instead.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minigrad.cuda.array import CudaArray

__all__ = ["device", "device_of", "move", "zeros", "empty", "full", "asarray", "is_cuda", "wrap",
           "to_host", "is_array", "storage", "is_writeable", "count_nonfinite", "zeros_on",
           "sum_to"]


class device(str):  # noqa: N801 - PyTorch's name
    """``'cpu'`` or ``'cuda'``: a ``str`` (so ``t.device == 'cuda'`` works) with PyTorch's
    ``.type`` and ``.index``. ``'cuda:0'`` is accepted and means ``'cuda'`` (one GPU)."""

    def __new__(cls, spec: Any = "cpu") -> device:
        if isinstance(spec, device):
            return spec
        s = str(spec).strip().lower()
        kind, _, index = s.partition(":")
        if kind not in ("cpu", "cuda") or (index and not index.isdigit()):
            raise ValueError(f"device: expected 'cpu', 'cuda' or 'cuda:0'; got {spec!r}")
        if kind == "cpu" and index not in ("", "0"):
            raise ValueError(f"device: there is one CPU device; got {spec!r}")
        if kind == "cuda" and index not in ("", "0"):
            raise ValueError(f"device: minigrad uses one GPU, 'cuda:0'; got {spec!r}")
        return super().__new__(cls, kind)

    @property
    def type(self) -> str:
        return str(self)

    @property
    def index(self) -> int | None:
        return 0 if self == "cuda" else None

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            try:
                other = device(other)
            except ValueError:
                return False
            return str.__eq__(self, other)
        return NotImplemented

    __hash__ = str.__hash__

    def __repr__(self) -> str:
        return f"device(type='{self}')"


CPU = device("cpu")
CUDA = device("cuda")


def is_cuda(a: Any) -> bool:
    return type(a) is CudaArray


def device_of(a: Any) -> device:
    """The device of an array (``CudaArray`` -> cuda, anything else -> cpu)."""
    return CUDA if type(a) is CudaArray else CPU


def move(a: Any, dev: Any, who: str = ".to('cuda')") -> Any:
    """``a`` on device ``dev`` (the same object when it is already there); ``who`` names the
    call in the error raised when CUDA is unavailable."""
    dev = device(dev)
    if dev == "cuda":
        if type(a) is CudaArray:
            return a
        from minigrad.cuda import array as ca
        from minigrad.cuda import require

        require(who)
        return ca.from_host(a)
    return a.get() if type(a) is CudaArray else a


def zeros(shape: Any, dtype: Any, like: Any) -> Any:
    """``np.zeros(shape, dtype)`` on ``like``'s device."""
    if type(like) is CudaArray:
        from minigrad.cuda import array as ca

        return ca.zeros(shape, dtype)
    return np.zeros(shape, dtype)


def empty(shape: Any, dtype: Any, like: Any) -> Any:
    if type(like) is CudaArray:
        from minigrad.cuda import array as ca

        return ca.empty(shape, dtype)
    return np.empty(shape, dtype)


def full(shape: Any, value: Any, dtype: Any, like: Any) -> Any:
    if type(like) is CudaArray:
        from minigrad.cuda import array as ca

        return ca.full(shape, value, dtype)
    return np.full(shape, value, dtype)


def to_host(a: Any) -> Any:
    """A host array for a GPU array (a copy); anything else unchanged."""
    return a.get() if type(a) is CudaArray else a


def wrap(r: Any) -> Any:
    """What a NumPy call returned, as tensor storage: a GPU result stays a ``CudaArray``; host
    scalars become 0-d arrays."""
    return r if type(r) is CudaArray else np.asarray(r)


def asarray(x: Any, dtype: Any = None, like: Any = None) -> Any:
    """``np.asarray(x, dtype)`` on ``like``'s device (``x`` may be on either device)."""
    if type(like) is CudaArray:
        from minigrad.cuda import array as ca

        return ca.asarray(x, dtype)
    if type(x) is CudaArray:
        x = x.get()
    return np.asarray(x, dtype=dtype)


# -- storage identity and checks the autograd engine asks about (it names no array type) ------


def is_array(a: Any) -> bool:
    """Whether ``a`` is tensor storage: an ``np.ndarray`` or a GPU array."""
    return isinstance(a, np.ndarray) or type(a) is CudaArray


def storage(a: Any) -> Any:
    """The object that owns ``a``'s memory: for a NumPy array, the array at the end of its chain
    of ``.base`` views; for a GPU array, its device buffer (which its reshapes share). Two arrays
    share memory exactly when their storages are the same object (in-place version counters are
    kept per storage, as PyTorch keeps them)."""
    if type(a) is CudaArray:
        return a._buf
    base = a.base
    while isinstance(base, np.ndarray):
        a, base = base, base.base
    return a


def is_writeable(a: Any) -> bool:
    """False for read-only NumPy views (``broadcast_to``'s result); GPU arrays are writeable."""
    return type(a) is CudaArray or bool(a.flags.writeable)


def count_nonfinite(a: Any) -> tuple[int, int]:
    """``(number of NaNs, number of infinities)`` in ``a`` (a GPU array is copied to the host:
    only anomaly mode asks)."""
    h = a.get() if type(a) is CudaArray else np.asarray(a)
    if not np.issubdtype(h.dtype, np.inexact) or np.isfinite(h).all():
        return 0, 0
    return int(np.isnan(h).sum()), int(np.isinf(h).sum())


def zeros_on(shape: Any, dtype: Any, dev: Any) -> Any:
    """``np.zeros(shape, dtype)`` on device ``dev`` (``'cpu'`` or ``'cuda'``)."""
    if device(dev) == "cuda":
        from minigrad.cuda import array as ca

        return ca.zeros(shape, dtype)
    return np.zeros(shape, dtype)


def sum_to(a: Any, shape: tuple[int, ...]) -> Any:
    """``a`` summed over the axes along which ``shape`` broadcasts to ``a.shape`` (unchecked):
    ``SumToFn``'s arithmetic, which the backward engine also calls directly when it records no
    graph. Returns ``a`` itself when nothing is summed. Works on both devices."""
    lead = a.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, s in enumerate(shape) if s == 1 and a.shape[lead + i] != 1
    )
    return np.sum(a, axis=axes, keepdims=True).reshape(shape) if axes else a
