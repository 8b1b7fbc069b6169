"""AlexNet (Krizhevsky, Sutskever & Hinton 2012), with a width multiplier and a small-image
stem."""

from __future__ import annotations

from collections import OrderedDict

from minigrad.nn.models._util import conv_out, even
from minigrad.nn.modules import (
    Conv2d,
    Dropout,
    Flatten,
    Linear,
    MaxPool2d,
    Module,
    ReLU,
    Sequential,
)
from minigrad.tensor import Tensor

__all__ = ["AlexNet"]


class AlexNet(Module):
    """AlexNet: 5 convolutions (ReLU, overlapping 3x3/2 max-pooling after conv1, conv2, conv5),
    then 3 fully connected layers with dropout before the first two.

    The paper trained on two GPUs, each holding half of every layer's kernels; conv2, conv4 and
    conv5 only saw the half on their own GPU. That split is kept as ``groups=2`` in those three
    convolutions (conv3 and the FC layers connect across both halves, as in the paper). Local
    response normalisation is left out (it was dropped by later work, torchvision included).

    x: (N, in_channels, image_size, image_size) -> logits (N, num_classes).
    width:      multiplies every layer's size; 1.0 is the paper's 96-256-384-384-256 channels and
                4096-unit FC layers (channel counts are rounded to even numbers for the split).
    image_size: 224 (or anything >= 64) uses the paper's 11x11 stride-4 first layer (with
                torchvision's padding 2); smaller images, e.g. 32x32 CIFAR, get a 3x3 stride-1
                first layer instead, so the three poolings leave a 3x3 map.

    Example::

        >>> from minigrad.nn.models import AlexNet
        >>> _ = AlexNet(num_classes=10, width=0.25, image_size=32).summary((1, 3, 32, 32))
        AlexNet summary
        -----------------------------------------------------
        Layer (type)              Output Shape        Param #
        =====================================================
        Input                     (1, 3, 32, 32)
        features (Sequential)     (1, 64, 3, 3)       144,608
          conv1 (Conv2d)          (1, 24, 32, 32)         672
          relu1 (ReLU)            (1, 24, 32, 32)           0
          pool1 (MaxPool2d)       (1, 24, 15, 15)           0
          conv2 (Conv2d)          (1, 64, 15, 15)      19,264
          relu2 (ReLU)            (1, 64, 15, 15)           0
          pool2 (MaxPool2d)       (1, 64, 7, 7)             0
          conv3 (Conv2d)          (1, 96, 7, 7)        55,392
          relu3 (ReLU)            (1, 96, 7, 7)             0
          conv4 (Conv2d)          (1, 96, 7, 7)        41,568
          relu4 (ReLU)            (1, 96, 7, 7)             0
          conv5 (Conv2d)          (1, 64, 7, 7)        27,712
          relu5 (ReLU)            (1, 64, 7, 7)             0
          pool3 (MaxPool2d)       (1, 64, 3, 3)             0
        flatten (Flatten)         (1, 576)                  0
        classifier (Sequential)   (1, 10)           1,650,698
          drop1 (Dropout)         (1, 576)                  0
          fc1 (Linear)            (1, 1024)           590,848
          relu6 (ReLU)            (1, 1024)                 0
          drop2 (Dropout)         (1, 1024)                 0
          fc2 (Linear)            (1, 1024)         1,049,600
          relu7 (ReLU)            (1, 1024)                 0
          fc3 (Linear)            (1, 10)              10,250
        -----------------------------------------------------
        Output: (1, 10)
        Total params: 1,795,306
        Trainable params: 1,795,306
        Non-trainable params: 0
    """

    def __init__(self, num_classes: int = 1000, in_channels: int = 3, width: float = 1.0,
                 image_size: int = 224, dropout: float = 0.5) -> None:
        super().__init__()
        if width <= 0:
            raise ValueError(f"AlexNet: width must be positive, got {width}")
        c1, c2, c3 = even(96 * width), even(256 * width), even(384 * width)
        hidden = max(1, round(4096 * width))
        if image_size >= 64:
            stem = Conv2d(in_channels, c1, 11, stride=4, padding=2)
            size = conv_out(image_size, 11, 4, 2)
        else:
            stem = Conv2d(in_channels, c1, 3, padding=1)
            size = image_size
        for _ in range(3):
            size = conv_out(size, 3, 2)
        self.image_size = image_size
        self.features = Sequential(OrderedDict([
            ("conv1", stem), ("relu1", ReLU()), ("pool1", MaxPool2d(3, 2)),
            ("conv2", Conv2d(c1, c2, 5, padding=2, groups=2)), ("relu2", ReLU()),
            ("pool2", MaxPool2d(3, 2)),
            ("conv3", Conv2d(c2, c3, 3, padding=1)), ("relu3", ReLU()),
            ("conv4", Conv2d(c3, c3, 3, padding=1, groups=2)), ("relu4", ReLU()),
            ("conv5", Conv2d(c3, c2, 3, padding=1, groups=2)), ("relu5", ReLU()),
            ("pool3", MaxPool2d(3, 2)),
        ]))
        self.flatten = Flatten()
        self.classifier = Sequential(OrderedDict([
            ("drop1", Dropout(dropout)), ("fc1", Linear(c2 * size * size, hidden)),
            ("relu6", ReLU()),
            ("drop2", Dropout(dropout)), ("fc2", Linear(hidden, hidden)), ("relu7", ReLU()),
            ("fc3", Linear(hidden, num_classes)),
        ]))

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or x.shape[2:] != (self.image_size, self.image_size):
            raise ValueError(f"AlexNet: built for (N, C, {self.image_size}, {self.image_size}) "
                             f"input, got {x.shape}")
        return self.classifier(self.flatten(self.features(x)))
