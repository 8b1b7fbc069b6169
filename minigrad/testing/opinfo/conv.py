"""Convolutions: small samples covering every stride/padding/dilation/groups option; references
are the NumPy loops of :mod:`minigrad.testing.conv_reference`."""

from __future__ import annotations

from typing import Any

from hypothesis import assume
from hypothesis import strategies as st

from minigrad.ops.conv import Conv2dFn, conv1d, conv2d, conv_transpose1d, conv_transpose2d
from minigrad.testing import conv_reference as R
from minigrad.testing import strategies as S
from minigrad.testing.opinfo.core import OpInfo, Sample


def _conv_samples(spatial: int, transpose: bool = False):
    """Small convolutions: numel per input <= ~200, every stride/padding/dilation/group option."""

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
            if spatial == 1:  # ints or 1-tuples, as PyTorch takes them
                stride, pad, out_pad, dilation = (
                    v[0] if draw(st.booleans(), label="as_int") else v
                    for v in (stride, pad, out_pad, dilation))
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


op_db = [
    OpInfo("conv2d", conv2d, lambda: _conv_samples(2), ref=R.conv2d, kinks=Conv2dFn.kinks),
    OpInfo("conv1d", conv1d, lambda: _conv_samples(1), ref=R.conv1d, kinks=Conv2dFn.kinks),
    OpInfo("conv_transpose2d", conv_transpose2d, lambda: _conv_samples(2, transpose=True),
           ref=R.conv_transpose2d, kinks=Conv2dFn.kinks),
    OpInfo("conv_transpose1d", conv_transpose1d, lambda: _conv_samples(1, transpose=True),
           ref=R.conv_transpose1d, kinks=Conv2dFn.kinks),
]
