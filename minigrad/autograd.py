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

    @classmethod
    def display_name(cls) -> str:
        """The op's name for people (node reprs, explain, viz): the class name without the ``Fn``
        suffix that keeps Function classes apart from nn Modules (``Conv2dFn`` -> ``Conv2d``)."""
        return cls.__name__.removesuffix("Fn")

    def __repr__(self) -> str:
        return f"<{self.display_name()}Backward>"


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
    """
    from minigrad.tensor import Tensor

    pending: dict[int, list[Any]] = {}  # id(node) -> per-output gradient sums
    leaf_grads: dict[int, Tensor] = {}  # id(leaf) -> gradient (capture mode)
    want_leaf = {id(t) for t in capture if t._node is None} if capture is not None else None
    want_out: dict[tuple[int, int], Tensor | None] = {}
    if capture is not None:
        for t in capture:
            if t._node is not None:
                want_out[(id(t._node), t._out_index)] = None

    def deliver_leaf(leaf: Tensor, g: Tensor, exclusive: bool = False) -> None:
        if capture is not None:
            if id(leaf) in want_leaf:
                leaf_grads[id(leaf)] = _accumulate(leaf_grads.get(id(leaf)), g)
            return
        if leaf.grad is None and not create_graph and not (exclusive and _unshared(g)):
            g = Tensor._make(g.data.copy())  # never alias a gradient another leaf also holds
        leaf.grad = _accumulate(leaf.grad, g)

    with set_grad_enabled(create_graph):
        nodes = []
        for r, g in zip(roots, root_grads):
            if r._node is None:
                deliver_leaf(r, g)
                continue
            slots = pending.setdefault(id(r._node), [None] * len(r._node._out_meta))
            slots[r._out_index] = _accumulate(slots[r._out_index], g)
            nodes.append(r._node)

        for node in _topo_order(nodes):
            slots = pending.pop(id(node), None)
            if slots is None:
                continue
            if node._freed:
                raise RuntimeError(
                    f"{type(node).__name__}: trying to backward through the graph a second time; "
                    "its saved buffers were freed by the first backward(). Pass "
                    "retain_graph=True to the first call if you need to backward twice."
                )
            gouts = tuple(
                s if s is not None else _zeros(*meta) for s, meta in zip(slots, node._out_meta)
            )
            for i, ref in enumerate(node._outputs):
                t = ref()
                if t is not None and capture is None and t._retains_grad:
                    g = gouts[i] if create_graph else Tensor._make(gouts[i].data.copy())
                    t.grad = _accumulate(t.grad, g)
                if (id(node), i) in want_out:
                    want_out[(id(node), i)] = gouts[i]
            gins = type(node).backward(node, *gouts)
            if not isinstance(gins, tuple):
                gins = (gins,)
            if len(gins) != len(node._edges):
                raise RuntimeError(
                    f"{type(node).__name__}.backward returned {len(gins)} gradients; its forward "
                    f"took {len(node._edges)} positional inputs"
                )
            if on_node is not None:
                on_node(node, gouts, gins)
            for i, (edge, g) in enumerate(zip(node._edges, gins)):
                if edge is None or g is None:
                    continue
                shape, dtype, on_gpu = node._in_meta[i]
                g = _fit_gradient(g, shape, dtype, on_gpu, node, i)
                if isinstance(edge, tuple):
                    parent, idx = edge
                    pslots = pending.setdefault(id(parent), [None] * len(parent._out_meta))
                    pslots[idx] = _accumulate(pslots[idx], g)
                else:
                    # A gradient this backward made for this input alone (not an incoming
                    # gradient passed through, not returned twice) may become .grad uncopied
                    # when nothing else holds its array (checked in _unshared).
                    exclusive = (not any(g is go for go in gouts)
                                 and builtins.sum(1 for x in gins if x is g) == 1)
                    deliver_leaf(edge, g, exclusive)
            if not retain_graph:
                node._release()

    if capture is None:
        return None
    result: list[Tensor | None] = []
    for t in capture:
        if t._node is None:
            result.append(leaf_grads.get(id(t)))
        else:
            result.append(want_out.get((id(t._node), t._out_index)))
    return result


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
