"""Finite-difference checks of gradients: ``gradcheck``, ``gradgradcheck``, ``check_graph``.

All comparisons are in float64 with central differences. For every input element we evaluate
f(x + eps), f(x - eps) and reuse f(x): the central difference gives the numeric Jacobian column,
and the two one-sided differences tell a kink (relu at 0, a max tie, a clip bound) from a wrong
gradient: where they disagree, the function is not differentiable there and the central
difference means nothing, so we report that instead of a false failure (Chainer's
``detect_nondifferentiable`` idea).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from minigrad import autograd
from minigrad.tensor import Tensor

__all__ = [
    "GradcheckError",
    "NonDifferentiableError",
    "gradcheck",
    "gradgradcheck",
    "check_graph",
]

# Jacobians are compared in full (one backward pass per output element) when the output has at
# most this many elements; larger outputs are checked through a random vector-Jacobian product.
FULL_JACOBIAN_MAX_OUTPUTS = 32


class GradcheckError(AssertionError):
    """An analytic gradient disagrees with central finite differences."""


class NonDifferentiableError(GradcheckError):
    """The function has a kink at the point checked: one-sided differences disagree there."""


def _outputs(result: Any) -> list[Tensor]:
    if isinstance(result, Tensor):
        return [result]
    if isinstance(result, Sequence):
        outs = [r for r in result if r is not None]
        if all(isinstance(r, Tensor) for r in outs):
            return outs
    raise TypeError(f"gradcheck: fn must return a Tensor or a sequence of Tensors, got "
                    f"{type(result).__name__}")


def _flat(outs: list[Tensor]) -> np.ndarray:
    return np.concatenate([np.asarray(o.data, dtype=np.float64).ravel() for o in outs])


def _fmt_index(flat: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(int(i) for i in np.unravel_index(flat, shape)) if shape else ()


def gradcheck(
    fn: Callable[..., Any],
    inputs: Tensor | Sequence[Any],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    *,
    seed: int = 0,
    full_jacobian: bool | None = None,
) -> bool:
    """Compare the gradients of ``fn`` at ``inputs`` with central finite differences.

    Args:
        fn: callable taking ``*inputs`` and returning a Tensor or a sequence of Tensors.
        inputs: Tensors (those with ``requires_grad=True`` are checked; they must be float64)
            and any other arguments, passed through unchanged.

    Checks the vector-Jacobian product with a seeded random cotangent for every input, and
    the full Jacobian when the output has at most ``FULL_JACOBIAN_MAX_OUTPUTS`` elements (or
    when ``full_jacobian=True``). Elementwise criterion:
    ``|analytic - numeric| <= atol + rtol * |numeric|``.

    Returns True on success. On failure raises :class:`GradcheckError` naming the input, the
    worst element's index and both values (or returns False when ``raise_exception=False``);
    at a point where ``fn`` is not differentiable raises :class:`NonDifferentiableError`.
    """
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    checked = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input has requires_grad=True")
    for i in checked:
        if inputs[i].dtype != np.float64:
            raise TypeError(
                f"gradcheck: input {i} is {inputs[i].dtype}; finite differences need float64 "
                "(use .double())"
            )
    try:
        _check(fn, inputs, checked, eps, atol, rtol, seed, full_jacobian)
    except NonDifferentiableError:
        raise
    except GradcheckError:
        if raise_exception:
            raise
        return False
    return True


def _check(fn, inputs, checked, eps, atol, rtol, seed, full_jacobian) -> None:
    outs = _outputs(fn(*inputs))
    shapes = [o.shape for o in outs]
    sizes = [o.data.size for o in outs]
    n_out = int(sum(sizes))
    rng = np.random.default_rng(seed)
    cot = rng.standard_normal(n_out)
    diff_outs = [(k, o) for k, o in enumerate(outs) if o.requires_grad]

    def vjp(v: np.ndarray) -> list[np.ndarray]:
        """Analytic v^T J for every checked input (zeros where the graph does not reach)."""
        result = [np.zeros(inputs[i].shape) for i in checked]
        if not diff_outs:
            return result
        pieces = np.split(v, np.cumsum(sizes)[:-1])
        gouts = [Tensor._make(pieces[k].reshape(shapes[k]).astype(o.dtype)) for k, o in diff_outs]
        grads = autograd.grad([o for _, o in diff_outs], [inputs[i] for i in checked],
                              grad_outputs=gouts, retain_graph=True, allow_unused=True)
        for j, g in enumerate(grads):
            if g is not None:
                result[j] = np.asarray(g.data, dtype=np.float64)
        return result

    analytic_vjp = vjp(cot)
    full = full_jacobian if full_jacobian is not None else n_out <= FULL_JACOBIAN_MAX_OUTPUTS
    full = full and n_out > 0
    analytic_jac = None
    if full:
        rows = [vjp(unit) for unit in np.eye(n_out)]
        analytic_jac = [np.stack([row[j].ravel() for row in rows]) for j in range(len(checked))]

    # Evaluated with grad mode on: fn may itself differentiate (gradgradcheck's first_order).
    f0 = _flat(_outputs(fn(*inputs)))
    for j, i in enumerate(checked):
        x = inputs[i].data
        flat = x.reshape(-1) if x.flags.c_contiguous else None
        if flat is None:
            raise ValueError(f"gradcheck: input {i} must be C-contiguous")
        numeric_jac = np.empty((n_out, x.size))
        kink = np.zeros(x.size, dtype=bool)
        for e in range(x.size):
            orig = flat[e]
            flat[e] = orig + eps
            fp = _flat(_outputs(fn(*inputs)))
            flat[e] = orig - eps
            fm = _flat(_outputs(fn(*inputs)))
            flat[e] = orig
            numeric_jac[:, e] = (fp - fm) / (2 * eps)
            right, left = (fp - f0) / eps, (f0 - fm) / eps
            scale = np.maximum(np.abs(right), np.abs(left))
            kink[e] = bool(np.any(np.abs(right - left) > 10 * (atol + rtol * scale)))
        numeric_vjp = cot @ numeric_jac
        _compare(f"input {i} (shape {x.shape}), vector-Jacobian product with a random "
                 "cotangent", analytic_vjp[j].ravel(), numeric_vjp, x.shape, kink, atol, rtol)
        if analytic_jac is not None:
            a, n = analytic_jac[j], numeric_jac
            bad = ~np.isclose(a, n, atol=atol, rtol=rtol)
            if bad.any():
                r, c = np.unravel_index(np.argmax(np.abs(a - n) * bad), a.shape)
                where = _fmt_index(c, x.shape)
                msg = (f"gradcheck: Jacobian mismatch for input {i} (shape {x.shape}) at "
                       f"output element {r} / input index {where}: analytic {a[r, c]:.6g}, "
                       f"numeric {n[r, c]:.6g}")
                if kink[c]:
                    raise NonDifferentiableError(
                        f"gradcheck: non-differentiable at index {where} of input {i}: "
                        f"one-sided differences disagree ({msg})")
                raise GradcheckError(msg)


def _compare(what, analytic, numeric, shape, kink, atol, rtol) -> None:
    bad = ~np.isclose(analytic, numeric, atol=atol, rtol=rtol)
    if not bad.any():
        return
    worst = int(np.argmax(np.abs(analytic - numeric) * bad))
    where = _fmt_index(worst, shape)
    msg = (f"gradcheck: {what}: worst element at index {where}: analytic {analytic[worst]:.6g}, "
           f"numeric {numeric[worst]:.6g} ({int(bad.sum())} of {bad.size} elements differ)")
    if kink[worst]:
        raise NonDifferentiableError(
            f"gradcheck: non-differentiable at index {where}: one-sided differences disagree, "
            f"so the central difference is meaningless there ({msg})")
    raise GradcheckError(msg)


def gradgradcheck(
    fn: Callable[..., Any],
    inputs: Tensor | Sequence[Any],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    *,
    seed: int = 0,
) -> bool:
    """Check second-order gradients: gradcheck of ``x -> grad(fn(x), x, v, create_graph=True)``
    for a fixed random cotangent ``v``."""
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    checked = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    outs = _outputs(fn(*inputs))
    rng = np.random.default_rng(seed + 1)
    cots = [Tensor._make(rng.standard_normal(o.shape).astype(o.dtype)) for o in outs]

    def first_order(*xs: Any) -> list[Tensor]:
        out = [(o, c) for o, c in zip(_outputs(fn(*xs)), cots) if o.requires_grad]
        targets = [xs[i] for i in checked]
        if not out:
            return [Tensor._make(np.zeros(t.shape)) for t in targets]
        grads = autograd.grad([o for o, _ in out], targets, grad_outputs=[c for _, c in out],
                              create_graph=True, allow_unused=True)
        return [g if g is not None else Tensor._make(np.zeros(t.shape))
                for g, t in zip(grads, targets)]

    return gradcheck(first_order, inputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception, seed=seed)


def check_graph(output: Tensor, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3) -> int:
    """Gradcheck every node of the graph that produced ``output``, each node on its own.

    Each recorded op is re-run in float64 on copies of the inputs it saw, and its ``backward`` is
    compared with finite differences of that op alone. Raises :class:`GradcheckError` naming the
    first node (in creation order) whose local gradient is wrong: its op, input shapes and the line
    of user code that created it. Call it before ``backward()`` (which frees the graph) or after
    ``backward(retain_graph=True)``. Returns the number of nodes checked.
    """
    nodes = autograd.graph.nodes(output)  # creation order: inputs first
    for k, node in enumerate(nodes):
        if node.inputs is None:
            raise RuntimeError("check_graph: the graph was freed by backward(); call check_graph "
                               "first or use backward(retain_graph=True)")
        cls = type(node)
        args = list(node.inputs)
        slots = [i for i, (a, need) in enumerate(zip(args, node.needs_input_grad)) if need]
        for i, a in enumerate(args):
            if isinstance(a, Tensor):
                copy = np.array(a.data, dtype=np.float64 if i in slots else a.dtype)
                args[i] = Tensor(copy, requires_grad=i in slots)

        def local(*xs: Any, _cls=cls, _kw=node.kwargs) -> Any:
            return _cls.apply(*xs, **_kw)

        try:
            gradcheck(local, args, eps=eps, atol=atol, rtol=rtol)
        except NonDifferentiableError:
            continue  # a kink of this op at this point: no verdict possible here
        except GradcheckError as e:
            shapes = [tuple(a.shape) for a in node.inputs if isinstance(a, Tensor)]
            site = f"{node.site[0]}:{node.site[1]}" if node.site else "unknown location"
            raise GradcheckError(
                f"check_graph: node {k} ({cls.__name__}, input shapes {shapes}, created at "
                f"{site}) has a wrong backward: {e}") from None
    return len(nodes)
