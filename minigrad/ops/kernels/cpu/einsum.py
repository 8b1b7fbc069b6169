"""The array work of ``einsum``: two-operand contractions ``contract(a, b, la, lb, lo)`` and
one operand's diagonals ``diagonal_sum(x, lx, lo)``.

Labels are ints, one per axis (the op uses letters' code points and negative numbers for ``...``
axes). The op hands over clean pairs: no label repeats within an operand or the output, every
label of ``a`` appears in ``b`` or the output (and likewise for ``b``), and a label shared by
``a`` and ``b`` has one size in both. Such a pair is closed under differentiation: the gradients
``contract(g, b, lo, lb, la)`` and ``contract(g, a, lo, la, lb)`` are clean pairs too.

One operand whose labels repeat (``ii->``, ``iij->j``) is :func:`diagonal_sum` (its diagonal,
summed over the labels the output drops, in one ``np.einsum`` pass) and its gradient
:func:`diagonal_embed` (zeros with the gradient written on that diagonal).

Which loop runs for a pair: a matrix product (labels summed, and free labels of size > 1 on both
sides) goes to BLAS through ``np.matmul`` (:func:`matmul_contract`). Per-row dot products of
two contiguous operands (``bij,bij->b``, ``ij,ij->i``) run as one Numba kernel over the rows (both
threads, float64 accumulation). Every other pair (matrix-vector and outer products, elementwise
products) goes to ``np.einsum``, whose C loop reads each operand once; the former plan (multiply,
then sum) wrote and re-read the whole product and ran 5x slower than ``np.einsum`` on
``bij,bij->b``. The GPU twin
(``kernels/cuda/einsum.py``) runs the same two plans with ``CudaArray`` operations.
"""

from __future__ import annotations

import functools
import math
import string
from collections.abc import Sequence
from typing import Any

import numpy as np
from numba import prange

from minigrad.ops.kernels.cpu._jit import kernel
from minigrad.ops.kernels.cpu.softmax import lane_dot

__all__ = ["contract", "diagonal_sum", "diagonal_embed", "matmul_contract", "broadcast_contract",
           "split_labels", "unique_labels", "aligned"]

Labels = Sequence[int]


@functools.lru_cache(maxsize=512)
def _plan(la: tuple[int, ...], lb: tuple[int, ...], lo: tuple[int, ...]) -> tuple[
        list[int], list[int], list[int], list[int], str | None]:
    """``split_labels`` and the ``np.einsum`` subscripts (None past 52 labels), cached."""
    parts = split_labels(la, lb, lo)
    names: dict[int, str] = {}
    for x in (*la, *lb):
        if x not in names and len(names) < len(string.ascii_letters):
            names[x] = string.ascii_letters[len(names)]
    if len(names) < len(set(la) | set(lb)):
        return (*parts, None)
    la, lb, lo = ("".join(names[x] for x in labels) for labels in (la, lb, lo))
    return (*parts, f"{la},{lb}->{lo}")


def split_labels(la: Labels, lb: Labels, lo: Labels) -> tuple[list[int], list[int], list[int],
                                                              list[int]]:
    """``(batch, summed, a_only, b_only)``: the labels in both operands that the output keeps and
    those it sums, then each operand's own labels (all kept), in operand order."""
    in_b, in_o = set(lb), set(lo)
    batch = [x for x in la if x in in_b and x in in_o]
    summed = [x for x in la if x in in_b and x not in in_o]
    a_only = [x for x in la if x not in in_b]
    in_a = set(la)
    b_only = [x for x in lb if x not in in_a]
    return batch, summed, a_only, b_only


def _sizes(a: Any, la: Labels, b: Any, lb: Labels) -> dict[int, int]:
    size = dict(zip(la, a.shape))
    size.update(zip(lb, b.shape))
    return size


def _to(order: list[int], labels: list[int]) -> tuple[int, ...]:
    """The axes permutation that takes an array labelled ``order`` to ``labels``."""
    return tuple(order.index(x) for x in labels)


def _blas_ready(x: Any) -> Any:
    """A 3-D operand BLAS can read (its last two axes row- or column-major with no zero stride):
    NumPy's matmul runs a naive loop on any other layout, such as a broadcast gradient."""
    if not isinstance(x, np.ndarray):
        return x  # CudaArray: always C-contiguous
    _, r, c = x.shape
    _, s1, s2 = x.strides
    size = x.itemsize
    if (s2 == size and s1 >= c * size) or (s1 == size and s2 >= r * size):
        return x
    return np.ascontiguousarray(x)


def matmul_contract(a: Any, b: Any, la: Labels, lb: Labels, lo: Labels) -> Any:
    """The pair as one batched matmul: a: (batch, a_only, summed) @ b: (batch, summed, b_only),
    then the axes permuted to ``lo`` (NumPy or CudaArray operands)."""
    batch, summed, a_only, b_only = split_labels(la, lb, lo)
    size = _sizes(a, la, b, lb)
    nb, m, k, n = (math.prod(size[x] for x in part) for part in (batch, a_only, summed, b_only))
    a = np.transpose(a, _to(list(la), batch + a_only + summed)).reshape(nb, m, k)
    b = np.transpose(b, _to(list(lb), batch + summed + b_only)).reshape(nb, k, n)
    order = batch + a_only + b_only
    out = np.matmul(_blas_ready(a), _blas_ready(b)).reshape(tuple(size[x] for x in order))
    return np.transpose(out, _to(order, list(lo)))


def broadcast_contract(a: Any, b: Any, la: Labels, lb: Labels, lo: Labels) -> Any:
    """The pair as a broadcast product summed over the shared labels the output drops (NumPy or
    CudaArray operands; materialises the product)."""
    batch, summed, a_only, b_only = split_labels(la, lb, lo)
    size = _sizes(a, la, b, lb)
    order = batch + a_only + b_only + summed

    def aligned(x: Any, labels: Labels) -> Any:
        mine = [lab for lab in order if lab in labels]
        x = np.transpose(x, _to(list(labels), mine))
        return x.reshape(tuple(size[lab] if lab in labels else 1 for lab in order))

    prod = aligned(a, la) * aligned(b, lb)
    if summed:
        prod = prod.sum(axis=tuple(range(len(order) - len(summed), len(order))))
    return np.transpose(prod, _to(order[:len(order) - len(summed)], list(lo)))


def is_matrix_product(a: Any, b: Any, la: Labels, lb: Labels, lo: Labels) -> bool:
    """Whether the pair sums labels and keeps labels of size > 1 from both operands."""
    _, summed, a_only, b_only, _ = _plan(tuple(la), tuple(lb), tuple(lo))
    if not (summed and a_only and b_only):
        return False
    size = _sizes(a, la, b, lb)
    return math.prod(size[x] for x in a_only) > 1 and math.prod(size[x] for x in b_only) > 1


@kernel
def _row_dots(a, b, out):
    for r in prange(a.shape[0]):
        out[r] = lane_dot(a[r], b[r])


def _pair_row_dots(a: np.ndarray, b: np.ndarray, la: Labels, lb: Labels,
             lo: Labels) -> np.ndarray | None:
    """A pair of per-row dot products (``bij,bij->b``, ``ij,ij->i``: both operands C-contiguous
    with the same labels, the output's first, the summed ones after) as one kernel over the rows,
    on both threads and accumulated in float64; None for any other pair. ``np.einsum`` runs the
    same products on one thread."""
    if (tuple(la) != tuple(lb) or tuple(la[:len(lo)]) != tuple(lo) or len(la) == len(lo)
            or a.dtype not in (np.float32, np.float64) or a.size == 0
            or not a.flags.c_contiguous or not b.flags.c_contiguous):
        return None
    rows = math.prod(a.shape[:len(lo)])
    out = np.empty(rows, a.dtype)
    _row_dots(a.reshape(rows, -1), b.reshape(rows, -1), out)
    return out.reshape(a.shape[:len(lo)])


def contract(a: np.ndarray, b: np.ndarray, la: Labels, lb: Labels, lo: Labels) -> np.ndarray:
    """``out[lo] = sum over the labels lo drops of a[la] * b[lb]`` for a clean pair (see the module
    docstring); a and b: one dtype; returns an array of the output labels' sizes (possibly a
    non-contiguous view)."""
    if is_matrix_product(a, b, la, lb, lo):
        return matmul_contract(a, b, la, lb, lo)
    out = _pair_row_dots(a, b, la, lb, lo)
    if out is not None:
        return out
    subscripts = _plan(tuple(la), tuple(lb), tuple(lo))[-1]
    if subscripts is None:
        return broadcast_contract(a, b, la, lb, lo)
    return np.einsum(subscripts, a, b)


def unique_labels(lx: Labels) -> list[int]:
    """``lx`` without repeats, in order of first appearance."""
    return list(dict.fromkeys(lx))


@functools.lru_cache(maxsize=512)
def _subscripts(*terms: tuple[int, ...]) -> list[str]:
    names: dict[int, str] = {}
    for x in (lab for term in terms for lab in term):
        names.setdefault(x, string.ascii_letters[len(names)])
    return ["".join(names[x] for x in term) for term in terms]


def aligned(g: Any, lo: Labels, lu: Labels) -> Any:
    """``g`` (labels ``lo``, each in ``lu``) permuted into ``lu``'s order, with axes of size 1
    for the labels of ``lu`` it lacks (ready to broadcast over ``lu``)."""
    mine = [x for x in lu if x in lo]
    g = np.transpose(g, _to(list(lo), mine))
    return g.reshape(tuple(g.shape[mine.index(x)] if x in lo else 1 for x in lu))


def diagonal_sum(x: np.ndarray, lx: Labels, lo: Labels) -> np.ndarray:
    """``out[lo] = sum over the labels lo drops of x[lx]`` for one operand whose labels may repeat
    (a repeated label walks a diagonal; its axes have one size); ``lo``: labels of ``lx``, no
    repeats. Returns a new array (never a view of ``x``)."""
    sx, so = _subscripts(tuple(lx), tuple(lo))
    out = np.einsum(f"{sx}->{so}", x)
    return out.copy() if np.may_share_memory(out, x) else out


def diagonal_embed(g: np.ndarray, lx: Labels, lo: Labels, shape: tuple[int, ...]) -> np.ndarray:
    """The adjoint of :func:`diagonal_sum`: zeros of ``shape`` (labelled ``lx``) with ``g``
    (labelled ``lo``) written on the diagonal, broadcast over the labels ``lo`` lacks."""
    out = np.zeros(shape, g.dtype)
    lu = unique_labels(lx)
    sx, su = _subscripts(tuple(lx), tuple(lu))
    np.einsum(f"{sx}->{su}", out)[...] = aligned(g, lo, lu)  # a writable view of the diagonal
    return out
