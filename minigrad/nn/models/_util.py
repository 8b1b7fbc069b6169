"""What the model constructors share: the shape arithmetic that sizes their first Linear layer,
the conv [-> batch norm] -> ReLU unit and the fully connected head."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

from minigrad.nn.modules import BatchNorm2d, Conv2d, Dropout, Linear, Module, ReLU, Sequential
from minigrad.ops._args import conv_output_size


def conv_out(size: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    """Output length of a convolution or pooling window along one axis (floor mode); a
    ``ValueError`` when the window does not fit."""
    out = conv_output_size(size, kernel, stride, padding)
    if out < 1:
        raise ValueError(f"the input is too small: a window of {kernel} (stride {stride}, padding "
                         f"{padding}) does not fit in {size} pixels")
    return out


def even(x: float) -> int:
    """``x`` rounded to a positive even int (channel counts split in two groups)."""
    return max(2, 2 * round(x / 2))


def conv_relu(c_in: int, c_out: int, k: int, batch_norm: bool, prefix: str = "",
              suffix: str = "") -> list[tuple[str, Module]]:
    """conv (padding ``k // 2`` keeps H, W; no bias before batch norm) [-> batch norm] -> ReLU,
    as named layers ``{prefix}conv{suffix}``, ``{prefix}bn{suffix}``, ``{prefix}relu{suffix}``."""
    layers: list[tuple[str, Module]] = [
        (f"{prefix}conv{suffix}", Conv2d(c_in, c_out, k, padding=k // 2, bias=not batch_norm))]
    if batch_norm:
        layers.append((f"{prefix}bn{suffix}", BatchNorm2d(c_out)))
    layers.append((f"{prefix}relu{suffix}", ReLU()))
    return layers


def fc_stack(widths: Sequence[int], act: type[Module] = ReLU, act_name: str = "relu",
             first_act: int = 1, dropout: float | None = None,
             dropout_first: bool = False) -> Sequential:
    """Linear layers ``widths[0] -> widths[1] -> ...`` named ``fc1``, ``fc2``, ...; after each
    but the last an activation ``{act_name}{first_act + k}``; with ``dropout``, a ``Dropout``
    ``drop{k + 1}`` on each hidden layer, after its activation (VGG) or, ``dropout_first``,
    before its Linear (AlexNet)."""
    layers: list[tuple[str, Module]] = []
    for k in range(len(widths) - 1):
        hidden = k < len(widths) - 2
        drop = [(f"drop{k + 1}", Dropout(dropout))] if hidden and dropout is not None else []
        layers += drop if dropout_first else []
        layers.append((f"fc{k + 1}", Linear(widths[k], widths[k + 1])))
        if hidden:
            layers.append((f"{act_name}{first_act + k}", act()))
        layers += [] if dropout_first else drop
    return Sequential(OrderedDict(layers))
