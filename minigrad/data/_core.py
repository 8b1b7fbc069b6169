"""The two things ``minigrad.data`` needs from the core: making a Tensor and the global RNG.

Kept in one place so the rest of the package is plain NumPy and the coupling to the core is
visible at a glance.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minigrad import random
from minigrad.tensor import Tensor, from_numpy

GeneratorLike = np.random.Generator | int | None


def is_tensor(x: Any) -> bool:
    """True for a ``minigrad.Tensor``."""
    return isinstance(x, Tensor)


def to_tensor(array: np.ndarray) -> Any:
    """Wrap ``array`` (already in its final dtype) as a constant ``minigrad.Tensor``.

    Shares storage (``from_numpy``): every caller passes a freshly made array, so no copy is due.
    """
    return from_numpy(array)


def global_generator() -> np.random.Generator:
    """minigrad's global generator, re-read on every call because ``manual_seed`` replaces it."""
    return random.generator()


def make_generator(generator: GeneratorLike, owner: str) -> np.random.Generator | None:
    """Normalise a ``generator`` argument: a Generator is used as is, an int seeds a private one,
    None defers to the global generator at draw time (returned as None)."""
    if generator is None or isinstance(generator, np.random.Generator):
        return generator
    if isinstance(generator, (int, np.integer)) and not isinstance(generator, bool):
        return np.random.default_rng(int(generator))
    raise TypeError(
        f"{owner}: generator must be a numpy.random.Generator, an int seed or None, "
        f"got {type(generator).__name__}"
    )


def resolve(generator: np.random.Generator | None) -> np.random.Generator:
    """The generator to draw from now."""
    return global_generator() if generator is None else generator
