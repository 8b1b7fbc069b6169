"""The backward pass: ``backward()``, ``grad()`` and the loop both run.

micrograd's shape, on tensors: sort the nodes reachable from the roots newest first, which puts
each after every node that consumes its outputs (``graph.backward_order``; PyTorch's order, by
creation sequence number), then walk them once, calling each node's ``backward`` with the
gradients of its outputs and sending what it returns along its edges.
What micrograd does not need and this loop does:

- gradients are summed per node output and per leaf; a node runs once all of its outputs'
  gradients are in, and a leaf's gradient is delivered (hooks, then ``.grad``, then
  post-accumulate hooks: :func:`accumulate_leaf`) as soon as the last node feeding it has run;
- each returned gradient is summed back to its input's shape (broadcasting) and cast to its dtype
  centrally (:func:`fit_gradient`), so no op's rule repeats that logic;
- ``grad()`` runs only the nodes on a path to its inputs and returns their gradients instead of
  touching any ``.grad``;
- saved buffers are freed after each node unless ``retain_graph``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from minigrad import _device
from minigrad.autograd import anomaly_mode
from minigrad.autograd.grad_mode import is_grad_enabled, set_grad_enabled
from minigrad.autograd.graph import TensorMeta, backward_order
from minigrad.autograd.hooks import run_hooks

if TYPE_CHECKING:
    from minigrad.autograd.function import Function
    from minigrad.tensor import Tensor

__all__ = ["backward", "grad", "run_backward", "accumulate_leaf", "fit_gradient"]

OnNode = Callable[["Function", tuple["Tensor", ...], tuple[Any, ...]], None]


def run_backward(roots: Sequence[Tensor], root_grads: Sequence[Tensor], *, retain_graph: bool,
                 create_graph: bool, inputs: Sequence[Tensor] | None = None,
                 on_node: OnNode | None = None) -> list[Tensor | None] | None:
    """Back-propagate ``root_grads`` from ``roots``.

    Accumulates into the ``.grad`` of every leaf reached (and of retained non-leaves); with
    ``inputs`` (``grad()``), returns the gradients w.r.t. those tensors instead. ``on_node(node,
    grad_outputs, grad_inputs)`` is called after each node's backward, with the gradients as it
    returned them (before they are summed back to the inputs' shapes).
    """
    plan = _Plan(roots, inputs)
    grads = _Gradients(plan, create_graph, inputs)
    with set_grad_enabled(create_graph), anomaly_mode.backward_running():
        for root, g in zip(roots, root_grads):
            grads.add(root, g, exclusive=False)
        for root in roots:
            grads.deliver_if_complete(root)
        for node in plan.order:
            gouts = grads.of_outputs(node)  # None: no gradient reached this node
            if id(node) not in plan.runs:
                continue  # grad(): only its captured outputs were wanted
            gins = _call_backward(node, gouts) if gouts is not None else None
            if gins is not None and on_node is not None:
                on_node(node, gouts, gins)
            # the incoming gradients returned as they are; then the last reference to the rest
            # goes, so a view of one (a reshape's gradient) can still become a leaf's .grad
            passed = () if gouts is None else tuple(id(go) for go in gouts)
            gouts = None
            for i, edge in enumerate(node._edges):  # None, a leaf, or (node, output index)
                leaf = edge if edge is not None and not isinstance(edge, tuple) else None
                if edge is None or (leaf is not None and not plan.feeds(leaf)):
                    continue
                g = None if gins is None else gins[i]
                if g is not None:
                    fitted = fit_gradient(g, node, i)
                    grads.add_edge(edge, fitted, _made_for_one_input(g, fitted, gins, passed))
                if leaf is not None:  # one fewer node left to feed it
                    plan.uses[id(leaf)] -= 1
                    grads.deliver_if_complete(leaf)
            if gins is not None and not retain_graph:
                node._release()
    return grads.results(inputs)


def _call_backward(node: Function, gouts: tuple[Tensor, ...]) -> tuple[Any, ...]:
    """``node``'s backward on ``gouts``, checked: not freed, one gradient per input, finite in
    anomaly mode."""
    if node._freed:
        raise RuntimeError(
            f"{node.display_name()}: trying to backward through the graph a second time; its "
            "saved buffers were freed by the first backward(). Pass retain_graph=True to the "
            "first call if you need to backward twice."
        )
    gins = type(node).backward(node, *gouts)
    if not isinstance(gins, tuple):
        gins = (gins,)
    if len(gins) != len(node._edges):
        raise RuntimeError(
            f"{node.display_name()}.backward returned {len(gins)} gradients; its forward took "
            f"{len(node._edges)} positional inputs"
        )
    if anomaly_mode.enabled[0]:
        anomaly_mode.check_backward(node, gouts, gins)
    return gins


def _made_for_one_input(g: Any, fitted: Tensor, gins: tuple[Any, ...],
                        passed: tuple[int, ...]) -> bool:
    """Whether ``fitted`` (what the node returned, ``g``, fitted to its input) is this node's
    own result for one input: new data made by the fitting (a sum over broadcast axes, a cast),
    or ``g`` itself when it is not an incoming gradient passed through (Add; ``passed``: the
    ids of the node's incoming gradients) nor the same object returned for two inputs."""
    from minigrad.tensor import Tensor

    if fitted.data is not (g.data if isinstance(g, Tensor) else g):
        return True
    return id(g) not in passed and sum(1 for x in gins if x is g) == 1


class _Plan:
    """What one backward pass visits: ``order`` (nodes newest first, so each comes after every
    node that consumes its outputs), ``runs`` (ids of the nodes whose backward is called: all,
    or for ``grad()`` those on a path to a wanted input) and ``uses`` (per leaf id, how many
    running nodes feed it)."""

    def __init__(self, roots: Sequence[Tensor], inputs: Sequence[Tensor] | None) -> None:
        from minigrad.tensor import Tensor

        order = backward_order([r._node for r in roots if r._node is not None])
        self.want_leaf: set[int] | None = None
        if inputs is None:
            self.order, self.runs = order, {id(n) for n in order}
        else:
            self.want_leaf = {id(t) for t in inputs if t._node is None}
            want_out = {(id(t._node), t._out_index) for t in inputs if t._node is not None}
            self.runs = set()
            for node in reversed(order):  # each node after the nodes that feed it
                if any(self._leads_to_input(e, want_out) for e in node._edges):
                    self.runs.add(id(node))
            captured = {key[0] for key in want_out}
            self.order = [n for n in order if id(n) in self.runs or id(n) in captured]
        self.uses: dict[int, int] = {}
        for node in self.order:
            if id(node) in self.runs:
                for e in node._edges:
                    if isinstance(e, Tensor) and self.feeds(e):
                        self.uses[id(e)] = self.uses.get(id(e), 0) + 1

    def _leads_to_input(self, edge: Any, want_out: set[tuple[int, int]]) -> bool:
        if edge is None:
            return False
        if isinstance(edge, tuple):
            return id(edge[0]) in self.runs or (id(edge[0]), edge[1]) in want_out
        return id(edge) in self.want_leaf

    def feeds(self, leaf: Tensor) -> bool:
        """Whether this pass delivers a gradient to ``leaf``."""
        return self.want_leaf is None or id(leaf) in self.want_leaf


class _Gradients:
    """The gradients of one pass: sums per node output and per leaf, and what ``grad()``
    captures (keyed by leaf id or by (node id, output index))."""

    def __init__(self, plan: _Plan, create_graph: bool, inputs: Sequence[Tensor] | None) -> None:
        self.plan = plan
        self.create_graph = create_graph
        self.outputs: dict[int, list[Any]] = {}  # id(node) -> per-output sums
        self.leaves: dict[int, list[Any]] = {}  # id(leaf) -> [sum, exclusive]
        self.captured = None if inputs is None else {_key(t): None for t in inputs}

    def add(self, t: Tensor, g: Tensor, exclusive: bool) -> None:
        if t._node is not None:
            self.add_edge((t._node, t._out_index), g, exclusive)
        elif self.plan.feeds(t):
            self.add_edge(t, g, exclusive)

    def add_edge(self, edge: Any, g: Tensor, exclusive: bool) -> None:
        if isinstance(edge, tuple):
            node, i = edge
            slots = self.outputs.setdefault(id(node), [None] * len(node.output_metadata))
            slots[i] = g if slots[i] is None else slots[i] + g
            return
        entry = self.leaves.get(id(edge))
        if entry is None:
            self.leaves[id(edge)] = [g, exclusive]
        else:  # a fresh sum belongs to this pass alone
            entry[0], entry[1] = entry[0] + g, True

    def deliver_if_complete(self, t: Tensor) -> None:
        """Deliver a leaf's gradient once no node left to run feeds it."""
        if t._node is None and not self.plan.uses.get(id(t)) and id(t) in self.leaves:
            g, exclusive = self.leaves.pop(id(t))
            accumulate_leaf(t, g, exclusive, self.create_graph, self.captured)

    def of_outputs(self, node: Function) -> tuple[Tensor, ...] | None:
        """The complete gradients w.r.t. ``node``'s outputs, through their tensors' hooks and
        into retained ``.grad`` / captured results; zeros for outputs no gradient reached."""
        from minigrad.tensor import Tensor

        slots = self.outputs.pop(id(node), None)
        if slots is None:
            return None
        gouts = []
        for i, (g, meta) in enumerate(zip(slots, node.output_metadata)):
            if g is None:
                gouts.append(_zeros(meta))
                continue
            if node._hooks is not None and node._hooks.get(i):
                g = run_hooks(node._hooks[i], g)
            if self.captured is None:
                t = node._outputs[i]()
                if t is not None and t._retains_grad:
                    kept = g if self.create_graph else Tensor._make(g.data.copy())
                    t.grad = kept if t.grad is None else t.grad + kept
            elif (id(node), i) in self.captured:
                self.captured[(id(node), i)] = g
            gouts.append(g)
        return tuple(gouts)

    def results(self, inputs: Sequence[Tensor] | None) -> list[Tensor | None] | None:
        if inputs is None:
            return None
        return [self.captured.get(_key(t)) for t in inputs]


def _key(t: Tensor) -> Any:
    return id(t) if t._node is None else (id(t._node), t._out_index)


def accumulate_leaf(leaf: Tensor, g: Tensor, exclusive: bool, create_graph: bool,
                    captured: dict[Any, Any] | None) -> None:
    """Deliver a leaf's complete gradient: its hooks, then ``.grad`` (or ``grad()``'s result),
    then its post-accumulate hooks.

    The take-over rule: the first gradient becomes ``.grad`` without a copy only when this pass
    made it for this leaf alone (``exclusive``: not an incoming gradient passed through, not
    handed to two inputs, not a hook's result) and nothing else holds its array
    (:func:`_unshared`), as PyTorch's AccumulateGrad steals such gradients; otherwise it is
    copied, so no ``.grad`` ever aliases another tensor's memory."""
    from minigrad.tensor import Tensor

    hooks = leaf._hooks
    if hooks is not None and hooks.pre:
        hooked = run_hooks(hooks.pre, g)
        exclusive, g = exclusive and hooked is g, hooked
    if captured is not None:
        captured[id(leaf)] = g
        return
    if leaf.grad is None and not create_graph and not (exclusive and _unshared(g)):
        g = Tensor._make(g.data.copy())
    leaf.grad = g if leaf.grad is None else leaf.grad + g
    if hooks is not None:
        for fn in list(hooks.post.values()):
            fn(leaf)


def _refs_held_by_one_tensor() -> tuple[int, int]:
    """``sys.getrefcount`` as :func:`_unshared` reads it (from a local) of (an array whose only
    holder is one Tensor's ``data`` slot, the base array of a view that nothing else holds),
    measured on this interpreter: the counts' baseline differs between Python versions."""
    from minigrad.tensor import Tensor

    t = Tensor._make(np.empty(1))
    arr = t.data
    view = np.empty(2).reshape(1, 2)
    base = view.base
    return sys.getrefcount(arr), sys.getrefcount(base)


_ONE_HOLDER: list[tuple[int, int] | None] = [None]


def _unshared(t: Tensor) -> bool:
    """True when ``t``'s array can become a leaf's ``.grad`` without a copy and alias nothing:
    nothing but ``t`` refers to it, and it owns its memory, or is a whole-buffer reshape of an
    array nothing else holds (what a kernel returns after ``out.reshape(shape)``), or is a GPU
    array whose device buffer nothing else shares. Other views, arrays a node saved, or arrays
    the caller holds all fail."""
    one = _ONE_HOLDER[0]
    if one is None:
        one = _ONE_HOLDER[0] = _refs_held_by_one_tensor()
    arr = t.data
    if sys.getrefcount(arr) != one[0]:
        return False
    st = _device.storage(arr)
    if st is arr:
        return True
    if _device.is_cuda(arr):  # a buffer that a reshape would share
        return sys.getrefcount(st) == one[0]
    return (arr.base is st and st.nbytes == arr.nbytes and arr.flags.c_contiguous
            and arr.flags.writeable and sys.getrefcount(st) == one[1])


def _zeros(meta: TensorMeta) -> Tensor:
    from minigrad.tensor import Tensor

    return Tensor._make(_device.zeros_on(meta.shape, meta.dtype, meta.device))


def fit_gradient(g: Any, node: Function, i: int) -> Tensor:
    """What ``node``'s backward returned for input ``i``, as a Tensor of that input's shape,
    dtype and device (broadcast axes summed back, once, here)."""
    from minigrad.tensor import Tensor

    meta = node.input_metadata[i]
    if isinstance(g, Tensor) and type(g.data) is np.ndarray and meta.device is _device.CPU:
        pass  # the common case: a host gradient for a host input, no conversion or check
    else:
        if not isinstance(g, Tensor):
            arr = g if _device.is_array(g) else np.asarray(g, dtype=meta.dtype)
            g = Tensor._make(_device.move(arr, meta.device))
        if g.device != meta.device:
            raise RuntimeError(
                f"{node.display_name()}.backward returned a gradient on {g.device} for input "
                f"{i}, which is on {meta.device}"
            )
    if g.data.shape != meta.shape:
        g = _sum_to(g, meta.shape, node, i)
    if g.data.dtype != meta.dtype:
        g = g.astype(meta.dtype)
    return g


def _sum_to(g: Tensor, shape: tuple[int, ...], node: Function, i: int) -> Tensor:
    """``g`` summed over the axes input ``i`` of ``node`` was broadcast along: recorded when
    backward builds a graph (``create_graph``), else the same sum straight on the array."""
    from minigrad.tensor import Tensor

    try:
        if is_grad_enabled():
            return g.sum_to(shape)
        if np.broadcast_shapes(shape, g.shape) != g.shape:
            raise ValueError
        return Tensor._make(_device.sum_to(g.data, shape))
    except ValueError:
        raise RuntimeError(
            f"{node.display_name()}.backward returned a gradient of shape {g.shape} for input "
            f"{i} of shape {shape}"
        ) from None


# ---------------------------------------------------------------------------------------------
# backward() and grad()
# ---------------------------------------------------------------------------------------------


def _as_list(x: Any) -> list[Any]:
    from minigrad.tensor import Tensor

    if x is None:
        return []
    if isinstance(x, Tensor) or _device.is_array(x):
        return [x]
    return list(x)


def _root_grads(outputs: list[Tensor], grad_outputs: list[Any], who: str) -> list[Tensor]:
    """The gradients to start from: ones for scalar outputs, else the given ones, checked."""
    from minigrad.tensor import Tensor

    if not grad_outputs:
        grad_outputs = [None] * len(outputs)
    if len(grad_outputs) != len(outputs):
        raise ValueError(
            f"{who}: got {len(outputs)} outputs but {len(grad_outputs)} grad_outputs"
        )
    grads = []
    for out, g in zip(outputs, grad_outputs):
        if not out.requires_grad:
            raise RuntimeError(
                f"{who}: a tensor of shape {out.shape} does not require grad and has no graph "
                "(was it computed under no_grad(), or from inputs without requires_grad=True?)"
            )
        if g is None:
            if out.data.size != 1:
                raise RuntimeError(
                    f"{who}: grad can be implicitly created only for scalar outputs; got shape "
                    f"{out.shape}. Pass gradient=<tensor of that shape> (the vector in the "
                    "vector-Jacobian product)."
                )
            g = Tensor._make(_device.full(out.shape, 1, out.dtype, like=out.data))
        else:
            if not isinstance(g, Tensor):
                g = Tensor._make(_device.asarray(g, out.dtype, like=out.data))
            elif g.device != out.device:
                raise ValueError(
                    f"{who}: gradient is on {g.device} but the output is on {out.device}"
                )
            if g.shape != out.shape:
                raise ValueError(
                    f"{who}: gradient has shape {g.shape} but the output has shape {out.shape}"
                )
        grads.append(g)
    return grads


def backward(
    tensors: Tensor | Sequence[Tensor],
    grad_tensors: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    *,
    on_node: OnNode | None = None,
) -> None:
    """Accumulate d(tensors)/d(leaf) into every reachable leaf's ``.grad``.

    ``on_node(node, grad_outputs, grad_inputs)``, if given, is called as each node's backward
    runs (what ``minigrad.explain`` prints)."""
    outs = _as_list(tensors)
    grads = _root_grads(outs, _as_list(grad_tensors), "backward")
    if retain_graph is None:
        retain_graph = create_graph
    run_backward(outs, grads, retain_graph=retain_graph, create_graph=create_graph,
                 on_node=on_node)


def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> list[Tensor | None]:
    """Gradients of ``outputs`` w.r.t. ``inputs`` as a list, without touching any ``.grad``.

    ``grad_outputs`` is the vector of the vector-Jacobian product (required for non-scalar
    outputs). With ``create_graph=True`` the returned gradients carry a graph of their own, so they
    can be differentiated again (Hessian-vector products, gradient penalties). Tensor hooks on the
    way run; post-accumulate hooks do not.
    """
    outs = _as_list(outputs)
    ins = _as_list(inputs)
    for t in ins:
        if not t.requires_grad:
            raise RuntimeError(
                f"grad: an input of shape {t.shape} does not require grad"
            )
    grads = _root_grads(outs, _as_list(grad_outputs), "grad")
    if retain_graph is None:
        retain_graph = create_graph
    result = run_backward(outs, grads, retain_graph=retain_graph, create_graph=create_graph,
                          inputs=ins)
    assert result is not None
    if not allow_unused:
        for i, g in enumerate(result):
            if g is None:
                raise RuntimeError(
                    f"grad: input {i} (shape {ins[i].shape}) was not used to compute the outputs; "
                    "pass allow_unused=True to get None for it"
                )
    return result
