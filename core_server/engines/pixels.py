"""RGBA8 images and 8-bit masks as numpy arrays: conversion, resizing and compositing."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

from core_server.tasks import EngineError, Mask, RGBAImage

# Transparent pixels are shown to the model over mid-gray, the most neutral colour to paint from.
BACKDROP = 128.0


def image_array(image: RGBAImage) -> np.ndarray:
    """(height, width, 4) uint8 view of the image's bytes (read-only)."""
    if image.width < 1 or image.height < 1 or len(image.data) != image.width * image.height * 4:
        raise EngineError(
            f"The image says {image.width}×{image.height} but holds {len(image.data)} bytes; "
            "RGBA8 needs width × height × 4."
        )
    return np.frombuffer(image.data, np.uint8).reshape(image.height, image.width, 4)


def mask_array(mask: Mask | None, width: int, height: int) -> np.ndarray:
    """(height, width) uint8 view of the mask; no mask selects the whole image."""
    if mask is None:
        return np.full((height, width), 255, np.uint8)
    if (mask.width, mask.height) != (width, height):
        raise EngineError(f"The mask is {mask.width}×{mask.height} but the image is {width}×{height}; they must match.")
    if len(mask.data) != width * height:
        raise EngineError(f"The mask says {width}×{height} but holds {len(mask.data)} bytes; it needs one per pixel.")
    return np.frombuffer(mask.data, np.uint8).reshape(height, width)


def rgba_image(array: np.ndarray) -> RGBAImage:
    height, width = array.shape[:2]
    return RGBAImage(width, height, np.ascontiguousarray(array, np.uint8).tobytes())


def bounding_box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """(left, top, right, bottom) of the mask's nonzero pixels, right/bottom exclusive; None when empty."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if not len(rows):
        return None
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def over_backdrop(rgba: np.ndarray) -> np.ndarray:
    """RGB uint8 of the picture as it looks over the neutral backdrop."""
    alpha = rgba[..., 3:].astype(np.float32) / 255.0
    rgb = rgba[..., :3].astype(np.float32) * alpha + BACKDROP * (1.0 - alpha)
    return np.rint(rgb).astype(np.uint8)


def resize(
    array: np.ndarray,
    width: int,
    height: int,
    *,
    wrap_x: bool = False,
    wrap_y: bool = False,
    resample: Image.Resampling = Image.Resampling.LANCZOS,
) -> np.ndarray:
    """Resize an (h, w) or (h, w, 3) uint8 array; a wrapped axis is resampled as if the picture tiled."""
    src_height, src_width = array.shape[:2]
    if (src_width, src_height) == (width, height):
        return array
    # Pad wrapped axes with the opposite edge, wide enough for the filter's reach, then resample only
    # the original box: the filter then reads across the seam instead of clamping at it.
    pad_x = _filter_reach(src_width, width) if wrap_x else 0
    pad_y = _filter_reach(src_height, height) if wrap_y else 0
    padding = ((pad_y, pad_y), (pad_x, pad_x)) + ((0, 0),) * (array.ndim - 2)
    padded = np.pad(array, padding, mode="wrap")
    box = (pad_x, pad_y, pad_x + src_width, pad_y + src_height)
    return np.asarray(Image.fromarray(padded).resize((width, height), resample, box=box))


def _filter_reach(src: int, dst: int) -> int:
    # Lanczos reads 3 source pixels each side, times the shrink factor when downscaling.
    return min(src, math.ceil(3 * max(1.0, src / dst)) + 1)


def composite(original: np.ndarray, mask: np.ndarray, generated: np.ndarray) -> np.ndarray:
    """Blend generated RGB into the original RGBA by the soft mask.

    Where mask == 0 the original pixel is copied untouched (bit-identical, alpha included). Elsewhere the
    generated colour is painted over the original as an opaque layer at opacity mask/255, so a fully
    masked pixel becomes opaque and a half-masked transparent one half-opaque.
    """
    weight = mask[..., None].astype(np.float32) / 255.0
    alpha = original[..., 3:].astype(np.float32) / 255.0
    out_alpha = alpha * (1.0 - weight) + weight
    # "Over" in premultiplied form, so the colour of transparent pixels does not bleed in.
    premultiplied = original[..., :3].astype(np.float32) * alpha * (1.0 - weight) + generated * weight
    rgb = premultiplied / np.maximum(out_alpha, 1e-6)
    blended = np.concatenate([rgb, out_alpha * 255.0], axis=-1)
    blended = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
    return np.where(mask[..., None] == 0, original, blended)
