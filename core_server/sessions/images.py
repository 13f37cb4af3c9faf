"""RGBAImage <-> PNG bytes, and thumbnails: the only PIL in sessions."""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from PIL import Image

from core_server.tasks import RGBAImage


def encode_png(image: RGBAImage) -> bytes:
    """PNG bytes that depend on the pixels only, so equal images hash equal.

    zlib level 1: a third of the default's time for files about an eighth larger (bench/store.py); a turn's
    candidates are encoded while its stream already carries their pixels, but the next job waits for the CPU."""
    buf = io.BytesIO()
    _to_pil(image).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def encode_pngs(images: Sequence[RGBAImage]) -> list[bytes]:
    """Several at once: zlib releases the GIL, so the encodes run side by side."""
    if len(images) < 2:
        return [encode_png(image) for image in images]
    with ThreadPoolExecutor(min(len(images), os.cpu_count() or 1)) as pool:
        return list(pool.map(encode_png, images))


def decode_png(data: bytes) -> RGBAImage:
    with Image.open(io.BytesIO(data)) as img:
        return _from_pil(img.convert("RGBA"))


def shrink_to_fit(image: RGBAImage, size: int) -> RGBAImage:
    """The image scaled so its longest side is at most `size`, aspect kept, never enlarged."""
    if size < 1:
        raise ValueError(f"thumbnail size must be at least 1, got {size}")
    img = _to_pil(image)
    img.thumbnail((size, size), Image.Resampling.LANCZOS)
    return _from_pil(img)


def _to_pil(image: RGBAImage) -> Image.Image:
    if image.width < 1 or image.height < 1:
        raise ValueError(f"image must be at least 1x1, got {image.width}x{image.height}")
    if len(image.data) != image.width * image.height * 4:
        raise ValueError(
            f"a {image.width}x{image.height} RGBA image needs {image.width * image.height * 4} bytes, "
            f"got {len(image.data)}"
        )
    return Image.frombytes("RGBA", (image.width, image.height), image.data)


def _from_pil(img: Image.Image) -> RGBAImage:
    return RGBAImage(img.width, img.height, img.tobytes())
