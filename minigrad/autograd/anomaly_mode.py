"""Anomaly mode: find where NaN or Inf first appear, in forward and in backward.

``Function.apply`` and the backward loop test one flag (``enabled[0]``) and call the checks here
only when it is set, so the mode costs nothing when off. PyTorch's anomaly mode reports only
backward nodes; this one also reports the first forward op, which is where a NaN from the data
(one bad pixel) first shows.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from minigrad import _device

if TYPE_CHECKING:
    from minigrad.autograd.function import Function
    from minigrad.tensor import Tensor

__all__ = ["detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled"]

enabled = [False]  # process-wide, as PyTorch's
_state = threading.local()  # .in_backward: the ops a backward runs are not forward ops


def is_anomaly_enabled() -> bool:
    """Whether anomaly detection is on (see :class:`detect_anomaly`)."""
    return enabled[0]


class detect_anomaly:  # noqa: N801 - PyTorch's name
    """Context manager (and decorator) that finds where NaN or Inf first appear.

    Inside it, the first op whose forward produces a NaN or an infinity raises ``RuntimeError``
    naming the op, its input and output shapes, which inputs already held NaN/Inf, and the line of
    user code that called it; and during ``backward()`` the first node whose backward returns a
    NaN or an infinity raises naming the op, the shapes, and the line that created the node.
    """

    def __init__(self, check_nan: bool = True) -> None:
        self.check_nan = bool(check_nan)
        self._prev: list[bool] = []

    def __enter__(self) -> detect_anomaly:
        self._prev.append(enabled[0])
        enabled[0] = self.check_nan
        return self

    def __exit__(self, *exc: object) -> None:
        enabled[0] = self._prev.pop()

    def __call__(self, func: Callable) -> Callable:
        check_nan = self.check_nan

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with detect_anomaly(check_nan):
                return func(*args, **kwargs)

        return wrapper


class set_detect_anomaly(detect_anomaly):  # noqa: N801
    """``set_detect_anomaly(True)`` turns anomaly detection on until ``set_detect_anomaly(False)``;
    as a context manager it restores the previous setting on exit (PyTorch's semantics)."""

    def __init__(self, mode: bool, check_nan: bool = True) -> None:
        super().__init__(bool(mode) and check_nan)
        self._prev.append(enabled[0])
        enabled[0] = self.check_nan

    def __enter__(self) -> set_detect_anomaly:
        return self


@contextlib.contextmanager
def backward_running() -> Iterator[None]:
    """Marks the thread as running a backward pass: the ops inside a node's backward are checked
    as that node's result, not as forward ops."""
    prev = getattr(_state, "in_backward", False)
    _state.in_backward = True
    try:
        yield
    finally:
        _state.in_backward = prev


def _describe(arr: Any) -> str | None:
    """``"2 NaN and 1 Inf of 6 values"``, or None when ``arr`` is finite."""
    nan, inf = _device.count_nonfinite(arr)
    if not nan and not inf:
        return None
    size = int(np.prod(getattr(arr, "shape", ())))
    return " and ".join(f"{n} {what}" for n, what in ((nan, "NaN"), (inf, "Inf")) if n) + (
        f" of {size} values")


def op_label(cls: type, kwargs: dict | None) -> str:
    """The op's class name, with its kernel for ops that serve several (``Activation(relu)``)."""
    variant = (kwargs or {}).get("name")
    return cls.display_name() + (f"({variant})" if isinstance(variant, str) else "")


def check_forward(cls: type, args: tuple, kwargs: dict, arrays: list[Any],
                  site: Callable[[], tuple[str, int] | None]) -> None:
    """Raise if an output of ``cls``'s forward holds NaN/Inf (``site()``: the user's line)."""
    from minigrad.tensor import Tensor

    if getattr(_state, "in_backward", False):
        return
    for k, a in enumerate(arrays):
        bad = _describe(a)
        if bad is None:
            continue
        ins = [f"input {i} {t.shape} {t.dtype}: {_describe(t.data) or 'finite'}"
               for i, t in enumerate(args) if isinstance(t, Tensor)]
        where = site()
        called = f"; called at {where[0]}:{where[1]}" if where else ""
        raise RuntimeError(
            f"detect_anomaly: the forward of {op_label(cls, kwargs)} produced {bad} in output {k} "
            f"(shape {tuple(a.shape)}, {a.dtype}){called}. Its inputs: " + "; ".join(ins)
        )


def check_backward(node: Function, gouts: tuple[Tensor, ...], gins: tuple[Any, ...]) -> None:
    """Raise if ``node``'s backward returned a NaN/Inf gradient."""
    for i, g in enumerate(gins):
        bad = None if g is None else _describe(getattr(g, "data", g))
        if bad is None:
            continue
        received = [_describe(go.data) or "finite" for go in gouts]
        site = f", created at {node.site[0]}:{node.site[1]}" if node.site else ""
        shapes = [m.shape for m in node.input_metadata if m is not None]
        raise RuntimeError(
            f"detect_anomaly: the backward of {op_label(type(node), node.kwargs)} (input shapes "
            f"{shapes}{site}) returned {bad} in the gradient for its input {i}; the gradients "
            f"it received (dY) were: {', '.join(received)}"
        )
