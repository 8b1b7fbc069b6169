"""The recorded graph, read-only: the public API that ``explain``, ``viz`` and ``check_graph``
(and your own tools) use to walk it.

A node is a :class:`~minigrad.autograd.Function` instance. Besides ``inputs``, ``kwargs``,
``needs_input_grad`` and ``site`` (the user's file and line that created it), each node has

- ``next_functions``: one ``(fn, index)`` per positional input, as PyTorch's: ``(node, k)`` when
  the input is output ``k`` of ``node``, ``(leaf, 0)`` when it is a leaf Tensor that requires
  grad, ``(None, 0)`` when no gradient flows to it;
- ``input_metadata`` / ``output_metadata``: a :class:`TensorMeta` (shape, dtype, device) per
  input (None for non-tensor arguments) and per output; they outlive ``backward()``, which frees
  the inputs.

:func:`nodes` lists the nodes behind some tensors in creation order, and
``backward(..., on_node=fn)`` calls ``fn(node, grad_outputs, grad_inputs)`` as each node's
backward runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from minigrad._device import device
    from minigrad.autograd.function import Function
    from minigrad.tensor import Tensor

__all__ = ["TensorMeta", "nodes", "backward_order"]


class TensorMeta(NamedTuple):
    """What the graph remembers of a tensor: its shape, dtype and device."""

    shape: tuple[int, ...]
    dtype: Any
    device: device


def backward_order(roots: Iterable[Function]) -> list[Function]:
    """The nodes reachable from ``roots``, each after every node that consumes its outputs (the
    order backward visits them). Iterative, so 10,000-op chains need no recursion."""
    post: list[Function] = []
    seen: set[int] = set()
    stack: list[tuple[Function, bool]] = [(r, False) for r in roots]
    while stack:
        node, done = stack.pop()
        if done:
            post.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        for e in node._edges:
            if isinstance(e, tuple) and id(e[0]) not in seen:
                stack.append((e[0], False))
    post.reverse()
    return post


def nodes(tensors: Tensor | Sequence[Tensor]) -> list[Function]:
    """The nodes that produced ``tensors``, in creation order (each after the nodes that feed
    it); empty for leaves."""
    ts = [tensors] if not isinstance(tensors, Sequence) else list(tensors)
    return backward_order([t.grad_fn for t in ts if t.grad_fn is not None])[::-1]
