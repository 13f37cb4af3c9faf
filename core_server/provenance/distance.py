"""How far what a person kept is from what the model made, and how different candidates are.

Texts: Levenshtein distance in characters and in words (rapidfuzz). Images: mean absolute pixel
difference and SSIM (scikit-image) on RGB premultiplied by alpha, so erasing a region counts as a
change even where the colour under it stays.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from statistics import fmean

import numpy as np
from PIL import Image
from rapidfuzz.distance import Levenshtein
from skimage.metrics import structural_similarity

from ..sessions.analytics import ImageDistance, TextDistance
from ..sessions.images import shrink_to_fit
from ..tasks import RGBAImage

SSIM_WINDOW = 7  # scikit-image's default; smaller pictures are padded up to it
DIVERSITY_SIDE = 256  # candidates are compared at most this large: diversity is a gist, not an audit


def text_distance(before: str, after: str) -> TextDistance:
    before_words, after_words = before.split(), after.split()
    return TextDistance(
        chars=Levenshtein.distance(before, after),
        words=Levenshtein.distance(before_words, after_words),
        char_ratio=Levenshtein.normalized_distance(before, after),
        word_ratio=Levenshtein.normalized_distance(before_words, after_words),
    )


def image_distance(before: RGBAImage, after: RGBAImage) -> ImageDistance:
    """`after` is scaled to `before`'s size first when a host reported a region of another size."""
    a, b = _pair(before, after)
    pixel = _pixel_distance(a, b)
    # SSIM needs a whole window; repeating the edge pixels adds no structure of their own.
    if min(before.width, before.height) < SSIM_WINDOW:
        pad = ((0, max(0, SSIM_WINDOW - before.height)), (0, max(0, SSIM_WINDOW - before.width)), (0, 0))
        a, b = np.pad(a, pad, mode="edge"), np.pad(b, pad, mode="edge")
    ssim = float(structural_similarity(a, b, channel_axis=-1, data_range=255.0))
    return ImageDistance(pixel=pixel, ssim=ssim)


def diversity(contents: Sequence[RGBAImage | str]) -> float:
    """Mean pairwise distance between two or more candidates of one turn: normalised character
    distance for texts, pixel distance (at most DIVERSITY_SIDE pixels a side) for images."""
    if len(contents) < 2:
        raise ValueError(f"diversity needs two or more candidates, got {len(contents)}")
    if all(isinstance(c, str) for c in contents):
        pairs = itertools.combinations([c for c in contents if isinstance(c, str)], 2)
        return fmean(Levenshtein.normalized_distance(a, b) for a, b in pairs)
    images = [shrink_to_fit(c, DIVERSITY_SIDE) for c in contents if isinstance(c, RGBAImage)]
    if len(images) != len(contents):
        raise ValueError("diversity compares candidates of one kind: all texts or all images")
    return fmean(_pixel_distance(*_pair(a, b)) for a, b in itertools.combinations(images, 2))


def _pair(before: RGBAImage, after: RGBAImage) -> tuple[np.ndarray, np.ndarray]:
    return _premultiplied(before), _premultiplied(_resized(after, before.width, before.height))


def _pixel_distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).mean() / 255.0)


def _premultiplied(image: RGBAImage) -> np.ndarray:
    rgba = np.frombuffer(image.data, dtype=np.uint8).reshape(image.height, image.width, 4).astype(np.float64)
    return rgba[..., :3] * (rgba[..., 3:] / 255.0)


def _resized(image: RGBAImage, width: int, height: int) -> RGBAImage:
    if (image.width, image.height) == (width, height):
        return image
    picture = Image.frombytes("RGBA", (image.width, image.height), image.data)
    return RGBAImage(width, height, picture.resize((width, height), Image.Resampling.BILINEAR).tobytes())
