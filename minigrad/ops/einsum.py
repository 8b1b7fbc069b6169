"""``einsum`` and ``tensordot``, as compositions of differentiable ops.

``einsum`` takes every subscript form NumPy accepts: explicit (``'ij,jk->ik'``) and implicit
(``'ij,jk'``: the labels used once, in ASCII order) outputs, ``...`` (broadcast axes, right
aligned), repeated labels in one operand (``'ii->i'``: a diagonal), labels of size 1 broadcasting,
and NumPy's sublist form ``einsum(a, [0, 1], b, [1, 2], [0, 2])``; PyTorch's
``einsum(eq, [a, b])`` works too. It runs as a plan of existing ops:

1. per operand, repeated labels take the diagonal (:class:`EinsumDiagonalFn`) and labels no other
   operand or the output uses are summed away (a single operand does both and the output order
   in that one step);
2. operands are contracted two at a time, the pair with the smallest result first (NumPy's
   ``optimize='greedy'``), each pair one :class:`EinsumFn`: a batched ``matmul`` (BLAS) when it is
   a matrix product, else ``np.einsum``, which reads each operand once (a dot per row or batch, an
   outer or elementwise product); the last pair writes the output order directly;
3. what is left is summed and permuted into the output order.

The gradient of a pair is two pair contractions (``dA = einsum(dY, B -> A)``), of a diagonal the
diagonal written back into zeros, each differentiable again. The kernels
(``kernels/{cpu,cuda}/einsum.py``) run the same plan on the GPU with ``CudaArray`` operations.
Parsing is cached by equation and shapes, and an equation that is one clean pair goes straight
to one :class:`EinsumFn`, so a small einsum costs little more than ``np.einsum``.
"""

from __future__ import annotations

import builtins
import functools
import math
import string
from collections.abc import Sequence
from typing import Any

import numpy as np

from minigrad.autograd import Function
from minigrad.ops import _args
from minigrad.ops.elementwise import as_tensor
from minigrad.ops.kernels import kernels_for
from minigrad.ops.shape import expand, permute
from minigrad.tensor import Tensor

__all__ = ["einsum", "tensordot", "EinsumFn", "EinsumDiagonalFn", "EinsumDiagonalGradFn"]

_LETTERS = frozenset(string.ascii_letters)
Label = int  # letters are their code points; broadcast (``...``) axes are -1, -2, ...


def _parse_term(term: str, eq: str) -> list[Any]:
    """A term's labels, ``...`` kept as Ellipsis."""
    out: list[Any] = []
    rest = term
    while rest:
        if rest.startswith("..."):
            if Ellipsis in out:
                raise ValueError(f"einsum: more than one '...' in the term {term!r} of {eq!r}")
            out.append(Ellipsis)
            rest = rest[3:]
        elif rest[0] in _LETTERS:
            out.append(ord(rest[0]))
            rest = rest[1:]
        else:
            raise ValueError(f"einsum: invalid subscript {rest[0]!r} in {eq!r} (letters a-z, A-Z "
                             "and '...' only)")
    return out


def _parse_string(eq: str, n: int) -> tuple[list[list[Any]], list[Any] | None]:
    if not isinstance(eq, str):
        raise TypeError(f"einsum: the equation must be a string, got {type(eq).__name__}")
    eq_clean = eq.replace(" ", "")
    lhs, arrow, rhs = eq_clean.partition("->")
    if "->" in rhs or "-" in lhs or ">" in lhs:
        raise ValueError(f"einsum: invalid equation {eq!r}")
    terms = lhs.split(",")
    if len(terms) != n:
        raise ValueError(f"einsum: {eq!r} has {len(terms)} operand term(s) but {n} operand(s) "
                         "were given")
    inputs = [_parse_term(t, eq) for t in terms]
    output = _parse_term(rhs, eq) if arrow else None
    return inputs, output


def _parse_sublists(args: Sequence[Any]) -> tuple[list[Any], list[list[Any]], list[Any] | None]:
    """NumPy's ``einsum(op0, sublist0, op1, sublist1, ..., [out_sublist])``."""
    pairs = args[:len(args) - len(args) % 2]
    ops, subs = list(pairs[0::2]), list(pairs[1::2])
    output = list(args[-1]) if len(args) % 2 else None
    conv = []
    for sub in [*subs, *([output] if output is not None else [])]:
        labels = []
        for s in sub:
            if s is Ellipsis:
                labels.append(Ellipsis)
            elif isinstance(s, int | np.integer) and 0 <= s < 52:
                labels.append(ord(string.ascii_letters[int(s)]))
            else:
                raise ValueError(f"einsum: sublist entries must be ints in 0..51 or Ellipsis, "
                                 f"got {s!r}")
        conv.append(labels)
    if output is not None:
        return ops, conv[:-1], conv[-1]
    return ops, conv, None


def _expand_ellipsis(inputs: list[list[Any]], output: list[Any] | None,
                     shapes: Sequence[tuple[int, ...]],
                     eq: Any) -> tuple[list[list[Label]], list[Label]]:
    """Replace ``...`` by labels -1, -2, ... (right aligned); fill in an implicit output."""
    width = 0
    full: list[list[Label]] = []
    for labels, shape in zip(inputs, shapes):
        named = [lab for lab in labels if lab is not Ellipsis]
        extra = len(shape) - len(named)
        if Ellipsis not in labels and extra != 0 or extra < 0:
            raise ValueError(f"einsum: operand of shape {shape} has {len(shape)} dims but its term "
                             f"in {eq!r} names {len(named)}")
        width = builtins.max(width, extra)
        if Ellipsis in labels:
            k = labels.index(Ellipsis)
            labels = labels[:k] + [-(extra - i) for i in range(extra)] + labels[k + 1:]
        full.append(labels)
    broadcast = [-(width - i) for i in range(width)]
    if output is None:
        counts: dict[Label, int] = {}
        for labels in full:
            for lab in labels:
                if lab > 0:
                    counts[lab] = counts.get(lab, 0) + 1
        out = broadcast + sorted(lab for lab, c in counts.items() if c == 1)
    else:
        if Ellipsis in output:
            k = output.index(Ellipsis)
            out = output[:k] + broadcast + output[k + 1:]
        elif width and builtins.any(any(lab < 0 for lab in labels) for labels in full):
            raise ValueError(f"einsum: {eq!r} has broadcast dims ('...') in the operands but no "
                             "'...' in the output")
        else:
            out = list(output)
        named = [lab for lab in out if lab > 0]
        if len(set(named)) != len(named):
            raise ValueError(f"einsum: {eq!r} repeats a label in the output")
        used = {lab for labels in full for lab in labels}
        for lab in named:
            if lab not in used:
                raise ValueError(f"einsum: output label {chr(lab)!r} of {eq!r} appears in no "
                                 "operand")
    return full, out


def _sizes(full: list[list[Label]], shapes: Sequence[tuple[int, ...]], eq: Any) -> dict[Label, int]:
    sizes: dict[Label, int] = {}
    for labels, shape in zip(full, shapes):
        for lab, n in zip(labels, shape):
            old = sizes.setdefault(lab, n)
            if old == n or n == 1:
                continue
            if old != 1:
                name = "'...'" if lab < 0 else repr(chr(lab))
                raise ValueError(f"einsum: label {name} of {eq!r} has sizes {old} and {n} "
                                 f"(operand shapes {list(shapes)})")
            sizes[lab] = n  # size 1 broadcasts
    return sizes


@functools.lru_cache(maxsize=256)
def _string_labels(eq: str, shapes: tuple[tuple[int, ...], ...]) -> tuple[
        list[list[Label]], list[Label], dict[Label, int], tuple | None]:
    """``(labels per operand, output labels, size per label, pair)`` of a string equation,
    cached by equation and shapes (a model calls one einsum many times; callers must not mutate
    them). ``pair`` is ``(la, lb, lo)`` when the equation is one clean contraction of two operands
    (no diagonal, no label summed within one operand, no size-1 broadcasting), ``(lx, lo)`` when
    it is one operand's diagonal, else None."""
    inputs, output = _parse_string(eq, len(shapes))
    full, out = _expand_ellipsis(inputs, output, shapes, eq)
    sizes = _sizes(full, shapes, eq)
    pair = None
    if len(full) == 2:
        la, lb = full
        ok = len(set(la)) == len(la) and len(set(lb)) == len(lb) \
            and all(lab in lb or lab in out for lab in la) \
            and all(lab in la or lab in out for lab in lb) \
            and all(n == sizes[lab] for labels, shape in zip(full, shapes)
                    for lab, n in zip(labels, shape))
        pair = (tuple(la), tuple(lb), tuple(out)) if ok else None
    elif len(full) == 1 and len(set(full[0])) < len(full[0]) \
            and len({(lab, n) for lab, n in zip(full[0], shapes[0])}) == len(set(full[0])):
        pair = (tuple(full[0]), tuple(out))  # one operand's diagonal, sizes consistent
    return full, out, sizes, pair


class EinsumDiagonalFn(Function):
    """One operand with repeated labels: ``out[lo] = sum over the labels lo drops of x[lx]`` (a
    repeated label walks a diagonal), in one pass (``ii->``, ``iij->j``, ``ii->i``)."""

    @staticmethod
    def forward(ctx, x, *, labels):
        ctx.shape = x.shape
        lx, lo = labels
        return kernels_for(x.data).einsum.diagonal_sum(x.data, lx, lo)

    @staticmethod
    def backward(ctx, g):
        return EinsumDiagonalGradFn.apply(g, labels=ctx.kwargs["labels"], shape=ctx.shape)


class EinsumDiagonalGradFn(Function):
    """The gradient of :class:`EinsumDiagonalFn`: zeros of the input's shape with ``g`` written on
    the diagonal (broadcast over the labels the forward summed). Linear in ``g``; its gradient is
    :class:`EinsumDiagonalFn` again."""

    @staticmethod
    def forward(ctx, g, *, labels, shape):
        lx, lo = labels
        return kernels_for(g.data).einsum.diagonal_embed(g.data, lx, lo, shape)

    @staticmethod
    def backward(ctx, gg):
        return EinsumDiagonalFn.apply(gg, labels=ctx.kwargs["labels"])


def _diagonals(t: Tensor, labels: list[Label], keep: Sequence[Label] | None) -> tuple[
        Tensor, list[Label]]:
    """Take the diagonal for every label repeated within one operand, in one
    :class:`EinsumDiagonalFn`; ``keep``: the labels to keep, in order (default: each label once,
    in order of first appearance)."""
    if len(set(labels)) == len(labels):
        return t, labels
    for lab in set(labels):
        sizes = {n for x, n in zip(labels, t.shape) if x == lab}
        if len(sizes) > 1:
            name = "'...'" if lab < 0 else repr(chr(lab))
            raise ValueError(f"einsum: the repeated label {name} spans dims of sizes "
                             f"{' and '.join(map(str, sorted(sizes)))}")
    lo = list(dict.fromkeys(labels)) if keep is None else list(keep)
    return EinsumDiagonalFn.apply(t, labels=(tuple(labels), tuple(lo))), lo


class EinsumFn(Function):
    """Two operands contracted: ``out[lo] = sum over the labels lo drops of a[la] * b[lb]`` for a
    clean pair of label lists (see ``kernels/cpu/einsum.py``). Its gradients are contractions of
    the same kind, ``dA = EinsumFn(dOut, b: lo, lb -> la)`` and ``dB = EinsumFn(dOut, a: lo, la ->
    lb)``, so it differentiates to any order."""

    @staticmethod
    def forward(ctx, a, b, *, labels):
        ctx.save_for_backward(a, b)
        la, lb, lo = labels
        return kernels_for(a.data).einsum.contract(a.data, b.data, la, lb, lo)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        la, lb, lo = ctx.kwargs["labels"]
        da, db = ctx.needs_input_grad
        return (EinsumFn.apply(g, b, labels=(lo, lb, la)) if da else None,
                EinsumFn.apply(g, a, labels=(lo, la, lb)) if db else None)


def _contract(a: Tensor, la: list[Label], b: Tensor, lb: list[Label], lo: list[Label]) -> Tensor:
    """``a`` and ``b`` contracted into the labels ``lo`` (every label of each in the other or in
    ``lo``); a label of size 1 in one operand and n in the other is expanded to n first."""
    size = dict(zip(la, a.shape))
    for lab, n in zip(lb, b.shape):
        if size.get(lab, 1) == 1:  # new, or of size 1 in a (broadcasts to n, 0 included)
            size[lab] = n
    want_a = tuple(size[lab] for lab in la)
    want_b = tuple(size[lab] for lab in lb)
    if want_a != a.shape:
        a = expand(a, want_a)
    if want_b != b.shape:
        b = expand(b, want_b)
    return EinsumFn.apply(a, b, labels=(tuple(la), tuple(lb), tuple(lo)))


def einsum(*args: Any) -> Tensor:
    """Einstein summation: ``einsum('bij,bjk->bik', a, b)`` (see the module docstring for every
    accepted form). Differentiable to any order; runs on the operands' device."""
    if not args:
        raise TypeError("einsum: expected an equation and operands")
    if isinstance(args[0], str):
        eq = args[0]
        ops = list(args[1:])
        if len(ops) == 1 and isinstance(ops[0], list | tuple):
            ops = list(ops[0])  # PyTorch's einsum(eq, [a, b])
        tensors = [as_tensor(t, None, "einsum") for t in ops]
        if not tensors:
            raise ValueError(f"einsum: {eq!r} needs at least one operand")
        full, out, sizes, pair = _string_labels(eq, tuple(t.shape for t in tensors))
        if pair is not None and len(pair) == 2:
            return EinsumDiagonalFn.apply(tensors[0], labels=pair)
        if pair is not None and tensors[0].dtype == tensors[1].dtype:
            return EinsumFn.apply(tensors[0], tensors[1], labels=pair)
    else:
        ops, inputs, output = _parse_sublists(args)
        tensors = [as_tensor(t, None, "einsum") for t in ops]
        eq = "sublists"
        shapes = [t.shape for t in tensors]
        full, out = _expand_ellipsis(inputs, output, shapes, eq)
        sizes = _sizes(full, shapes, eq)
    if len({t.dtype for t in tensors}) > 1:
        dt = np.result_type(*[t.dtype for t in tensors])
        tensors = [t if t.dtype == dt else t.astype(dt) for t in tensors]
    if len(tensors) == 1:  # diagonal, sums and output order in one pass
        operands = [_diagonals(tensors[0], full[0], out)]
    else:
        operands = [_diagonals(t, labels, None) for t, labels in zip(tensors, full)]

    def needed_elsewhere(skip: set[int]) -> set[Label]:
        need = set(out)
        for i, (_, labels) in enumerate(operands):
            if i not in skip:
                need.update(labels)
        return need

    # sum away each operand's labels used nowhere else
    for i, (t, labels) in enumerate(operands):
        need = needed_elsewhere({i})
        drop = [k for k, lab in enumerate(labels) if lab not in need]
        if drop:
            t = t.sum(tuple(drop))
            labels = [lab for k, lab in enumerate(labels) if k not in drop]
        operands[i] = (t, labels)
    # contract pairs, the smallest result first
    while len(operands) > 1:
        best = None
        for i in range(len(operands)):
            for j in range(i + 1, len(operands)):
                keep = needed_elsewhere({i, j})
                labs = set(operands[i][1]) | set(operands[j][1])
                cost = math.prod(sizes[lab] for lab in labs if lab in keep)
                if best is None or cost < best[0]:
                    best = (cost, i, j, keep)
        _, i, j, keep = best
        (a, la), (b, lb) = operands[i], operands[j]
        if len(operands) == 2:
            lo = out  # the last contraction writes the output order directly
        else:
            lo = [lab for lab in la if lab in keep] + [lab for lab in lb
                                                      if lab in keep and lab not in la]
        merged = (_contract(a, la, b, lb, lo), lo)
        operands = [o for k, o in enumerate(operands) if k not in (i, j)] + [merged]
    t, labels = operands[0]
    extra = [k for k, lab in enumerate(labels) if lab not in out]
    if extra:
        t = t.sum(tuple(extra))
        labels = [lab for lab in labels if lab in out]
    if labels != out:
        t = permute(t, tuple(labels.index(lab) for lab in out))
    want = tuple(sizes[lab] for lab in out)
    return expand(t, want) if t.shape != want else t


def tensordot(a: Any, b: Any, dims: Any = 2) -> Tensor:
    """Sum of products over axes: ``dims`` an int ``n`` (the last ``n`` axes of ``a`` with the
    first ``n`` of ``b``) or a pair of axis lists ``([a axes], [b axes])``. The result's axes are
    ``a``'s free axes, then ``b``'s."""
    op = "tensordot"
    a, b = as_tensor(a, None, op), as_tensor(b, None, op)
    if isinstance(dims, int | np.integer) and not isinstance(dims, bool):
        n = int(dims)
        if n < 0 or n > a.ndim or n > b.ndim:
            raise ValueError(f"{op}: dims = {n} must lie in 0..min(a.ndim, b.ndim) for shapes "
                             f"{a.shape} and {b.shape}")
        da, db = list(range(a.ndim - n, a.ndim)), list(range(n))
    else:
        try:
            xa, xb = dims
        except (TypeError, ValueError):
            raise TypeError(f"{op}: dims must be an int or a pair of axis lists, got "
                            f"{dims!r}") from None
        xa = [xa] if isinstance(xa, int | np.integer) else list(xa)
        xb = [xb] if isinstance(xb, int | np.integer) else list(xb)
        if len(xa) != len(xb):
            raise ValueError(f"{op}: the axis lists {xa} and {xb} differ in length")
        da = list(_args.dims(op, tuple(xa), a.ndim)) if xa else []
        db = list(_args.dims(op, tuple(xb), b.ndim)) if xb else []
    for i, j in zip(da, db):
        if a.shape[i] != b.shape[j]:
            raise ValueError(f"{op}: dim {i} of a {a.shape} and dim {j} of b {b.shape} differ "
                             "in size")
    letters = iter(string.ascii_letters)
    la = [next(letters) for _ in range(a.ndim)]
    lb = [next(letters) for _ in range(b.ndim)]
    for i, j in zip(da, db):
        lb[j] = la[i]
    out = [la[i] for i in range(a.ndim) if i not in da] + \
        [lb[j] for j in range(b.ndim) if j not in db]
    return einsum(f"{''.join(la)},{''.join(lb)}->{''.join(out)}", a, b)
