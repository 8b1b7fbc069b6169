"""Sequence-model cases for bench/bench_ops.py (float32): scaled-dot-product attention at
L = 128 and 512 (d = 64, batch 4, 8 heads, with and without the causal mask), one LSTM cell step
and an LSTM and a GRU layer over 32 steps (batch 32, 256 -> 256).

fwd runs under ``no_grad``; fwd+bwd builds the graph and backpropagates a fixed output gradient
into every input (and, for the recurrent layers, every weight); gradients are reset to None
first.
"""

from __future__ import annotations

import numpy as np

ATTN_BATCH, ATTN_HEADS, ATTN_DIM = 4, 8, 64
LSTM_BATCH, LSTM_SIZE, LSTM_STEPS = 32, 256, 32


def _attention(n: int, causal: bool) -> dict:
    import minigrad as mg
    import minigrad.nn.functional as F

    rng = np.random.default_rng(0)
    shape = (ATTN_BATCH, ATTN_HEADS, n, ATTN_DIM)
    arrays = [rng.standard_normal(shape).astype(np.float32) for _ in range(3)]
    gy = rng.standard_normal(shape).astype(np.float32)
    mq, mk, mv = (mg.tensor(a, requires_grad=True) for a in arrays)
    mgy = mg.tensor(gy)

    def fwd():
        with mg.no_grad():
            return F.scaled_dot_product_attention(mq, mk, mv, is_causal=causal)

    def fwd_bwd():
        for t in (mq, mk, mv):
            t.grad = None
        F.scaled_dot_product_attention(mq, mk, mv, is_causal=causal).backward(mgy)

    ours = {"fwd": fwd, "fwd+bwd": fwd_bwd}
    try:
        import torch
    except ImportError:
        return {"minigrad": ours, "torch": None}
    tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in arrays)
    tgy = torch.tensor(gy)
    sdpa = torch.nn.functional.scaled_dot_product_attention

    def tfwd():
        with torch.no_grad():
            return sdpa(tq, tk, tv, is_causal=causal)

    def tfwd_bwd():
        for t in (tq, tk, tv):
            t.grad = None
        sdpa(tq, tk, tv, is_causal=causal).backward(tgy)

    return {"minigrad": ours, "torch": {"fwd": tfwd, "fwd+bwd": tfwd_bwd}}


def _recurrent(kind: str) -> dict:
    """kind: "LSTMCell" (one step), "LSTM" or "GRU" (a layer over LSTM_STEPS steps)."""
    import minigrad as mg
    from minigrad import nn

    rng = np.random.default_rng(0)
    n, h, steps = LSTM_BATCH, LSTM_SIZE, LSTM_STEPS
    layer, lstm = kind != "LSTMCell", kind != "GRU"
    m = getattr(nn, kind)(h, h)
    x = rng.standard_normal((steps, n, h) if layer else (n, h)).astype(np.float32)
    h0 = rng.standard_normal((1, n, h) if layer else (n, h)).astype(np.float32)
    c0 = rng.standard_normal((1, n, h) if layer else (n, h)).astype(np.float32)
    gy = rng.standard_normal(x.shape).astype(np.float32)
    mx, mh, mc = (mg.tensor(a, requires_grad=True) for a in (x, h0, c0))
    mgy = mg.tensor(gy)

    def run(module, xs, hs, cs):  # the output sequence, or the cell's h
        return module(xs, (hs, cs) if lstm else hs)[0]

    def fwd():
        with mg.no_grad():
            return run(m, mx, mh, mc)

    def fwd_bwd():
        for t in (mx, mh, mc, *m.parameters()):
            t.grad = None
        run(m, mx, mh, mc).backward(mgy)

    ours = {"fwd": fwd, "fwd+bwd": fwd_bwd}
    try:
        import torch
    except ImportError:
        return {"minigrad": ours, "torch": None}
    tm = getattr(torch.nn, kind)(h, h)
    with torch.no_grad():
        for name, p in tm.named_parameters():
            p.copy_(torch.tensor(getattr(m, name).numpy()))
    tx, th, tc = (torch.tensor(a, requires_grad=True) for a in (x, h0, c0))
    tgy = torch.tensor(gy)

    def tfwd():
        with torch.no_grad():
            return run(tm, tx, th, tc)

    def tfwd_bwd():
        for t in (tx, th, tc, *tm.parameters()):
            t.grad = None
        run(tm, tx, th, tc).backward(tgy)

    return {"minigrad": ours, "torch": {"fwd": tfwd, "fwd+bwd": tfwd_bwd}}


def cases() -> list[dict]:
    out = []
    for n in (128, 512):
        for causal in (False, True):
            name = (f"sdpa ({ATTN_BATCH}, {ATTN_HEADS}, {n}, {ATTN_DIM})"
                    + (" causal" if causal else ""))
            out.append({"name": name, **_attention(n, causal)})
    out.append({"name": f"LSTMCell step ({LSTM_BATCH}, {LSTM_SIZE})->{LSTM_SIZE}",
                **_recurrent("LSTMCell")})
    for kind in ("LSTM", "GRU"):
        out.append({"name": f"{kind} {LSTM_STEPS} steps ({LSTM_BATCH}, {LSTM_SIZE})->{LSTM_SIZE}",
                    **_recurrent(kind)})
    return out
