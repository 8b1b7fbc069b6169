"""Bundled and on-disk data sets: scikit-learn's 8x8 digits and MNIST's IDX files.

Nothing here downloads: ``load_digits`` reads the copy shipped inside scikit-learn, ``MNIST``
reads IDX files you already have (``download=True`` explains where to put them).
"""

from __future__ import annotations

import functools
import gzip
import math
import os
import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from minigrad.data.dataset import Dataset

__all__ = ["load_digits", "read_idx", "MNIST"]

_EXTRA_HINT = 'pip install "minigrad[examples]"'


@functools.lru_cache(maxsize=1)
def _sklearn_digits() -> tuple[np.ndarray, np.ndarray]:
    try:
        from sklearn.datasets import load_digits as sk_load_digits
    except ImportError as e:
        raise ImportError(
            f"minigrad.data.load_digits needs scikit-learn, which is not installed; "
            f"install the examples extra: {_EXTRA_HINT}"
        ) from e
    bunch = sk_load_digits()
    # pixel values are counts of set pixels in 4x4 blocks of a 32x32 bitmap: 0..16
    images = (bunch.data / 16.0).astype(np.float32)
    labels = bunch.target.astype(np.int64)
    return images, labels


def load_digits(as_images: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled handwritten digits (1797 samples, 10 classes; no download).

    Returns ``(X, y)``: X float32 in [0, 1], shape (1797, 1, 8, 8) when ``as_images`` else
    (1797, 64); y int64 (1797,) with values 0..9. Fresh arrays on every call.
    Raises ImportError naming the ``minigrad[examples]`` extra when scikit-learn is missing.
    """
    images, labels = _sklearn_digits()
    images = images.copy()
    if as_images:
        images = images.reshape(-1, 1, 8, 8)
    return images, labels.copy()


# IDX type codes (third magic byte) -> big-endian element type.
_IDX_TYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, gunzipped when it is a gzip stream (detected by content, not name)."""
    raw = path.read_bytes()
    if raw[:2] != _GZIP_MAGIC:
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as e:
        raise ValueError(f"{path}: corrupt or truncated gzip stream ({e})") from e


def _parse_idx(
    raw: bytes, path: Path, expected_magic: int | None = None, what: str = ""
) -> np.ndarray:
    if len(raw) < 4:
        raise ValueError(
            f"{path}: not an IDX file: {len(raw)} bytes, expected at least a 4-byte magic number"
        )
    magic = int.from_bytes(raw[:4], "big")
    code, ndim = raw[2], raw[3]
    if raw[0] != 0 or raw[1] != 0 or code not in _IDX_TYPES:
        raise ValueError(
            f"{path}: bad IDX magic number 0x{magic:08x} ({magic}); expected 0x0000TTDD with "
            f"type code TT in {{{', '.join(f'0x{c:02x}' for c in _IDX_TYPES)}}}"
        )
    if expected_magic is not None and magic != expected_magic:
        raise ValueError(
            f"{path}: magic number {magic} (0x{magic:08x}), expected {expected_magic} "
            f"(0x{expected_magic:08x}) for {what}"
        )
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(
            f"{path}: truncated IDX header: {len(raw)} bytes, expected {header} "
            f"(magic + {ndim} dimension sizes)"
        )
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = _IDX_TYPES[code]
    count = math.prod(dims)
    expected = count * dtype.itemsize
    actual = len(raw) - header
    if actual != expected:
        problem = "truncated" if actual < expected else "has trailing bytes"
        raise ValueError(
            f"{path}: payload is {actual} bytes but the header (dims {tuple(dims)}, "
            f"{dtype.newbyteorder('=').name}) implies {expected} bytes: the file {problem}"
        )
    data = np.frombuffer(raw, dtype=dtype, count=count, offset=header).reshape(dims)
    # native byte order, writable (frombuffer over bytes is read-only)
    return data.astype(dtype.newbyteorder("="))


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (raw or gzipped) into an array of its stored type and shape.

    The header is validated: zero magic bytes, a known type code, and a payload size equal to the
    product of the dimensions times the item size; otherwise ValueError naming the file.
    """
    path = Path(path)
    return _parse_idx(_read_bytes(path), path)


_MNIST_FILES = {
    True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dims
_LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dim


class MNIST(Dataset):
    """MNIST read from IDX files in ``root`` (or torchvision's ``root/MNIST/raw``).

    torchvision's signature and default split: ``train=True`` reads ``train-images-idx3-ubyte``
    and ``train-labels-idx1-ubyte`` (60,000 images), ``train=False`` the ``t10k-`` files (10,000),
    each raw or gzipped (``.gz``, preferred when both exist). Nothing is downloaded, ever:
    ``download=True`` only changes the error message when the files are missing (it says where to
    put which files); with the files in place it is accepted and does nothing, as torchvision
    does once its download is done.

    Attributes: ``data`` float32 (N, 1, 28, 28) in [0, 1]; ``targets`` int64 (N,).
    ``ds[i]`` is ``(image (1, 28, 28) float32, label int)`` after ``transform`` /
    ``target_transform``.
    """

    classes = [
        "0 - zero", "1 - one", "2 - two", "3 - three", "4 - four",
        "5 - five", "6 - six", "7 - seven", "8 - eight", "9 - nine",
    ]  # fmt: skip

    def __init__(
        self,
        root: str | os.PathLike,
        train: bool = True,
        transform: Callable[[np.ndarray], Any] | None = None,
        target_transform: Callable[[int], Any] | None = None,
        download: bool = False,
    ) -> None:
        self.root = Path(root).expanduser()
        self.train = bool(train)
        self.transform = transform
        self.target_transform = target_transform
        images_path, labels_path = self._find(bool(download))
        images = _parse_idx(
            _read_bytes(images_path), images_path, _IMAGES_MAGIC, "MNIST images (idx3-ubyte)"
        )
        labels = _parse_idx(
            _read_bytes(labels_path), labels_path, _LABELS_MAGIC, "MNIST labels (idx1-ubyte)"
        )
        if images.shape[1:] != (28, 28):
            raise ValueError(
                f"{images_path}: images are {images.shape[1]}x{images.shape[2]}, expected 28x28"
            )
        if images.shape[0] != labels.shape[0]:
            raise ValueError(
                f"MNIST: {images_path} holds {images.shape[0]} images but {labels_path} holds "
                f"{labels.shape[0]} labels"
            )
        if labels.size and labels.max() > 9:
            raise ValueError(f"{labels_path}: label {labels.max()} out of range, expected 0..9")
        self.data = (images.astype(np.float32) / np.float32(255.0))[:, None]
        self.targets = labels.astype(np.int64)

    def _folders(self) -> list[Path]:
        return [self.root, self.root / "MNIST" / "raw"]

    @staticmethod
    def _in(folder: Path, name: str) -> Path | None:
        for candidate in (folder / f"{name}.gz", folder / name):
            if candidate.is_file():
                return candidate
        return None

    def _find(self, download: bool) -> tuple[Path, Path]:
        """(images, labels) of the split, both from the same folder."""
        names = _MNIST_FILES[self.train]
        for folder in self._folders():
            found = [self._in(folder, name) for name in names]
            if all(found):
                return found[0], found[1]  # type: ignore[return-value]
        raise FileNotFoundError(self._missing_message(download))

    def _missing_message(self, download: bool) -> str:
        split = "train" if self.train else "test"
        wanted = " and ".join(f"{n}[.gz]" for n in _MNIST_FILES[self.train])
        folders = " or ".join(str(f) for f in self._folders())
        present = [str(p) for f in self._folders() for n in _MNIST_FILES[self.train]
                   if (p := self._in(f, n)) is not None]
        lines = [
            f"MNIST(train={self.train}): the {split} split needs {wanted} in {folders}.",
        ]
        if not self.root.is_dir():
            lines.append(f"The folder {self.root} does not exist.")
        elif present:
            lines.append(f"Found only {', '.join(present)}.")
        other = _MNIST_FILES[not self.train]
        if any(self._in(f, n) for f in self._folders() for n in other):
            lines.append(f"The folder holds the {'test' if self.train else 'train'} split "
                         f"({other[0]}): pass train={not self.train} to read it.")
        if download:
            lines.append(
                "minigrad downloads nothing (download=True only asks for this message): get "
                "the four IDX files of MNIST (e.g. from a mirror of Yann LeCun's MNIST page, or "
                f"once with torchvision.datasets.MNIST({str(self.root)!r}, download=True), which "
                "puts them in MNIST/raw) and put them in one of those folders."
            )
        return " ".join(lines)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        image: Any = self.data[index]
        target: Any = int(self.targets[index])
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target

    def __len__(self) -> int:
        return self.data.shape[0]

    def _gather_fields(self, indices: np.ndarray) -> tuple[np.ndarray, ...] | None:
        if (
            self.transform is not None
            or self.target_transform is not None
            or type(self).__getitem__ is not MNIST.__getitem__
        ):
            return None
        return self.data[indices], self.targets[indices]

    def __repr__(self) -> str:
        split = "train" if self.train else "test"
        return f"MNIST(root={str(self.root)!r}, split={split!r}, n={len(self)})"
