"""Inception block and a tiny GoogLeNet-style network (Szegedy et al. 2014)."""

from __future__ import annotations

from collections import OrderedDict

from minigrad.nn.modules import (
    BatchNorm2d,
    Conv2d,
    Dropout,
    GlobalAvgPool2d,
    Linear,
    MaxPool2d,
    Module,
    ReLU,
    Sequential,
)
from minigrad.ops.shape import cat
from minigrad.tensor import Tensor

__all__ = ["InceptionBlock", "TinyGoogLeNet"]


def _conv(c_in: int, c_out: int, k: int, batch_norm: bool,
          prefix: str = "") -> list[tuple[str, Module]]:
    """conv (padding keeps H, W) [-> batch norm] -> ReLU, as named layers."""
    layers: list[tuple[str, Module]] = [
        (f"{prefix}conv", Conv2d(c_in, c_out, k, padding=k // 2, bias=not batch_norm))]
    if batch_norm:
        layers.append((f"{prefix}bn", BatchNorm2d(c_out)))
    layers.append((f"{prefix}relu", ReLU()))
    return layers


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

    Example::

        >>> from minigrad.nn.models import InceptionBlock
        >>> _ = InceptionBlock(32, 16, 16, 24, 4, 8, 8).summary((1, 32, 8, 8))
        InceptionBlock summary
        ------------------------------------------------
        Layer (type)             Output Shape    Param #
        ================================================
        Input                    (1, 32, 8, 8)
        branch1 (Sequential)     (1, 16, 8, 8)       528
          conv (Conv2d)          (1, 16, 8, 8)       528
          relu (ReLU)            (1, 16, 8, 8)         0
        branch2 (Sequential)     (1, 24, 8, 8)     4,008
          reduce_conv (Conv2d)   (1, 16, 8, 8)       528
          reduce_relu (ReLU)     (1, 16, 8, 8)         0
          conv (Conv2d)          (1, 24, 8, 8)     3,480
          relu (ReLU)            (1, 24, 8, 8)         0
        branch3 (Sequential)     (1, 8, 8, 8)        940
          reduce_conv (Conv2d)   (1, 4, 8, 8)        132
          reduce_relu (ReLU)     (1, 4, 8, 8)          0
          conv (Conv2d)          (1, 8, 8, 8)        808
          relu (ReLU)            (1, 8, 8, 8)          0
        branch4 (Sequential)     (1, 8, 8, 8)        264
          pool (MaxPool2d)       (1, 32, 8, 8)         0
          proj_conv (Conv2d)     (1, 8, 8, 8)        264
          proj_relu (ReLU)       (1, 8, 8, 8)          0
        ------------------------------------------------
        Output: (1, 56, 8, 8)
        Total params: 5,740
        Trainable params: 5,740
        Non-trainable params: 0
    """

    def __init__(self, in_channels: int, ch1x1: int, ch3x3red: int, ch3x3: int, ch5x5red: int,
                 ch5x5: int, pool_proj: int, batch_norm: bool = False) -> None:
        super().__init__()
        self.out_channels = ch1x1 + ch3x3 + ch5x5 + pool_proj
        self.branch1 = _seq(_conv(in_channels, ch1x1, 1, batch_norm))
        self.branch2 = _seq(_conv(in_channels, ch3x3red, 1, batch_norm, "reduce_"),
                            _conv(ch3x3red, ch3x3, 3, batch_norm))
        self.branch3 = _seq(_conv(in_channels, ch5x5red, 1, batch_norm, "reduce_"),
                            _conv(ch5x5red, ch5x5, 5, batch_norm))
        self.branch4 = _seq([("pool", MaxPool2d(3, stride=1, padding=1))],
                            _conv(in_channels, pool_proj, 1, batch_norm, "proj_"))

    def forward(self, x: Tensor) -> Tensor:
        return cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], axis=1)


class TinyGoogLeNet(Module):
    """A small GoogLeNet for 32x32 images: a 3x3 stem, five Inception blocks with two 3x3/2
    max-pools between them, global average pooling (no FC stack), dropout and one Linear.

    x: (N, in_channels, H, W) -> logits (N, num_classes); any H, W >= 8 works (global pooling).
    ``batch_norm=True`` (default) puts batch norm after every convolution (Inception v2 style);
    the 2014 network trained without it, with auxiliary classifiers this tiny net leaves out.

    Example::

        >>> from minigrad.nn.models import TinyGoogLeNet
        >>> _ = TinyGoogLeNet(num_classes=10).summary((1, 3, 32, 32), max_depth=2)
        TinyGoogLeNet summary
        ---------------------------------------------------------
        Layer (type)                   Output Shape       Param #
        =========================================================
        Input                          (1, 3, 32, 32)
        stem (Sequential)              (1, 32, 32, 32)        928
          conv (Conv2d)                (1, 32, 32, 32)        864
          bn (BatchNorm2d)             (1, 32, 32, 32)         64
          relu (ReLU)                  (1, 32, 32, 32)          0
        inception3a (InceptionBlock)   (1, 56, 32, 32)      5,816
          branch1 (Sequential)         (1, 16, 32, 32)        544
          branch2 (Sequential)         (1, 24, 32, 32)      4,048
          branch3 (Sequential)         (1, 8, 32, 32)         952
          branch4 (Sequential)         (1, 8, 32, 32)         272
        inception3b (InceptionBlock)   (1, 80, 32, 32)     12,628
          branch1 (Sequential)         (1, 24, 32, 32)      1,392
          branch2 (Sequential)         (1, 32, 32, 32)      8,368
          branch3 (Sequential)         (1, 12, 32, 32)      2,172
          branch4 (Sequential)         (1, 12, 32, 32)        696
        pool3 (MaxPool2d)              (1, 80, 16, 16)          0
        inception4a (InceptionBlock)   (1, 112, 16, 16)    24,368
          branch1 (Sequential)         (1, 32, 16, 16)      2,624
          branch2 (Sequential)         (1, 48, 16, 16)     16,544
          branch3 (Sequential)         (1, 16, 16, 16)      3,888
          branch4 (Sequential)         (1, 16, 16, 16)      1,312
        inception4b (InceptionBlock)   (1, 136, 16, 16)    37,852
          branch1 (Sequential)         (1, 40, 16, 16)      4,560
          branch2 (Sequential)         (1, 56, 16, 16)     24,832
          branch3 (Sequential)         (1, 20, 16, 16)      6,180
          branch4 (Sequential)         (1, 20, 16, 16)      2,280
        pool4 (MaxPool2d)              (1, 136, 8, 8)           0
        inception5a (InceptionBlock)   (1, 160, 8, 8)      53,240
          branch1 (Sequential)         (1, 48, 8, 8)        6,624
          branch2 (Sequential)         (1, 64, 8, 8)       34,400
          branch3 (Sequential)         (1, 24, 8, 8)        8,904
          branch4 (Sequential)         (1, 24, 8, 8)        3,312
        avgpool (GlobalAvgPool2d)      (1, 160)                 0
        dropout (Dropout)              (1, 160)                 0
        fc (Linear)                    (1, 10)              1,610
        ---------------------------------------------------------
        Output: (1, 10)
        Total params: 136,442
        Trainable params: 136,442
        Non-trainable params: 0
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 3, batch_norm: bool = True,
                 dropout: float = 0.2) -> None:
        super().__init__()
        self.stem = _seq(_conv(in_channels, 32, 3, batch_norm))
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
