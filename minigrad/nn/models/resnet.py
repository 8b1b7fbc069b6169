"""Residual networks (He et al. 2015): ``BasicBlock`` and a small CIFAR-style ``ResNet``."""

from __future__ import annotations

import math
from collections.abc import Sequence

from minigrad.nn import init
from minigrad.nn.modules import (
    BatchNorm2d,
    Conv2d,
    GlobalAvgPool2d,
    Linear,
    Module,
    ReLU,
    Sequential,
)
from minigrad.tensor import Tensor

__all__ = ["BasicBlock", "ResNet", "resnet20"]


class BasicBlock(Module):
    """Two 3x3 convolutions with batch norm, added to a shortcut, then ReLU::

        out = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))

    x: (N, in_planes, H, W) -> (N, planes, H / stride, W / stride). The shortcut is the identity
    when the shape is kept, otherwise ``downsample``: a strided 1x1 convolution and batch norm
    (the paper's option B, as torchvision).
    """

    expansion = 1

    def __init__(self, in_planes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = BatchNorm2d(planes)
        self.relu = ReLU()
        self.conv2 = Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = BatchNorm2d(planes)
        if stride != 1 or in_planes != planes:
            self.downsample = Sequential(Conv2d(in_planes, planes, 1, stride=stride, bias=False),
                                         BatchNorm2d(planes))
        else:
            self.downsample = None

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(out + shortcut)


class ResNet(Module):
    """A ResNet for small images: a 3x3 stem, stages of :class:`BasicBlock` (the first block of
    every stage after the first halves H and W and changes the width), global average pooling
    and a single Linear (no FC stack).

    x: (N, in_channels, H, W) -> logits (N, num_classes); any H, W works (global pooling).
    layers: blocks per stage; widths: channels per stage. ``ResNet((3, 3, 3), (16, 32, 64))`` is
    the paper's CIFAR ResNet-20 (:func:`resnet20`). Convolutions start from
    ``kaiming_normal_(mode="fan_out", nonlinearity="relu")`` and batch norms from weight 1, bias 0
    (torchvision's initialisation); ``zero_init_residual=True`` starts each block's last batch
    norm at weight 0, so every block starts as the identity.

    Example (``summary()`` tabulates every layer; :class:`LeNet5` shows the table)::

        >>> import minigrad as mg
        >>> from minigrad.nn.models import ResNet
        >>> m = ResNet(layers=(1, 1, 1), num_classes=10)
        >>> m.layer3(m.layer2(mg.zeros(1, 16, 32, 32))).shape, m.num_parameters()
        ((1, 64, 8, 8), 78042)
    """

    def __init__(self, layers: Sequence[int] = (2, 2, 2), widths: Sequence[int] = (16, 32, 64),
                 num_classes: int = 10, in_channels: int = 3,
                 zero_init_residual: bool = False) -> None:
        super().__init__()
        if len(layers) != len(widths) or not layers:
            raise ValueError(f"ResNet: layers {tuple(layers)} and widths {tuple(widths)} need one "
                             "entry per stage")
        self.conv1 = Conv2d(in_channels, widths[0], 3, padding=1, bias=False)
        self.bn1 = BatchNorm2d(widths[0])
        self.relu = ReLU()
        planes = widths[0]
        for i, (n, w) in enumerate(zip(layers, widths)):
            blocks = []
            for j in range(n):
                stride = 2 if i > 0 and j == 0 else 1
                blocks.append(BasicBlock(planes, w, stride))
                planes = w
            setattr(self, f"layer{i + 1}", Sequential(*blocks))
        self.num_stages = len(layers)
        self.avgpool = GlobalAvgPool2d()
        self.fc = Linear(planes, num_classes)
        for m in self.modules():
            if isinstance(m, Conv2d):
                init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, BatchNorm2d):
                init.ones_(m.weight)
                init.zeros_(m.bias)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, BasicBlock):
                    init.zeros_(m.bn2.weight)
        # keep PyTorch's Linear default for the head
        init.kaiming_uniform_(self.fc.weight, a=math.sqrt(5))

    def forward(self, x: Tensor) -> Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        for i in range(self.num_stages):
            x = getattr(self, f"layer{i + 1}")(x)
        return self.fc(self.avgpool(x))


def resnet20(num_classes: int = 10, in_channels: int = 3) -> ResNet:
    """The CIFAR-10 ResNet-20 of He et al. (3 stages of 3 blocks, 16/32/64 channels, ~0.27M
    parameters)."""
    return ResNet((3, 3, 3), (16, 32, 64), num_classes, in_channels)
