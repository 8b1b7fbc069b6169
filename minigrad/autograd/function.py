"""``Function``: a differentiable op, its context (``ctx``) and, once recorded, a graph node.

A ``Function`` instance is both the op's context and the node of its outputs. Each output Tensor
points at its node (``grad_fn``) and its output index; a node points at its inputs through
*edges* (``_edges``, one per positional input): the leaf Tensor itself, ``(node, output index)``
for a non-leaf, or None when no gradient flows there. The public view of a node (metadata, next
functions) is described in ``graph.py``.
"""

from __future__ import annotations

import itertools
import os
import sys
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from minigrad import _device
from minigrad.autograd import anomaly_mode, versions
from minigrad.autograd.grad_mode import _state
from minigrad.autograd.graph import TensorMeta

if TYPE_CHECKING:
    from minigrad.tensor import Tensor

__all__ = ["Function"]

_PKG_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # minigrad/


# file name -> whether it is minigrad's own (file names are interned strings that cache their
# hash, so this lookup is cheaper than a prefix test per frame)
_INSIDE: dict[str, bool] = {}


def _user_frame() -> tuple[Any, int] | None:
    """``(code, last instruction offset)`` of the first stack frame outside minigrad. Run for
    every recorded op, so it is kept cheap: the line number (a scan of the code's line table) is
    left to :func:`_line_of`, for the nodes whose ``site`` someone reads. (A dict keyed by code
    objects would be slower than one keyed by file name: code objects hash by content.)"""
    f: Any = sys._getframe(1)  # minigrad's frames are skipped, so start at the caller
    inside = _INSIDE
    while f is not None:
        code = f.f_code
        name = code.co_filename
        own = inside.get(name)
        if own is None:
            own = inside[name] = name.startswith(_PKG_DIR)
        if not own:
            return code, f.f_lasti
        f = f.f_back
    return None


def _line_of(frame: tuple[Any, int] | None) -> tuple[str, int] | None:
    """``(file, line)`` of a ``_user_frame`` result (what ``f_lineno`` would have said)."""
    if frame is None:
        return None
    code, lasti = frame
    for start, end, line in code.co_lines():
        if start <= lasti < end and line is not None:
            return code.co_filename, line
    return code.co_filename, code.co_firstlineno


def user_site() -> tuple[str, int] | None:
    """The first stack frame outside minigrad, as ``(file, line)``: where an op was called."""
    return _line_of(_user_frame())


class _SavedOutput:
    """A saved array that is one of the node's own outputs (re-linked lazily: no ref cycle)."""

    __slots__ = ("index", "array")

    def __init__(self, index: int, array: Any) -> None:
        self.index = index
        self.array = array


def _check_devices(cls: type, args: tuple, tensor_type: type) -> None:
    """All Tensor inputs of one op on one device; 0-d host constants (scalars that do not
    require grad) may join GPU tensors, as in PyTorch."""
    gpu = host = None
    for i, a in enumerate(args):
        if isinstance(a, tensor_type):
            if _device.is_cuda(a.data):
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


_SEQUENCE = itertools.count()  # numbers the recorded nodes in creation order

# (shape, dtype, array type) -> its TensorMeta: a training loop records the same few hundred
# shapes every step, and a lookup costs half of building the named tuple
_METAS: dict[tuple[Any, Any, type], TensorMeta] = {}


def _meta(arr: Any) -> TensorMeta:
    key = (arr.shape, arr.dtype, type(arr))
    meta = _METAS.get(key)
    if meta is None:
        if len(_METAS) >= 4096:
            _METAS.clear()
        meta = _METAS[key] = TensorMeta(arr.shape, arr.dtype, _device.device_of(arr))
    return meta


_TENSOR: list[type] = []  # [minigrad.tensor.Tensor], filled on first use (it imports us)


def _tensor_type() -> type:
    from minigrad.tensor import Tensor

    _TENSOR.append(Tensor)
    return Tensor


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

    # Set by apply() on recorded nodes (the graph API: see graph.py).
    inputs: tuple[Any, ...] | None
    kwargs: dict[str, Any]
    needs_input_grad: tuple[bool, ...]
    input_metadata: tuple[TensorMeta | None, ...]
    output_metadata: tuple[TensorMeta, ...]
    _frame: tuple[Any, int] | None = None  # the creating user frame's (code, offset)
    _hooks: dict[int, dict[int, Callable]] | None = None  # output index -> its tensor's hooks
    _epoch = 0  # versions.epoch when the node saved its tensors
    _sequence_nr: int  # creation order of recorded nodes (backward runs the largest first)
    _to_save: tuple[Any, ...] = ()  # what forward passed to save_for_backward (until recorded)

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
        """What ``save_for_backward`` kept (arrays come back as Tensors). Raises if the graph
        was freed, or if one of them was modified in place after it was saved."""
        if getattr(self, "_freed", False):
            raise RuntimeError(
                f"{self.display_name()}: trying to backward through the graph a second time (or "
                "to read saved tensors after they were freed). Pass retain_graph=True to the "
                "first backward() if you need to backward twice."
            )
        from minigrad.tensor import Tensor

        if versions.epoch[0] != self._epoch:
            self._check_versions()
        out = []
        for item in getattr(self, "_saved", ()):
            if isinstance(item, _SavedOutput):
                t = Tensor._make(item.array)
                t._node, t._out_index, t._requires_grad = self, item.index, True
                out.append(t)
            elif _device.is_array(item):
                out.append(Tensor._make(item))
            else:
                out.append(item)
        return tuple(out)

    def _check_versions(self) -> None:
        """Raise if a saved tensor was modified in place after this node saved it."""
        from minigrad.tensor import Tensor

        for k, item in enumerate(getattr(self, "_saved", ())):
            arr = item.array if isinstance(item, _SavedOutput) else getattr(item, "data", item)
            if not _device.is_array(arr) or not versions.written_since(arr, self._epoch):
                continue
            if isinstance(item, _SavedOutput):
                what = f"its output {item.index}"
            else:
                pos = [i for i, a in enumerate(self.inputs or ())
                       if isinstance(a, Tensor) and a.data is arr]
                what = f"its input {pos[0]}" if pos else "a tensor it computed"
            site = f" (the op was created at {self.site[0]}:{self.site[1]})" if self.site else ""
            raise RuntimeError(
                f"{self.display_name()}: one of the variables needed for gradient computation has "
                f"been modified by an inplace operation: saved tensor {k}, {what}, of shape "
                f"{tuple(arr.shape)} and dtype {arr.dtype}, is at version {versions.version(arr)}, "
                f"written after {self.display_name()} saved it{site}. Use the out-of-place form "
                "(y = y + x instead of y += x), or modify a .clone()."
            )

    # -- the graph API -------------------------------------------------------------------------
    @property
    def sequence_nr(self) -> int:
        """Grows with each node recorded: a node's is larger than those of the nodes feeding it,
        and backward runs the nodes in decreasing order of it (as PyTorch's engine)."""
        return self._sequence_nr

    @property
    def site(self) -> tuple[str, int] | None:
        """``(file, line)`` of the user code that created this node (None if not recorded)."""
        return _line_of(self._frame)

    @property
    def next_functions(self) -> tuple[tuple[Function | Tensor | None, int], ...]:
        """Per positional input: ``(node, output index)``, ``(leaf, 0)`` or ``(None, 0)``."""
        return tuple((None, 0) if e is None else e if isinstance(e, tuple) else (e, 0)
                     for e in self._edges)

    # -- recording ---------------------------------------------------------------------------
    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        """Run ``forward`` with recording off; when grad mode is on and an input requires grad,
        record the call as the outputs' node. Returns a Tensor or a tuple of Tensors.

        Called for every op, forward and backward, so the common case (host arrays, one output)
        takes the fewest steps: one pass over the arguments, no device check unless some input
        lives on the GPU, no grad-mode switch when recording is already off."""
        tensor = _TENSOR[0] if _TENSOR else _tensor_type()
        wants = gpu = False
        for a in args:
            if isinstance(a, tensor):
                if a._requires_grad:
                    wants = True
                if type(a.data) is not np.ndarray:
                    gpu = True
        if gpu:
            _check_devices(cls, args, tensor)
        ctx = cls()
        state = _state
        prev = getattr(state, "enabled", True)
        if prev:
            state.enabled = False
            try:
                raw = cls.forward(ctx, *args, **kwargs)
            finally:
                state.enabled = prev
        else:
            raw = cls.forward(ctx, *args, **kwargs)
        if type(raw) is np.ndarray and not anomaly_mode.enabled[0]:  # the common case
            out = tensor._make(raw)
            if prev and wants:
                ctx._record(args, kwargs, (raw,), [raw], [out], tensor)
            return out
        multi = isinstance(raw, tuple)
        arrays = [r.data if isinstance(r, tensor) else _device.wrap(r)
                  for r in (raw if multi else (raw,))]
        if anomaly_mode.enabled[0]:
            anomaly_mode.check_forward(cls, args, kwargs, arrays, user_site)
        make = tensor._make
        outs = [make(a) for a in arrays]
        if prev and wants:
            ctx._record(args, kwargs, raw if multi else (raw,), arrays, outs, tensor)
        return tuple(outs) if multi else outs[0]

    def _record(self, args: tuple, kwargs: dict, raws: tuple, arrays: list[Any],
                outs: list[Tensor], tensor: type) -> None:
        """Make this context the node of ``outs``: edges, metadata, saved tensors.
        ``raws``/``arrays``: what forward returned and the arrays the outputs wrap."""
        self._epoch = versions.epoch[0]
        datas, needs, edges, metas = [], [], [], []  # one pass over the inputs (every node)
        for a in args:
            if isinstance(a, tensor):
                d = a.data
                datas.append(d)
                metas.append(_meta(d))
                if a._requires_grad:
                    needs.append(True)
                    edges.append(a if a._node is None else (a._node, a._out_index))
                    continue
            else:
                datas.append(None)
                metas.append(None)
            needs.append(False)
            edges.append(None)
        versions.note_views(datas, arrays)
        self.inputs = args
        self.kwargs = kwargs
        self.needs_input_grad = tuple(needs)
        self._edges = tuple(edges)
        self.input_metadata = tuple(metas)
        self.output_metadata = tuple(_meta(a) for a in arrays)
        self._freed = False
        self._sequence_nr = next(_SEQUENCE)
        self._frame = _user_frame()
        to_save = self.__dict__.pop("_to_save", ())  # the node keeps only what it saved
        if to_save:
            saved = []
            for item in to_save:
                for i, (r, a) in enumerate(zip(raws, arrays)):
                    if item is r or item is a:
                        saved.append(_SavedOutput(i, a))
                        break
                else:
                    saved.append(item)
            self._saved = tuple(saved)
        else:
            self._saved = ()
        refs = []
        for i, t in enumerate(outs):
            if t.data.dtype.kind == "f":  # only floating outputs carry gradients
                t._node, t._out_index, t._requires_grad = self, i, True
            refs.append(weakref.ref(t))
        self._outputs = tuple(refs)

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
