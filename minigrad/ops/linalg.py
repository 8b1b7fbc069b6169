"""Matrix multiplication: 1-D, 2-D and batched (broadcast batch axes), as ``np.matmul``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from minigrad import _device
from minigrad.autograd import Function
from minigrad.ops.elementwise import _Binary, as_tensor, broadcast_shape
from minigrad.tensor import Tensor


class MatMulFn(_Binary, Function):
    """``a @ b`` for a: (..., n, k), b: (..., k, m); batch axes broadcast (and are summed back
    centrally in backward)."""

    forward_array = staticmethod(np.matmul)
    grad_a = staticmethod(lambda g, a, b: g @ b.swapaxes(-1, -2))
    grad_b = staticmethod(lambda g, a, b: a.swapaxes(-1, -2) @ g)


class LinearFn(Function):
    """``x @ w.T + b``: x (M, in), w (out, in), b (out,) or None -> (M, out); one dtype.

    One node and one GEMM for ``F.linear`` (the composition ``x @ w.T + b`` is three nodes,
    whose bookkeeping outweighs the product itself for a small layer at a small batch). The
    weight gradient is ``g.T @ x``, as PyTorch forms it: a C-contiguous (out, in) array, which
    becomes ``w.grad`` without a copy (the composition's ``(x.T @ g).T`` is a transposed view,
    and its copy into ``.grad`` cost more than the product; bench/RESULTS.md). The two sum the
    same products; BLAS may block them differently, so they can differ in the last bit.
    """

    kinks = "none: bilinear in input and weight, linear in bias"

    @staticmethod
    def forward(ctx, x, w, b):
        ctx.save_for_backward(x, w)
        y = np.matmul(x.data, w.data.T)
        if b is not None:
            y += b.data
        return y

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad
        gx = MatMulFn.apply(g, w) if need_x else None
        gw = MatMulFn.apply(g.T, x) if need_w else None
        gb = g.sum(axis=0) if need_b else None
        return gx, gw, gb


def _check_linear(op: str, x: Tensor, w: Tensor, b: Tensor | None) -> None:
    """``op``'s shape checks of ``x @ w.T + b``: w (out, in), x (*, in), b (out,) or None."""
    ws, xs = w.shape, x.shape  # read once: the checks run on every call of a layer
    if len(ws) != 2:
        raise ValueError(f"{op}: weight must be 2-D (out_features, in_features), got shape {ws}")
    if not xs or xs[-1] != ws[1]:
        raise ValueError(f"{op}: input of shape {xs} does not end in in_features = {ws[1]} "
                         f"(weight shape {ws})")
    if b is not None and b.shape != ws[:1]:
        raise ValueError(f"{op}: bias of shape {b.shape} does not match out_features = {ws[0]}")


def linear_fn(x: Tensor, w: Tensor, b: Tensor | None) -> Tensor | None:
    """``LinearFn`` for checked 2-D ``x`` (M, in) and ``w`` (out, in) and ``b`` (out,) or None
    of one floating dtype; None when the dtypes differ (the caller composes ``x @ w.T + b``,
    which promotes them)."""
    dt = x.dtype
    if dt.kind != "f" or w.dtype != dt or (b is not None and (not isinstance(b, Tensor)
                                                               or b.dtype != dt)):
        return None
    return LinearFn.apply(x, w, b)


def matmul(a: Any, b: Any) -> Tensor:
    """Matrix product with NumPy's rules: a 1-D operand is a row (left) or column (right) vector
    whose axis is dropped from the result; leading axes are batch axes and broadcast."""
    for x in (a, b):
        if not isinstance(x, Tensor | np.ndarray | list):
            raise TypeError(f"matmul: operands must be tensors or arrays, got {type(x).__name__}")
    a = as_tensor(a, None, "matmul")
    b = as_tensor(b, a, "matmul")
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: operands must have at least 1 dimension; got shapes {a.shape} "
                         f"and {b.shape} (use * for scalars)")
    ka = a.shape[-1]
    kb = b.shape[-2] if b.ndim > 1 else b.shape[0]
    if ka != kb:
        which = "first" if b.ndim == 1 else "second-to-last"
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} are not aligned: {ka} (last dim "
                         f"of the first) != {kb} ({which} dim of the second)")
    broadcast_shape("matmul", a.shape[:-2], b.shape[:-2])
    if a.dtype != b.dtype:
        dt = np.result_type(a.dtype, b.dtype)
        a, b = a.astype(dt), b.astype(dt)
    if a.ndim == 1 and b.ndim == 1:
        return (a.reshape(1, -1) @ b.reshape(-1, 1)).reshape(())
    if a.ndim == 1:
        return (a.reshape(1, -1) @ b).squeeze(-2)
    if b.ndim == 1:
        return (a @ b.reshape(-1, 1)).squeeze(-1)
    return MatMulFn.apply(a, b)


# ---------------------------------------------------------------------------------------------
# PyTorch's named products (issue 14): compositions of matmul and broadcasting
# ---------------------------------------------------------------------------------------------


def _operands(op: str, a: Any, b: Any) -> tuple[Tensor, Tensor]:
    a, b = as_tensor(a, None, op), as_tensor(b, None, op)
    if a.dtype != b.dtype:
        dt = np.result_type(a.dtype, b.dtype)
        a, b = a.astype(dt), b.astype(dt)
    return a, b


def _need(op: str, name: str, t: Tensor, ndim: int) -> None:
    if t.ndim != ndim:
        raise ValueError(f"{op}: {name} must be {ndim}-D, got shape {t.shape}")


def outer(a: Any, b: Any) -> Tensor:
    """The outer product of two 1-D tensors: ``(n,), (m,) -> (n, m)``."""
    a, b = _operands("outer", a, b)
    _need("outer", "input", a, 1)
    _need("outer", "vec2", b, 1)
    return a.reshape(-1, 1) * b.reshape(1, -1)


ger = outer


def _checked_product(op: str, a: Any, b: Any, b_name: str, ndims: tuple[int, int]) -> Tensor:
    """``matmul(a, b)`` after the strict checks of :func:`dot`, :func:`mv`, :func:`mm` and
    :func:`bmm` (which, unlike :func:`matmul`, do not broadcast): each operand has its rank
    ``ndims``, 3-D operands have one batch size, and the inner dimensions agree."""
    a, b = _operands(op, a, b)
    _need(op, "input", a, ndims[0])
    _need(op, b_name, b, ndims[1])
    if a.ndim == 3 and a.shape[0] != b.shape[0]:
        raise ValueError(f"{op}: shapes {a.shape} and {b.shape} have different batch sizes "
                         f"({a.shape[0]} != {b.shape[0]})")
    ka, kb = a.shape[-1], b.shape[0 if b.ndim == 1 else -2]
    if ka != kb:
        if op == "dot":
            raise ValueError(f"dot: the vectors differ in length: {a.shape} and {b.shape}")
        raise ValueError(f"{op}: shapes {a.shape} and {b.shape} cannot be multiplied "
                         f"({ka} != {kb})")
    return matmul(a, b)


def dot(a: Any, b: Any) -> Tensor:
    """The dot product of two 1-D tensors of one length (0-d result); for matrices use
    :func:`matmul`."""
    return _checked_product("dot", a, b, "tensor", (1, 1))


def mv(m: Any, v: Any) -> Tensor:
    """Matrix times vector: ``(n, k), (k,) -> (n,)``."""
    return _checked_product("mv", m, v, "vec", (2, 1))


def mm(a: Any, b: Any) -> Tensor:
    """Matrix product of two 2-D tensors: ``(n, k), (k, m) -> (n, m)`` (no broadcasting)."""
    return _checked_product("mm", a, b, "mat2", (2, 2))


def bmm(a: Any, b: Any) -> Tensor:
    """Batched matrix product of 3-D tensors with one batch size: ``(B, n, k), (B, k, m) ->
    (B, n, m)`` (no broadcasting; :func:`matmul` broadcasts)."""
    return _checked_product("bmm", a, b, "mat2", (3, 3))


def _add_product(op: str, input: Any, prod: Tensor, beta: float, alpha: float) -> Tensor:
    input = as_tensor(input, prod, op)
    try:
        ok = np.broadcast_shapes(input.shape, prod.shape) == prod.shape
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"{op}: input of shape {input.shape} does not broadcast to the product's "
                         f"shape {prod.shape}")
    out = prod if alpha == 1 else prod * alpha
    if beta == 0:  # PyTorch: input is ignored (its NaN and inf do not propagate)
        return out
    return out + (input if beta == 1 else input * beta)


def addmm(input: Any, mat1: Any, mat2: Any, *, beta: float = 1,  # noqa: A002
          alpha: float = 1) -> Tensor:
    """``beta * input + alpha * (mat1 @ mat2)`` for 2-D ``mat1``, ``mat2`` (``input``
    broadcastable to the product; ignored when ``beta == 0``)."""
    return _add_product("addmm", input, mm(mat1, mat2), beta, alpha)


def baddbmm(input: Any, batch1: Any, batch2: Any, *, beta: float = 1,  # noqa: A002
            alpha: float = 1) -> Tensor:
    """``beta * input + alpha * bmm(batch1, batch2)`` (``input`` broadcastable to the product;
    ignored when ``beta == 0``)."""
    return _add_product("baddbmm", input, bmm(batch1, batch2), beta, alpha)


def kron(a: Any, b: Any) -> Tensor:
    """The Kronecker product: block ``(i, j, ..)`` of the result is ``a[i, j, ..] * b`` (the
    shorter operand gets leading axes of size 1)."""
    a, b = _operands("kron", a, b)
    nd = max(a.ndim, b.ndim)
    sa = (1,) * (nd - a.ndim) + a.shape
    sb = (1,) * (nd - b.ndim) + b.shape
    a2 = a.reshape(tuple(v for s in sa for v in (s, 1)))
    b2 = b.reshape(tuple(v for s in sb for v in (1, s)))
    return (a2 * b2).reshape(tuple(x * y for x, y in zip(sa, sb)))


# ---------------------------------------------------------------------------------------------
# inv, det, solve, cholesky (issue 14, optional): NumPy's LAPACK calls, standard gradients
# ---------------------------------------------------------------------------------------------


def _square(op: str, a: Any) -> Tensor:
    a = as_tensor(a, None, op)
    if not np.issubdtype(a.dtype, np.floating):
        raise TypeError(f"{op}: expected a floating tensor, got {a.dtype}")
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ValueError(f"{op}: expected square matrices (..., n, n), got shape {a.shape}")
    return a


def _lapack(op: str, fn: Any, *arrays: Any) -> Any:
    try:
        return fn(*arrays)
    except np.linalg.LinAlgError as e:
        raise np.linalg.LinAlgError(f"{op}: {e} (input shape {arrays[0].shape})") from None


def _mT(t: Tensor) -> Tensor:  # noqa: N802
    return t.swapaxes(-1, -2)


class _LapackFn(Function):
    """InvFn and CholeskyFn: the forward is one LAPACK routine on A (``_routine``, named ``_op``
    in its errors) whose result is all the backward needs, saved as the output."""

    _op: str
    _routine: Callable[[Any], Any]

    @staticmethod
    def forward(ctx, a):
        out = _lapack(type(ctx)._op, type(ctx)._routine, a.data)
        ctx.save_for_backward(out)
        return out


class InvFn(_LapackFn):
    """The inverse of square matrices; ``d(A^-1) = -A^-1 dA A^-1``."""

    _op, _routine = "inv", staticmethod(np.linalg.inv)

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return -(_mT(y) @ g @ _mT(y))


class DetFn(Function):
    """The determinant; its gradient is ``det(A) * A^-T`` (singular matrices raise in backward:
    the adjugate is not computed)."""

    kinks = "singular matrices: backward raises (the gradient there needs the adjugate)"

    @staticmethod
    def forward(ctx, a):
        out = _device.wrap(np.linalg.det(a.data))
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, d = ctx.saved_tensors
        return (g * d).unsqueeze(-1).unsqueeze(-1) * _mT(inv(a))


class SolveFn(Function):
    """``X = A^-1 B`` (B: (..., n, k)); ``dB = A^-T g``, ``dA = -dB X^T``."""

    @staticmethod
    def forward(ctx, a, b):
        out = _lapack("solve", np.linalg.solve, a.data, b.data)
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, x = ctx.saved_tensors
        gb = SolveFn.apply(_mT(a), g)
        da, db = ctx.needs_input_grad
        return (-(gb @ _mT(x)) if da else None), (gb if db else None)


class CholeskyFn(_LapackFn):
    """The lower Cholesky factor ``L`` of symmetric positive-definite matrices (``A = L L^T``;
    only the lower triangle of ``A`` is read). Gradient (Murray 2016): ``L^-T Phi(L^T gL) L^-1``
    symmetrized, ``Phi`` = the lower triangle with the diagonal halved."""

    _op, _routine = "cholesky", staticmethod(np.linalg.cholesky)

    @staticmethod
    def backward(ctx, g):
        from minigrad.ops.shape import diag_embed, diagonal, tril

        (low,) = ctx.saved_tensors
        p = _mT(low) @ tril(g)
        phi = tril(p) - 0.5 * diag_embed(diagonal(p, 0, -2, -1))
        li = inv(low)
        ga = _mT(li) @ phi @ li
        return 0.5 * (ga + _mT(ga))


def inv(a: Any) -> Tensor:
    """The inverse of square matrices ``(..., n, n)``; a singular one raises
    ``numpy.linalg.LinAlgError`` (a ``ValueError``) naming the op."""
    return InvFn.apply(_square("inv", a))


def det(a: Any) -> Tensor:
    """The determinants of square matrices ``(..., n, n)`` -> ``(...)``."""
    return DetFn.apply(_square("det", a))


def solve(a: Any, b: Any) -> Tensor:
    """``X`` with ``A @ X = B``: ``A`` (..., n, n); ``B`` (..., n, k), or (..., n) for vectors
    (PyTorch's rule: ``B`` is a batch of vectors when it has one dim fewer than ``A``)."""
    op = "solve"
    a = _square(op, a)
    b = as_tensor(b, a, op)
    if b.dtype != a.dtype:
        b = b.astype(a.dtype)
    vector = b.ndim == a.ndim - 1
    bb = b.unsqueeze(-1) if vector else b
    if bb.ndim < 2 or bb.shape[-2] != a.shape[-1]:
        raise ValueError(f"{op}: B of shape {b.shape} does not match A of shape {a.shape}")
    batch = broadcast_shape(op, a.shape[:-2], bb.shape[:-2])
    a = a.expand(batch + a.shape[-2:]) if a.shape[:-2] != batch else a
    bb = bb.expand(batch + bb.shape[-2:]) if bb.shape[:-2] != batch else bb
    out = SolveFn.apply(a, bb)
    return out.squeeze(-1) if vector else out


def cholesky(a: Any, upper: bool = False) -> Tensor:
    """The Cholesky factor of symmetric positive-definite matrices ``(..., n, n)``: lower ``L``
    with ``A = L L^T`` (``upper=True``: ``L^T``). Only the lower triangle of ``A`` is read; a
    matrix that is not positive definite raises ``numpy.linalg.LinAlgError``."""
    low = CholeskyFn.apply(_square("cholesky", a))
    return _mT(low) if upper else low
