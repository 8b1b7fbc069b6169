"""Train a character-level language model on text that ships with every Python installation.

The text: the docstrings (module, class and function) of a fixed list of standard-library modules,
read with ``ast`` from the source files in ``sysconfig.get_paths()["stdlib"]`` (nothing is
imported, nothing downloaded); characters outside printable ASCII become ``?``. Every tenth
docstring is validation text, the rest training text (a fixed split).

    python examples/train_lm.py                  # 2-layer Transformer, causal attention
    python examples/train_lm.py --arch lstm      # 2-layer LSTM
    python examples/train_lm.py --steps 3000 --max-minutes 15 --device cuda

Prints the unigram baseline (the validation text's cross-entropy under the training text's
character frequencies), a progress bar, validation loss in bits per character every
``--eval-every`` steps, the final figures and wall time, and a generated sample; saves a checkpoint
(``.npz``, with the vocabulary and model settings in a ``.json`` beside it) and, when matplotlib
is installed, a plot of the curves into ``--out-dir``. Training stops after ``--steps`` steps or
``--max-minutes`` minutes, whichever comes first. Gradients are clipped to norm 1 with
``nn.utils.clip_grad_norm_``.
"""

from __future__ import annotations

import argparse
import ast
import json
import math
import sys
import sysconfig
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_cnn import (  # noqa: E402 - the shared argument checks of the CNN trainer
    check_out_dir,
    non_negative_int,
    positive_float,
    positive_int,
    progress,
)

import minigrad as mg  # noqa: E402
import minigrad.nn.functional as F  # noqa: E402
from minigrad import nn, optim  # noqa: E402
from minigrad.cuda import CudaUnavailableError  # noqa: E402

# Standard-library modules whose docstrings make the corpus (module names: a missing one is
# skipped, so the corpus differs a little between Python versions).
MODULES = (
    "argparse", "textwrap", "difflib", "functools", "inspect", "typing", "pathlib", "collections",
    "json", "json.decoder", "json.encoder", "csv", "datetime", "decimal", "fractions", "heapq",
    "bisect", "random", "statistics", "string", "re", "shutil", "subprocess", "tempfile",
    "threading", "queue", "logging", "unittest.case", "doctest", "pprint", "calendar",
    "contextlib", "dataclasses", "enum", "abc", "copy", "pickle", "zipfile", "tarfile", "gzip",
    "email.message", "http.client", "urllib.parse", "ipaddress", "locale", "gettext", "optparse",
    "configparser", "cmd", "shlex", "glob", "fnmatch", "operator", "numbers", "weakref", "sched",
    "selectors", "socket", "ssl", "ftplib", "smtplib", "mailbox", "wave", "colorsys", "getopt",
    "tokenize", "ast", "dis", "trace", "pdb", "timeit", "profile", "pstats", "codecs", "base64",
    "hashlib", "hmac", "secrets", "uuid", "sqlite3", "xml.dom.minidom", "html.parser",
    "plistlib",
)
VALIDATION_EVERY = 10  # every 10th docstring is validation text

ARCH_DEFAULTS = {  # per architecture: model settings, learning rate, context length
    "transformer": {"model": {"d_model": 128, "nhead": 4, "num_layers": 2,
                              "dim_feedforward": 512, "dropout": 0.1}, "lr": 2e-3,
                    "context": 128},
    # truncated backpropagation through time over 64 steps: the recurrence is sequential, so
    # shorter windows mean more updates in the same time
    "lstm": {"model": {"embed_dim": 64, "hidden_size": 256, "num_layers": 2, "dropout": 0.1},
             "lr": 3e-3, "context": 64},
}
PROMPT = "Return the "


# ------------------------------------------------------------------------------------------------
# data


def module_file(stdlib: Path, module: str) -> Path | None:
    """The source file of a standard-library module (``a.b`` -> a/b.py or a/b/__init__.py)."""
    base = stdlib.joinpath(*module.split("."))
    for p in (base.with_suffix(".py"), base / "__init__.py"):
        if p.is_file():
            return p
    return None


def docstrings(path: Path) -> list[str]:
    """The module, class and function docstrings of one source file, in file order."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            doc = ast.get_docstring(node)
            if doc:
                out.append(doc)
    return out


def ascii_text(s: str) -> str:
    """Printable ASCII and newlines; tabs become spaces, anything else ``?``."""
    s = s.replace("\t", "    ")
    return "".join(c if (" " <= c <= "~" or c == "\n") else "?" for c in s)


def load_corpus(stdlib: Path | None = None) -> tuple[str, str, int]:
    """(training text, validation text, number of modules read)."""
    stdlib = Path(sysconfig.get_paths()["stdlib"]) if stdlib is None else stdlib
    docs, found = [], 0
    for module in MODULES:
        path = module_file(stdlib, module)
        if path is None:
            continue
        found += 1
        docs.extend(ascii_text(d) for d in docstrings(path))
    if not docs:
        sys.exit(f"train_lm: found no standard-library sources under {stdlib}")
    is_val = [i % VALIDATION_EVERY == VALIDATION_EVERY - 1 for i in range(len(docs))]
    train = "\n\n".join(d for d, v in zip(docs, is_val) if not v)
    val = "\n\n".join(d for d, v in zip(docs, is_val) if v)
    return train, val, found


def unigram_bits(train: np.ndarray, val: np.ndarray, vocab_size: int) -> float:
    """Cross-entropy (bits per character) of the validation text under the training text's
    character frequencies (add-one smoothed): what a model that ignores context achieves."""
    counts = np.bincount(train, minlength=vocab_size) + 1.0
    logp = np.log2(counts / counts.sum())
    return float(-logp[val].mean())


# ------------------------------------------------------------------------------------------------
# command line


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line, validated (bad values exit with a usage message and status 2); also
    creates ``--out-dir`` and checks it is writable, so a run is never lost at its end."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--arch", choices=sorted(ARCH_DEFAULTS), default="transformer")
    p.add_argument("--steps", type=positive_int, default=1000, help="training steps (batches)")
    p.add_argument("--max-minutes", type=positive_float, default=3.0,
                   help="stop training after this many minutes even if --steps are not done")
    p.add_argument("--context", type=positive_int, default=None,
                   help="characters per training sequence (default: 128 transformer, 64 lstm)")
    p.add_argument("--batch-size", type=positive_int, default=32)
    p.add_argument("--lr", type=positive_float, default=None,
                   help="peak learning rate of AdamW (default: 2e-3 transformer, 3e-3 lstm)")
    p.add_argument("--eval-every", type=positive_int, default=100,
                   help="steps between validation estimates (on --eval-windows windows)")
    p.add_argument("--eval-windows", type=positive_int, default=64)
    p.add_argument("--sample-length", type=non_negative_int, default=300,
                   help="characters of generated text printed at the end")
    p.add_argument("--temperature", type=positive_float, default=0.8)
    p.add_argument("--seed", type=non_negative_int, default=0)
    p.add_argument("--device", default="cpu",
                   help="cpu or cuda: the model lives there and each batch is moved there")
    p.add_argument("--out-dir", type=Path, default=Path("runs"),
                   help="checkpoint and plot go here (created, and checked before training)")
    p.add_argument("--no-plots", action="store_true")
    args = p.parse_args(argv)
    if args.context is None:
        args.context = ARCH_DEFAULTS[args.arch]["context"]
    if args.context < 2:
        p.error(f"argument --context: must be at least 2, got {args.context}")
    problem = check_out_dir(args.out_dir)
    if problem is not None:
        p.error(f"argument --out-dir: {args.out_dir}: {problem}")
    return args


# ------------------------------------------------------------------------------------------------
# model, batches, evaluation


def make_model(arch: str, vocab_size: int, context: int) -> nn.Module:
    kwargs = dict(ARCH_DEFAULTS[arch]["model"])
    if arch == "transformer":
        return nn.models.TransformerLM(vocab_size, max_len=context, **kwargs)
    return nn.models.LSTMLM(vocab_size, **kwargs)


def logits_of(model: nn.Module, x: mg.Tensor) -> mg.Tensor:
    out = model(x)
    return out[0] if isinstance(out, tuple) else out


def batch(data: np.ndarray, starts: np.ndarray, context: int,
          device: str) -> tuple[mg.Tensor, mg.Tensor]:
    """Inputs and next-character targets, (N, context) each, for windows starting at ``starts``."""
    idx = starts[:, None] + np.arange(context + 1)
    w = data[idx]
    return mg.tensor(w[:, :-1], device=device), mg.tensor(w[:, 1:], device=device)


def evaluate(model: nn.Module, data: np.ndarray, context: int, device: str,
             windows: int | None = None, batch_size: int = 256) -> float:
    """Mean cross-entropy in bits per character over non-overlapping windows of ``data`` (the
    first ``windows`` of them, or all), in eval mode and without a graph."""
    n = (len(data) - 1) // context
    n = n if windows is None else min(n, windows)
    starts = np.arange(n) * context
    model.eval()
    total = 0.0
    with mg.no_grad():
        for i in range(0, n, batch_size):
            x, y = batch(data, starts[i:i + batch_size], context, device)
            logits = logits_of(model, x)
            total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1),
                                     reduction="sum").item()
    model.train()
    return total / (n * context) / math.log(2)


# ------------------------------------------------------------------------------------------------
# training


def train(args: argparse.Namespace) -> dict:
    try:
        device = mg.tensor([0.0], device=args.device).device  # validates and probes the GPU
    except (ValueError, CudaUnavailableError) as e:
        sys.exit(f"train_lm: --device {args.device!r}: {e}")
    mg.manual_seed(args.seed)
    train_text, val_text, n_modules = load_corpus()
    chars = sorted(set(train_text) | set(val_text))
    index = {c: i for i, c in enumerate(chars)}
    tr = np.fromiter((index[c] for c in train_text), dtype=np.int64, count=len(train_text))
    va = np.fromiter((index[c] for c in val_text), dtype=np.int64, count=len(val_text))
    if min(len(tr), len(va)) <= args.context + 1:
        sys.exit(f"train_lm: --context {args.context} is longer than the text")
    baseline = unigram_bits(tr, va, len(chars))
    model = make_model(args.arch, len(chars), args.context).to(device)
    lr = ARCH_DEFAULTS[args.arch]["lr"] if args.lr is None else args.lr
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    opt = optim.AdamW([{"params": decay, "weight_decay": 0.01},
                       {"params": no_decay, "weight_decay": 0.0}], lr=lr)
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.steps, eta_min=lr / 10)
    rng = np.random.default_rng(args.seed)
    print(f"{args.arch} language model on {n_modules} standard-library modules' docstrings: "
          f"{len(tr):,} training / {len(va):,} validation characters, vocabulary "
          f"{len(chars)}, {model.num_parameters():,} parameters, context {args.context}, "
          f"batch {args.batch_size}, {device}")
    print(f"unigram baseline (validation): {baseline:.3f} bits/char; uniform: "
          f"{math.log2(len(chars)):.3f}")
    history: dict[str, list] = {"step": [], "train_bits": [], "val_bits": []}
    start = time.perf_counter()
    limit = 60.0 * args.max_minutes
    running, seen, step = 0.0, 0, 0
    bar = progress(range(1, args.steps + 1), args.steps, "training")
    for step in bar:
        starts = rng.integers(0, len(tr) - args.context - 1, size=args.batch_size)
        x, y = batch(tr, starts, args.context, device)
        logits = logits_of(model, x)                                           # 1. forward
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))  # 2. loss
        opt.zero_grad()
        loss.backward()                                                        # 3. backward
        nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
        opt.step()                                                             # 4. update
        sched.step()
        running += loss.item() / math.log(2)
        seen += 1
        if hasattr(bar, "set_postfix"):
            bar.set_postfix(bits=f"{running / seen:.3f}")
        out_of_time = time.perf_counter() - start > limit
        if step % args.eval_every == 0 or step == args.steps or out_of_time:
            val = evaluate(model, va, args.context, device, args.eval_windows)
            history["step"].append(step)
            history["train_bits"].append(running / seen)
            history["val_bits"].append(val)
            msg = (f"step {step:5d}/{args.steps}  train {running / seen:.3f}  validation "
                   f"{val:.3f} bits/char (unigram {baseline:.3f})  "
                   f"[{time.perf_counter() - start:.0f}s]")
            if hasattr(bar, "write"):
                bar.write(msg)
            else:
                print(msg)
            running, seen = 0.0, 0
        if out_of_time:
            print(f"stopped after {step} steps: --max-minutes {args.max_minutes:g} reached")
            break
    if hasattr(bar, "close"):
        bar.close()
    train_time = time.perf_counter() - start
    val_bits = evaluate(model, va, args.context, device)
    wall = time.perf_counter() - start
    print(f"final validation loss {val_bits:.3f} bits/char over all {len(va):,} validation "
          f"characters (unigram baseline {baseline:.3f}, {val_bits / baseline:.0%} of it); "
          f"{step} steps, training {train_time:.1f}s, wall time {wall:.1f}s")
    prompt = [index[c] for c in PROMPT if c in index]
    ids = model.generate(prompt, args.sample_length, temperature=args.temperature,
                         generator=np.random.default_rng(args.seed))
    sample = "".join(chars[i] for i in ids)
    print(f"sample (temperature {args.temperature:g}):\n{sample}")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    ckpt = args.out_dir / f"lm_{args.arch}.npz"
    model.save(ckpt)
    (args.out_dir / f"lm_{args.arch}.json").write_text(json.dumps(
        {"arch": args.arch, "vocab": "".join(chars), "context": args.context,
         "model": ARCH_DEFAULTS[args.arch]["model"]}, indent=1))
    print(f"checkpoint: {ckpt} (vocabulary and settings: {ckpt.with_suffix('.json')})")
    if not args.no_plots:
        save_plot(history, baseline, args.out_dir / f"lm_{args.arch}_curves.png", args.arch)
    return {"history": history, "val_bits": val_bits, "baseline_bits": baseline,
            "wall_time": wall, "train_time": train_time, "steps": step, "sample": sample,
            "model": model, "vocab": chars}


def save_plot(history: dict, baseline: float, path: Path, arch: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib not installed: no plots; pip install 'minigrad[examples]')")
        return
    fig, ax = plt.subplots(figsize=(6, 3.5))
    # markers: a run cut short by --max-minutes may have a single point
    ax.plot(history["step"], history["train_bits"], marker=".",
            label="training (mean since last point)")
    ax.plot(history["step"], history["val_bits"], marker=".", label="validation")
    ax.axhline(baseline, color="gray", linestyle="--", label="unigram baseline")
    ax.set(xlabel="step", ylabel="bits per character", title=f"character-level {arch}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"plot: {path}")


def main(argv: list[str] | None = None) -> dict:
    return train(parse_args(argv))


if __name__ == "__main__":
    main()
