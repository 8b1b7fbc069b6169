"""Adagrad (Duchi et al.), with learning-rate decay."""

from __future__ import annotations

from typing import Any

import numpy as np

from minigrad.optim.optimizer import Optimizer, ParamsT

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Adagrad, with PyTorch's update equations and defaults.

    Per step ``t = 1, 2, ...``, with ``g`` the gradient (negated when ``maximize``)::

        g = g + weight_decay * p
        clr = lr / (1 + (t - 1) * lr_decay)
        s = s + g**2                                (s starts at initial_accumulator_value)
        p = p - clr * g / (sqrt(s) + eps)
    """

    def __init__(self, params: ParamsT, lr: float = 1e-2, lr_decay: float = 0.0,
                 weight_decay: float = 0.0, initial_accumulator_value: float = 0.0,
                 eps: float = 1e-10, *, maximize: bool = False) -> None:
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value,
                                      eps=eps, maximize=maximize))

    def _check_group(self, group: dict[str, Any]) -> None:
        for key in ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"):
            if group[key] < 0:
                raise ValueError(f"Adagrad: invalid {key} {group[key]}")

    def _init_group(self, group: dict[str, Any]) -> None:
        # Created eagerly (as PyTorch does) so a state dict saved before the first step
        # already holds the accumulator.
        for p in group["params"]:
            self.state[p] = {"step": 0, "sum": np.full_like(
                p.data, group["initial_accumulator_value"])}

    def _update(self, p: np.ndarray, grad: np.ndarray, state: dict[str, Any],
                group: dict[str, Any]) -> None:
        if not state:  # the state was cleared (e.g. loaded from an empty state dict)
            state.update(step=0, sum=np.full_like(p, group["initial_accumulator_value"]))
        state["step"] += 1
        wd = group["weight_decay"]
        if wd != 0:
            grad = grad + wd * p
        clr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        s = state["sum"]
        tmp = np.multiply(grad, grad, out=np.empty_like(s))  # an array even for 0-d params
        s += tmp
        np.sqrt(s, out=tmp)
        tmp += group["eps"]
        np.divide(grad, tmp, out=tmp)
        tmp *= clr
        p -= tmp

    def _update_cuda(self, p: Any, grad: Any, state: dict[str, Any], group: dict[str, Any],
                     maximize: bool) -> None:
        from minigrad.ops.kernels.cuda.optim import adagrad_step

        if not state:
            state.update(step=0, sum=np.full_like(p, group["initial_accumulator_value"]))
        state["step"] += 1
        clr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        adagrad_step(p, grad, state["sum"], clr=clr, eps=group["eps"],
                     weight_decay=group["weight_decay"], maximize=maximize)
