"""Pixel layout conversions: exact results on small images, and a time bound on 2048²."""

from __future__ import annotations

import os
import random
import struct
from array import array
from dataclasses import dataclass

import pytest
from cocreate_client import pixels
from cocreate_client.pixels import Image, Mask


def _image(width: int, height: int) -> Image:
    return Image(width, height, os.urandom(width * height * 4))


def test_sizes_are_checked() -> None:
    with pytest.raises(ValueError, match="2x2 needs 16 bytes, got 15"):
        Image(2, 2, bytes(15))
    with pytest.raises(ValueError, match="Mask 3x1 needs 3 bytes"):
        Mask(3, 1, bytes(4))


def test_bgra_swaps_red_and_blue() -> None:
    image = Image(2, 1, bytes([1, 2, 3, 4, 5, 6, 7, 8]))
    assert pixels.to_bgra(image) == bytes([3, 2, 1, 4, 7, 6, 5, 8])
    assert pixels.from_bgra(2, 1, bytes([3, 2, 1, 4, 7, 6, 5, 8])) == image


def test_flip_rows() -> None:
    assert pixels.flip_rows(b"aabbcc", 2) == b"ccbbaa"
    with pytest.raises(ValueError, match="rows of 4"):
        pixels.flip_rows(b"abcdef", 4)


def test_every_byte_round_trips_through_floats() -> None:
    data = bytes(range(256))
    floats = pixels.rgba8_to_floats(data)
    assert floats.typecode == "f"
    assert list(floats) == [struct.unpack("f", struct.pack("f", k / 255))[0] for k in range(256)]
    assert pixels.floats_to_rgba8(floats) == data


def test_floats_are_clamped() -> None:
    values = [-1.0, -0.0, 0.0, 0.001, 1.0, 1.5, 1e30, float("inf"), float("nan")]
    assert list(pixels.floats_to_rgba8(values)) == [0, 0, 0, 0, 255, 255, 255, 255, 255]


def test_arbitrary_floats_are_within_one_step() -> None:
    rng = random.Random(1)
    values = array("f", [rng.random() for _ in range(100_000)])
    got = pixels.floats_to_rgba8(values)
    assert max(abs(g - round(v * 255)) for g, v in zip(got, values, strict=True)) <= 1


def test_blender_layout_round_trip() -> None:
    image = Image(2, 2, bytes(range(16)))
    floats = pixels.to_float_bottom_up(image)
    assert floats[0] == pytest.approx(8 / 255)  # first value is the bottom row's first red
    assert pixels.from_float_bottom_up(2, 2, floats) == image
    assert pixels.from_float_bottom_up(2, 2, list(floats)) == image


def test_selection_to_mask() -> None:
    selection = bytes([0, 10, 127, 128, 255, 200])
    assert pixels.selection_to_mask(selection, 3, 2).alpha == selection
    assert pixels.selection_to_mask(selection, 3, 2, threshold=128).alpha == bytes([0, 0, 0, 255, 255, 255])
    with pytest.raises(ValueError):
        pixels.selection_to_mask(selection, 2, 2)


def test_crop_and_paste() -> None:
    # a 4x3 image whose every pixel is (x, y, 0, 255)
    image = Image(4, 3, bytes(v for y in range(3) for x in range(4) for v in (x, y, 0, 255)))
    part = pixels.crop(image, 1, 1, 2, 2)
    assert part.rgba == bytes([1, 1, 0, 255, 2, 1, 0, 255, 1, 2, 0, 255, 2, 2, 0, 255])
    assert pixels.paste(image, part, 1, 1) == image
    white = Image(2, 1, b"\xff" * 8)
    pasted = pixels.paste(image, white, 2, 2)
    assert pasted.rgba[-8:] == b"\xff" * 8 and pasted.rgba[:-8] == image.rgba[:-8]
    mask = Mask(4, 3, bytes(range(12)))
    assert pixels.crop_mask(mask, 1, 1, 2, 2).alpha == bytes([5, 6, 9, 10])
    with pytest.raises(ValueError, match="not inside 4x3"):
        pixels.crop(image, 3, 0, 2, 1)
    with pytest.raises(ValueError, match="not inside"):
        pixels.paste(image, white, 3, 0)


# ---------------------------------------------------------------- a 2048² image (timings: bench/pixels.py)

SIDE = 2048


@dataclass(frozen=True)
class Inputs:
    image: Image
    floats: array[float]


@pytest.fixture(scope="module")
def big() -> Inputs:
    image = _image(SIDE, SIDE)
    return Inputs(image, pixels.to_float_bottom_up(image))


def test_big_round_trips_are_exact(big: Inputs) -> None:
    assert pixels.from_bgra(SIDE, SIDE, pixels.to_bgra(big.image)) == big.image
    assert pixels.from_float_bottom_up(SIDE, SIDE, big.floats) == big.image
