"""Tiling textures: wrap-around (circular) padding in every Conv2d, per axis, for one job only."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from core_server.tasks import Seamless


@contextlib.contextmanager
def seamless_tiling(modules: Iterable[nn.Module], axes: Seamless) -> Iterator[None]:
    """Make the modules' padded convolutions wrap around on the chosen axes until the block exits.

    The first column then sees the last as its neighbour (and the top row the bottom one), so what the
    model paints tiles without a seam. The modules are restored on exit, also after an error or a cancel.
    """
    if axes is Seamless.NONE:
        yield
        return
    wrap_x = axes in (Seamless.X, Seamless.BOTH)
    wrap_y = axes in (Seamless.Y, Seamless.BOTH)
    convs = [
        layer
        for module in modules
        for layer in module.modules()
        if isinstance(layer, nn.Conv2d) and isinstance(layer.padding, tuple) and any(layer.padding)
    ]
    try:
        for conv in convs:
            # An instance attribute shadows Conv2d._conv_forward; deleting it brings the class's back.
            conv._conv_forward = partial(_tiled_conv_forward, conv, wrap_x, wrap_y)
        yield
    finally:
        for conv in convs:
            conv.__dict__.pop("_conv_forward", None)


def _tiled_conv_forward(
    conv: nn.Conv2d, wrap_x: bool, wrap_y: bool, input: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None
) -> torch.Tensor:
    pad_y, pad_x = conv.padding
    input = F.pad(input, (pad_x, pad_x, 0, 0), mode="circular" if wrap_x else "constant")
    input = F.pad(input, (0, 0, pad_y, pad_y), mode="circular" if wrap_y else "constant")
    return F.conv2d(input, weight, bias, conv.stride, 0, conv.dilation, conv.groups)


def tiling(module: nn.Module) -> tuple[bool, bool]:
    """(wrap_x, wrap_y) that seamless_tiling set on the module's convolutions; (False, False) outside it."""
    for layer in module.modules():
        tiled = layer.__dict__.get("_conv_forward")
        if isinstance(tiled, partial):
            return tiled.args[1], tiled.args[2]
    return False, False
