"""Model zoo: classic CNNs built from :mod:`minigrad.nn` layers, and sequence models
(positional embeddings, a Transformer and an LSTM language model).

Every model is a :class:`~minigrad.nn.Module`, so ``model.summary(input_shape)`` tabulates the
output shape and parameter count of every layer; :class:`LeNet5`'s docstring shows the table,
the others' examples show their output shapes and parameter counts.
"""

from minigrad.nn.models.alexnet import AlexNet
from minigrad.nn.models.googlenet import InceptionBlock, TinyGoogLeNet
from minigrad.nn.models.lenet import LeNet5
from minigrad.nn.models.resnet import BasicBlock, ResNet, resnet20
from minigrad.nn.models.vgg import VGG

# issue 15, sequence models (h15b)
from minigrad.nn.models.sequence import (  # isort: skip
    LearnedPositionalEmbedding,
    LSTMLM,
    PositionalEncoding,
    TransformerLM,
)

__all__ = ["LeNet5", "AlexNet", "VGG", "InceptionBlock", "TinyGoogLeNet", "BasicBlock",
           "ResNet", "resnet20",
           # issue 15, sequence models (h15b)
           "PositionalEncoding", "LearnedPositionalEmbedding", "TransformerLM", "LSTMLM"]
