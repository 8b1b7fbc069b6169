"""Pooling, activation, softmax/loss and batch-norm cases for bench/bench_ops.py (float32).

fwd runs under ``no_grad``; fwd+bwd builds the graph and backpropagates a fixed output gradient
(gradients reset to None first). The input gradient is the only one computed, as in a network
where these ops sit between layers.
"""

from __future__ import annotations

import numpy as np

POOL_SHAPE = (64, 32, 32, 32)
ACT_SIZE = 4 * 1024 * 1024
CE_SHAPE = (256, 1000)


def _pair(mg_op, torch_op, x, out_shape=None):
    """fwd / fwd+bwd closures for ``op(x)`` in minigrad and torch on the same data."""
    import minigrad as mg

    rng = np.random.default_rng(1)
    tx = mg.tensor(x, requires_grad=True)
    with mg.no_grad():
        shape = mg_op(tx).shape if out_shape is None else out_shape
    gy = rng.standard_normal(shape).astype(x.dtype)
    tgy = mg.tensor(gy)

    def fwd():
        with mg.no_grad():
            return mg_op(tx)

    def fwd_bwd():
        tx.grad = None
        mg_op(tx).backward(tgy)

    ours = {"fwd": fwd, "fwd+bwd": fwd_bwd}
    try:
        import torch
    except ImportError:
        return ours, None
    xt = torch.tensor(x, requires_grad=True)
    gyt = torch.tensor(gy)

    def tfwd():
        with torch.no_grad():
            return torch_op(xt)

    def tfwd_bwd():
        xt.grad = None
        torch_op(xt).backward(gyt)

    return ours, {"fwd": tfwd, "fwd+bwd": tfwd_bwd}


def cases() -> list[dict]:
    from minigrad.ops import activation as A
    from minigrad.ops import loss as L
    from minigrad.ops import normalization as N
    from minigrad.ops import pool as P
    from minigrad.ops import softmax as SM

    try:
        import torch

        tf = torch.nn.functional
    except ImportError:
        torch = tf = None

    rng = np.random.default_rng(0)
    out = []

    x = rng.standard_normal(POOL_SHAPE).astype(np.float32)
    specs = [
        ("max_pool2d 2x2", lambda v: P.max_pool2d(v, 2), lambda v: tf.max_pool2d(v, 2)),
        ("avg_pool2d 2x2", lambda v: P.avg_pool2d(v, 2), lambda v: tf.avg_pool2d(v, 2)),
        ("max_pool2d 3x3 s2 p1", lambda v: P.max_pool2d(v, 3, 2, 1),
         lambda v: tf.max_pool2d(v, 3, 2, 1)),
        ("global_avg_pool2d", P.global_avg_pool2d, lambda v: tf.adaptive_avg_pool2d(v, 1)),
        ("batch_norm train", lambda v: N.batch_norm(v, None, None, training=True),
         lambda v: tf.batch_norm(v, None, None, training=True)),
    ]
    for name, ours, theirs in specs:
        mg_fns, t_fns = _pair(ours, theirs, x)
        out.append({"name": f"{name} {POOL_SHAPE}", "minigrad": mg_fns, "torch": t_fns})

    a = rng.standard_normal(ACT_SIZE).astype(np.float32)
    for name, ours, theirs in [
        ("relu", A.relu, lambda v: tf.relu(v)),
        ("sigmoid", A.sigmoid, lambda v: torch.sigmoid(v)),
        ("tanh", A.tanh, lambda v: torch.tanh(v)),
        ("gelu", A.gelu, lambda v: tf.gelu(v)),
        ("gelu tanh", lambda v: A.gelu(v, approximate="tanh"),
         lambda v: tf.gelu(v, approximate="tanh")),
        ("silu", A.silu, lambda v: tf.silu(v)),
        ("elu", A.elu, lambda v: tf.elu(v)),
        ("softplus", A.softplus, lambda v: tf.softplus(v)),
    ]:
        mg_fns, t_fns = _pair(ours, theirs, a)
        out.append({"name": f"{name} 4M", "minigrad": mg_fns, "torch": t_fns})

    logits = rng.standard_normal(CE_SHAPE).astype(np.float32)
    target = rng.integers(0, CE_SHAPE[1], CE_SHAPE[0])
    mg_fns, t_fns = _pair(lambda v: SM.log_softmax(v, 1),
                          lambda v: tf.log_softmax(v, 1), logits)
    out.append({"name": f"log_softmax {CE_SHAPE}", "minigrad": mg_fns,
                "torch": t_fns if tf is not None else None})
    tt = None if torch is None else torch.tensor(target)
    mg_fns, t_fns = _pair(lambda v: L.cross_entropy(v, target),
                          lambda v: tf.cross_entropy(v, tt) or (lambda v: v), logits,
                          out_shape=())
    out.append({"name": f"cross_entropy {CE_SHAPE}", "minigrad": mg_fns,
                "torch": t_fns if tf is not None else None})
    return out
