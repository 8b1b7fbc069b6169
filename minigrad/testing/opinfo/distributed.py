"""The differentiable collectives of :mod:`minigrad.distributed` on a world of one rank
(``WORLD_OF_ONE``: each collective is the identity, MPI is never touched), and
``sync_batch_norm``, whose reference is batch normalisation's definition in NumPy.
``tests/test_distributed.py`` checks the same ops across two processes."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from minigrad.distributed._comm import WORLD_OF_ONE
from minigrad.distributed.functional import (
    AllGatherFn,
    AllReduceSumFn,
    SyncBatchNormTrainFn,
    all_gather,
    all_reduce_sum,
    sync_batch_norm,
)
from minigrad.testing import strategies as S
from minigrad.testing.opinfo.core import OpInfo, Sample


def _any_array():
    return S.shapes(max_dims=3).flatmap(lambda s: S.arrays(s)).map(lambda a: Sample((a,)))


def _bn_samples():
    @st.composite
    def draw(d):
        shape = [d(st.integers(2, 3)), d(st.integers(1, 3))]
        shape += [d(st.integers(1, 3)) for _ in range(d(st.integers(0, 2)))]
        x = d(S.arrays(tuple(shape), lo=-3, hi=3))
        # keep every channel's variance away from 0 (1/sqrt(var + eps) too steep for finite
        # differences), as the batch_norm entry does
        x = x + np.arange(x.size).reshape(x.shape) * 0.3
        c = shape[1]
        rm, rv = d(S.arrays((c,), lo=-1, hi=1)), d(S.arrays((c,), lo=0.5, hi=2))
        args = (x, rm, rv) + ((d(S.arrays((c,))), d(S.arrays((c,)))) if d(st.booleans()) else ())
        return Sample(args, {"eps": 1e-3}, grad_args=(0, 3, 4))

    return draw()


def _bn_ref(x, running_mean, running_var, weight=None, bias=None, eps=1e-5):
    axes = (0, *range(2, x.ndim))
    cs = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    y = (x - x.mean(axis=axes).reshape(cs)) / np.sqrt(x.var(axis=axes).reshape(cs) + eps)
    if weight is not None:
        y = y * weight.reshape(cs)
    return y if bias is None else y + bias.reshape(cs)


def _gather0(x, sum_grads=True):
    return all_gather(x, sum_grads=sum_grads, group=WORLD_OF_ONE)[0]


op_db = [
    OpInfo("distributed.all_gather", _gather0, _any_array, ref=lambda x: x,
           kinks=AllGatherFn.kinks),
    OpInfo("distributed.all_gather(sum_grads=False)", lambda x: _gather0(x, sum_grads=False),
           _any_array, ref=lambda x: x, kinks=AllGatherFn.kinks),
    OpInfo("distributed.all_reduce_sum", lambda x: all_reduce_sum(x, group=WORLD_OF_ONE),
           _any_array, ref=lambda x: x, kinks=AllReduceSumFn.kinks),
    OpInfo("sync_batch_norm", lambda *a, **k: sync_batch_norm(*a, **k, group=WORLD_OF_ONE),
           _bn_samples, ref=_bn_ref, kinks=SyncBatchNormTrainFn.kinks),
]
