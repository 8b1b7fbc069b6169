"""Stochastic gradient descent with momentum, dampening, Nesterov momentum and weight decay."""

from __future__ import annotations

from typing import Any

import numpy as np

from minigrad.ops.kernels.cpu.optim import fusable, sgd_step
from minigrad.optim.optimizer import Optimizer, ParamsT

__all__ = ["SGD"]


class SGD(Optimizer):
    """SGD, with PyTorch's update equations and defaults.

    Per step, with ``g`` the gradient (negated when ``maximize``)::

        g = g + weight_decay * p
        if momentum:
            b = g                                       (first step)
            b = momentum * b + (1 - dampening) * g      (later steps)
            g = g + momentum * b  if nesterov else  b
        p = p - lr * g

    Nesterov needs ``momentum > 0`` and ``dampening == 0``.
    """

    def __init__(self, params: ParamsT, lr: float = 1e-3, momentum: float = 0.0,
                 dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False, *,
                 maximize: bool = False) -> None:
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov,
                                      maximize=maximize))

    def _check_group(self, group: dict[str, Any]) -> None:
        if group["lr"] < 0:
            raise ValueError(f"SGD: invalid learning rate {group['lr']}")
        if group["momentum"] < 0:
            raise ValueError(f"SGD: invalid momentum {group['momentum']}")
        if group["weight_decay"] < 0:
            raise ValueError(f"SGD: invalid weight_decay {group['weight_decay']}")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("SGD: nesterov momentum requires momentum > 0 and dampening = 0")

    def _update(self, p: np.ndarray, grad: np.ndarray, state: dict[str, Any],
                group: dict[str, Any]) -> None:
        lr, momentum, wd = group["lr"], group["momentum"], group["weight_decay"]
        buf = state.get("momentum_buffer") if momentum != 0 else None
        if fusable(p, grad, buf):  # one pass over memory, the same arithmetic as below
            first = momentum != 0 and buf is None
            if first:
                buf = state["momentum_buffer"] = np.empty_like(p)
            sgd_step(p, grad, buf, lr=lr, momentum=momentum, dampening=group["dampening"],
                     weight_decay=wd, nesterov=group["nesterov"], maximize=False, first=first)
            return
        d_p = grad + wd * p if wd != 0 else grad
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.array(d_p, copy=True)
            else:
                buf *= momentum
                buf += (1 - group["dampening"]) * d_p
            d_p = d_p + momentum * buf if group["nesterov"] else buf
        p -= lr * d_p

    def _update_cuda(self, p: Any, grad: Any, state: dict[str, Any], group: dict[str, Any],
                     maximize: bool) -> None:
        from minigrad.ops.kernels.cuda.optim import sgd_step

        momentum = group["momentum"]
        buf, first = None, False
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.empty_like(p)
                first = True
        sgd_step(p, grad, buf, lr=group["lr"], momentum=momentum,
                 dampening=group["dampening"], weight_decay=group["weight_decay"],
                 nesterov=group["nesterov"], maximize=maximize, first=first)
