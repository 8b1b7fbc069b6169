"""Where scaled-dot-product attention's time goes, stage by stage, against PyTorch in one process.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/profile_sdpa.py [--rounds 7]
        [--lengths 128,512]

For each (4, 8, L, 64) float32 case (the rows of ``bench_ops.py --only seq``), with and without the
causal mask, it times in interleaved rounds (median ms over rounds of the best of a few calls):

* ``F fwd`` / ``F f+b``: ``F.scaled_dot_product_attention`` (no_grad) and forward + backward,
  as ``bench_ops.py`` does;
* ``kernel fwd`` / ``kernel bwd``: the CPU kernels alone (``sdpa_forward`` / ``sdpa_backward``),
  batch split over the threads as in use;
* ``serial fwd``: the forward kernel on one thread (``conv_split.MAX_THREADS = 1``, BLAS limited
  to one thread), so ``serial / kernel`` is what the thread split gains;
* ``products``: the forward's two products per tile alone, serially, one BLAS thread
  (``s = q @ k.T`` and ``p @ v``, the same tiles), and ``row pass``: the forward's Numba row
  kernel alone on the same tiles; ``serial fwd - products - row pass`` is Python and tiling;
* ``torch fwd`` / ``torch f+b`` with ``torch.set_num_threads(2)``.

The pause between libraries lets spinning worker threads sleep, as in ``bench_ops.py``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402

import minigrad as mg  # noqa: E402
import minigrad.nn.functional as F  # noqa: E402
from minigrad.ops.kernels.cpu import attention as K  # noqa: E402
from minigrad.ops.kernels.cpu import conv_split  # noqa: E402

BATCH, HEADS, DIM = 4, 8, 64
PAUSE_S = 0.25


def _best_ms(fn, calls: int = 3) -> float:
    best = float("inf")
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return 1e3 * best


def _stages(n: int, causal: bool) -> dict:
    """name -> zero-argument callable for one case."""
    rng = np.random.default_rng(0)
    shape = (BATCH, HEADS, n, DIM)
    q, k, v, g = (rng.standard_normal(shape).astype(np.float32) for _ in range(4))
    nb = BATCH * HEADS
    q3, k3, v3, g3 = (a.reshape(nb, n, DIM) for a in (q, k, v, g))
    scale = 1.0 / np.sqrt(DIM)
    args = (None, (BATCH, HEADS), causal, scale, 0.0, 0)
    o, lse = K.sdpa_forward(q3, k3, v3, *args)
    mq, mk, mv = (mg.tensor(a, requires_grad=True) for a in (q, k, v))
    mgy = mg.tensor(g)
    bias, bias_index = K._bias_args(None, (nb,), n, n, q3.dtype)
    kt = k3.transpose(0, 2, 1)
    sc = np.float32(scale)
    conv_split._Blas.setup()
    limit = conv_split._Blas.controller

    def f_fwd():
        with mg.no_grad():
            F.scaled_dot_product_attention(mq, mk, mv, is_causal=causal)

    def f_fb():
        for t in (mq, mk, mv):
            t.grad = None
        F.scaled_dot_product_attention(mq, mk, mv, is_causal=causal).backward(mgy)

    def one_thread(fn):
        def run():
            conv_split.MAX_THREADS = 1
            try:
                if limit is None:
                    fn()
                else:
                    with limit.limit(limits=1):
                        fn()
            finally:
                conv_split.MAX_THREADS = None
        return run

    tiles = list(K._tiles(0, nb, n, n, causal, 4))
    scores = [np.matmul(q3[b0:b1, i0:i1], kt[b0:b1, :, :nc]) for b0, b1, i0, i1, nc in tiles]
    out = np.empty_like(o)

    def products():
        for (b0, b1, i0, i1, nc), s in zip(tiles, scores):
            np.matmul(q3[b0:b1, i0:i1], kt[b0:b1, :, :nc], out=s)
            np.matmul(s, v3[b0:b1, :nc], out=out[b0:b1, i0:i1])

    def row_pass():  # on scores left as probabilities by earlier calls: the same work
        for (b0, _, i0, _, _), s in zip(tiles, scores):
            K._forward_tile(s, b0, i0, n, n, bias, bias_index, causal, sc, 0.0, np.uint64(0),
                            lse)

    stages = {
        "F fwd": f_fwd, "F f+b": f_fb,
        "kernel fwd": lambda: K.sdpa_forward(q3, k3, v3, *args),
        "kernel bwd": lambda: K.sdpa_backward(q3, k3, v3, *args, o, lse, g3, False),
        "serial fwd": one_thread(lambda: K.sdpa_forward(q3, k3, v3, *args)),
        "products": one_thread(products), "row pass": one_thread(row_pass),
    }
    try:
        import torch
    except ImportError:
        return stages
    torch.set_num_threads(2)
    tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    tgy = torch.tensor(g)
    sdpa = torch.nn.functional.scaled_dot_product_attention

    def t_fwd():
        with torch.no_grad():
            sdpa(tq, tk, tv, is_causal=causal)

    def t_fb():
        for t in (tq, tk, tv):
            t.grad = None
        sdpa(tq, tk, tv, is_causal=causal).backward(tgy)

    stages.update({"torch fwd": t_fwd, "torch f+b": t_fb})
    return stages


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--lengths", default="128,512", help="comma-separated L values")
    a = ap.parse_args()
    for n in (int(x) for x in a.lengths.split(",")):
        for causal in (False, True):
            stages = _stages(n, causal)
            for fn in stages.values():
                fn()  # compile, warm up
            times: dict[str, list[float]] = {name: [] for name in stages}
            for _ in range(max(1, a.rounds)):
                for name, fn in stages.items():
                    times[name].append(_best_ms(fn))
                    time.sleep(PAUSE_S if name.startswith(("torch", "F f+b")) else 0.02)
            med = {name: statistics.median(ts) for name, ts in times.items()}
            print(f"L={n}{' causal' if causal else ''}: "
                  + ", ".join(f"{name} {ms:.3f}" for name, ms in med.items()))
            if "torch fwd" in med:
                print(f"    speed fwd {med['torch fwd'] / med['F fwd']:.2f}x, "
                      f"f+b {med['torch f+b'] / med['F f+b']:.2f}x (torch ms / minigrad ms)")


if __name__ == "__main__":
    main()
