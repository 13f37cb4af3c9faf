"""Where a generation happens on the canvas, and the pixels a result or preview layer gets.

Plain bytes only (no Krita, no Qt), so tests drive these directly. The daemon does the real
selection work (context crop, soft mask, resize, bit-identical composite); the plugin only cuts a
region small enough to send and keeps a result layer transparent wherever the selection is not.
"""

from __future__ import annotations

from dataclasses import dataclass

from cocreate_client import pixels
from cocreate_client.pixels import Image, Mask

# The region sent to the daemon is the selection's bounds grown by their longest side, and at least
# this much: more than the daemon's own context (half the longest side, at least 32 px), so it sees
# the same surroundings it would see in the whole canvas.
MIN_PADDING = 64


class DocumentError(Exception):
    """The document cannot be used as it is; the message tells the painter what to change."""


@dataclass(frozen=True)
class Box:
    x: int
    y: int
    width: int
    height: int

    @property
    def right(self) -> int:
        return self.x + self.width

    @property
    def bottom(self) -> int:
        return self.y + self.height

    def as_tuple(self) -> tuple[int, int, int, int]:
        return (self.x, self.y, self.width, self.height)


@dataclass(frozen=True)
class Region:
    """The part of the canvas a generation reads and writes."""

    box: Box
    image: Image  # the box's pixels as the painter sees them, RGBA8
    mask: Mask | None  # the selection inside the box; None = no selection, all of it


def clip(box: Box, width: int, height: int) -> Box | None:
    """The part of `box` inside a width × height canvas; None when nothing is."""
    left, top = max(0, box.x), max(0, box.y)
    right, bottom = min(width, box.right), min(height, box.bottom)
    if right <= left or bottom <= top:
        return None
    return Box(left, top, right - left, bottom - top)


def context_box(bounds: Box, width: int, height: int) -> Box:
    """The selection's bounds with room around them, kept inside the canvas."""
    pad = max(MIN_PADDING, bounds.width, bounds.height)
    grown = Box(bounds.x - pad, bounds.y - pad, bounds.width + 2 * pad, bounds.height + 2 * pad)
    inside = clip(grown, width, height)
    assert inside is not None, "bounds must lie on the canvas"
    return inside


def is_empty(mask: Mask) -> bool:
    return mask.alpha.count(0) == len(mask.alpha)


def layer_pixels(picture: Image, mask: Mask | None) -> Image:
    """`picture` where the mask is set, fully transparent where it is 0.

    A layer holding this changes nothing outside the selection. Soft edges keep the picture as is:
    the daemon already blended it with the original there.
    """
    if mask is None:
        return picture
    if (picture.width, picture.height) != (mask.width, mask.height):
        raise ValueError(f"picture {picture.width}×{picture.height} and mask {mask.width}×{mask.height} differ")
    keep = mask.alpha.translate(bytes([0] + [255] * 255))
    lanes = bytearray(len(keep) * 4)
    for channel in range(4):
        lanes[channel::4] = keep
    # Big integers as byte vectors: one AND over every pixel, in C.
    kept = int.from_bytes(picture.rgba, "little") & int.from_bytes(lanes, "little")
    return Image(picture.width, picture.height, kept.to_bytes(len(picture.rgba), "little"))


def mask_bounds(mask: Mask) -> Box | None:
    """The smallest box (in the mask's own coordinates) holding every selected pixel; None when none is."""
    bounds = pixels.mask_bounds(mask)
    return Box(*bounds) if bounds is not None else None
