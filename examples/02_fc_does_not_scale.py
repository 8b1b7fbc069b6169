"""02. Why fully connected layers do not scale to images: count the weights of real models.

    python examples/02_fc_does_not_scale.py [--fast] [--out-dir DIR]

A fully connected (FC) layer joins every input pixel to every unit, so its weight count is
(pixels x units) and grows with the image. A convolution's weight count depends only on the
kernel and channel sizes. We build the layers with minigrad.nn and count their parameters.
"""

from __future__ import annotations

from collections.abc import Sequence

from _common import claim, parse_args, pyplot, save, say, title

from minigrad import nn


def n_weights(model: nn.Module) -> int:
    """Entries of the weight matrices/kernels (parameters with more than one axis)."""
    return sum(p.numel() for p in model.parameters() if p.ndim > 1)


def n_params(model: nn.Module) -> int:
    """All trainable numbers: weights and biases."""
    return sum(p.numel() for p in model.parameters())


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(__doc__.splitlines()[0], argv)

    title("Fully connected layers, counted")
    say("""Each case below is a real minigrad model; we count its weights (the entries of its
        weight matrices) and, in brackets, all parameters including the biases. The counts
        quoted in the usual story are weights only.""")
    cases = [
        ("3x3 image -> 16 hidden units", nn.Linear(3 * 3, 16), 144),
        ("3x3 image -> 90 -> 50 hidden units",
         nn.Sequential(nn.Linear(3 * 3, 90), nn.Sigmoid(), nn.Linear(90, 50)), 5_310),
        ("32x32 grey image -> 500 hidden units", nn.Linear(32 * 32, 500), 512_000),
        ("224x224 grey image -> one unit", nn.Linear(224 * 224, 1), 50_176),
    ]
    for text, model, expected in cases:
        w, p = n_weights(model), n_params(model)
        print(f"  {text:<38} {w:>9,} weights  ({p:,} parameters)")
        claim(w == expected, f"{text}: {expected:,} weights")
    say("""The 5,310 of the two-layer case is 9*90 + 90*50 = 810 + 4,500: the input is the
        3x3 image again (9 values), not a larger one. With the 140 biases it is 5,450
        parameters. A colour image triples every first-layer count: 224x224x3 into a single
        unit already needs 150,528 weights, and a first layer of 1,000 such units 150 million.""")
    claim(9 * 90 + 90 * 50 == 5_310, "5,310 = 9*90 + 90*50")
    claim(n_weights(nn.Linear(224 * 224 * 3, 1)) == 150_528, "224x224x3 -> one unit: 150,528")

    title("A convolution does not grow with the image")
    say("""A convolutional layer with 16 filters of 3x3 over a grey image has 16*3*3 = 144
        weights whatever the image size: the same small filter slides over every position.
        Its output grows with the image; its parameters do not.""")
    sides = [3, 8, 32, 64] if args.fast else [3, 8, 32, 64, 128, 224]
    conv = nn.Conv2d(1, 16, kernel_size=3)
    fc_counts = []
    for side in sides:
        fc = n_weights(nn.Linear(side * side, 16))
        fc_counts.append(fc)
        print(f"  {side:>3}x{side:<3} image -> 16 units: FC {fc:>9,} weights,"
              f" conv 3x3 x16 {n_weights(conv):>4} weights")
    claim(n_weights(conv) == 144, "a 3x3 conv with 16 filters has 144 weights at every size")
    claim(all(f == s * s * 16 for f, s in zip(fc_counts, sides)),
          "the FC count is pixels x units and grows with the square of the side")

    plt = pyplot()
    if plt is not None:
        fig, ax = plt.subplots(figsize=(6, 3.6))
        ax.semilogy(sides, fc_counts, "o-", label="fully connected, 16 units")
        ax.semilogy(sides, [n_weights(conv)] * len(sides), "s-", label="conv 3x3, 16 filters")
        ax.set_xlabel("image side (pixels)")
        ax.set_ylabel("weights")
        ax.set_title("Weights needed to map a grey image to 16 features")
        ax.legend()
        save(fig, args.out_dir, "02_fc_vs_conv_weights.png")


if __name__ == "__main__":
    main()
