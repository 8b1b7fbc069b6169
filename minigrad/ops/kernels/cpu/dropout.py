"""Dropout masks on the CPU (``kernels/cuda/dropout.py`` is the GPU twin)."""

from __future__ import annotations

from typing import Any

import numpy as np

from minigrad.ops.kernels import api

__all__ = list(api.DROPOUT)


def scaled_mask(keep: np.ndarray, scale: float, dtype: Any) -> np.ndarray:
    """``scale`` where ``keep`` (a bool array), else 0, in ``dtype``; keep's shape."""
    dt = np.dtype(dtype)
    return keep.astype(dt) * dt.type(scale)
