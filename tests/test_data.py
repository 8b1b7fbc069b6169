"""Tests for minigrad.data: datasets, DataLoader, IDX/MNIST reading, digits, transforms."""

from __future__ import annotations

import collections
import gzip
import hashlib
import os
import struct
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad
from minigrad.data import (
    MNIST,
    BatchSampler,
    DataLoader,
    Dataset,
    RandomSampler,
    SequentialSampler,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
    default_collate,
    load_digits,
    random_split,
    read_idx,
)
from minigrad.data import datasets as datasets_module
from minigrad.data.transforms import (
    Compose,
    Normalize,
    Pad,
    PCAWhitening,
    RandomCrop,
    RandomHorizontalFlip,
    RandomShift,
    Resize,
    ZCAWhitening,
    resize_or_pad,
)

MNIST_DIR = Path(
    os.environ.get(
        "MINIGRAD_MNIST_DIR",
        Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist",
    )
)
needs_mnist = pytest.mark.skipif(
    not MNIST_DIR.is_dir(), reason=f"MNIST files not found in {MNIST_DIR} (MINIGRAD_MNIST_DIR)"
)


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    pytest.importorskip("sklearn", reason="scikit-learn (the examples extra) is not installed")
    return load_digits()


def arr(t) -> np.ndarray:
    assert isinstance(t, minigrad.Tensor), type(t)
    return t.data


class PlainDataset(Dataset):
    """Same samples as the wrapped dataset but no batch gather: forces the generic path."""

    def __init__(self, inner):
        self.inner = inner

    def __getitem__(self, i):
        return self.inner[i]

    def __len__(self):
        return len(self.inner)


def tagged_dataset(n: int) -> TensorDataset:
    """Sample i has label i and an image filled with i, so fields can be checked for alignment."""
    x = np.broadcast_to(np.arange(n, dtype=np.float32)[:, None, None, None], (n, 1, 2, 3)).copy()
    return TensorDataset(x, np.arange(n))


def epoch_labels(loader: DataLoader) -> list[np.ndarray]:
    out = []
    for xb, yb in loader:
        x, y = arr(xb), arr(yb)
        assert x.dtype == np.float32 and y.dtype == np.int64
        assert x.shape == (len(y), 1, 2, 3)
        np.testing.assert_array_equal(x[:, 0, 0, 0], y)  # image and label of one sample together
        out.append(y)
    return out


# ---------------------------------------------------------------------------------- DataLoader


@given(
    n=st.integers(0, 70),
    batch_size=st.integers(1, 25),
    shuffle=st.booleans(),
    drop_last=st.booleans(),
    fast=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_loader_covers_every_sample_once(n, batch_size, shuffle, drop_last, fast, seed):
    ds = tagged_dataset(n)
    loader = DataLoader(
        ds if fast else PlainDataset(ds),
        batch_size=batch_size,
        shuffle=shuffle,
        drop_last=drop_last,
        generator=seed,
    )
    batches = epoch_labels(loader)
    expected_batches = n // batch_size if drop_last else (n + batch_size - 1) // batch_size
    assert len(batches) == len(loader) == expected_batches
    sizes = [len(b) for b in batches]
    assert all(s == batch_size for s in sizes[:-1])
    if drop_last:
        assert all(s == batch_size for s in sizes)
    seen = np.concatenate(batches) if batches else np.zeros(0, dtype=np.int64)
    assert len(np.unique(seen)) == len(seen)  # nothing twice
    if drop_last:
        assert len(seen) == n - n % batch_size
    else:
        np.testing.assert_array_equal(np.sort(seen), np.arange(n))  # everything once
    if not shuffle:
        np.testing.assert_array_equal(seen, np.arange(len(seen)))


@given(n=st.integers(1, 60), batch_size=st.integers(1, 20), seed=st.integers(0, 1000))
def test_fast_path_matches_generic_path(n, batch_size, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 2, 3)).astype(np.float16)  # float16 -> float32 on both paths
    y = rng.integers(0, 5, size=n).astype(np.uint8)  # uint8 -> int64 on both paths
    ds = TensorDataset(x, y)
    for d in (ds, Subset(ds, rng.permutation(n)[: max(1, n // 2)])):
        fast = list(DataLoader(d, batch_size=batch_size, shuffle=True, generator=seed))
        slow = list(
            DataLoader(PlainDataset(d), batch_size=batch_size, shuffle=True, generator=seed)
        )
        assert len(fast) == len(slow)
        for bf, bs in zip(fast, slow, strict=True):
            assert isinstance(bf, list) and isinstance(bs, list)
            for tf, ts in zip(bf, bs, strict=True):
                assert arr(tf).dtype == arr(ts).dtype
                np.testing.assert_array_equal(arr(tf), arr(ts))
    assert arr(fast[0][0]).dtype == np.float32 and arr(fast[0][1]).dtype == np.int64


def test_subclass_getitem_is_honoured():
    class Doubled(TensorDataset):
        def __getitem__(self, i):
            x, y = super().__getitem__(i)
            return x * 2, y

    ds = Doubled(np.ones((6, 2), np.float32), np.arange(6))
    for d in (ds, Subset(ds, [5, 4, 3])):
        xb, _ = next(iter(DataLoader(d, batch_size=3)))
        np.testing.assert_array_equal(arr(xb), np.full((3, 2), 2.0))


def test_fast_batches_do_not_alias_the_dataset():
    x = np.zeros((8, 3), dtype=np.float32)
    (xb,) = next(iter(DataLoader(TensorDataset(x), batch_size=4)))
    arr(xb)[...] = 1
    assert not x.any()


def _order(loader):
    return np.concatenate([arr(y) for _, y in loader])


def test_seeded_shuffle_repeats_and_seeds_differ():
    ds = tagged_dataset(50)
    a = DataLoader(ds, batch_size=7, shuffle=True, generator=123)
    b = DataLoader(ds, batch_size=7, shuffle=True, generator=123)
    c = DataLoader(ds, batch_size=7, shuffle=True, generator=124)
    a1, a2 = _order(a), _order(a)
    np.testing.assert_array_equal(a1, _order(b))
    np.testing.assert_array_equal(a2, _order(b))  # the second epoch repeats too
    assert not np.array_equal(a1, a2)  # but differs from the first
    assert not np.array_equal(a1, _order(c))
    g1 = DataLoader(ds, batch_size=7, shuffle=True, generator=np.random.default_rng(9))
    g2 = DataLoader(ds, batch_size=7, shuffle=True, generator=np.random.default_rng(9))
    np.testing.assert_array_equal(_order(g1), _order(g2))


def test_shuffle_uses_global_generator_seeded_by_manual_seed():
    ds = tagged_dataset(40)
    loader = DataLoader(ds, batch_size=8, shuffle=True)
    minigrad.manual_seed(7)
    first = _order(loader)
    minigrad.manual_seed(7)
    np.testing.assert_array_equal(_order(loader), first)
    minigrad.manual_seed(8)
    assert not np.array_equal(_order(loader), first)


def test_len_and_batch_size_none():
    ds = tagged_dataset(10)
    assert len(DataLoader(ds, batch_size=3)) == 4
    assert len(DataLoader(ds, batch_size=3, drop_last=True)) == 3
    assert len(DataLoader(ds, batch_size=None)) == 10
    samples = list(DataLoader(ds, batch_size=None))
    assert len(samples) == 10
    x, y = samples[4]
    assert arr(x).shape == (1, 2, 3) and arr(x)[0, 0, 0] == 4 and int(y) == 4


def test_custom_collate_fn_gets_the_list_of_samples():
    ds = tagged_dataset(5)
    batches = list(DataLoader(ds, batch_size=2, collate_fn=lambda b: [int(s[1]) for s in b]))
    assert batches == [[0, 1], [2, 3], [4]]


@pytest.mark.parametrize(
    "kwargs, exc, words",
    [
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"batch_size": -2}, ValueError, "batch_size"),
        ({"batch_size": 2.5}, ValueError, "batch_size"),
        ({"batch_size": True}, ValueError, "batch_size"),
        ({"shuffle": "yes"}, TypeError, "shuffle"),
        ({"generator": "seed"}, TypeError, "generator"),
        ({"collate_fn": 3}, TypeError, "collate_fn"),
        ({"batch_size": None, "drop_last": True}, ValueError, "drop_last"),
    ],
)
def test_loader_rejects_bad_arguments(kwargs, exc, words):
    with pytest.raises(exc, match=words):
        DataLoader(tagged_dataset(3), **kwargs)


def test_loader_rejects_non_dataset():
    with pytest.raises(TypeError, match="DataLoader"):
        DataLoader(42)


def test_loader_signature_follows_pytorch():
    torch = pytest.importorskip("torch")
    import inspect

    ours = inspect.signature(DataLoader).parameters
    theirs = inspect.signature(torch.utils.data.DataLoader).parameters
    names = list(ours)
    assert names == [n for n in theirs if n in ours]  # same order, so positional calls agree
    for name in ("pin_memory", "timeout", "multiprocessing_context", "prefetch_factor",
                 "persistent_workers", "sampler", "batch_sampler", "num_workers"):
        assert name in ours
    for name, p in ours.items():
        if name != "dataset":
            assert p.default == theirs[name].default, name
            assert p.kind == theirs[name].kind, name


def test_shuffled_order_is_the_generators_permutation_each_epoch():
    # guards the figures measured with the loader: sampling must not change the order it draws
    ds = tagged_dataset(30)
    loader = DataLoader(ds, batch_size=7, shuffle=True, generator=11)
    rng = np.random.default_rng(11)
    for _ in range(3):
        np.testing.assert_array_equal(_order(loader), rng.permutation(30))
    loader = DataLoader(ds, batch_size=7, shuffle=True, generator=11, num_workers=0)
    rng = np.random.default_rng(11)
    np.testing.assert_array_equal(_order(loader), rng.permutation(30))


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"sampler": [0, 1], "shuffle": True}, "sampler option is mutually exclusive with shuffle"),
        ({"batch_sampler": [[0, 1]], "batch_size": 2}, "batch_sampler option is mutually"),
        ({"batch_sampler": [[0, 1]], "shuffle": True}, "batch_sampler option is mutually"),
        ({"batch_sampler": [[0, 1]], "sampler": [0]}, "batch_sampler option is mutually"),
        ({"batch_sampler": [[0, 1]], "drop_last": True}, "batch_sampler option is mutually"),
        ({"num_workers": -1}, "num_workers"),
        ({"num_workers": 1.5}, "num_workers"),
        ({"timeout": -1}, "timeout"),
        ({"prefetch_factor": 2}, "prefetch_factor option could only be specified in multiproc"),
        ({"num_workers": 1, "prefetch_factor": 0}, "prefetch_factor"),
        ({"persistent_workers": True}, "persistent_workers option needs num_workers > 0"),
        ({"num_workers": 1, "multiprocessing_context": "teleport"}, "start method"),
    ],
)
def test_loader_argument_rules_as_pytorch(kwargs, words):
    with pytest.raises(ValueError, match=words):
        DataLoader(tagged_dataset(4), **kwargs)


def test_loader_attributes_are_fixed_after_init():
    loader = DataLoader(tagged_dataset(4), batch_size=2)
    for name, value in (("batch_size", 3), ("sampler", [0]), ("drop_last", True),
                        ("dataset", tagged_dataset(2))):
        with pytest.raises(ValueError, match=f"{name} attribute should not be set"):
            setattr(loader, name, value)
    loader.collate_fn = default_collate  # others may change, as in PyTorch


def test_sampler_and_batch_sampler_arguments():
    ds = tagged_dataset(10)
    order = [9, 0, 8, 1, 7]
    loader = DataLoader(ds, batch_size=2, sampler=order)  # any iterable of indices
    assert [list(arr(y)) for _, y in loader] == [[9, 0], [8, 1], [7]]
    assert len(loader) == 3
    assert len(DataLoader(ds, batch_size=2, sampler=order, drop_last=True)) == 2
    batches = [[3, 1, 2], [0], [5, 4]]
    loader = DataLoader(ds, batch_sampler=batches)
    assert loader.batch_size is None and len(loader) == 3
    assert [list(arr(y)) for _, y in loader] == batches
    # batch_size=None with a sampler: single samples in the sampler's order
    samples = list(DataLoader(ds, batch_size=None, sampler=SequentialSampler(range(3))))
    assert [int(y) for _, y in samples] == [0, 1, 2]


def test_user_sampler_subclass_is_honoured():
    class Reversed(RandomSampler):
        def __iter__(self):
            return iter(range(len(self.data_source) - 1, -1, -1))

    ds = tagged_dataset(7)
    loader = DataLoader(ds, batch_size=3, sampler=Reversed(ds))
    np.testing.assert_array_equal(_order(loader), np.arange(6, -1, -1))


def test_sequential_and_random_samplers():
    ds = tagged_dataset(6)
    assert list(SequentialSampler(ds)) == [0, 1, 2, 3, 4, 5] and len(SequentialSampler(ds)) == 6
    s = RandomSampler(ds, generator=3)
    rng = np.random.default_rng(3)
    first, second = list(s), list(s)
    assert first == rng.permutation(6).tolist() and second == rng.permutation(6).tolist()
    assert all(type(i) is int for i in first)
    long = list(RandomSampler(ds, num_samples=14, generator=0))  # permutations back to back
    assert len(long) == 14 and sorted(long[:6]) == sorted(long[6:12]) == list(range(6))
    assert len(set(long[12:])) == 2
    drawn = list(RandomSampler(ds, replacement=True, num_samples=200, generator=0))
    assert len(drawn) == 200 and set(drawn) == set(range(6))  # repeats: with replacement
    assert len(RandomSampler(ds, replacement=True, num_samples=5)) == 5
    with pytest.raises(ValueError, match="num_samples"):
        RandomSampler(ds, num_samples=0)
    with pytest.raises(TypeError, match="replacement"):
        RandomSampler(ds, replacement=1)


def test_subset_random_sampler():
    s = SubsetRandomSampler([10, 20, 30, 40], generator=1)
    a, b = list(s), list(s)
    assert sorted(a) == sorted(b) == [10, 20, 30, 40] and len(s) == 4
    assert a != b or list(s) != a  # a fresh order per epoch


def test_weighted_random_sampler_follows_the_weights():
    s = WeightedRandomSampler([0.0, 1.0, 3.0], num_samples=20000, generator=0)
    counts = np.bincount(list(s), minlength=3)
    assert counts[0] == 0 and len(s) == 20000
    assert abs(counts[2] / counts[1] - 3.0) < 0.2
    distinct = list(WeightedRandomSampler([1, 1, 1, 5], 4, replacement=False, generator=0))
    assert sorted(distinct) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="without replacement"):
        WeightedRandomSampler([1, 0, 1], 3, replacement=False)
    with pytest.raises(ValueError, match="non-negative"):
        WeightedRandomSampler([1, -1], 2)


@pytest.mark.parametrize("n, bs, drop_last", [(10, 3, False), (10, 3, True), (9, 3, True),
                                              (2, 5, False), (2, 5, True), (0, 2, False)])
def test_batch_sampler_matches_pytorch(n, bs, drop_last):
    ours = BatchSampler(SequentialSampler(range(n)), bs, drop_last)
    expected = [list(range(i, min(i + bs, n))) for i in range(0, n, bs)]
    if drop_last:
        expected = [b for b in expected if len(b) == bs]
    assert list(ours) == expected and len(ours) == len(expected)
    assert [b.tolist() for b in ours._array_batches()] == expected  # the loader's fast form
    torch = pytest.importorskip("torch")
    theirs = torch.utils.data.BatchSampler(torch.utils.data.SequentialSampler(range(n)), bs,
                                           drop_last)
    assert list(theirs) == expected and len(theirs) == len(ours)


def test_pin_memory_is_accepted_and_changes_nothing():
    ds = tagged_dataset(9)
    a = [arr(y) for _, y in DataLoader(ds, batch_size=4, pin_memory=True)]
    b = [arr(y) for _, y in DataLoader(ds, batch_size=4)]
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_readme_quick_tour_reshuffles_every_epoch():
    # the README builds its seeded loader once, outside the epoch loop
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    tour = text.split("## A quick tour", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    lines = tour.splitlines()
    loop = next(i for i, line in enumerate(lines) if line.startswith("for epoch"))
    made = [i for i, line in enumerate(lines) if "DataLoader(" in line]
    assert made and all(i < loop for i in made), "the quick tour makes a DataLoader per epoch"
    assert all(not line.startswith(" ") for line in (lines[i] for i in made))
    # and a loader made once gives a different order each epoch
    loader = DataLoader(tagged_dataset(50), batch_size=64, shuffle=True, generator=0)
    assert not np.array_equal(_order(loader), _order(loader))


# -------------------------------------------------------------------------------- collation


def test_default_collate_dtypes_and_structures():
    Point = collections.namedtuple("Point", "a b")
    batch = [
        {
            "f16": np.ones(2, np.float16),
            "f32": np.ones(2, np.float32),
            "f64": np.ones(2, np.float64),
            "u8": np.ones(2, np.uint8),
            "i32": np.ones(2, np.int32),
            "b": np.array([True, False]),
            "pyfloat": 0.5,
            "pyint": 3,
            "npf64": np.float64(1.5),
            "name": "x",
            "pair": (np.zeros(3), 1),
            "point": Point(np.zeros(1, np.float32), 2),
        }
        for _ in range(4)
    ]
    out = default_collate(batch)
    expected = {
        "f16": np.float32,
        "f32": np.float32,
        "f64": np.float64,
        "u8": np.int64,
        "i32": np.int64,
        "b": np.bool_,
        "pyfloat": np.float32,
        "pyint": np.int64,
        "npf64": np.float64,
    }
    for key, dtype in expected.items():
        assert arr(out[key]).dtype == dtype, key
        assert arr(out[key]).shape[0] == 4
    assert arr(out["f16"]).shape == (4, 2)
    assert out["name"] == ["x"] * 4
    assert isinstance(out["pair"], list) and arr(out["pair"][0]).shape == (4, 3)
    np.testing.assert_array_equal(arr(out["pair"][1]), [1, 1, 1, 1])
    assert isinstance(out["point"], Point) and arr(out["point"].a).shape == (4, 1)


def test_default_collate_stacks_tensor_samples():
    out = default_collate([minigrad.tensor(np.full(3, i, np.float32)) for i in range(2)])
    np.testing.assert_array_equal(arr(out), [[0, 0, 0], [1, 1, 1]])


def test_default_collate_errors():
    with pytest.raises(ValueError, match=r"equal shapes.*\(2,\).*\(3,\)"):
        default_collate([np.zeros(2), np.zeros(3)])
    with pytest.raises(TypeError, match="object"):
        default_collate([np.array([None]), np.array([None])])
    with pytest.raises(TypeError, match="set"):
        default_collate([{1}, {2}])
    with pytest.raises(ValueError, match="number of fields"):
        default_collate([(1, 2), (1,)])


# ---------------------------------------------------------------------- datasets and splitting


def test_tensor_dataset_basics_and_errors():
    x = np.arange(12.0).reshape(4, 3)
    ds = TensorDataset(x, [0, 1, 2, 3], minigrad.tensor(np.ones((4, 2))))
    assert len(ds) == 4
    row, label, other = ds[2]
    np.testing.assert_array_equal(row, [6.0, 7.0, 8.0])
    assert label == 2 and other.shape == (2,)
    with pytest.raises(ValueError, match=r"sizes \[4, 3\]"):
        TensorDataset(x, np.zeros(3))
    with pytest.raises(ValueError, match="at least one"):
        TensorDataset()
    with pytest.raises(ValueError, match="0-d"):
        TensorDataset(np.float32(1.0))
    with pytest.raises(TypeError, match="abstract"):
        Dataset()


def test_subset_indexing():
    ds = tagged_dataset(10)
    sub = Subset(ds, [7, 2, 5])
    assert len(sub) == 3
    assert sub[0][1] == 7 and sub[-1][1] == 5
    assert isinstance(Subset(ds, np.array([3]))[0][1], (int, np.integer))


@given(n=st.integers(0, 200), k=st.integers(1, 5), seed=st.integers(0, 10_000))
def test_random_split_int_lengths_partition(n, k, seed):
    rng = np.random.default_rng(seed)
    cuts = np.sort(rng.integers(0, n + 1, size=k - 1))
    lengths = np.diff(np.concatenate([[0], cuts, [n]])).tolist()
    parts = random_split(tagged_dataset(n), lengths, generator=seed)
    assert [len(p) for p in parts] == lengths
    all_idx = np.concatenate([np.asarray(p.indices, dtype=np.int64) for p in parts])
    np.testing.assert_array_equal(np.sort(all_idx), np.arange(n))  # disjoint and complete
    again = random_split(tagged_dataset(n), lengths, generator=seed)
    for p, q in zip(parts, again, strict=True):
        np.testing.assert_array_equal(p.indices, q.indices)


@pytest.mark.parametrize(
    "n, fractions, expected",
    [(10, [0.33, 0.33, 0.34], [4, 3, 3]), (1797, [0.8, 0.2], [1438, 359]), (5, [0.5, 0.5], [3, 2])],
)
def test_random_split_fractions_as_pytorch(n, fractions, expected):
    parts = random_split(tagged_dataset(n), fractions, generator=0)
    assert [len(p) for p in parts] == expected


@pytest.mark.filterwarnings("ignore:Length of split")
@given(n=st.integers(0, 300), weights=st.lists(st.integers(1, 10), min_size=1, max_size=4))
def test_random_split_fraction_sizes_match_torch(n, weights):
    torch = pytest.importorskip("torch")
    fractions = [w / sum(weights) for w in weights]
    if not abs(sum(fractions) - 1) < 1e-9 or sum(fractions) > 1:
        fractions[-1] = 1 - sum(fractions[:-1])
    ours = [len(p) for p in random_split(tagged_dataset(n), fractions, generator=0)]
    theirs = [len(p) for p in torch.utils.data.random_split(range(n), fractions)]
    assert ours == theirs


def test_random_split_errors_and_different_seeds():
    ds = tagged_dataset(20)
    with pytest.raises(ValueError, match="sum to 19.*20 samples"):
        random_split(ds, [10, 9])
    with pytest.raises(ValueError, match="non-negative"):
        random_split(ds, [25, -5])
    a = random_split(ds, [10, 10], generator=1)[0].indices
    b = random_split(ds, [10, 10], generator=2)[0].indices
    assert not np.array_equal(a, b)


# ---------------------------------------------------------------------------------- digits


def test_load_digits_shapes_dtypes_range(digits):
    X, y = load_digits()
    assert X.shape == (1797, 1, 8, 8) and X.dtype == np.float32
    assert y.shape == (1797,) and y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0
    np.testing.assert_array_equal(np.unique(y), np.arange(10))
    flat, y2 = load_digits(as_images=False)
    assert flat.shape == (1797, 64)
    np.testing.assert_array_equal(flat, X.reshape(1797, 64))
    np.testing.assert_array_equal(y, y2)
    from sklearn.datasets import load_digits as sk_load

    sk = sk_load()
    np.testing.assert_allclose(flat, sk.data / 16.0, rtol=1e-7)
    X[...] = -1  # fresh arrays: mutating one result leaves the next intact
    assert load_digits()[0].min() == 0.0


def test_load_digits_without_sklearn_names_the_extra(monkeypatch):
    datasets_module._sklearn_digits.cache_clear()
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    try:
        with pytest.raises(ImportError, match=r'pip install "minigrad\[examples\]"'):
            load_digits()
    finally:
        datasets_module._sklearn_digits.cache_clear()


# ------------------------------------------------------------------------------ IDX / MNIST

_CODES = {"u1": 0x08, "i1": 0x09, ">i2": 0x0B, ">i4": 0x0C, ">f4": 0x0D, ">f8": 0x0E}


def idx_bytes(a: np.ndarray, code: int | None = None) -> bytes:
    """Independent IDX writer: 2 zero bytes, type code, ndim, big-endian uint32 dims, data."""
    a = np.asarray(a)
    big = a.astype(a.dtype.newbyteorder(">"))
    if code is None:
        code = _CODES[big.dtype.str.lstrip("|<>=") if big.dtype.itemsize == 1 else big.dtype.str]
    header = bytes([0, 0, code, a.ndim]) + struct.pack(f">{a.ndim}I", *a.shape)
    return header + big.tobytes()


def write(path: Path, payload: bytes, gz: bool) -> Path:
    if gz:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(payload))
    else:
        path.write_bytes(payload)
    return path


def write_mnist(folder: Path, images: np.ndarray, labels: np.ndarray, gz: bool, prefix="t10k"):
    folder.mkdir(parents=True, exist_ok=True)
    write(folder / f"{prefix}-images-idx3-ubyte", idx_bytes(images.astype(np.uint8)), gz)
    write(folder / f"{prefix}-labels-idx1-ubyte", idx_bytes(labels.astype(np.uint8)), gz)


@needs_mnist
def test_mnist_fixture_checksums():
    sums = dict(reversed(line.split()) for line in (MNIST_DIR / "MD5SUMS").read_text().splitlines())
    for name, digest in sums.items():
        assert hashlib.md5((MNIST_DIR / name).read_bytes()).hexdigest() == digest, name


@needs_mnist
def test_read_idx_on_real_files():
    images = read_idx(MNIST_DIR / "t10k-images-idx3-ubyte.gz")
    labels = read_idx(MNIST_DIR / "t10k-labels-idx1-ubyte.gz")
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10000,) and labels.dtype == np.uint8
    with gzip.open(MNIST_DIR / "t10k-images-idx3-ubyte.gz") as f:
        raw = np.frombuffer(f.read(), np.uint8)
    np.testing.assert_array_equal(images.ravel(), raw[16:])  # 16-byte header
    images[0, 0, 0] = 1  # writable


@needs_mnist
def test_mnist_real_test_set():
    ds = MNIST(MNIST_DIR, train=False)
    assert len(ds) == 10000
    assert ds.data.shape == (10000, 1, 28, 28) and ds.data.dtype == np.float32
    assert ds.targets.dtype == np.int64
    assert ds.data.min() == 0.0 and ds.data.max() == 1.0
    # the published class counts of the MNIST test set and its first labels
    np.testing.assert_array_equal(
        np.bincount(ds.targets), [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    )
    np.testing.assert_array_equal(ds.targets[:5], [7, 2, 1, 0, 4])
    raw = read_idx(MNIST_DIR / "t10k-images-idx3-ubyte.gz")
    np.testing.assert_allclose(ds.data[123, 0], raw[123] / 255.0, rtol=1e-6)
    image, label = ds[0]
    assert image.shape == (1, 28, 28) and label == 7
    xb, yb = next(iter(DataLoader(ds, batch_size=32)))
    assert arr(xb).shape == (32, 1, 28, 28) and arr(yb).dtype == np.int64


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("dtype", ["u1", "i1", ">i2", ">i4", ">f4", ">f8"])
def test_read_idx_round_trip(tmp_path, gz, dtype):
    a = (np.arange(60).reshape(3, 4, 5) - 20).astype(dtype)
    if dtype == "u1":
        a = np.arange(60, dtype=np.uint8).reshape(3, 4, 5)
    path = write(tmp_path / "a.idx", idx_bytes(a), gz)
    out = read_idx(path)
    assert out.dtype == np.dtype(dtype).newbyteorder("=") and out.dtype.isnative
    np.testing.assert_array_equal(out, a)


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_rejects_bad_files(tmp_path, gz):
    good = idx_bytes(np.zeros((2, 3, 4), np.uint8))
    cases = {
        "truncated": (good[:-5], r"payload is 19 bytes .* implies 24 bytes: the file truncated"),
        "trailing": (good + b"\0", r"payload is 25 bytes .* implies 24 bytes.*trailing"),
        "bad_type": (bytes([0, 0, 0x07, 3]) + good[4:], "bad IDX magic number 0x00000703"),
        "nonzero": (bytes([1, 0, 0x08, 3]) + good[4:], "bad IDX magic number 0x01000803"),
        "tiny": (b"\0\0", "not an IDX file: 2 bytes"),
        "short_header": (good[:9], "truncated IDX header: 9 bytes, expected 16"),
    }
    for name, (payload, message) in cases.items():
        path = write(tmp_path / name, payload, gz)
        with pytest.raises(ValueError, match=message) as info:
            read_idx(path)
        assert str(path) in str(info.value)


def test_read_idx_rejects_truncated_gzip_stream(tmp_path):
    path = tmp_path / "cut.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.arange(1000, dtype=np.uint8)))[:-12])
    with pytest.raises(ValueError, match="truncated gzip") as info:
        read_idx(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_reads_crafted_files(tmp_path, gz):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(5, 28, 28))
    labels = np.array([3, 1, 4, 1, 5])
    write_mnist(tmp_path, images, labels, gz)
    ds = MNIST(tmp_path, train=False)
    np.testing.assert_allclose(ds.data[:, 0], images / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(ds.targets, labels)
    write_mnist(tmp_path / "tv" / "MNIST" / "raw", images[:2], labels[:2], gz, prefix="train")
    train = MNIST(tmp_path / "tv", train=True)  # torchvision's layout, train files
    assert len(train) == 2


def test_mnist_transforms_and_generic_path(tmp_path):
    write_mnist(tmp_path, np.full((4, 28, 28), 255), np.arange(4), gz=False)
    ds = MNIST(tmp_path, train=False, transform=lambda im: im[:, ::2, ::2] * 2,
               target_transform=lambda t: t + 1)
    image, target = ds[1]
    assert image.shape == (1, 14, 14) and image.max() == 2.0 and target == 2
    xb, yb = next(iter(DataLoader(ds, batch_size=4)))
    assert arr(xb).shape == (4, 1, 14, 14)
    np.testing.assert_array_equal(arr(yb), [1, 2, 3, 4])


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_validation_errors(tmp_path, gz):
    imgs, labs = np.zeros((3, 28, 28)), np.zeros(3)
    # swapped files: labels where images belong
    d = tmp_path / "swapped"
    d.mkdir()
    write(d / "t10k-images-idx3-ubyte", idx_bytes(labs.astype(np.uint8)), gz)
    write(d / "t10k-labels-idx1-ubyte", idx_bytes(imgs.astype(np.uint8)), gz)
    with pytest.raises(ValueError, match="magic number 2049.*expected 2051") as info:
        MNIST(d, train=False)
    assert "t10k-images-idx3-ubyte" in str(info.value)
    # counts disagree
    d = tmp_path / "counts"
    write_mnist(d, imgs, np.zeros(2), gz)
    with pytest.raises(ValueError, match="3 images but .* 2 labels"):
        MNIST(d, train=False)
    # not 28x28
    d = tmp_path / "dims"
    write_mnist(d, np.zeros((3, 10, 10)), labs, gz)
    with pytest.raises(ValueError, match="10x10, expected 28x28"):
        MNIST(d, train=False)
    # labels out of range
    d = tmp_path / "labels"
    write_mnist(d, imgs, np.array([0, 12, 3]), gz)
    with pytest.raises(ValueError, match="label 12 out of range"):
        MNIST(d, train=False)
    # truncated image payload
    d = tmp_path / "cut"
    write_mnist(d, imgs, labs, gz)
    name = "t10k-images-idx3-ubyte" + (".gz" if gz else "")
    payload = idx_bytes(imgs.astype(np.uint8))[:-100]
    (d / name).write_bytes(gzip.compress(payload) if gz else payload)
    with pytest.raises(ValueError, match="truncated") as info:
        MNIST(d, train=False)
    assert name in str(info.value)


def test_mnist_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        MNIST(tmp_path, train=False)
    msg = str(info.value)
    assert str(tmp_path) in msg and str(tmp_path / "MNIST" / "raw") in msg
    assert "t10k-images-idx3-ubyte[.gz]" in msg and "t10k-labels-idx1-ubyte[.gz]" in msg
    with pytest.raises(FileNotFoundError, match="does not exist"):
        MNIST(tmp_path / "nope", train=False)
    # only the test split present: the (default) train split names its files and the way out
    write_mnist(tmp_path, np.zeros((1, 28, 28)), np.zeros(1), gz=True)
    with pytest.raises(FileNotFoundError) as info:
        MNIST(tmp_path)
    msg = str(info.value)
    assert "train-images-idx3-ubyte[.gz]" in msg and "train-labels-idx1-ubyte[.gz]" in msg
    assert "pass train=False" in msg
    # one of the two files: the message says which one was found
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match="Found only .*t10k-images-idx3-ubyte.gz"):
        MNIST(tmp_path, train=False)


def test_mnist_defaults_to_the_train_split_as_torchvision(tmp_path):
    write_mnist(tmp_path, np.zeros((3, 28, 28)), np.array([1, 2, 3]), gz=False, prefix="train")
    write_mnist(tmp_path, np.zeros((2, 28, 28)), np.array([4, 5]), gz=False, prefix="t10k")
    ds = MNIST(tmp_path)
    assert ds.train and len(ds) == 3 and list(ds.targets) == [1, 2, 3]
    assert len(MNIST(tmp_path, train=False)) == 2


def test_mnist_download_true_downloads_nothing_and_says_where_files_go(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        MNIST(tmp_path, download=True)
    msg = str(info.value)
    assert "downloads nothing" in msg
    assert "train-images-idx3-ubyte[.gz]" in msg and str(tmp_path) in msg
    assert not any(tmp_path.iterdir())  # nothing was created or fetched
    # with the files in place, download=True is accepted and changes nothing (as torchvision)
    write_mnist(tmp_path / "MNIST" / "raw", np.zeros((2, 28, 28)), np.array([7, 8]), gz=True,
                prefix="train")
    assert list(MNIST(tmp_path, download=True).targets) == [7, 8]


# ------------------------------------------------------------------------------- transforms


def test_normalize_per_channel_and_errors():
    x = np.random.default_rng(0).random((5, 3, 4, 4)).astype(np.float32)
    mean, std = [0.1, 0.2, 0.3], [0.5, 2.0, 4.0]
    out = Normalize(mean, std)(x)
    assert out.dtype == np.float32
    for c in range(3):
        np.testing.assert_allclose(out[:, c], (x[:, c] - mean[c]) / std[c], rtol=1e-6)
    np.testing.assert_allclose(Normalize(mean, std)(x[2]), out[2], rtol=1e-6)
    np.testing.assert_allclose(Normalize(0.5, 0.25)(x), (x - 0.5) / 0.25, rtol=1e-6)
    with pytest.raises(ValueError, match="2 values but the input has 3 channels"):
        Normalize([0, 0], [1, 1])(x)
    with pytest.raises(ValueError, match="non-zero"):
        Normalize([0, 0, 0], [1, 0, 1])
    with pytest.raises(ValueError, match=r"C, H, W\), got shape \(4, 4\)"):
        Normalize(0, 1)(np.zeros((4, 4)))


def test_compose_applies_in_order():
    t = Compose([lambda a: a + 1, lambda a: a * 10])
    np.testing.assert_array_equal(t(np.zeros((1, 2, 2))), np.full((1, 2, 2), 10.0))


def bilinear_reference(img: np.ndarray, oh: int, ow: int) -> np.ndarray:
    """Per-pixel loop, align_corners=False with clamping as PyTorch's upsample_bilinear2d."""
    h, w = img.shape
    out = np.zeros((oh, ow))
    for i in range(oh):
        for j in range(ow):
            sy = max((i + 0.5) * h / oh - 0.5, 0.0)
            sx = max((j + 0.5) * w / ow - 0.5, 0.0)
            y0, x0 = min(int(sy), h - 1), min(int(sx), w - 1)
            y1, x1 = min(y0 + 1, h - 1), min(x0 + 1, w - 1)
            dy, dx = sy - y0, sx - x0
            out[i, j] = (
                (1 - dy) * (1 - dx) * img[y0, x0]
                + (1 - dy) * dx * img[y0, x1]
                + dy * (1 - dx) * img[y1, x0]
                + dy * dx * img[y1, x1]
            )
    return out


@given(
    h=st.integers(1, 9), w=st.integers(1, 9), oh=st.integers(1, 33), ow=st.integers(1, 33),
    seed=st.integers(0, 100),
)  # fmt: skip
def test_resize_bilinear_matches_loop_reference(h, w, oh, ow, seed):
    x = np.random.default_rng(seed).random((2, 1, h, w))
    out = Resize((oh, ow))(x)
    assert out.shape == (2, 1, oh, ow) and out.dtype == np.float64
    for n in range(2):
        np.testing.assert_allclose(out[n, 0], bilinear_reference(x[n, 0], oh, ow), atol=1e-12)


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
@pytest.mark.parametrize("shape", [(8, 8, 28, 28), (8, 8, 32, 32), (5, 7, 12, 3), (28, 28, 8, 8)])
def test_resize_matches_torch_interpolate(mode, shape):
    torch = pytest.importorskip("torch")
    h, w, oh, ow = shape
    x = np.random.default_rng(1).random((3, 2, h, w)).astype(np.float32)
    kw = {"align_corners": False} if mode == "bilinear" else {}
    ref = torch.nn.functional.interpolate(torch.from_numpy(x), size=(oh, ow), mode=mode, **kw)
    out = Resize((oh, ow), interpolation=mode)(x)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, ref.numpy(), atol=1e-6)


def test_resize_int_matches_smaller_edge_and_pad():
    assert Resize(16)(np.zeros((1, 8, 12))).shape == (1, 16, 24)
    assert Resize(16)(np.zeros((1, 12, 8))).shape == (1, 24, 16)
    x = np.random.default_rng(2).random((2, 3, 4, 5))
    np.testing.assert_array_equal(
        Pad((1, 2, 3, 4), fill=-1)(x),
        np.pad(x, ((0, 0), (0, 0), (2, 4), (1, 3)), constant_values=-1),
    )
    np.testing.assert_array_equal(Pad(2)(x[0]), np.pad(x[0], ((0, 0), (2, 2), (2, 2))))
    with pytest.raises(ValueError, match="padding"):
        Pad((1, 2, 3))
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        Resize(4)(np.zeros((2, 2)))


def test_resize_or_pad_for_lenet(digits):
    X, _ = digits
    out = resize_or_pad(X)
    assert out.shape == (1797, 1, 32, 32) and out.dtype == np.float32
    border = np.ones((32, 32), bool)
    border[2:30, 2:30] = False
    assert not out[:, 0, border].any()  # the 2-px frame is zero
    np.testing.assert_allclose(out[:, :, 2:30, 2:30], Resize((28, 28))(X), atol=0)
    assert 0.0 <= out.min() and out.max() <= 1.0 + 1e-6  # convex combinations stay in range
    nearest = resize_or_pad(X, size=32, content=32, interpolation="nearest")
    np.testing.assert_array_equal(nearest, X.repeat(4, axis=2).repeat(4, axis=3))
    assert resize_or_pad(X[0]).shape == (1, 32, 32)
    with pytest.raises(ValueError, match="content"):
        resize_or_pad(X, size=28, content=32)


def _shift_reference(img: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """out[y, x] = img[y - dy, x - dx] where inside, else 0 (plain loops)."""
    c, h, w = img.shape
    out = np.zeros_like(img)
    for y in range(h):
        for x in range(w):
            if 0 <= y - dy < h and 0 <= x - dx < w:
                out[:, y, x] = img[:, y - dy, x - dx]
    return out


def test_random_shift_outputs_are_shifts_and_cover_the_range():
    x = np.random.default_rng(3).random((300, 2, 6, 7)).astype(np.float32) + 0.1
    out = RandomShift(2, generator=0)(x)
    assert out.shape == x.shape and out.dtype == np.float32
    seen = set()
    for n in range(len(x)):
        matches = [
            (dy, dx)
            for dy in range(-2, 3)
            for dx in range(-2, 3)
            if np.array_equal(out[n], _shift_reference(x[n], dy, dx))
        ]
        assert len(matches) == 1, n
        seen.add(matches[0])
    assert len(seen) == 25  # all 5x5 shifts drawn over 300 samples


def test_random_crop_outputs_are_windows_of_the_padded_image():
    x = np.random.default_rng(4).random((100, 1, 5, 5)) + 0.1
    out = RandomCrop(4, padding=1, generator=1)(x)
    assert out.shape == (100, 1, 4, 4)
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    offsets = set()
    for n in range(len(x)):
        hits = [
            (i, j)
            for i in range(4)
            for j in range(4)
            if np.array_equal(out[n], padded[n, :, i : i + 4, j : j + 4])
        ]
        assert len(hits) == 1
        offsets.add(hits[0])
    assert len(offsets) == 16
    assert RandomCrop((2, 3))(x[0]).shape == (1, 2, 3)
    with pytest.raises(ValueError, match="larger than"):
        RandomCrop(8, padding=1)(x)


def test_random_horizontal_flip():
    x = np.random.default_rng(5).random((2000, 1, 3, 4))
    out = RandomHorizontalFlip(generator=0)(x)
    flipped = np.array([np.array_equal(o, s[..., ::-1]) for o, s in zip(out, x, strict=True)])
    same = np.array([np.array_equal(o, s) for o, s in zip(out, x, strict=True)])
    assert np.all(flipped ^ same)
    assert 0.45 < flipped.mean() < 0.55
    np.testing.assert_array_equal(RandomHorizontalFlip(p=0.0)(x), x)
    np.testing.assert_array_equal(RandomHorizontalFlip(p=1.0)(x), x[..., ::-1])
    np.testing.assert_array_equal(RandomHorizontalFlip(p=1.0)(x[0]), x[0][..., ::-1])
    with pytest.raises(ValueError, match="p must"):
        RandomHorizontalFlip(p=1.5)


@pytest.mark.parametrize(
    "make",
    [
        lambda g: RandomShift(2, generator=g),
        lambda g: RandomCrop(6, padding=2, generator=g),
        lambda g: RandomHorizontalFlip(generator=g),
    ],
)
def test_augmentation_is_deterministic_under_a_seed(make):
    x = np.random.default_rng(6).random((64, 1, 6, 6))
    a, b, c = make(11), make(11), make(12)
    first = a(x)
    np.testing.assert_array_equal(first, b(x))
    np.testing.assert_array_equal(a(x), b(x))  # the stream advances identically
    assert not np.array_equal(first, c(x))
    np.testing.assert_array_equal(
        make(np.random.default_rng(3))(x), make(np.random.default_rng(3))(x)
    )
    minigrad.manual_seed(5)
    g1 = make(None)(x)
    minigrad.manual_seed(5)
    np.testing.assert_array_equal(make(None)(x), g1)
    with pytest.raises(TypeError, match="generator"):
        make("seed")


def correlated_data(n=4000, d=6, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mix = rng.standard_normal((d, d)) * np.linspace(0.2, 3.0, d)
    return rng.standard_normal((n, d)) @ mix + rng.standard_normal(d) * 5


def _cov(z: np.ndarray) -> np.ndarray:
    return np.cov(z.reshape(len(z), -1), rowvar=False, bias=True)


def test_whitening_gives_identity_covariance():
    X = correlated_data()
    assert np.abs(_cov(X) - np.eye(6)).max() > 1  # the input is far from white
    for w in (ZCAWhitening(eps=1e-8), PCAWhitening(eps=1e-8)):
        Z = w.fit_transform(X)
        assert Z.shape == X.shape
        np.testing.assert_allclose(Z.mean(axis=0), 0, atol=1e-10)
        np.testing.assert_allclose(_cov(Z), np.eye(6), atol=1e-6)
        np.testing.assert_allclose(w.inverse_transform(Z), X, atol=1e-8)
    pca = PCAWhitening(eps=1e-8, n_components=3).fit(X)
    Z3 = pca.transform(X)
    assert Z3.shape == (4000, 3)
    np.testing.assert_allclose(_cov(Z3), np.eye(3), atol=1e-6)
    # eps damps: variance of each direction becomes lambda / (lambda + eps)
    big_eps = ZCAWhitening(eps=1.0).fit(X)
    lam = big_eps.eigenvalues_
    np.testing.assert_allclose(
        np.sort(np.linalg.eigvalsh(_cov(big_eps.transform(X)))), np.sort(lam / (lam + 1)), rtol=1e-6
    )


def test_zca_stays_closest_to_the_input():
    X = correlated_data(seed=1)
    Xc = X - X.mean(axis=0)
    zca = ZCAWhitening(eps=1e-8).fit_transform(X)
    pca = PCAWhitening(eps=1e-8).fit_transform(X)
    d_zca = np.linalg.norm(zca - Xc)
    assert d_zca < np.linalg.norm(pca - Xc)
    rng = np.random.default_rng(0)
    for _ in range(20):  # any rotation of a white signal is white too; none is closer
        q, _ = np.linalg.qr(rng.standard_normal((6, 6)))
        assert d_zca < np.linalg.norm(zca @ q - Xc)


def test_whitening_on_images_shapes_dtypes_errors(digits):
    X, _ = digits
    zca = ZCAWhitening(eps=1e-2).fit(X[:1000])
    out = zca(X[1000:])
    assert out.shape == (797, 1, 8, 8) and out.dtype == np.float32
    np.testing.assert_allclose(zca(X[1000]), out[0], atol=1e-5)
    pca = PCAWhitening(eps=1e-2, n_components=20).fit(X)
    assert pca(X).shape == (1797, 20) and pca(X[0]).shape == (20,)
    with pytest.raises(ValueError, match=r"fitted on samples of shape \(1, 8, 8\)"):
        zca(np.zeros((3, 64), np.float32))
    with pytest.raises(RuntimeError, match="fit"):
        ZCAWhitening().transform(X)
    with pytest.raises(ValueError, match="N >= 2"):
        ZCAWhitening().fit(X[:1])
