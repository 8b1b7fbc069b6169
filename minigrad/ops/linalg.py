"""Matrix multiplication: 1-D, 2-D and batched (broadcast batch axes), as ``np.matmul``."""

from __future__ import annotations

from typing import Any

import numpy as np

from minigrad.autograd import Function
from minigrad.ops.elementwise import as_tensor, broadcast_shape
from minigrad.tensor import Tensor


class MatMulFn(Function):
    """``a @ b`` for a: (..., n, k), b: (..., k, m); batch axes broadcast (and are summed back
    centrally in backward)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.matmul(a.data, b.data)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        da, db = ctx.needs_input_grad
        ga = g @ b.swapaxes(-1, -2) if da else None
        gb = a.swapaxes(-1, -2) @ g if db else None
        return ga, gb


def matmul(a: Any, b: Any) -> Tensor:
    """Matrix product with NumPy's rules: a 1-D operand is a row (left) or column (right) vector
    whose axis is dropped from the result; leading axes are batch axes and broadcast."""
    for x in (a, b):
        if not isinstance(x, Tensor | np.ndarray | list):
            raise TypeError(f"matmul: operands must be tensors or arrays, got {type(x).__name__}")
    a = as_tensor(a, None, "matmul")
    b = as_tensor(b, a, "matmul")
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: operands must have at least 1 dimension; got shapes {a.shape} "
                         f"and {b.shape} (use * for scalars)")
    ka = a.shape[-1]
    kb = b.shape[-2] if b.ndim > 1 else b.shape[0]
    if ka != kb:
        which = "first" if b.ndim == 1 else "second-to-last"
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} are not aligned: {ka} (last dim "
                         f"of the first) != {kb} ({which} dim of the second)")
    broadcast_shape("matmul", a.shape[:-2], b.shape[:-2])
    if a.dtype != b.dtype:
        dt = np.result_type(a.dtype, b.dtype)
        a, b = a.astype(dt), b.astype(dt)
    if a.ndim == 1 and b.ndim == 1:
        return (a.reshape(1, -1) @ b.reshape(-1, 1)).reshape(())
    if a.ndim == 1:
        return (a.reshape(1, -1) @ b).squeeze(-2)
    if b.ndim == 1:
        return (a @ b.reshape(-1, 1)).squeeze(-1)
    return MatMulFn.apply(a, b)
