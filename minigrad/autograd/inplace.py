"""In-place ops: the autograd rules, as PyTorch's.

``Tensor.add_``, ``+=``, ``clamp_``, ``fill_``, ``copy_``, ``uniform_``... describe their new
value as out-of-place Tensor ops and hand it to :func:`apply_inplace`, which writes it into the
tensor's storage, bumps the storage's version (``versions.py``) and, when the op is recorded,
rebases the tensor's history onto the new node. The rules:

- under ``no_grad()`` an in-place op is a plain update (optimizers, ``nn.init``);
- in grad mode, a leaf that requires grad refuses it at once (PyTorch's rule);
- otherwise, when the tensor or an operand requires grad, the op is recorded (``y += x`` on a
  non-leaf is differentiable), unless the tensor shares storage with another tensor of the graph
  (a view), which PyTorch handles by rewriting the views' history and minigrad refuses;
- a node whose saved tensor is later modified in place raises in backward (``function.py``).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from minigrad import _device
from minigrad.autograd import versions
from minigrad.autograd.grad_mode import is_grad_enabled, no_grad

if TYPE_CHECKING:
    from minigrad.tensor import Tensor

__all__ = ["check_inplace", "apply_inplace"]


def check_inplace(t: Tensor, op: str, *others: Any) -> bool:
    """Decide how an in-place op on ``t`` runs, or raise: returns whether it must be recorded in
    the graph (grad mode on, and ``t`` or one of ``others`` requires grad).

    As in PyTorch, a leaf that requires grad may only be modified under ``no_grad()``. A
    recorded in-place op rebases ``t``'s history onto the new node (see :func:`apply_inplace`),
    except when ``t`` shares its storage with another tensor of the graph (a view made by
    reshape, transpose, indexing...): PyTorch then rewrites the views' history too, which minigrad
    does not, so it raises instead of leaving a view with a stale graph."""
    from minigrad.tensor import Tensor

    if not is_grad_enabled():
        return False
    if t._requires_grad and t._node is None:
        raise RuntimeError(
            f"{op}: a leaf tensor that requires grad (shape {t.shape}) is being used in an "
            "in-place operation; update it under minigrad.no_grad() (as optimizers and nn.init "
            "do), or use the out-of-place form"
        )
    record = t._requires_grad or any(isinstance(o, Tensor) and o._requires_grad for o in others)
    if record and t._requires_grad:
        if versions.is_graph_view(t.data):
            raise RuntimeError(
                f"{op}: in-place change of a tensor of shape {t.shape} that shares its storage "
                "with another tensor of the autograd graph (a view made by reshape, transpose, "
                "indexing, ...); minigrad does not rewrite the history of views as PyTorch does. "
                "Use the out-of-place form (y = y + x), or modify a .clone()."
            )
    return record


def apply_inplace(t: Tensor, op: str, compute: Callable[[Tensor], Tensor], *others: Any) -> Tensor:
    """Run an in-place op: ``compute(source)`` (Tensor ops, out of place) gives the new value,
    which is written into ``t``'s storage; ``t``'s version is bumped.

    When the op is recorded (:func:`check_inplace`), ``compute`` runs on a copy of ``t`` that
    carries ``t``'s history (so a saved input is not overwritten), and ``t`` then becomes the
    output of the new node (PyTorch's rebase: ``y += x`` on a non-leaf is differentiable).
    ``others`` are the op's other operands (to see whether they require grad). The result must
    keep ``t``'s shape and be castable to its dtype (PyTorch's same-kind rule); nothing is written
    when it is not."""
    from minigrad.tensor import Tensor

    record = check_inplace(t, op, *others)
    if not _device.is_writeable(t.data):
        raise RuntimeError(
            f"{op}: the tensor of shape {t.shape} is a read-only broadcast view (from expand or "
            "broadcast_to): several of its elements share one memory location; .clone() it first"
        )
    if record:
        src = Tensor._make(t.data.copy())
        src._node, src._out_index, src._requires_grad = t._node, t._out_index, t._requires_grad
        new = compute(src)
    else:
        with no_grad():
            new = compute(t)
    if new.shape != t.shape:
        raise RuntimeError(
            f"{op}: output with shape {t.shape} doesn't match the broadcast shape {new.shape}; "
            "an in-place op cannot change the tensor's shape"
        )
    if new.dtype != t.dtype:
        if not np.can_cast(new.dtype, t.dtype, casting="same_kind"):
            raise TypeError(
                f"{op}: result type {new.dtype} can't be cast to the tensor's dtype {t.dtype} in "
                "place; use the out-of-place form or convert the tensor first (e.g. .float())"
            )
        new = new.astype(t.dtype)
    if new.device != t.device:
        raise RuntimeError(f"{op}: the result is on {new.device} but the tensor on {t.device}")
    t.data[...] = new.data
    versions.bump(t.data)
    if record and new._requires_grad:  # (an integer result, e.g. copy_ into ints, has no graph)
        _rebase(t, new)
    return t


def _dead_ref() -> None:
    return None


def _rebase(t: Tensor, new: Tensor) -> None:
    """Make ``t`` the output of ``new``'s node (its old node forgets it, so a retained ``.grad``
    follows the new version, as in PyTorch)."""
    if t._node is not None:
        old = t._node
        old._outputs = tuple(_dead_ref if r() is t else r for r in old._outputs)
    node, i = new._node, new._out_index
    node._outputs = tuple(weakref.ref(t) if k == i else r for k, r in enumerate(node._outputs))
    t._node, t._out_index, t._requires_grad = node, i, True
