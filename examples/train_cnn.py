"""Train a CNN (LeNet-5 by default) on handwritten digits, end to end with minigrad.

Default data: scikit-learn's bundled 8x8 digits (1,797 images, no download), upsampled bilinearly
to 28x28 and zero-padded to LeNet's 32x32 input (the geometry LeNet-5 saw on MNIST); a fixed 80/20
train/test split. With ``--data-dir DIR`` it trains on MNIST IDX files instead (28x28 padded to
32x32); the 10,000-image MNIST test set is split 8,000/2,000 with a fixed seed.

    python examples/train_cnn.py                          # digits, LeNet-5
    python examples/train_cnn.py --data-dir ../shared/data/mnist --epochs 8
    python examples/train_cnn.py --device cuda            # GPU: pip install "minigrad[cuda]"
    mpiexec -n 2 python examples/train_cnn.py             # data parallel over 2 processes

Prints a progress bar per epoch (loss, accuracy), the final test accuracy and the wall time; saves
a checkpoint (.npz) and, when matplotlib is installed, PNGs of the training curves, the first
layer's filters and a few feature maps into ``--out-dir``.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import minigrad as mg
import minigrad.nn.functional as F
from minigrad import nn, optim
from minigrad.cuda import CudaUnavailableError
from minigrad.data import MNIST, TensorDataset, load_digits, random_split
from minigrad.data.transforms import Normalize, resize_or_pad
from minigrad.distributed import Job

MODELS = {
    "lenet5": lambda: nn.models.LeNet5(num_classes=10, in_channels=1),
    "resnet": lambda: nn.models.ResNet(num_classes=10, in_channels=1),
    "vgg": lambda: nn.models.VGG(num_classes=10, in_channels=1),
    "alexnet": lambda: nn.models.AlexNet(num_classes=10, in_channels=1, width=0.25, image_size=32),
}


def positive_int(text: str) -> int:
    """argparse type: an int >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def non_negative_int(text: str) -> int:
    """argparse type: an int >= 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite float > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def check_out_dir(out_dir: Path) -> str | None:
    """Create ``out_dir`` and check that files can be written there, before any training;
    returns the problem, or None."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out_dir):
            pass
    except OSError as e:
        return f"cannot write there: {e.strerror or e}"
    return None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line, validated (bad values exit with a usage message and status 2); also
    creates ``--out-dir`` and checks it is writable, so a run is never lost at its end."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", type=Path, default=None,
                   help="folder with the MNIST test set's IDX files (t10k-images-idx3-ubyte[.gz], "
                        "t10k-labels-idx1-ubyte[.gz]); default: the bundled digits")
    p.add_argument("--model", choices=sorted(MODELS), default="lenet5")
    p.add_argument("--epochs", type=positive_int, default=None,
                   help="default: 15 (digits), 8 (MNIST)")
    p.add_argument("--batch-size", type=positive_int, default=64)
    p.add_argument("--lr", type=positive_float, default=None,
                   help="learning rate (default: 0.05 for sgd, 2e-3 for adam/adamw)")
    p.add_argument("--optimizer", choices=["sgd", "adam", "adamw"], default="sgd")
    p.add_argument("--seed", type=non_negative_int, default=0)
    p.add_argument("--device", default="cpu",
                   help="cpu or cuda: the model lives there and each batch is moved there")
    p.add_argument("--out-dir", type=Path, default=Path("runs"),
                   help="checkpoint and plots go here (created, and checked before training)")
    p.add_argument("--limit", type=positive_int, default=None,
                   help="use only this many training images (quick checks)")
    p.add_argument("--no-plots", action="store_true")
    p.add_argument("--distributed", action="store_true",
                   help="data parallel over the MPI ranks (automatic when mpiexec/srun started "
                        "more than one process); --batch-size is then the global batch")
    args = p.parse_args(argv)
    problem = check_out_dir(args.out_dir)
    if problem is not None:
        p.error(f"argument --out-dir: {args.out_dir}: {problem}")
    return args


def load_data(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(train images, train labels, test images, test labels); images (N, 1, 32, 32) float32."""
    if args.data_dir is None:
        X, y = load_digits()
        X = resize_or_pad(X, size=32, content=28)
        test_fraction = 0.2
    else:
        try:
            ds = MNIST(args.data_dir, train=False)  # the 10,000-image test set, split below
        except FileNotFoundError as e:
            sys.exit(f"train_cnn: {e}")
        X, y = resize_or_pad(ds.data, size=32, content=28), ds.targets
        test_fraction = 0.2  # 10,000 -> 8,000 / 2,000
    n_test = int(round(len(X) * test_fraction))
    train, test = random_split(TensorDataset(X, y), [len(X) - n_test, n_test], generator=1234)
    Xtr, ytr = X[train.indices], y[train.indices]
    Xte, yte = X[test.indices], y[test.indices]
    if args.limit is not None:
        Xtr, ytr = Xtr[: args.limit], ytr[: args.limit]
    norm = Normalize(float(Xtr.mean()), float(Xtr.std()))  # statistics of the training set only
    return (norm(Xtr).astype(np.float32), ytr, norm(Xte).astype(np.float32), yte)


def make_optimizer(model: nn.Module, args: argparse.Namespace) -> optim.Optimizer:
    # No weight decay on biases and batch-norm parameters (regularising them tends to underfit).
    decay = [p for n, p in model.named_parameters() if p.ndim > 1]
    no_decay = [p for n, p in model.named_parameters() if p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": 5e-4}, {"params": no_decay, "weight_decay": 0.0}]
    if args.optimizer == "sgd":
        lr = 0.05 if args.lr is None else args.lr
        return optim.SGD(groups, lr=lr, momentum=0.9, nesterov=True)
    cls = optim.Adam if args.optimizer == "adam" else optim.AdamW
    return cls(groups, lr=2e-3 if args.lr is None else args.lr)


def evaluate(model: nn.Module, X: np.ndarray, y: np.ndarray, batch: int = 500,
             device: str = "cpu") -> tuple[float, float]:
    """(mean loss, accuracy) over a whole split, in eval mode and without a graph."""
    model.eval()
    total_loss, correct = 0.0, 0
    with mg.no_grad():
        for i in range(0, len(X), batch):
            logits = model(mg.tensor(X[i : i + batch], device=device))
            target = mg.tensor(y[i : i + batch], device=device)
            total_loss += F.cross_entropy(logits, target, reduction="sum").item()
            correct += int((logits.argmax(axis=1).numpy() == y[i : i + batch]).sum())
    model.train()
    return total_loss / len(X), correct / len(X)


def progress(iterable, total: int, desc: str, show: bool = True):
    try:
        from tqdm import tqdm

        return tqdm(iterable, total=total, desc=desc, leave=False, dynamic_ncols=True,
                    file=sys.stdout, disable=None if show else True)
    except ImportError:
        return iterable


def train(args: argparse.Namespace) -> dict:
    try:
        device = mg.tensor([0.0], device=args.device).device  # validates and probes the GPU
    except (ValueError, CudaUnavailableError) as e:
        sys.exit(f"train_cnn: --device {args.device!r}: {e}")
    # one process, or data parallel over MPI ranks: each rank trains on its share of every
    # global batch, the printed numbers are summed over ranks, rank 0 prints and saves
    job = Job(True if args.distributed else None)
    if args.batch_size % job.world_size:  # every rank must run the same number of steps
        sys.exit(f"train_cnn: --batch-size {args.batch_size} is the global batch; it must split "
                 f"evenly over the {job.world_size} ranks (use a multiple of {job.world_size})")
    mg.manual_seed(args.seed)
    Xtr, ytr, Xte, yte = load_data(args)
    if args.epochs is not None:
        epochs = args.epochs
    else:
        epochs = 15 if args.data_dir is None else 8
    model = job.wrap(MODELS[args.model]().to(device))  # before the optimizer, as in PyTorch
    opt = make_optimizer(model, args)
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    loader = job.loader(TensorDataset(Xtr, ytr), batch_size=args.batch_size, shuffle=True,
                        seed=args.seed)
    data_name = "digits" if args.data_dir is None else "MNIST"
    ranks = f", {job.world_size} ranks" if job.distributed else ""
    job.print(f"{args.model} on {data_name}: {len(Xtr)} train / {len(Xte)} test images, "
              f"{model.num_parameters():,} parameters, {epochs} epochs, {args.optimizer}, "
              f"{device}{ranks}")
    history = {"train_loss": [], "train_acc": [], "test_loss": [], "test_acc": []}
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        job.set_epoch(epoch)
        seen, loss_sum, correct = 0, 0.0, 0
        bar = progress(loader, len(loader), f"epoch {epoch:2d}/{epochs}", show=job.is_main)
        for xb, yb in bar:
            xb, yb = xb.to(device), yb.to(device)  # the loader yields host tensors
            logits = model(xb)                    # 1. forward
            loss = F.cross_entropy(logits, yb)    # 2. loss
            opt.zero_grad()
            loss.backward()                       # 3. backward
            opt.step()                            # 4. update
            n = len(yb)
            seen += n
            loss_sum += loss.item() * n
            correct += int((logits.data.argmax(axis=1) == yb.data).sum())
            if hasattr(bar, "set_postfix"):
                bar.set_postfix(loss=f"{loss_sum / seen:.3f}", acc=f"{correct / seen:.3f}")
        sched.step()
        seen, loss_sum, correct = job.sum(seen, loss_sum, correct)
        part = job.shard(len(Xte))  # each rank evaluates its share of the test set
        n = len(Xte[part])
        test_loss, test_acc = evaluate(model, Xte[part], yte[part], device=device)
        test_loss, test_acc, n = job.sum(test_loss * n, test_acc * n, n)
        test_loss, test_acc = test_loss / n, test_acc / n
        for k, v in zip(history, (loss_sum / seen, correct / seen, test_loss, test_acc)):
            history[k].append(v)
        job.print(f"epoch {epoch:2d}/{epochs}  train loss {loss_sum / seen:.4f} acc "
              f"{correct / seen:.4f}  test loss {test_loss:.4f} acc {test_acc:.4f}  "
              f"[{time.perf_counter() - start:.1f}s]")
    wall = time.perf_counter() - start
    job.print(f"final test accuracy {history['test_acc'][-1]:.4f} ({len(Xte)} images); "
              f"wall time {wall:.1f}s")
    if job.is_main:
        args.out_dir.mkdir(parents=True, exist_ok=True)
    ckpt = args.out_dir / f"{args.model}_{data_name.lower()}.npz"
    job.save(model, ckpt)  # rank 0 writes, then every rank waits for it
    job.print(f"checkpoint: {ckpt}")
    if not args.no_plots and job.is_main:
        save_plots(model, history, Xte, args.out_dir, f"{args.model}_{data_name.lower()}",
                   device)
    return {"history": history, "wall_time": wall, "test_acc": history["test_acc"][-1],
            "model": model}


def save_plots(model: nn.Module, history: dict, Xte: np.ndarray, out: Path, stem: str,
               device: str = "cpu") -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib not installed: no plots; pip install 'minigrad[examples]')")
        return
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.5))
    ep = np.arange(1, len(history["train_loss"]) + 1)
    a1.plot(ep, history["train_loss"], label="train")
    a1.plot(ep, history["test_loss"], label="test")
    a1.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    a2.plot(ep, history["train_acc"], label="train")
    a2.plot(ep, history["test_acc"], label="test")
    a2.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    for a in (a1, a2):
        a.legend()
    fig.tight_layout()
    fig.savefig(out / f"{stem}_curves.png", dpi=100)
    plt.close(fig)

    first = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
    w = first.weight.numpy()
    fig, axes = plt.subplots(2, len(w), figsize=(1.6 * len(w) + 1.2, 3.6), squeeze=False,
                             layout="constrained")
    with mg.no_grad():
        maps = first(mg.tensor(Xte[:1], device=device)).numpy()[0]
    # one colour scale per row, shown by a colour bar: filters on a scale symmetric about 0
    lim = float(np.abs(w[:, 0]).max())
    for k in range(len(w)):
        filters = axes[0, k].imshow(w[k, 0], cmap="coolwarm", vmin=-lim, vmax=lim)
        axes[0, k].set_title(f"filter {k}", fontsize=8)
        responses = axes[1, k].imshow(maps[k], cmap="viridis", vmin=maps.min(), vmax=maps.max())
        axes[1, k].set_title(f"map {k}", fontsize=8)
        for a in axes[:, k]:
            a.axis("off")
    fig.colorbar(filters, ax=list(axes[0]), label="weight", shrink=0.9)
    fig.colorbar(responses, ax=list(axes[1]), label="response", shrink=0.9)
    fig.suptitle("first-layer filters (top) and their feature maps for one test digit (bottom)")
    fig.savefig(out / f"{stem}_filters.png", dpi=100)
    plt.close(fig)
    print(f"plots: {out / (stem + '_curves.png')}, {out / (stem + '_filters.png')}")


if __name__ == "__main__":
    train(parse_args())
