"""03. From a fully connected layer to a convolution, in two steps: share weights, then go local.

    python examples/03_fc_to_conv.py [--fast] [--out-dir DIR]

Start with 16 hidden units fully connected to a 3x3 image (16 x 9 = 144 weights).
Step 1: put the units in 4 groups of 4 that share one weight vector: 4 x 9 = 36 weights.
Step 2: connect each unit only to a 2x2 neighbourhood, the 4 units of a group to the 4 different
2x2 windows of the image: 4 x (2x2) = 16 weights, 88.89 % fewer than 144.
The result is exactly a convolution with 4 filters of 2x2: we build it as an FC layer whose
16x9 weight matrix is masked and tied, and check that it computes conv2d, forward and backward.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from _common import claim, max_abs_diff, parse_args, pyplot, save, say, title

import minigrad as mg
import minigrad.nn.functional as F

SIDE, F_SIZE, GROUPS = 3, 2, 4           # 3x3 image, 2x2 neighbourhoods, 4 groups (filters)
OUT = SIDE - F_SIZE + 1                  # 2: each group has 2x2 = 4 units, 16 units in all


def tied_index() -> tuple[np.ndarray, np.ndarray]:
    """Where each entry of the 16x9 FC matrix comes from: (index into the 16 kernel weights,
    mask of the entries that exist at all). Row u = g*4 + y*2 + x is unit (y, x) of group g."""
    index = np.zeros((GROUPS * OUT * OUT, SIDE * SIDE), dtype=np.int64)
    mask = np.zeros(index.shape)
    for g in range(GROUPS):
        for y in range(OUT):
            for x in range(OUT):
                u = g * OUT * OUT + y * OUT + x
                for i in range(F_SIZE):
                    for j in range(F_SIZE):
                        pixel = (y + i) * SIDE + (x + j)
                        index[u, pixel] = g * F_SIZE * F_SIZE + i * F_SIZE + j
                        mask[u, pixel] = 1.0
    return index, mask


def local_shared_fc(x: mg.Tensor, kernels: mg.Tensor, bias: mg.Tensor) -> mg.Tensor:
    """An FC layer y = x W^T + b whose W (16, 9) is built from 16 numbers.

    x: (N, 9) flattened images; kernels: (16,) = 4 groups x 2x2; bias: (4,), one per group.
    """
    index, mask = tied_index()
    weight = kernels[index] * mg.tensor(mask, dtype=kernels.dtype)  # gather = weight sharing
    b = bias[np.repeat(np.arange(GROUPS), OUT * OUT)]                # one bias per group
    return x @ weight.T + b


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(__doc__.splitlines()[0], argv)
    rng = np.random.default_rng(args.seed)
    units = GROUPS * OUT * OUT

    title("Counting the weights")
    full = units * SIDE * SIDE
    shared = GROUPS * SIDE * SIDE
    local = GROUPS * F_SIZE * F_SIZE
    print(f"  fully connected:           {units} units x {SIDE * SIDE} pixels = {full}")
    print(f"  4 groups share weights:    {GROUPS} groups x {SIDE * SIDE} pixels = {shared}")
    print(f"  ... and each unit sees 2x2: {GROUPS} groups x {F_SIZE * F_SIZE} = {local}")
    claim((full, shared, local) == (144, 36, 16), "144 -> 36 -> 16 weights")
    claim(round(100 * (1 - local / full), 2) == 88.89, "16 is 88.89 % fewer than 144")
    say("""These are weights only, as the story counts them. With one bias per unit, then one
        per group, the totals are 160 -> 40 -> 20 parameters.""")

    title("Sharing alone is not enough")
    say("""After step 1 the 4 units of a group share one weight vector AND see the same 9
        pixels, so they compute the same number four times. Sharing pays off only together with
        locality: the same small weights applied to different windows, which is what makes the
        units of a group differ (and is the definition of a convolution).""")
    x_np = rng.standard_normal((2 if args.fast else 5, SIDE * SIDE))
    w_group = rng.standard_normal((GROUPS, SIDE * SIDE))
    shared_out = x_np @ np.repeat(w_group, OUT * OUT, axis=0).T         # (N, 16)
    claim(np.allclose(shared_out.reshape(-1, GROUPS, OUT * OUT).std(axis=2), 0),
          "with shared, non-local weights the 4 units of a group are identical")

    title("The masked, tied FC layer is conv2d")
    index, mask = tied_index()
    print("  which of the 16 kernel weights sits in each entry of the 16x9 FC matrix (. = none):")
    for u in range(units):
        row = " ".join(f"{index[u, p]:>2}" if mask[u, p] else " ." for p in range(SIDE * SIDE))
        print(f"    unit {u:>2}: {row}")
    kernels_np = rng.standard_normal(local)
    bias_np = rng.standard_normal(GROUPS)

    kernels = mg.tensor(kernels_np, requires_grad=True)
    bias = mg.tensor(bias_np, requires_grad=True)
    x_fc = mg.tensor(x_np, requires_grad=True)
    y_fc = local_shared_fc(x_fc, kernels, bias)                      # (N, 16)

    w_conv = mg.tensor(kernels_np.reshape(GROUPS, 1, F_SIZE, F_SIZE), requires_grad=True)
    b_conv = mg.tensor(bias_np, requires_grad=True)
    x_conv = mg.tensor(x_np.reshape(-1, 1, SIDE, SIDE), requires_grad=True)
    y_conv = F.conv2d(x_conv, w_conv, b_conv)                         # (N, 4, 2, 2)

    claim(y_conv.shape[1:] == (GROUPS, OUT, OUT), "conv2d gives 4 maps of 2x2 = 16 units")
    claim(max_abs_diff(y_fc.numpy(), y_conv.numpy().reshape(-1, units)) < 1e-6,
          "outputs equal (to 1e-6)")
    g = rng.standard_normal(y_fc.shape)
    y_fc.backward(mg.tensor(g))
    y_conv.backward(mg.tensor(g.reshape(y_conv.shape)))
    claim(max_abs_diff(kernels.grad.numpy(), w_conv.grad.numpy().reshape(-1)) < 1e-6,
          "weight gradients equal: the 64 nonzero FC entries sum back into 16 shared weights")
    claim(max_abs_diff(bias.grad.numpy(), b_conv.grad.numpy()) < 1e-6, "bias gradients equal")
    claim(max_abs_diff(x_fc.grad.numpy(), x_conv.grad.numpy().reshape(x_np.shape)) < 1e-6,
          "input gradients equal")

    plt = pyplot()
    if plt is not None:
        dense = rng.standard_normal((units, SIDE * SIDE))
        tied = kernels_np[index] * mask
        fig, axes = plt.subplots(1, 3, figsize=(9, 4))
        for ax, (m, label) in zip(axes, [(dense, "fully connected: 144"),
                                         (np.repeat(w_group, OUT * OUT, axis=0), "shared: 36"),
                                         (tied, "shared + local: 16")]):
            ax.imshow(np.where(m == 0, np.nan, m), cmap="viridis")
            ax.set_title(label, fontsize=10)
            ax.set_xlabel("pixel")
            ax.set_ylabel("hidden unit")
        save(fig, args.out_dir, "03_fc_to_conv_matrices.png")


if __name__ == "__main__":
    main()
