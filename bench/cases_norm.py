"""Normalization cases for bench/bench_ops.py (float32), each layer with its weight and bias:
``nn.LayerNorm`` on a Transformer's activations, (64*128, 512) rows and (32, 128, 768), and
``nn.GroupNorm`` (8 groups) on a CNN's (32, 64, 32, 32) feature maps.

fwd runs under ``no_grad``; fwd+bwd builds the graph and backpropagates a fixed output gradient
into the input, the weight and the bias (all three gradients reset to None first), as in a
network where the layer trains.
"""

from __future__ import annotations

import numpy as np

SHAPES = [(64 * 128, 512), (32, 128, 768)]
GROUP_SHAPES = [((32, 64, 32, 32), 8)]


def _layer_pair(shape, groups=None):
    """LayerNorm over the last axis, or GroupNorm(groups, channels) when ``groups`` is given."""
    import minigrad as mg
    import minigrad.nn as nn

    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    gy = rng.standard_normal(shape).astype(np.float32)
    d = shape[-1] if groups is None else shape[1]
    layer = nn.LayerNorm(d) if groups is None else nn.GroupNorm(groups, d)
    layer.weight.data[...] = rng.uniform(0.5, 1.5, d)
    layer.bias.data[...] = rng.standard_normal(d)
    tx, tgy = mg.tensor(x, requires_grad=True), mg.tensor(gy)

    def fwd():
        with mg.no_grad():
            return layer(tx)

    def fwd_bwd():
        tx.grad = layer.weight.grad = layer.bias.grad = None
        layer(tx).backward(tgy)

    ours = {"fwd": fwd, "fwd+bwd": fwd_bwd}
    try:
        import torch
    except ImportError:
        return ours, None
    tl = torch.nn.LayerNorm(d) if groups is None else torch.nn.GroupNorm(groups, d)
    with torch.no_grad():
        tl.weight.copy_(torch.tensor(layer.weight.numpy()))
        tl.bias.copy_(torch.tensor(layer.bias.numpy()))
    xt, gyt = torch.tensor(x, requires_grad=True), torch.tensor(gy)

    def tfwd():
        with torch.no_grad():
            return tl(xt)

    def tfwd_bwd():
        xt.grad = tl.weight.grad = tl.bias.grad = None
        tl(xt).backward(gyt)

    return ours, {"fwd": tfwd, "fwd+bwd": tfwd_bwd}


def cases() -> list[dict]:
    out = []
    for shape in SHAPES:
        ours, theirs = _layer_pair(shape)
        out.append({"name": f"LayerNorm {shape}", "minigrad": ours, "torch": theirs})
    for shape, groups in GROUP_SHAPES:
        ours, theirs = _layer_pair(shape, groups)
        out.append({"name": f"GroupNorm({groups}) {shape}", "minigrad": ours, "torch": theirs})
    return out
