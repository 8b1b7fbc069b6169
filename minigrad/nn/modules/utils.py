"""Argument helpers shared by the layers (PyTorch's ``_single``/``_pair``); the checks themselves
live in :mod:`minigrad.nn.modules._validate`."""

from __future__ import annotations

from typing import Any

from minigrad.nn.modules._validate import int_tuple


def ntuple(value: Any, n: int, who: str, name: str) -> tuple[int, ...]:
    """An int or a sequence of ``n`` ints as an n-tuple of ints."""
    return int_tuple(value, n, who, name)
