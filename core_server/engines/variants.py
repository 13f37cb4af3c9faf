"""variants: restyle an image (or its masked part) after `style_prompt`, keeping its composition."""

from __future__ import annotations

from core_server.engines.paint import PaintJob
from core_server.engines.pixels import image_array, mask_array
from core_server.tasks import VariantsTask

# Enough noise to change the style, little enough to keep the shapes.
DEFAULT_STRENGTH = 0.6


def paint_job(task: VariantsTask) -> PaintJob:
    image = image_array(task.image)
    height, width = image.shape[:2]
    return PaintJob(
        image=image,
        mask=mask_array(task.mask, width, height),
        prompt=task.style_prompt,
        negative_prompt=task.negative_prompt,
        strength=task.strength or DEFAULT_STRENGTH,
        steps=task.steps,
        guidance=task.guidance,
        resolution=task.resolution,
    )
