"""04. Convolution arithmetic: output sizes, padding, strides, channels, and edge detectors.

    python examples/04_conv_arithmetic.py [--fast] [--out-dir DIR] [--data-dir MNIST_DIR]

An f x f filter slid over an n x n image with padding p and stride s gives an output of side
    floor((n + 2p - f) / s) + 1.
"valid" means p = 0, "same" p = (f - 1) / 2 (the size is kept at stride 1, odd f), "full"
p = f - 1 (every partial overlap: n + f - 1). We check the formula against minigrad's conv2d,
count how often each pixel is read (edge pixels are read less without padding), stack
filters into a feature-map volume, and run classic edge kernels over a real digit. Last, im2col:
F.unfold copies every window into a column, and the convolution becomes one matrix product.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from _common import claim, digit_images, max_abs_diff, parse_args, pyplot, save, say, show, title

import minigrad as mg
import minigrad.nn.functional as F
from minigrad.data.transforms import resize_or_pad

KERNELS = {
    "vertical": np.array([[1.0, 0.0, -1.0]] * 3),
    "horizontal": np.array([[1.0, 0.0, -1.0]] * 3).T,
    "Sobel x": np.array([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]]),
    "Sobel y": np.array([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]]).T,
}


def out_size(n: int, f: int, p: int, s: int) -> int:
    return (n + 2 * p - f) // s + 1


def conv(image: np.ndarray, kernel: np.ndarray, padding: int = 0) -> np.ndarray:
    """One grey image (H, W) and one kernel (f, f) through minigrad's conv2d."""
    x = mg.tensor(image[None, None], dtype=mg.float64)
    w = mg.tensor(kernel[None, None], dtype=mg.float64)
    return F.conv2d(x, w, padding=padding).numpy()[0, 0]


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(__doc__.splitlines()[0], argv, data=True)
    rng = np.random.default_rng(args.seed)

    title("1. Output size")
    cases = [  # (n, f, p, s, name)
        (6, 3, 0, 1, "valid"), (6, 3, 1, 1, "same"), (6, 3, 2, 1, "full"),
        (7, 5, 0, 1, "valid"), (7, 5, 2, 1, "same"), (7, 5, 4, 1, "full"),
        (7, 3, 0, 2, "valid, stride 2"), (7, 3, 1, 2, "same padding, stride 2"),
        (8, 3, 0, 2, "valid, stride 2 (one column left over)"), (32, 5, 0, 1, "LeNet C1"),
        (28, 5, 2, 1, "LeNet C1 on 28x28"), (224, 11, 2, 4, "AlexNet conv1"),
        (15, 3, 1, 3, "stride 3"),
    ]
    print(f"  {'n':>4} {'f':>3} {'p':>3} {'s':>3}  formula  conv2d   case")
    agree = []
    for n, f, p, s, name in cases:
        y = F.conv2d(mg.zeros(1, 1, n, n), mg.zeros(1, 1, f, f), stride=s, padding=p)
        print(f"  {n:>4} {f:>3} {p:>3} {s:>3}  {out_size(n, f, p, s):>7}  {y.shape[-1]:>6}   "
              f"{name}")
        agree.append(y.shape[-2:] == (out_size(n, f, p, s),) * 2)
    claim(all(agree), f"the formula gives conv2d's output size in all {len(cases)} cases")
    claim(all(out_size(n, f, (f - 1) // 2, 1) == n for n in (5, 6, 7) for f in (1, 3, 5)),
          "'same' padding (f - 1) / 2 keeps the size at stride 1")
    claim(all(out_size(n, f, f - 1, 1) == n + f - 1 for n in (5, 6) for f in (2, 3, 5)),
          "'full' padding f - 1 gives n + f - 1")

    title("2. Edge pixels count less without padding")
    say("""How many outputs read each input pixel? Convolve with a kernel of ones and
        backpropagate a gradient of ones: the input gradient counts, for every pixel, the
        windows it falls in.""")
    for p in (0, 1):
        x = mg.zeros(1, 1, 6, 6, dtype=mg.float64, requires_grad=True)
        F.conv2d(x, mg.ones(1, 1, 3, 3, dtype=mg.float64), padding=p).sum().backward()
        counts = x.grad.numpy()[0, 0].astype(int)
        show(f"6x6 input, 3x3 kernel, padding {p}: outputs reading each pixel", counts)
        if p == 0:
            claim(counts[0, 0] == 1 and counts[2, 2] == 9,
                  "valid: a corner pixel is read once, a central one 9 times")
        else:
            claim(counts[0, 0] == 4 and counts[0, 2] == 6 and counts[2, 2] == 9,
                  "padding 1: the corner is read 4 times and an edge pixel 6 times")

    title("3. Channels and filters make a volume")
    say("""A filter spans all input channels: a 3x3 filter on a 3-channel image has 3x3x3
        weights and sums the three per-channel correlations into ONE map. K filters give K
        maps, stacked into a volume of depth K.""")
    x = rng.standard_normal((1, 3, 6, 6))
    W = rng.standard_normal((4, 3, 3, 3))
    b = rng.standard_normal(4)
    y = F.conv2d(mg.tensor(x), mg.tensor(W), mg.tensor(b)).numpy()
    print(f"  input {x.shape} * filters {W.shape} -> volume {y.shape}; "
          f"{W.size + b.size} parameters")
    by_channel = np.stack([sum(conv(x[0, c], W[k, c]) for c in range(3)) + b[k]
                           for k in range(4)])
    claim(y.shape == (1, 4, 4, 4), "4 filters over a 6x6x3 input give a 4x4x4 volume")
    claim(max_abs_diff(y[0], by_channel) < 1e-10,
          "each output map is the sum over input channels of 2-D correlations, plus a bias")

    title("4. Edge detectors")
    step = np.array([[10.0, 10, 10, 0, 0, 0]] * 6)
    show("a 6x6 image, bright on the left:", step.astype(int))
    v = conv(step, KERNELS["vertical"])
    show("vertical kernel [[1, 0, -1]] x 3 -> 4x4:", v.astype(int))
    claim(np.array_equal(v, np.array([[0.0, 30, 30, 0]] * 4)),
          "the vertical edge shows as a band of 30s in the middle columns")
    claim(np.all(conv(step, KERNELS["horizontal"]) == 0), "the horizontal kernel sees nothing")
    claim(np.array_equal(conv(step[:, ::-1], KERNELS["vertical"]), -v[:, ::-1]),
          "a dark-to-bright edge gives the opposite sign")

    X, y_lab, source = digit_images(args.data_dir)
    pick = int(np.flatnonzero(y_lab == 7)[0])  # a 7: one horizontal and one slanted stroke
    digit = X[pick, 0].astype(np.float64)
    if digit.shape[0] < 28:  # the bundled 8x8 digits: enlarge them so edges are visible
        digit = resize_or_pad(digit[None], size=28, content=28)[0]
        source += ", enlarged to 28x28 (bilinear)"
    print(f"  a real digit (label {y_lab[pick]}): {source}")
    maps = {name: conv(digit, k, padding=1) for name, k in KERNELS.items()}
    claim(max_abs_diff(conv(digit.T, KERNELS["vertical"].T, padding=1),
                       maps["vertical"].T) < 1e-10,
          "the horizontal kernel on the digit is the vertical one on the transposed digit")
    magnitude = np.hypot(maps["Sobel x"], maps["Sobel y"])
    claim(magnitude.shape == digit.shape, "'same' padding keeps the digit's size")

    title("5. im2col: a convolution is one matrix product")
    say("""F.unfold copies every f x f window of every channel into a column: the 6x6x3 input
        of section 3 becomes a matrix with 3*3*3 = 27 rows (one per weight of a filter) and
        16 columns (one per output position). Each filter, flattened to a row of 27 weights,
        times that matrix gives its whole output map at once; the 4 filters stacked as a 4x27
        matrix give the volume. minigrad's CPU conv2d runs this way for most layer shapes (im2col
        one sample at a time, then a BLAS matrix multiply).""")
    cols = F.unfold(mg.tensor(x), kernel_size=3)
    via_matmul = (mg.tensor(W).reshape(4, 27) @ cols + mg.tensor(b).reshape(4, 1)).reshape(
        1, 4, 4, 4)
    print(f"  unfold: input {x.shape} -> columns {cols.shape}")
    print(f"  weights {W.shape} -> (4, 27);  (4, 27) @ (27, 16) + bias -> (4, 16) -> "
          f"{via_matmul.shape}")
    claim(cols.shape == (1, 27, 16), "unfold makes 27 rows (3 channels x 3 x 3) by 16 windows")
    claim(max_abs_diff(via_matmul.numpy(), y) < 1e-10,
          "unfold -> matmul -> reshape equals conv2d")
    strided = F.conv2d(mg.tensor(x), mg.tensor(W), mg.tensor(b), stride=2, padding=1).numpy()
    cols2 = F.unfold(mg.tensor(x), 3, padding=1, stride=2)
    claim(max_abs_diff((mg.tensor(W).reshape(4, 27) @ cols2 + mg.tensor(b).reshape(4, 1))
                       .reshape(strided.shape).numpy(), strided) < 1e-10,
          f"with stride 2 and padding 1 too: {cols2.shape[-1]} windows, output {strided.shape}")
    say("""F.fold is the transpose: it adds every column back onto the pixels its window came
        from. Folding the columns of an image of ones counts how many windows read each pixel,
        the table of section 2.""")
    reads = F.fold(F.unfold(mg.ones(1, 1, 6, 6, dtype=mg.float64), 3), (6, 6), 3)
    show("fold(unfold(ones)): windows reading each pixel", reads.numpy()[0, 0].astype(int))
    ones_grad = mg.zeros(1, 1, 6, 6, dtype=mg.float64, requires_grad=True)
    F.conv2d(ones_grad, mg.ones(1, 1, 3, 3, dtype=mg.float64)).sum().backward()
    claim(np.array_equal(reads.numpy(), ones_grad.grad.numpy()),
          "fold(unfold(ones)) equals section 2's counts (conv2d's input gradient)")

    plt = pyplot()
    if plt is not None:
        panels = [(digit, f"digit {y_lab[pick]}")] + [(m, k) for k, m in maps.items()]
        panels.append((magnitude, "Sobel magnitude"))
        fig, axes = plt.subplots(1, len(panels), figsize=(2.2 * len(panels), 2.6))
        for ax, (img, label) in zip(axes, panels):
            if label.startswith(("digit", "Sobel m")):
                ax.imshow(img, cmap="gray")
            else:  # signed responses: white is 0, red and blue the two edge polarities
                lim = np.abs(img).max()
                ax.imshow(img, cmap="coolwarm", vmin=-lim, vmax=lim)
            ax.set_title(label, fontsize=9)
            ax.axis("off")
        save(fig, args.out_dir, "04_edge_kernels.png")


if __name__ == "__main__":
    main()
