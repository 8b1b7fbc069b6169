"""GPU twin of ``kernels/cpu/einsum.py`` (same names and signatures): a matrix product runs as one
batched ``np.matmul`` on ``CudaArray`` (minigrad's GPU matmul), every other pair as a broadcast
product summed over the dropped labels (GPU elementwise and reduction kernels), a diagonal as a
fancy index on the device; ``np.einsum`` has no GPU kernel, so it is never called here."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from minigrad import _device
from minigrad.ops.kernels.cpu.einsum import (
    aligned,
    broadcast_contract,
    is_matrix_product,
    matmul_contract,
    unique_labels,
)

__all__ = ["contract", "diagonal_sum", "diagonal_embed"]


def contract(a: Any, b: Any, la: Sequence[int], lb: Sequence[int], lo: Sequence[int]) -> Any:
    """``out[lo] = sum over the labels lo drops of a[la] * b[lb]`` (see the CPU kernel)."""
    if is_matrix_product(a, b, la, lb, lo):
        return matmul_contract(a, b, la, lb, lo)
    return broadcast_contract(a, b, la, lb, lo)


def _diagonal_index(lx: Sequence[int], lu: list[int], shape: tuple[int, ...], like: Any) -> tuple:
    """Per axis of an array labelled ``lx``: an arange over its label's size, shaped to broadcast
    over the unique labels ``lu`` (indexing with them picks the diagonal, labelled ``lu``)."""
    size = dict(zip(lx, shape))
    index = []
    for lab in lx:
        grid = [1] * len(lu)
        grid[lu.index(lab)] = size[lab]
        index.append(_device.asarray(np.arange(size[lab], dtype=np.int64).reshape(grid),
                                     like=like))
    return tuple(index)


def diagonal_sum(x: Any, lx: Sequence[int], lo: Sequence[int]) -> Any:
    """``out[lo] = sum over the labels lo drops of x[lx]`` (see the CPU kernel)."""
    lu = unique_labels(lx)
    d = x[_diagonal_index(lx, lu, x.shape, x)]
    dropped = tuple(i for i, lab in enumerate(lu) if lab not in lo)
    kept = [lab for lab in lu if lab in lo]
    if dropped:
        d = d.sum(axis=dropped)
    return np.transpose(d, tuple(kept.index(lab) for lab in lo))


def diagonal_embed(g: Any, lx: Sequence[int], lo: Sequence[int], shape: tuple[int, ...]) -> Any:
    """Zeros of ``shape`` with ``g`` written on the diagonal (see the CPU kernel)."""
    out = _device.zeros(shape, g.dtype, like=g)
    lu = unique_labels(lx)
    index = _diagonal_index(lx, lu, shape, g)
    size = dict(zip(lx, shape))
    out[index] = np.broadcast_to(aligned(g, lo, lu), tuple(size[lab] for lab in lu))
    return out
