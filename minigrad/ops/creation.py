"""Tensor constructors beyond ``zeros``/``ones``/``rand``: ``empty``, ``empty_like``,
``full_like``, ``linspace``, ``logspace``, ``tril_indices``/``triu_indices``, and the random ones
(``randint``, ``rand_like``, ``randn_like``, ``randperm``, ``normal``, ``bernoulli``,
``multinomial``), with PyTorch's signatures (``dtype=``, ``device=``, ``requires_grad=``).

Random numbers come from the global generator that :func:`minigrad.manual_seed` seeds (or from
a ``generator=`` argument, a ``numpy.random.Generator``), and are drawn on the host for every
device, as ``rand``/``randn`` are: one seed gives the same numbers on the CPU and the GPU. The
draws are not PyTorch's bit for bit (a different generator), only the same distributions.

Where a draw depends on a GPU tensor's values (``normal`` with tensor arguments, ``bernoulli``),
uniform or normal numbers are drawn on the host and combined with the values on the device, so
nothing falls back; ``multinomial`` of a GPU tensor runs on the host, a counted fallback (see
``minigrad.cuda.fallback_counts``; strict mode refuses it).

None of these records a graph: the results are new leaves (``requires_grad=True`` makes them
leaves that require grad, as in PyTorch).
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from minigrad import _device
from minigrad.ops._args import integer, real
from minigrad.random import generator as _global_generator
from minigrad.tensor import (
    DEFAULT_DTYPE,
    Tensor,
    _check_requires_grad,
    _leaf,
    _shape_arg,
)

__all__ = ["empty", "empty_like", "full_like", "linspace", "logspace", "tril_indices",
           "triu_indices", "randint", "rand_like", "randn_like", "randperm", "normal",
           "bernoulli", "multinomial"]


def _dtype(dtype: Any, default: Any) -> np.dtype:
    dt = np.dtype(default if dtype is None else dtype)
    if dt.kind not in "biuf":
        raise TypeError(f"unsupported dtype {dt}: tensors hold bool, int or float numbers")
    return dt


def _rng(op: str, gen: Any) -> np.random.Generator:
    if gen is None:
        return _global_generator()
    if not isinstance(gen, np.random.Generator):
        raise TypeError(f"{op}: generator must be a numpy.random.Generator or None, got "
                        f"{type(gen).__name__}")
    return gen


def _like_device(t: Tensor, dev: Any) -> Any:
    return t.device if dev is None else dev


def _check_tensor(op: str, name: str, x: Any) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: {name} must be a Tensor, got {type(x).__name__}")
    return x


# ---------------------------------------------------------------------------------------------
# Deterministic
# ---------------------------------------------------------------------------------------------


def empty(*size: Any, dtype: Any = None, device: Any = None,
          requires_grad: bool = False) -> Tensor:
    """A tensor of shape ``size`` whose contents are unspecified (whatever the memory held, as
    PyTorch's ``empty``; fill it before reading)."""
    dt = _dtype(dtype, DEFAULT_DTYPE)
    shape = _shape_arg(size, "empty")
    if device is not None and _device.device(device) == "cuda":
        from minigrad.cuda import array as ca
        from minigrad.cuda import require

        require("empty(device='cuda')")
        _check_requires_grad(dt, requires_grad)
        t = Tensor._make(ca.empty(shape, dt))
        t._requires_grad = requires_grad
        return t
    return _leaf(np.empty(shape, dt), requires_grad, None)


def empty_like(input: Tensor, *, dtype: Any = None, device: Any = None,
               requires_grad: bool = False) -> Tensor:
    """:func:`empty` with ``input``'s shape, dtype and device (unless given)."""
    x = _check_tensor("empty_like", "input", input)
    return empty(x.shape, dtype=x.dtype if dtype is None else dtype,
                 device=_like_device(x, device), requires_grad=requires_grad)


def full_like(input: Tensor, fill_value: Any, *, dtype: Any = None, device: Any = None,
              requires_grad: bool = False) -> Tensor:
    """A tensor of ``input``'s shape (and dtype and device, unless given) filled with
    ``fill_value``."""
    from minigrad.tensor import full

    x = _check_tensor("full_like", "input", input)
    if not isinstance(fill_value, numbers.Number):
        raise TypeError(f"full_like: fill_value must be a number, got {fill_value!r}")
    return full(x.shape, fill_value, dtype=x.dtype if dtype is None else dtype,
                requires_grad=requires_grad, device=_like_device(x, device))


def _steps(op: str, steps: Any) -> int:
    return integer(op, "steps", steps, minimum=0)


def _endpoint(op: str, name: str, v: Any) -> float:
    if isinstance(v, Tensor):
        if v.numel() != 1:
            raise ValueError(f"{op}: {name} must be a number or a one-element tensor, got shape "
                             f"{v.shape}")
        v = v.item()
    if not isinstance(v, numbers.Real) or isinstance(v, bool):
        raise TypeError(f"{op}: {name} must be a number, got {v!r}")
    return v


def linspace(start: Any, end: Any, steps: int, *, dtype: Any = None, device: Any = None,
             requires_grad: bool = False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end``, both included (float32 by
    default; computed in float64, then cast: an integer dtype truncates, as PyTorch)."""
    start, end = _endpoint("linspace", "start", start), _endpoint("linspace", "end", end)
    n = _steps("linspace", steps)
    dt = _dtype(dtype, DEFAULT_DTYPE)
    return _leaf(np.linspace(start, end, n, dtype=np.float64).astype(dt), requires_grad, device)


def logspace(start: Any, end: Any, steps: int, base: float = 10.0, *, dtype: Any = None,
             device: Any = None, requires_grad: bool = False) -> Tensor:
    """``base ** linspace(start, end, steps)``."""
    start, end = _endpoint("logspace", "start", start), _endpoint("logspace", "end", end)
    n = _steps("logspace", steps)
    base = real("logspace", "base", base)
    dt = _dtype(dtype, DEFAULT_DTYPE)
    with np.errstate(over="ignore"):
        values = np.power(base, np.linspace(start, end, n, dtype=np.float64))
    return _leaf(values.astype(dt), requires_grad, device)


def _triangle(op: str, lower: bool, row: Any, col: Any, offset: Any, dtype: Any,
              device: Any) -> Tensor:
    row = integer(op, "row", row, minimum=0)
    col = integer(op, "col", col, minimum=0)
    offset = integer(op, "offset", offset)
    dt = _dtype(dtype, np.int64)
    if dt.kind not in "iu":
        raise TypeError(f"{op}: dtype must be an integer dtype, got {dt}")
    rows, cols = (np.tril_indices if lower else np.triu_indices)(row, offset, col)
    return _leaf(np.stack([rows, cols]).astype(dt).reshape(2, -1), False, device)


def tril_indices(row: int, col: int, offset: int = 0, *, dtype: Any = None,
                 device: Any = None) -> Tensor:
    """The indices of the lower triangle of a ``row x col`` matrix (on and below the diagonal
    ``offset``) as a (2, N) int64 tensor, row by row."""
    return _triangle("tril_indices", True, row, col, offset, dtype, device)


def triu_indices(row: int, col: int, offset: int = 0, *, dtype: Any = None,
                 device: Any = None) -> Tensor:
    """The indices of the upper triangle (on and above the diagonal ``offset``), (2, N)."""
    return _triangle("triu_indices", False, row, col, offset, dtype, device)


# ---------------------------------------------------------------------------------------------
# Random
# ---------------------------------------------------------------------------------------------


def randint(*args: Any, low: Any = None, high: Any = None, size: Any = None,
            generator: Any = None, dtype: Any = None, device: Any = None,
            requires_grad: bool = False) -> Tensor:
    """Integers drawn uniformly from [low, high): ``randint(high, size)`` or
    ``randint(low, high, size)``, positionally or by keyword (``size`` a tuple; PyTorch's
    overloads). int64 by default."""
    given = {k: v for k, v in (("low", low), ("high", high), ("size", size)) if v is not None}
    names = ["low", "high", "size"] if len(args) + len(given) == 3 else ["high", "size"]
    free = [n for n in names if n not in given]
    if len(args) + len(given) not in (2, 3) or len(args) > len(free) \
            or any(n not in names for n in given):
        raise TypeError("randint: expected randint(high, size) or randint(low, high, size), got "
                        f"{len(args)} positional and keywords {sorted(given)}")
    values = {"low": 0, **given, **dict(zip(free, args))}
    low = integer("randint", "low", values["low"])
    high = integer("randint", "high", values["high"])
    if high <= low:
        raise ValueError(f"randint: high ({high}) must be greater than low ({low})")
    shape = _shape_arg((values["size"],), "randint")
    dt = _dtype(dtype, np.int64)
    draws = _rng("randint", generator).integers(low, high, size=shape, dtype=np.int64)
    return _leaf(draws.astype(dt), requires_grad, device)


def _random_like(op: str, input: Any, draw: Any, dtype: Any, device: Any,
                 requires_grad: bool) -> Tensor:
    x = _check_tensor(op, "input", input)
    dt = _dtype(x.dtype if dtype is None else dtype, DEFAULT_DTYPE)
    if dt.kind != "f":
        raise TypeError(f"{op}: needs a float dtype, got {dt}")
    values = draw(_global_generator(), x.shape).astype(dt)
    return _leaf(values, requires_grad, _like_device(x, device))


def rand_like(input: Tensor, *, dtype: Any = None, device: Any = None,
              requires_grad: bool = False) -> Tensor:
    """Uniform on [0, 1), with ``input``'s shape, dtype and device (unless given)."""
    return _random_like("rand_like", input, lambda g, s: g.random(s), dtype, device,
                        requires_grad)


def randn_like(input: Tensor, *, dtype: Any = None, device: Any = None,
               requires_grad: bool = False) -> Tensor:
    """Standard normal, with ``input``'s shape, dtype and device (unless given)."""
    return _random_like("randn_like", input, lambda g, s: g.standard_normal(s), dtype, device,
                        requires_grad)


def randperm(n: int, *, generator: Any = None, dtype: Any = None, device: Any = None,
             requires_grad: bool = False) -> Tensor:
    """A random permutation of 0 .. n-1 (int64 by default)."""
    n = integer("randperm", "n", n, minimum=0)
    dt = _dtype(dtype, np.int64)
    return _leaf(_rng("randperm", generator).permutation(n).astype(dt), requires_grad, device)


def normal(mean: Any = 0.0, std: Any = 1.0, size: Any = None, *, generator: Any = None,
           dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """Normal draws: ``normal(mean_tensor, std_tensor)`` (broadcast), ``normal(mean_tensor,
    std=1.0)``, ``normal(mean=0.0, std_tensor)`` or ``normal(mean, std, size)`` with numbers.

    With tensors the result has their broadcast shape, dtype and device; std must be >= 0.
    The draws are constants (no graph; PyTorch records one whose gradients are zero).
    """
    rng = _rng("normal", generator)
    tensors = [t for t in (mean, std) if isinstance(t, Tensor)]
    if not tensors:
        m, s = real("normal", "mean", mean), real("normal", "std", std)
        if s < 0:
            raise ValueError(f"normal: std must be >= 0, got {s!r}")
        if size is None:
            raise TypeError("normal: with a number mean and std, size must be given")
        shape = _shape_arg((size,), "normal")
        dt = _dtype(dtype, DEFAULT_DTYPE)
        return _leaf(rng.normal(m, s, size=shape).astype(dt), requires_grad, device)
    if size is not None:
        raise TypeError("normal: size is only for number mean and std; the shape comes from the "
                        "tensors")
    for name, v in (("mean", mean), ("std", std)):
        if isinstance(v, Tensor):
            if v.dtype.kind != "f":
                raise TypeError(f"normal: {name} must be a float tensor, got {v.dtype}")
        else:
            real("normal", name, v)
    if isinstance(std, Tensor):
        if bool(np.any(np.less(std.data, 0))):
            raise ValueError(f"normal: std must be >= 0 everywhere (std of shape {std.shape})")
    elif std < 0:
        raise ValueError(f"normal: std must be >= 0, got {std!r}")
    shapes = [t.shape for t in tensors]
    try:
        shape = np.broadcast_shapes(*shapes)
    except ValueError:
        raise ValueError(f"normal: mean and std of shapes {' and '.join(map(str, shapes))} "
                         "cannot be broadcast together") from None
    like = tensors[0]
    dt = _dtype(like.dtype if dtype is None else dtype, DEFAULT_DTYPE)
    z = _device.asarray(rng.standard_normal(shape).astype(dt), dt, like=like.data)
    m = mean.data if isinstance(mean, Tensor) else mean
    s = std.data if isinstance(std, Tensor) else std
    out = (z * s + m).astype(dt, copy=False)
    t = Tensor._make(out)
    if device is not None:
        t = Tensor._make(_device.move(t.data, device))
    _check_requires_grad(t.dtype, requires_grad)
    t._requires_grad = requires_grad
    return t


def bernoulli(input: Tensor, p: float | None = None, *, generator: Any = None) -> Tensor:
    """0/1 draws, 1 with probability ``input`` (elementwise, in [0, 1]) or ``p`` when given;
    the result has ``input``'s shape, dtype and device."""
    x = _check_tensor("bernoulli", "input", input)
    if x.dtype.kind != "f":
        raise TypeError(f"bernoulli: input must be a float tensor of probabilities, got "
                        f"{x.dtype}")
    rng = _rng("bernoulli", generator)
    u = _device.asarray(rng.random(x.shape).astype(x.dtype), x.dtype, like=x.data)
    if p is not None:
        prob = real("bernoulli", "p", p)
        if not 0 <= prob <= 1:
            raise ValueError(f"bernoulli: p must lie in [0, 1], got {p!r}")
    else:
        prob = x.data
        outside = np.logical_or(np.less(prob, 0), np.greater(prob, 1))
        if bool(np.any(np.logical_or(outside, np.isnan(prob)))):
            raise ValueError(f"bernoulli: every probability in input (shape {x.shape}) must lie "
                             "in [0, 1]")
    return Tensor._make(np.less(u, prob).astype(x.dtype))


def _multinomial_host(p: np.ndarray, num_samples: int, replacement: bool,
                      rng: np.random.Generator) -> np.ndarray:
    rows = p.reshape(-1, p.shape[-1]).astype(np.float64)
    out = np.empty((rows.shape[0], num_samples), dtype=np.int64)
    for i, w in enumerate(rows):
        total = w.sum()
        if not np.isfinite(total) or total <= 0:
            raise ValueError(f"multinomial: row {i} of the weights sums to {total} (it must be "
                             "positive and finite)")
        if not replacement and np.count_nonzero(w) < num_samples:
            raise ValueError(f"multinomial: cannot draw {num_samples} samples without "
                             f"replacement from row {i}, which has {np.count_nonzero(w)} "
                             "nonzero weights")
        out[i] = rng.choice(w.shape[0], size=num_samples, replace=replacement, p=w / total)
    return out.reshape(*p.shape[:-1], num_samples)


def multinomial(input: Tensor, num_samples: int, replacement: bool = False, *,
                generator: Any = None) -> Tensor:
    """Category indices drawn with probabilities proportional to the weights in ``input``
    (non-negative; 1-D (C,) -> (num_samples,), 2-D (N, C) -> (N, num_samples), one draw set
    per row), without replacement unless ``replacement``. int64, on ``input``'s device (a GPU
    input is drawn from on the host: a counted fallback)."""
    x = _check_tensor("multinomial", "input", input)
    if x.dtype.kind != "f":
        raise TypeError(f"multinomial: input must be a float tensor of weights, got {x.dtype}")
    if x.ndim not in (1, 2) or x.shape[-1] == 0:
        raise ValueError(f"multinomial: input must be 1-D or 2-D with at least one category, "
                         f"got shape {x.shape}")
    n = integer("multinomial", "num_samples", num_samples, minimum=1)
    if not replacement and n > x.shape[-1]:
        raise ValueError(f"multinomial: cannot draw {n} samples without replacement from "
                         f"{x.shape[-1]} categories (input shape {x.shape})")
    bad = np.logical_or(np.less(x.data, 0), np.logical_not(np.isfinite(x.data)))
    if bool(np.any(bad)):
        raise ValueError(f"multinomial: weights must be finite and >= 0 (input shape {x.shape})")
    rng = _rng("multinomial", generator)
    if _device.is_cuda(x.data):
        from minigrad.cuda.array import dispatch

        out = dispatch("multinomial", _multinomial_host, (x.data, n, bool(replacement), rng), {})
    else:
        out = _multinomial_host(x.data, n, bool(replacement), rng)
    return Tensor._make(out)

