"""Containers: ``Sequential``, ``ModuleList``, ``ModuleDict``, ``ParameterList``,
``ParameterDict``."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np

from minigrad.nn import utils as nn_utils
from minigrad.nn.modules.activation import ReLU
from minigrad.nn.modules.conv import Conv2d
from minigrad.nn.modules.linear import Linear
from minigrad.nn.modules.module import Module
from minigrad.nn.modules.pooling import MaxPool2d
from minigrad.nn.parameter import Parameter
from minigrad.ops.fused import conv2d_relu, conv2d_relu_max_pool2d, linear_relu
from minigrad.tensor import Tensor

__all__ = ["Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict"]


def _index(idx: int, n: int, who: str) -> int:
    if not -n <= idx < n:
        raise IndexError(f"{who}: index {idx} is out of range for {n} modules")
    return idx % n


def _list_item(cls: type, values: Iterable[Any], idx: int | slice) -> Any:
    """``container[idx]`` of a ModuleList or ParameterList (``cls``) holding ``values``: one
    item, or for a slice a new ``cls`` of those items."""
    items = list(values)
    if isinstance(idx, slice):
        return cls(items[idx])
    return items[_index(idx, len(items), cls.__name__)]


class _ModuleSequence(Module):
    """Sequential and ModuleList: modules under the keys "0", "1", ... in order."""

    def _renumber(self, mods: list[Module]) -> None:
        """Make ``mods`` the modules, under contiguous str(int) keys as PyTorch keeps them."""
        self._modules.clear()
        for i, m in enumerate(mods):
            self._modules[str(i)] = m

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def append(self, module: Module) -> Any:
        """Adds ``module`` at the end; returns self."""
        self.add_module(str(len(self)), module)
        return self


def _hooked(m: Module) -> bool:
    return bool(m._forward_pre_hooks or m._forward_hooks or m._backward_hooks
                or m._backward_pre_hooks)


_FUSED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _host_float(x: Any, *params: Tensor | None) -> bool:
    """x a float32/float64 Tensor on the host, and every given parameter too, of x's dtype."""
    if (not isinstance(x, Tensor) or type(x.data) is not np.ndarray
            or x.dtype not in _FUSED_DTYPES):
        return False
    return all(p is None or (type(p.data) is np.ndarray and p.dtype == x.dtype) for p in params)


def _fused(mods: list[Module], i: int, x: Any) -> tuple[Tensor | None, int]:
    """Modules ``i, i+1(, i+2)`` on ``x`` as one fused op, and how many it ran, when they are a
    Conv2d or Linear, a ReLU (and for a Conv2d maybe a MaxPool2d) and nothing could tell the
    difference; ``(None, 0)`` otherwise (the caller runs module ``i`` alone)."""
    m, nxt = mods[i], mods[i + 1]
    if type(nxt) is not ReLU or _hooked(m) or _hooked(nxt):
        return None, 0
    kind = type(m)
    if kind is Linear:
        if (_host_float(x, m.weight, m.bias) and x.ndim >= 1
                and x.shape[-1] == m.weight.shape[1]):
            return linear_relu(x, m.weight, m.bias), 2
    elif kind is Conv2d:
        if m.padding_mode == "zeros" and _host_float(x, m.weight, m.bias) and x.ndim == 4:
            m._check_input(x)  # the layer's own errors, as unfused
            geo = (m.stride, m.padding, m.dilation, m.groups)
            pool = mods[i + 2] if i + 2 < len(mods) else None
            if type(pool) is MaxPool2d and not pool.return_indices and not _hooked(pool):
                return conv2d_relu_max_pool2d(
                    x, m.weight, m.bias, *geo, pool_kernel_size=pool.kernel_size,
                    pool_stride=pool.stride, pool_padding=pool.padding,
                    pool_dilation=pool.dilation, ceil_mode=pool.ceil_mode), 3
            return conv2d_relu(x, m.weight, m.bias, *geo), 2
    return None, 0


class Sequential(_ModuleSequence):
    """Modules applied in order: ``Sequential(m0, m1, ...)`` or ``Sequential(OrderedDict(name=m))``.

    Indexing (``seq[0]``, ``seq[-1]``, ``seq[1:3]`` gives a Sequential), ``len``, iteration and
    ``append`` work as on a list.

    Fusion: a ``Conv2d`` or ``Linear`` immediately followed by ``ReLU`` (a Conv2d's ReLU also
    with a following ``MaxPool2d``) runs as one op (:mod:`minigrad.ops.fused`: ReLU applied in
    place over the layer's output or as the pooling reads it, one graph node) when nothing could
    observe the difference: modules of exactly those classes, no forward or backward hooks on
    any of them, a float input on the CPU of the parameters' dtype (a Conv2d: a batched input
    and ``padding_mode='zeros'``; a MaxPool2d: ``return_indices=False``). Outputs and gradients
    are the unfused ones (bit for bit, up to the sign of a zero gradient behind a max-pool);
    only the graph shows one node for two or three.
    ``seq.fuse = False`` (or the ``minigrad.nn.utils.fusion(False)`` context) runs every module
    as written.
    """

    #: Whether this Sequential may fuse layer + ReLU pairs (see the class docstring).
    fuse: bool = True

    def __init__(self, *args: Module | OrderedDict[str, Module]) -> None:
        super().__init__()
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            for name, m in args[0].items():
                self.add_module(name, m)
        else:
            for i, m in enumerate(args):
                self.add_module(str(i), m)

    def forward(self, x: Any) -> Any:
        if not (self.fuse and nn_utils._FUSION[0]):
            for m in self._modules.values():
                x = m(x)
            return x
        mods = list(self._modules.values())
        i, n = 0, len(mods)
        while i < n:
            if i + 1 < n:
                y, ran = _fused(mods, i, x)
                if ran:
                    x, i = y, i + ran
                    continue
            x = mods[i](x)
            i += 1
        return x

    def __getitem__(self, idx: int | slice) -> Module:
        items = list(self._modules.items())
        if isinstance(idx, slice):
            return Sequential(OrderedDict(items[idx]))
        return items[_index(idx, len(items), "Sequential")][1]

    def __setitem__(self, idx: int, module: Module) -> None:
        key = list(self._modules)[_index(idx, len(self), "Sequential")]
        self.add_module(key, module)

    def __delitem__(self, idx: int | slice) -> None:
        keys = list(self._modules)
        for key in keys[idx] if isinstance(idx, slice) else [keys[_index(idx, len(keys),
                                                                          "Sequential")]]:
            del self._modules[key]
        # re-number, keeping PyTorch's contiguous str(int) keys
        if all(k.isdigit() for k in self._modules):
            self._renumber(list(self._modules.values()))


class ModuleList(_ModuleSequence):
    """A list of modules whose parameters are registered (a plain list's would not be)."""

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, idx: int | slice) -> Any:
        return _list_item(ModuleList, self._modules.values(), idx)

    def __setitem__(self, idx: int, module: Module) -> None:
        self.add_module(str(_index(idx, len(self), "ModuleList")), module)

    def __delitem__(self, idx: int | slice) -> None:
        mods = list(self._modules.values())
        if isinstance(idx, slice):
            del mods[idx]
        else:
            del mods[_index(idx, len(mods), "ModuleList")]
        self._renumber(mods)

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> None:
        mods = list(self._modules.values())
        mods.insert(index, module)
        self._modules.clear()
        for i, m in enumerate(mods):
            self.add_module(str(i), m)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("ModuleList has no forward(): iterate over it in your own")


class _DictContainer(Module):
    """The dict protocol shared by ModuleDict and ParameterDict, over the registry ``_entries``
    names (``_modules`` or ``_parameters``); subclasses say how ``__setitem__`` stores a value."""

    def __init__(self, entries: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None
                 ) -> None:
        super().__init__()
        if entries is not None:
            self.update(entries)

    @property
    def _entries(self) -> dict[str, Any]:
        return self._modules

    def __getitem__(self, key: str) -> Any:
        return self._entries[key]

    def __delitem__(self, key: str) -> None:
        del self._entries[key]

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def keys(self) -> Iterable[str]:
        return self._entries.keys()

    def values(self) -> Iterable[Any]:
        return self._entries.values()

    def items(self) -> Iterable[tuple[str, Any]]:
        return self._entries.items()

    def pop(self, key: str) -> Any:
        return self._entries.pop(key)

    def clear(self) -> None:
        self._entries.clear()

    def update(self, entries: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> None:
        pairs = entries.items() if isinstance(entries, Mapping) else entries
        for key, value in pairs:
            self[key] = value


class ModuleDict(_DictContainer):
    """A dict of modules (insertion-ordered) whose parameters are registered."""

    def __init__(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]] | None = None
                 ) -> None:
        super().__init__(modules)

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def update(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]]) -> None:
        super().update(modules)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("ModuleDict has no forward(): index it in your own")


def _as_parameter(who: str, value: Any) -> Parameter:
    """A Parameter as is; another Tensor becomes a Parameter sharing its storage (PyTorch's
    rule); anything else is a TypeError."""
    if isinstance(value, Parameter):
        return value
    if isinstance(value, Tensor):
        return Parameter(value)
    raise TypeError(f"{who}: expected a Parameter or a Tensor, got {type(value).__name__}")


def _describe(p: Parameter) -> str:
    size = "x".join(str(n) for n in p.shape)
    device = " (cuda)" if p.is_cuda else ""
    return f"Parameter containing: [{p.dtype} of size {size}{device}]"


class ParameterList(Module):
    """A list of parameters registered on the module (under the names "0", "1", ...), so they
    appear in ``parameters()`` and ``state_dict()`` (a plain list's would not).

    Indexing (``plist[0]``, ``plist[-1]``, a slice gives a ParameterList), ``len``, iteration,
    ``append``, ``extend`` and assignment work as on a list; a Tensor that is not a Parameter is
    wrapped into one sharing its storage.
    """

    def __init__(self, values: Iterable[Any] | None = None) -> None:
        super().__init__()
        if values is not None:
            self.extend(values)

    def __getitem__(self, idx: int | slice) -> Any:
        return _list_item(ParameterList, self._parameters.values(), idx)

    def __setitem__(self, idx: int, param: Any) -> None:
        i = _index(idx, len(self), "ParameterList")
        self._parameters[str(i)] = _as_parameter("ParameterList", param)

    def __len__(self) -> int:
        return len(self._parameters)

    def __iter__(self) -> Iterator[Parameter]:
        return iter(self._parameters.values())

    def __iadd__(self, values: Iterable[Any]) -> ParameterList:
        return self.extend(values)

    def append(self, value: Any) -> ParameterList:
        self.register_parameter(str(len(self)), _as_parameter("ParameterList", value))
        return self

    def extend(self, values: Iterable[Any]) -> ParameterList:
        if isinstance(values, Tensor) or not isinstance(values, Iterable):
            raise TypeError(f"ParameterList.extend: expected an iterable of parameters, got "
                            f"{type(values).__name__}")
        for v in values:
            self.append(v)
        return self

    def extra_repr(self) -> str:
        return "\n".join(f"({i}): {_describe(p)}" for i, p in enumerate(self))

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("ParameterList has no forward(): use its parameters in your "
                                  "own")


class ParameterDict(_DictContainer):
    """A dict of parameters (insertion-ordered, string keys) registered on the module.

    ``pdict[key]``, assignment, ``del``, ``in``, ``len``, iteration over the keys, ``keys``,
    ``values``, ``items``, ``get``, ``pop``, ``update``, ``setdefault`` and ``clear`` work as on a
    dict; a Tensor that is not a Parameter is wrapped into one sharing its storage.
    """

    def __init__(self, parameters: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None
                 ) -> None:
        super().__init__(parameters)

    @property
    def _entries(self) -> dict[str, Any]:
        return self._parameters

    def __setitem__(self, key: str, value: Any) -> None:
        if not isinstance(key, str):
            raise TypeError(f"ParameterDict: keys must be strings, got {type(key).__name__}")
        self.register_parameter(key, _as_parameter("ParameterDict", value))

    def get(self, key: str, default: Any = None) -> Any:
        return self._parameters.get(key, default)

    def setdefault(self, key: str, default: Any = None) -> Parameter:
        if key not in self._parameters:
            self[key] = default
        return self._parameters[key]

    def update(self, parameters: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> None:
        super().update(parameters)

    def extra_repr(self) -> str:
        return "\n".join(f"({k}): {_describe(p)}" for k, p in self.items())

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("ParameterDict has no forward(): use its parameters in your "
                                  "own")

