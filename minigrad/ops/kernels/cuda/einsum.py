"""GPU twin of ``kernels/cpu/einsum.py`` (same name and signature): a matrix product runs as one
batched ``np.matmul`` on ``CudaArray`` (minigrad's GPU matmul), every other pair as a broadcast
product summed over the dropped labels (GPU elementwise and reduction kernels); ``np.einsum`` has
no GPU kernel, so it is never called here."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from minigrad.ops.kernels.cpu.einsum import broadcast_contract, is_matrix_product, matmul_contract

__all__ = ["contract"]


def contract(a: Any, b: Any, la: Sequence[int], lb: Sequence[int], lo: Sequence[int]) -> Any:
    """``out[lo] = sum over the labels lo drops of a[la] * b[lb]`` (see the CPU kernel)."""
    if is_matrix_product(a, b, la, lb, lo):
        return matmul_contract(a, b, la, lb, lo)
    return broadcast_contract(a, b, la, lb, lo)
