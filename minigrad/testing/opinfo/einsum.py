"""einsum (explicit and implicit outputs, ``...``, repeated labels, size-1 broadcasting, three
operands) and tensordot; NumPy's ``np.einsum`` / ``np.tensordot`` as references."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from minigrad.ops.einsum import einsum, tensordot
from minigrad.testing import strategies as S
from minigrad.testing.opinfo.core import OpInfo, Sample

EQUATIONS = (
    "ij,jk->ik", "bij,bjk->bik", "ij,jk", "ii->i", "ii", "iij->j", "ij->", "ij->ji", "i,i->",
    "i,j->ij", "...ij,...jk->...ik", "...i,...i", "ij,ij->ij", "ijk,jl,lk->i", "bA,A->b",
    "i...->...", "ab,cd->", "ab,ba",
)


@st.composite
def _einsum_samples(draw):
    eq = draw(st.sampled_from(EQUATIONS))
    lhs = eq.split("->")[0].split(",")
    size = {c: draw(st.integers(1, 3)) for c in set(eq) if c.isalpha()}
    batch = draw(hnp.mutually_broadcastable_shapes(num_shapes=len(lhs), max_dims=2,
                                                   max_side=3)).input_shapes
    arrays = []
    for term, b in zip(lhs, batch):
        shape = []
        for part in term.split("..."):
            shape.append(tuple(size[c] if not draw(st.booleans()) or eq != "ij,ij->ij" else 1
                               for c in part))
        full = shape[0] + (b if "..." in term else ()) + (shape[1] if len(shape) > 1 else ())
        arrays.append(draw(S.arrays(full)))
    return Sample(tuple(arrays), {"eq": eq})


# one operand with repeated labels (EinsumDiagonalFn): a diagonal, summed or permuted
DIAGONAL_EQUATIONS = ("ii->", "ii->i", "iij->j", "iji->ji", "...ii->i...", "ijij->")


@st.composite
def _diagonal_samples(draw):
    eq = draw(st.sampled_from(DIAGONAL_EQUATIONS))
    size = {c: draw(st.integers(1, 3)) for c in set(eq) if c.isalpha()}
    batch = draw(hnp.array_shapes(min_dims=0, max_dims=2, max_side=3))
    term = eq.split("->")[0]
    shape = tuple(size[c] for c in term.replace("...", ""))
    if "..." in term:
        shape = batch + shape
    return Sample((draw(S.arrays(shape)),), {"eq": eq})


@st.composite
def _tensordot_samples(draw):
    n = draw(st.integers(0, 2))
    shared = tuple(draw(st.integers(1, 3)) for _ in range(n))
    a_free = tuple(draw(st.integers(1, 3)) for _ in range(draw(st.integers(0, 2))))
    b_free = tuple(draw(st.integers(1, 3)) for _ in range(draw(st.integers(0, 2))))
    a, b = draw(S.arrays(a_free + shared)), draw(S.arrays(shared + b_free))
    if draw(st.booleans()):
        return Sample((a, b), {"dims": n})
    axes = (list(range(len(a_free), a.ndim)), list(range(n)))
    return Sample((a, b), {"dims": axes})


op_db = [
    OpInfo("einsum", lambda *ops, eq: einsum(eq, *ops), _einsum_samples,
           ref=lambda *ops, eq: np.einsum(eq, *ops)),
    OpInfo("einsum_diagonal", lambda x, eq: einsum(eq, x), _diagonal_samples,
           ref=lambda x, eq: np.einsum(eq, x)),
    OpInfo("tensordot", lambda a, b, dims: tensordot(a, b, dims), _tensordot_samples,
           ref=lambda a, b, dims: np.tensordot(a, b, dims)),
]
