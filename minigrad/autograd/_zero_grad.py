"""``zero_grad`` of both ``nn.Module`` and ``optim.Optimizer`` (which may not import each other):
one rule for resetting the gradients of a set of parameters."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from minigrad.tensor import Tensor


def zero_grads(params: Iterable[Tensor], set_to_none: bool) -> None:
    """Reset each parameter's gradient: to ``None``, or to zeros in place (a new zero tensor
    where the gradient is part of a graph, ``create_graph=True``, so the graph is not written)."""
    for p in params:
        if p.grad is None:
            continue
        if set_to_none:
            p.grad = None
        elif p.grad.grad_fn is not None:
            p.grad = Tensor._make(np.zeros_like(p.grad.data))
        else:
            p.grad.data.fill(0)
