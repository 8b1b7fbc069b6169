"""The recorded graph, read-only: the public API that ``explain``, ``viz`` and ``check_graph``
(and your own tools) use to walk it.

A node is a :class:`~minigrad.autograd.Function` instance. Besides ``inputs``, ``kwargs``,
``needs_input_grad`` and ``site`` (the user's file and line that created it), each node has

- ``next_functions``: one ``(fn, index)`` per positional input, as PyTorch's: ``(node, k)`` when
  the input is output ``k`` of ``node``, ``(leaf, 0)`` when it is a leaf Tensor that requires
  grad, ``(None, 0)`` when no gradient flows to it;
- ``input_metadata`` / ``output_metadata``: a :class:`TensorMeta` (shape, dtype, device) per
  input (None for non-tensor arguments) and per output; they outlive ``backward()``, which frees
  the inputs;
- ``sequence_nr``: a number that grows with each node recorded (PyTorch's sequence number);
  backward runs nodes in decreasing order of it (:func:`backward_order`).

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
    """The nodes reachable from ``roots``, newest first: the order backward visits them.

    A node is created after the nodes that feed it, so newest first puts each node after every
    node that consumes its outputs. Of all such orders it is the one PyTorch's engine follows
    (it runs the ready node with the highest sequence number), and the difference shows in when
    a leaf's gradient is complete: a Linear layer's ``weight.T`` is a side branch of the layer's
    matmul, run right after it, so the weight's post-accumulate-grad hook fires before the
    earlier layers' backward (a depth-first order reached it last, after all of them, which
    left DistributedDataParallel nothing to all-reduce while backward was still running).
    Iterative, so 10,000-op chains need no recursion."""
    found: list[Function] = []
    seen: set[int] = set()
    stack = list(roots)
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        found.append(node)
        stack.extend(e[0] for e in node._edges if isinstance(e, tuple) and id(e[0]) not in seen)
    found.sort(key=lambda n: n._sequence_nr, reverse=True)
    return found


def nodes(tensors: Tensor | Sequence[Tensor]) -> list[Function]:
    """The nodes that produced ``tensors``, in creation order (each after the nodes that feed
    it); empty for leaves."""
    ts = [tensors] if not isinstance(tensors, Sequence) else list(tensors)
    return backward_order([t.grad_fn for t in ts if t.grad_fn is not None])[::-1]
