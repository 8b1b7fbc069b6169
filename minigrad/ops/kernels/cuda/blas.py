"""The GPU side of ``kernels/cpu/blas.py``: the products one after the other (each one kernel
launch on the device; nothing to gain from threads on the host)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from minigrad.ops.kernels import api

__all__ = list(api.BLAS)


def matmuls(pairs: Sequence[tuple[Any, Any]]) -> list[Any]:
    """``[a @ b for a, b in pairs]`` for 2-D device arrays."""
    return [a @ b for a, b in pairs]
