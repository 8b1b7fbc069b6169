"""Built-in ops, one module per family: each op is a ``Function`` (forward on arrays, backward on
Tensors) with its ``kinks``, and the public function that checks its arguments and applies it.
Argument and geometry helpers shared by the ops, kernels and nn layers are in :mod:`._args`; the
op database that tests every op is :mod:`minigrad.testing.opinfo`."""

# Tensor first, whichever module is imported first: minigrad.tensor imports the op modules at its
# end, and they import Tensor back.
import minigrad.tensor  # noqa: F401  # isort: skip
from minigrad.ops import (  # noqa: F401
    activation,
    conv,
    dropout,
    elementwise,
    fold,
    linalg,
    loss,
    normalization,
    pool,
    reduce,
    shape,
    softmax,
    to_device,
    upsample,
)
