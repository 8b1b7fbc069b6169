"""The op database (``OpInfo`` entries, one module per op family) that drives the registry tests.

    >>> from minigrad.testing.opinfo import registry
    >>> [op.name for op in registry()][:3]
    ['relu', 'relu6', 'leaky_relu']

See :mod:`minigrad.testing.opinfo.core` for what an entry holds.
"""

from minigrad.testing.opinfo.core import FAMILIES, OpInfo, Sample, get, register, registry

__all__ = ["FAMILIES", "OpInfo", "Sample", "get", "register", "registry"]
