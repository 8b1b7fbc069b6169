"""The public gradient-fuzzing kit.

- :func:`gradcheck` / :func:`gradgradcheck`: first and second derivatives against central finite
  differences in float64, kink-aware.
- :func:`check_graph`: gradchecks each node of a recorded graph on its own and names the first op
  whose backward is wrong.
- :mod:`minigrad.testing.conv_reference`: plain NumPy-loop convolutions (slow, obviously right),
  to check your own kernels against.
- :mod:`minigrad.testing.strategies` (needs Hypothesis): ``tensors``, ``shapes``,
  ``broadcastable_shapes`` and the op-input strategies the op database uses.
- :mod:`minigrad.testing.opinfo` (needs Hypothesis): the op database, one ``OpInfo`` per
  differentiable op (callable, input strategy, NumPy reference, kinks), one module per op family;
  ``registry()`` lists them all.
"""

from minigrad.testing.gradcheck import (
    GradcheckError,
    NonDifferentiableError,
    check_graph,
    gradcheck,
    gradgradcheck,
)

__all__ = ["GradcheckError", "NonDifferentiableError", "check_graph", "gradcheck",
           "gradgradcheck"]
