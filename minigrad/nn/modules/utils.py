"""Argument helpers shared by the layers (PyTorch's ``_single``/``_pair``)."""

from __future__ import annotations

from typing import Any

import numpy as np


def ntuple(value: Any, n: int, who: str, name: str) -> tuple[int, ...]:
    """An int or a sequence of ``n`` ints as an n-tuple of ints."""
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        return (int(value),) * n
    try:
        t = tuple(int(v) for v in value)
    except TypeError:
        raise TypeError(f"{who}: {name} must be an int or a sequence of {n} ints, got "
                        f"{value!r}") from None
    if len(t) != n:
        raise ValueError(f"{who}: {name} must be an int or a sequence of {n} ints, got {value!r}")
    return t
