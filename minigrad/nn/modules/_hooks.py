"""Full backward hooks of a Module call (PyTorch's ``register_full_backward_hook`` and
``register_full_backward_pre_hook``).

A call of a module with such hooks passes its tensor inputs through one identity node
(:class:`BackwardHookFn`) before ``forward`` and its tensor outputs through another after it.
The engine runs a node's backward once the gradients of all its outputs are in, so:

* the output node's backward sees every ``grad_output`` at once: the pre-hooks run there
  (``hook(module, grad_output)``, which may return replacements) and the gradients are kept;
* the input node's backward sees every ``grad_input`` at once, after everything inside the module
  has run: the hooks run there (``hook(module, grad_input, grad_output)``, which may return
  replacements for ``grad_input``) and what they return flows on to the inputs.

``grad_input`` has one entry per positional argument of the call (None for non-tensors, zeros
for tensors that do not require grad, as PyTorch); ``grad_output`` one per output tensor. When
no input requires grad, the hooks run at the output node with ``grad_input`` all None and must
return None, as in PyTorch. The two nodes of one call share a small state object, so concurrent
calls of one module do not mix.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from minigrad.autograd import Function
from minigrad.tensor import Tensor

if TYPE_CHECKING:
    from minigrad.nn.modules.module import Module

__all__ = ["BackwardHookFn", "CallHooks"]


class BackwardHookFn(Function):
    """Identity on its tensors; its backward hands their gradients (one per input) to
    ``on_grads`` and passes on what that returns."""

    @staticmethod
    def forward(ctx, *xs, on_grads):
        ctx.on_grads = on_grads
        return tuple(x.data for x in xs)

    @staticmethod
    def backward(ctx, *grads):
        return tuple(ctx.on_grads(grads))


class CallHooks:
    """The full backward hooks of one module call: wraps its inputs and outputs."""

    def __init__(self, module: Module, hooks: list[Callable], pre_hooks: list[Callable]) -> None:
        self.module = module
        self.hooks = hooks
        self.pre_hooks = pre_hooks
        self.n_args = 0
        self.input_positions: list[int] = []  # positional args that went through the input node
        self.grad_output: tuple[Any, ...] | None = None

    def _run(self, hooks: list[Callable], grads: tuple[Any, ...], extra: tuple[Any, ...],
             kind: str, what: str, expected: str) -> tuple[Any, ...]:
        """``grads`` passed through ``hooks`` in order: ``hook(module, grads, *extra)`` returning
        None keeps them, otherwise its tuple, list or one value replaces them and must be as
        long (``kind``, ``what``, ``expected``: the error message's words)."""
        for hook in hooks:
            res = hook(self.module, grads, *extra)
            if res is None:
                continue
            res = tuple(res) if isinstance(res, tuple | list) else (res,)
            if len(res) != len(grads):
                raise RuntimeError(f"{type(self.module).__name__}: {kind} {_name(hook)} "
                                   f"returned {len(res)} {what} values, {expected}")
            grads = res
        return grads

    # -- inputs ---------------------------------------------------------------------------------
    def wrap_inputs(self, args: tuple[Any, ...]) -> tuple[Any, ...]:
        self.n_args = len(args)
        self.input_positions = [i for i, a in enumerate(args)
                                if isinstance(a, Tensor) and a.requires_grad]
        # tensor inputs that do not require grad get zeros in grad_input (PyTorch's rule)
        self.constant_inputs = [(i, a) for i, a in enumerate(args)
                                if isinstance(a, Tensor) and not a.requires_grad]
        if not self.input_positions:
            return args
        outs = BackwardHookFn.apply(*(args[i] for i in self.input_positions),
                                    on_grads=self._on_grad_input)
        new = list(args)
        for i, o in zip(self.input_positions, outs):
            new[i] = o
        return tuple(new)

    def _on_grad_input(self, grads: tuple[Any, ...]) -> tuple[Any, ...]:
        from minigrad.tensor import zeros_like

        full = _spread(grads, self.input_positions, self.n_args)
        for i, a in self.constant_inputs:
            full[i] = zeros_like(a)
        grad_input = self._run(self.hooks, tuple(full), (self.grad_output,), "backward hook",
                               "grad_input", f"but the module was called with {self.n_args} "
                               "positional arguments")
        return tuple(grad_input[i] for i in self.input_positions)

    # -- outputs --------------------------------------------------------------------------------
    def wrap_outputs(self, out: Any) -> Any:
        tensors = out if isinstance(out, tuple | list) else (out,)
        positions = [i for i, t in enumerate(tensors)
                     if isinstance(t, Tensor) and t.requires_grad]
        if not positions:
            return out
        self.n_outputs = len(tensors)
        self.output_positions = positions
        wrapped = BackwardHookFn.apply(*(tensors[i] for i in positions),
                                       on_grads=self._on_grad_output)
        new = list(tensors)
        for i, w in zip(positions, wrapped):
            new[i] = w
        if isinstance(out, tuple | list):
            return type(out)(new)
        return new[0]

    def _on_grad_output(self, grads: tuple[Any, ...]) -> tuple[Any, ...]:
        grad_output = tuple(_spread(grads, self.output_positions, self.n_outputs))
        grad_output = self._run(self.pre_hooks, grad_output, (), "backward pre-hook",
                                "grad_output", f"expected {self.n_outputs}")
        self.grad_output = grad_output
        if not self.input_positions and self.hooks:
            # no input requires grad: the hooks see grad_input all None (PyTorch's rule)
            none = (None,) * self.n_args
            for hook in self.hooks:
                res = hook(self.module, none, grad_output)
                if res is not None and not all(r is None for r in res):
                    raise RuntimeError(
                        f"{type(self.module).__name__}: backward hook {_name(hook)} returned "
                        "gradients, but no input of the call requires grad; it must return None")
        return tuple(grad_output[i] for i in self.output_positions)


def _spread(grads: tuple[Any, ...], positions: list[int], n: int) -> list[Any]:
    """A list of n entries: ``grads`` at ``positions``, None elsewhere."""
    full: list[Any] = [None] * n
    for i, g in zip(positions, grads):
        full[i] = g
    return full


def _name(hook: Callable) -> str:
    return getattr(hook, "__qualname__", type(hook).__name__)
