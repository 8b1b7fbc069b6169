"""Reverse-mode engine: ``Function`` (a recorded op and its context), grad mode, ``backward``,
``grad``.

A ``Function`` instance is both the op's context (``ctx``) and the graph node of its outputs. Each
output Tensor points at its node; a node points at its inputs through *edges*: a leaf Tensor, or
(node, output index) for a non-leaf. ``backward`` sorts the nodes reachable from the roots
iteratively (no recursion, so 10,000-op chains work), walks them once in reverse topological order,
calls each ``backward`` with Tensor gradients, sums gradients back to each input's shape centrally
(so no rule repeats broadcasting logic), and frees saved buffers unless ``retain_graph``.
"""

from __future__ import annotations

import builtins
import functools
import os
import sys
import threading
import weakref
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from minigrad import _device as _device
from minigrad.cuda.array import CudaArray

if TYPE_CHECKING:
    from minigrad.tensor import Tensor

__all__ = [
    "Function",
    "no_grad",
    "enable_grad",
    "set_grad_enabled",
    "is_grad_enabled",
    "backward",
    "grad",
    "RemovableHandle",
]

_state = threading.local()


def is_grad_enabled() -> bool:
    """Whether ops record a graph (``False`` inside ``no_grad``)."""
    return getattr(_state, "enabled", True)


def _set_enabled(mode: bool) -> None:
    _state.enabled = mode


class set_grad_enabled:
    """Context manager and decorator that turns graph recording on or off (PyTorch's name).

    Usable as ``with set_grad_enabled(False):`` and as ``@set_grad_enabled(False)``; re-entrant,
    so the same decorated function may recurse.
    """

    def __init__(self, mode: bool) -> None:
        self.mode = bool(mode)
        self._prev: list[bool] = []

    def __enter__(self) -> set_grad_enabled:
        self._prev.append(is_grad_enabled())
        _set_enabled(self.mode)
        return self

    def __exit__(self, *exc: object) -> None:
        _set_enabled(self._prev.pop())

    def __call__(self, func: Callable) -> Callable:
        mode = self.mode

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with set_grad_enabled(mode):
                return func(*args, **kwargs)

        return wrapper


class no_grad(set_grad_enabled):
    """``with minigrad.no_grad():`` or ``@minigrad.no_grad()``: record no graph."""

    def __init__(self) -> None:
        super().__init__(False)


class enable_grad(set_grad_enabled):
    """``with minigrad.enable_grad():`` or ``@minigrad.enable_grad()``: record a graph."""

    def __init__(self) -> None:
        super().__init__(True)


_PKG_DIR = os.path.dirname(os.path.abspath(__file__))


def _user_site() -> tuple[str, int] | None:
    """The first stack frame outside minigrad: where a node was created, for error messages."""
    f = sys._getframe(2)
    while f is not None and f.f_code.co_filename.startswith(_PKG_DIR):
        f = f.f_back
    return (f.f_code.co_filename, f.f_lineno) if f is not None else None


class _SavedOutput:
    """A saved array that is one of the node's own outputs (re-linked lazily: no ref cycle)."""

    __slots__ = ("index", "array")

    def __init__(self, index: int, array: np.ndarray) -> None:
        self.index = index
        self.array = array


def _check_devices(cls: type, args: tuple) -> None:
    """All Tensor inputs of one op on one device; 0-d host constants (scalars that do not
    require grad) may join GPU tensors, as in PyTorch."""
    from minigrad.tensor import Tensor

    gpu = host = None
    for i, a in enumerate(args):
        if isinstance(a, Tensor):
            if type(a.data) is CudaArray:
                gpu = gpu if gpu is not None else i
            elif a.data.ndim or a._requires_grad:
                host = host if host is not None else i
    if gpu is not None and host is not None:
        name = getattr(cls, "name", cls.__name__)
        raise ValueError(
            f"{name}: expected all tensors on one device, but input {gpu} "
            f"{args[gpu].shape} is on cuda and input {host} {args[host].shape} is on cpu; "
            "move them with .to(device) / .cuda() / .cpu()"
        )


class Function:
    """Base class of every differentiable op; subclass it to add your own.

    Write ``forward(ctx, *inputs, **params)`` on arrays (inputs arrive as Tensors; use ``x.data``;
    it runs with grad recording off) returning an ``np.ndarray`` or a tuple of them, and
    ``backward(ctx, *grad_outputs)`` on Tensors returning one gradient (Tensor or None) per
    positional input. Write backward with Tensor operations so ``create_graph=True`` can
    differentiate it again. Call the op as ``MyOp.apply(*inputs, **params)``.

    Example::

        class Square(Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x.data ** 2

            @staticmethod
            def backward(ctx, g):
                (x,) = ctx.saved_tensors
                return 2 * x * g
    """

    # Set by apply() on recorded nodes.
    _hooks: dict[int, dict[int, Callable]] | None = None  # output index -> its tensor's hooks
    inputs: tuple[Any, ...] | None
    kwargs: dict[str, Any]
    needs_input_grad: tuple[bool, ...]

    @staticmethod
    def forward(ctx: Function, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    @staticmethod
    def backward(ctx: Function, *grad_outputs: Tensor) -> Any:
        raise NotImplementedError

    # -- context API -------------------------------------------------------------------------
    def save_for_backward(self, *items: Any) -> None:
        """Keep Tensors or arrays for ``backward`` (read them back with ``saved_tensors``)."""
        self._to_save = items

    @property
    def saved_tensors(self) -> tuple[Any, ...]:
        if getattr(self, "_freed", False):
            raise RuntimeError(
                f"{type(self).__name__}: trying to backward through the graph a second time (or "
                "to read saved tensors after they were freed). Pass retain_graph=True to the "
                "first backward() if you need to backward twice."
            )
        from minigrad.tensor import Tensor

        out = []
        for item in getattr(self, "_saved", ()):
            if isinstance(item, _SavedOutput):
                t = Tensor._make(item.array)
                t._node, t._out_index, t._requires_grad = self, item.index, True
                out.append(t)
            elif isinstance(item, np.ndarray) or type(item) is CudaArray:
                out.append(Tensor._make(item))
            else:
                out.append(item)
        return tuple(out)

    # -- recording ---------------------------------------------------------------------------
    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        from minigrad.tensor import Tensor

        needs = tuple(isinstance(a, Tensor) and a._requires_grad for a in args)
        _check_devices(cls, args)
        record = any(needs) and is_grad_enabled()
        ctx = cls()
        ctx._to_save = ()
        prev = is_grad_enabled()
        _set_enabled(False)
        try:
            raw = cls.forward(ctx, *args, **kwargs)
        finally:
            _set_enabled(prev)
        multi = isinstance(raw, tuple)
        raws = raw if multi else (raw,)
        arrays = [r.data if isinstance(r, Tensor) else r if type(r) is CudaArray
                  else np.asarray(r) for r in raws]
        outs = [Tensor._make(a) for a in arrays]
        if record:
            ctx.inputs = args
            ctx.kwargs = kwargs
            ctx.needs_input_grad = needs
            ctx._edges = tuple(
                (None if not n else (a if a._node is None else (a._node, a._out_index)))
                for a, n in zip(args, needs)
            )
            ctx._in_meta = tuple(
                (a.shape, a.dtype, type(a.data) is CudaArray) if isinstance(a, Tensor) else None
                for a in args
            )
            ctx._out_meta = tuple((a.shape, a.dtype, type(a) is CudaArray) for a in arrays)
            ctx._freed = False
            ctx.site = _user_site()
            saved = []
            for item in ctx._to_save:
                for i, (r, a) in enumerate(zip(raws, arrays)):
                    if item is r or item is a:
                        saved.append(_SavedOutput(i, a))
                        break
                else:
                    saved.append(item)
            ctx._saved = tuple(saved)
            refs = []
            for i, t in enumerate(outs):
                if np.issubdtype(t.data.dtype, np.floating):
                    t._node, t._out_index, t._requires_grad = ctx, i, True
                refs.append(weakref.ref(t))
            ctx._outputs = tuple(refs)
        del ctx._to_save
        return tuple(outs) if multi else outs[0]

    def _release(self) -> None:
        self._saved = ()
        self.inputs = None
        self._freed = True

    def __repr__(self) -> str:
        return f"<{type(self).__name__}Backward>"


# ---------------------------------------------------------------------------------------------
# The engine
# ---------------------------------------------------------------------------------------------


def _topo_order(roots: Iterable[Function]) -> list[Function]:
    """Nodes reachable from ``roots``, each after every node it feeds (reverse of forward order)."""
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


def _zeros(shape: tuple[int, ...], dtype: np.dtype, on_gpu: bool) -> Tensor:
    from minigrad.tensor import Tensor

    if on_gpu:
        from minigrad.cuda import array as ca

        return Tensor._make(ca.zeros(shape, dtype))
    return Tensor._make(np.zeros(shape, dtype=dtype))


def _fit_gradient(g: Any, shape: tuple[int, ...], dtype: np.dtype, on_gpu: bool,
                  node: Function, i: int) -> Tensor:
    """Turn what a backward returned into a Tensor of the input's shape, dtype and device."""
    from minigrad.tensor import Tensor

    if not isinstance(g, Tensor):
        if on_gpu:
            from minigrad.cuda import array as ca

            g = Tensor._make(ca.asarray(g, dtype))
        else:
            g = Tensor._make(_device.asarray(g, dtype))
    if (type(g.data) is CudaArray) != on_gpu:
        raise RuntimeError(
            f"{type(node).__name__}.backward returned a gradient on {g.device} for input {i}, "
            f"which is on {'cuda' if on_gpu else 'cpu'}"
        )
    if g.shape != shape:
        try:
            g = g.sum_to(shape)
        except ValueError:
            raise RuntimeError(
                f"{type(node).__name__}.backward returned a gradient of shape {g.shape} for input "
                f"{i} of shape {shape}"
            ) from None
    if g.dtype != dtype:
        g = g.astype(dtype)
    return g


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


def _unshared(t: Tensor) -> bool:
    """True when ``t``'s array can become a leaf's ``.grad`` without a copy and alias nothing
    (PyTorch's AccumulateGrad takes over such gradients too): nothing but ``t`` refers to it, and
    it owns its memory or is a whole-buffer reshape of an array nothing else holds (what a kernel
    returns after ``out.reshape(shape)``). Other views, arrays a node saved, or arrays the caller
    holds all fail."""
    one = _ONE_HOLDER[0]
    if one is None:
        one = _ONE_HOLDER[0] = _refs_held_by_one_tensor()
    arr = t.data
    if type(arr) is CudaArray:
        buf = arr._buf  # held by this CudaArray alone (a reshape would share it)
        return sys.getrefcount(arr) == one[0] and sys.getrefcount(buf) == one[0]
    if sys.getrefcount(arr) != one[0]:
        return False
    base = arr.base
    if base is None:
        return True
    return (type(base) is np.ndarray and base.base is None and base.nbytes == arr.nbytes
            and arr.flags.c_contiguous and arr.flags.writeable
            and sys.getrefcount(base) == one[1])


_ONE_HOLDER: list[tuple[int, int] | None] = [None]


def _accumulate(old: Tensor | None, new: Tensor) -> Tensor:
    return new if old is None else old + new


# ---------------------------------------------------------------------------------------------
# Gradient hooks
# ---------------------------------------------------------------------------------------------


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


class _LeafHooks:
    """A leaf's hooks: ``pre`` run on its gradient before accumulation, ``post`` after."""

    __slots__ = ("pre", "post")

    def __init__(self) -> None:
        self.pre: dict[int, Callable] = {}
        self.post: dict[int, Callable] = {}


def _add_hook(hooks: dict[int, Callable], fn: Callable) -> RemovableHandle:
    if not callable(fn):
        raise TypeError(f"register_hook: expected a callable, got {type(fn).__name__}")
    handle = RemovableHandle(hooks)
    hooks[handle.id] = fn
    return handle


def register_hook(t: Tensor, fn: Callable[[Tensor], Tensor | None]) -> RemovableHandle:
    """``Tensor.register_hook``: ``fn(grad)`` runs each time the gradient w.r.t. ``t`` is
    computed (for a leaf, before it is accumulated into ``.grad``); a returned Tensor replaces
    the gradient. Hooks run in registration order, each on the previous one's result."""
    if not t._requires_grad:
        raise RuntimeError(
            f"register_hook: cannot register a hook on a tensor of shape {t.shape} that does not "
            "require grad"
        )
    if t._node is None:
        if t._hooks is None:
            t._hooks = _LeafHooks()
        return _add_hook(t._hooks.pre, fn)
    node = t._node
    if node._hooks is None:
        node._hooks = {}
    return _add_hook(node._hooks.setdefault(t._out_index, {}), fn)


def register_post_accumulate_grad_hook(t: Tensor, fn: Callable[[Tensor], None]) -> RemovableHandle:
    """``Tensor.register_post_accumulate_grad_hook``: ``fn(t)`` runs after ``backward()`` has
    accumulated ``t``'s gradient into ``t.grad`` (leaves only; not run by :func:`grad`)."""
    if t._node is not None:
        raise RuntimeError(
            "register_post_accumulate_grad_hook: post-accumulate-grad hooks can only be "
            f"registered on leaf tensors; this tensor of shape {t.shape} was made by "
            f"{type(t._node).__name__}"
        )
    if not t._requires_grad:
        raise RuntimeError(
            "register_post_accumulate_grad_hook: cannot register a hook on a tensor of shape "
            f"{t.shape} that does not require grad"
        )
    if t._hooks is None:
        t._hooks = _LeafHooks()
    return _add_hook(t._hooks.post, fn)


def _run_hooks(hooks: dict[int, Callable], g: Tensor) -> Tensor:
    """Pass ``g`` through ``hooks`` in registration order; a hook returning a Tensor replaces it."""
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


# ---------------------------------------------------------------------------------------------
# The backward loop
# ---------------------------------------------------------------------------------------------


class _Plan:
    """What one backward pass visits: ``order`` (nodes, each after all that consume its outputs),
    ``runs`` (ids of nodes whose backward is called: all of them, or in :func:`grad` those on a
    path to a wanted input), ``uses`` (per leaf id, how many running edges feed it) and, for
    :func:`grad`, the wanted leaves and node outputs."""

    def __init__(self, roots: Sequence[Tensor], capture: Sequence[Tensor] | None) -> None:
        order = _topo_order([r._node for r in roots if r._node is not None])
        self.want_leaf = self.want_out = None
        if capture is None:
            self.order = order
            self.runs = {id(n) for n in order}
        else:
            self.want_leaf = {id(t) for t in capture if t._node is None}
            self.want_out = {(id(t._node), t._out_index) for t in capture if t._node is not None}
            self.runs = set()
            for node in reversed(order):  # a node's inputs' nodes come first
                if any(self._wanted(e) for e in node._edges):
                    self.runs.add(id(node))
            self.order = [n for n in order if id(n) in self.runs
                          or any((id(n), i) in self.want_out for i in range(len(n._out_meta)))]
        self.uses: dict[int, int] = {}
        for node in order:
            if id(node) in self.runs:
                for e in node._edges:
                    if e is not None and not isinstance(e, tuple) and self.wants_leaf(e):
                        self.uses[id(e)] = self.uses.get(id(e), 0) + 1

    def _wanted(self, edge: Any) -> bool:
        if edge is None:
            return False
        if isinstance(edge, tuple):
            return id(edge[0]) in self.runs or (id(edge[0]), edge[1]) in self.want_out
        return id(edge) in self.want_leaf

    def wants_leaf(self, leaf: Tensor) -> bool:
        return self.want_leaf is None or id(leaf) in self.want_leaf


def _accumulate_leaf(leaf: Tensor, g: Tensor, exclusive: bool, create_graph: bool,
                     captured: dict[int, Tensor] | None) -> None:
    """Deliver a leaf's complete gradient: its hooks, then ``.grad`` (or the :func:`grad`
    result), then its post-accumulate hooks.

    The take-over rule: the first gradient becomes ``.grad`` without a copy only when this pass
    made it for this leaf alone (``exclusive``: not an incoming gradient passed through, not
    handed to two inputs, not a hook's result) and nothing else holds its array
    (:func:`_unshared`), as PyTorch's AccumulateGrad steals such gradients; otherwise it is
    copied, so no ``.grad`` ever aliases another tensor."""
    from minigrad.tensor import Tensor

    hooks = leaf._hooks
    if hooks is not None and hooks.pre:
        h = _run_hooks(hooks.pre, g)
        exclusive, g = exclusive and h is g, h
    if captured is not None:
        captured[id(leaf)] = g
        return
    if leaf.grad is None and not create_graph and not (exclusive and _unshared(g)):
        g = Tensor._make(g.data.copy())
    leaf.grad = _accumulate(leaf.grad, g)
    if hooks is not None:
        for fn in list(hooks.post.values()):
            fn(leaf)


def _output_grads(node: Function, slots: list[Any], captured: dict[Any, Tensor] | None,
                  create_graph: bool) -> tuple[Tensor, ...]:
    """The gradients w.r.t. ``node``'s outputs, once complete: through the tensors' hooks, into
    retained ``.grad``/captured results, and zeros for outputs no gradient reached."""
    from minigrad.tensor import Tensor

    gouts = []
    for i, (g, meta) in enumerate(zip(slots, node._out_meta)):
        if g is None:
            gouts.append(_zeros(*meta))
            continue
        if node._hooks is not None and node._hooks.get(i):
            g = _run_hooks(node._hooks[i], g)
        if captured is None:
            t = node._outputs[i]()
            if t is not None and t._retains_grad:
                t.grad = _accumulate(t.grad, g if create_graph else Tensor._make(g.data.copy()))
        elif (id(node), i) in captured:
            captured[(id(node), i)] = g
        gouts.append(g)
    return tuple(gouts)


def _run(
    roots: Sequence[Tensor],
    root_grads: Sequence[Tensor],
    retain_graph: bool,
    create_graph: bool,
    capture: Sequence[Tensor] | None = None,
    on_node: Callable[[Function, tuple[Tensor, ...], tuple[Any, ...]], None] | None = None,
) -> list[Tensor | None] | None:
    """Back-propagate ``root_grads`` from ``roots``.

    With ``capture`` (``grad()``), returns the gradients of those tensors and leaves every
    ``.grad`` untouched; otherwise accumulates into leaves' ``.grad`` (and retained non-leaves).
    Gradients are summed per node output and per leaf; a leaf's hooks and accumulation run once,
    as soon as the last node feeding it has run.
    """
    plan = _Plan(roots, capture)
    pending: dict[int, list[Any]] = {}  # id(node) -> per-output gradient sums
    leaf_sums: dict[int, list[Any]] = {}  # id(leaf) -> [leaf, gradient sum, exclusive]
    captured: dict[Any, Any] | None = None
    if capture is not None:
        captured = {id(t) if t._node is None else (id(t._node), t._out_index): None
                    for t in capture}

    def add_leaf(leaf: Tensor, g: Tensor, exclusive: bool) -> None:
        s = leaf_sums.get(id(leaf))
        if s is None:
            leaf_sums[id(leaf)] = [leaf, g, exclusive]
        else:
            s[1], s[2] = s[1] + g, True  # a fresh sum is this pass's own

    def leaf_done(leaf: Tensor) -> None:
        if not plan.uses.get(id(leaf)) and id(leaf) in leaf_sums:
            _, g, exclusive = leaf_sums.pop(id(leaf))
            _accumulate_leaf(leaf, g, exclusive, create_graph, captured)

    def add_output(node: Function, i: int, g: Tensor) -> None:
        slots = pending.setdefault(id(node), [None] * len(node._out_meta))
        slots[i] = _accumulate(slots[i], g)

    with set_grad_enabled(create_graph):
        for r, g in zip(roots, root_grads):
            if r._node is not None:
                add_output(r._node, r._out_index, g)
            elif plan.wants_leaf(r):
                add_leaf(r, g, False)
        for r in roots:
            leaf_done(r)

        for node in plan.order:
            slots = pending.pop(id(node), None)
            gouts = _output_grads(node, slots, captured, create_graph) if slots else None
            runs = id(node) in plan.runs
            gins: tuple[Any, ...] = ()
            if gouts is not None and runs:
                if node._freed:
                    raise RuntimeError(
                        f"{type(node).__name__}: trying to backward through the graph a second "
                        "time; its saved buffers were freed by the first backward(). Pass "
                        "retain_graph=True to the first call if you need to backward twice."
                    )
                gins = type(node).backward(node, *gouts)
                if not isinstance(gins, tuple):
                    gins = (gins,)
                if len(gins) != len(node._edges):
                    raise RuntimeError(
                        f"{type(node).__name__}.backward returned {len(gins)} gradients; its "
                        f"forward took {len(node._edges)} positional inputs"
                    )
                if on_node is not None:
                    on_node(node, gouts, gins)
            for i, edge in enumerate(node._edges if runs else ()):
                g = gins[i] if gins else None
                if edge is None:
                    continue
                if g is not None:
                    g = _fit_gradient(g, *node._in_meta[i], node, i)
                if isinstance(edge, tuple):
                    if g is not None:
                        add_output(edge[0], edge[1], g)
                elif plan.wants_leaf(edge):
                    plan.uses[id(edge)] -= 1
                    if g is not None:
                        # made by this backward for this input alone: may become .grad uncopied
                        exclusive = (not any(g is go for go in gouts)
                                     and builtins.sum(1 for x in gins if x is g) == 1)
                        add_leaf(edge, g, exclusive)
                    leaf_done(edge)
            if gouts is not None and runs and not retain_graph:
                node._release()

    if captured is None:
        return None
    return [captured.get(id(t) if t._node is None else (id(t._node), t._out_index))
            for t in capture]


def _as_list(x: Any) -> list[Any]:
    from minigrad.tensor import Tensor

    if x is None:
        return []
    if isinstance(x, Tensor | np.ndarray):
        return [x]
    return list(x)


def _root_grads(outputs: list[Tensor], grad_outputs: list[Any], who: str) -> list[Tensor]:
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
) -> None:
    """Accumulate d(tensors)/d(leaf) into every reachable leaf's ``.grad``."""
    outs = _as_list(tensors)
    grads = _root_grads(outs, _as_list(grad_tensors), "backward")
    if retain_graph is None:
        retain_graph = create_graph
    _run(outs, grads, retain_graph, create_graph)


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
    can be differentiated again (Hessian-vector products, gradient penalties).
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
    result = _run(outs, grads, retain_graph, create_graph, capture=ins)
    assert result is not None
    if not allow_unused:
        for i, g in enumerate(result):
            if g is None:
                raise RuntimeError(
                    f"grad: input {i} (shape {ins[i].shape}) was not used to compute the outputs; "
                    "pass allow_unused=True to get None for it"
                )
    return result
