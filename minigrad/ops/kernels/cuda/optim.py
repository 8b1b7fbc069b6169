"""Fused optimizer updates on the GPU: one kernel launch per parameter and step.

Each kernel reads the parameter, its gradient and its state buffers once, applies the whole
update of ``minigrad.optim``'s method (SGD with momentum/dampening/Nesterov/weight decay,
Adam/AdamW with AMSGrad, RMSprop with momentum and the centered variant, Adagrad) and writes the
parameter and the state back, so a step costs one launch and one pass over memory per parameter
instead of the ~10 elementwise launches (and temporaries) of the NumPy-style CPU code.

The arithmetic follows the CPU updates operation by operation (same order, same intermediate
roundings), so GPU and CPU parameters agree to float32 rounding (the GPU may contract a
multiply-add into an FMA). Every scalar hyper-parameter is converted to the parameter's dtype on
the host before the launch: a float64 argument would promote float32 arithmetic to float64 (NumPy
on the CPU applies Python-float scalars to float32 arrays in float32 too). Options that switch a
branch (momentum on/off, Nesterov, AMSGrad, centered, maximize, weight decay on/off) are int
flags; a state buffer that the options make unnecessary is a 1-element dummy that is never read.

All arrays are flat, C-contiguous numba device arrays of one size and dtype (``CudaArray._buf``).
Under the simulator ``sqrt`` is NumPy's (the simulator runs device code as Python, where
``math.sqrt`` of a negative number raises instead of giving NaN as the GPU does).
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from minigrad.cuda._launch import dummy
from minigrad.cuda._runtime import launch, load_cuda, sim
from minigrad.ops.kernels.cpu import optim as cpu_optim
from minigrad.ops.kernels.cuda._common import FLOATS

__all__ = ["sgd_step", "adam_step", "rmsprop_step", "adagrad_step"]

THREADS = 256


# numba.cuda, the square root and the device functions the kernels call, bound by _kernels();
# the SGD and Adam element updates are the CPU kernels' (one source, compiled for both)
cuda: Any = None
sqrt: Any = None
grad_of: Any = None
sgd_direction: Any = None
adam_moments: Any = None


def _grad_of(g, p, i, maximize, use_wd, wd):
    """(gradient, parameter) of element i: the gradient negated for ``maximize``, plus the L2
    weight decay ``wd * p`` when ``use_wd``."""
    gi = g[i]
    if maximize:
        gi = -gi
    pi = p[i]
    if use_wd:
        gi = gi + wd * pi
    return gi, pi


def _sgd(p, g, buf, n, lr, momentum, damp1, wd, use_wd, use_momentum, nesterov, maximize, first):
    for i in range(cuda.grid(1), n, cuda.gridsize(1)):
        d, pi = grad_of(g, p, i, maximize, use_wd, wd)
        d = sgd_direction(d, buf, i, momentum, damp1, use_momentum, nesterov, first)
        p[i] = pi - lr * d


def _adam(p, g, m, v, vmax, n, lr, one_m_b1, b2, one_m_b2, eps, bc2_sqrt, step_size, wd, decay,
          l2_wd, decoupled_wd, amsgrad, maximize):
    for i in range(cuda.grid(1), n, cuda.gridsize(1)):
        gi, pi = grad_of(g, p, i, maximize, l2_wd, wd)
        if decoupled_wd:  # AdamW
            pi = pi * decay
        mi, vi = adam_moments(gi, m, v, vmax, i, one_m_b1, b2, one_m_b2, amsgrad)
        denom = sqrt(vi) / bc2_sqrt + eps
        p[i] = pi - (mi / denom) * step_size


def _rmsprop(p, g, s, a, buf, n, lr, alpha, one_m_alpha, eps, momentum, wd, use_wd, centered,
             use_momentum, maximize):
    for i in range(cuda.grid(1), n, cuda.gridsize(1)):
        gi, pi = grad_of(g, p, i, maximize, use_wd, wd)
        si = s[i] * alpha + (gi * gi) * one_m_alpha
        s[i] = si
        if centered:
            ai = a[i] + (gi - a[i]) * one_m_alpha
            a[i] = ai
            avg = sqrt(si - ai * ai) + eps
        else:
            avg = sqrt(si) + eps
        if use_momentum:
            b = buf[i] * momentum + gi / avg
            buf[i] = b
            p[i] = pi - lr * b
        else:
            p[i] = pi - (gi / avg) * lr


def _adagrad(p, g, s, n, clr, eps, wd, use_wd, maximize):
    for i in range(cuda.grid(1), n, cuda.gridsize(1)):
        gi, pi = grad_of(g, p, i, maximize, use_wd, wd)
        si = s[i] + gi * gi
        s[i] = si
        p[i] = pi - (gi / (sqrt(si) + eps)) * clr


@functools.cache
def _kernels() -> dict[str, Any]:
    """The kernels above compiled for numba.cuda; numba specialises each per dtype."""
    global cuda, sqrt, grad_of, sgd_direction, adam_moments
    cuda = load_cuda()
    sqrt = np.sqrt if sim() else math.sqrt
    grad_of = cuda.jit(device=True)(_grad_of)
    sgd_direction = cuda.jit(device=True)(cpu_optim.sgd_direction)
    adam_moments = cuda.jit(device=True)(cpu_optim.adam_moments)
    return {"sgd": cuda.jit(_sgd), "adam": cuda.jit(_adam), "rmsprop": cuda.jit(_rmsprop),
            "adagrad": cuda.jit(_adagrad)}


def _check(op: str, p: Any, *others: Any) -> tuple[np.dtype, Any]:
    dt = np.dtype(p.dtype)
    if dt not in FLOATS:
        raise TypeError(f"{op}: parameters must be float32 or float64, got {dt}")
    for o in others:
        if o is not None and (o.dtype != dt or o.size != p.size):
            raise ValueError(f"{op}: state/gradient {o.shape} {o.dtype} does not match the "
                             f"parameter {p.shape} {dt}")
    return dt, dt.type


def _buf(a: Any, dt: np.dtype) -> Any:
    """A CudaArray's flat buffer, or a 1-element stand-in for a state the options do not use."""
    if a is None:
        return dummy(dt)
    return a._buf


def _launch(name: str, p: Any, *args: Any) -> None:
    """Run kernel ``name`` over the parameter's elements (nothing to do when it is empty)."""
    if p.size:
        _kernels()[name][launch(p.size, THREADS)](*args)


def sgd_step(p: Any, g: Any, buf: Any, *, lr: float, momentum: float, dampening: float,
             weight_decay: float, nesterov: bool, maximize: bool, first: bool) -> None:
    """In place: ``p`` (and the momentum ``buf``, a CudaArray when ``momentum != 0``, else None)
    updated by one SGD step; ``first``: the buffer is initialised to the gradient."""
    dt, ft = _check("sgd_step", p, g, buf)
    _launch("sgd", p, p._buf, g._buf, _buf(buf, dt), p.size, ft(lr), ft(momentum),
            ft(1 - dampening), ft(weight_decay), int(weight_decay != 0), int(momentum != 0),
            int(bool(nesterov)), int(bool(maximize)), int(bool(first)))


def adam_step(p: Any, g: Any, m: Any, v: Any, vmax: Any, *, step: int, lr: float,
              betas: tuple[float, float], eps: float, weight_decay: float, decoupled: bool,
              amsgrad: bool, maximize: bool) -> None:
    """In place: one Adam (``decoupled=False``) or AdamW step of ``p`` and its moments ``m``,
    ``v`` (and ``vmax`` with AMSGrad, else None); ``step`` counts from 1."""
    dt, ft = _check("adam_step", p, g, m, v, vmax)
    b1, b2 = betas
    _launch("adam", p, p._buf, g._buf, m._buf, v._buf, _buf(vmax, dt), p.size, ft(lr),
            ft(1 - b1), ft(b2), ft(1 - b2), ft(eps), ft(math.sqrt(1 - b2**step)),
            ft(lr / (1 - b1**step)), ft(weight_decay), ft(1 - lr * weight_decay),
            int(weight_decay != 0 and not decoupled), int(weight_decay != 0 and bool(decoupled)),
            int(bool(amsgrad)), int(bool(maximize)))


def rmsprop_step(p: Any, g: Any, s: Any, a: Any, buf: Any, *, lr: float, alpha: float,
                 eps: float, weight_decay: float, momentum: float, centered: bool,
                 maximize: bool) -> None:
    """In place: one RMSprop step of ``p``, its square average ``s``, gradient average ``a``
    (centered only, else None) and momentum buffer ``buf`` (momentum > 0 only, else None)."""
    dt, ft = _check("rmsprop_step", p, g, s, a, buf)
    _launch("rmsprop", p, p._buf, g._buf, s._buf, _buf(a, dt), _buf(buf, dt), p.size, ft(lr),
            ft(alpha), ft(1 - alpha), ft(eps), ft(momentum), ft(weight_decay),
            int(weight_decay != 0), int(bool(centered)), int(momentum > 0), int(bool(maximize)))


def adagrad_step(p: Any, g: Any, s: Any, *, clr: float, eps: float, weight_decay: float,
                 maximize: bool) -> None:
    """In place: one Adagrad step of ``p`` and its accumulator ``s`` with learning rate ``clr``
    (already decayed for this step)."""
    dt, ft = _check("adagrad_step", p, g, s)
    _launch("adagrad", p, p._buf, g._buf, s._buf, p.size, ft(clr), ft(eps), ft(weight_decay),
            int(weight_decay != 0), int(bool(maximize)))
