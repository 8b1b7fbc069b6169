"""softmax and log_softmax along any dim (PyTorch names; ``dim`` must be given).

Kernel-backed Functions, each with a first-order backward that is itself a kernel Function whose
own backward is written with Tensor ops (so ``create_graph=True`` works to any order):

    SoftmaxFn           y = softmax(x)              dx = SoftmaxGradFn(g, y)
    SoftmaxGradFn       gx = y * (g - sum(g*y))     dg = SoftmaxGradFn(gg, y), dy: Tensor ops
    LogSoftmaxFn        y = log_softmax(x)          dx = LogSoftmaxGradFn(g, y)
    LogSoftmaxGradFn    gx = g - exp(y)*sum(g)      dg, dy: Tensor ops

The kernels (``kernels_for(x).softmax``: :mod:`minigrad.ops.kernels.cpu.softmax` or
:mod:`minigrad.ops.kernels.cuda.softmax`) work on rows, so ``dim`` is moved last;
the log versions are the plain ones with the log kernels and their own second derivatives.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minigrad.autograd import Function
from minigrad.ops import _args
from minigrad.ops._args import float_tensor
from minigrad.ops.kernels import kernels_for
from minigrad.tensor import Tensor

__all__ = ["softmax", "log_softmax", "SoftmaxFn", "LogSoftmaxFn"]


def _last(a: np.ndarray, dim: int) -> np.ndarray:
    return a if dim == a.ndim - 1 else np.moveaxis(a, dim, -1)


def _back(a: np.ndarray, dim: int) -> np.ndarray:
    return a if dim == a.ndim - 1 else np.moveaxis(a, -1, dim)


def _rows(kernel: str, dim: int, *arrays: Any) -> Any:
    """The row kernel ``kernel`` of the arrays' device on ``arrays`` with ``dim`` moved last."""
    rows = [_last(a, dim) for a in arrays]
    return _back(getattr(kernels_for(rows[0]).softmax, kernel)(*rows), dim)


class SoftmaxGradFn(Function):
    """gx = y * (g - sum(g * y, dim)) for the softmax output y."""

    kernel = "softmax_backward"

    @staticmethod
    def forward(ctx, g, y, *, dim: int):
        ctx.save_for_backward(g, y)
        ctx.dim = dim
        return _rows(ctx.kernel, dim, g.data.astype(y.dtype, copy=False), y.data)

    @staticmethod
    def backward(ctx, gg):
        g, y = ctx.saved_tensors
        d = ctx.dim
        need_g, need_y = ctx.needs_input_grad
        # the map g -> gx is symmetric, so its adjoint is itself
        dg = SoftmaxGradFn.apply(gg, y, dim=d) if need_g else None
        dy = None
        if need_y:
            dy = gg * (g - (g * y).sum(axis=d, keepdims=True)) - g * (gg * y).sum(
                axis=d, keepdims=True
            )
        return dg, dy


class LogSoftmaxGradFn(SoftmaxGradFn):
    """gx = g - exp(y) * sum(g, dim) for the log-softmax output y."""

    kernel = "log_softmax_backward"

    @staticmethod
    def backward(ctx, gg):
        g, y = ctx.saved_tensors
        d = ctx.dim
        need_g, need_y = ctx.needs_input_grad
        p = y.exp()
        dg = gg - (gg * p).sum(axis=d, keepdims=True) if need_g else None
        dy = -gg * p * g.sum(axis=d, keepdims=True) if need_y else None
        return dg, dy


class SoftmaxFn(Function):
    """y = exp(x) / sum(exp(x)) along ``dim``; x: any shape with at least one axis."""

    kernel, grad_op = "softmax_forward", SoftmaxGradFn

    @staticmethod
    def forward(ctx, x, *, dim: int):
        y = _rows(ctx.kernel, dim, x.data)
        ctx.save_for_backward(y)
        ctx.dim = dim
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return ctx.grad_op.apply(g, y, dim=ctx.dim)


class LogSoftmaxFn(SoftmaxFn):
    """y = x - logsumexp(x) along ``dim``."""

    kernel, grad_op = "log_softmax_forward", LogSoftmaxGradFn


def _dim(op: str, x: Tensor, dim: Any) -> int:
    if dim is None:
        raise TypeError(f"{op}: dim must be given (PyTorch's implicit dim choice is deprecated)")
    return _args.dim(op, dim, x.ndim)


def _apply(fn: type[SoftmaxFn], op: str, input: Tensor, dim: int | None) -> Tensor:
    x = float_tensor(op, "input", input)
    d = _dim(op, x, dim)
    if x.ndim == 0:
        return fn.apply(x.reshape(1), dim=0).reshape(())
    return fn.apply(x, dim=d)


def softmax(input: Tensor, dim: int | None = None) -> Tensor:
    """exp(x) / sum(exp(x)) along ``dim``, shifted by the maximum so nothing overflows."""
    return _apply(SoftmaxFn, "softmax", input, dim)


def log_softmax(input: Tensor, dim: int | None = None) -> Tensor:
    """x - logsumexp(x) along ``dim`` (stable for any finite x)."""
    return _apply(LogSoftmaxFn, "log_softmax", input, dim)
