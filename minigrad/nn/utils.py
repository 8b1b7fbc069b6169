"""Gradient clipping and parameter/vector conversion (PyTorch's ``torch.nn.utils``)."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from minigrad import _device as _device
from minigrad.autograd import no_grad
from minigrad.tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "parameters_to_vector",
           "vector_to_parameters"]


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


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All parameters flattened and concatenated into one 1-D tensor (a copy, no graph)."""
    ps = list(parameters)
    if not ps:
        return Tensor._make(np.zeros(0, dtype=np.float32))
    return Tensor._make(np.concatenate([p.data.ravel() for p in ps]))


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of the 1-D ``vec`` into the parameters, in place."""
    ps = list(parameters)
    n = sum(p.numel() for p in ps)
    if vec.ndim != 1 or vec.shape[0] != n:
        raise ValueError(f"vector_to_parameters: vec of shape {vec.shape} does not hold the {n} "
                         "parameter elements")
    offset = 0
    with no_grad():
        for p in ps:
            p.data[...] = vec.data[offset:offset + p.numel()].reshape(p.shape)
            offset += p.numel()
