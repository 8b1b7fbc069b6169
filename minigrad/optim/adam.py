"""Adam (with AMSGrad and L2 weight decay) and AdamW (decoupled weight decay)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from minigrad.ops.kernels.cpu.optim import adam_step, fusable
from minigrad.optim.optimizer import Optimizer, ParamsT

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """Adam (Kingma & Ba), with PyTorch's update equations and defaults.

    Per step ``t = 1, 2, ...``, with ``g`` the gradient (negated when ``maximize``)::

        g = g + weight_decay * p                    (Adam's L2 penalty; AdamW decouples it)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        v_max = max(v_max, v)                       (amsgrad only; then v_max replaces v below)
        p = p - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)
    """

    _decoupled = False

    def __init__(self, params: ParamsT, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False, *,
                 maximize: bool = False) -> None:
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, amsgrad=amsgrad,
                                      maximize=maximize))

    def _check_group(self, group: dict[str, Any]) -> None:
        name = type(self).__name__
        if group["lr"] < 0:
            raise ValueError(f"{name}: invalid learning rate {group['lr']}")
        if group["eps"] < 0:
            raise ValueError(f"{name}: invalid epsilon {group['eps']}")
        b1, b2 = group["betas"]
        if not (0 <= b1 < 1 and 0 <= b2 < 1):
            raise ValueError(f"{name}: betas must lie in [0, 1), got {group['betas']}")
        if group["weight_decay"] < 0:
            raise ValueError(f"{name}: invalid weight_decay {group['weight_decay']}")

    def _state_names(self, group: dict[str, Any]) -> tuple[str, ...]:
        return ("exp_avg", "exp_avg_sq", *(("max_exp_avg_sq",) if group["amsgrad"] else ()))

    def _update(self, p: np.ndarray, grad: np.ndarray, state: dict[str, Any],
                group: dict[str, Any]) -> None:
        lr, eps, wd = group["lr"], group["eps"], group["weight_decay"]
        b1, b2 = group["betas"]
        self._advance(p, state, group)
        t = state["step"]
        vmax = state.get("max_exp_avg_sq") if group["amsgrad"] else None
        if fusable(p, grad, state["exp_avg"], state["exp_avg_sq"], vmax):
            adam_step(p, grad, state["exp_avg"], state["exp_avg_sq"], vmax, step=t, lr=lr,
                      betas=(b1, b2), eps=eps, weight_decay=wd, decoupled=self._decoupled,
                      amsgrad=group["amsgrad"], maximize=False)
            return
        if wd != 0:
            if self._decoupled:
                p *= 1 - lr * wd
            else:
                grad = grad + wd * p
        m, v = state["exp_avg"], state["exp_avg_sq"]
        tmp = np.subtract(grad, m, out=np.empty_like(m))  # an array even for 0-d parameters
        tmp *= 1 - b1
        m += tmp                        # m = lerp(m, g, 1 - beta1), as PyTorch computes it
        v *= b2
        np.multiply(grad, grad, out=tmp)
        tmp *= 1 - b2
        v += tmp
        if group["amsgrad"]:
            v = np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
        denom = np.sqrt(v, out=tmp)
        denom /= math.sqrt(1 - b2**t)
        denom += eps
        np.divide(m, denom, out=tmp)
        tmp *= lr / (1 - b1**t)
        p -= tmp

    def _update_cuda(self, p: Any, grad: Any, state: dict[str, Any], group: dict[str, Any],
                     maximize: bool) -> None:
        from minigrad.ops.kernels.cuda.optim import adam_step

        self._advance(p, state, group)
        adam_step(p, grad, state["exp_avg"], state["exp_avg_sq"],
                  state.get("max_exp_avg_sq") if group["amsgrad"] else None,
                  step=state["step"], lr=group["lr"], betas=group["betas"], eps=group["eps"],
                  weight_decay=group["weight_decay"], decoupled=self._decoupled,
                  amsgrad=group["amsgrad"], maximize=maximize)


class AdamW(Adam):
    """AdamW (Loshchilov & Hutter): Adam whose weight decay shrinks the parameters directly,
    ``p = p * (1 - lr * weight_decay)`` before the Adam step, instead of adding ``wd * p`` to the
    gradient. Default ``weight_decay=1e-2`` (PyTorch's)."""

    _decoupled = True

    def __init__(self, params: ParamsT, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, maximize=maximize)
