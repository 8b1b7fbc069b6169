"""Matrix multiplication: 1-D, 2-D and batched operands with broadcast batch axes."""

from __future__ import annotations

import numpy as np

from minigrad.ops.linalg import matmul
from minigrad.testing import strategies as S
from minigrad.testing.opinfo.core import OpInfo

op_db = [OpInfo("matmul", matmul, S.matmul_samples, ref=np.matmul)]


# -- issue 14 (h14b): named products, inv, det, solve, cholesky --------------------------------
from hypothesis import strategies as st  # noqa: E402

from minigrad.ops import linalg as LA  # noqa: E402
from minigrad.testing.opinfo.core import Sample  # noqa: E402


def _arrays_of(*make):
    """Samples of arrays whose shapes ``make[i](draw)`` returns."""

    @st.composite
    def draw_sample(draw):
        return Sample(tuple(draw(S.arrays(m(draw))) for m in make))

    return draw_sample


def _n(draw):
    return draw(st.integers(1, 4))


@st.composite
def _mm(draw):
    n, m, p = _n(draw), _n(draw), _n(draw)
    return Sample((draw(S.arrays((n, m))), draw(S.arrays((m, p)))))


@st.composite
def _bmm(draw):
    b, n, m, p = _n(draw), _n(draw), _n(draw), _n(draw)
    return Sample((draw(S.arrays((b, n, m))), draw(S.arrays((b, m, p)))))


@st.composite
def _mv(draw):
    n, m = _n(draw), _n(draw)
    return Sample((draw(S.arrays((n, m))), draw(S.arrays((m,)))))


@st.composite
def _dot(draw):
    n = _n(draw)
    return Sample((draw(S.arrays((n,))), draw(S.arrays((n,)))))


@st.composite
def _addmm(draw):
    n, m, p = _n(draw), _n(draw), _n(draw)
    shape = draw(st.sampled_from([(n, p), (p,), (1, p), ()]))
    return Sample((draw(S.arrays(shape)), draw(S.arrays((n, m))), draw(S.arrays((m, p)))),
                  {"beta": draw(st.sampled_from([1.0, 0.5, 0.0])),
                   "alpha": draw(st.sampled_from([1.0, -2.0]))})


@st.composite
def _baddbmm(draw):
    b, n, m, p = _n(draw), _n(draw), _n(draw), _n(draw)
    return Sample((draw(S.arrays((b, n, p))), draw(S.arrays((b, n, m))),
                   draw(S.arrays((b, m, p)))),
                  {"beta": draw(st.sampled_from([1.0, 0.5])),
                   "alpha": draw(st.sampled_from([1.0, 3.0]))})


@st.composite
def _kron(draw):
    a = draw(S.arrays(draw(S.shapes(max_dims=2, max_side=3))))
    b = draw(S.arrays(draw(S.shapes(max_dims=2, max_side=3))))
    return Sample((a, b))


@st.composite
def _square(draw, extra=0):
    """Well-conditioned square matrices (a batch sometimes): a random matrix plus 3 I."""
    n = draw(st.integers(1, 3))
    batch = draw(st.sampled_from([(), (2,)]))
    a = draw(S.arrays(batch + (n, n), lo=-1.0, hi=1.0)) + 3 * np.eye(n)
    if not extra:
        return Sample((a,))
    k = draw(st.sampled_from([None, 1, 2]))
    b = draw(S.arrays(batch + ((n,) if k is None else (n, k))))
    return Sample((a, b))


def _spd(a):
    """A symmetric positive-definite matrix made from ``a`` (its gradient reaches all of ``a``;
    cholesky itself reads only the lower triangle)."""
    return a @ a.swapaxes(-1, -2) + np.eye(a.shape[-1])


def _cholesky_of_spd(a):
    from minigrad.tensor import eye

    n = a.shape[-1]
    return LA.cholesky(a @ a.swapaxes(-1, -2) + eye(n, dtype=a.dtype, device=a.device))


op_db += [
    OpInfo("outer", LA.outer, _arrays_of(lambda d: (_n(d),), lambda d: (_n(d),)), ref=np.outer),
    OpInfo("dot", LA.dot, _dot, ref=np.dot),
    OpInfo("mv", LA.mv, _mv, ref=np.matmul),
    OpInfo("mm", LA.mm, _mm, ref=np.matmul),
    OpInfo("bmm", LA.bmm, _bmm, ref=np.matmul),
    OpInfo("addmm", lambda i, a, b, beta, alpha: LA.addmm(i, a, b, beta=beta, alpha=alpha),
           _addmm, ref=lambda i, a, b, beta, alpha: (beta * i if beta else 0) + alpha * (a @ b)),
    OpInfo("baddbmm", lambda i, a, b, beta, alpha: LA.baddbmm(i, a, b, beta=beta, alpha=alpha),
           _baddbmm, ref=lambda i, a, b, beta, alpha: beta * i + alpha * (a @ b)),
    OpInfo("kron", LA.kron, _kron, ref=np.kron),
    OpInfo("inv", LA.inv, _square, ref=np.linalg.inv),
    OpInfo("det", LA.det, _square, ref=np.linalg.det, kinks=LA.DetFn.kinks),
    OpInfo("solve", LA.solve, lambda: _square(extra=1),
           ref=lambda a, b: np.linalg.solve(a, b[..., None])[..., 0]
           if b.ndim == a.ndim - 1 else np.linalg.solve(a, b)),
    OpInfo("cholesky", _cholesky_of_spd, _square, ref=lambda a: np.linalg.cholesky(_spd(a))),
]


# -- issue 17 (h17d): F.linear as one Function (LinearFn) --------------------------------------
from minigrad.nn.functional import linear  # noqa: E402


@st.composite
def _linear(draw):
    """x (n, in) or (b, n, in), w (out, in), and a bias (out,) half of the time."""
    n, m, p = _n(draw), _n(draw), _n(draw)
    lead = draw(st.sampled_from([(n,), (2, n)]))
    args = (draw(S.arrays(lead + (m,))), draw(S.arrays((p, m))))
    if draw(st.booleans()):
        args += (draw(S.arrays((p,))),)
    return Sample(args)


op_db += [
    OpInfo("linear", linear, _linear, kinks=LA.LinearFn.kinks,
           ref=lambda x, w, b=None: x @ w.T + (0 if b is None else b)),
]
