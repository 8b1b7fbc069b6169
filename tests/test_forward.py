"""Forward values of every registered op against its NumPy reference, on drawn inputs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
from minigrad.testing.opinfo import registry
from tests._registry_helpers import to_tensors

WITH_REF = [o for o in registry() if o.ref is not None]


@pytest.mark.parametrize("op", WITH_REF, ids=[o.name for o in WITH_REF])
@given(data=st.data())
def test_forward_matches_reference(op, data):
    sample = data.draw(op.strategy(), label="sample")
    args = to_tensors(sample)
    out = op.fn(*args, **sample.kwargs)
    expected = op.ref(*sample.args, **sample.kwargs)
    outs = out if isinstance(out, tuple | list) else (out,)
    refs = expected if isinstance(expected, tuple | list) else (expected,)
    for o, r in zip(outs, refs):
        assert isinstance(o, mg.Tensor)
        assert o.shape == np.shape(r), f"{op.name}: shape {o.shape} != reference {np.shape(r)}"
        np.testing.assert_allclose(o.numpy(), r, rtol=op.rtol, atol=op.atol)


def test_every_registered_op_has_a_reference_or_says_why():
    missing = [o.name for o in registry() if o.ref is None]
    assert not missing, f"ops without a forward reference: {missing}"
