"""06. Pooling: max and average pooling forward, max-pool backward, and global average pooling.

    python examples/06_pooling.py [--fast] [--out-dir DIR] [--data-dir MNIST_DIR]

Pooling summarises each k x k window by its max or its mean. It has no weights. In backward,
average pooling spreads each output's gradient evenly over its window; max pooling routes it
entirely to the input that was the max (a mask of max positions), and the other inputs get 0.
Global average pooling (one mean per channel) can replace a flatten + fully connected head.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from _common import claim, digit_images, max_abs_diff, parse_args, pyplot, save, say, show, title

import minigrad as mg
import minigrad.nn.functional as F
from minigrad import nn


def windows(x: np.ndarray, k: int) -> np.ndarray:
    """Non-overlapping k x k windows of a (H, W) array: (H/k, W/k, k*k)."""
    h, w = x.shape
    return x.reshape(h // k, k, w // k, k).transpose(0, 2, 1, 3).reshape(h // k, w // k, k * k)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(__doc__.splitlines()[0], argv, data=True)
    rng = np.random.default_rng(args.seed)

    title("1. Forward")
    x_np = np.array([[1.0, 3, 2, 1], [4, 6, 5, 0], [3, 1, 1, 2], [0, 2, 8, 7]])
    show("a 4x4 input:", x_np.astype(int))
    x = mg.tensor(x_np[None, None], requires_grad=True)
    mx = F.max_pool2d(x, 2)
    av = F.avg_pool2d(x, 2)
    show("max pooling 2x2, stride 2:", mx.numpy()[0, 0])
    show("average pooling 2x2, stride 2:", av.numpy()[0, 0])
    claim(np.array_equal(mx.numpy()[0, 0], windows(x_np, 2).max(-1)), "max of each window")
    claim(np.allclose(av.numpy()[0, 0], windows(x_np, 2).mean(-1)), "mean of each window")
    claim(nn.MaxPool2d(2).num_parameters() == 0 and nn.AvgPool2d(2).num_parameters() == 0,
          "pooling layers have no parameters")

    title("2. Backward: route dY through the mask of max positions")
    dY = np.array([[10.0, 20.0], [30.0, 40.0]])
    mx.backward(mg.tensor(dY[None, None]))
    mask = (x_np == np.kron(mx.numpy()[0, 0], np.ones((2, 2))))
    show("mask of max positions:", mask.astype(int))
    show("dX for dY = [[10, 20], [30, 40]]:", x.grad.numpy()[0, 0].astype(int))
    claim(np.array_equal(x.grad.numpy()[0, 0], mask * np.kron(dY, np.ones((2, 2)))),
          "max pooling: dX = dY at the max of each window, 0 elsewhere")
    x.grad = None
    av.backward(mg.tensor(dY[None, None]))
    claim(np.allclose(x.grad.numpy()[0, 0], np.kron(dY, np.ones((2, 2))) / 4),
          "average pooling: dX = dY / 4 on every input of the window")

    say("""With overlapping windows (3x3, stride 2) one input can be the max of two windows; it
        then collects both gradients. Every output still sends its gradient to exactly one
        input, so the total is preserved.""")
    z = mg.tensor(rng.standard_normal((1, 1, 7, 7)), requires_grad=True)
    out = F.max_pool2d(z, 3, stride=2)
    g = rng.standard_normal(out.shape)
    out.backward(mg.tensor(g))
    claim(out.shape == (1, 1, 3, 3), "7x7 -> 3x3 with 3x3 windows at stride 2")
    claim(abs(z.grad.numpy().sum() - g.sum()) < 1e-10, "sum of dX = sum of dY")
    claim(int((z.grad.numpy() != 0).sum()) <= 9, "at most 9 inputs (one per window) get gradient")

    X, y, source = digit_images(args.data_dir)
    digit = mg.tensor(X[:1].astype(np.float64), requires_grad=True)
    pooled = F.max_pool2d(digit, 2)
    pooled.backward(mg.ones_like(pooled))
    routed = digit.grad.numpy()[0, 0]
    claim(routed.sum() == pooled.numel(), f"on a digit from {source}: one unit of gradient per "
          f"window ({pooled.numel()} windows)")

    title("3. Global average pooling instead of a fully connected head")
    say("""A classifier head after a 16-channel 5x5 feature volume: flatten + Linear(400, 10)
        needs 4,010 parameters and only accepts 5x5 maps. Global average pooling first takes
        one mean per channel (16 numbers), so Linear(16, 10) needs 170 parameters and the head
        accepts maps of any size.""")
    fc_head = nn.Sequential(nn.Flatten(), nn.Linear(16 * 5 * 5, 10))
    gap_head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10))
    print(f"  flatten + FC head: {fc_head.num_parameters():,} parameters")
    print(f"  GAP + FC head:     {gap_head.num_parameters():,} parameters")
    claim(fc_head.num_parameters() == 4_010 and gap_head.num_parameters() == 170,
          "4,010 -> 170 parameters (96 % fewer)")
    feats = mg.tensor(rng.standard_normal((2, 16, 5, 5)))
    gap = F.adaptive_avg_pool2d(feats, 1)
    claim(max_abs_diff(gap.numpy()[:, :, 0, 0], feats.numpy().mean(axis=(2, 3))) < 1e-10,
          "global average pooling = the mean of each channel")
    bigger = mg.tensor(rng.standard_normal((2, 16, 9, 9)).astype(np.float32))
    claim(gap_head(bigger).shape == (2, 10), "the GAP head also takes 9x9 maps")
    try:
        fc_head(bigger)
        fc_rejects = False
    except ValueError:
        fc_rejects = True
    claim(fc_rejects, "the flatten + FC head rejects them (it has weights for 400 inputs only)")

    plt = pyplot()
    if plt is not None:
        fig, axes = plt.subplots(1, 3, figsize=(7.5, 2.8))
        panels = [(X[0, 0], f"digit {y[0]}"), (pooled.numpy()[0, 0], "max pool 2x2"),
                  (routed, "dX for dY = 1: the max mask")]
        for ax, (img, label) in zip(axes, panels):
            ax.imshow(img, cmap="gray")
            ax.set_title(label, fontsize=9)
            ax.axis("off")
        save(fig, args.out_dir, "06_maxpool_mask.png")


if __name__ == "__main__":
    main()
