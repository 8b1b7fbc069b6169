"""LeNet-5 (LeCun et al. 1998)."""

from __future__ import annotations

from collections import OrderedDict

from minigrad.nn.models._util import fc_stack
from minigrad.nn.modules import (
    AvgPool2d,
    Conv2d,
    Flatten,
    MaxPool2d,
    Module,
    ReLU,
    Sequential,
    Tanh,
)
from minigrad.tensor import Tensor

__all__ = ["LeNet5"]

_ACTIVATIONS = {"relu": ReLU, "tanh": Tanh}
_POOLS = {"max": MaxPool2d, "avg": AvgPool2d}


class LeNet5(Module):
    """LeNet-5 for 32x32 images: conv5x5(6) -> pool -> conv5x5(16) -> pool -> 120 -> 84 ->
    classes.

    x: (N, in_channels, 32, 32) -> logits (N, num_classes). The default is the modern variant,
    ReLU and 2x2 max-pooling; ``activation="tanh", pool="avg"`` gives the 1998 layout with plain
    average pooling (the original's subsampling layers also had a trainable scale and bias, and
    C3 connected to a fixed subset of S2's maps; both are left out, as in most re-creations).

    Example (28x28 MNIST digits: pad them by 2 first)::

        >>> from minigrad.nn.models import LeNet5
        >>> _ = LeNet5().summary((1, 1, 32, 32))
        LeNet5 summary
        ---------------------------------------------------
        Layer (type)              Output Shape      Param #
        ===================================================
        Input                     (1, 1, 32, 32)
        features (Sequential)     (1, 16, 5, 5)       2,572
          conv1 (Conv2d)          (1, 6, 28, 28)        156
          act1 (ReLU)             (1, 6, 28, 28)          0
          pool1 (MaxPool2d)       (1, 6, 14, 14)          0
          conv2 (Conv2d)          (1, 16, 10, 10)     2,416
          act2 (ReLU)             (1, 16, 10, 10)         0
          pool2 (MaxPool2d)       (1, 16, 5, 5)           0
        flatten (Flatten)         (1, 400)                0
        classifier (Sequential)   (1, 10)            59,134
          fc1 (Linear)            (1, 120)           48,120
          act3 (ReLU)             (1, 120)                0
          fc2 (Linear)            (1, 84)            10,164
          act4 (ReLU)             (1, 84)                 0
          fc3 (Linear)            (1, 10)               850
        ---------------------------------------------------
        Output: (1, 10)
        Total params: 61,706
        Trainable params: 61,706
        Non-trainable params: 0
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1, activation: str = "relu",
                 pool: str = "max") -> None:
        super().__init__()
        if activation not in _ACTIVATIONS:
            raise ValueError(f"LeNet5: activation must be one of {list(_ACTIVATIONS)}, got "
                             f"{activation!r}")
        if pool not in _POOLS:
            raise ValueError(f"LeNet5: pool must be one of {list(_POOLS)}, got {pool!r}")
        act, pooling = _ACTIVATIONS[activation], _POOLS[pool]
        self.features = Sequential(OrderedDict([
            ("conv1", Conv2d(in_channels, 6, 5)), ("act1", act()), ("pool1", pooling(2)),
            ("conv2", Conv2d(6, 16, 5)), ("act2", act()), ("pool2", pooling(2)),
        ]))
        self.flatten = Flatten()
        self.classifier = fc_stack([16 * 5 * 5, 120, 84, num_classes], act, "act", first_act=3)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or x.shape[2:] != (32, 32):
            raise ValueError(f"LeNet5: expected input (N, C, 32, 32), got {x.shape} (pad 28x28 "
                             "digits by 2 on each side)")
        return self.classifier(self.flatten(self.features(x)))
