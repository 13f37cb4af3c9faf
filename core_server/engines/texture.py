"""texture: a material from a prompt, optionally tiling, or a repair of an existing texture under a mask."""

from __future__ import annotations

import numpy as np

from core_server.engines.paint import PaintJob
from core_server.engines.pixels import BACKDROP, image_array, mask_array
from core_server.tasks import EngineError, TextureTask

DEFAULT_STRENGTH = 1.0


def paint_job(task: TextureTask) -> PaintJob:
    """width × height from the prompt, or `image` repaired under `mask` (no mask: all of it).

    Without an image the model starts from flat gray with everything masked at strength 1, so
    `strength` only applies to repairs. With one, width and height are 0 or the image's size.
    """
    if task.image is None:
        if task.mask is not None:
            raise EngineError("A texture mask needs the image it masks; send the texture to repair too.")
        if task.width < 1 or task.height < 1:
            raise EngineError("Give the texture a width and a height (or an image to repair).")
        image = np.zeros((task.height, task.width, 4), np.uint8)
        image[..., :3] = BACKDROP
        image[..., 3] = 255
        mask = np.full((task.height, task.width), 255, np.uint8)
        strength = 1.0
    else:
        image = image_array(task.image)
        height, width = image.shape[:2]
        if (task.width, task.height) not in ((0, 0), (width, height)):
            raise EngineError(
                f"width × height is {task.width}×{task.height} but the image is {width}×{height}; "
                "leave them 0 to keep the image's size."
            )
        mask = mask_array(task.mask, width, height)
        strength = task.strength or DEFAULT_STRENGTH
    return PaintJob(
        image=image,
        mask=mask,
        prompt=task.prompt,
        negative_prompt=task.negative_prompt,
        strength=strength,
        steps=task.steps,
        guidance=task.guidance,
        resolution=task.resolution,
        seamless=task.seamless,
    )
