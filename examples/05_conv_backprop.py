"""05. Backprop through a convolution, by hand in NumPy, checked against backward().

    python examples/05_conv_backprop.py [--fast] [--out-dir DIR]

For Z = conv2d(A, W) + b (a cross-correlation, as in every deep-learning library) and an
incoming gradient dZ, the three gradients are
    db = dZ summed over batch and positions,
    dW = the correlation of A with dZ (each weight met every window),
    dA = the FULL convolution of dZ with the kernel rotated by 180 degrees
         (with stride s: first dilate dZ, putting s-1 zeros between its entries).
We compute them with plain NumPy loops and compare with minigrad's backward().
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from _common import claim, max_abs_diff, parse_args, pyplot, save, say, show, title
from numpy.lib.stride_tricks import sliding_window_view

import minigrad as mg
import minigrad.nn.functional as F
from minigrad.testing.conv_reference import conv2d_grad_input_rot180


def correlate(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Valid cross-correlation, stride 1.

    x: (N, C, H, W), w: (K, C, f, g) -> (N, K, H-f+1, W-g+1)."""
    windows = sliding_window_view(x, w.shape[2:], axis=(2, 3))  # (N, C, OH, OW, f, g)
    return np.einsum("ncyxij,kcij->nkyx", windows, w)


def conv_forward(A: np.ndarray, W: np.ndarray, b: np.ndarray, s: int, p: int) -> np.ndarray:
    Ap = np.pad(A, ((0, 0), (0, 0), (p, p), (p, p)))
    return correlate(Ap, W)[:, :, ::s, ::s] + b[None, :, None, None]


def grad_bias(dZ: np.ndarray) -> np.ndarray:
    return dZ.sum(axis=(0, 2, 3))


def grad_weight(A: np.ndarray, dZ: np.ndarray, f: int, s: int, p: int) -> np.ndarray:
    """dW[k, c, i, j] = sum over n, y, x of dZ[n, k, y, x] * A_padded[n, c, y*s + i, x*s + j]."""
    Ap = np.pad(A, ((0, 0), (0, 0), (p, p), (p, p)))
    N, K, OH, OW = dZ.shape
    dW = np.zeros((K, A.shape[1], f, f))
    for i in range(f):
        for j in range(f):
            patch = Ap[:, :, i:i + s * (OH - 1) + 1:s, j:j + s * (OW - 1) + 1:s]  # (N, C, OH, OW)
            dW[:, :, i, j] = np.einsum("nkyx,ncyx->kc", dZ, patch)
    return dW


def grad_input_scatter(dZ: np.ndarray, W: np.ndarray, in_shape: tuple, s: int,
                       p: int) -> np.ndarray:
    """The direct reading of the chain rule: each dZ entry adds dZ * W into its window of dA."""
    N, C, H, Wd = in_shape
    f = W.shape[2]
    dAp = np.zeros((N, C, H + 2 * p, Wd + 2 * p))
    for n in range(N):
        for k in range(dZ.shape[1]):
            for y in range(dZ.shape[2]):
                for x in range(dZ.shape[3]):
                    dAp[n, :, y * s:y * s + f, x * s:x * s + f] += dZ[n, k, y, x] * W[k]
    return dAp[:, :, p:p + H, p:p + Wd]


def grad_input_full_conv(dZ: np.ndarray, W: np.ndarray, in_shape: tuple, s: int,
                         p: int) -> np.ndarray:
    """dA as a full convolution of the (dilated) dZ with the 180-degree-rotated kernel.

    minigrad.testing's reference does it in the four steps of the textbook: dilate dZ by the
    stride (s-1 zeros between entries), pad it by f-1 on every side ("full"), correlate it with
    the kernel rotated by 180 degrees and its two channel axes swapped, then crop the padding
    off (rows that no window reached stay 0).
    """
    return conv2d_grad_input_rot180(dZ, W, in_shape[2:], (s, s), (p, p, p, p))


def check_case(name: str, rng: np.random.Generator, N: int, C: int, H: int, K: int, f: int,
               s: int, p: int) -> np.ndarray:
    A_np = rng.standard_normal((N, C, H, H))
    W_np = rng.standard_normal((K, C, f, f))
    b_np = rng.standard_normal(K)
    A = mg.tensor(A_np, requires_grad=True)
    W = mg.tensor(W_np, requires_grad=True)
    b = mg.tensor(b_np, requires_grad=True)
    Z = F.conv2d(A, W, b, stride=s, padding=p)
    out = (H + 2 * p - f) // s + 1
    print(f"  {name}: A {A_np.shape}, W {W_np.shape}, stride {s}, padding {p} -> Z {Z.shape}")
    claim(Z.shape == (N, K, out, out), f"output side (n + 2p - f) // s + 1 = {out}")
    claim(max_abs_diff(Z.numpy(), conv_forward(A_np, W_np, b_np, s, p)) < 1e-10,
          "forward equals the NumPy correlation")
    dZ = rng.standard_normal(Z.shape)
    Z.backward(mg.tensor(dZ))
    claim(max_abs_diff(b.grad.numpy(), grad_bias(dZ)) < 1e-10, "db = dZ summed over N, H, W")
    claim(max_abs_diff(W.grad.numpy(), grad_weight(A_np, dZ, f, s, p)) < 1e-10,
          "dW = correlation of A with dZ")
    dA_scatter = grad_input_scatter(dZ, W_np, A_np.shape, s, p)
    dA_full = grad_input_full_conv(dZ, W_np, A_np.shape, s, p)
    claim(max_abs_diff(A.grad.numpy(), dA_scatter) < 1e-10,
          "dA = every dZ entry scattering a copy of the kernel into its window")
    claim(max_abs_diff(A.grad.numpy(), dA_full) < 1e-10,
          "dA = full convolution of " + ("dZ" if s == 1 else "the dilated dZ")
          + " with the 180-degree-rotated kernel")
    return A.grad.numpy()


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(__doc__.splitlines()[0], argv)
    rng = np.random.default_rng(args.seed)

    title("One kernel, one gradient entry")
    say("""Take a 4x4 input, a 3x3 kernel and a 2x2 output. If only the top-left output has
        a gradient (dZ = [[1, 0], [0, 0]]), that output saw the top-left 3x3 window through the
        kernel, so the input gradient is a copy of the kernel placed on that window. Written as
        a correlation that slides over dZ, the kernel appears rotated by 180 degrees: that is
        the whole reason for the rotation.""")
    A = mg.tensor(np.arange(16.0).reshape(1, 1, 4, 4), requires_grad=True)
    Wk = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)
    Z = F.conv2d(A, mg.tensor(Wk))
    Z.backward(mg.tensor([[[[1.0, 0.0], [0.0, 0.0]]]]))
    show("kernel W:", Wk[0, 0])
    show("dA for dZ = [[1, 0], [0, 0]]:", A.grad.numpy()[0, 0])
    claim(np.array_equal(A.grad.numpy()[0, 0, :3, :3], Wk[0, 0]), "dA's top-left window is W")

    title("All three gradients, stride 1 and stride 2")
    n = 1 if args.fast else 2
    check_case("stride 1", rng, N=n, C=2, H=5, K=3, f=3, s=1, p=0)
    check_case("stride 1, padding 1 ('same')", rng, N=n, C=2, H=5, K=3, f=3, s=1, p=1)
    dA2 = check_case("stride 2", rng, N=n, C=2, H=6, K=3, f=3, s=2, p=0)
    say("""With stride 2 on a 6x6 input and a 3x3 kernel the windows start at 0 and 2 only, so
        the last row and column of A are read by no window: their gradient is exactly 0.
        The dilation of dZ (zeros between entries) puts each gradient back at the input position
        its window started from.""")
    claim(np.all(dA2[:, :, 5, :] == 0) and np.all(dA2[:, :, :, 5] == 0),
          "stride 2 on 6x6: the unread last row and column get zero gradient")
    check_case("stride 2, padding 1", rng, N=n, C=2, H=5, K=3, f=3, s=2, p=1)

    plt = pyplot()
    if plt is not None:
        dZ = np.zeros((1, 1, 2, 2))
        dZ[0, 0, 0, 0], dZ[0, 0, 1, 1] = 1.0, -0.5
        dil = np.zeros((1, 1, 3, 3))
        dil[:, :, ::2, ::2] = dZ
        dA = grad_input_full_conv(dZ, Wk, (1, 1, 5, 5), s=2, p=0)
        fig, axes = plt.subplots(1, 4, figsize=(10, 2.8))
        panels = [(Wk[0, 0], "kernel W"), (Wk[0, 0, ::-1, ::-1], "W rotated 180"),
                  (np.pad(dil[0, 0], 2), "dZ dilated (s=2), padded"), (dA[0, 0], "dA")]
        for ax, (img, label) in zip(axes, panels):
            ax.imshow(img, cmap="coolwarm", vmin=-np.abs(img).max(), vmax=np.abs(img).max())
            ax.set_title(label, fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
        save(fig, args.out_dir, "05_full_convolution.png")


if __name__ == "__main__":
    main()
