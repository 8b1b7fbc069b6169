"""VGG-style networks (Simonyan & Zisserman 2014): stacks of 3x3 convolutions and 2x2
max-pooling."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

from minigrad.nn.models._util import conv_relu, fc_stack
from minigrad.nn.modules import (
    Flatten,
    MaxPool2d,
    Module,
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

    Example (``summary()`` tabulates every layer; :class:`LeNet5` shows the table)::

        >>> import minigrad as mg
        >>> from minigrad.nn.models import VGG
        >>> m = VGG("small", num_classes=10, batch_norm=True)
        >>> [type(layer).__name__ for layer in m.features][:4], m.num_parameters()
        (['Conv2d', 'BatchNorm2d', 'ReLU', 'MaxPool2d'], 834090)
        >>> m(mg.zeros(2, 3, 32, 32)).shape
        (2, 10)
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
            layers += conv_relu(c, int(v), 3, batch_norm, suffix=str(i))
            c = int(v)
        self.image_size = image_size
        self.features = Sequential(OrderedDict(layers))
        self.flatten = Flatten()
        self.classifier = fc_stack([c * size * size, hidden, hidden, num_classes],
                                   dropout=dropout)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or x.shape[2:] != (self.image_size, self.image_size):
            raise ValueError(f"VGG: built for (N, C, {self.image_size}, {self.image_size}) "
                             f"input, got {x.shape}")
        return self.classifier(self.flatten(self.features(x)))
