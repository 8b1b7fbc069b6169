"""RMSprop (Hinton's lecture 6e), with momentum and the centered variant."""

from __future__ import annotations

from typing import Any

import numpy as np

from minigrad.optim.optimizer import Optimizer, ParamsT

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop, with PyTorch's update equations and defaults.

    Per step, with ``g`` the gradient (negated when ``maximize``)::

        g = g + weight_decay * p
        s = alpha * s + (1 - alpha) * g**2
        a = alpha * a + (1 - alpha) * g             (centered only)
        d = sqrt(s - a**2) + eps  if centered  else  sqrt(s) + eps
        b = momentum * b + g / d;  p = p - lr * b   (momentum > 0)
        p = p - lr * g / d                          (momentum == 0)
    """

    def __init__(self, params: ParamsT, lr: float = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8, weight_decay: float = 0.0, momentum: float = 0.0,
                 centered: bool = False, *, maximize: bool = False) -> None:
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered, maximize=maximize))

    def _check_group(self, group: dict[str, Any]) -> None:
        for key in ("lr", "eps", "momentum", "weight_decay", "alpha"):
            if group[key] < 0:
                raise ValueError(f"RMSprop: invalid {key} {group[key]}")

    def _state_names(self, group: dict[str, Any]) -> tuple[str, ...]:
        return ("square_avg", *(("momentum_buffer",) if group["momentum"] > 0 else ()),
                *(("grad_avg",) if group["centered"] else ()))

    def _update(self, p: np.ndarray, grad: np.ndarray, state: dict[str, Any],
                group: dict[str, Any]) -> None:
        lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
        wd, momentum = group["weight_decay"], group["momentum"]
        self._advance(p, state, group)
        if wd != 0:
            grad = grad + wd * p
        s = state["square_avg"]
        s *= alpha
        tmp = np.multiply(grad, grad, out=np.empty_like(s))  # an array even for 0-d params
        tmp *= 1 - alpha
        s += tmp
        if group["centered"]:
            a = state["grad_avg"]
            np.subtract(grad, a, out=tmp)
            tmp *= 1 - alpha
            a += tmp                     # a = lerp(a, g, 1 - alpha), as PyTorch computes it
            np.multiply(a, a, out=tmp)
            np.subtract(s, tmp, out=tmp)
            avg = np.sqrt(tmp, out=tmp)
        else:
            avg = np.sqrt(s, out=tmp)
        avg += eps
        if momentum > 0:
            buf = state["momentum_buffer"]
            buf *= momentum
            buf += grad / avg
            p -= lr * buf
        else:
            np.divide(grad, avg, out=tmp)
            tmp *= lr
            p -= tmp

    def _update_cuda(self, p: Any, grad: Any, state: dict[str, Any], group: dict[str, Any],
                     maximize: bool) -> None:
        from minigrad.ops.kernels.cuda.optim import rmsprop_step

        momentum, centered = group["momentum"], group["centered"]
        self._advance(p, state, group)
        rmsprop_step(p, grad, state["square_avg"], state.get("grad_avg") if centered else None,
                     state.get("momentum_buffer") if momentum > 0 else None, lr=group["lr"],
                     alpha=group["alpha"], eps=group["eps"], weight_decay=group["weight_decay"],
                     momentum=momentum, centered=centered, maximize=maximize)
