"""Convolution benchmark cases for bench/bench_ops.py (float32, with bias).

fwd runs under ``no_grad``; fwd+bwd builds the graph and backpropagates a fixed output gradient
into input, weight and bias (gradients reset to None first, as ``zero_grad(set_to_none=True)``).
"""

from __future__ import annotations

import numpy as np

# (input shape, out channels, kernel, stride, padding)
SHAPES = [
    ((64, 1, 28, 28), 6, 5, 1, 2),
    ((64, 6, 14, 14), 16, 5, 1, 0),
    ((64, 3, 32, 32), 32, 3, 1, 1),
    ((32, 64, 32, 32), 64, 3, 1, 1),
    ((32, 32, 64, 64), 64, 3, 2, 1),
]


def _name(shape, k, f, s, p):
    return f"conv2d {shape}->{k} {f}x{f} s{s} p{p}"


def _minigrad(x, w, b, gy, s, p):
    import minigrad as mg
    from minigrad.ops.conv import conv2d

    tx, tw, tb = (mg.tensor(a, requires_grad=True) for a in (x, w, b))
    tgy = mg.tensor(gy)

    def fwd():
        with mg.no_grad():
            return conv2d(tx, tw, tb, stride=s, padding=p)

    def fwd_bwd():
        tx.grad = tw.grad = tb.grad = None
        conv2d(tx, tw, tb, stride=s, padding=p).backward(tgy)

    return {"fwd": fwd, "fwd+bwd": fwd_bwd}


def _torch(x, w, b, gy, s, p):
    try:
        import torch
    except ImportError:
        return None
    F = torch.nn.functional
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    tgy = torch.tensor(gy)

    def fwd():
        with torch.no_grad():
            return F.conv2d(tx, tw, tb, stride=s, padding=p)

    def fwd_bwd():
        tx.grad = tw.grad = tb.grad = None
        F.conv2d(tx, tw, tb, stride=s, padding=p).backward(tgy)

    return {"fwd": fwd, "fwd+bwd": fwd_bwd}


def _pair_of(fn_mg, fn_torch, arrays, grad_shape):
    """fwd / fwd+bwd closures for an op called as fn(*tensors) in both frameworks."""
    import minigrad as mg

    rng = np.random.default_rng(1)
    gy = rng.standard_normal(grad_shape, dtype=np.float32)
    ts = [mg.tensor(a, requires_grad=True) for a in arrays]
    tgy = mg.tensor(gy)

    def mg_fwd():
        with mg.no_grad():
            return fn_mg(*ts)

    def mg_fb():
        for t in ts:
            t.grad = None
        fn_mg(*ts).backward(tgy)

    out = {"minigrad": {"fwd": mg_fwd, "fwd+bwd": mg_fb}, "torch": None}
    try:
        import torch
    except ImportError:
        return out
    tt = [torch.tensor(a, requires_grad=True) for a in arrays]
    ttgy = torch.tensor(gy)

    def t_fwd():
        with torch.no_grad():
            return fn_torch(*tt)

    def t_fb():
        for t in tt:
            t.grad = None
        fn_torch(*tt).backward(ttgy)

    out["torch"] = {"fwd": t_fwd, "fwd+bwd": t_fb}
    return out


def _extra_cases(rng) -> list[dict]:
    """conv1d (runs as conv2d on a unit height axis) and conv_transpose2d, for reference."""
    from minigrad.ops.conv import conv1d, conv_transpose2d

    try:
        import torch.nn.functional as TF
    except ImportError:
        TF = None
    out = []
    x = rng.standard_normal((32, 64, 512), dtype=np.float32)
    w = rng.standard_normal((64, 64, 5), dtype=np.float32) / np.float32(np.sqrt(320))
    b = rng.standard_normal(64, dtype=np.float32)
    case = _pair_of(lambda *a: conv1d(*a, padding=2),
                    (lambda *a: TF.conv1d(*a, padding=2)) if TF else None,
                    (x, w, b), (32, 64, 512))
    out.append({"name": "conv1d (32, 64, 512)->64 k5 p2", **case})
    x = rng.standard_normal((32, 64, 16, 16), dtype=np.float32)
    w = rng.standard_normal((64, 32, 4, 4), dtype=np.float32) / np.float32(np.sqrt(1024))
    b = rng.standard_normal(32, dtype=np.float32)
    case = _pair_of(lambda *a: conv_transpose2d(*a, stride=2, padding=1),
                    (lambda *a: TF.conv_transpose2d(*a, stride=2, padding=1)) if TF else None,
                    (x, w, b), (32, 32, 32, 32))
    out.append({"name": "conv_transpose2d (32, 64, 16, 16)->32 4x4 s2 p1", **case})
    for c in out:
        if TF is None:
            c["torch"] = None
    return out


def cases() -> list[dict]:
    rng = np.random.default_rng(0)
    out = []
    for shape, k, f, s, p in SHAPES:
        x = rng.standard_normal(shape, dtype=np.float32)
        w = (rng.standard_normal((k, shape[1], f, f), dtype=np.float32)
             / np.sqrt(shape[1] * f * f)).astype(np.float32)
        b = rng.standard_normal(k, dtype=np.float32)
        o = (shape[2] + 2 * p - f) // s + 1
        gy = rng.standard_normal((shape[0], k, o, o), dtype=np.float32)
        out.append({"name": _name(shape, k, f, s, p),
                    "minigrad": _minigrad(x, w, b, gy, s, p),
                    "torch": _torch(x, w, b, gy, s, p)})
    return out + _extra_cases(rng)
