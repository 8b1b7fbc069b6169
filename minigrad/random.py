"""minigrad's global random state: ``manual_seed`` seeds random constructors, init and dropout."""

from __future__ import annotations

import numpy as np

__all__ = ["manual_seed", "generator", "seed"]

_generator = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Seed minigrad's global generator (``rand``, ``randn``, ``nn.init``, dropout, shuffling)."""
    global _generator
    _generator = np.random.default_rng(int(seed))
    return _generator


def seed() -> int:
    """Seed the global generator from the OS and return the seed used."""
    s = int(np.random.SeedSequence().entropy % (2**63))
    manual_seed(s)
    return s


def generator() -> np.random.Generator:
    """The global ``np.random.Generator`` (re-created by :func:`manual_seed`)."""
    return _generator
