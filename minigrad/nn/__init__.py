"""Neural-network layers, losses, initialisation and a small model zoo (PyTorch's ``torch.nn``).

    >>> import minigrad.nn as nn
    >>> import minigrad.nn.functional as F
    >>> model = nn.Sequential(nn.Linear(9, 16), nn.ReLU(), nn.Linear(16, 2))
    >>> model.num_parameters()
    194

Modules hold state (parameters, buffers, submodules) and call :mod:`minigrad.nn.functional`;
the maths and the gradients live in the ops.
"""

from minigrad import _hints
from minigrad.nn import functional, init, models, modules, utils
from minigrad.nn.modules import *  # noqa: F403 (the layers: nn.modules.__all__)
from minigrad.nn.parameter import Parameter

# the layers are nn.modules' list; its hook handle type belongs to minigrad.autograd, not nn
del RemovableHandle  # noqa: F821
__all__ = ["functional", "init", "utils", "models", "Parameter",
           *(name for name in modules.__all__ if name != "RemovableHandle")]

# An unknown attribute whose PyTorch name we know gets a hint (`nn.PReLU`: not implemented yet).
__getattr__ = _hints.module_getattr(__name__)
