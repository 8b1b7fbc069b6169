"""Gradient clipping, parameter/vector conversion and weight normalisation (PyTorch's
``torch.nn.utils``), and the switch of :class:`~minigrad.nn.Sequential`'s layer + ReLU fusion
(:func:`fusion`)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import numpy as np

from minigrad import _device as _device
from minigrad.autograd import no_grad
from minigrad.tensor import Tensor

if TYPE_CHECKING:
    from minigrad.nn.modules.module import Module

__all__ = ["clip_grad_norm_", "clip_grad_value_", "parameters_to_vector",
           "vector_to_parameters", "weight_norm", "remove_weight_norm", "fusion",
           "fusion_enabled"]

# whether nn.Sequential may fuse Conv2d/Linear + ReLU pairs (see fusion())
_FUSION = [True]


def fusion_enabled() -> bool:
    """Whether :class:`~minigrad.nn.Sequential` may run a ``Conv2d`` or ``Linear`` followed by
    ``ReLU`` as one fused op (see :func:`fusion`).

    Returns:
        The current setting (``True`` unless switched off).
    """
    return _FUSION[0]


@contextmanager
def fusion(enabled: bool) -> Iterator[None]:
    """Switch layer + ReLU fusion in :class:`~minigrad.nn.Sequential` on or off inside a
    ``with`` block (the previous setting comes back after it).

    The setting is process-wide (not per thread). Fusion changes no value and no gradient
    (the fused ops equal the unfused layers bit for bit); it shows in the graph, where one node
    (``Conv2dRelu``, ``Conv2dReluMaxPool2d``, ``LinearRelu``) stands for two or three. Switch it
    off to see every module's own node, or to compare speeds. A single ``Sequential`` is
    switched off with ``seq.fuse = False``.

    Args:
        enabled: whether Sequential may fuse inside the block.

    Example::

        with minigrad.nn.utils.fusion(False):
            y = model(x)   # every module runs as written
    """
    prev = _FUSION[0]
    _FUSION[0] = bool(enabled)
    try:
        yield
    finally:
        _FUSION[0] = prev


def _params(parameters: Tensor | Iterable[Tensor]) -> list[Tensor]:
    return [parameters] if isinstance(parameters, Tensor) else list(parameters)


def clip_grad_norm_(parameters: Tensor | Iterable[Tensor], max_norm: float,
                    norm_type: float = 2.0, error_if_nonfinite: bool = False) -> Tensor:
    """Scale all gradients together, in place, so that their joint norm is at most ``max_norm``.

    The joint norm is the ``norm_type``-norm of all gradient elements as one vector (``inf``:
    the largest absolute value). Gradients are multiplied by
    ``min(1, max_norm / (total_norm + 1e-6))``. Returns the total norm before clipping as a 0-d
    Tensor (float64 holds it exactly; PyTorch returns it in the gradients' dtype). A NaN or inf
    norm raises ``RuntimeError`` when ``error_if_nonfinite`` and otherwise scales gradients by
    NaN, as PyTorch does.
    """
    grads = [p.grad.data for p in _params(parameters) if p.grad is not None]
    norm_type = float(norm_type)
    if not grads:
        return Tensor._make(np.array(0.0))
    if math.isinf(norm_type):
        total = max(float(np.max(np.abs(g))) if g.size else 0.0 for g in grads)
    else:
        # one small host read per gradient (GPU gradients included), then the norm of norms
        per = [float(np.linalg.norm(g.ravel().astype(np.float64), norm_type)) for g in grads]
        total = float(np.linalg.norm(np.array(per), norm_type))
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} of the "
                           "gradients is non-finite, so it cannot be clipped")
    coef = float(max_norm) / (total + 1e-6)
    if coef < 1 or math.isnan(coef):
        with no_grad():
            for g in grads:
                g *= coef
    return Tensor._make(_device.asarray(np.array(total), like=grads[0]))


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float) -> None:
    """Clip every gradient element into ``[-clip_value, clip_value]``, in place."""
    c = float(clip_value)
    if c < 0:
        raise ValueError(f"clip_grad_value_: clip_value must be >= 0, got {clip_value}")
    with no_grad():
        for p in _params(parameters):
            if p.grad is not None:
                np.clip(p.grad.data, -c, c, out=p.grad.data)


def _same_device(who: str, ps: list[Tensor]) -> None:
    devices = {p.device for p in ps}
    if len(devices) > 1:
        raise ValueError(f"{who}: all parameters must be on one device, got {sorted(devices)}")


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All parameters flattened and concatenated into one 1-D tensor, in order.

    As PyTorch's, it is differentiable (a ``cat`` of reshapes): a loss on the vector sends
    gradients to the parameters. An empty iterable gives an empty float32 vector (PyTorch
    raises). All parameters must be on one device.
    """
    from minigrad.ops.shape import cat

    ps = list(parameters)
    if not ps:
        return Tensor._make(np.zeros(0, dtype=np.float32))
    _same_device("parameters_to_vector", ps)
    return cat([p.reshape(-1) for p in ps])


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of the 1-D ``vec`` into the parameters, in place, under
    ``no_grad`` (the inverse of :func:`parameters_to_vector`).

    Unlike PyTorch, which makes each parameter's ``.data`` a view of ``vec``, the values are
    copied, so the parameters keep their own storage and an optimizer holding them keeps
    working; changing ``vec`` afterwards does not change them.
    """
    if not isinstance(vec, Tensor):
        raise TypeError(f"vector_to_parameters: expected a Tensor, got {type(vec).__name__}")
    ps = list(parameters)
    n = sum(p.numel() for p in ps)
    if vec.ndim != 1 or vec.shape[0] != n:
        raise ValueError(f"vector_to_parameters: vec of shape {vec.shape} does not hold the {n} "
                         "parameter elements")
    _same_device("vector_to_parameters", [vec, *ps])
    offset = 0
    with no_grad():
        for p in ps:
            p.data[...] = vec.data[offset:offset + p.numel()].reshape(p.shape).astype(
                p.dtype, copy=False)
            offset += p.numel()


# ------------------------------------------------------------------------------------------------
# weight normalisation


def _norm_except_dim(v: Tensor, dim: int | None) -> Tensor:
    """The 2-norm of ``v`` over every axis but ``dim`` (kept as size 1; None or -1: over all,
    a 0-d result, as PyTorch's ``weight_norm``)."""
    if dim is None or dim == -1:
        return (v * v).sum().sqrt()
    axes = tuple(a for a in range(v.ndim) if a != dim)
    return (v * v).sum(axis=axes, keepdims=True).sqrt()


class _WeightNorm:
    """The forward pre-hook of :func:`weight_norm`: recomputes ``weight = g * v / |v|``."""

    def __init__(self, name: str, dim: int | None) -> None:
        self.name = name
        self.dim = dim

    def compute(self, module: Module) -> Tensor:
        g = getattr(module, self.name + "_g")
        v = getattr(module, self.name + "_v")
        return v * (g / _norm_except_dim(v, self.dim))

    def __call__(self, module: Module, inputs: tuple) -> None:
        object.__setattr__(module, self.name, self.compute(module))


def weight_norm(module: Module, name: str = "weight", dim: int | None = 0) -> Module:
    """Reparameterise ``module.<name>`` as ``g * v / |v|`` (Salimans & Kingma): the parameter is
    replaced by ``<name>_g`` (the norms, over every axis but ``dim``; ``dim=None``: one norm)
    and ``<name>_v`` (the direction), and a forward pre-hook recomputes ``<name>`` from them
    before every call, so gradients reach g and v. Returns the module.

    As PyTorch's (deprecated there in favour of parametrizations, which minigrad does not
    have): the state dict holds ``<name>_g`` and ``<name>_v``; ``dim=-1`` means one norm over
    everything, as ``dim=None``.
    """
    from minigrad.nn.parameter import Parameter

    for hook in module._forward_pre_hooks.values():
        if isinstance(hook, _WeightNorm) and hook.name == name:
            raise RuntimeError(f"weight_norm: {type(module).__name__}.{name} already has a "
                               "weight_norm hook")
    weight = module._parameters.get(name)
    if weight is None:
        raise ValueError(f"weight_norm: {type(module).__name__} has no parameter {name!r}")
    if dim is not None and not -weight.ndim <= dim < weight.ndim:
        raise ValueError(f"weight_norm: dim {dim} is out of range for {name} of shape "
                         f"{weight.shape}")
    if dim is not None and dim < -1:
        dim += weight.ndim
    fn = _WeightNorm(name, dim)
    with no_grad():
        g = _norm_except_dim(weight, dim)
    del module._parameters[name]
    module.register_parameter(name + "_g", Parameter(g.data.copy()))
    module.register_parameter(name + "_v", Parameter(weight.data))
    fn(module, ())
    module.register_forward_pre_hook(fn)
    return module


def remove_weight_norm(module: Module, name: str = "weight") -> Module:
    """Undo :func:`weight_norm`: ``<name>`` becomes a Parameter again holding ``g * v / |v|``
    (``<name>_g`` and ``<name>_v`` are removed). Returns the module."""
    from minigrad.nn.parameter import Parameter

    for hid, hook in list(module._forward_pre_hooks.items()):
        if isinstance(hook, _WeightNorm) and hook.name == name:
            with no_grad():
                weight = hook.compute(module)
            module.__dict__.pop(name, None)
            del module._parameters[name + "_g"]
            del module._parameters[name + "_v"]
            module.register_parameter(name, Parameter(weight.data))
            del module._forward_pre_hooks[hid]
            return module
    raise ValueError(f"remove_weight_norm: weight_norm of {name!r} not found in "
                     f"{type(module).__name__}")

