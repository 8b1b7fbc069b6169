"""``Dropout`` and ``Dropout2d``."""

from __future__ import annotations

from minigrad.nn import functional as F
from minigrad.nn.modules import _validate as V
from minigrad.nn.modules.module import Module
from minigrad.tensor import Tensor

__all__ = ["Dropout", "Dropout2d"]


class Dropout(Module):
    """In training mode, zero each element with probability ``p`` and scale the survivors by
    ``1 / (1 - p)`` (inverted dropout, so eval mode is the identity). Masks come from
    ``minigrad.random.generator()`` (seeded by ``minigrad.manual_seed``). ``inplace`` is accepted
    for PyTorch compatibility; the output is always a new tensor."""

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        self.p = V.probability(p, type(self).__name__)
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout(input, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout2d(Dropout):
    """Dropout of whole channels: in training mode each (n, c) plane of x: (N, C, H, W) is
    zeroed with probability ``p`` and the rest scaled by ``1 / (1 - p)`` (neighbouring pixels
    are correlated, so dropping single pixels regularises little)."""

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout2d(input, self.p, self.training)
