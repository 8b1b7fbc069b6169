"""``Module``: the base class of layers and models.

A module registers its state by attribute assignment, as in PyTorch: a :class:`Parameter` becomes a
parameter, a ``Module`` a submodule, and :meth:`Module.register_buffer` adds a non-learnable tensor
(running statistics). Everything else (``parameters()``, ``state_dict()``, ``train()``, ``repr``)
walks those three registries.
"""

from __future__ import annotations

import io
import os
from collections import OrderedDict, namedtuple
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from minigrad import _device as _device
from minigrad import serialization
from minigrad.autograd import RemovableHandle, is_grad_enabled, no_grad
from minigrad.autograd._zero_grad import zero_grads
from minigrad.nn.parameter import Parameter
from minigrad.tensor import Tensor, _is_dtype_name

__all__ = ["Module", "RemovableHandle"]

IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class Module:
    """Base class of every layer and model. Subclasses call ``super().__init__()`` first, assign
    parameters and submodules as attributes, and implement ``forward``; call the module itself
    (``model(x)``), which runs the forward hooks around ``forward``.

    Example::

        class MLP(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc1 = nn.Linear(9, 16)
                self.fc2 = nn.Linear(16, 2)

            def forward(self, x):
                return self.fc2(F.relu(self.fc1(x)))
    """

    training: bool

    def __init__(self) -> None:
        # object.__setattr__: our own __setattr__ routes through these dicts
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent_buffers", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_hooks", OrderedDict())
        object.__setattr__(self, "_forward_pre_hooks", OrderedDict())
        object.__setattr__(self, "_hooks_with_kwargs", set())  # handle ids: hook gets kwargs
        object.__setattr__(self, "_forward_hooks_always_called", set())
        object.__setattr__(self, "_backward_hooks", OrderedDict())
        object.__setattr__(self, "_backward_pre_hooks", OrderedDict())

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} has no forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not (self._forward_pre_hooks or self._forward_hooks or self._backward_hooks
                or self._backward_pre_hooks):  # the common case: no hook at all
            return self.forward(*args, **kwargs)
        for hid, hook in list(self._forward_pre_hooks.items()):
            if hid in self._hooks_with_kwargs:
                result = hook(self, args, kwargs)
                if result is not None:
                    if not (isinstance(result, tuple) and len(result) == 2):
                        raise RuntimeError(
                            f"{type(self).__name__}: a forward pre-hook registered with "
                            f"with_kwargs=True must return None or (args, kwargs), got "
                            f"{type(result).__name__}")
                    args, kwargs = result
            else:
                result = hook(self, args)
                if result is not None:
                    args = result if isinstance(result, tuple) else (result,)
        bw = None
        if (self._backward_hooks or self._backward_pre_hooks) and is_grad_enabled():
            from minigrad.nn.modules._hooks import CallHooks

            bw = CallHooks(self, list(self._backward_hooks.values()),
                           list(self._backward_pre_hooks.values()))
            args = bw.wrap_inputs(args)
        try:
            out = self.forward(*args, **kwargs)
        except BaseException:
            for hid, hook in list(self._forward_hooks.items()):
                if hid in self._forward_hooks_always_called:
                    try:
                        if hid in self._hooks_with_kwargs:
                            hook(self, args, kwargs, None)
                        else:
                            hook(self, args, None)
                    except Exception:  # noqa: BLE001 - the forward's error is the one to see
                        pass
            raise
        for hid, hook in list(self._forward_hooks.items()):
            if hid in self._hooks_with_kwargs:
                result = hook(self, args, kwargs, out)
            else:
                result = hook(self, args, out)
            if result is not None:
                out = result
        if bw is not None:
            out = bw.wrap_outputs(out)
        return out

    # -- registration --------------------------------------------------------------------------
    def _check_init(self, name: str) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"cannot assign {name!r} before Module.__init__() is called (call "
                "super().__init__() first in your module's __init__)"
            )

    def __setattr__(self, name: str, value: Any) -> None:
        params, buffers, modules = (self.__dict__.get(k) for k in
                                    ("_parameters", "_buffers", "_modules"))
        if isinstance(value, Parameter):
            self._check_init(name)
            self._forget(name)
            params[name] = value
        elif isinstance(value, Module):
            self._check_init(name)
            self._forget(name)
            modules[name] = value
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign a {type(value).__name__} to parameter {name!r} "
                                "(a Parameter or None is required)")
            params[name] = None
        elif modules is not None and name in modules:
            if value is not None:
                raise TypeError(f"cannot assign a {type(value).__name__} to submodule {name!r} "
                                "(a Module or None is required)")
            modules[name] = None
        elif buffers is not None and name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign a {type(value).__name__} to buffer {name!r} "
                                "(a Tensor or None is required)")
            buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def _forget(self, name: str) -> None:
        """Drop ``name`` from every registry and the instance dict (it is about to be re-set)."""
        self.__dict__.pop(name, None)
        for reg in (self._parameters, self._buffers, self._modules):
            reg.pop(name, None)
        self._non_persistent_buffers.discard(name)

    def __getattr__(self, name: str) -> Any:
        # only called when normal lookup fails: look in the registries
        d = self.__dict__
        for reg in ("_parameters", "_buffers", "_modules"):
            if reg in d and name in d[reg]:
                return d[reg][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for reg in (self._parameters, self._buffers, self._modules):
            if name in reg:
                del reg[name]
                self._non_persistent_buffers.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers)
                      | set(self._modules))

    def _register(self, method: str, registry: str, name: str, value: Any, cls: type) -> None:
        """``register_parameter``, ``register_buffer``, ``add_module``: ``value`` (an instance
        of ``cls`` or None) stored under ``name`` in the registry ``registry``, leaving any
        other attribute or registration of that name."""
        self._check_init(name)
        if value is not None and not isinstance(value, cls):
            raise TypeError(f"{method}: {name!r} must be a {cls.__name__} or None, got "
                            f"{type(value).__name__}")
        self._check_name(name)
        self._forget(name)
        getattr(self, registry)[name] = value

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add a parameter (or a ``None`` placeholder, e.g. ``bias=False``) under ``name``."""
        self._register("register_parameter", "_parameters", name, param, Parameter)

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Add a non-learnable tensor (e.g. running statistics) saved in ``state_dict`` unless
        ``persistent=False``; ``to()``/``double()`` convert floating buffers with the
        parameters."""
        self._register("register_buffer", "_buffers", name, tensor, Tensor)
        if not persistent:
            self._non_persistent_buffers.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Add a submodule under ``name`` (the same as ``setattr(self, name, module)``)."""
        self._register("add_module", "_modules", name, module, Module)

    register_module = add_module

    @staticmethod
    def _check_name(name: str) -> None:
        if not isinstance(name, str) or not name or "." in name:
            raise KeyError(f"invalid attribute name {name!r} (a non-empty string without '.')")

    def _add_hook(self, hooks: OrderedDict, hook: Callable, prepend: bool,
                  with_kwargs: bool = False) -> RemovableHandle:
        if not callable(hook):
            raise TypeError(f"{type(self).__name__}: a hook must be callable, got "
                            f"{type(hook).__name__}")
        handle = _Handle(hooks, self._hooks_with_kwargs, self._forward_hooks_always_called)
        hooks[handle.id] = hook
        if prepend:
            hooks.move_to_end(handle.id, last=False)
        if with_kwargs:
            self._hooks_with_kwargs.add(handle.id)
        return handle

    def register_forward_hook(self, hook: Callable[..., Any], *, prepend: bool = False,
                              with_kwargs: bool = False,
                              always_call: bool = False) -> RemovableHandle:
        """``hook(module, args, output)`` runs after every ``forward``; a non-None return
        replaces the output. ``with_kwargs``: ``hook(module, args, kwargs, output)``.
        ``prepend``: run before the hooks already registered. ``always_call``: also run (with
        output None) when ``forward`` raises."""
        handle = self._add_hook(self._forward_hooks, hook, prepend, with_kwargs)
        if always_call:
            self._forward_hooks_always_called.add(handle.id)
        return handle

    def register_forward_pre_hook(self, hook: Callable[..., Any], *, prepend: bool = False,
                                  with_kwargs: bool = False) -> RemovableHandle:
        """``hook(module, args)`` runs before every ``forward``; a non-None return replaces the
        positional arguments (a non-tuple is wrapped into one). ``with_kwargs``:
        ``hook(module, args, kwargs)`` returning None or ``(args, kwargs)``. ``prepend``: run
        before the hooks already registered."""
        return self._add_hook(self._forward_pre_hooks, hook, prepend, with_kwargs)

    def register_full_backward_hook(self, hook: Callable[..., Any], prepend: bool = False
                                    ) -> RemovableHandle:
        """``hook(module, grad_input, grad_output)`` runs when the gradients with respect to
        the inputs of a call of this module have been computed; it may return a tuple that
        replaces ``grad_input``. ``grad_input``: one entry per positional argument of the call
        (None for non-tensors, zeros for tensors that do not require grad; all None when no
        input requires grad); ``grad_output``: one per output tensor. The hook must not modify
        its arguments in place. Only calls made with grad mode on are hooked (see
        :mod:`minigrad.nn.modules._hooks`)."""
        return self._add_hook(self._backward_hooks, hook, prepend)

    def register_full_backward_pre_hook(self, hook: Callable[..., Any], prepend: bool = False
                                        ) -> RemovableHandle:
        """``hook(module, grad_output)`` runs when the gradients with respect to the outputs of
        a call of this module are in, before anything inside the module back-propagates; it may
        return a tuple that replaces ``grad_output``."""
        return self._add_hook(self._backward_pre_hooks, hook, prepend)

    def register_backward_hook(self, hook: Callable[..., Any]) -> RemovableHandle:
        """Not supported: PyTorch deprecated it for giving wrong ``grad_input`` on modules of
        several ops; use :meth:`register_full_backward_hook`."""
        raise NotImplementedError(
            f"{type(self).__name__}.register_backward_hook is not supported (PyTorch deprecated "
            "it: its grad_input is wrong for modules made of several ops); use "
            "register_full_backward_hook(hook), which has the same signature")

    # -- traversal -----------------------------------------------------------------------------
    def named_modules(self, memo: set[Module] | None = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Module]]:
        """``(name, module)`` for this module (name ``prefix``) and every descendant, depth first,
        as PyTorch: a module in ``memo`` (a set of modules, filled as the walk goes) is skipped
        with its subtree, so a module reachable twice is yielded once; with
        ``remove_duplicate=False`` the walk adds nothing to ``memo`` and yields every path."""
        if memo is None:
            memo = set()
        if self in memo:
            return
        if remove_duplicate:
            memo.add(self)
        yield prefix, self
        for name, m in self._modules.items():
            if m is not None:
                yield from m.named_modules(memo, f"{prefix}.{name}" if prefix else name,
                                           remove_duplicate)

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        seen: set[int] = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self) -> Iterator[Module]:
        for _, m in self.named_children():
            yield m

    def _named_members(self, registry: str, prefix: str, recurse: bool,
                       remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        seen: set[int] = set()
        mods = (self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse
                else [(prefix, self)])
        for mod_prefix, m in mods:
            for name, t in getattr(m, registry).items():
                if t is None or id(t) in seen:
                    continue
                if remove_duplicate:
                    seen.add(id(t))
                yield (f"{mod_prefix}.{name}" if mod_prefix else name), t

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        """``(dotted name, parameter)`` pairs; a parameter shared by two layers appears once."""
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def get_submodule(self, target: str) -> Module:
        """The submodule at dotted path ``target`` (``""`` is this module)."""
        mod = self
        for part in target.split(".") if target else []:
            sub = mod._modules.get(part)
            if sub is None:
                raise AttributeError(f"{type(mod).__name__} has no submodule {part!r} "
                                     f"(looking up {target!r})")
            mod = sub
        return mod

    # -- modes and housekeeping ----------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Set training mode on this module and every descendant (dropout, batch norm)."""
        if not isinstance(mode, bool):
            raise TypeError(f"train: mode must be a bool, got {type(mode).__name__}")
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> Module:
        """Evaluation mode: ``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Turn gradient tracking of every parameter on or off, in place; returns the module.

        Freezing for transfer learning: ``model.requires_grad_(False)`` then
        ``model.fc.requires_grad_(True)`` trains only the head (frozen parameters get no
        ``.grad``, and optimizers skip parameters without one)."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset every parameter's gradient: to ``None`` (default) or to zeros in place."""
        zero_grads(self.parameters(), set_to_none)

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call ``fn`` on every submodule (children first) and then on this module, e.g. a
        custom initialisation."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def to(self, *args: Any, device: Any = None, dtype: Any = None) -> Module:
        """Move and/or convert parameters and buffers in place, as PyTorch's ``Module.to``:
        ``to(device)``, ``to(dtype)``, ``to(device, dtype)``, ``to(tensor)`` (its device and
        dtype), or the keywords. Identities are kept (an optimizer built before still holds the
        parameters). A device move moves every buffer and the gradients too; a dtype change
        converts floating parameters and buffers only and drops their gradients.
        """
        for a in args:
            if isinstance(a, Tensor):
                device, dtype = a.device, a.dtype
            elif isinstance(a, str) and not _is_dtype_name(a):  # 'cpu', 'cuda', 'cuda:0'
                device = a
            else:
                dtype = a
        if dtype is not None:
            dt = np.dtype(dtype)
            if not np.issubdtype(dt, np.floating):
                raise TypeError(f"to: modules hold floating parameters; got dtype {dt}")
        dev = _device.device(device) if device is not None else None
        if dev == "cuda":
            from minigrad.cuda import require

            require(f"{type(self).__name__}.to('cuda')")  # fail before anything has moved
        with no_grad():
            for t in list(self.parameters()) + list(self.buffers()):
                if dev is not None and t.device != dev:
                    t.data = _device.move(t.data, dev)
                    if t.grad is not None:
                        t.grad = Tensor._make(_device.move(t.grad.data, dev))
                if dtype is not None and np.issubdtype(t.dtype, np.floating) and t.dtype != dt:
                    t.data = t.data.astype(dt)
                    t.grad = None
        return self

    def cuda(self) -> Module:
        """Move every parameter and buffer to the GPU (``to('cuda')``)."""
        return self.to("cuda")

    def cpu(self) -> Module:
        """Move every parameter and buffer to the host (``to('cpu')``)."""
        return self.to("cpu")

    def double(self) -> Module:
        return self.to(np.float64)

    def float(self) -> Module:
        return self.to(np.float32)

    def num_parameters(self, trainable_only: bool = False) -> int:
        """Number of scalar parameters (each shared parameter counted once)."""
        return sum(p.numel() for p in self.parameters()
                   if p.requires_grad or not trainable_only)

    # -- state ---------------------------------------------------------------------------------
    def state_dict(self, prefix: str = "", keep_vars: bool = False) -> OrderedDict[str, Tensor]:
        """Parameters and persistent buffers by dotted name.

        As in PyTorch the values share storage with the module (detached Tensors, or the
        Parameters themselves with ``keep_vars=True``), so they are on the module's device: copy
        them (``copy.deepcopy``, or ``.cpu()`` from the GPU) to keep a snapshot while training
        goes on. :meth:`save` writes them to disk as host arrays.
        """
        out: OrderedDict[str, Tensor] = OrderedDict()
        for mod_prefix, m in self.named_modules(prefix=prefix, remove_duplicate=False):
            dot = f"{mod_prefix}." if mod_prefix else ""
            for name, p in m._parameters.items():
                if p is not None:
                    out[dot + name] = p if keep_vars else p.detach()
            for name, b in m._buffers.items():
                if b is not None and name not in m._non_persistent_buffers:
                    out[dot + name] = b if keep_vars else b.detach()
        return out

    def _state_targets(self) -> OrderedDict[str, Tensor]:
        return self.state_dict(keep_vars=True)

    def load_state_dict(self, state_dict: dict[str, Any], strict: bool = True) -> IncompatibleKeys:
        """Copy ``state_dict``'s values (Tensors or arrays) into the parameters and buffers.

        Every value's shape AND dtype must match (no silent casts); with ``strict=True`` (default)
        the keys must match exactly too. Values may live on either device: each is copied to the
        device of the parameter or buffer it loads into. All problems are checked first: on any
        mismatch a ``RuntimeError`` lists every one of them and nothing is loaded. Returns
        ``(missing_keys, unexpected_keys)`` (non-empty only with ``strict=False``). Values are
        copied into the existing arrays, so Parameters keep their identity (an optimizer that
        holds them keeps working).
        """
        targets = self._state_targets()
        missing = [k for k in targets if k not in state_dict]
        unexpected = [k for k in state_dict if k not in targets]
        problems = []
        if strict:
            if missing:
                problems.append("missing key(s): " + ", ".join(repr(k) for k in missing))
            if unexpected:
                problems.append("unexpected key(s): " + ", ".join(repr(k) for k in unexpected))
        arrays = {}
        for k, t in targets.items():
            if k not in state_dict:
                continue
            v = state_dict[k]
            arr = v.data if isinstance(v, Tensor) else v
            if not _device.is_cuda(arr):
                arr = np.asarray(arr)
            if arr.shape != t.shape:
                problems.append(f"{k!r}: shape {arr.shape} in the state dict, {t.shape} in the "
                                "model")
            elif arr.dtype != t.dtype:
                problems.append(f"{k!r}: dtype {arr.dtype} in the state dict, {t.dtype} in the "
                                "model")
            arrays[k] = arr
        if problems:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__} "
                               "(nothing was loaded):\n\t" + "\n\t".join(problems))
        for k, arr in arrays.items():
            _copy_into(targets[k].data, arr)
        return IncompatibleKeys(missing, unexpected)

    def save(self, path: str | os.PathLike) -> None:
        """Write ``state_dict()`` to ``path`` as an uncompressed ``.npz`` (one array per entry,
        under its name; ``np.load`` reads it), atomically: a crash never leaves a truncated
        checkpoint. The name is used as given (no suffix is added). ``minigrad.save`` writes
        several state dicts (model, optimizer, scheduler) into one file; see
        :mod:`minigrad.serialization` for the format and the atomic write."""
        serialization.save_state_dict(self.state_dict(), path, f"{type(self).__name__}.save")

    def load(self, path: str | os.PathLike, strict: bool = True) -> IncompatibleKeys:
        """Load a checkpoint written by :meth:`save`, or by ``minigrad.save(model.state_dict(),
        path)`` (checked as in :meth:`load_state_dict`). A file that is not such a checkpoint
        (a PyTorch ``.pt``, a pickle, a ``.npy``, text) raises ``ValueError`` saying what it is."""
        state = serialization.load_state_dict_file(path, f"{type(self).__name__}.load")
        return self.load_state_dict(dict(state), strict=strict)

    # -- display -------------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The text inside ``Name(...)``: layer settings (override in layers)."""
        return ""

    def __repr__(self) -> str:
        lines = []
        extra = self.extra_repr()
        if extra:
            lines.extend(extra.split("\n"))
        for name, m in self._modules.items():
            body = repr(m).replace("\n", "\n  ")
            lines.append(f"({name}): {body}")
        if not self._modules and "\n" not in extra:
            return f"{type(self).__name__}({extra})"
        return f"{type(self).__name__}(\n  " + "\n  ".join(lines) + "\n)"

    def summary(self, input_shape: tuple[int, ...], dtype: Any = np.float32,
                max_depth: int | None = None,
                print_fn: Callable[[str], Any] | None = print) -> str:
        """Run one forward on zeros of ``input_shape`` (batch axis included, e.g.
        ``(1, 1, 32, 32)``) and tabulate every submodule that ran, in call order, indented by
        depth: its output shape and its parameter count (a container's count includes its
        children's; a module called twice is listed twice, its parameters counted on its first
        row); ``max_depth`` hides submodules nested deeper (1: direct children only). Runs in
        eval mode under ``no_grad`` and
        restores the modes afterwards. Prints the table (unless ``print_fn=None``) and returns
        it."""
        names = {id(m): n for n, m in self.named_modules()}
        depth = {id(m): n.count(".") + 1 if n else 0 for n, m in self.named_modules()}
        rows: list[list[Any]] = []
        open_rows: dict[int, list[list[Any]]] = {}  # a stack per module: calls may nest
        seen: set[int] = set()

        def pre(m: Module, inputs: tuple) -> None:
            if m is self:
                return
            n = 0 if id(m) in seen else sum(p.numel() for p in m.parameters())
            seen.add(id(m))
            rows.append([m, "?", n])
            open_rows.setdefault(id(m), []).append(rows[-1])

        def post(m: Module, inputs: tuple, out: Any) -> None:
            if m is not self:
                open_rows[id(m)].pop()[1] = _shape_of(out)

        handles = []
        modes = {id(m): m.training for m in self.modules()}
        for m in self.modules():
            handles.append(m.register_forward_pre_hook(pre))
            handles.append(m.register_forward_hook(post))
        self.eval()
        try:
            with no_grad():
                x = np.zeros(tuple(input_shape), dtype=dtype)
                first = next(iter(self.parameters()), None)
                if first is not None and first.is_cuda:
                    x = _device.move(x, "cuda")
                out = self(Tensor._make(x))
        finally:
            for h in handles:
                h.remove()
            for m in self.modules():
                object.__setattr__(m, "training", modes[id(m)])

        table = [("Layer (type)", "Output Shape", "Param #"),
                 ("Input", str(tuple(input_shape)), "")]
        for m, shape, n in rows:
            if max_depth is not None and depth.get(id(m), 1) > max_depth:
                continue
            name = names.get(id(m), "?").rsplit(".", 1)[-1]
            label = "  " * (depth.get(id(m), 1) - 1) + f"{name} ({type(m).__name__})"
            table.append((label, shape, f"{n:,}" if n else "0"))
        widths = [max(len(r[i]) for r in table) for i in range(3)]
        rule = "-" * (sum(widths) + 6)
        text = io.StringIO()
        text.write(f"{type(self).__name__} summary\n{rule}\n")
        for i, r in enumerate(table):
            line = f"{r[0]:<{widths[0]}}   {r[1]:<{widths[1]}}   {r[2]:>{widths[2]}}"
            text.write(line.rstrip() + "\n")
            if i == 0:
                text.write(rule.replace("-", "=") + "\n")
        total = self.num_parameters()
        trainable = self.num_parameters(trainable_only=True)
        text.write(f"{rule}\nOutput: {_shape_of(out)}\nTotal params: {total:,}\n"
                   f"Trainable params: {trainable:,}\nNon-trainable params: "
                   f"{total - trainable:,}\n")
        s = text.getvalue().rstrip("\n")
        if print_fn is not None:
            print_fn(s)
        return s


class _Handle(RemovableHandle):
    """A module hook's handle: removing it also forgets the hook's flags."""

    def __init__(self, hooks: dict, *flag_sets: set) -> None:
        super().__init__(hooks)
        self._flag_sets = flag_sets

    def remove(self) -> None:
        super().remove()
        for flags in self._flag_sets:
            flags.discard(self.id)


def _copy_into(dst: Any, src: Any) -> None:
    """Copy array ``src`` (either device) into array ``dst`` (either device) in place."""
    if _device.is_cuda(dst):
        if _device.is_cuda(src):
            if dst.size:
                dst._buf.copy_to_device(src._buf)  # device to device, no host round trip
        else:
            dst._set_from_host(np.asarray(src))
    else:
        dst[...] = _device.to_host(src)


def _shape_of(out: Any) -> str:
    if isinstance(out, Tensor):
        return str(tuple(out.shape))
    if isinstance(out, tuple | list):
        return "[" + ", ".join(_shape_of(o) for o in out) + "]"
    return type(out).__name__
