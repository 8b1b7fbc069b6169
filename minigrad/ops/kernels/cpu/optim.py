"""Fused optimizer updates on the CPU: one pass over memory per parameter and step.

``sgd_step`` and ``adam_step`` read the parameter, its gradient and its state buffers once and
write the parameter and the state back, where the NumPy form of the same update makes four to
ten passes and as many temporaries (the update of a 1M-parameter layer is memory-bound, so the
passes are the cost). Same names and signatures as ``kernels/cuda/optim.py``.

The arithmetic is the NumPy updates' of ``minigrad.optim``, operation by operation: the same
order, the same intermediate roundings (no contraction into FMAs: these kernels are compiled
without ``fastmath``), every scalar converted to the parameter's dtype first as NumPy converts a
Python float applied to a float32 array. So a fused step gives bit-for-bit the parameters and
state of the NumPy step (``tests/test_optim.py`` checks it). Arrays must be C-contiguous, of one
size and one float dtype; callers fall back to NumPy otherwise (see :func:`fusable`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import prange

from minigrad.ops.kernels.cpu._jit import Kernel, inline

__all__ = ["sgd_step", "adam_step", "fusable"]

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def fusable(p: Any, *others: Any) -> bool:
    """Whether the fused kernels take ``p`` and ``others`` (None entries are skipped): host
    arrays, C-contiguous, one float dtype and one shape, ``p`` writeable."""
    if type(p) is not np.ndarray or p.dtype not in _FLOATS or not p.flags.c_contiguous \
            or not p.flags.writeable:
        return False
    for o in others:
        if o is not None and (type(o) is not np.ndarray or o.dtype != p.dtype
                              or o.shape != p.shape or not o.flags.c_contiguous):
            return False
    return True


# The element updates both backends share: plain functions, inlined into the loops below and
# compiled as device functions by ``kernels/cuda/optim.py``, so both run the same operations in
# the same order. They live in this file because Numba's disk cache keys a kernel on its own
# source file only: an edit here recompiles the cached CPU kernels that inline them.

def sgd_direction(d, buf, i, momentum, damp1, use_momentum, nesterov, first):
    """Element ``i``'s SGD step direction from its gradient ``d`` (weight decay included): with
    momentum, ``buf[i]`` updated (``first``: set to ``d``) and returned, or with Nesterov
    ``d + momentum * buf[i]``; without, ``d``."""
    if use_momentum:
        if first:
            b = d
        else:
            b = buf[i] * momentum + damp1 * d
        buf[i] = b
        if nesterov:
            d = d + momentum * b
        else:
            d = b
    return d


def adam_moments(gi, m, v, vmax, i, one_m_b1, b2, one_m_b2, amsgrad):
    """Element ``i``'s Adam moments ``m[i]``, ``v[i]`` (and with AMSGrad ``vmax[i]``, the
    running maximum of ``v``, NaN sticking) updated from its gradient ``gi``; returns
    ``(m[i], the second moment the step divides by)``."""
    mi = m[i] + (gi - m[i]) * one_m_b1      # lerp(m, g, 1 - beta1), as the NumPy code
    vi = v[i] * b2 + (gi * gi) * one_m_b2
    m[i] = mi
    v[i] = vi
    if amsgrad:
        w = vmax[i]
        if vi > w or vi != vi:
            w = vi
        vmax[i] = w
        vi = w
    return mi, vi


_sgd_direction = inline(sgd_direction)
_adam_moments = inline(adam_moments)


def _sgd(p, g, buf, lr, momentum, damp1, wd, use_wd, use_momentum, nesterov, first):
    for i in prange(p.size):
        d = g[i]
        pi = p[i]
        if use_wd:
            d = d + wd * pi
        d = _sgd_direction(d, buf, i, momentum, damp1, use_momentum, nesterov, first)
        p[i] = pi - lr * d


def _adam(p, g, m, v, vmax, one_m_b1, b2, one_m_b2, eps, bc2_sqrt, step_size, wd, decay,
          l2_wd, decoupled_wd, amsgrad):
    for i in prange(p.size):
        gi = g[i]
        pi = p[i]
        if l2_wd:
            gi = gi + wd * pi
        if decoupled_wd:  # AdamW
            pi = pi * decay
        mi, vi = _adam_moments(gi, m, v, vmax, i, one_m_b1, b2, one_m_b2, amsgrad)
        denom = math.sqrt(vi) / bc2_sqrt + eps
        p[i] = pi - (mi / denom) * step_size


# parallel over threads from PARALLEL_MIN_SIZE elements, serial below; no FMA contraction, so the
# update rounds exactly as the NumPy one
_SGD = Kernel(_sgd, contract=False)
_ADAM = Kernel(_adam, contract=False)


def _run(kernel: Kernel, p: np.ndarray, *args: Any) -> None:
    if p.size:
        kernel(p.reshape(-1), *args)


def _flat(a: np.ndarray | None, like: np.ndarray) -> np.ndarray:
    """``a`` flattened (a view), or a 1-element stand-in for a buffer the options do not use."""
    return np.empty(1, like.dtype) if a is None else a.reshape(-1)


def sgd_step(p: np.ndarray, g: np.ndarray, buf: np.ndarray | None, *, lr: float,
             momentum: float, dampening: float, weight_decay: float, nesterov: bool,
             maximize: bool, first: bool) -> None:
    """In place: ``p`` (and the momentum ``buf`` when ``momentum != 0``, else None) updated by
    one SGD step; ``first``: the buffer is initialised to the gradient. ``maximize`` must be
    applied by the caller (``g`` already negated), as for the NumPy update."""
    if maximize:
        raise ValueError("sgd_step: negate the gradient before the CPU kernel (maximize)")
    ft = p.dtype.type
    _run(_SGD, p, g.reshape(-1), _flat(buf, p), ft(lr), ft(momentum), ft(1 - dampening),
         ft(weight_decay), weight_decay != 0, momentum != 0, bool(nesterov), bool(first))


def adam_step(p: np.ndarray, g: np.ndarray, m: np.ndarray, v: np.ndarray,
              vmax: np.ndarray | None, *, step: int, lr: float, betas: tuple[float, float],
              eps: float, weight_decay: float, decoupled: bool, amsgrad: bool,
              maximize: bool) -> None:
    """In place: one Adam (``decoupled=False``) or AdamW step of ``p`` and its moments ``m``,
    ``v`` (and ``vmax`` with AMSGrad, else None); ``step`` counts from 1. ``maximize`` must be
    applied by the caller, as for ``sgd_step``."""
    if maximize:
        raise ValueError("adam_step: negate the gradient before the CPU kernel (maximize)")
    ft = p.dtype.type
    b1, b2 = betas
    _run(_ADAM, p, g.reshape(-1), m.reshape(-1), v.reshape(-1), _flat(vmax, p), ft(1 - b1),
         ft(b2), ft(1 - b2), ft(eps), ft(math.sqrt(1 - b2**step)), ft(lr / (1 - b1**step)),
         ft(weight_decay), ft(1 - lr * weight_decay), weight_decay != 0 and not decoupled,
         weight_decay != 0 and bool(decoupled), bool(amsgrad))
