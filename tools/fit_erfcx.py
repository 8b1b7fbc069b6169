"""Fit the polynomial behind minigrad's float32 gelu and print its coefficients.

    python tools/fit_erfcx.py [--degree 8]     (needs scipy, for the float64 reference)

``erfc(z) = t * exp(-z*z) * Q(t)`` with ``t = 1 / (1 + p*z)``, ``z >= 0``: Q(t) = erfcx(z) / t is
smooth and bounded on t in (0, 1] (from 1 at z = 0 to p/sqrt(pi) as z -> inf), so a short
polynomial fits it. The fit minimises the *relative* error (least squares, then Lawson
reweighting towards minimax) on z in [0, 9.5] (gelu's erfc(|x|/sqrt2) underflows beyond), and
``p`` is chosen by a scan. gelu and its derivative then share one exp(-x*x/2): the derivative's
Gaussian density is the same exponential.
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy.special import erfcx


def fit(degree: int, p: float, z_max: float = 9.5) -> tuple[np.ndarray, float]:
    """Coefficients of Q in increasing powers of t, and the max relative error."""
    z = np.linspace(0.0, z_max, 200_001)
    t = 1 / (1 + p * z)
    f = erfcx(z) / t
    v = np.vander(t, degree + 1, increasing=True)
    w = 1 / f
    for _ in range(40):
        c, *_ = np.linalg.lstsq(v * w[:, None], f * w, rcond=None)
        e = (v @ c - f) / f
        w = w * (1 + 2 * np.abs(e) / np.abs(e).max())
    return c, float(np.abs(e).max())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--degree", type=int, default=8)
    args = ap.parse_args()
    err, p, c = min((fit(args.degree, p)[1], p, fit(args.degree, p)[0])
                    for p in np.round(np.arange(0.20, 1.001, 0.02), 2))
    print(f"# degree {args.degree}, p = {p}: max relative error {err:.2e} (float64)")
    print("Q =", ", ".join(repr(float(np.float32(v))) for v in c))


if __name__ == "__main__":
    main()
