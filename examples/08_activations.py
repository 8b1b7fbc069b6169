"""08. Activation functions and their derivatives, and the vanishing gradient of deep sigmoid nets.

    python examples/08_activations.py [--fast] [--out-dir DIR]

Every derivative below comes from minigrad's own backward pass (y.sum().backward() leaves
dy/dx in x.grad, since each y_i depends only on x_i), checked against finite differences.
The sigmoid's derivative sigma(x)(1 - sigma(x)) peaks at 1/4, so a gradient flowing back through
a stack of sigmoid layers shrinks at every layer; we measure it, layer by layer.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from _common import claim, parse_args, pyplot, save, say, title

import minigrad as mg
import minigrad.nn.functional as F
from minigrad import nn

ACTIVATIONS = {
    "sigmoid": F.sigmoid,
    "tanh": F.tanh,
    "ReLU": F.relu,
    "leaky ReLU (0.1)": lambda x: F.leaky_relu(x, 0.1),
    "ELU": F.elu,
    "swish / SiLU": F.silu,
    "GELU": F.gelu,
    "softplus": F.softplus,
}


def derivative(fn, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(f(xs), f'(xs)) from one backward pass."""
    x = mg.tensor(xs, requires_grad=True)
    y = fn(x)
    y.sum().backward()
    return y.numpy(), x.grad.numpy()


def layer_gradients(act: type[nn.Module], depth: int, width: int, seed: int) -> list[float]:
    """Norm of dL/dW for every hidden Linear layer of a deep MLP, from the input side up.

    Each stack gets the initialisation made for it (Glorot for sigmoid, He for ReLU), so what
    remains is the activation's own effect on the gradient."""
    mg.manual_seed(seed)
    layers: list[nn.Module] = []
    for _ in range(depth):
        linear = nn.Linear(width, width)
        if act is nn.ReLU:
            nn.init.kaiming_normal_(linear.weight, nonlinearity="relu")
        else:
            nn.init.xavier_normal_(linear.weight)
        nn.init.zeros_(linear.bias)
        layers += [linear, act()]
    model = nn.Sequential(*layers, nn.Linear(width, 1))
    x = mg.randn(64, width)
    model(x).pow(2).mean().backward()
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)][:-1]
    return [float(np.linalg.norm(m.weight.grad.numpy())) for m in linears]


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(__doc__.splitlines()[0], argv)

    title("1. Activations and their derivatives")
    xs = np.linspace(-5, 5, 201 if args.fast else 1001)
    away = xs[np.abs(xs) > 1e-3]  # ReLU's kink at 0: finite differences mean nothing there
    curves = {}
    for name, fn in ACTIVATIONS.items():
        y, dy = derivative(fn, xs)
        curves[name] = (y, dy)
        h = 1e-6
        fd = (derivative(fn, away + h)[0] - derivative(fn, away - h)[0]) / (2 * h)
        err = float(np.max(np.abs(derivative(fn, away)[1] - fd)))
        at = {v: dy[np.argmin(np.abs(xs - v))] for v in (-2, 0, 2)}
        print(f"  {name:<17} f'(-2) = {at[-2]:+.4f}  f'(0) = {at[0]:+.4f}  f'(2) = {at[2]:+.4f}"
              f"   |backward - finite diff| <= {err:.1e}")
        claim(err < 1e-6, f"{name}: backward agrees with finite differences")
    s, ds = curves["sigmoid"]
    claim(abs(ds.max() - 0.25) < 1e-12 and abs(xs[ds.argmax()]) < 1e-12,
          "the sigmoid's derivative peaks at x = 0 with value 1/4")
    claim(np.allclose(ds, s * (1 - s)), "sigmoid' = sigma (1 - sigma)")
    t, dt = curves["tanh"]
    claim(abs(dt.max() - 1.0) < 1e-12, "tanh' peaks at 1 (four times the sigmoid's)")
    r, dr = curves["ReLU"]
    claim(np.all(dr[xs > 0] == 1) and np.all(dr[xs < 0] == 0), "ReLU' is 1 for x > 0, 0 below")
    claim(np.allclose(curves["softplus"][1], s), "softplus' is the sigmoid")

    title("2. The vanishing gradient")
    say("""Backpropagating through L sigmoid layers multiplies the gradient by L factors of
        sigma' <= 1/4 (times the weights). We build deep MLPs with minigrad.nn and print the
        norm of dL/dW for each layer, from the input side up.""")
    depth = 6 if args.fast else 12
    width = 32
    sig = layer_gradients(nn.Sigmoid, depth, width, args.seed)
    relu = layer_gradients(nn.ReLU, depth, width, args.seed)
    print(f"  {'layer':>5}  {'sigmoid':>10}  {'ReLU':>10}")
    for i, (a, b) in enumerate(zip(sig, relu), 1):
        print(f"  {i:>5}  {a:>10.2e}  {b:>10.2e}")
    sig_factor = (sig[0] / sig[-1]) ** (1 / (depth - 1))
    relu_factor = (relu[0] / relu[-1]) ** (1 / (depth - 1))
    print(f"  average factor per layer: sigmoid {sig_factor:.3f}, ReLU {relu_factor:.3f}")
    claim(all(a < b for a, b in zip(sig, sig[1:])),
          "sigmoid stack: every layer gets a smaller gradient than the layer above it")
    claim(sig_factor < 0.25, "through sigmoids the gradient shrinks by more than 4x per layer "
          "(sigma' <= 1/4)")
    claim(relu_factor > 0.5, "through ReLUs with He initialisation it shrinks far less")
    plt = pyplot()
    if plt is not None:
        fig, axes = plt.subplots(2, 4, figsize=(12, 5.2), sharex=True)
        for ax, (name, (y, dy)) in zip(axes.ravel(), curves.items()):
            ax.plot(xs, y, label="f(x)")
            ax.plot(xs, dy, "--", label="f'(x) from backward")
            ax.axhline(0, color="#999", lw=0.5)
            ax.set_title(name, fontsize=10)
            ax.set_ylim(-1.5, 3)
        axes[0, 0].legend(fontsize=8)
        save(fig, args.out_dir, "08_activations.png")
        fig, ax = plt.subplots(figsize=(5.5, 3.5))
        ax.semilogy(range(1, depth + 1), sig, "o-", label="sigmoid")
        ax.semilogy(range(1, depth + 1), relu, "s-", label="ReLU")
        ax.set_xlabel("layer (1 = next to the input)")
        ax.set_ylabel("|dL/dW|")
        ax.legend()
        save(fig, args.out_dir, "08_vanishing_gradient.png")


if __name__ == "__main__":
    main()
