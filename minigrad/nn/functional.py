"""Stateless layer maths with PyTorch names and signatures: ``import minigrad.nn.functional as F``.

The ops live in ``minigrad.ops`` (each a ``Function`` with its backward and kinks); this
module re-exports them, and adds the two compositions of core ops that have no kernel of their
own: :func:`linear` and :func:`pad`. ``nn`` modules hold parameters and call these.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from minigrad import _hints
from minigrad.ops import linalg as _linalg
from minigrad.ops.activation import (
    celu,
    elu,
    gelu,
    hardtanh,
    leaky_relu,
    logsigmoid,
    maxout,
    relu,
    relu6,
    selu,
    sigmoid,
    silu,
    softplus,
    tanh,
)
from minigrad.ops.conv import conv1d, conv2d, conv_transpose1d, conv_transpose2d
from minigrad.ops.dropout import dropout, dropout2d
from minigrad.ops.embedding import embedding, embedding_bag
from minigrad.ops.fold import fold, unfold
from minigrad.ops.linalg import _check_linear
from minigrad.ops.loss import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cosine_embedding_loss,
    cosine_similarity,
    cross_entropy,
    ctc_loss,
    huber_loss,
    kl_div,
    l1_loss,
    margin_ranking_loss,
    mse_loss,
    nll_loss,
    pairwise_distance,
    smooth_l1_loss,
    triplet_margin_loss,
)
from minigrad.ops.normalization import (
    batch_norm,
    group_norm,
    instance_norm,
    layer_norm,
    rms_norm,
)
from minigrad.ops.pool import (
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    adaptive_max_pool1d,
    adaptive_max_pool2d,
    avg_pool1d,
    avg_pool2d,
    global_avg_pool2d,
    max_pool1d,
    max_pool2d,
    max_unpool2d,
)
from minigrad.ops.shape import pad as _core_pad
from minigrad.ops.softmax import log_softmax, softmax
from minigrad.ops.upsample import interpolate, pixel_shuffle, pixel_unshuffle
from minigrad.tensor import Tensor

# issue 15, sequence models (h15b)
from minigrad.ops.attention import scaled_dot_product_attention  # isort: skip
# isort: split
# -- issue 14 (h14a): more activations --------------------------------------------------------
from minigrad.ops.activation_extra import (
    glu,
    hardshrink,
    hardsigmoid,
    hardswish,
    mish,
    softmin,
    softshrink,
    softsign,
    tanhshrink,
    threshold,
)

__all__ = [
    "linear", "pad",
    "conv1d", "conv2d", "conv_transpose2d", "conv_transpose1d",
    "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "global_avg_pool2d", "max_unpool2d",
    "relu", "relu6", "leaky_relu", "elu", "selu", "celu", "sigmoid", "logsigmoid", "tanh",
    "silu", "gelu", "softplus", "hardtanh", "maxout", "softmax", "log_softmax",
    "cross_entropy", "nll_loss", "mse_loss", "l1_loss", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "dropout", "dropout2d", "batch_norm",
    # issue 15: normalisation, embeddings, losses
    "layer_norm", "group_norm", "instance_norm", "rms_norm", "embedding", "embedding_bag",
    "kl_div", "huber_loss", "smooth_l1_loss", "margin_ranking_loss", "cosine_embedding_loss",
    "triplet_margin_loss", "cosine_similarity", "pairwise_distance", "ctc_loss",
    # upsampling and dense prediction
    "interpolate", "pixel_shuffle", "pixel_unshuffle", "unfold", "fold", "max_pool1d",
    "avg_pool1d", "adaptive_avg_pool1d", "adaptive_max_pool1d", "adaptive_max_pool2d",
    # issue 14 (h14a)
    "hardsigmoid", "hardswish", "softsign", "mish", "tanhshrink", "softshrink", "hardshrink",
    "threshold", "softmin", "glu",
    # issue 15, sequence models (h15b)
    "scaled_dot_product_attention",
]


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``input @ weight.T + bias``.

    input: (*, in_features)   weight: (out_features, in_features)   bias: (out_features,)
    returns: (*, out_features)
    """
    if not isinstance(input, Tensor) or not isinstance(weight, Tensor):
        raise TypeError(f"linear: input and weight must be Tensors, got "
                        f"{type(input).__name__} and {type(weight).__name__}")
    _check_linear("linear", input, weight, bias)
    nd = input.ndim
    if nd >= 2:
        # one (N*..., in) @ (in, out) product instead of a batched matmul: a single BLAS call,
        # and the weight's gradient comes out (in, out) instead of one (in, out) per batch row
        # summed afterwards (measured 3x faster on (32, 128, 128) @ (128, 384), float32)
        x2 = input if nd == 2 else input.reshape(-1, input.shape[-1])
        y = _linalg.linear_fn(x2, weight, bias)  # one node (None: mixed dtypes, composed)
        if y is not None:
            return y if nd == 2 else y.reshape(*input.shape[:-1], weight.shape[0])
        y = x2 @ weight.T
        if nd > 2:
            y = y.reshape(*input.shape[:-1], weight.shape[0])
    else:
        y = input @ weight.T
    return y + bias if bias is not None else y


_PAD_MODES = ("constant", "reflect", "replicate", "circular")


def pad(input: Tensor, pad: Sequence[int], mode: str = "constant",
        value: float | None = None) -> Tensor:
    """Pad the last ``len(pad) // 2`` axes, PyTorch style: ``pad = (left, right)`` pads the last
    axis, ``(left, right, top, bottom)`` the last two, and so on (last axis first).

    mode: ``"constant"`` (with ``value``, default 0), ``"reflect"`` (mirror without repeating the
    edge; each pad < the axis length), ``"replicate"`` (repeat the edge) or ``"circular"`` (wrap
    around; each pad <= the axis length). Unlike PyTorch, the non-constant modes work on any
    axes, not only the last 1-3 of a batched tensor. A negative pad removes elements: in
    ``"constant"`` mode it crops that many; in the other modes the output covers positions
    ``-left .. n + right - 1`` of the input extended by the mode (PyTorch's rule: reflect
    ``(1, -1)`` of ``[a, b]`` is ``[b, a]``).
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"pad: input must be a Tensor, got {type(input).__name__}")
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2 or len(pad) // 2 > input.ndim:
        raise ValueError(f"pad: pad {pad} must have an even length of at most 2 * ndim = "
                         f"{2 * input.ndim} for input shape {input.shape}")
    if mode not in _PAD_MODES:
        raise ValueError(f"pad: mode must be one of {_PAD_MODES}, got {mode!r}")
    k = len(pad) // 2
    widths = [(0, 0)] * (input.ndim - k) + [(pad[2 * i], pad[2 * i + 1])
                                            for i in reversed(range(k))]
    if mode == "constant" and any(p < 0 for p in pad):  # negative constant padding crops
        crop = []
        for axis, (lo, hi) in enumerate(widths):
            n = input.shape[axis]
            cut_lo, cut_hi = max(-lo, 0), max(-hi, 0)
            if cut_lo + cut_hi > n:
                raise ValueError(f"pad: negative padding ({lo}, {hi}) of axis {axis} removes more "
                                 f"than its {n} elements (input shape {input.shape})")
            crop.append(slice(cut_lo, n - cut_hi))
        input = input[tuple(crop)]
        widths = [(max(lo, 0), max(hi, 0)) for lo, hi in widths]
    if mode == "constant":
        return _core_pad(input, widths, value=0.0 if value is None else value)
    if value is not None and value != 0:
        raise ValueError(f"pad: value is only used with mode='constant', not {mode!r}")
    out = input
    for axis, (lo, hi) in enumerate(widths):
        if lo == hi == 0:
            continue
        n = input.shape[axis]
        if n + lo + hi < (0 if mode == "circular" else 1):  # PyTorch's limits
            raise ValueError(f"pad: {mode} padding ({lo}, {hi}) of axis {axis} (length {n}) "
                             "leaves no elements")
        limit = n - 1 if mode == "reflect" else n
        if mode != "replicate" and (lo > limit or hi > limit):
            raise ValueError(f"pad: {mode} padding ({lo}, {hi}) of axis {axis} needs pads "
                             f"{'<' if mode == 'reflect' else '<='} the axis length {n}")
        if n == 0:
            raise ValueError(f"pad: cannot {mode}-pad the empty axis {axis}")
        idx = np.arange(-lo, n + hi)
        if mode == "reflect":
            idx = np.abs(idx)
            idx = np.where(idx > n - 1, 2 * (n - 1) - idx, idx)
        elif mode == "replicate":
            idx = np.clip(idx, 0, n - 1)
        else:
            idx = idx % n
        out = out[(slice(None),) * axis + (idx,)]
    return out


# -- issue 14 (h14b): normalize, one_hot ----------------------------------------------------------
def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Tensor:
    """``input / max(||input||_p, eps)`` along ``dim`` (``torch.nn.functional.normalize``):
    unit p-norm vectors; ``eps`` keeps an all-zero vector at zero."""
    from minigrad.ops import _args
    from minigrad.ops.reduce import vector_norm

    x = _args.float_tensor("normalize", "input", input)
    eps = _args.positive("normalize", "eps", eps)
    n = vector_norm(x, p, dim, keepdim=True)
    return x / n.clip(min=eps)


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """int64 ``(*tensor.shape, num_classes)`` with a 1 at each value's class (values in
    ``0..num_classes-1``; ``num_classes=-1``: ``max + 1``)."""
    from minigrad.ops.index import one_hot as _one_hot

    return _one_hot(tensor, num_classes)


__all__ += ["normalize", "one_hot"]
# -- end of issue 14 (h14b) ----------------------------------------------------------------------


# An unknown attribute whose PyTorch name we know gets a hint (`F.one_hot`: use `mg.eye(n)[t]`).
__getattr__ = _hints.module_getattr(__name__)
