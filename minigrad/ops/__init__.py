"""Built-in ops. Importing this package registers every op in :mod:`minigrad.ops.registry`."""

# Tensor first, whichever module is imported first: minigrad.tensor imports the op modules at its
# end, and they import Tensor back.
import minigrad.tensor  # noqa: F401  # isort: skip
# every op module, so that the registry fills
from minigrad.ops import (  # noqa: F401
    activation,
    conv,
    device,
    dropout,
    elementwise,
    linalg,
    loss,
    normalization,
    pool,
    reduce,
    shape,
)
