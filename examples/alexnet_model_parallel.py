"""AlexNet split over two processes, the way it was split over two GPUs in 2012.

    python examples/alexnet_model_parallel.py [--fast]                   # the split, in numbers
    mpiexec -n 2 python examples/alexnet_model_parallel.py [--fast]      # ... and run it

AlexNet did not fit the 3 GB of one GTX 580, so Krizhevsky put half of every layer's kernels on
each of two GPUs and let the halves talk only at some layers: conv3 and the fully connected
layers read both halves of their input; conv2, conv4 and conv5 read only their own GPU's half.
minigrad's AlexNet keeps that split as ``groups=2`` in one process; ``model_parallel=True`` runs
it as two towers under ``mpiexec -n 2``, one per process, exchanging activations (and, in
backward, their gradients) through an all-gather recorded in the graph.

Part 1 takes the paper's sizes (224x224 images, 96-256-384-384-256 kernels, 4096-unit FC
layers) and says what each half holds and what crosses between the halves per image. Part 2, with
two processes, runs a small version and checks that the towers compute exactly what the
one-process ``groups=2`` model computes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from _common import claim, parse_args, say, title

import minigrad as mg
import minigrad.nn.functional as F
from minigrad.nn.models import AlexNet
from minigrad.nn.models._util import conv_out

# for each layer of the model zoo's AlexNet: which half of its input a tower reads
# ("own": the groups=2 layers and conv1, whose input is the image both towers get; "both": the
# layers that read both towers' outputs, so an exchange comes first)
READS = {"conv1": "image", "conv2": "own", "conv3": "both", "conv4": "own", "conv5": "own",
         "fc1": "both", "fc2": "both", "fc3": "both"}


def map_sizes(model: AlexNet) -> dict[str, tuple[int, int]]:
    """(channels, side) of every layer's output, from the layers' own settings."""
    f = model.features
    side = model.image_size
    out = {}
    for name in ("conv1", "pool1", "conv2", "pool2", "conv3", "conv4", "conv5", "pool3"):
        layer = getattr(f, name)
        if name.startswith("conv"):
            side = conv_out(side, layer.kernel_size[0], layer.stride[0], layer.padding[0])
            out[name] = (layer.out_channels, side)
        else:
            side = conv_out(side, layer.kernel_size[0] if isinstance(layer.kernel_size, tuple)
                            else layer.kernel_size, 2)
            out[name] = (out[list(out)[-1]][0], side)
    return out


def part1(fast: bool) -> None:
    title("1. The paper's AlexNet, split in two")
    model = AlexNet(num_classes=1000, width=1.0, image_size=224)
    sizes = map_sizes(model)
    say("""Each row: a layer's weights in the one-process model (groups=2 where the paper kept the
        halves apart), the part one tower holds, and which half of its input it reads.""")
    rows, total_tower = [], 0
    layers = {**{n: getattr(model.features, n) for n in READS if n.startswith("conv")},
              **{n: getattr(model.classifier, n) for n in READS if n.startswith("fc")}}
    for name, layer in layers.items():
        full = tuple(layer.weight.shape)
        n_full = layer.weight.data.size + layer.bias.data.size
        tower = full if name == "fc3" else (full[0] // 2,) + full[1:]
        n_tower = n_full if name == "fc3" else n_full // 2
        total_tower += n_tower
        rows.append((name, full, tower, n_tower, READS[name]))
    print(f"  {'layer':6} {'weights (one process)':24} {'one tower holds':22} "
          f"{'parameters':>11}  reads")
    for name, full, tower, n, reads in rows:
        print(f"  {name:6} {str(full):24} {str(tower):22} {n:>11,}  {reads}")
    total = model.num_parameters()
    fc3 = model.classifier.fc3
    n_fc3 = fc3.weight.data.size + fc3.bias.data.size
    print(f"  one-process model: {total:,} parameters; each tower: {total_tower:,}")
    claim(2 * total_tower - n_fc3 == total,
          "the two towers hold every parameter once, except fc3, which both hold whole")
    claim(sizes["pool2"] == (256, 13) and sizes["pool3"] == (256, 6),
          "the paper's maps: 13x13 after pool2, 6x6 after pool3 (torchvision's padding)")

    title("2. What crosses between the towers, per image")
    c2, s2 = sizes["pool2"]
    c5, s5 = sizes["pool3"]
    hidden = model.classifier.fc1.out_features
    crossings = [("before conv3 (pool2's maps)", c2 // 2 * s2 * s2),
                 ("before fc1 (pool3's maps)", c5 // 2 * s5 * s5),
                 ("before fc2 (fc1's units)", hidden // 2),
                 ("before fc3 (fc2's units)", hidden // 2)]
    for where, n in crossings:
        print(f"  {where:30} {n:>7,} values each way")
    per_image = sum(n for _, n in crossings)
    print(f"  {'total':30} {per_image:>7,} values = {per_image * 4 / 1024:.0f} KiB in float32 "
          "each way, and as much again in backward (their gradients)")
    claim(crossings[0][1] == 128 * 13 * 13 == 21_632,
          "before conv3 each tower sends its 128 maps of 13x13: 21,632 values")
    claim(per_image * 4 < total_tower * 4 / 100,
          "per image, the exchange is under 1% of what one tower holds in weights")
    acts = sum(c * side * side for c, side in sizes.values())
    say(f"""Why split at all: the paper's GTX 580 had 3 GB, and the network it trained did not fit
        one. Per image, this model's conv and pooling layers output {acts:,} values; a tower
        computes half of them, and holds {total_tower * 4 / 2**20:.0f} MiB of float32 weights
        instead of {total * 4 / 2**20:.0f} MiB (and as much less for their gradients and
        momentum). What the towers swap per image is small ({per_image * 4 / 1024:.0f} KiB each
        way): with a batch of 128, {per_image * 4 * 128 / 2**20:.1f} MiB each way per step,
        over PCIe then, over MPI here. Data parallelism sends instead every gradient,
        {total * 4 / 2**20:.0f} MiB, each step whatever the batch, and needs the whole model on
        every process.""")


def part2(fast: bool) -> None:
    from minigrad import distributed as dist

    dist.init()
    if dist.world_size() != 2:
        if dist.is_main():
            say("""Part 2 runs the two towers: start it with two processes,
                `mpiexec -n 2 python examples/alexnet_model_parallel.py`.""")
        return
    r = dist.rank()
    width, size, batch = (0.125, 32, 2) if fast else (0.25, 64, 8)
    kw = dict(num_classes=10, width=width, image_size=size, dropout=0.5)
    x = mg.tensor(np.random.default_rng(0).standard_normal((batch, 3, size, size)))
    y = mg.tensor(np.arange(batch) % 10)
    mg.manual_seed(0)  # the same seed on both ranks: the same weights and dropout masks
    one = AlexNet(**kw).double()
    loss_one = F.cross_entropy(one(x), y)
    loss_one.backward()
    mg.manual_seed(0)
    tower = AlexNet(**kw, model_parallel=True).double()
    sent = []
    gather = dist.functional.all_gather  # the tower calls it through this module

    def counting_gather(t, **k):  # count what this tower sends to the other one
        sent.append(t.data.size // batch)
        return gather(t, **k)

    dist.functional.all_gather = counting_gather
    try:
        loss_tower = F.cross_entropy(tower(x), y)
    finally:
        dist.functional.all_gather = gather
    loss_tower.backward()
    ref = dict(one.named_parameters())
    worst = 0.0
    for name, p in tower.named_parameters():
        k = p.shape[0]
        rows = slice(None) if p.shape == ref[name].shape else slice(r * k, (r + 1) * k)
        worst = max(worst, float(np.abs(p.grad.data - ref[name].grad.data[rows]).max()))
    worst = max(dist.all_gather_object(worst))
    if dist.is_main():
        title(f"3. The two towers, run (width {width}, {size}x{size} images, float64)")
        print(f"  one-process loss {loss_one.item():.12f}, two-tower loss "
              f"{loss_tower.item():.12f}")
        print(f"  values sent per image at the four exchanges: {sent}")
        print(f"  largest gradient difference over both towers: {worst:.1e}")
    check = claim if dist.is_main() else _quiet_claim  # rank 1 checks too, rank 0 prints
    check(abs(loss_one.item() - loss_tower.item()) < 1e-12,
          "the towers' loss equals the one-process groups=2 model's")
    check(worst < 1e-12, "every gradient equals its slice of the one-process model's")
    sizes = map_sizes(one)
    (c2, s2), (c5, s5) = sizes["pool2"], sizes["pool3"]
    half_fc = one.classifier.fc1.out_features // 2
    check(sent == [c2 // 2 * s2 * s2, c5 // 2 * s5 * s5, half_fc, half_fc],
          "the towers talk at the four points of part 2, sending what part 2 predicts")


def _quiet_claim(ok: object, text: str) -> None:
    if not ok:
        raise AssertionError(f"claim does not hold on rank 1: {text}")


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(__doc__.splitlines()[0], argv)
    from minigrad import distributed as dist

    if dist.launcher_world_size() is None:  # one process: part 1 only, no MPI needed
        part1(args.fast)
        say("""Part 2 runs the two towers: start it with two processes,
            `mpiexec -n 2 python examples/alexnet_model_parallel.py`.""")
        return
    dist.init()
    if dist.is_main():
        part1(args.fast)
    dist.barrier()
    part2(args.fast)


if __name__ == "__main__":
    main()
