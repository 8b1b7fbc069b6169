"""``Parameter``: a Tensor that a ``Module`` registers as a learnable weight."""

from __future__ import annotations

from typing import Any

import numpy as np

from minigrad import serialization
from minigrad.tensor import DEFAULT_DTYPE, Tensor

__all__ = ["Parameter"]


class Parameter(Tensor):
    """A leaf Tensor that requires grad by default; assigning one to a ``Module`` attribute
    registers it, so it shows up in ``parameters()`` and ``state_dict()``.

    ``data`` may be a Tensor (its storage is shared, as in PyTorch), an ndarray (wrapped without a
    copy) or nested lists. Floating data keeps its dtype (float32 by default, float64 after
    ``module.double()``); integer or bool data becomes float32.
    """

    def __init__(self, data: Any = None, requires_grad: bool = True) -> None:
        if data is None:
            arr = np.empty(0, dtype=DEFAULT_DTYPE)
        elif isinstance(data, Tensor):
            arr = data.data
        else:
            arr = np.asarray(data)
        if not np.issubdtype(arr.dtype, np.floating):
            arr = arr.astype(DEFAULT_DTYPE)
        super().__init__(np.empty(0, dtype=arr.dtype))
        self.data = arr  # Tensor() would copy; a Parameter shares its data's storage
        self.requires_grad_(requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


serialization.register_parameter_type(Parameter)
