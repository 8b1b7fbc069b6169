"""Convolutions: ``conv2d``, ``conv1d``, ``conv_transpose2d`` (PyTorch names, arguments, layouts).

Three Functions, each the others' derivative, so gradients of gradients work
(``create_graph=True``):

    Conv2d            y  = conv(x, w) + b     dx = ConvTranspose2d(gy, w)
                                              dw = Conv2dWeightGrad(x, gy),  db = sum gy
    ConvTranspose2d   z  = conv^T(g, w)       dg = Conv2d(gz, w)
                                              dw = Conv2dWeightGrad(gz, g)
    Conv2dWeightGrad  gw = corr(x, g)         dx = ConvTranspose2d(g, ggw)
                                              dg = Conv2d(x, ggw)

All three are bilinear, which is why the set closes. The kernels live in
:mod:`minigrad.ops.kernels.cpu.conv` and :mod:`minigrad.ops.kernels.cuda.conv` (``kernels_for``
picks the one for the input's device).

Shapes: input (N, C, H, W) (or unbatched (C, H, W)), weight (K, C // groups, R, S),
output (N, K, OH, OW) with ``OH = conv_output_size(H, R, stride, padding, dilation)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minigrad.autograd import Function
from minigrad.ops.kernels import kernels_for
from minigrad.ops.registry import OpInfo, register
from minigrad.tensor import Tensor

__all__ = ["conv2d", "conv1d", "conv_transpose2d", "conv_output_size",
           "Conv2d", "ConvTranspose2d", "Conv2dWeightGrad"]

Pair = tuple[int, int]
Quad = tuple[int, int, int, int]


def conv_output_size(n: int, f: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Length of a convolution's output along one axis.

    ``(n + 2*padding - dilation*(f - 1) - 1) // stride + 1`` for an input of length ``n`` and a
    kernel of length ``f``: the dilated kernel spans ``dilation*(f-1) + 1`` positions and slides
    over the padded input in steps of ``stride``. Example: ``conv_output_size(28, 5, padding=2)``
    is 28 ("same"); ``conv_output_size(64, 3, stride=2, padding=1)`` is 32.
    """
    return (n + 2 * padding - dilation * (f - 1) - 1) // stride + 1


# ------------------------------------------------------------------------------------------------
# Functions (forward on arrays, backward through each other)


class Conv2d(Function):
    """y = x (*) w + b. x: (N, C, H, W), w: (K, C//groups, R, S), b: (K,) or None."""

    @staticmethod
    def forward(ctx, x, w, b, *, stride: Pair, padding: Quad, dilation: Pair, groups: int):
        ctx.save_for_backward(x, w)
        ctx.geometry = (stride, padding, dilation, groups)
        bias = None if b is None else b.data
        return kernels_for(x.data).conv.conv2d_forward(x.data, w.data, stride, padding, dilation,
                                                       groups, bias=bias)

    @staticmethod
    def backward(ctx, gy):
        x, w = ctx.saved_tensors
        stride, padding, dilation, groups = ctx.geometry
        geo = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
        need_x, need_w, need_b = ctx.needs_input_grad
        gx = ConvTranspose2d.apply(gy, w, input_hw=x.shape[2:], **geo) if need_x else None
        gw = Conv2dWeightGrad.apply(x, gy, kernel_hw=w.shape[2:], **geo) if need_w else None
        gb = gy.sum(axis=(0, 2, 3)) if need_b else None
        return gx, gw, gb


class ConvTranspose2d(Function):
    """z = conv2d's input gradient: g (N, K, OH, OW), w (K, C//groups, R, S) -> (N, C, H, W).

    This is also conv_transpose2d's forward (its weight layout (C_in, C_out//groups, R, S) is
    exactly conv2d's (K, C//groups, R, S)).
    """

    @staticmethod
    def forward(ctx, g, w, *, input_hw: Pair, stride: Pair, padding: Quad, dilation: Pair,
                groups: int):
        ctx.save_for_backward(g, w)
        ctx.geometry = (stride, padding, dilation, groups)
        return kernels_for(g.data).conv.conv2d_grad_input(g.data, w.data, tuple(input_hw), stride,
                                                          padding, dilation, groups)

    @staticmethod
    def backward(ctx, gz):
        g, w = ctx.saved_tensors
        stride, padding, dilation, groups = ctx.geometry
        geo = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
        need_g, need_w = ctx.needs_input_grad
        gg = _conv_like(g, gz, w, geo) if need_g else None
        gw = Conv2dWeightGrad.apply(gz, g, kernel_hw=w.shape[2:], **geo) if need_w else None
        return gg, gw


class Conv2dWeightGrad(Function):
    """gw = conv2d's weight gradient: x (N, C, H, W), g (N, K, OH, OW) -> (K, C//groups, R, S)."""

    @staticmethod
    def forward(ctx, x, g, *, kernel_hw: Pair, stride: Pair, padding: Quad, dilation: Pair,
                groups: int):
        ctx.save_for_backward(x, g)
        ctx.geometry = (stride, padding, dilation, groups)
        return kernels_for(x.data).conv.conv2d_grad_weight(x.data, g.data, tuple(kernel_hw),
                                                           stride, padding, dilation, groups)

    @staticmethod
    def backward(ctx, ggw):
        x, g = ctx.saved_tensors
        stride, padding, dilation, groups = ctx.geometry
        geo = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
        need_x, need_g = ctx.needs_input_grad
        gx = ConvTranspose2d.apply(g, ggw, input_hw=x.shape[2:], **geo) if need_x else None
        gg = _conv_like(g, x, ggw, geo) if need_g else None
        return gx, gg


def _conv_like(g: Tensor, x: Tensor, w: Tensor, geo: dict[str, Any]) -> Tensor:
    """conv2d(x, w) cut to ``g``'s spatial shape.

    The convolution of a conv_transpose2d output can be one row/column larger than the
    transpose's input: ``output_padding`` adds rows that no input pixel reached, and their
    windows belong to no element of ``g``.
    """
    y = Conv2d.apply(x, w, None, **geo)
    oh, ow = g.shape[2:]
    return y if y.shape[2:] == (oh, ow) else y[:, :, :oh, :ow]


# ------------------------------------------------------------------------------------------------
# argument checking (everything is validated before any kernel runs)


def _tensor(op: str, name: str, t: Any) -> Tensor:
    if isinstance(t, np.ndarray):
        t = Tensor._make(t)
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}: {name} must be a Tensor, got {type(t).__name__}")
    if not np.issubdtype(t.dtype, np.floating):
        raise TypeError(f"{op}: {name} must be a floating-point tensor, got dtype {t.dtype} "
                        f"(convert with .float())")
    return t


def _pair(op: str, name: str, v: Any, n: int, minimum: int) -> tuple[int, ...]:
    """An int or a length-``n`` sequence of ints, each >= ``minimum``."""
    vals = (v,) * n if isinstance(v, int | np.integer) else v
    if (not isinstance(vals, tuple | list) or len(vals) != n
            or not all(isinstance(a, int | np.integer) and not isinstance(a, bool)
                       for a in vals)):
        shape = "an int" if n == 1 else f"an int or a tuple of {n} ints"
        raise ValueError(f"{op}: {name} must be {shape}, got {v!r}")
    if any(a < minimum for a in vals):
        raise ValueError(f"{op}: {name} must be >= {minimum}, got {v!r}")
    return tuple(int(a) for a in vals)


_PAD_MODES = ("valid", "same", "full")


def _padding(op: str, padding: Any, kernel: tuple[int, ...], stride: tuple[int, ...],
             dilation: tuple[int, ...]) -> tuple[int, ...]:
    """Per-axis (lo, hi) pairs flattened: (top, bottom, left, right) in 2-D, (lo, hi) in 1-D."""
    n = len(kernel)
    if isinstance(padding, str):
        if padding not in _PAD_MODES:
            raise ValueError(f"{op}: padding must be an int, a tuple or one of {_PAD_MODES}, "
                             f"got {padding!r}")
        out: list[int] = []
        for f, s, d in zip(kernel, stride, dilation):
            total = d * (f - 1)
            if padding == "valid":
                out += [0, 0]
            elif padding == "full":
                out += [total, total]
            else:
                if s != 1:
                    raise ValueError(f"{op}: padding='same' needs stride 1 (as in PyTorch), got "
                                     f"stride={stride}")
                # PyTorch puts the odd extra row/column at the bottom/right
                out += [total // 2, total - total // 2]
        return tuple(out)
    pads = _pair(op, "padding", padding, n, 0)
    return tuple(p for p in pads for _ in range(2))


def _check_bias(op: str, bias: Any, channels: int, dtype: np.dtype) -> Tensor | None:
    if bias is None:
        return None
    bias = _tensor(op, "bias", bias)
    if bias.shape != (channels,):
        raise ValueError(f"{op}: bias must have shape ({channels},) (one per output channel), "
                         f"got {bias.shape}")
    return bias if bias.dtype == dtype else bias.astype(dtype)


def _common_dtype(*ts: Tensor) -> list[Tensor]:
    dt = np.result_type(*(t.dtype for t in ts))
    return [t if t.dtype == dt else t.astype(dt) for t in ts]


def _check_geometry(op: str, x_shape: tuple[int, ...], w_shape: tuple[int, ...],
                    pads: tuple[int, ...], dilation: tuple[int, ...]) -> None:
    """The dilated kernel must fit in the padded input along every spatial axis."""
    spatial = x_shape[2:]
    for ax, (n, f, d) in enumerate(zip(spatial, w_shape[2:], dilation)):
        span = d * (f - 1) + 1
        padded = n + pads[2 * ax] + pads[2 * ax + 1]
        if span > padded:
            raise ValueError(
                f"{op}: kernel {tuple(w_shape[2:])} with dilation {tuple(dilation)} spans "
                f"{span} along spatial axis {ax}, larger than the padded input ({padded} = {n} + "
                f"padding {pads[2 * ax]} + {pads[2 * ax + 1]}); input {tuple(x_shape)}, weight "
                f"{tuple(w_shape)}")


def _check_conv_args(op: str, x: Tensor, w: Tensor, groups: Any, spatial: int) -> int:
    nd = spatial + 2
    if w.ndim != nd:
        raise ValueError(f"{op}: weight must be {nd}-D (out_channels, in_channels/groups, "
                         f"{'kH, kW' if spatial == 2 else 'kL'}), got shape {w.shape}")
    if x.ndim != nd:
        raise ValueError(f"{op}: input must be {nd}-D (N, C, {'H, W' if spatial == 2 else 'L'}) "
                         f"or {nd - 1}-D unbatched, got shape {x.shape}")
    if not isinstance(groups, int | np.integer) or isinstance(groups, bool) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
    groups = int(groups)
    c, k = x.shape[1], w.shape[0]
    if c % groups or k % groups:
        raise ValueError(f"{op}: groups={groups} must divide both the input channels ({c}, input "
                         f"{x.shape}) and the output channels ({k}, weight {w.shape})")
    if w.shape[1] * groups != c:
        raise ValueError(f"{op}: input {x.shape} has {c} channels but weight {w.shape} expects "
                         f"{w.shape[1]} per group x groups={groups} = {w.shape[1] * groups}")
    return groups


def _batched(op: str, x: Tensor, nd: int) -> tuple[Tensor, bool]:
    """Accept PyTorch's unbatched inputs (one dim fewer) by adding a batch axis of 1."""
    if x.ndim == nd - 1:
        return x.reshape(1, *x.shape), True
    return x, False


# ------------------------------------------------------------------------------------------------
# public ops


def conv2d(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
           dilation: Any = 1, groups: int = 1) -> Tensor:
    """2-D cross-correlation, as ``torch.nn.functional.conv2d``.

    input: (N, C, H, W) or (C, H, W); weight: (K, C // groups, R, S); bias: (K,) or None.
    stride, dilation: int or (h, w), >= 1. padding: int or (h, w) zeros on both sides, or
    ``'valid'`` (none), ``'same'`` (output size = input size; stride must be 1, as in PyTorch;
    with an even kernel the extra row/column goes at the bottom/right), or ``'full'``
    (``dilation*(k-1)`` on each side: every partial overlap). Returns (N, K, OH, OW) with
    ``OH = conv_output_size(H, R, stride, padding, dilation)``.
    """
    op = "conv2d"
    x = _tensor(op, "input", input)
    w = _tensor(op, "weight", weight)
    x, unbatched = _batched(op, x, 4)
    groups = _check_conv_args(op, x, w, groups, 2)
    stride = _pair(op, "stride", stride, 2, 1)
    dilation = _pair(op, "dilation", dilation, 2, 1)
    pads = _padding(op, padding, w.shape[2:], stride, dilation)
    _check_geometry(op, x.shape, w.shape, pads, dilation)
    b = _check_bias(op, bias, w.shape[0], np.result_type(x.dtype, w.dtype))
    x, w = _common_dtype(x, w)
    y = Conv2d.apply(x, w, b, stride=stride, padding=pads, dilation=dilation, groups=groups)
    return y.reshape(*y.shape[1:]) if unbatched else y


def conv1d(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
           dilation: Any = 1, groups: int = 1) -> Tensor:
    """1-D cross-correlation, as ``torch.nn.functional.conv1d``.

    input: (N, C, L) or (C, L); weight: (K, C // groups, F); bias: (K,) or None. Options as in
    :func:`conv2d` (ints). Runs as a conv2d over a unit height axis (the reshapes are views), so
    one set of kernels is tuned and tested.
    """
    op = "conv1d"
    x = _tensor(op, "input", input)
    w = _tensor(op, "weight", weight)
    x, unbatched = _batched(op, x, 3)
    groups = _check_conv_args(op, x, w, groups, 1)
    (stride,) = _pair(op, "stride", stride, 1, 1)
    (dilation,) = _pair(op, "dilation", dilation, 1, 1)
    lo, hi = _padding(op, padding, w.shape[2:], (stride,), (dilation,))
    _check_geometry(op, x.shape, w.shape, (lo, hi), (dilation,))
    b = _check_bias(op, bias, w.shape[0], np.result_type(x.dtype, w.dtype))
    x, w = _common_dtype(x, w)
    n, c, length = x.shape
    y = Conv2d.apply(x.reshape(n, c, 1, length), w.reshape(*w.shape[:2], 1, w.shape[2]), b,
                     stride=(1, stride), padding=(0, 0, lo, hi), dilation=(1, dilation),
                     groups=groups)
    y = y.reshape(n, y.shape[1], y.shape[3])
    return y.reshape(*y.shape[1:]) if unbatched else y


def conv_transpose2d(input: Any, weight: Any, bias: Any = None, stride: Any = 1,
                     padding: Any = 0, output_padding: Any = 0, groups: int = 1,
                     dilation: Any = 1) -> Tensor:
    """Transposed 2-D convolution (the gradient of conv2d w.r.t. its input), as
    ``torch.nn.functional.conv_transpose2d``.

    input: (N, C_in, H, W) or unbatched; weight: (C_in, C_out // groups, R, S) (PyTorch's layout);
    bias: (C_out,) or None. ``padding`` (int or pair) removes that many rows/columns from each
    side of the full output (it is the padding of the conv2d this op is the transpose of);
    ``output_padding`` adds rows/columns at the bottom/right and must be smaller than stride or
    dilation. Output size: ``(H - 1)*stride - 2*padding + dilation*(R - 1) + output_padding + 1``.
    """
    op = "conv_transpose2d"
    x = _tensor(op, "input", input)
    w = _tensor(op, "weight", weight)
    x, unbatched = _batched(op, x, 4)
    if w.ndim != 4:
        raise ValueError(f"{op}: weight must be 4-D (in_channels, out_channels/groups, kH, kW), "
                         f"got shape {w.shape}")
    if x.ndim != 4:
        raise ValueError(f"{op}: input must be 4-D (N, C, H, W) or 3-D unbatched, got shape "
                         f"{x.shape}")
    if not isinstance(groups, int | np.integer) or isinstance(groups, bool) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
    groups = int(groups)
    c_in = x.shape[1]
    if w.shape[0] != c_in:
        raise ValueError(f"{op}: input {x.shape} has {c_in} channels but weight {w.shape} "
                         f"expects {w.shape[0]} (weight layout: in_channels first)")
    if c_in % groups:
        raise ValueError(f"{op}: groups={groups} must divide the input channels ({c_in}, input "
                         f"{x.shape})")
    stride = _pair(op, "stride", stride, 2, 1)
    dilation = _pair(op, "dilation", dilation, 2, 1)
    if isinstance(padding, str):
        raise ValueError(f"{op}: padding must be an int or a pair (no string modes, as in "
                         f"PyTorch), got {padding!r}")
    pad = _pair(op, "padding", padding, 2, 0)
    out_pad = _pair(op, "output_padding", output_padding, 2, 0)
    for ax in range(2):
        if out_pad[ax] >= max(stride[ax], dilation[ax]):
            raise ValueError(f"{op}: output_padding {out_pad} must be smaller than stride "
                             f"{stride} or dilation {dilation} along each axis")
    out_hw = tuple(
        (x.shape[2 + ax] - 1) * stride[ax] - 2 * pad[ax] + dilation[ax] * (w.shape[2 + ax] - 1)
        + out_pad[ax] + 1
        for ax in range(2)
    )
    if min(out_hw) < 1:
        raise ValueError(f"{op}: output size {out_hw} is empty: padding {pad} crops more than "
                         f"the full output of input {x.shape} with weight {w.shape}")
    c_out = w.shape[1] * groups
    b = _check_bias(op, bias, c_out, np.result_type(x.dtype, w.dtype))
    x, w = _common_dtype(x, w)
    y = ConvTranspose2d.apply(x, w, input_hw=out_hw, stride=stride,
                              padding=(pad[0], pad[0], pad[1], pad[1]), dilation=dilation,
                              groups=groups)
    if b is not None:
        y = y + b.reshape(1, c_out, 1, 1)
    return y.reshape(*y.shape[1:]) if unbatched else y


# ------------------------------------------------------------------------------------------------
# registry


def _ref(name: str):
    """The independent NumPy-loop references (minigrad/testing/conv_reference.py), imported
    only when a test calls a registry ``ref``."""

    def call(*args: Any, **kwargs: Any) -> np.ndarray:
        from minigrad.testing import conv_reference

        return getattr(conv_reference, name)(*args, **kwargs)

    call.__name__ = name
    return call


def _conv_samples(spatial: int, transpose: bool = False):
    """Small convolutions: numel per input <= ~200, every stride/padding/dilation/group option."""
    from hypothesis import assume
    from hypothesis import strategies as st

    from minigrad.ops.registry import Sample
    from minigrad.testing import strategies as S

    @st.composite
    def sample(draw):
        groups = draw(st.integers(1, 2), label="groups")
        cg = draw(st.integers(1, 2), label="in_channels_per_group")
        kg = draw(st.integers(1, 2), label="out_channels_per_group")
        n = draw(st.integers(1, 2), label="batch")
        sizes = tuple(draw(st.integers(1, 6), label="size") for _ in range(spatial))
        kernel = tuple(draw(st.integers(1, 3), label="kernel") for _ in range(spatial))
        stride = tuple(draw(st.integers(1, 2), label="stride") for _ in range(spatial))
        dilation = tuple(draw(st.integers(1, 2), label="dilation") for _ in range(spatial))
        kwargs: dict[str, Any] = {"groups": groups}
        if transpose:
            pad = tuple(draw(st.integers(0, 1), label="padding") for _ in range(spatial))
            out_pad = tuple(draw(st.integers(0, max(s, d) - 1), label="output_padding")
                            for s, d in zip(stride, dilation))
            out = [(i - 1) * s - 2 * p + d * (f - 1) + op + 1
                   for i, s, p, d, f, op in zip(sizes, stride, pad, dilation, kernel, out_pad)]
            assume(min(out) >= 1)
            kwargs.update(stride=stride, padding=pad, output_padding=out_pad, dilation=dilation)
            x_shape = (n, groups * cg, *sizes)
            w_shape = (groups * cg, kg, *kernel)
            c_out = groups * kg
        else:
            mode = draw(st.sampled_from(["int", "tuple", "valid", "same", "full"]),
                             label="padding_kind")
            if mode == "same":
                stride = (1,) * spatial
                pad_arg: Any = "same"
                pads = [d * (f - 1) for f, d in zip(kernel, dilation)]
            elif mode in ("valid", "full"):
                pad_arg = mode
                pads = [0 if mode == "valid" else 2 * d * (f - 1)
                        for f, d in zip(kernel, dilation)]
            else:
                per = tuple(draw(st.integers(0, 2), label="padding") for _ in range(spatial))
                pad_arg = per[0] if mode == "int" else per
                pads = [2 * (per[0] if mode == "int" else p) for p in per]
            fits = all(d * (f - 1) + 1 <= i + p
                       for i, f, d, p in zip(sizes, kernel, dilation, pads))
            assume(fits)
            if spatial == 1:
                stride, dilation = stride[0], dilation[0]
            kwargs.update(stride=stride, padding=pad_arg, dilation=dilation)
            x_shape = (n, groups * cg, *sizes)
            w_shape = (groups * kg, cg, *kernel)
            c_out = groups * kg
        x = draw(S.arrays(x_shape), label="input")
        w = draw(S.arrays(w_shape), label="weight")
        args: tuple[Any, ...] = (x, w)
        if draw(st.booleans(), label="bias"):
            args += (draw(S.arrays((c_out,)), label="bias"),)
        return Sample(args=args, kwargs=kwargs)

    return sample()


register(OpInfo("conv2d", conv2d, lambda: _conv_samples(2), ref=_ref("conv2d"),
                kinks="none: bilinear in input and weight, linear in bias"))
register(OpInfo("conv1d", conv1d, lambda: _conv_samples(1), ref=_ref("conv1d"),
                kinks="none: bilinear in input and weight, linear in bias"))
register(OpInfo("conv_transpose2d", conv_transpose2d, lambda: _conv_samples(2, transpose=True),
                ref=_ref("conv_transpose2d"),
                kinks="none: bilinear in input and weight, linear in bias"))
