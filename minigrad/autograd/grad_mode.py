"""Grad mode: whether ops record a graph. ``no_grad``, ``enable_grad``, ``set_grad_enabled`` and
``inference_mode``, each usable as a context manager and as a decorator (PyTorch's names and
semantics). The mode is per thread, as in PyTorch.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

__all__ = [
    "is_grad_enabled",
    "no_grad",
    "enable_grad",
    "set_grad_enabled",
    "inference_mode",
    "is_inference_mode_enabled",
]

_state = threading.local()


def is_grad_enabled() -> bool:
    """Whether ops record a graph (``False`` inside ``no_grad`` and ``inference_mode``)."""
    return getattr(_state, "enabled", True)


def _set_enabled(mode: bool) -> None:
    _state.enabled = mode


def is_inference_mode_enabled() -> bool:
    """Whether the current thread is inside ``inference_mode()``."""
    return getattr(_state, "inference", False)


class _GradMode:
    """Sets grad mode on entry and restores it on exit. Re-entrant (each ``with`` remembers its
    own previous mode); a decorated function gets a fresh context per call, so it may recurse."""

    def __init__(self, mode: bool) -> None:
        self.mode = bool(mode)
        self._prev: list[Any] = []

    def _get(self) -> Any:
        return is_grad_enabled()

    def _set(self, state: Any) -> None:
        _set_enabled(state)

    def _enter(self) -> None:
        _set_enabled(self.mode)

    def _fresh(self) -> _GradMode:
        return _GradMode(self.mode)

    def __enter__(self) -> _GradMode:
        self._prev.append(self._get())
        self._enter()
        return self

    def __exit__(self, *exc: object) -> None:
        self._set(self._prev.pop())

    def __call__(self, func: Callable) -> Callable:
        fresh = self._fresh

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with fresh():
                return func(*args, **kwargs)

        return wrapper


class _NoArgGradMode(_GradMode):
    """A grad mode with no argument, so that ``@no_grad`` works without parentheses too."""

    MODE = False

    def __new__(cls, func: Callable | None = None) -> Any:
        self = super().__new__(cls)
        if func is None:
            return self
        self.__init__()
        return self(func)  # used bare, as ``@no_grad``

    def __init__(self, func: Callable | None = None) -> None:
        super().__init__(self.MODE)


class no_grad(_NoArgGradMode):  # noqa: N801 - PyTorch's name
    """``with minigrad.no_grad():``, ``@minigrad.no_grad()`` or ``@minigrad.no_grad``: record
    no graph."""

    MODE = False


class enable_grad(_NoArgGradMode):  # noqa: N801
    """``with minigrad.enable_grad():``, ``@minigrad.enable_grad()`` or ``@minigrad.enable_grad``:
    record a graph."""

    MODE = True


class set_grad_enabled(_GradMode):  # noqa: N801
    """Turn graph recording on or off, as PyTorch's ``set_grad_enabled``.

    Called as a plain function (``minigrad.set_grad_enabled(False)``) it switches recording off
    until switched back; ``with set_grad_enabled(False):`` restores the previous mode on exit, and
    ``@set_grad_enabled(False)`` applies the mode to each call of the decorated function.
    """

    def __init__(self, mode: bool) -> None:
        super().__init__(mode)
        self._before = [is_grad_enabled()]  # the mode before this call, until used
        _set_enabled(self.mode)

    def __enter__(self) -> set_grad_enabled:
        # the first ``with`` right after construction restores the mode from before the call
        self._prev.append(self._before.pop() if self._before else is_grad_enabled())
        _set_enabled(self.mode)
        return self

    def __call__(self, func: Callable) -> Callable:
        if self._before:  # used as a decorator: undo the switch the constructor made
            _set_enabled(self._before.pop())
        return super().__call__(func)


class inference_mode(_GradMode):  # noqa: N801
    """``with minigrad.inference_mode():`` or ``@minigrad.inference_mode()``: like ``no_grad``
    (no graph is recorded), for evaluation and serving code written for PyTorch.

    minigrad has no separate inference tensors: tensors made inside may later be used with
    autograd (PyTorch raises there), and in-place changes still bump version counters.
    ``inference_mode(False)`` leaves grad mode as it is and only clears the inference flag.
    """

    def __new__(cls, mode: Any = True) -> Any:
        self = super().__new__(cls)
        if not callable(mode):
            return self
        self.__init__()
        return self(mode)  # used bare, as ``@inference_mode``

    def __init__(self, mode: Any = True) -> None:
        super().__init__(mode if not callable(mode) else True)

    def _get(self) -> Any:
        return is_grad_enabled(), is_inference_mode_enabled()

    def _set(self, state: Any) -> None:
        _state.enabled, _state.inference = state

    def _enter(self) -> None:
        if self.mode:
            _state.enabled = False
        _state.inference = self.mode

    def _fresh(self) -> _GradMode:
        return inference_mode(self.mode)
