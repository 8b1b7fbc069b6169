"""07. A fully connected layer is a convolution, and a fully convolutional net makes heat maps.

    python examples/07_fc_is_conv.py [--fast] [--out-dir DIR]

* FC on a 7x7xC volume with U units = a 7x7 convolution with U filters (output 1x1xU).
* FC over channels, applied at every pixel = a 1x1 convolution.
So a classifier's FC head can be rewritten as convolutions, with the same weights. The rewritten
network then runs on inputs larger than it was trained on and returns one prediction per
position: a heat map, each cell of which equals the classifier applied to one crop.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from _common import claim, max_abs_diff, parse_args, pyplot, save, say, title

import minigrad as mg
import minigrad.nn.functional as F
from minigrad import nn, optim
from minigrad.data import load_digits


class DigitNet(nn.Module):
    """8x8 digit classifier: conv 3x3 -> ReLU -> max pool 2 -> FC(8*3*3 -> 32) -> ReLU -> FC(10)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 8, 3)
        self.fc1 = nn.Linear(8 * 3 * 3, 32)
        self.fc2 = nn.Linear(32, 10)

    def features(self, x: mg.Tensor) -> mg.Tensor:
        return F.max_pool2d(F.relu(self.conv(x)), 2)         # (N, 8, 3, 3) for an 8x8 input

    def forward(self, x: mg.Tensor) -> mg.Tensor:
        h = F.relu(self.fc1(self.features(x).flatten(1)))
        return self.fc2(h)

    def fully_convolutional(self, x: mg.Tensor) -> mg.Tensor:
        """The same network with its FC layers rewritten as convolutions (same weights)."""
        w1 = self.fc1.weight.reshape(32, 8, 3, 3)            # FC on a 3x3x8 volume: 3x3 conv
        w2 = self.fc2.weight.reshape(10, 32, 1, 1)           # FC over channels: 1x1 conv
        h = F.relu(F.conv2d(self.features(x), w1, self.fc1.bias))
        return F.conv2d(h, w2, self.fc2.bias)                # (N, 10, H', W')


def train(model: DigitNet, X: np.ndarray, y: np.ndarray, steps: int, seed: int) -> list[float]:
    rng = np.random.default_rng(seed)
    opt = optim.Adam(model.parameters(), lr=0.01)
    losses = []
    for _ in range(steps):
        idx = rng.integers(0, len(X), 64)
        loss = F.cross_entropy(model(mg.tensor(X[idx])), mg.tensor(y[idx]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(__doc__.splitlines()[0], argv)
    rng = np.random.default_rng(args.seed)
    mg.manual_seed(args.seed)

    title("1. FC after a 7x7xC volume = 7x7 convolution with U filters")
    C, U = 4, 5
    vol = mg.tensor(rng.standard_normal((2, C, 7, 7)))
    fc = nn.Linear(7 * 7 * C, U).double()
    y_fc = fc(vol.flatten(1))
    y_conv = F.conv2d(vol, fc.weight.reshape(U, C, 7, 7), fc.bias)
    print(f"  FC: {tuple(fc.weight.shape)} weights -> {y_fc.shape};"
          f" conv: {(U, C, 7, 7)} filters -> {y_conv.shape}")
    claim(max_abs_diff(y_fc.numpy(), y_conv.numpy()[:, :, 0, 0]) < 1e-10,
          "outputs equal: each filter is one unit's weight row, reshaped to 7x7xC")

    title("2. FC over channels = 1x1 convolution")
    fc = nn.Linear(C, U).double()
    pixels_last = vol.permute(0, 2, 3, 1)                          # (N, 7, 7, C)
    y_fc = fc(pixels_last).permute(0, 3, 1, 2)                      # (N, U, 7, 7)
    y_conv = F.conv2d(vol, fc.weight.reshape(U, C, 1, 1), fc.bias)
    claim(max_abs_diff(y_fc.numpy(), y_conv.numpy()) < 1e-10,
          "outputs equal: a 1x1 conv is the same FC layer applied at every pixel")

    title("3. A fully convolutional network returns a heat map")
    X, y = load_digits()
    mg.manual_seed(args.seed)
    model = DigitNet()
    steps = 100 if args.fast else 500
    losses = train(model, X[:1500], y[:1500], steps, args.seed)
    with mg.no_grad():
        acc = float((model(mg.tensor(X[1500:])).numpy().argmax(1) == y[1500:]).mean())
    print(f"  trained the 8x8 classifier for {steps} Adam steps: loss {losses[0]:.2f} -> "
          f"{np.mean(losses[-10:]):.2f}; accuracy on {len(X) - 1500} held-out digits "
          f"{100 * acc:.1f} %")
    claim(np.mean(losses[-10:]) < losses[0], "training lowered the loss")
    if not args.fast:
        claim(acc > 0.85, "the classifier recognises held-out digits (> 85 %)")
    with mg.no_grad():
        claim(max_abs_diff(model(mg.tensor(X[:16])).numpy(),
                           model.fully_convolutional(mg.tensor(X[:16])).numpy()[:, :, 0, 0])
              < 1e-5, "on 8x8 inputs the convolutional rewrite gives the same logits")

        say("""Now paste four digits into the corners of a 16x16 canvas. Each cell of the
            output map is the classifier looking at one 8x8 crop; the conv layer and the pool
            move the crop by 2 pixels per cell, so a 16x16 input gives a 5x5 map of 10 scores.""")
        picks = [int(np.flatnonzero(y == d)[0]) for d in (0, 3, 5, 7)]
        canvas = np.zeros((1, 1, 16, 16), dtype=np.float32)
        for (r, c), i in zip([(0, 0), (0, 8), (8, 0), (8, 8)], picks):
            canvas[0, 0, r:r + 8, c:c + 8] = X[i, 0]
        heat = model.fully_convolutional(mg.tensor(canvas)).numpy()[0]   # (10, 5, 5)
        claim(heat.shape == (10, 5, 5), "a 16x16 input gives a 5x5 map per class")
        crops = np.stack([canvas[0, :, 2 * i:2 * i + 8, 2 * j:2 * j + 8]
                          for i in range(5) for j in range(5)])
        sliding = model(mg.tensor(crops)).numpy().reshape(5, 5, 10).transpose(2, 0, 1)
        claim(max_abs_diff(heat, sliding) < 1e-5,
              "every cell equals the classifier applied to the 8x8 crop at (2i, 2j)")
        e = np.exp(heat - heat.max(0))
        prob = e / e.sum(0)                                   # softmax over the 10 classes
        corners = prob[:, [0, 0, 4, 4], [0, 4, 0, 4]].argmax(0)
        print(f"  digits pasted: {[int(y[i]) for i in picks]}, "
              f"predicted at the corner cells: {corners.tolist()}")
    say("""The corner cells see exactly one digit each. Cells in between see halves of two
        digits, and the classifier, which never saw such crops, still has to name a class
        there: a detector built this way is trained with a background class too.""")

    plt = pyplot()
    if plt is not None:
        fig, axes = plt.subplots(1, 5, figsize=(11, 2.6))
        axes[0].imshow(canvas[0, 0], cmap="gray")
        axes[0].set_title("16x16 input", fontsize=9)
        for ax, i in zip(axes[1:], picks):
            d = int(y[i])
            ax.imshow(prob[d], cmap="magma", vmin=0, vmax=1)
            ax.set_title(f"P(class {d}) per position", fontsize=9)
        for ax in axes:
            ax.axis("off")
        save(fig, args.out_dir, "07_heat_maps.png")


if __name__ == "__main__":
    main()
