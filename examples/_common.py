"""What every walk-through shares: its command line, narration, checked claims, and figures.

Each walk-through is run as ``python examples/NN_name.py [--fast] [--out-dir DIR]`` and exposes
``main(argv)`` so the test-suite can run it in-process. Claims are checked with :func:`claim`,
which raises ``AssertionError`` (even under ``python -O``) so a broken claim fails loudly.
"""

from __future__ import annotations

import argparse
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_OUT = Path(__file__).resolve().parent / "out"


def parse_args(description: str, argv: Sequence[str] | None, *, data: bool = False,
               extra: Any = None) -> argparse.Namespace:
    """The common flags: --fast (small sizes, few steps: the test-suite's mode), --out-dir,
    --seed, and --data-dir (MNIST IDX files) for the walk-throughs that read images."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--fast", action="store_true", help="small sizes and few steps (for tests)")
    p.add_argument("--out-dir", type=Path, default=DEFAULT_OUT,
                   help=f"where pictures are written (default: {DEFAULT_OUT})")
    p.add_argument("--seed", type=int, default=0)
    if data:
        p.add_argument("--data-dir", type=Path, default=None,
                       help="folder with MNIST IDX files (t10k-images-idx3-ubyte[.gz] ...); "
                            "default: scikit-learn's bundled 8x8 digits")
    if extra is not None:
        extra(p)
    args = p.parse_args(list(argv) if argv is not None else None)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    if args.out_dir.resolve() == DEFAULT_OUT:
        # pictures are build output: keep them out of git even without a root .gitignore entry
        (args.out_dir / ".gitignore").write_text("*\n")
    return args


def title(text: str) -> None:
    print("\n" + text + "\n" + "=" * len(text))


def say(text: str) -> None:
    """Print a paragraph of narration (dedented, wrapped at 92 columns)."""
    for para in textwrap.dedent(text).strip().split("\n\n"):
        print(textwrap.fill(" ".join(para.split()), width=92))
        print()


def claim(ok: Any, text: str) -> None:
    """Check a claim the narration makes; print it when it holds, raise when it does not."""
    if not bool(ok):
        raise AssertionError(f"claim does not hold: {text}")
    print(f"  [checked] {text}")


def show(label: str, array: Any) -> None:
    """Print a small array under a label, indented."""
    print(f"  {label}\n    " + str(np.asarray(array)).replace("\n", "\n    "))


def max_abs_diff(a: Any, b: Any) -> float:
    return float(np.max(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64))))


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend (headless), or None when matplotlib is missing."""
    try:
        import matplotlib
    except ImportError:
        print("  (matplotlib is not installed: no pictures; pip install 'minigrad[examples]')")
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig: Any, out_dir: Path, name: str) -> Path:
    """Write ``fig`` to ``out_dir/name`` and close it."""
    path = out_dir / name
    if fig.get_layout_engine() is None:  # figures with colour bars use layout="constrained"
        fig.tight_layout()
    fig.savefig(path, dpi=110)
    import matplotlib.pyplot as plt

    plt.close(fig)
    print(f"  wrote {path}")
    return path


def digit_images(data_dir: Path | None) -> tuple[np.ndarray, np.ndarray, str]:
    """Real handwritten digits: (X (N, 1, H, W) float32 in [0, 1], y (N,) int64, description).

    MNIST from ``data_dir`` when given (28x28), else scikit-learn's bundled digits (8x8)."""
    if data_dir is not None:
        from minigrad.data import MNIST

        ds = MNIST(data_dir, train=False)
        return ds.data, ds.targets, f"MNIST test set from {data_dir} (28x28)"
    from minigrad.data import load_digits

    X, y = load_digits()
    return X, y, "scikit-learn's bundled handwritten digits (8x8)"
