"""expand: grow the canvas and paint the new area so it continues the picture."""

from __future__ import annotations

from functools import reduce

import numpy as np

from core_server.config import DEFAULT_LIMITS
from core_server.engines.paint import PaintJob
from core_server.engines.pixels import image_array
from core_server.tasks import EngineError, ExpandTask

DEFAULT_FEATHER = 16


def paint_job(task: ExpandTask) -> PaintJob:
    """The grown canvas, its new area fully masked and a seam that fades `feather` px into the old picture.

    Old pixels beyond the seam are kept bit-identical, shifted by (left, top).
    """
    image = image_array(task.image)
    height, width = image.shape[:2]
    left, top, right, bottom = task.left, task.top, task.right, task.bottom
    if not any((left, top, right, bottom)):
        raise EngineError("Nothing to expand: grow at least one of left, top, right or bottom.")
    if max(width + left + right, height + top + bottom) > DEFAULT_LIMITS.max_side:
        raise EngineError(
            f"The expanded canvas would be larger than {DEFAULT_LIMITS.max_side} px on a side; grow it less."
        )

    # The new area starts as the picture's edge pixels stretched outwards: colours the model can continue.
    canvas = np.pad(image, ((top, bottom), (left, right), (0, 0)), mode="edge")
    mask = np.full(canvas.shape[:2], 255, np.uint8)
    feather = task.feather or DEFAULT_FEATHER
    mask[top : top + height, left : left + width] = _seam(width, height, (left, top, right, bottom), feather)
    return PaintJob(
        image=canvas,
        mask=mask,
        prompt=task.prompt,
        negative_prompt=task.negative_prompt,
        strength=1.0,
        steps=task.steps,
        guidance=task.guidance,
        resolution=task.resolution,
    )


def _seam(width: int, height: int, grown: tuple[int, int, int, int], feather: int) -> np.ndarray:
    """Mask over the old picture: 0 inside, rising linearly towards each grown edge over `feather` px."""
    xs = np.arange(width)[None, :]
    ys = np.arange(height)[:, None]
    left, top, right, bottom = grown
    # Distance of every old pixel to the nearest edge that borders new area (0 on that edge).
    edges = [d for d, grew in ((xs, left), (ys, top), (width - 1 - xs, right), (height - 1 - ys, bottom)) if grew]
    distance = reduce(np.minimum, edges)
    ramp = np.clip(1.0 - (distance + 1) / (feather + 1), 0.0, 1.0)
    return np.broadcast_to(np.rint(ramp * 255).astype(np.uint8), (height, width))
