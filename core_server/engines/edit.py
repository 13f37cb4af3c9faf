"""edit: an instruction ("make it night") applied to an image or to its masked part.

Served by the families whose inpaint pipeline sees the picture as context while it paints (Flux.1 Kontext,
Qwen-Image-Edit, Flux.2 Klein): the masked part is painted afresh (strength 1) from the instruction, looking at
what was there, and composited like an inpaint, so pixels where the mask is 0 stay bit-identical."""

from __future__ import annotations

from core_server.engines.paint import PaintJob
from core_server.engines.pixels import image_array, mask_array
from core_server.tasks import EditTask

# All of the masked part is painted new: the model keeps what the instruction leaves alone by looking at the context.
STRENGTH = 1.0


def paint_job(task: EditTask) -> PaintJob:
    image = image_array(task.image)
    height, width = image.shape[:2]
    return PaintJob(
        image=image,
        mask=mask_array(task.mask, width, height),
        prompt=task.instruction,
        negative_prompt="",
        strength=STRENGTH,
        steps=task.steps,
        guidance=task.guidance,
        resolution=task.resolution,
    )
