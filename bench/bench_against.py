"""Before/after for a change: the ops of ``bench_ops.py`` timed in the working tree and at a git
ref, in one process, alternately.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/bench_against.py REF
        [--only pool] [--rounds 7]

``bench_ops.py`` compares minigrad with PyTorch; two separate runs of it for two trees compare
two ratios measured minutes apart, on a VM whose speed drifts by 2x within seconds. Here both
copies of minigrad are loaded side by side (``bench_train.Codebase``: REF's ``minigrad/`` is
extracted into a cache folder and imported under its own ``sys.modules`` entries) and each case
alternates between them within every round, the way ``bench_ops`` alternates libraries. ``new /
old`` is the median over rounds of the per-round ratio of times: above 1 means the working tree
is slower.

The cases call the public API only (``minigrad.nn.functional``, as it was before the package was
reorganised), so that one closure runs unchanged against either tree: the convolution, pooling,
activation, batch-norm and loss rows of ``bench_ops.py`` and scaled-dot-product attention (skipped
where the old tree lacks it), forward+backward with a fixed output gradient, float32.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_ops import SWITCH_PAUSE_S, block_ms  # noqa: E402
from bench_train import ROOT, Codebase, checkout  # noqa: E402

POOL_SHAPE = (64, 32, 32, 32)
ACT_SIZE = 4 * 1024 * 1024
CE_SHAPE = (256, 1000)


def _specs() -> list[tuple[str, tuple[Any, ...], Callable[..., Any]]]:
    """(name, input shape or a tuple of shapes, op(mg, F, *inputs)) for each case; the op gets
    the tree's package and functional module."""
    rng = np.random.default_rng(2)
    target = rng.integers(0, CE_SHAPE[1], CE_SHAPE[0])
    w = {k: rng.standard_normal(s).astype(np.float32) * 0.1 for k, s in {
        "5x5 1->6": (6, 1, 5, 5), "5x5 6->16": (16, 6, 5, 5), "3x3 3->32": (32, 3, 3, 3),
        "3x3 64->64": (64, 64, 3, 3)}.items()}

    def conv(key: str, **kw: Any) -> Callable[..., Any]:
        return lambda mg, F, x: F.conv2d(x, mg.tensor(w[key]), **kw)

    return [
        ("conv2d (64, 1, 28, 28)->6 5x5 p2", (64, 1, 28, 28), conv("5x5 1->6", padding=2)),
        ("conv2d (64, 6, 14, 14)->16 5x5", (64, 6, 14, 14), conv("5x5 6->16")),
        ("conv2d (64, 3, 32, 32)->32 3x3 p1", (64, 3, 32, 32), conv("3x3 3->32", padding=1)),
        ("conv2d (32, 64, 32, 32)->64 3x3 p1", (32, 64, 32, 32),
         conv("3x3 64->64", padding=1)),
        ("max_pool2d 2x2", POOL_SHAPE, lambda mg, F, x: F.max_pool2d(x, 2)),
        ("avg_pool2d 2x2", POOL_SHAPE, lambda mg, F, x: F.avg_pool2d(x, 2)),
        ("max_pool2d 3x3 s2 p1", POOL_SHAPE, lambda mg, F, x: F.max_pool2d(x, 3, 2, 1)),
        ("adaptive_avg_pool2d 1", POOL_SHAPE, lambda mg, F, x: F.adaptive_avg_pool2d(x, 1)),
        ("batch_norm train", POOL_SHAPE,
         lambda mg, F, x: F.batch_norm(x, None, None, training=True)),
        *[(f"{name} 4M", (ACT_SIZE,), (lambda n: lambda mg, F, x: getattr(F, n)(x))(name))
          for name in ("relu", "sigmoid", "tanh", "gelu", "silu", "elu", "softplus")],
        ("gelu tanh 4M", (ACT_SIZE,), lambda mg, F, x: F.gelu(x, approximate="tanh")),
        ("log_softmax (256, 1000)", CE_SHAPE, lambda mg, F, x: F.log_softmax(x, 1)),
        ("cross_entropy (256, 1000)", CE_SHAPE, lambda mg, F, x: F.cross_entropy(x, target)),
        ("sdpa (4, 8, 128, 64) q, k, v", ((4, 8, 128, 64),) * 3,
         lambda mg, F, q, k, v: F.scaled_dot_product_attention(q, k, v)),
    ]


def _fwd_bwd(cb: Codebase, op: Callable[..., Any], xs: list[np.ndarray]) -> Callable[[], None]:
    """forward+backward of ``op`` on the inputs ``xs`` (each requiring grad) in one tree, with a
    fixed output gradient."""
    with cb.active() as mg:
        import minigrad.nn.functional as F

        txs = [mg.tensor(x, requires_grad=True) for x in xs]
        y = op(mg, F, *txs)
        gy = mg.tensor(np.random.default_rng(3).standard_normal(y.shape).astype(np.float32))

    def run() -> None:
        for t in txs:
            t.grad = None
        op(mg, F, *txs).backward(gy)

    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("ref", help="git ref of the 'old' tree, e.g. main or a commit")
    ap.add_argument("--only", help="run only cases whose name contains this")
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    new, old = Codebase(ROOT), Codebase(checkout(args.ref))
    rng = np.random.default_rng(0)
    print(f"# new = working tree, old = {args.ref}; forward+backward ms, median over "
          f"{args.rounds} rounds; new/old = median of per-round ratios (> 1: slower now)")
    print(f"{'case':<40} {'new ms':>8} {'old ms':>8} {'new/old':>8}")
    for name, shape, op in _specs():
        if args.only and args.only not in name:
            continue
        shapes = shape if isinstance(shape[0], tuple) else (shape,)
        xs = [rng.standard_normal(s).astype(np.float32) for s in shapes]
        trees = [new, old]
        try:
            fns = [_fwd_bwd(tree, op, xs) for tree in trees]
        except AttributeError as e:  # an op that one of the trees does not have
            print(f"{name:<40} skipped: {e}")
            continue
        times: list[list[float]] = [[], []]
        for r in range(args.rounds):
            for k in (r % 2, 1 - r % 2):  # who goes first alternates too
                with trees[k].active():  # its modules, for imports made inside minigrad
                    times[k].append(block_ms(fns[k], 3))
                time.sleep(SWITCH_PAUSE_S)
        ratio = statistics.median(a / b for a, b in zip(*times))
        print(f"{name:<40} {statistics.median(times[0]):8.2f} "
              f"{statistics.median(times[1]):8.2f} {ratio:8.3f}", flush=True)


if __name__ == "__main__":
    main()
