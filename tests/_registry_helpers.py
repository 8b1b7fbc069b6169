"""Turning registry Samples into tensors, shared by the registry-driven tests."""

from __future__ import annotations

import numpy as np

import minigrad as mg
from minigrad.testing.opinfo import Sample


def to_tensors(sample: Sample, dtype=np.float64):
    """Float arrays -> tensors of ``dtype`` (requiring grad where the sample says); other arrays ->
    constant tensors; plain values pass through."""
    diff = sample.differentiable_positions()
    args = []
    for i, a in enumerate(sample.args):
        if isinstance(a, np.ndarray):
            if np.issubdtype(a.dtype, np.floating):
                args.append(mg.tensor(a.astype(dtype), requires_grad=i in diff))
            else:
                args.append(mg.tensor(a))
        else:
            args.append(a)
    return args
