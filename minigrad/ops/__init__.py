"""Built-in ops. Importing this package registers every op in :mod:`minigrad.ops.registry`."""

# Tensor first, whichever module is imported first: minigrad.tensor imports the op modules at its
# end, and they import Tensor back.
import minigrad.tensor  # noqa: F401  # isort: skip
from minigrad.ops import elementwise, linalg, reduce, shape  # noqa: F401
from minigrad.ops import conv  # noqa: F401
