"""Reverse-mode autodiff: ``Function`` (a recorded op and its context), grad modes, ``backward``,
``grad``, tensor hooks, in-place rules and anomaly detection.

Where things are (read in this order):

- ``grad_mode.py``: whether ops record a graph (``no_grad``, ``set_grad_enabled``, ...);
- ``function.py``: ``Function``: ``forward`` on arrays, ``backward`` on Tensors, and ``apply``,
  which records the call as a graph node;
- ``engine.py``: the backward loop (``run_backward``) behind ``backward()`` and ``grad()``;
- ``graph.py``: the public, read-only view of the recorded graph (nodes, next functions,
  metadata) used by ``minigrad.explain``, ``minigrad.viz`` and ``check_graph``;
- ``hooks.py``: ``Tensor.register_hook`` and ``register_post_accumulate_grad_hook``;
- ``inplace.py`` and ``versions.py``: the rules for in-place ops, and version counters;
- ``anomaly_mode.py``: ``detect_anomaly``.

The package knows no array type by name: it asks ``minigrad._device`` (``is_cuda``,
``storage``, ``zeros_on``...).
"""

from minigrad.autograd import graph, versions
from minigrad.autograd.anomaly_mode import detect_anomaly, is_anomaly_enabled, set_detect_anomaly
from minigrad.autograd.engine import backward, grad
from minigrad.autograd.function import Function
from minigrad.autograd.grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
)
from minigrad.autograd.hooks import (
    RemovableHandle,
    register_hook,
    register_post_accumulate_grad_hook,
)
from minigrad.autograd.inplace import apply_inplace, check_inplace

__all__ = [
    "Function",
    "no_grad",
    "enable_grad",
    "set_grad_enabled",
    "is_grad_enabled",
    "inference_mode",
    "is_inference_mode_enabled",
    "backward",
    "grad",
    "graph",
    "RemovableHandle",
    "register_hook",
    "register_post_accumulate_grad_hook",
    "apply_inplace",
    "check_inplace",
    "versions",
    "detect_anomaly",
    "set_detect_anomaly",
    "is_anomaly_enabled",
]
