"""Built-in ops, one module per family: each op is a ``Function`` (forward on arrays, backward on
Tensors) with its ``kinks``, and the public function that checks its arguments and applies it.
Argument and geometry helpers shared by the ops, kernels and nn layers are in :mod:`._args`; the
op database that tests every op is :mod:`minigrad.testing.opinfo`."""

from minigrad import tensor as _tensor
from minigrad.ops import (  # noqa: F401
    activation,
    activation_extra,
    bitwise,
    conv,
    creation,
    dropout,
    einsum,
    elementwise,
    embedding,
    fold,
    fused,
    index,
    linalg,
    loss,
    math,
    normalization,
    pool,
    reduce,
    scan,
    shape,
    softmax,
    sort,
    to_device,
    upsample,
)

# Tensor's methods reach the ops through names this package fills in (minigrad.tensor cannot import
# the ops that import it).
_tensor._act, _tensor._ew, _tensor._la = activation, elementwise, linalg
_tensor._red, _tensor._sh, _tensor._sm, _tensor._dev = reduce, shape, softmax, to_device
_tensor._bw, _tensor._cr, _tensor._math = bitwise, creation, math
_tensor._idx, _tensor._scan, _tensor._sort = index, scan, sort
