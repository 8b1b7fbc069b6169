"""Shape ops and indexing; NumPy's own functions as references."""

from __future__ import annotations

import numpy as np

from minigrad.ops import shape as SH
from minigrad.testing import strategies as S
from minigrad.testing.opinfo.core import OpInfo

_unary = S.unary_samples


def _unary_1d():
    return S.unary_samples(min_dims=1)


op_db = [
    OpInfo("reshape", lambda a: SH.reshape(a, -1), _unary, ref=lambda a: a.reshape(-1)),
    OpInfo("permute", lambda a: SH.permute(a, tuple(range(a.ndim))[::-1]), _unary,
           ref=lambda a: np.transpose(a)),
    OpInfo("swapaxes", lambda a: SH.swapaxes(a, 0, -1), _unary_1d,
           ref=lambda a: np.swapaxes(a, 0, -1)),
    OpInfo("expand", lambda a: SH.expand(a, (2,) + a.shape), _unary,
           ref=lambda a: np.broadcast_to(a, (2,) + a.shape)),
    OpInfo("squeeze_unsqueeze", lambda a: SH.squeeze(SH.unsqueeze(a, 0)).flatten(), _unary,
           ref=lambda a: np.squeeze(a).reshape(-1)),
    OpInfo("clone", lambda a: SH.clone(a.transpose()), _unary,
           ref=lambda a: np.transpose(a).copy()),
    OpInfo("getitem", lambda a, index: a[index], S.getitem_samples,
           ref=lambda a, index: a[index]),
    OpInfo("cat", lambda a, b, axis: SH.cat([a, b], axis=axis), S.cat_samples,
           ref=lambda a, b, axis: np.concatenate([a, b], axis=axis)),
    OpInfo("stack", lambda a: SH.stack([a, 2 * a, a * a], axis=-1), _unary,
           ref=lambda a: np.stack([a, 2 * a, a * a], axis=-1)),
    OpInfo("split", lambda a: SH.split(a, 1, dim=0)[-1] * 2 + SH.split(a, 1, dim=0)[0],
           _unary_1d, ref=lambda a: np.split(a, a.shape[0], axis=0)[-1] * 2 + a[:1]),
    OpInfo("pad", lambda a: SH.pad(a, 1, value=0.5), _unary_1d,
           ref=lambda a: np.pad(a, 1, constant_values=0.5)),
]
