"""``Optimizer``: parameter groups, per-parameter state, ``zero_grad`` and resumable state dicts.

Subclasses implement ``_update(p, grad, state, group)`` on NumPy arrays: ``p`` is the parameter's
storage (``param.data``), updated in place, and ``grad`` is ``param.grad.data`` (read only). The
base class walks the groups under ``no_grad`` so an update never records a graph.

Parameters on the GPU (``p.data`` a ``CudaArray``) go to ``_update_cuda(p, grad, state, group,
maximize)`` instead: the built-in optimizers run one fused kernel per parameter there
(``minigrad/ops/kernels/cuda/optim.py``); the default runs ``_update`` on the GPU arrays through
NumPy dispatch (correct, but one launch per NumPy call). State buffers live on the parameter's
device; ``state_dict()`` holds host (NumPy) copies and ``load_state_dict`` puts each buffer on its
parameter's device, so a checkpoint moves freely between CPU and GPU.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from minigrad import _device as _device
from minigrad.autograd import enable_grad, no_grad
from minigrad.autograd._zero_grad import zero_grads
from minigrad.tensor import Tensor

__all__ = ["Optimizer"]

ParamsT = Iterable[Tensor] | Iterable[dict[str, Any]]


class Optimizer:
    """Base class of the optimizers (PyTorch's ``torch.optim.Optimizer`` API).

    Args:
        params: an iterable of float leaf Tensors, e.g. ``model.parameters()`` (frozen ones,
            with ``requires_grad=False``, are kept and skipped while they have no gradient),
            or of dicts ``{"params": [...], <option>: value}``
            defining parameter groups with their own options; options a group leaves out take
            the optimizer's defaults::

                decay, no_decay = [], []
                for name, p in model.named_parameters():
                    (no_decay if name.endswith("bias") else decay).append(p)
                opt = optim.SGD([{"params": decay}, {"params": no_decay, "weight_decay": 0}],
                                lr=0.1, momentum=0.9, weight_decay=5e-4)

        defaults: the optimizer's options and their default values.

    ``state[p]`` holds each parameter's buffers (arrays of the parameter's shape and dtype on the
    parameter's device, plus a ``"step"`` count where the method needs one).
    """

    def __init__(self, params: ParamsT, defaults: dict[str, Any]) -> None:
        if isinstance(params, Tensor):
            raise TypeError(
                f"{type(self).__name__}: params must be an iterable of Tensors or dicts, got a "
                "single Tensor (wrap it in a list)"
            )
        if isinstance(params, set):
            raise TypeError(f"{type(self).__name__}: parameters must be an ordered sequence, not "
                            "a set (the order must be the same on every run for state_dict to "
                            "resume)")
        self.defaults = dict(defaults)
        self.state: dict[Tensor, dict[str, Any]] = {}
        self.param_groups: list[dict[str, Any]] = []
        groups = list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for g in groups:
            self.add_param_group(g)

    # -- groups --------------------------------------------------------------------------------
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own options (missing options take the defaults)."""
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(f"{name}: a parameter group must be a dict, got "
                            f"{type(param_group).__name__}")
        group = dict(param_group)
        params = group.get("params")
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError(f"{name}: parameters must be an ordered sequence, not a set (the "
                            "order must be the same on every run for state_dict to resume)")
        group["params"] = params = list(params if params is not None else [])
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"{name}: can only optimize Tensors, got {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(f"{name}: can't optimize a non-leaf Tensor (shape {p.shape})")
            # a frozen parameter (requires_grad False) is accepted and skipped while it has no
            # gradient, as in PyTorch: freeze with requires_grad_(False), unfreeze later
            if not np.issubdtype(p.dtype, np.floating):
                raise ValueError(f"{name}: can only optimize floating-point Tensors, got a "
                                 f"parameter of shape {p.shape} and dtype {p.dtype}")
        if len({id(p) for p in params}) != len(params):
            raise ValueError(f"{name}: a parameter appears twice in one parameter group")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError(f"{name}: some parameters appear in more than one parameter group")
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        self._check_group(group)
        self.param_groups.append(group)
        self._init_group(group)

    def _check_group(self, group: dict[str, Any]) -> None:
        """Validate a group's options (subclasses raise ValueError on bad values)."""

    def _init_group(self, group: dict[str, Any]) -> None:
        """Create state eagerly where the method needs it (Adagrad); default: lazily in step."""

    def _state_names(self, group: dict[str, Any]) -> tuple[str, ...]:
        """The per-parameter buffers the method keeps with the group's options (Adam: the
        moments), created zero by :meth:`_advance`."""
        return ()

    def _advance(self, p: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        """Count one more step in a parameter's ``state``, creating it on the first: ``step``
        and the buffers of :meth:`_state_names`, zeros like ``p`` (on its device)."""
        if not state:
            state["step"] = 0
            for name in self._state_names(group):
                state[name] = np.zeros_like(p)
        state["step"] += 1

    # -- the update ----------------------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset every parameter's gradient: to ``None`` (default) or to zeros in place."""
        zero_grads((p for group in self.param_groups for p in group["params"]), set_to_none)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient, in place; returns ``closure()``'s loss.

        ``closure`` (optional) re-evaluates the model and returns the loss; it runs with grad
        recording on, before the update.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    grad = p.grad.data
                    if grad.shape != p.shape:
                        raise ValueError(f"{type(self).__name__}.step: gradient of shape "
                                         f"{grad.shape} for a parameter of shape {p.shape}")
                    maximize = group.get("maximize", False)
                    state = self.state.setdefault(p, {})
                    if _device.is_cuda(p.data):
                        if grad.dtype != p.dtype or not _device.is_cuda(grad):
                            grad = _device.asarray(grad, p.dtype, like=p.data)
                        _follow(state, p.data)
                        self._update_cuda(p.data, grad, state, group, maximize)
                    else:
                        if _device.is_cuda(grad):
                            grad = grad.get()
                        _follow(state, p.data)
                        if maximize:  # (an array even for 0-d parameters)
                            grad = np.negative(grad, out=np.empty_like(grad))
                        self._update(p.data, grad, state, group)
        return loss

    def _update(self, p: np.ndarray, grad: np.ndarray, state: dict[str, Any],
                group: dict[str, Any]) -> None:
        raise NotImplementedError

    def _update_cuda(self, p: Any, grad: Any, state: dict[str, Any], group: dict[str, Any],
                     maximize: bool) -> None:
        """The update of a GPU parameter (``p``, ``grad``: CudaArrays of one dtype), with
        ``maximize`` not yet applied. Default: ``_update`` through NumPy dispatch."""
        self._update(p, -grad if maximize else grad, state, group)

    # -- checkpoints ---------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """``{"state": {index: {name: value}}, "param_groups": [{option: value, "params":
        [index, ...]}]}``, parameters numbered in group order (PyTorch's layout).

        Unlike PyTorch the state's arrays are copies, so a saved state dict does not change when
        training goes on; they are host (NumPy) arrays even for parameters on the GPU, so the
        dict can be pickled and loaded into an optimizer on either device.
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            ids = []
            for p in group["params"]:
                index.setdefault(id(p), len(index))
                ids.append(index[id(p)])
            packed["params"] = ids
            groups.append(packed)
        state = {
            index[id(p)]: {k: _device.to_host(v).copy() if _is_array(v) else copy.deepcopy(v)
                           for k, v in s.items()}
            for group in self.param_groups
            for p in group["params"]
            if (s := self.state.get(p))
        }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore options and state from :meth:`state_dict` so training resumes identically.

        Everything is checked (group count and sizes, state shapes and dtypes) before anything is
        changed; on a mismatch ``ValueError`` says what differs and the optimizer is untouched.
        Each state array is copied to its parameter's device and dtype.
        """
        name = type(self).__name__
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{name}.load_state_dict: the state dict has {len(saved_groups)} "
                             f"parameter groups, the optimizer {len(self.param_groups)}")
        params_by_index: dict[int, Tensor] = {}
        for i, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(f"{name}.load_state_dict: group {i} has {len(saved['params'])} "
                                 f"parameters in the state dict, {len(group['params'])} here")
            params_by_index.update(zip(saved["params"], group["params"]))
        new_state: dict[Tensor, dict[str, Any]] = {}
        pending: list[tuple[dict[str, Any], str, Any, Tensor]] = []  # arrays, copied once checked
        for idx, s in state_dict["state"].items():
            if idx not in params_by_index:
                raise ValueError(f"{name}.load_state_dict: state for parameter {idx}, which no "
                                 "group holds")
            p = params_by_index[idx]
            entry = {}
            for k, v in s.items():
                if isinstance(v, Tensor):
                    v = v.data
                if _is_array(v) and (v.ndim > 0 or p.ndim == 0):  # a buffer, not a 0-d count
                    if v.shape != p.shape:
                        raise ValueError(f"{name}.load_state_dict: state {k!r} of parameter {idx} "
                                         f"has shape {v.shape}, the parameter {p.shape}")
                    pending.append((entry, k, v, p))
                else:
                    v = copy.deepcopy(v)
                entry[k] = v
            new_state[p] = entry
        for entry, k, v, p in pending:
            entry[k] = _copy_to(v, p.data)
        for saved, group in zip(saved_groups, self.param_groups):
            for k, v in saved.items():
                if k != "params":
                    group[k] = copy.deepcopy(v)
        self.state = new_state

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k in sorted(group):
                if k != "params":
                    lines.append(f"    {k}: {group[k]}")
        lines.append(")")
        return "\n".join(lines)


def _is_array(v: Any) -> bool:
    return isinstance(v, np.ndarray) or _device.is_cuda(v)


def _copy_to(v: Any, like: Any) -> Any:
    """A copy of array ``v`` with ``like``'s device and dtype."""
    if _device.is_cuda(like):
        out = _device.asarray(v, like.dtype, like=like)
        return out.copy() if out is v else out
    return np.array(_device.to_host(v), dtype=like.dtype, copy=True)


def _follow(state: dict[str, Any], p: Any) -> None:
    """Move state arrays to ``p``'s device if the parameter moved (``model.cuda()`` after the
    optimizer had taken steps)."""
    on_gpu = _device.is_cuda(p)
    for k, v in state.items():
        if _is_array(v) and v.shape == p.shape and _device.is_cuda(v) != on_gpu:
            state[k] = _copy_to(v, p)
