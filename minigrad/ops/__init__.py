"""Built-in ops. Importing this package registers every op in :mod:`minigrad.ops.registry`."""

from minigrad.ops import elementwise, linalg, reduce, shape  # noqa: F401
