"""Issue-14 op benchmarks: minigrad vs NumPy vs PyTorch CPU, median milliseconds.

    python bench/bench_tensor_ops.py [--rounds 7] [--only cumsum]

Rows: ``cumsum``, stable ``sort``, ``gather``, ``scatter_add``, ``index_select``/``index_add``
and ``einsum`` (a batched matmul, per-batch and per-row dot products, attention scores, a trace, an
outer product) on float32 inputs of about a million elements, forward only (the NumPy column is
what a NumPy user would write: ``np.cumsum``, ``np.sort(kind="stable")``, ``np.take_along_axis``,
``np.add.at``, ``np.einsum``), and forward+backward for minigrad and torch. The three are timed in
alternating rounds with :func:`bench_ops.block_ms` (fastest of a block of calls after a warm-up;
a pause between libraries), and each ratio is the median over rounds of ``other ms / minigrad
ms``: above 1 means minigrad is faster. Timings on a shared machine drift; compare ratios from one
run, not ms across runs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench_ops import SWITCH_PAUSE_S, block_ms  # noqa: E402

import minigrad as mg  # noqa: E402

try:
    import torch

    torch.set_num_threads(2)
except ImportError:  # pragma: no cover - torch is optional
    torch = None


def _cases() -> list[dict]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1000, 1000)).astype(np.float32)
    idx = rng.integers(0, 1000, (1000, 1000))
    small = rng.integers(0, 100, (1000, 1000))
    rows = rng.integers(0, 1000, 2000)
    a = rng.standard_normal((64, 128, 64)).astype(np.float32)
    b = rng.standard_normal((64, 64, 128)).astype(np.float32)
    mx, mi, ms, mr = mg.tensor(x), mg.tensor(idx), mg.tensor(small), mg.tensor(rows)
    ma, mb = mg.tensor(a), mg.tensor(b)
    gx = mg.tensor(x, requires_grad=True)
    ga, gb = mg.tensor(a, requires_grad=True), mg.tensor(b, requires_grad=True)
    cases = [
        {"name": "cumsum (1000, 1000) dim 1",
         "minigrad": lambda: mx.cumsum(1), "numpy": lambda: np.cumsum(x, 1),
         "torch": lambda: torch.cumsum(tx, 1),
         "minigrad fwd+bwd": lambda: gx.cumsum(1).sum().backward(),
         "torch fwd+bwd": lambda: torch.cumsum(tgx, 1).sum().backward()},
        {"name": "sort (1000, 1000) dim 1, stable",
         "minigrad": lambda: mx.sort(1), "numpy": lambda: np.sort(x, 1, kind="stable"),
         "torch": lambda: torch.sort(tx, dim=1, stable=True),
         "minigrad fwd+bwd": lambda: gx.sort(1).values.sum().backward(),
         "torch fwd+bwd": lambda: torch.sort(tgx, dim=1, stable=True).values.sum().backward()},
        {"name": "gather (1000, 1000) dim 1",
         "minigrad": lambda: mx.gather(1, mi), "numpy": lambda: np.take_along_axis(x, idx, 1),
         "torch": lambda: torch.gather(tx, 1, ti),
         "minigrad fwd+bwd": lambda: gx.gather(1, mi).sum().backward(),
         "torch fwd+bwd": lambda: torch.gather(tgx, 1, ti).sum().backward()},
        {"name": "scatter_add (1000, 1000) -> (1000, 100) dim 1",
         "minigrad": lambda: mg.zeros(1000, 100).scatter_add(1, ms, mx),
         "numpy": lambda: np.add.at(np.zeros((1000, 100), np.float32),
                                    (np.arange(1000)[:, None], small), x),
         "torch": lambda: torch.zeros(1000, 100).scatter_add(1, tsmall, tx),
         "minigrad fwd+bwd": lambda: mg.zeros(1000, 100).scatter_add(1, ms, gx).sum().backward(),
         "torch fwd+bwd": lambda: torch.zeros(1000, 100).scatter_add(
             1, tsmall, tgx).sum().backward()},
        {"name": "index_select 2000 rows of (1000, 1000)",
         "minigrad": lambda: mx.index_select(0, mr), "numpy": lambda: np.take(x, rows, 0),
         "torch": lambda: torch.index_select(tx, 0, trows),
         "minigrad fwd+bwd": lambda: gx.index_select(0, mr).sum().backward(),
         "torch fwd+bwd": lambda: torch.index_select(tgx, 0, trows).sum().backward()},
        {"name": "einsum bij,bjk->bik (64,128,64)x(64,64,128)",
         "minigrad": lambda: mg.einsum("bij,bjk->bik", ma, mb),
         "numpy": lambda: np.einsum("bij,bjk->bik", a, b),
         "torch": lambda: torch.einsum("bij,bjk->bik", ta, tb),
         "minigrad fwd+bwd": lambda: mg.einsum("bij,bjk->bik", ga, gb).sum().backward(),
         "torch fwd+bwd": lambda: torch.einsum("bij,bjk->bik", tga, tgb).sum().backward()},
        {"name": "einsum bij,bij->b (64,128,64)",
         "minigrad": lambda: mg.einsum("bij,bij->b", ma, ma),
         "numpy": lambda: np.einsum("bij,bij->b", a, a),
         "torch": lambda: torch.einsum("bij,bij->b", ta, ta),
         "minigrad fwd+bwd": lambda: mg.einsum("bij,bij->b", ga, ga).sum().backward(),
         "torch fwd+bwd": lambda: torch.einsum("bij,bij->b", tga, tga).sum().backward()},
    ]
    # more of the contractions models write with einsum: row dots, attention scores, batched
    # matrix-vector products (np.einsum here; matmul may win on a quiet machine), a trace, an
    # outer product
    # distinct operands: mg.tensor copies, so one array passed twice would favour NumPy's cache
    extra = {"ij,ij->i (2000,500)": [x.reshape(2000, 500), x[::-1].reshape(2000, 500)],
             "bhqd,bhkd->bhqk (4,8,256,64)": [a.reshape(4, 8, 256, 64),
                                              b.reshape(4, 8, 256, 64)],
             "bij,bj->bi (64,128,64)x(64,64)": [a, b[:, :, 0].copy()],
             "ii-> (1000,1000)": [x],
             "i,j->ij (1000)x(1000)": [x[0], x[1]]}
    for name, arrays in extra.items():
        eq = name.split()[0]
        cases.append(_einsum_case(eq, name, arrays))
    if torch is not None:
        tx, ti, tsmall, trows = (torch.from_numpy(v) for v in (x, idx, small, rows))
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        tgx = torch.tensor(x, requires_grad=True)
        tga, tgb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    return cases


def _einsum_case(eq: str, name: str, arrays: list[np.ndarray]) -> dict:
    ms = [mg.tensor(v) for v in arrays]
    gs = [mg.tensor(v, requires_grad=True) for v in arrays]
    ts = [torch.from_numpy(np.ascontiguousarray(v)) for v in arrays] if torch else []
    tgs = [torch.tensor(v, requires_grad=True) for v in arrays] if torch else []
    return {"name": f"einsum {name}",
            "minigrad": lambda: mg.einsum(eq, *ms), "numpy": lambda: np.einsum(eq, *arrays),
            "torch": lambda: torch.einsum(eq, *ts),
            "minigrad fwd+bwd": lambda: mg.einsum(eq, *gs).sum().backward(),
            "torch fwd+bwd": lambda: torch.einsum(eq, *tgs).sum().backward()}


def _rounds(fns: dict, rounds: int, calls: int = 3) -> dict:
    """Median ms per library and median ratios (other / minigrad), interleaved per round."""
    for fn in fns.values():
        fn()  # warm up (Numba compiles)
    ms: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(rounds):
        for k, fn in fns.items():
            ms[k].append(block_ms(fn, calls))
            time.sleep(SWITCH_PAUSE_S)
    ours = ms["minigrad"]
    return {k: (statistics.median(v), statistics.median(o / m for o, m in zip(v, ours)))
            for k, v in ms.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--only", default=None, help="run the rows whose name contains this")
    args = ap.parse_args()
    print(f"numpy {np.__version__}, torch {torch.__version__ if torch else 'absent'}; "
          f"median ms over {args.rounds} interleaved rounds; ratio = other / minigrad (>1: "
          "minigrad faster)")
    header = f"{'op':48s} {'minigrad':>9s} {'numpy':>9s} {'np/mg':>6s} {'torch':>9s} {'th/mg':>6s}"
    print(header)
    for c in _cases():
        if args.only and args.only not in c["name"]:
            continue
        fwd = {"minigrad": c["minigrad"], "numpy": c["numpy"]}
        if torch is not None:
            fwd["torch"] = c["torch"]
        r = _rounds(fwd, args.rounds)
        th = f"{r['torch'][0]:9.2f} {r['torch'][1]:6.2f}" if "torch" in r else ""
        print(f"{c['name']:48s} {r['minigrad'][0]:9.2f} {r['numpy'][0]:9.2f} "
              f"{r['numpy'][1]:6.2f} {th}")
        if torch is not None:
            r = _rounds({"minigrad": c["minigrad fwd+bwd"], "torch": c["torch fwd+bwd"]},
                        args.rounds)
            print(f"{'  fwd+bwd':48s} {r['minigrad'][0]:9.2f} {'':>9s} {'':>6s} "
                  f"{r['torch'][0]:9.2f} {r['torch'][1]:6.2f}")


if __name__ == "__main__":
    main()
