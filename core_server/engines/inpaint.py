"""inpaint: regenerate the masked part of an image; pixels where the mask is 0 stay bit-identical."""

from __future__ import annotations

from core_server.engines.paint import PaintJob
from core_server.engines.pixels import image_array, mask_array
from core_server.tasks import InpaintTask

DEFAULT_STRENGTH = 1.0


def paint_job(task: InpaintTask) -> PaintJob:
    image = image_array(task.image)
    height, width = image.shape[:2]
    return PaintJob(
        image=image,
        mask=mask_array(task.mask, width, height),
        prompt=task.prompt,
        negative_prompt=task.negative_prompt,
        strength=task.strength or DEFAULT_STRENGTH,
        steps=task.steps,
        guidance=task.guidance,
        resolution=task.resolution,
    )
