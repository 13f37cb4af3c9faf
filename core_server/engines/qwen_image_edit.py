"""Qwen-Image-Edit painting into a mask through diffusers' QwenImageEditInpaintPipeline, with two fix-ups:

- Size: the pipeline paints at about 1024² whatever height and width it is given (it takes its size from the
  picture's aspect at a fixed 1024² area), which would make a 256² request cost 16× more per step and keep the
  tiny model from painting at its own size. Within a call, its module's `calculate_dimensions` gives back the
  size asked for, as noise.given_noise does with `randn_tensor`: everything else is diffusers' own loop.
- Processor: transformers builds Qwen2-VL's processor with its video half, which needs torchvision, and PyPI's
  torchvision does not import beside the CPU build of torch. The pipeline only hands it text and pictures, so
  the processor is loaded without its video half (Qwen2VLProcessor otherwise unchanged).

The 2509 and 2511 releases (QwenImageEditPlusPipeline folders, the same parts) load here too; their prompt
names the picture as the Plus pipeline does for one picture. A call with reference pictures goes to diffusers'
QwenImageEditPlusPipeline on the same parts, which takes several pictures.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from diffusers.pipelines.qwenimage import pipeline_qwenimage_edit_inpaint, pipeline_qwenimage_edit_plus
from diffusers.pipelines.qwenimage.pipeline_qwenimage_edit_inpaint import QwenImageEditInpaintPipeline
from diffusers.pipelines.qwenimage.pipeline_qwenimage_edit_plus import VAE_IMAGE_SIZE, QwenImageEditPlusPipeline
from PIL import Image
from transformers import Qwen2VLProcessor

from core_server.engines import noise
from core_server.tasks import EngineError

VISION = "<|vision_start|>"  # where the picture's tokens begin in the prompt


class PictureProcessor(Qwen2VLProcessor):
    """Qwen2-VL's processor for text and pictures, without the video processor (and so without torchvision)."""

    @classmethod
    def get_attributes(cls) -> list[str]:
        return ["image_processor", "tokenizer"]


class QwenImageEditRegionPipeline(QwenImageEditInpaintPipeline):
    """QwenImageEditInpaintPipeline that paints at the height and width it is called with."""

    @classmethod
    def from_pretrained(cls, folder: Any, **options: Any) -> Any:  # type: ignore[override]
        if "processor" not in options:
            local = {"local_files_only": options.get("local_files_only", True)}
            options["processor"] = PictureProcessor.from_pretrained(Path(folder) / "processor", **local)
        pipe = super().from_pretrained(folder, **options)
        index = json.loads((Path(folder) / "model_index.json").read_text(encoding="utf-8"))
        if index.get("_class_name") == "QwenImageEditPlusPipeline":
            # 2509 and 2511 learnt their pictures numbered, as QwenImageEditPlusPipeline writes a single one.
            pipe.prompt_template_encode = pipe.prompt_template_encode.replace(VISION, f"Picture 1: {VISION}")
        return pipe

    def __call__(  # type: ignore[override]
        self, image: Any = None, *, height: int, width: int, image_reference: Any = None, **options: Any
    ) -> Any:
        # The pipeline reads the picture's size off a PIL image (a tensor's .size is a method).
        pictures = _pictures(image)
        with _painting_at(width, height):
            if image_reference:
                return self._with_references(pictures, list(image_reference), height, width, options)
            return super().__call__(image=pictures, height=height, width=width, **options)

    def _with_references(
        self, pictures: list[Image.Image], references: list[Image.Image], height: int, width: int, options: dict
    ) -> Any:
        """diffusers' QwenImageEditPlusPipeline, on these same parts, takes several pictures: the one painted,
        then the references. It has no mask: it paints the whole region afresh (strength 1), and engines.paint
        composites the result under the mask as it does every result."""
        if options.pop("strength") < 1:
            raise EngineError(
                "Qwen-Image-Edit takes reference pictures only where it paints afresh (edit, inpaint and expand at "
                "strength 1), not for variants; send the picture without references."
            )
        del options["mask_image"]
        noise.also_drawn_in(pipeline_qwenimage_edit_plus)
        plus = QwenImageEditPlusPipeline.from_pipe(self)
        plus.set_progress_bar_config(disable=True)
        return plus(image=[*pictures, *references], height=height, width=width, **options)


def _pictures(image: Any) -> list[Image.Image]:
    """PIL pictures from engines.paint's (n, 3, h, w) float tensor in [0, 1]."""
    if not isinstance(image, torch.Tensor):
        return image
    pixels = (image.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    return [Image.fromarray(np.ascontiguousarray(each)) for each in pixels]


@contextlib.contextmanager
def _painting_at(width: int, height: int) -> Iterator[None]:
    _redirect()
    _call.size = (width, height)
    try:
        yield
    finally:
        _call.size = None


_call = threading.local()
_REDIRECT_LOCK = threading.Lock()


def _redirect() -> None:
    """Replace the pipelines' calculate_dimensions, once, by one that sizes for the call running on this thread
    (other threads and calls get diffusers' own): the edit-inpaint pipeline paints the size asked; the Plus
    pipeline encodes each picture at the painted area (not 1024²) and shows it to the text encoder as it would."""
    with _REDIRECT_LOCK:
        if getattr(pipeline_qwenimage_edit_inpaint, "_cocreate_size", False):
            return
        inpaint_calculate = pipeline_qwenimage_edit_inpaint.calculate_dimensions
        plus_calculate = pipeline_qwenimage_edit_plus.calculate_dimensions

        def painted_size(target_area: float, ratio: float) -> tuple[int, int, Any]:
            size = getattr(_call, "size", None)
            return inpaint_calculate(target_area, ratio) if size is None else (size[0], size[1], None)

        def picture_size(target_area: float, ratio: float) -> tuple[int, int]:
            size = getattr(_call, "size", None)
            if size is not None and target_area == VAE_IMAGE_SIZE:
                target_area = size[0] * size[1]
            return plus_calculate(target_area, ratio)

        pipeline_qwenimage_edit_inpaint.calculate_dimensions = painted_size
        pipeline_qwenimage_edit_plus.calculate_dimensions = picture_size
        pipeline_qwenimage_edit_inpaint._cocreate_size = True
