"""Small deterministic test pictures as proto messages."""

from __future__ import annotations

from core_server.pb import cocreate_pb2 as pb


def gradient(width: int = 64, height: int = 64) -> pb.Image:
    data = bytearray()
    for y in range(height):
        for x in range(width):
            data += bytes((x * 255 // max(width - 1, 1), y * 255 // max(height - 1, 1), 128, 255))
    return pb.Image(width=width, height=height, rgba=bytes(data))


def disc(width: int = 64, height: int = 64) -> pb.Mask:
    """A soft-edged disc in the middle: an irregular selection."""
    cx, cy, r = width / 2, height / 2, min(width, height) / 4
    alpha = bytearray()
    for y in range(height):
        for x in range(width):
            d = ((x - cx) ** 2 + (y - cy) ** 2) ** 0.5
            alpha.append(255 if d < r else max(0, int(255 - (d - r) * 64)))
    return pb.Mask(width=width, height=height, alpha=bytes(alpha))
