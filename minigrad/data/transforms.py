"""Transforms: callables on NumPy arrays, applied to one image (C, H, W) or a batch (N, C, H, W).

On a batch, the random augmentations draw independently per sample, so transforming a batch has
the same distribution as transforming its images one by one; they are vectorised either way.
Random transforms take ``generator``: a numpy Generator, an int seed (a private Generator made
once, so a run repeats from its seed), or None for minigrad's global generator at call time.
Outputs keep a float input's dtype (float32 stays float32); integer input becomes float32 where
arithmetic is involved.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from minigrad.data._core import GeneratorLike, make_generator, resolve

__all__ = [
    "Compose",
    "Normalize",
    "Pad",
    "Resize",
    "resize_or_pad",
    "RandomCrop",
    "RandomHorizontalFlip",
    "RandomShift",
    "PCAWhitening",
    "ZCAWhitening",
]


def _as_batch(x: Any, owner: str) -> tuple[np.ndarray, bool]:
    """x as (N, C, H, W) and whether it was a batch already."""
    x = np.asarray(x)
    if x.ndim == 4:
        return x, True
    if x.ndim == 3:
        return x[None], False
    raise ValueError(
        f"{owner}: expected an image (C, H, W) or a batch (N, C, H, W), got shape {x.shape}"
    )


def _float_dtype(dtype: np.dtype) -> np.dtype:
    return dtype if dtype.kind == "f" else np.dtype(np.float32)


def _pair(size: int | Sequence[int], owner: str, name: str) -> tuple[int, int]:
    if isinstance(size, (int, np.integer)):
        pair = (int(size), int(size))
    else:
        pair = tuple(int(s) for s in size)
        if len(pair) != 2:
            raise ValueError(f"{owner}: {name} must be an int or (h, w), got {size!r}")
    if min(pair) <= 0:
        raise ValueError(f"{owner}: {name} must be positive, got {size!r}")
    return pair  # type: ignore[return-value]


def _padding(padding: int | Sequence[int], owner: str) -> tuple[int, int, int, int]:
    """torchvision's convention -> (left, top, right, bottom): an int pads all four sides,
    (a, b) pads left/right by a and top/bottom by b, four values are left, top, right, bottom."""
    if isinstance(padding, (int, np.integer)):
        p = (int(padding),) * 4
    else:
        vals = tuple(int(v) for v in padding)
        if len(vals) == 2:
            p = (vals[0], vals[1], vals[0], vals[1])
        elif len(vals) == 4:
            p = vals
        else:
            raise ValueError(f"{owner}: padding must be an int or 2 or 4 ints, got {padding!r}")
    if min(p) < 0:
        raise ValueError(f"{owner}: padding must be non-negative, got {padding!r}")
    return p  # type: ignore[return-value]


def _pad(x: np.ndarray, pad: tuple[int, int, int, int], fill: float) -> np.ndarray:
    """x: (N, C, H, W) -> (N, C, H + top + bottom, W + left + right)."""
    left, top, right, bottom = pad
    n, c, h, w = x.shape
    out = np.full((n, c, h + top + bottom, w + left + right), fill, dtype=x.dtype)
    out[:, :, top : top + h, left : left + w] = x
    return out


class Compose:
    """Apply ``transforms`` in order."""

    def __init__(self, transforms: Sequence[Callable[[Any], Any]]) -> None:
        self.transforms = list(transforms)

    def __call__(self, x: Any) -> Any:
        for t in self.transforms:
            x = t(x)
        return x

    def __repr__(self) -> str:
        inner = "".join(f"\n    {t!r}," for t in self.transforms)
        return f"Compose([{inner}\n])"


class Normalize:
    """``(x - mean[c]) / std[c]`` per channel; x: (..., C, H, W).

    mean, std: one value per channel, or a single value for all channels.
    """

    def __init__(
        self, mean: float | Sequence[float], std: float | Sequence[float], inplace: bool = False
    ) -> None:
        self.mean = np.atleast_1d(np.asarray(mean, dtype=np.float64))
        self.std = np.atleast_1d(np.asarray(std, dtype=np.float64))
        if self.mean.ndim != 1 or self.std.ndim != 1:
            raise ValueError(
                f"Normalize: mean and std must be scalars or 1-d, got shapes "
                f"{self.mean.shape} and {self.std.shape}"
            )
        if np.any(self.std == 0):
            raise ValueError(f"Normalize: std must be non-zero, got {std!r}")
        self.inplace = inplace

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        if x.ndim < 3:
            raise ValueError(f"Normalize: expected (..., C, H, W), got shape {x.shape}")
        c = x.shape[-3]
        for name, v in (("mean", self.mean), ("std", self.std)):
            if v.size not in (1, c):
                raise ValueError(
                    f"Normalize: {name} has {v.size} values but the input has {c} channels "
                    f"(shape {x.shape})"
                )
        dtype = _float_dtype(x.dtype)
        mean = self.mean.astype(dtype).reshape(-1, 1, 1)
        std = self.std.astype(dtype).reshape(-1, 1, 1)
        if self.inplace and x.dtype == dtype and x.flags.writeable:
            x -= mean
            x /= std
            return x
        return (x - mean) / std

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean.tolist()}, std={self.std.tolist()})"


class Pad:
    """Pad the last two axes with a constant ``fill``; padding as torchvision (int, (lr, tb), or
    (left, top, right, bottom)). x: (C, H, W) or (N, C, H, W)."""

    def __init__(self, padding: int | Sequence[int], fill: float = 0.0) -> None:
        self.padding = _padding(padding, "Pad")
        self.fill = fill

    def __call__(self, x: np.ndarray) -> np.ndarray:
        xb, batched = _as_batch(x, "Pad")
        out = _pad(xb, self.padding, self.fill)
        return out if batched else out[0]

    def __repr__(self) -> str:
        return f"Pad(padding={self.padding}, fill={self.fill})"


def _interp_matrix(n_in: int, n_out: int, mode: str, dtype: np.dtype) -> np.ndarray:
    """(n_out, n_in) matrix M with ``resized = M @ x`` along one axis.

    Sampling as PyTorch's ``interpolate`` with ``align_corners=False``: bilinear reads the input
    at ``(o + 0.5) * n_in / n_out - 0.5`` (clamped at 0, edge-replicated past the end); nearest
    takes ``floor(o * n_in / n_out)``.
    """
    scale = n_in / n_out
    o = np.arange(n_out)
    m = np.zeros((n_out, n_in), dtype=np.float64)
    if mode == "nearest":
        m[o, np.minimum(np.floor(o * scale).astype(np.int64), n_in - 1)] = 1.0
    else:
        src = np.maximum((o + 0.5) * scale - 0.5, 0.0)
        i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
        i1 = np.minimum(i0 + 1, n_in - 1)
        frac = src - i0
        np.add.at(m, (o, i0), 1.0 - frac)
        np.add.at(m, (o, i1), frac)
    return m.astype(dtype)


class Resize:
    """Resize the last two axes. x: (C, H, W) or (N, C, H, W) -> (..., h, w).

    size: (h, w), or an int that the smaller edge is matched to keeping the aspect ratio
    (torchvision); interpolation: "bilinear" (default, align_corners=False) or "nearest".
    Separable: two small matrix products, so a whole batch costs two matmuls.
    """

    def __init__(self, size: int | Sequence[int], interpolation: str = "bilinear") -> None:
        if interpolation not in ("bilinear", "nearest"):
            raise ValueError(
                f"Resize: interpolation must be 'bilinear' or 'nearest', got {interpolation!r}"
            )
        self.size = size if isinstance(size, (int, np.integer)) else _pair(size, "Resize", "size")
        if isinstance(self.size, (int, np.integer)) and self.size <= 0:
            raise ValueError(f"Resize: size must be positive, got {size!r}")
        self.interpolation = interpolation
        self._cache: dict[tuple[int, int, np.dtype], np.ndarray] = {}

    def _out_size(self, h: int, w: int) -> tuple[int, int]:
        if not isinstance(self.size, (int, np.integer)):
            return self.size
        short, long = (h, w) if h <= w else (w, h)
        new_short, new_long = int(self.size), int(int(self.size) * long / short)
        return (new_short, new_long) if h <= w else (new_long, new_short)

    def _matrix(self, n_in: int, n_out: int, dtype: np.dtype) -> np.ndarray:
        key = (n_in, n_out, dtype)
        if key not in self._cache:
            self._cache[key] = _interp_matrix(n_in, n_out, self.interpolation, dtype)
        return self._cache[key]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        xb, batched = _as_batch(x, "Resize")
        dtype = _float_dtype(xb.dtype)
        h, w = xb.shape[-2:]
        oh, ow = self._out_size(h, w)
        out = self._matrix(h, oh, dtype) @ xb.astype(dtype, copy=False)
        out = out @ self._matrix(w, ow, dtype).T
        return out if batched else out[0]

    def __repr__(self) -> str:
        return f"Resize(size={self.size}, interpolation={self.interpolation!r})"


def resize_or_pad(
    x: np.ndarray, size: int = 32, content: int = 28, interpolation: str = "bilinear"
) -> np.ndarray:
    """Bring small square images to LeNet's input: resize to ``content`` x ``content`` then pad
    with zeros to ``size`` x ``size`` (centred; an odd margin puts the extra pixel bottom/right).

    The default (bilinear 8x8 -> 28x28, 2-px zero margin -> 32x32) gives the digits MNIST's
    geometry as LeNet-5 saw it (a 28x28 digit box padded to 32x32); ``content=size`` resizes only,
    and ``content=size, interpolation="nearest"`` with a 4x factor is plain pixel replication.
    x: (C, H, W) or (N, C, H, W) -> (..., size, size).
    """
    if content > size or content <= 0:
        raise ValueError(
            f"resize_or_pad: need 0 < content <= size, got content={content}, size={size}"
        )
    out = Resize((content, content), interpolation)(x)
    margin = size - content
    if margin:
        lo = margin // 2
        out = Pad((lo, lo, margin - lo, margin - lo))(out)
    return out


def _random_windows(x: np.ndarray, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """One random (h, w) window per sample: x (N, C, H, W) -> (N, C, h, w), offsets uniform."""
    n, _, height, width = x.shape
    top = rng.integers(0, height - h + 1, size=n)
    left = rng.integers(0, width - w + 1, size=n)
    windows = sliding_window_view(x, (h, w), axis=(2, 3))  # (N, C, H-h+1, W-w+1, h, w), a view
    # advanced indices on axes 0, 2, 3 around a slice: the (N,) index axis comes first
    return np.ascontiguousarray(windows[np.arange(n), :, top, left])


class RandomCrop:
    """Crop a random ``size`` window, after optional constant padding (torchvision's
    ``RandomCrop(size, padding, fill=fill)``). x: (C, H, W) or (N, C, H, W) -> (..., h, w)."""

    def __init__(
        self,
        size: int | Sequence[int],
        padding: int | Sequence[int] | None = None,
        fill: float = 0.0,
        generator: GeneratorLike = None,
    ) -> None:
        self.size = _pair(size, "RandomCrop", "size")
        self.padding = None if padding is None else _padding(padding, "RandomCrop")
        self.fill = fill
        self.generator = make_generator(generator, "RandomCrop")

    def __call__(self, x: np.ndarray) -> np.ndarray:
        xb, batched = _as_batch(x, "RandomCrop")
        if self.padding is not None:
            xb = _pad(xb, self.padding, self.fill)
        h, w = self.size
        if h > xb.shape[2] or w > xb.shape[3]:
            raise ValueError(
                f"RandomCrop: crop size {self.size} is larger than the (padded) image "
                f"{xb.shape[2:]}"
            )
        out = _random_windows(xb, h, w, resolve(self.generator))
        return out if batched else out[0]

    def __repr__(self) -> str:
        return f"RandomCrop(size={self.size}, padding={self.padding})"


class RandomShift:
    """Translate by integer offsets drawn uniformly from [-max_shift, max_shift] on each axis,
    filling uncovered pixels with ``fill``; shape is kept. x: (C, H, W) or (N, C, H, W)."""

    def __init__(self, max_shift: int, fill: float = 0.0, generator: GeneratorLike = None) -> None:
        if not isinstance(max_shift, (int, np.integer)) or max_shift < 0:
            raise ValueError(f"RandomShift: max_shift must be an int >= 0, got {max_shift!r}")
        self.max_shift = int(max_shift)
        self.fill = fill
        self.generator = make_generator(generator, "RandomShift")

    def __call__(self, x: np.ndarray) -> np.ndarray:
        xb, batched = _as_batch(x, "RandomShift")
        h, w = xb.shape[2:]
        padded = _pad(xb, (self.max_shift,) * 4, self.fill)
        out = _random_windows(padded, h, w, resolve(self.generator))
        return out if batched else out[0]

    def __repr__(self) -> str:
        return f"RandomShift(max_shift={self.max_shift})"


class RandomHorizontalFlip:
    """Mirror the last axis with probability ``p`` (per sample in a batch).
    x: (C, H, W) or (N, C, H, W)."""

    def __init__(self, p: float = 0.5, generator: GeneratorLike = None) -> None:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"RandomHorizontalFlip: p must lie in [0, 1], got {p!r}")
        self.p = p
        self.generator = make_generator(generator, "RandomHorizontalFlip")

    def __call__(self, x: np.ndarray) -> np.ndarray:
        xb, batched = _as_batch(x, "RandomHorizontalFlip")
        flip = resolve(self.generator).random(xb.shape[0]) < self.p
        out = xb.copy()
        out[flip] = xb[flip][..., ::-1]
        return out if batched else out[0]

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip(p={self.p})"


class _Whitening:
    """Shared fit for PCA / ZCA whitening.

    ``fit(X)``: X (N, *feature_shape), flattened to (N, D); stores ``mean_`` (D,),
    ``eigenvalues_`` (D,) descending and ``eigenvectors_`` (D, D) (columns) of the covariance
    ``Xc.T @ Xc / N``, computed in float64. Eigenvalues are regularised by ``eps`` before the
    inverse square root: directions with variance << eps are damped instead of amplified (for
    images in [0, 1], eps around 1e-2..1e-1 is the usual choice to keep pixel noise down).
    """

    _name = "Whitening"

    def __init__(self, eps: float = 1e-5) -> None:
        if not eps >= 0:
            raise ValueError(f"{self._name}: eps must be >= 0, got {eps!r}")
        self.eps = float(eps)
        self.mean_: np.ndarray | None = None

    def fit(self, X: np.ndarray) -> _Whitening:
        X = np.asarray(X)
        if X.ndim < 2 or X.shape[0] < 2:
            raise ValueError(
                f"{self._name}.fit: expected X of shape (N, *features) with N >= 2, got {X.shape}"
            )
        self.feature_shape_ = X.shape[1:]
        xf = X.reshape(X.shape[0], -1).astype(np.float64)
        self.mean_ = xf.mean(axis=0)
        xc = xf - self.mean_
        cov = xc.T @ xc / xf.shape[0]
        vals, vecs = np.linalg.eigh(cov)
        order = np.argsort(vals)[::-1]
        # eigh may return tiny negative eigenvalues for rank-deficient data
        self.eigenvalues_ = np.maximum(vals[order], 0.0)
        self.eigenvectors_ = vecs[:, order]
        self._build()
        return self

    def _build(self) -> None:
        raise NotImplementedError

    def _flat(self, X: Any, what: str) -> tuple[np.ndarray, bool]:
        if self.mean_ is None:
            raise RuntimeError(f"{self._name}.{what}: call fit(X) first")
        X = np.asarray(X)
        fs = self.feature_shape_
        if X.shape == fs:
            return X.reshape(1, -1), False
        if X.shape[1:] == fs:
            return X.reshape(X.shape[0], -1), True
        raise ValueError(
            f"{self._name}.{what}: fitted on samples of shape {fs}, got an input of shape "
            f"{X.shape} (expected {fs} or (N, *{fs}))"
        )

    def _apply(self, xf: np.ndarray, w: np.ndarray, shift_in: bool) -> np.ndarray:
        dtype = _float_dtype(xf.dtype)
        mean = self.mean_.astype(dtype)
        w = w.astype(dtype)
        return (xf - mean) @ w if shift_in else xf @ w + mean

    def transform(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, X: np.ndarray) -> np.ndarray:
        return self.transform(X)

    def fit_transform(self, X: np.ndarray) -> np.ndarray:
        return self.fit(X).transform(X)

    def __repr__(self) -> str:
        return f"{self._name}(eps={self.eps})"


class PCAWhitening(_Whitening):
    """PCA whitening: coordinates along the covariance eigenvectors (largest variance first),
    each scaled to unit variance: ``(x - mean) @ U[:, :k] / sqrt(lambda[:k] + eps)``.

    Output is flat: samples ``(N, *feature_shape)`` -> (N, k); one sample -> (k,).
    n_components: k (default: all D).
    """

    _name = "PCAWhitening"

    def __init__(self, eps: float = 1e-5, n_components: int | None = None) -> None:
        super().__init__(eps)
        if n_components is not None and n_components <= 0:
            raise ValueError(f"PCAWhitening: n_components must be positive, got {n_components}")
        self.n_components = n_components

    def _build(self) -> None:
        d = self.eigenvalues_.shape[0]
        k = d if self.n_components is None else self.n_components
        if k > d:
            raise ValueError(f"PCAWhitening.fit: n_components={k} exceeds the {d} features")
        scale = np.sqrt(self.eigenvalues_[:k] + self.eps)
        self.components_ = self.eigenvectors_[:, :k]
        self.whiten_ = self.components_ / scale  # (D, k)
        self.unwhiten_ = (self.components_ * scale).T  # (k, D)

    def transform(self, X: np.ndarray) -> np.ndarray:
        xf, batched = self._flat(X, "transform")
        out = self._apply(xf, self.whiten_, shift_in=True)
        return out if batched else out[0]

    def inverse_transform(self, Z: np.ndarray) -> np.ndarray:
        """(N, k) or (k,) -> samples ``(N, *feature_shape)``; exact when k == D."""
        if self.mean_ is None:
            raise RuntimeError("PCAWhitening.inverse_transform: call fit(X) first")
        Z = np.asarray(Z)
        k = self.whiten_.shape[1]
        if Z.shape[-1] != k or Z.ndim not in (1, 2):
            raise ValueError(
                f"PCAWhitening.inverse_transform: expected (N, {k}) or ({k},), got {Z.shape}"
            )
        out = self._apply(Z.reshape(-1, k), self.unwhiten_, shift_in=False)
        out = out.reshape(-1, *self.feature_shape_)
        return out if Z.ndim == 2 else out[0]


class ZCAWhitening(_Whitening):
    """ZCA (Mahalanobis) whitening: ``(x - mean) @ U diag(1/sqrt(lambda + eps)) U.T``.

    Of all whitening maps, ZCA's output stays closest (least squares) to the centred input, so
    whitened images still look like images. Output keeps the input's shape:
    ``(N, *feature_shape)`` or one sample of feature_shape.
    """

    _name = "ZCAWhitening"

    def _build(self) -> None:
        u, lam = self.eigenvectors_, self.eigenvalues_
        self.whiten_ = (u / np.sqrt(lam + self.eps)) @ u.T  # (D, D), symmetric
        self.unwhiten_ = (u * np.sqrt(lam + self.eps)) @ u.T

    def transform(self, X: np.ndarray) -> np.ndarray:
        xf, batched = self._flat(X, "transform")
        out = self._apply(xf, self.whiten_, shift_in=True).reshape(-1, *self.feature_shape_)
        return out if batched else out[0]

    def inverse_transform(self, Z: np.ndarray) -> np.ndarray:
        """Undo ``transform`` (same shapes)."""
        zf, batched = self._flat(Z, "inverse_transform")
        out = self._apply(zf, self.unwhiten_, shift_in=False).reshape(-1, *self.feature_shape_)
        return out if batched else out[0]
