"""09. Training LeNet-5 on real digits: the four steps in a plain loop, learning rates, validation.

    python examples/09_train_lenet5.py [--fast] [--out-dir DIR] [--data-dir MNIST_DIR]

Training is four steps repeated: (1) forward: logits = model(x); (2) loss: cross-entropy of the
logits against the labels; (3) backward: loss.backward() fills every parameter's .grad;
(4) update: w <- w - lr * dL/dw (here with momentum). We write them out, compare learning
rates on a validation split, look at the learned first-layer filters and the feature maps of
one digit, and derive the receptive field of every layer (checked by backpropagating from a
single unit).

Data: scikit-learn's 8x8 digits enlarged to LeNet's 32x32 input by default, or the MNIST IDX
files in --data-dir (28x28, padded by 2).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np
from _common import claim, digit_images, parse_args, pyplot, save, say, title

import minigrad as mg
import minigrad.nn.functional as F
from minigrad import nn, optim
from minigrad.data import DataLoader, TensorDataset
from minigrad.data.transforms import resize_or_pad
from minigrad.nn.models import LeNet5


def to_lenet_input(X: np.ndarray) -> np.ndarray:
    """(N, 1, H, W) in [0, 1] -> (N, 1, 32, 32): 8x8 digits are resized to 28x28 and padded,
    28x28 MNIST digits only padded (LeNet-5 saw 28x28 digits centred in a 32x32 field)."""
    if X.shape[-1] == 28:
        return np.pad(X, ((0, 0), (0, 0), (2, 2), (2, 2)))
    return resize_or_pad(X, size=32, content=28).astype(np.float32)


def train_epoch(model: nn.Module, loader: DataLoader, lr: float, velocity: list[np.ndarray],
                momentum: float = 0.9) -> float:
    """One pass over the data with the four steps written out; returns the mean loss."""
    losses = []
    for x, y in loader:
        logits = model(x)                          # 1. forward
        loss = F.cross_entropy(logits, y)          # 2. loss
        model.zero_grad()
        loss.backward()                            # 3. backward: dL/dw into every p.grad
        for p, v in zip(model.parameters(), velocity):
            v *= momentum                          # 4. update: v <- momentum * v + dL/dw
            v += p.grad.data                       #            w <- w - lr * v
            p.data -= lr * v
        losses.append(loss.item())
    return float(np.mean(losses))


@mg.no_grad()
def accuracy(model: nn.Module, X: np.ndarray, y: np.ndarray) -> float:
    return float((model(mg.tensor(X)).numpy().argmax(axis=1) == y).mean())


def choose_learning_rate(
    curves: dict[float, list[tuple[float, float]]],
) -> tuple[float, dict[float, str]]:
    """Pick a learning rate by validation accuracy and say how the others compare.

    curves: lr -> one (training loss, validation accuracy) pair per epoch. A rate is judged by
    its best epoch (the weights one keeps), so one noisy last epoch cannot pick a rate that its
    own loss shows is too small; a tie goes to the lower final training loss. Returns the best
    lr and, for every lr, "best", "too small" (below the best) or "too large" (above it)."""
    best = max(curves, key=lambda lr: (max(a for _, a in curves[lr]), -curves[lr][-1][0]))
    verdicts = {lr: "best" if lr == best else ("too small" if lr < best else "too large")
                for lr in curves}
    return best, verdicts


def receptive_fields(model: LeNet5) -> list[tuple[str, int, int]]:
    """(layer, receptive field side, jump) for every conv/pool layer, then fc1.

    A unit's field grows by (k - 1) * jump through a k x k layer, where the jump (distance in
    input pixels between neighbouring units) multiplies by each stride: r += (k - 1) * j;
    j *= s. fc1 reads the whole 5x5x16 volume: a 5x5 convolution."""
    r, j, out = 1, 1, []
    for name, layer in model.features.named_children():
        if isinstance(layer, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
            k, s = _pair(layer.kernel_size)[0], _pair(layer.stride)[0]
            r, j = r + (k - 1) * j, j * s
            out.append((name, r, j))
    out.append(("fc1", r + (5 - 1) * j, j * 5))
    return out


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def measured_field(name: str, jump: int, field: int) -> tuple[int, int, int]:
    """Backpropagate from one unit of layer ``name`` in a probe LeNet (tanh, average pooling,
    small positive weights, float64, so no gradient is exactly zero inside the field) and return
    (first row, last row, expected first row) of the input pixels with a nonzero gradient."""
    probe = LeNet5(activation="tanh", pool="avg").double()
    for m in probe.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.constant_(m.weight, 0.01)
            nn.init.zeros_(m.bias)
    x = mg.zeros(1, 1, 32, 32, dtype=mg.float64, requires_grad=True)
    h = x
    for layer_name, layer in probe.features.named_children():
        h = layer(h)
        if layer_name == name:
            break
    if name == "fc1":
        h = probe.classifier.fc1(h.flatten(1))[:, :, None, None]
    side = h.shape[-1]
    idx = 0 if side == 1 else (side - 1) // 2
    (g,) = mg.grad(h[0, 0, idx, idx], [x])
    rows = np.flatnonzero(np.abs(g.numpy()[0, 0]).sum(axis=1))
    return int(rows[0]), int(rows[-1]), idx * jump


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(__doc__.splitlines()[0], argv, data=True)
    mg.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)

    title("1. Data and a validation split")
    X, y, source = digit_images(args.data_dir)
    X = to_lenet_input(X)
    order = rng.permutation(len(X))
    n_train = 384 if args.fast else int(0.8 * len(X))
    n_val = 256 if args.fast else len(X) - n_train
    train_idx, val_idx = order[:n_train], order[n_train:n_train + n_val]
    Xtr, ytr, Xval, yval = X[train_idx], y[train_idx], X[val_idx], y[val_idx]
    mean, std = Xtr.mean(), Xtr.std()              # from the training images only
    Xtr, Xval = (Xtr - mean) / std, (Xval - mean) / std
    print(f"  {source}: {len(Xtr)} training and {len(Xval)} validation images of {X.shape[1:]},"
          f" normalised with the training mean {mean:.3f} and std {std:.3f}")
    say("""The validation images are never trained on: they tell us how well the network does
        on digits it has not seen, which is what we choose the learning rate by. Their
        normalisation uses the training statistics too, as it would for new data.""")

    title("2. The four steps")
    say("""Step 4 uses momentum: v accumulates the recent gradients (v <- 0.9 v + dL/dw) and the
        weights move along v (w <- w - lr v), which smooths the noisy per-batch gradients.
        With momentum 0 it is plain gradient descent, w <- w - lr dL/dw.""")
    model = LeNet5()
    print(f"  LeNet-5: {model.num_parameters():,} parameters")
    claim(model.num_parameters() == 61_706, "LeNet-5 (ReLU, max pooling) has 61,706 parameters")
    twin = copy.deepcopy(model)
    batch = DataLoader(TensorDataset(Xtr[:32], ytr[:32]), batch_size=16)
    velocity = [np.zeros_like(p.data) for p in model.parameters()]
    train_epoch(model, batch, 0.05, velocity)      # two steps of the loop above
    opt = optim.SGD(twin.parameters(), lr=0.05, momentum=0.9)
    for x, t in batch:
        opt.zero_grad()
        F.cross_entropy(twin(x), t).backward()
        opt.step()
    claim(all(np.allclose(a.numpy(), b.numpy(), atol=1e-6)
              for a, b in zip(model.parameters(), twin.parameters())),
          "the update written out is exactly optim.SGD(lr, momentum=0.9).step()")

    title("3. Learning rates")
    lrs = [0.003, 0.03] if args.fast else [0.003, 0.03, 0.3]
    epochs = 2 if args.fast else (6 if len(Xtr) < 3000 else 2)  # MNIST: 8,000 images/epoch
    loader = DataLoader(TensorDataset(Xtr, ytr), batch_size=32, shuffle=True)
    mg.manual_seed(args.seed)
    init = LeNet5()
    history = {}
    for lr in lrs:
        model = copy.deepcopy(init)                 # same starting point for every rate
        velocity = [np.zeros_like(p.data) for p in model.parameters()]
        mg.manual_seed(args.seed)                   # and the same order of batches
        curve, best_state = [], None
        for _ in range(epochs):
            loss = train_epoch(model, loader, lr, velocity)
            curve.append((loss, accuracy(model, Xval, yval)))
            if curve[-1][1] > max((a for _, a in curve[:-1]), default=-1.0):
                best_state = copy.deepcopy(model.state_dict())  # the best epoch's weights
        model.load_state_dict(best_state)
        history[lr] = (model, curve)
        last = range(max(0, epochs - 3), epochs)    # the last three epochs, and the best
        top = max(range(epochs), key=lambda e: (curve[e][1], -e))
        print(f"  lr {lr:<6}" + "".join(f"  epoch {e + 1}: loss {curve[e][0]:.3f}, "
                                        f"val {100 * curve[e][1]:4.1f} %" for e in last)
              + f"  | best: epoch {top + 1}")
    say("""Too small a rate creeps: each step is safe but tiny. Too large a rate overshoots:
        the loss jumps instead of descending, and can push the ReLUs into a region where they
        never fire again. The validation accuracy picks the rate. It jumps around from epoch
        to epoch, so each rate keeps the weights of its best epoch (early stopping), and the
        rates are compared by those.""")
    best, verdicts = choose_learning_rate({lr: curve for lr, (_, curve) in history.items()})
    model, curve = history[best]
    best_acc = max(a for _, a in curve)
    print(f"  best validation accuracy: lr {best}, {100 * best_acc:.1f} % (epoch "
          f"{[a for _, a in curve].index(best_acc) + 1})")
    for lr, verdict in verdicts.items():
        if verdict == "best":
            continue
        loss, best_loss = history[lr][1][-1][0], curve[-1][0]
        how = f"its loss, {loss:.3f}, is still higher than lr {best}'s {best_loss:.3f}"
        if verdict == "too large" and loss > 2.0:
            how = f"its loss, {loss:.3f}, never came down from chance level (log 10 = 2.30)"
        claim(loss > best_loss, f"lr {lr} is {verdict}: after {epochs} epochs {how}")
    if args.fast:
        claim(curve[-1][0] < curve[0][0], "the loss goes down")
    else:
        claim(best_acc > 0.9, "the best rate recognises over 90 % of the validation digits")

    title("4. Receptive fields")
    say("""How much of the input can a unit of each layer see? Through a k x k layer the field
        grows by (k - 1) times the current jump (the distance, in input pixels, between
        neighbouring units), and each stride multiplies the jump.""")
    fields = receptive_fields(model)
    for name, r, j in fields:
        first, last, start = measured_field(name, j, r)
        print(f"  {name:<6} field {r:>2}x{r:<2}   one unit's gradient reaches input rows "
              f"{first}..{last}")
        claim((first, last) == (start, start + r - 1),
              f"{name}: the gradient of one unit reaches exactly a {r}x{r} window")
    claim([r for _, r, _ in fields] == [5, 6, 14, 16, 32],
          "LeNet-5's fields: 5 (C1), 6 (S2), 14 (C3), 16 (S4), 32 (C5/fc1: the whole input)")

    plt = pyplot()
    if plt is not None:
        fig, ax = plt.subplots(1, 2, figsize=(9, 3.4))
        for lr in lrs:
            c = history[lr][1]
            ax[0].semilogy(range(1, epochs + 1), [l_ for l_, _ in c], "o-", label=f"lr {lr}")
            ax[1].plot(range(1, epochs + 1), [100 * a for _, a in c], "o-", label=f"lr {lr}")
        ax[0].set(xlabel="epoch", ylabel="training loss")
        ax[1].set(xlabel="epoch", ylabel="validation accuracy (%)")
        ax[0].legend()
        save(fig, args.out_dir, "09_learning_rates.png")

        w = model.features.conv1.weight.numpy()[:, 0]
        fig, axes = plt.subplots(1, 6, figsize=(10, 1.9), layout="constrained")
        lim = float(np.abs(w).max())                # one scale, symmetric about 0
        for k, a in enumerate(axes):
            im = a.imshow(w[k], cmap="coolwarm", vmin=-lim, vmax=lim)
            a.set_title(f"filter {k}", fontsize=8)
            a.axis("off")
        fig.colorbar(im, ax=list(axes), label="weight", shrink=0.9)
        save(fig, args.out_dir, "09_conv1_filters.png")

        digit = mg.tensor(Xval[:1])
        with mg.no_grad():
            f = model.features
            c1 = f.act1(f.conv1(digit)).numpy()[0]
            c2 = f.act2(f.conv2(f.pool1(f.act1(f.conv1(digit))))).numpy()[0]
        fig, axes = plt.subplots(3, 8, figsize=(11, 4.4))
        for a in axes.ravel():
            a.axis("off")
        axes[0, 0].imshow(Xval[0, 0], cmap="gray")
        axes[0, 0].set_title(f"digit {yval[0]}", fontsize=8)
        for k in range(6):
            axes[0, k + 1].imshow(c1[k], cmap="gray")
            axes[0, k + 1].set_title(f"C1 map {k}", fontsize=8)
        for k in range(16):
            axes[1 + k // 8, k % 8].imshow(c2[k], cmap="gray")
            axes[1 + k // 8, k % 8].set_title(f"C3 map {k}", fontsize=8)
        save(fig, args.out_dir, "09_feature_maps.png")


if __name__ == "__main__":
    main()
