"""Where scaled-dot-product attention's time goes, stage by stage, against PyTorch in one process.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/profile_sdpa.py [--rounds 7]
        [--lengths 128,512]

For each (4, 8, L, 64) float32 case (the rows of ``bench_ops.py --only seq``), with and without the
causal mask, it times in interleaved rounds (median ms over rounds of the best of a few calls):

* ``F fwd`` / ``F f+b``: ``F.scaled_dot_product_attention`` (no_grad) and forward + backward,
  as ``bench_ops.py`` does;
* ``kernel fwd`` / ``kernel bwd``: the CPU kernels alone (``sdpa_forward`` / ``sdpa_backward``)
  on Numba's threads;
* ``serial fwd`` / ``serial bwd``: the same on one thread (``numba.set_num_threads(1)``), so
  ``serial / kernel`` is what the second thread gains;
* ``pack k``: transposing the keys for the products (``_packed``), once per pass (the backward
  also packs v);
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

import numba  # noqa: E402
import numpy as np  # noqa: E402

import minigrad as mg  # noqa: E402
import minigrad.nn.functional as F  # noqa: E402
from minigrad.ops.kernels.cpu import attention as K  # noqa: E402

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

    def f_fwd():
        with mg.no_grad():
            F.scaled_dot_product_attention(mq, mk, mv, is_causal=causal)

    def f_fb():
        for t in (mq, mk, mv):
            t.grad = None
        F.scaled_dot_product_attention(mq, mk, mv, is_causal=causal).backward(mgy)

    def one_thread(fn):
        def run():
            threads = numba.get_num_threads()
            numba.set_num_threads(1)
            try:
                fn()
            finally:
                numba.set_num_threads(threads)
        return run

    def fwd():
        K.sdpa_forward(q3, k3, v3, *args)

    def bwd():
        K.sdpa_backward(q3, k3, v3, *args, o, lse, g3, False)

    stages = {
        "F fwd": f_fwd, "F f+b": f_fb, "kernel fwd": fwd, "kernel bwd": bwd,
        "serial fwd": one_thread(fwd), "serial bwd": one_thread(bwd),
        "pack k": lambda: K._packed(k3),
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
