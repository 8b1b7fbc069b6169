"""The model zoo: the summaries in the docstrings are true, parameter counts match counts worked
out by hand, every model trains (loss goes down, every parameter gets a gradient) and
checkpoints round-trip."""

from __future__ import annotations

import doctest
import importlib

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad import optim
from minigrad.nn.models import (
    VGG,
    AlexNet,
    BasicBlock,
    InceptionBlock,
    LeNet5,
    ResNet,
    TinyGoogLeNet,
    resnet20,
)


@pytest.mark.parametrize("name", ["lenet", "alexnet", "vgg", "googlenet", "resnet"])
def test_docstring_summaries_are_real_output(name):
    mod = importlib.import_module(f"minigrad.nn.models.{name}")
    result = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def conv(c_in, c_out, k, groups=1, bias=True):
    return c_out * (c_in // groups) * k * k + (c_out if bias else 0)


def lin(i, o):
    return i * o + o


def test_lenet5_parameter_count_and_layout():
    m = LeNet5()
    want = conv(1, 6, 5) + conv(6, 16, 5) + lin(400, 120) + lin(120, 84) + lin(84, 10)
    assert m.num_parameters() == want == 61706
    assert LeNet5(num_classes=5, in_channels=3).num_parameters() == \
        conv(3, 6, 5) + conv(6, 16, 5) + lin(400, 120) + lin(120, 84) + lin(84, 5)
    classic = LeNet5(activation="tanh", pool="avg")
    kinds = [type(x).__name__ for x in classic.features]
    assert kinds == ["Conv2d", "Tanh", "AvgPool2d", "Conv2d", "Tanh", "AvgPool2d"]
    with pytest.raises(ValueError, match="32, 32"):
        m(mg.zeros(1, 1, 28, 28))
    with pytest.raises(ValueError, match="activation"):
        LeNet5(activation="swish")


def test_alexnet_groups_and_parameter_count():
    m = AlexNet(num_classes=100, width=0.25, image_size=224)
    f = m.features
    assert (f.conv1.groups, f.conv2.groups, f.conv3.groups, f.conv4.groups, f.conv5.groups) == \
        (1, 2, 1, 2, 2)
    assert f.conv1.kernel_size == (11, 11) and f.conv1.stride == (4, 4)
    c1, c2, c3, h = 24, 64, 96, 1024
    want = (conv(3, c1, 11) + conv(c1, c2, 5, 2) + conv(c2, c3, 3) + conv(c3, c3, 3, 2)
            + conv(c3, c2, 3, 2) + lin(c2 * 6 * 6, h) + lin(h, h) + lin(h, 100))
    assert m.num_parameters() == want
    assert m(mg.zeros(1, 3, 224, 224)).shape == (1, 100)
    small = AlexNet(num_classes=10, width=0.25, image_size=32)
    assert small.features.conv1.kernel_size == (3, 3)
    assert small(mg.zeros(2, 3, 32, 32)).shape == (2, 10)


def test_vgg_configs():
    m = VGG("small", num_classes=10)
    want = (conv(3, 32, 3) + conv(32, 64, 3) + conv(64, 128, 3) + conv(128, 128, 3)
            + lin(128 * 4 * 4, 256) + lin(256, 256) + lin(256, 10))
    assert m.num_parameters() == want
    bn = VGG([8, "M", 16, "M"], num_classes=3, image_size=16, batch_norm=True, hidden=32)
    assert bn.num_parameters() == (conv(3, 8, 3, bias=False) + 16 + conv(8, 16, 3, bias=False)
                                   + 32 + lin(16 * 4 * 4, 32) + lin(32, 32) + lin(32, 3))
    assert bn(mg.zeros(2, 3, 16, 16)).shape == (2, 3)
    with pytest.raises(ValueError, match="unknown configuration"):
        VGG("vgg99")


def test_inception_block_concatenates_its_branches():
    mg.manual_seed(0)
    blk = InceptionBlock(8, 4, 3, 5, 2, 3, 6)
    assert blk.out_channels == 18
    x = mg.randn(2, 8, 6, 6)
    y = blk(x)
    assert y.shape == (2, 18, 6, 6)
    parts = [blk.branch1(x), blk.branch2(x), blk.branch3(x), blk.branch4(x)]
    np.testing.assert_array_equal(y.data, np.concatenate([p.data for p in parts], axis=1))
    assert blk.branch3.conv.kernel_size == (5, 5)
    want = conv(8, 4, 1) + conv(8, 3, 1) + conv(3, 5, 3) + conv(8, 2, 1) + conv(2, 3, 5) \
        + conv(8, 6, 1)
    assert blk.num_parameters() == want


def test_resnet20_parameter_count():
    def block(c_in, c, down):
        n = conv(c_in, c, 3, bias=False) + 2 * c + conv(c, c, 3, bias=False) + 2 * c
        return n + (conv(c_in, c, 1, bias=False) + 2 * c if down else 0)

    want = conv(3, 16, 3, bias=False) + 32
    for c_in, c in [(16, 16), (16, 32), (32, 64)]:
        want += block(c_in, c, c_in != c) + 2 * block(c, c, False)
    want += lin(64, 10)
    assert resnet20().num_parameters() == want == 272474


def test_basic_block_shortcut_and_zero_init():
    assert BasicBlock(8, 8).downsample is None
    down = BasicBlock(8, 16, stride=2)
    assert down.downsample is not None
    assert down(mg.randn(2, 8, 6, 6)).shape == (2, 16, 3, 3)
    net = ResNet((1, 1), (4, 8), num_classes=3, zero_init_residual=True)
    blk = net.layer1[0]
    x = mg.randn(2, 4, 5, 5)
    np.testing.assert_allclose(blk(x).data, np.maximum(x.data, 0), atol=1e-6)


@pytest.mark.parametrize(("make", "shape"), [
    (lambda: LeNet5(), (4, 1, 32, 32)),
    (lambda: AlexNet(num_classes=10, width=0.125, image_size=32, dropout=0.0), (4, 3, 32, 32)),
    (lambda: VGG([8, "M", 16, "M"], num_classes=10, image_size=8, batch_norm=True, hidden=32,
                 dropout=0.0), (4, 3, 8, 8)),
    (lambda: TinyGoogLeNet(num_classes=10, dropout=0.0), (4, 3, 8, 8)),
    (lambda: ResNet((1, 1), (8, 16), num_classes=10), (4, 3, 8, 8)),
], ids=["LeNet5", "AlexNet", "VGG", "TinyGoogLeNet", "ResNet"])
def test_models_train(make, shape):
    mg.manual_seed(0)
    model = make()
    x = mg.randn(*shape)
    y = mg.tensor(np.array([0, 1, 2, 3]))
    opt = optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(5):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        if not losses:
            missing = [n for n, p in model.named_parameters() if p.grad is None]
            assert not missing, f"no gradient reached {missing}"
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.9 * losses[0], losses


def test_resnet_checkpoint_round_trip(tmp_path):
    mg.manual_seed(1)
    a = ResNet((1, 1), (4, 8), num_classes=3)
    opt = optim.SGD(a.parameters(), lr=0.1, momentum=0.9)
    x = mg.randn(4, 3, 8, 8)
    for _ in range(2):  # move weights and batch-norm statistics
        opt.zero_grad()
        F.cross_entropy(a(x), mg.tensor(np.array([0, 1, 2, 0]))).backward()
        opt.step()
    a.save(tmp_path / "resnet.npz")
    mg.manual_seed(2)
    b = ResNet((1, 1), (4, 8), num_classes=3)
    b.load(tmp_path / "resnet.npz")
    assert any("running_var" in k for k in b.state_dict())
    a.eval()
    b.eval()
    np.testing.assert_array_equal(a(x).data, b(x).data)
    with pytest.raises(RuntimeError):
        ResNet((1, 1), (4, 16), num_classes=3).load(tmp_path / "resnet.npz")


def test_models_in_float64():
    model = TinyGoogLeNet(num_classes=4).double()
    assert model(mg.randn(2, 3, 8, 8, dtype=np.float64)).dtype == np.float64
    assert isinstance(nn.models.LeNet5(), nn.Module)
