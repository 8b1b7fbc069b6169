"""DataLoader throughput on digits: the batched fast path vs the generic per-sample path, and
torch's DataLoader when torch is importable. Prints medians of 7 epochs (batches/s).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/bench_data.py
"""

from __future__ import annotations

import statistics
import time

from minigrad.data import DataLoader, TensorDataset, load_digits
from minigrad.data.transforms import resize_or_pad


class PerSample:
    """The same data without TensorDataset's batched gather: forces the generic path."""

    def __init__(self, ds: TensorDataset) -> None:
        self.ds = ds

    def __getitem__(self, i: int):
        return self.ds[i]

    def __len__(self) -> int:
        return len(self.ds)


def batches_per_second(loader, repeats: int = 7) -> float:
    times, n = [], 0
    for _ in range(repeats):
        t0 = time.perf_counter()
        n = sum(1 for _ in loader)
        times.append(time.perf_counter() - t0)
    return n / statistics.median(times)


def main() -> None:
    try:
        import torch

        torch.set_num_threads(2)
    except ImportError:
        torch = None
    X, y = load_digits()
    for label, images in (("8x8", X), ("32x32", resize_or_pad(X))):
        ds = TensorDataset(images, y)
        for bs in (64, 256):
            row = {
                "fast": batches_per_second(DataLoader(ds, bs, shuffle=True, generator=0)),
                "per-sample": batches_per_second(
                    DataLoader(PerSample(ds), bs, shuffle=True, generator=0)),
            }
            if torch is not None:
                tds = torch.utils.data.TensorDataset(torch.from_numpy(images), torch.from_numpy(y))
                row["torch"] = batches_per_second(
                    torch.utils.data.DataLoader(tds, batch_size=bs, shuffle=True))
            cells = "  ".join(f"{k} {v:9.0f}/s" for k, v in row.items())
            print(f"{label:5s} batch {bs:3d}: {cells}  fast/per-sample "
                  f"x{row['fast'] / row['per-sample']:.1f}")


if __name__ == "__main__":
    main()
