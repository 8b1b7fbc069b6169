"""Convolution layers: ``Conv1d``, ``Conv2d``, ``ConvTranspose1d``, ``ConvTranspose2d``."""

from __future__ import annotations

import math
from typing import Any

from minigrad.nn import functional as F
from minigrad.nn import init
from minigrad.nn.modules.linear import add_weight_and_bias
from minigrad.nn.modules.module import Module
from minigrad.ops._args import (
    check_input_dtype,
    conv_transpose_output_size,
    integer,
    ntuple,
    one_of,
    padding_pairs,
)
from minigrad.tensor import Tensor

__all__ = ["Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d"]

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    """Shared state of Conv1d/Conv2d: weight (out, in // groups, *kernel), optional bias (out,),
    PyTorch's default initialisation, and the padding logic."""

    _n = 2

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any,
                 padding: Any, dilation: Any, groups: int, bias: bool, padding_mode: str,
                 dtype: Any) -> None:
        super().__init__()
        who, n = type(self).__name__, self._n
        in_channels, out_channels, groups = _channels(who, in_channels, out_channels, groups)
        one_of(who, "padding_mode", padding_mode, _PADDING_MODES)
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = ntuple(who, "kernel_size", kernel_size, n, minimum=1)
        self.stride = ntuple(who, "stride", stride, n, minimum=1)
        self.dilation = ntuple(who, "dilation", dilation, n, minimum=1)
        self.padding_mode = padding_mode
        # per axis (before, after), for the non-zero padding modes (F.pad before the conv); the
        # same resolution as F.conv2d's, so the layer and the op agree on 'same'/'full'/'valid'
        self._pads = padding_pairs(who, padding, self.kernel_size, self.stride, self.dilation)
        self.padding: Any = padding if isinstance(padding, str) \
            else tuple(lo for lo, _ in self._pads)
        add_weight_and_bias(self, (out_channels, in_channels // groups) + self.kernel_size,
                            out_channels if bias else None, dtype)

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def _check_input(self, input: Tensor) -> None:
        n = self._n
        if not isinstance(input, Tensor) or input.ndim != n + 2 \
                or input.shape[1] != self.in_channels:
            shape = getattr(input, "shape", type(input).__name__)
            axes = "(N, C, L)" if n == 1 else "(N, C, H, W)"
            raise ValueError(f"{type(self).__name__}: expected input {axes} with C = "
                             f"in_channels = {self.in_channels}, got {shape}")
        check_input_dtype(type(self).__name__, input, self.weight)

    def forward(self, input: Tensor) -> Tensor:
        self._check_input(input)
        conv = F.conv1d if self._n == 1 else F.conv2d
        if self.padding_mode != "zeros":
            flat = tuple(p for lo_hi in reversed(self._pads) for p in lo_hi)
            input = F.pad(input, flat, mode=self.padding_mode)
            return conv(input, self.weight, self.bias, self.stride, 0, self.dilation,
                        self.groups)
        return conv(input, self.weight, self.bias, self.stride, self.padding, self.dilation,
                    self.groups)

    def extra_repr(self) -> str:
        def show(t: Any) -> Any:
            return t[0] if isinstance(t, tuple) and self._n == 1 else t

        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={show(self.kernel_size)}, "
             f"stride={show(self.stride)}")
        if self.padding != (0,) * self._n:
            s += f", padding={show(self.padding)!r}" if isinstance(self.padding, str) \
                else f", padding={show(self.padding)}"
        if self.dilation != (1,) * self._n:
            s += f", dilation={show(self.dilation)}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


def _channels(who: str, in_channels: Any, out_channels: Any, groups: Any) -> tuple[int, int, int]:
    """Channels >= 1 and groups >= 1 dividing both (PyTorch's rules)."""
    in_channels = integer(who, "in_channels", in_channels, 1)
    out_channels = integer(who, "out_channels", out_channels, 1)
    groups = integer(who, "groups", groups, 1)
    if in_channels % groups or out_channels % groups:
        raise ValueError(f"{who}: in_channels ({in_channels}) and out_channels "
                         f"({out_channels}) must both be divisible by groups ({groups})")
    return in_channels, out_channels, groups


class Conv2d(_ConvNd):
    """2-D convolution (cross-correlation, as in every framework).

    x: (N, in_channels, H, W) -> y: (N, out_channels, OH, OW) with
    ``OH = (H + pad_top + pad_bottom - dilation * (kernel - 1) - 1) // stride + 1``.
    x must have the parameters' dtype (else ``TypeError``; convert with ``x.float()``).
    kernel_size, stride, dilation >= 1, padding >= 0, channels >= 1 (checked when built).

    padding: an int or (ph, pw) pair applied to both sides, or ``"valid"`` (none), ``"same"``
    (output size = input size; stride 1 only; an odd total puts the extra pixel at the
    bottom/right, as PyTorch) or ``"full"`` (``dilation * (kernel - 1)`` on each side: every
    partial overlap, the output grows by that much; not in PyTorch).
    padding_mode: ``"zeros"``, ``"reflect"``, ``"replicate"`` or ``"circular"``.
    groups: in/out channels split into ``groups`` independent convolutions (AlexNet's two-GPU
    split is ``groups=2``; ``groups=in_channels`` is a depthwise convolution).
    weight: (out_channels, in_channels // groups, kh, kw), bias: (out_channels,), initialised
    as PyTorch does (kaiming_uniform_(a=sqrt(5)); bias U(+-1/sqrt(fan_in))).
    """

    _n = 2

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int],
                 stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] | str = 0,
                 dilation: int | tuple[int, int] = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", dtype: Any = None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, dtype)


class Conv1d(_ConvNd):
    """1-D convolution over sequences: x: (N, in_channels, L) -> (N, out_channels, OL).

    Same options as :class:`Conv2d`, with ints (or 1-tuples) for kernel, stride, padding and
    dilation. weight: (out_channels, in_channels // groups, k).
    """

    _n = 1

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int],
                 stride: int | tuple[int] = 1, padding: int | tuple[int] | str = 0,
                 dilation: int | tuple[int] = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", dtype: Any = None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, dtype)


class _ConvTransposeNd(Module):
    """Shared state of ConvTranspose1d/2d: weight (in, out // groups, *kernel), optional bias
    (out,), PyTorch's initialisation (its fan_in taken from weight axis 1), and the output_size
    logic of ``forward``."""

    _n = 2

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any,
                 padding: Any, output_padding: Any, groups: int, bias: bool, dilation: Any,
                 padding_mode: str, dtype: Any) -> None:
        super().__init__()
        who, n = type(self).__name__, self._n
        in_channels, out_channels, groups = _channels(who, in_channels, out_channels, groups)
        if padding_mode != "zeros":
            raise ValueError(f"{who}: only padding_mode='zeros' is supported (as PyTorch), got "
                             f"{padding_mode!r}")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = ntuple(who, "kernel_size", kernel_size, n, minimum=1)
        self.stride = ntuple(who, "stride", stride, n, minimum=1)
        self.padding = ntuple(who, "padding", padding, n, minimum=0)
        self.output_padding = ntuple(who, "output_padding", output_padding, n, minimum=0)
        self.dilation = ntuple(who, "dilation", dilation, n, minimum=1)
        self.padding_mode = padding_mode
        for op, s, d in zip(self.output_padding, self.stride, self.dilation):
            if op >= max(s, d):
                raise ValueError(f"{who}: output_padding {self.output_padding} must be smaller "
                                 f"than stride {self.stride} or dilation {self.dilation}")
        add_weight_and_bias(self, (in_channels, out_channels // groups) + self.kernel_size,
                            out_channels if bias else None, dtype)

    reset_parameters = _ConvNd.reset_parameters

    def _output_padding(self, input: Tensor, output_size: Any) -> tuple[int, ...]:
        who, n = type(self).__name__, self._n
        if output_size is None:
            return self.output_padding
        size = tuple(int(s) for s in output_size)[-n:]
        if len(size) != n:
            raise ValueError(f"{who}: output_size must give the {n} output size(s) "
                             f"{'(OH, OW)' if n == 2 else '(OL,)'}, got {output_size!r}")
        spatial = input.shape[-n:]
        out = []
        for i in range(n):
            base = conv_transpose_output_size(spatial[i], self.kernel_size[i], self.stride[i],
                                              self.padding[i], self.dilation[i])
            extra = size[i] - base
            if not 0 <= extra < max(self.stride[i], self.dilation[i]):
                raise ValueError(f"{who}: output_size {size} is not reachable from input "
                                 f"{input.shape} (sizes from {base} to "
                                 f"{base + max(self.stride[i], self.dilation[i]) - 1} on axis "
                                 f"{input.ndim - n + i})")
            out.append(extra)
        return tuple(out)

    def forward(self, input: Tensor, output_size: Any = None) -> Tensor:
        who, n = type(self).__name__, self._n
        if not isinstance(input, Tensor) or input.ndim not in (n + 1, n + 2) \
                or input.shape[-n - 1] != self.in_channels:
            shape = getattr(input, "shape", type(input).__name__)
            axes = "(N, C, L) or (C, L)" if n == 1 else "(N, C, H, W) or (C, H, W)"
            raise ValueError(f"{who}: expected input {axes} with C = in_channels = "
                             f"{self.in_channels}, got {shape}")
        check_input_dtype(who, input, self.weight)
        conv = F.conv_transpose1d if n == 1 else F.conv_transpose2d
        return conv(input, self.weight, self.bias, self.stride, self.padding,
                    self._output_padding(input, output_size), self.groups, self.dilation)

    def extra_repr(self) -> str:
        n = self._n

        def show(t: Any) -> Any:
            return t[0] if n == 1 else t

        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={show(self.kernel_size)}, "
             f"stride={show(self.stride)}")
        if self.padding != (0,) * n:
            s += f", padding={show(self.padding)}"
        if self.output_padding != (0,) * n:
            s += f", output_padding={show(self.output_padding)}"
        if self.dilation != (1,) * n:
            s += f", dilation={show(self.dilation)}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s


class ConvTranspose2d(_ConvTransposeNd):
    """Transposed 2-D convolution (the gradient of :class:`Conv2d` w.r.t. its input; learned
    upsampling).

    x: (N, in_channels, H, W) (or unbatched (in_channels, H, W)) -> y: (N, out_channels, OH, OW)
    with ``OH = (H - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1``.
    ``forward(x, output_size=(OH, OW))`` picks ``output_padding`` to reach that size (as
    PyTorch). weight: (in_channels, out_channels // groups, kh, kw), bias: (out_channels,),
    initialised as PyTorch does (including its fan_in taken from weight axis 1).
    """

    _n = 2

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int],
                 stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0,
                 output_padding: int | tuple[int, int] = 0, groups: int = 1, bias: bool = True,
                 dilation: int | tuple[int, int] = 1, padding_mode: str = "zeros",
                 dtype: Any = None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding,
                         output_padding, groups, bias, dilation, padding_mode, dtype)


class ConvTranspose1d(_ConvTransposeNd):
    """Transposed 1-D convolution (the gradient of :class:`Conv1d` w.r.t. its input; learned
    upsampling of sequences).

    x: (N, in_channels, L) (or unbatched (in_channels, L)) -> y: (N, out_channels, OL) with
    ``OL = (L - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1``;
    ``forward(x, output_size=(OL,))`` picks ``output_padding``. Options as
    :class:`ConvTranspose2d`, as ints (or 1-tuples). weight: (in_channels,
    out_channels // groups, k), bias: (out_channels,), PyTorch's initialisation.
    """

    _n = 1

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int],
                 stride: int | tuple[int] = 1, padding: int | tuple[int] = 0,
                 output_padding: int | tuple[int] = 0, groups: int = 1, bias: bool = True,
                 dilation: int | tuple[int] = 1, padding_mode: str = "zeros",
                 dtype: Any = None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding,
                         output_padding, groups, bias, dilation, padding_mode, dtype)
