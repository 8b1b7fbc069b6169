"""Tensor gradient hooks (PyTorch's ``register_hook`` and ``register_post_accumulate_grad_hook``)
and the ``RemovableHandle`` every ``register_*hook`` method returns.

A leaf keeps its hooks in its ``_hooks`` slot. A non-leaf's hooks live on the node that made it,
keyed by output index, so they outlive the Python tensor (PyTorch keeps them on ``grad_fn`` too).
The backward loop runs them when the tensor's gradient is complete (see ``engine.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from minigrad.tensor import Tensor

__all__ = ["RemovableHandle", "register_hook", "register_post_accumulate_grad_hook", "run_hooks"]


class RemovableHandle:
    """What ``register_hook``-style methods return: ``remove()`` unregisters the hook; as a
    context manager (``with t.register_hook(f): ...``) it removes the hook on exit."""

    _next_id = 0

    def __init__(self, hooks: dict[int, Callable]) -> None:
        self._hooks = hooks
        self.id = RemovableHandle._next_id
        RemovableHandle._next_id += 1

    def remove(self) -> None:
        self._hooks.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


class LeafHooks:
    """A leaf's hooks: ``pre`` run on its gradient before accumulation, ``post`` after."""

    __slots__ = ("pre", "post")

    def __init__(self) -> None:
        self.pre: dict[int, Callable] = {}
        self.post: dict[int, Callable] = {}


def _add(hooks: dict[int, Callable], fn: Callable) -> RemovableHandle:
    if not callable(fn):
        raise TypeError(f"register_hook: expected a callable, got {type(fn).__name__}")
    handle = RemovableHandle(hooks)
    hooks[handle.id] = fn
    return handle


def register_hook(t: Tensor, fn: Callable[[Tensor], Tensor | None]) -> RemovableHandle:
    """``Tensor.register_hook``: ``fn(grad)`` runs each time the gradient w.r.t. ``t`` is
    computed (for a leaf, before it is accumulated into ``.grad``); a returned Tensor replaces
    the gradient. Hooks run in registration order, each on the previous one's result."""
    if not t.requires_grad:
        raise RuntimeError(
            f"register_hook: cannot register a hook on a tensor of shape {t.shape} that does not "
            "require grad"
        )
    node = t.grad_fn
    if node is None:
        if t._hooks is None:
            t._hooks = LeafHooks()
        return _add(t._hooks.pre, fn)
    if node._hooks is None:
        node._hooks = {}
    return _add(node._hooks.setdefault(t._out_index, {}), fn)


def register_post_accumulate_grad_hook(t: Tensor, fn: Callable[[Tensor], None]) -> RemovableHandle:
    """``Tensor.register_post_accumulate_grad_hook``: ``fn(t)`` runs after ``backward()`` has
    accumulated ``t``'s gradient into ``t.grad`` (leaves only; :func:`grad` does not run it)."""
    if t.grad_fn is not None:
        raise RuntimeError(
            "register_post_accumulate_grad_hook: post-accumulate-grad hooks can only be "
            f"registered on leaf tensors; this tensor of shape {t.shape} was made by "
            f"{t.grad_fn.display_name()}"
        )
    if not t.requires_grad:
        raise RuntimeError(
            "register_post_accumulate_grad_hook: cannot register a hook on a tensor of shape "
            f"{t.shape} that does not require grad"
        )
    if t._hooks is None:
        t._hooks = LeafHooks()
    return _add(t._hooks.post, fn)


def run_hooks(hooks: dict[int, Callable], g: Tensor) -> Tensor:
    """Pass ``g`` through ``hooks`` in registration order; a hook returning a Tensor replaces it
    (keeping shape, dtype and device, or this raises)."""
    from minigrad.tensor import Tensor

    for fn in list(hooks.values()):
        out = fn(g)
        if out is None:
            continue
        name = getattr(fn, "__qualname__", type(fn).__name__)
        if not isinstance(out, Tensor):
            raise TypeError(f"hook {name!r} returned {type(out).__name__}; a gradient hook "
                            "returns a Tensor or None")
        if out.shape != g.shape or out.dtype != g.dtype or out.device != g.device:
            raise RuntimeError(
                f"hook {name!r} changed the gradient from {g.shape} {g.dtype} on {g.device} to "
                f"{out.shape} {out.dtype} on {out.device}; a hook must keep shape, dtype and "
                "device"
            )
        g = out
    return g
