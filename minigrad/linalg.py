"""``minigrad.linalg``: PyTorch's ``torch.linalg`` names that minigrad has.

``vector_norm`` (p = 2, 1, inf, -inf, 0, any p), ``inv``, ``det``, ``solve``, ``cholesky``; all
differentiable (``minigrad.ops.linalg`` and ``minigrad.ops.reduce`` hold the ops). On the GPU the
LAPACK calls (``inv``, ``det``, ``solve``, ``cholesky``) run on the host, counted as fallbacks.
"""

from minigrad.ops.linalg import cholesky, det, inv, solve
from minigrad.ops.reduce import vector_norm

__all__ = ["vector_norm", "inv", "det", "solve", "cholesky"]

