"""Model zoo: classic CNNs built from :mod:`minigrad.nn` layers.

Each model's docstring shows its ``summary()``: output shape and parameter count per layer.
"""

from minigrad.nn.models.alexnet import AlexNet
from minigrad.nn.models.googlenet import InceptionBlock, TinyGoogLeNet
from minigrad.nn.models.lenet import LeNet5
from minigrad.nn.models.resnet import BasicBlock, ResNet, resnet20
from minigrad.nn.models.vgg import VGG

__all__ = ["LeNet5", "AlexNet", "VGG", "InceptionBlock", "TinyGoogLeNet", "BasicBlock",
           "ResNet", "resnet20"]
