"""VGG-style networks (Simonyan & Zisserman 2014): stacks of 3x3 convolutions and 2x2
max-pooling."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

from minigrad.nn.modules import (
    BatchNorm2d,
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

__all__ = ["VGG", "CONFIGS"]

# ints are 3x3 convolutions with that many channels, "M" a 2x2 max-pool
CONFIGS: dict[str, list[int | str]] = {
    "small": [32, "M", 64, "M", 128, 128, "M"],
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg13": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512,
              "M"],
}


class VGG(Module):
    """VGG: 3x3 convolutions (padding 1, ReLU, optional batch norm) grouped by 2x2 max-pools,
    then three fully connected layers with dropout.

    x: (N, in_channels, image_size, image_size) -> logits (N, num_classes).

    Args:
        cfg: a name in ``CONFIGS`` ("small" (default), "vgg11", "vgg13", "vgg16") or a list of
            channel counts and "M" (max-pool) entries.
        hidden: width of the two hidden FC layers (the paper's 4096; the default 256 suits the
            small configuration on 32x32 images).

    Example::

        >>> from minigrad.nn.models import VGG
        >>> _ = VGG("small", num_classes=10, batch_norm=True).summary((1, 3, 32, 32))
        VGG summary
        ---------------------------------------------------
        Layer (type)              Output Shape      Param #
        ===================================================
        Input                     (1, 3, 32, 32)
        features (Sequential)     (1, 128, 4, 4)    241,184
          conv1 (Conv2d)          (1, 32, 32, 32)       864
          bn1 (BatchNorm2d)       (1, 32, 32, 32)        64
          relu1 (ReLU)            (1, 32, 32, 32)         0
          pool1 (MaxPool2d)       (1, 32, 16, 16)         0
          conv2 (Conv2d)          (1, 64, 16, 16)    18,432
          bn2 (BatchNorm2d)       (1, 64, 16, 16)       128
          relu2 (ReLU)            (1, 64, 16, 16)         0
          pool2 (MaxPool2d)       (1, 64, 8, 8)           0
          conv3 (Conv2d)          (1, 128, 8, 8)     73,728
          bn3 (BatchNorm2d)       (1, 128, 8, 8)        256
          relu3 (ReLU)            (1, 128, 8, 8)          0
          conv4 (Conv2d)          (1, 128, 8, 8)    147,456
          bn4 (BatchNorm2d)       (1, 128, 8, 8)        256
          relu4 (ReLU)            (1, 128, 8, 8)          0
          pool3 (MaxPool2d)       (1, 128, 4, 4)          0
        flatten (Flatten)         (1, 2048)               0
        classifier (Sequential)   (1, 10)           592,906
          fc1 (Linear)            (1, 256)          524,544
          relu1 (ReLU)            (1, 256)                0
          drop1 (Dropout)         (1, 256)                0
          fc2 (Linear)            (1, 256)           65,792
          relu2 (ReLU)            (1, 256)                0
          drop2 (Dropout)         (1, 256)                0
          fc3 (Linear)            (1, 10)             2,570
        ---------------------------------------------------
        Output: (1, 10)
        Total params: 834,090
        Trainable params: 834,090
        Non-trainable params: 0
    """

    def __init__(self, cfg: str | Sequence[int | str] = "small", num_classes: int = 10,
                 in_channels: int = 3, image_size: int = 32, batch_norm: bool = False,
                 hidden: int = 256, dropout: float = 0.5) -> None:
        super().__init__()
        if isinstance(cfg, str):
            if cfg not in CONFIGS:
                raise ValueError(f"VGG: unknown configuration {cfg!r}; use one of "
                                 f"{list(CONFIGS)} or a list")
            cfg = CONFIGS[cfg]
        layers: list[tuple[str, Module]] = []
        c, size, i, j = in_channels, image_size, 0, 0
        for v in cfg:
            if v == "M":
                j += 1
                layers.append((f"pool{j}", MaxPool2d(2)))
                size //= 2
                if size < 1:
                    raise ValueError(f"VGG: {image_size}x{image_size} input is too small for "
                                     f"{j} poolings")
                continue
            i += 1
            layers.append((f"conv{i}", Conv2d(c, int(v), 3, padding=1, bias=not batch_norm)))
            if batch_norm:
                layers.append((f"bn{i}", BatchNorm2d(int(v))))
            layers.append((f"relu{i}", ReLU()))
            c = int(v)
        self.image_size = image_size
        self.features = Sequential(OrderedDict(layers))
        self.flatten = Flatten()
        self.classifier = Sequential(OrderedDict([
            ("fc1", Linear(c * size * size, hidden)), ("relu1", ReLU()),
            ("drop1", Dropout(dropout)),
            ("fc2", Linear(hidden, hidden)), ("relu2", ReLU()), ("drop2", Dropout(dropout)),
            ("fc3", Linear(hidden, num_classes)),
        ]))

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or x.shape[2:] != (self.image_size, self.image_size):
            raise ValueError(f"VGG: built for (N, C, {self.image_size}, {self.image_size}) "
                             f"input, got {x.shape}")
        return self.classifier(self.flatten(self.features(x)))
