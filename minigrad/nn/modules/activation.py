"""Activation layers: thin modules over ``nn.functional``.

``inplace`` arguments are accepted for PyTorch compatibility; the output is always a new tensor
(the graph keeps the input for backward).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

from minigrad.nn import functional as F
from minigrad.nn.modules.module import Module
from minigrad.ops._args import integer, one_of, real
from minigrad.tensor import Tensor

__all__ = ["ReLU", "ReLU6", "LeakyReLU", "ELU", "SELU", "CELU", "Sigmoid", "LogSigmoid", "Tanh",
           "SiLU", "GELU", "Softplus", "Hardtanh", "Maxout", "Softmax", "LogSoftmax",
           # issue 14 (h14a)
           "Hardsigmoid", "Hardswish", "Softsign", "Mish", "Tanhshrink", "Softshrink",
           "Hardshrink", "Threshold", "Softmin", "GLU"]


class _Pointwise(Module):
    """Base of the activations without arguments: ``forward`` applies the class's ``_fn`` (a
    function of ``nn.functional``) to the input."""

    _fn: Callable[[Tensor], Tensor]

    def forward(self, input: Tensor) -> Tensor:
        return self._fn(input)


class _PointwiseInplace(_Pointwise):
    """A :class:`_Pointwise` activation whose PyTorch constructor takes ``inplace`` (accepted,
    ignored: the output is always a new tensor)."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace


class _WithArgs(Module):
    """Base of the activations with arguments: ``forward`` is ``_fn(input, *args)``, ``args``
    being the attributes named in ``_args`` (in ``_fn``'s order), which ``extra_repr`` shows."""

    _fn: Callable[..., Tensor]
    _args: tuple[str, ...]

    def forward(self, input: Tensor) -> Tensor:
        return self._fn(input, *[getattr(self, a) for a in self._args])

    def extra_repr(self) -> str:
        return ", ".join(f"{a}={getattr(self, a)!r}" for a in self._args)


class ReLU(_PointwiseInplace):
    """``max(x, 0)``."""

    _fn = staticmethod(F.relu)


class ReLU6(_PointwiseInplace):
    """``min(max(x, 0), 6)``."""

    _fn = staticmethod(F.relu6)


class LeakyReLU(_WithArgs):
    """``x`` for x > 0, ``negative_slope * x`` otherwise."""

    _fn = staticmethod(F.leaky_relu)
    _args = ("negative_slope",)

    def __init__(self, negative_slope: float = 1e-2, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope = real("LeakyReLU", "negative_slope", negative_slope)
        self.inplace = inplace


class ELU(_WithArgs):
    """``x`` for x > 0, ``alpha * (exp(x) - 1)`` otherwise."""

    _fn = staticmethod(F.elu)
    _args = ("alpha",)

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = real("ELU", "alpha", alpha)
        self.inplace = inplace


class SELU(_PointwiseInplace):
    """``scale * elu(x, alpha)`` with the self-normalising constants (alpha ~ 1.6733,
    scale ~ 1.0507)."""

    _fn = staticmethod(F.selu)


class CELU(_WithArgs):
    """``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``."""

    _fn = staticmethod(F.celu)
    _args = ("alpha",)

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = real("CELU", "alpha", alpha)
        if self.alpha == 0:
            raise ValueError("CELU: alpha must be non-zero (it divides x), got 0")
        self.inplace = inplace


class Sigmoid(_Pointwise):
    """``1 / (1 + exp(-x))``."""

    _fn = staticmethod(F.sigmoid)


class LogSigmoid(_Pointwise):
    """``log(sigmoid(x))``, stable for any x."""

    _fn = staticmethod(F.logsigmoid)


class Tanh(_Pointwise):
    """``tanh(x)``."""

    _fn = staticmethod(F.tanh)


class SiLU(_PointwiseInplace):
    """``x * sigmoid(x)`` (swish)."""

    _fn = staticmethod(F.silu)


class GELU(_WithArgs):
    """``x * Phi(x)``; ``approximate="tanh"`` uses the tanh approximation."""

    _fn = staticmethod(F.gelu)
    _args = ("approximate",)

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        self.approximate = one_of("GELU", "approximate", approximate, ("none", "tanh"))


class Softplus(_WithArgs):
    """``log(1 + exp(beta * x)) / beta``, linear where ``beta * x > threshold``."""

    _fn = staticmethod(F.softplus)
    _args = ("beta", "threshold")

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta = real("Softplus", "beta", beta)
        if self.beta == 0:
            raise ValueError("Softplus: beta must be non-zero (it divides the result), got 0")
        self.threshold = real("Softplus", "threshold", threshold)


class Hardtanh(_WithArgs):
    """``clip(x, min_val, max_val)``."""

    _fn = staticmethod(F.hardtanh)
    _args = ("min_val", "max_val")

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0,
                 inplace: bool = False) -> None:
        super().__init__()
        min_val = real("Hardtanh", "min_val", min_val)
        max_val = real("Hardtanh", "max_val", max_val)
        if max_val <= min_val:
            raise ValueError(f"Hardtanh: max_val ({max_val}) must exceed min_val ({min_val})")
        self.min_val = min_val
        self.max_val = max_val
        self.inplace = inplace


class Maxout(_WithArgs):
    """Maxout (Goodfellow et al. 2013): the max over groups of ``pieces`` consecutive features
    along ``dim``; that axis shrinks by a factor ``pieces`` (not in PyTorch). Put it after a
    Linear or Conv with ``pieces`` times the features you want."""

    _fn = staticmethod(F.maxout)
    _args = ("pieces", "dim")

    def __init__(self, pieces: int, dim: int = 1) -> None:
        super().__init__()
        self.pieces = integer("Maxout", "pieces", pieces, 1)
        self.dim = integer("Maxout", "dim", dim)


def _softmax_dim(name: str, ndim: int) -> int:
    # PyTorch's legacy rule for dim=None, with the same warning
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call to "
                  "include dim=X as an argument.", UserWarning, stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


class _AlongDim(Module):
    """Base of :class:`Softmax`, :class:`LogSoftmax` and :class:`Softmin`: ``_fn(input, dim)``
    along ``dim``; ``dim=None`` uses PyTorch's legacy choice (0 for 0-, 1- and 3-D inputs, else
    1) with its deprecation warning."""

    _fn: Callable[[Tensor, int], Tensor]

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = None if dim is None else integer(type(self).__name__, "dim", dim)

    def forward(self, input: Tensor) -> Tensor:
        dim = self.dim if self.dim is not None else _softmax_dim(type(self).__name__, input.ndim)
        return self._fn(input, dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmax(_AlongDim):
    """``exp(x) / sum(exp(x))`` along ``dim``. ``dim=None`` uses PyTorch's legacy choice (0 for
    1-D and 3-D inputs, else 1) with its deprecation warning: pass ``dim``."""

    _fn = staticmethod(F.softmax)


class LogSoftmax(_AlongDim):
    """``x - logsumexp(x)`` along ``dim`` (``dim=None``: as :class:`Softmax`)."""

    _fn = staticmethod(F.log_softmax)


# -- issue 14 (h14a): more activations (the maths: minigrad.ops.activation_extra) ------------


class Hardsigmoid(_PointwiseInplace):
    """``relu6(x + 3) / 6``."""

    _fn = staticmethod(F.hardsigmoid)


class Hardswish(_PointwiseInplace):
    """``x * relu6(x + 3) / 6``."""

    _fn = staticmethod(F.hardswish)


class Softsign(_Pointwise):
    """``x / (1 + |x|)``."""

    _fn = staticmethod(F.softsign)


class Mish(_PointwiseInplace):
    """``x * tanh(softplus(x))``."""

    _fn = staticmethod(F.mish)


class Tanhshrink(_Pointwise):
    """``x - tanh(x)``."""

    _fn = staticmethod(F.tanhshrink)


class Softshrink(_WithArgs):
    """``x - lambd`` above ``lambd``, ``x + lambd`` below ``-lambd``, 0 between."""

    _fn = staticmethod(F.softshrink)
    _args = ("lambd",)

    def __init__(self, lambd: float = 0.5) -> None:
        super().__init__()
        self.lambd = real("Softshrink", "lambd", lambd)
        if self.lambd < 0:
            raise ValueError(f"Softshrink: lambd must be >= 0, got {lambd!r}")

    def extra_repr(self) -> str:
        return f"{self.lambd}"  # as PyTorch: the bare value


class Hardshrink(_WithArgs):
    """``x`` where ``|x| > lambd``, else 0."""

    _fn = staticmethod(F.hardshrink)
    _args = ("lambd",)

    def __init__(self, lambd: float = 0.5) -> None:
        super().__init__()
        self.lambd = real("Hardshrink", "lambd", lambd)

    def extra_repr(self) -> str:
        return f"{self.lambd}"  # as PyTorch: the bare value


class Threshold(_WithArgs):
    """``x`` where ``x > threshold``, else ``value``."""

    _fn = staticmethod(F.threshold)
    _args = ("threshold", "value")

    def __init__(self, threshold: float, value: float, inplace: bool = False) -> None:
        super().__init__()
        self.threshold = real("Threshold", "threshold", threshold)
        self.value = real("Threshold", "value", value)
        self.inplace = inplace


class Softmin(_AlongDim):
    """``softmax(-x)`` along ``dim`` (``dim=None``: PyTorch's legacy choice, as :class:`Softmax`,
    with its deprecation warning)."""

    _fn = staticmethod(F.softmin)


class GLU(_WithArgs):
    """Gated linear unit: the first half of ``dim`` times the sigmoid of the second half."""

    _fn = staticmethod(F.glu)
    _args = ("dim",)

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = integer("GLU", "dim", dim)
