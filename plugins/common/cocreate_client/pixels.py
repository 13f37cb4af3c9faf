"""Host pixel layouts ↔ the contract's RGBA8 (rows top-down, no padding), without numpy.

Every conversion is a few C-level passes over the whole buffer (extended slices, bytes.translate,
big-integer bit operations) rather than a Python loop per pixel, so a 2048² image takes
milliseconds to a few hundred milliseconds (tests/plugins/test_pixels.py measures them).
"""

from __future__ import annotations

import math
import struct
import sys
from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

Pixels = bytes | bytearray | memoryview


@dataclass(frozen=True)
class Image:
    """RGBA, 8 bits per channel, rows top-down, no padding: what the daemon sends and expects."""

    width: int
    height: int
    rgba: bytes

    def __post_init__(self) -> None:
        _check_size("Image", self.width, self.height, 4, self.rgba)


@dataclass(frozen=True)
class Mask:
    """One byte per pixel: 0 = keep, 255 = regenerate, in between = blend."""

    width: int
    height: int
    alpha: bytes

    def __post_init__(self) -> None:
        _check_size("Mask", self.width, self.height, 1, self.alpha)


def _check_size(kind: str, width: int, height: int, bpp: int, data: Pixels) -> None:
    if width < 0 or height < 0 or len(data) != width * height * bpp:
        raise ValueError(f"{kind} {width}x{height} needs {width * height * bpp} bytes, got {len(data)}")


# ---------------------------------------------------------------- channel order and row order


def swap_red_blue(data: Pixels) -> bytes:
    """RGBA ↔ BGRA (Krita's pixelData order); the same swap goes both ways."""
    data = bytes(data)
    out = bytearray(data)
    out[0::4] = data[2::4]
    out[2::4] = data[0::4]
    return bytes(out)


def from_bgra(width: int, height: int, bgra: Pixels) -> Image:
    return Image(width, height, swap_red_blue(bgra))


def to_bgra(image: Image) -> bytes:
    return swap_red_blue(image.rgba)


def flip_rows(data: Pixels, row_bytes: int) -> bytes:
    """Top-down ↔ bottom-up rows (Blender); works for any pixel format given its row length."""
    view = memoryview(data).cast("B")
    if row_bytes <= 0 or len(view) % row_bytes:
        raise ValueError(f"{len(view)} bytes do not split into rows of {row_bytes}")
    return b"".join(view[start : start + row_bytes] for start in range(len(view) - row_bytes, -1, -row_bytes))


# ---------------------------------------------------------------- float RGBA (Blender) ↔ RGBA8

_LITTLE = sys.byteorder == "little"


@cache
def _byte_to_float_tables() -> tuple[bytes, bytes, bytes, bytes]:
    """For each of the 4 bytes of a native float32, the byte that k/255 has there, for k = 0..255."""
    packed = [struct.pack("=f", k / 255) for k in range(256)]
    return tuple(bytes(p[i] for p in packed) for i in range(4))  # type: ignore[return-value]


def rgba8_to_floats(data: Pixels) -> array[float]:
    """Bytes 0..255 → float32 k/255, as an array('f') that Blender's `pixels.foreach_set` takes."""
    data = bytes(data)
    out = bytearray(len(data) * 4)
    for i, table in enumerate(_byte_to_float_tables()):
        out[i::4] = data.translate(table)
    floats = array("f")
    floats.frombytes(out)
    return floats


def _bucket_value(top16: int) -> int:
    """The byte for every float32 whose upper 16 bits are `top16` (a bucket of 65536 floats)."""
    if top16 & 0x8000:
        return 0  # negative
    low = struct.unpack("=f", struct.pack("=I", top16 << 16))[0]
    high = struct.unpack("=f", struct.pack("=I", top16 << 16 | 0xFFFF))[0]
    if not low < 1.0:
        return 255  # ≥ 1, infinity, NaN
    k = math.ceil(low * 255)  # the first k with k/255 >= low
    if k / 255 <= high:
        return k  # a bucket holds at most one k/255, so 8-bit values round-trip exactly
    return min(255, round((low + high) / 2 * 255))


@cache
def _float_to_byte_tables() -> tuple[bytes, dict[int, tuple[bytes, bytes]]]:
    """Split the 65536-entry bucket table by the float's top byte (sign + high exponent bits).

    Most top bytes map to one value whatever the next byte is (constant); only the five around
    [2^-9, 2) depend on it. For those, the value is a translate of the next byte, selected where
    the top byte matches.
    """
    constant = bytearray(256)
    varying: dict[int, tuple[bytes, bytes]] = {}
    for top in range(256):
        row = bytes(_bucket_value(top << 8 | nxt) for nxt in range(256))
        if len(set(row)) == 1:
            constant[top] = row[0]
        else:
            varying[top] = (row, bytes(255 if b == top else 0 for b in range(256)))
    return bytes(constant), varying


def floats_to_rgba8(values: Pixels | array[float] | Iterable[float]) -> bytes:
    """Floats in [0, 1] → bytes 0..255, clamped; NaN → 255.

    Exact for floats that came from 8-bit values (k/255); otherwise within 1 of round(v * 255),
    since only the upper 16 bits of each float32 are looked at.
    """
    if isinstance(values, (bytes, bytearray, memoryview, array)):
        raw = memoryview(values).cast("B").tobytes()
    else:
        raw = array("f", values).tobytes()
    if len(raw) % 4:
        raise ValueError("float32 data must be a multiple of 4 bytes long")
    top, nxt = (raw[3::4], raw[2::4]) if _LITTLE else (raw[0::4], raw[1::4])
    constant, varying = _float_to_byte_tables()
    # Big integers act as byte vectors here: & and | run over all lanes in C.
    acc = int.from_bytes(top.translate(constant), "little")
    for row, select in varying.values():
        acc |= int.from_bytes(nxt.translate(row), "little") & int.from_bytes(top.translate(select), "little")
    return acc.to_bytes(len(top), "little")


def from_float_bottom_up(width: int, height: int, values: Pixels | array[float] | Iterable[float]) -> Image:
    """Blender's `image.pixels` (float RGBA, rows bottom-up) → Image."""
    return Image(width, height, flip_rows(floats_to_rgba8(values), width * 4))


def to_float_bottom_up(image: Image) -> array[float]:
    """Image → float RGBA with rows bottom-up, for Blender's `image.pixels.foreach_set`."""
    return rgba8_to_floats(flip_rows(image.rgba, image.width * 4))


# ---------------------------------------------------------------- selections and rectangles


def selection_to_mask(selection: Pixels, width: int, height: int, *, threshold: int | None = None) -> Mask:
    """An 8-bit grayscale selection (Krita's Selection.pixelData, GIMP's "Y u8") → Mask.

    Soft edges pass through as blend values; with `threshold`, values ≥ threshold become 255, others 0.
    """
    data = bytes(selection)
    if threshold is not None:
        data = data.translate(bytes(255 if v >= threshold else 0 for v in range(256)))
    return Mask(width, height, data)


def mask_bounds(mask: Mask) -> tuple[int, int, int, int] | None:
    """(x, y, width, height) of the smallest rectangle holding every nonzero pixel; None when there is none."""
    rows = [y for y in range(mask.height) if mask.alpha[y * mask.width : (y + 1) * mask.width].strip(b"\0")]
    if not rows:
        return None
    left, right = mask.width, 0
    for y in rows:
        row = mask.alpha[y * mask.width : (y + 1) * mask.width]
        left = min(left, len(row) - len(row.lstrip(b"\0")))
        right = max(right, len(row.rstrip(b"\0")))
    return left, rows[0], right - left, rows[-1] + 1 - rows[0]


def _check_rect(width: int, height: int, x: int, y: int, w: int, h: int) -> None:
    if x < 0 or y < 0 or w < 0 or h < 0 or x + w > width or y + h > height:
        raise ValueError(f"rectangle ({x}, {y}) {w}x{h} is not inside {width}x{height}")


def _crop(data: bytes, width: int, bpp: int, x: int, y: int, w: int, h: int) -> bytes:
    view, row, start = memoryview(data), width * bpp, x * bpp
    return b"".join(view[r * row + start : r * row + start + w * bpp] for r in range(y, y + h))


def crop(image: Image, x: int, y: int, width: int, height: int) -> Image:
    _check_rect(image.width, image.height, x, y, width, height)
    return Image(width, height, _crop(image.rgba, image.width, 4, x, y, width, height))


def crop_mask(mask: Mask, x: int, y: int, width: int, height: int) -> Mask:
    _check_rect(mask.width, mask.height, x, y, width, height)
    return Mask(width, height, _crop(mask.alpha, mask.width, 1, x, y, width, height))


def paste(target: Image, patch: Image, x: int, y: int) -> Image:
    """A copy of `target` with `patch` written over it, its top-left corner at (x, y)."""
    _check_rect(target.width, target.height, x, y, patch.width, patch.height)
    out, row, patch_row = bytearray(target.rgba), target.width * 4, patch.width * 4
    source = memoryview(patch.rgba)
    for r in range(patch.height):
        start = (y + r) * row + x * 4
        out[start : start + patch_row] = source[r * patch_row : (r + 1) * patch_row]
    return Image(target.width, target.height, bytes(out))
