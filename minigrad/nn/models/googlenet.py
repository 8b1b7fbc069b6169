"""Inception block and a tiny GoogLeNet-style network (Szegedy et al. 2014)."""

from __future__ import annotations

from collections import OrderedDict

from minigrad.nn.models._util import conv_relu
from minigrad.nn.modules import (
    Dropout,
    GlobalAvgPool2d,
    Linear,
    MaxPool2d,
    Module,
    Sequential,
)
from minigrad.ops.shape import cat
from minigrad.tensor import Tensor

__all__ = ["InceptionBlock", "TinyGoogLeNet"]


def _seq(*layers: list[tuple[str, Module]]) -> Sequential:
    return Sequential(OrderedDict(pair for group in layers for pair in group))


class InceptionBlock(Module):
    """The Inception module (GoogLeNet's figure 2b): four parallel branches concatenated on
    channels.

    branch1: 1x1 conv (``ch1x1``)
    branch2: 1x1 reduction (``ch3x3red``) -> 3x3 conv (``ch3x3``)
    branch3: 1x1 reduction (``ch5x5red``) -> 5x5 conv (``ch5x5``)
    branch4: 3x3 max-pool (stride 1) -> 1x1 projection (``pool_proj``)

    Every convolution is followed by ReLU (and batch norm before it when ``batch_norm``, as in
    Inception v2). x: (N, in_channels, H, W) -> (N, out_channels, H, W) with
    ``out_channels = ch1x1 + ch3x3 + ch5x5 + pool_proj``. The argument order is torchvision's
    ``Inception`` (whose third branch uses a 3x3 convolution; this one keeps the paper's 5x5).

    Example (``summary()`` tabulates every layer; :class:`LeNet5` shows the table)::

        >>> import minigrad as mg
        >>> from minigrad.nn.models import InceptionBlock
        >>> block = InceptionBlock(32, 16, 16, 24, 4, 8, 8)
        >>> block(mg.zeros(1, 32, 8, 8)).shape, block.out_channels, block.num_parameters()
        ((1, 56, 8, 8), 56, 5740)
    """

    def __init__(self, in_channels: int, ch1x1: int, ch3x3red: int, ch3x3: int, ch5x5red: int,
                 ch5x5: int, pool_proj: int, batch_norm: bool = False) -> None:
        super().__init__()
        self.out_channels = ch1x1 + ch3x3 + ch5x5 + pool_proj
        self.branch1 = _seq(conv_relu(in_channels, ch1x1, 1, batch_norm))
        self.branch2 = _seq(conv_relu(in_channels, ch3x3red, 1, batch_norm, "reduce_"),
                            conv_relu(ch3x3red, ch3x3, 3, batch_norm))
        self.branch3 = _seq(conv_relu(in_channels, ch5x5red, 1, batch_norm, "reduce_"),
                            conv_relu(ch5x5red, ch5x5, 5, batch_norm))
        self.branch4 = _seq([("pool", MaxPool2d(3, stride=1, padding=1))],
                            conv_relu(in_channels, pool_proj, 1, batch_norm, "proj_"))

    def forward(self, x: Tensor) -> Tensor:
        return cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], axis=1)


class TinyGoogLeNet(Module):
    """A small GoogLeNet for 32x32 images: a 3x3 stem, five Inception blocks with two 3x3/2
    max-pools between them, global average pooling (no FC stack), dropout and one Linear.

    x: (N, in_channels, H, W) -> logits (N, num_classes); any H, W >= 8 works (global pooling).
    ``batch_norm=True`` (default) puts batch norm after every convolution (Inception v2 style);
    the 2014 network trained without it, with auxiliary classifiers this tiny net leaves out.

    Example::

        >>> import minigrad as mg
        >>> from minigrad.nn.models import TinyGoogLeNet
        >>> m = TinyGoogLeNet(num_classes=10)
        >>> m(mg.zeros(1, 3, 32, 32)).shape, m.inception5a.out_channels, m.num_parameters()
        ((1, 10), 160, 136442)
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 3, batch_norm: bool = True,
                 dropout: float = 0.2) -> None:
        super().__init__()
        self.stem = _seq(conv_relu(in_channels, 32, 3, batch_norm))
        self.inception3a = InceptionBlock(32, 16, 16, 24, 4, 8, 8, batch_norm)
        self.inception3b = InceptionBlock(56, 24, 24, 32, 6, 12, 12, batch_norm)
        self.pool3 = MaxPool2d(3, stride=2, padding=1)
        self.inception4a = InceptionBlock(80, 32, 32, 48, 8, 16, 16, batch_norm)
        self.inception4b = InceptionBlock(112, 40, 40, 56, 10, 20, 20, batch_norm)
        self.pool4 = MaxPool2d(3, stride=2, padding=1)
        self.inception5a = InceptionBlock(136, 48, 48, 64, 12, 24, 24, batch_norm)
        self.avgpool = GlobalAvgPool2d()
        self.dropout = Dropout(dropout)
        self.fc = Linear(self.inception5a.out_channels, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.stem(x)
        x = self.pool3(self.inception3b(self.inception3a(x)))
        x = self.pool4(self.inception4b(self.inception4a(x)))
        x = self.avgpool(self.inception5a(x))
        return self.fc(self.dropout(x))
