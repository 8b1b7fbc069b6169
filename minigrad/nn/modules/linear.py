"""``Linear``, ``Identity`` and ``Flatten``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from minigrad.nn import functional as F
from minigrad.nn import init
from minigrad.nn.modules import _validate as V
from minigrad.nn.modules.module import Module
from minigrad.nn.parameter import Parameter
from minigrad.tensor import Tensor

__all__ = ["Identity", "Linear", "Flatten"]


class Identity(Module):
    """Returns its input; accepts and ignores any constructor arguments (as PyTorch)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, input: Any) -> Any:
        return input


class Linear(Module):
    """``y = x @ weight.T + bias``.

    x: (*, in_features) -> y: (*, out_features); x must have the parameters' dtype (float32
    unless built with ``dtype=`` or converted with ``.double()``), else ``TypeError``: convert
    the data with ``x.float()`` (PyTorch raises too; NumPy's ``uint8 / 255.0`` is float64).
    in_features or out_features may be 0 (as PyTorch: the output is the bias, or empty).
    weight: (out_features, in_features) drawn with ``kaiming_uniform_(a=sqrt(5))``
    (U(+-1/sqrt(in_features))), bias: (out_features,) drawn from U(+-1/sqrt(in_features)):
    PyTorch's default initialisation.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 dtype: Any = None) -> None:
        super().__init__()
        self.in_features = V.integer(in_features, "Linear", "in_features", 0)
        self.out_features = V.integer(out_features, "Linear", "out_features", 0)
        dt = np.dtype(dtype) if dtype is not None else np.float32
        self.weight = Parameter(np.empty((out_features, in_features), dtype=dt))
        if bias:
            self.bias = Parameter(np.empty(out_features, dtype=dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input: Tensor) -> Tensor:
        V.check_input_dtype(self, input, self.weight)
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Flatten(Module):
    """Merge axes ``start_dim..end_dim`` into one: (N, C, H, W) -> (N, C*H*W) by default."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = V.integer(start_dim, "Flatten", "start_dim")
        self.end_dim = V.integer(end_dim, "Flatten", "end_dim")
        if (start_dim >= 0) == (end_dim >= 0) and start_dim > end_dim:
            raise ValueError(f"Flatten: start_dim {start_dim} comes after end_dim {end_dim}")

    def forward(self, input: Tensor) -> Tensor:
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
