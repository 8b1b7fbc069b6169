"""Sliding blocks: ``unfold`` (im2col) and ``fold`` (col2im), as ``torch.nn.functional``'s.

``unfold`` copies every kernel-sized block of the (padded) input into a column:

    x: (N, C, H, W) -> cols: (N, C * kh * kw, L),  L = OH * OW blocks,
    cols[n, (c * kh + r) * kw + s, i * OW + j] = x[n, c, i*sh + r*dh - ph, j*sw + s*dw - pw]

so a convolution is ``weight.reshape(K, -1) @ unfold(x)`` reshaped to (N, K, OH, OW) (the
im2col convolution; ``examples/04_conv_arithmetic.py`` shows it). ``fold`` is its transpose: it
adds every column entry back onto its pixel, summing where blocks overlap, so
``fold(unfold(x))`` is ``x`` times the number of blocks covering each pixel.

    UnfoldFn  cols = im2col(x)   dx = FoldFn(gcols)
    FoldFn    y = col2im(cols)   dcols = UnfoldFn(gy)

Both linear, each the other's transpose: gradients of any order work. Unbatched inputs (one
dimension fewer) are accepted as in PyTorch.
"""

from __future__ import annotations

from typing import Any

from minigrad.autograd import Function
from minigrad.ops._args import float_tensor, ntuple
from minigrad.ops.kernels import kernels_for
from minigrad.ops.kernels.cpu.fold import fold_blocks
from minigrad.tensor import Tensor

__all__ = ["unfold", "fold", "UnfoldFn", "FoldFn"]

Pair = tuple[int, int]


class UnfoldFn(Function):
    """x: (N, C, H, W) -> (N, C * kh * kw, OH * OW)."""

    kinks = "none: linear in the input"

    @staticmethod
    def forward(ctx, x, *, kernel_size: Pair, dilation: Pair, padding: Pair, stride: Pair):
        ctx.geometry = dict(kernel_size=kernel_size, dilation=dilation, padding=padding,
                            stride=stride)
        ctx.input_hw = x.shape[2:]
        return kernels_for(x.data).fold.unfold(x.data, kernel_size, dilation, padding, stride)

    @staticmethod
    def backward(ctx, gcols):
        return FoldFn.apply(gcols, output_hw=ctx.input_hw, **ctx.geometry)


class FoldFn(Function):
    """cols: (N, C * kh * kw, L) -> (N, C, H, W), overlapping blocks summed."""

    @staticmethod
    def forward(ctx, cols, *, output_hw: Pair, kernel_size: Pair, dilation: Pair, padding: Pair,
                stride: Pair):
        ctx.geometry = dict(kernel_size=kernel_size, dilation=dilation, padding=padding,
                            stride=stride)
        return kernels_for(cols.data).fold.fold(cols.data, tuple(output_hw), kernel_size, dilation,
                                                padding, stride)

    @staticmethod
    def backward(ctx, gy):
        return UnfoldFn.apply(gy, **ctx.geometry)


def _geometry(op: str, kernel_size: Any, dilation: Any, padding: Any,
              stride: Any) -> tuple[Pair, Pair, Pair, Pair]:
    return (ntuple(op, "kernel_size", kernel_size, 2, minimum=1),
            ntuple(op, "dilation", dilation, 2, minimum=1),
            ntuple(op, "padding", padding, 2, minimum=0),
            ntuple(op, "stride", stride, 2, minimum=1))


def _blocks(op: str, hw: Pair, k: Pair, d: Pair, p: Pair, s: Pair, what: str) -> Pair:
    blocks = fold_blocks(hw, k, d, p, s)
    if min(blocks) < 1:
        raise ValueError(
            f"{op}: {what} {hw} with kernel_size={k}, dilation={d}, padding={p}, stride={s} has "
            f"{blocks} sliding blocks; the (dilated) kernel must fit in the padded input on "
            f"each axis")
    return blocks


def unfold(input: Tensor, kernel_size: int | Pair, dilation: int | Pair = 1,
           padding: int | Pair = 0, stride: int | Pair = 1) -> Tensor:
    """Extract sliding blocks into columns (im2col), as ``torch.nn.functional.unfold``.

    input: (N, C, H, W) or unbatched (C, H, W) -> (N, C * kh * kw, L) or (C * kh * kw, L), with
    L = OH * OW and ``OH = (H + 2 * padding - dilation * (kh - 1) - 1) // stride + 1``.
    kernel_size, dilation, stride: int or (h, w) pair >= 1; padding: zeros on both sides, >= 0.
    """
    op = "unfold"
    x = float_tensor(op, "input", input)
    if x.ndim not in (3, 4):
        raise ValueError(f"{op}: input must be (N, C, H, W) or unbatched (C, H, W), got shape "
                         f"{x.shape}")
    k, d, p, s = _geometry(op, kernel_size, dilation, padding, stride)
    unbatched = x.ndim == 3
    x = x.reshape(1, *x.shape) if unbatched else x
    _blocks(op, x.shape[2:], k, d, p, s, f"input of shape {x.shape}, spatial size")
    cols = UnfoldFn.apply(x, kernel_size=k, dilation=d, padding=p, stride=s)
    return cols.reshape(*cols.shape[1:]) if unbatched else cols


def fold(input: Tensor, output_size: int | Pair, kernel_size: int | Pair,
         dilation: int | Pair = 1, padding: int | Pair = 0, stride: int | Pair = 1) -> Tensor:
    """Sum columns of sliding blocks back into an image (col2im), as
    ``torch.nn.functional.fold``: the transpose of :func:`unfold`.

    input: (N, C * kh * kw, L) or unbatched (C * kh * kw, L) -> (N, C, H, W) or (C, H, W),
    (H, W) = ``output_size``. L must be the number of blocks :func:`unfold` makes from an
    (H, W) image with the same options; entries landing on the padding are dropped and
    overlapping ones added.
    """
    op = "fold"
    cols = float_tensor(op, "input", input)
    if cols.ndim not in (2, 3):
        raise ValueError(f"{op}: input must be (N, C * kh * kw, L) or unbatched (C * kh * kw, "
                         f"L), got shape {cols.shape}")
    hw = ntuple(op, "output_size", output_size, 2, minimum=1)
    k, d, p, s = _geometry(op, kernel_size, dilation, padding, stride)
    unbatched = cols.ndim == 2
    cols = cols.reshape(1, *cols.shape) if unbatched else cols
    shown = cols.shape[1:] if unbatched else cols.shape
    if cols.shape[1] % (k[0] * k[1]):
        raise ValueError(f"{op}: input's channel axis ({cols.shape[1]}, input shape {shown}) "
                         f"must be divisible by the kernel's size kh * kw = {k[0] * k[1]}")
    blocks = _blocks(op, hw, k, d, p, s, "output_size")
    if cols.shape[-1] != blocks[0] * blocks[1]:
        raise ValueError(
            f"{op}: input of shape {shown} has L = {cols.shape[-1]} blocks, but output_size={hw} "
            f"with kernel_size={k}, dilation={d}, padding={p}, stride={s} makes "
            f"{blocks[0]} * {blocks[1]} = {blocks[0] * blocks[1]}")
    y = FoldFn.apply(cols, output_hw=hw, kernel_size=k, dilation=d, padding=p, stride=s)
    return y.reshape(*y.shape[1:]) if unbatched else y
