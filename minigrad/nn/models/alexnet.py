"""AlexNet (Krizhevsky, Sutskever & Hinton 2012), with a width multiplier, a small-image stem,
and the paper's two-device model parallelism over MPI (``model_parallel=True``)."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from minigrad import random as mg_random
from minigrad.autograd import no_grad
from minigrad.nn import functional as F
from minigrad.nn.models._util import conv_out, even, fc_stack
from minigrad.nn.modules import (
    Conv2d,
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

    Args:
        width: multiplies every layer's size; 1.0 is the paper's 96-256-384-384-256 channels
            and 4096-unit FC layers (channel counts are rounded to even numbers for the split).
        image_size: 224 (or anything >= 64) uses the paper's 11x11 stride-4 first layer (with
            torchvision's padding 2); smaller images, e.g. 32x32 CIFAR, get a 3x3 stride-1
            first layer instead, so the three poolings leave a 3x3 map.
        model_parallel: run as one of two towers under ``mpiexec -n 2`` (see below).

    Model parallel (``model_parallel=True``, exactly two MPI ranks): rank r holds tower r, the
    paper's GPU r: half of conv1's filters, group r of conv2, conv4 and conv5, half of conv3's
    filters (over all of conv2's maps), half of fc1's and fc2's units (over all their inputs),
    and the whole fc3. Both ranks take the same images. The towers exchange activations where
    the paper's GPUs did, through :func:`minigrad.distributed.all_gather` in the graph (so
    backward sends the activations' gradients back): before conv3, before fc1, before fc2, and
    before fc3 (which each rank computes in full, so both get the logits). The tower is cut from
    the ``groups=2`` model built from the same seed, so with equal seeds on both ranks its loss,
    its gradients (the matching slices) and its dropout masks equal the one-process model's.
    ``examples/alexnet_model_parallel.py`` walks through the split.

    Example (``summary()`` tabulates every layer; :class:`LeNet5` shows the table)::

        >>> import minigrad as mg
        >>> from minigrad.nn.models import AlexNet
        >>> m = AlexNet(num_classes=10, width=0.25, image_size=32)
        >>> m.features(mg.zeros(1, 3, 32, 32)).shape, m(mg.zeros(1, 3, 32, 32)).shape
        ((1, 64, 3, 3), (1, 10))
        >>> m.num_parameters()
        1795306
    """

    def __init__(self, num_classes: int = 1000, in_channels: int = 3, width: float = 1.0,
                 image_size: int = 224, dropout: float = 0.5,
                 model_parallel: bool = False) -> None:
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
        self.classifier = fc_stack([c2 * size * size, hidden, hidden, num_classes], first_act=6,
                                   dropout=dropout, dropout_first=True)
        self.model_parallel = bool(model_parallel)
        if self.model_parallel:
            self._keep_tower()

    def _keep_tower(self) -> None:
        """Replace every split layer by this rank's half (sliced from the full layer)."""
        from minigrad.distributed import _comm

        if _comm.world_size() != 2:
            raise ValueError(f"AlexNet(model_parallel=True) splits the model over exactly 2 MPI "
                             f"ranks (mpiexec -n 2); this job has {_comm.world_size()}")
        fc1, fc2 = self.classifier.fc1, self.classifier.fc2
        if fc1.out_features % 2:
            raise ValueError(f"AlexNet(model_parallel=True): the FC width {fc1.out_features} "
                             "must be even to split it over two ranks")
        r = _comm.rank()
        # building the halves must not draw from the global generator: the tower's dropout
        # masks then follow the same random stream as the one-process model's
        gen = mg_random.generator()
        state = gen.bit_generator.state
        f, c = self.features._modules, self.classifier._modules  # in place: keeps the order
        for name, split_in in (("conv1", False), ("conv2", True), ("conv3", False),
                               ("conv4", True), ("conv5", True)):
            f[name] = _half_conv(f[name], r, split_in)
        c["fc1"], c["fc2"] = _half_linear(fc1, r), _half_linear(fc2, r)
        gen.bit_generator.state = state

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or x.shape[2:] != (self.image_size, self.image_size):
            raise ValueError(f"AlexNet: built for (N, C, {self.image_size}, {self.image_size}) "
                             f"input, got {x.shape}")
        if self.model_parallel:
            return self._tower_forward(x)
        return self.classifier(self.flatten(self.features(x)))

    def _tower_forward(self, x: Tensor) -> Tensor:
        """One tower's forward; ``exchange`` is where the towers swap halves (all-gather)."""
        from minigrad.distributed import functional
        from minigrad.ops.shape import cat

        def exchange(h: Tensor, axis: int, replicated_after: bool = False) -> Tensor:
            return cat(functional.all_gather(h, sum_grads=not replicated_after), axis=axis)

        f, c = self.features, self.classifier
        h = f.pool1(F.relu(f.conv1(x)))
        h = f.pool2(F.relu(f.conv2(h)))
        h = exchange(h, 1)                           # conv3 sees both towers' maps
        h = F.relu(f.conv5(F.relu(f.conv4(F.relu(f.conv3(h))))))
        h = exchange(f.pool3(h), 1)                  # fc1 sees both towers' features
        h = F.relu(c.fc1(c.drop1(self.flatten(h))))
        h = F.relu(c.fc2(c.drop2(exchange(h, 1))))   # fc2 sees both halves of fc1
        return c.fc3(exchange(h, 1, replicated_after=True))  # fc3: the same on both ranks


def _half_conv(conv: Conv2d, r: int, split_in: bool) -> Conv2d:
    """Rank r's half of ``conv``'s filters; ``split_in``: it reads only its own half of the
    input maps (a ``groups=2`` layer becomes one group)."""
    out_half = conv.out_channels // 2
    cin = conv.in_channels // 2 if split_in else conv.in_channels
    half = Conv2d(cin, out_half, conv.kernel_size, stride=conv.stride, padding=conv.padding,
                  bias=conv.bias is not None, dtype=conv.weight.dtype)
    _copy_rows(conv, half, slice(r * out_half, (r + 1) * out_half))
    return half


def _half_linear(fc: Linear, r: int) -> Linear:
    """Rank r's half of ``fc``'s units, each over all the inputs."""
    half_out = fc.out_features // 2
    half = Linear(fc.in_features, half_out, bias=fc.bias is not None, dtype=fc.weight.dtype)
    _copy_rows(fc, half, slice(r * half_out, (r + 1) * half_out))
    return half


def _copy_rows(full: Conv2d | Linear, half: Conv2d | Linear, rows: slice) -> None:
    """Set ``half``'s weight and bias to ``rows`` (output units) of ``full``'s."""
    with no_grad():
        half.weight.data = np.ascontiguousarray(full.weight.data[rows])
        if full.bias is not None:
            half.bias.data = np.ascontiguousarray(full.bias.data[rows])
