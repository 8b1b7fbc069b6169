"""Hints for PyTorch names minigrad does not have.

``Tensor``, ``minigrad``, ``minigrad.nn`` and ``minigrad.nn.functional`` define ``__getattr__``,
which Python calls only after the normal lookup has failed, so a hit costs nothing. It raises an
``AttributeError`` that, for a name a PyTorch user would type, says what to write instead
("minigrad has no `Tensor.type_as`; use `x.astype(other.dtype)`"); any other name gets Python's
usual message. The tables hold only names that do not exist: ``tests/test_torch_compat.py`` fails
when one of them is implemented (delete its entry then).
"""

from __future__ import annotations

from typing import Any

__all__ = ["TENSOR", "MINIGRAD", "NN", "FUNCTIONAL", "attribute_error", "module_getattr"]

_NOT_YET = "not implemented yet"

# Tensor methods and attributes (``x.name``).
TENSOR: dict[str, str] = {
    "add": "use `x + y` or `mg.add(x, y)`",
    "sub": "use `x - y` or `mg.sub(x, y)`",
    "mul": "use `x * y` or `mg.mul(x, y)`",
    "neg": "use `-x`",
    "t": "use `x.T` or `x.transpose(0, 1)`",
    "type_as": "use `x.astype(other.dtype)`",
    "int": "use `x.astype(mg.int32)` (or `x.long()` for int64)",
    "bool": "use `x.astype(mg.bool_)`",
    "half": "float16 is not supported; minigrad computes in float32 (`x.float()`) or float64",
    "bfloat16": "bfloat16 is not supported; minigrad computes in float32 (`x.float()`) or float64",
    "nelement": "use `x.numel()`",
    "ndimension": "use `x.dim()` or `x.ndim`",
    "get_device": "use `x.device`",
    "data_ptr": "not supported: the storage is a NumPy array, `x.numpy()`",
    "pin_memory": "not supported (host tensors are ordinary NumPy arrays)",
    "share_memory_": "not supported (host tensors are ordinary NumPy arrays)",
    "is_floating_point": "use `np.issubdtype(x.dtype, np.floating)`",
    "clamp_min": "use `x.clamp(min=v)`",
    "clamp_max": "use `x.clamp(max=v)`",
    "new_zeros": "use `mg.zeros(shape, dtype=x.dtype, device=x.device)`",
    "new_ones": "use `mg.ones(shape, dtype=x.dtype, device=x.device)`",
    "new_full": "use `mg.full(shape, value, dtype=x.dtype, device=x.device)`",
    "new_tensor": "use `mg.tensor(data, dtype=x.dtype, device=x.device)`",
}

# ``minigrad.name`` (PyTorch's ``torch.name``).
MINIGRAD: dict[str, str] = {
    "float": "use `mg.float32`",
    "double": "use `mg.float64`",
    "long": "use `mg.int64`",
    "int": "use `mg.int32`",
    "bool": "use `mg.bool_`",
    "half": "float16 is not supported; minigrad computes in float32 or float64",
    "float16": "float16 is not supported; minigrad computes in float32 or float64",
    "bfloat16": "bfloat16 is not supported; minigrad computes in float32 or float64",
    "uint8": "use `numpy.uint8` (minigrad's dtypes are NumPy's)",
    "int8": "use `numpy.int8` (minigrad's dtypes are NumPy's)",
    "int16": "use `numpy.int16` (minigrad's dtypes are NumPy's)",
    "FloatTensor": "use `mg.tensor(data, dtype=mg.float32)`",
    "DoubleTensor": "use `mg.tensor(data, dtype=mg.float64)`",
    "LongTensor": "use `mg.tensor(data, dtype=mg.int64)`",
    "Size": "use a tuple of ints (`x.shape` is one)",
    "is_tensor": "use `isinstance(x, mg.Tensor)`",
    "numel": "use `x.numel()`",
    "seed": "use `mg.manual_seed(n)` (or `mg.random.seed()`)",
    "relu": "use `mg.nn.functional.relu(x)` or `x.relu()`",
    "sigmoid": "use `mg.nn.functional.sigmoid(x)` or `x.sigmoid()`",
    "softmax": "use `mg.nn.functional.softmax(x, dim)` or `x.softmax(dim)`",
    "log_softmax": "use `mg.nn.functional.log_softmax(x, dim)` or `x.log_softmax(dim)`",
    "equal": "use `a.shape == b.shape and (a == b).all()`",
    "set_default_dtype": "not supported: the default is float32; pass `dtype=` to constructors",
    "get_default_dtype": "not supported: the default is float32 (`mg.float32`)",
    "compile": "not supported (minigrad's kernels are compiled by Numba)",
    "jit": "not supported (minigrad's kernels are compiled by Numba)",
    "autocast": "not supported (no mixed precision)",
    "amp": "not supported (no mixed precision)",
    "utils": "`torch.utils.data` is `minigrad.data` (Dataset, DataLoader)",
}

# ``minigrad.nn.Name``.
NN: dict[str, str] = {
    "BatchNorm3d": "not supported (2-d and 1-d only: nn.BatchNorm2d, nn.BatchNorm1d)",
    "Conv3d": "not supported (nn.Conv1d and nn.Conv2d only)",
    "ZeroPad2d": "use `nn.functional.pad(x, (left, right, top, bottom))`",
    "Unflatten": "use `x.reshape(...)` in forward",
    "Softmax2d": "use `nn.Softmax(dim=-3)`",
    "PReLU": f"{_NOT_YET}; nn.LeakyReLU has a fixed slope",
    "LazyLinear": "not supported; give in_features to nn.Linear",
    "DataParallel": "not supported (one GPU)",
}

# ``minigrad.nn.functional.name``.
FUNCTIONAL: dict[str, str] = {
    "grid_sample": "not supported",
}

_TABLES = {"Tensor": TENSOR, "minigrad": MINIGRAD, "minigrad.nn": NN,
           "minigrad.nn.functional": FUNCTIONAL}
_LABELS = {"Tensor": "Tensor", "minigrad": "minigrad", "minigrad.nn": "nn",
           "minigrad.nn.functional": "nn.functional"}


def attribute_error(owner: str, name: str, obj: Any) -> AttributeError:
    """The AttributeError for ``obj.name`` (``owner``: ``'Tensor'`` or a module's name)."""
    hint = None if name.startswith("__") else _TABLES[owner].get(name)
    if hint is not None:
        msg = f"minigrad has no `{_LABELS[owner]}.{name}`; {hint}"
    elif owner == "Tensor":
        msg = f"'Tensor' object has no attribute '{name}'"
    else:
        msg = f"module '{owner}' has no attribute '{name}'"
    return AttributeError(msg, name=name, obj=obj)


def module_getattr(module_name: str) -> Any:
    """A module-level ``__getattr__`` for ``module_name`` (PEP 562)."""
    import sys

    def __getattr__(name: str) -> Any:  # noqa: N807
        raise attribute_error(module_name, name, sys.modules.get(module_name))

    return __getattr__
