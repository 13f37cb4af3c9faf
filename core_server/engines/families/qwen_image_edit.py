"""Qwen-Image-Edit (20B): Qwen-Image trained to edit by instruction. Its Qwen2.5-VL text encoder reads the
instruction beside the picture, and the transformer takes the picture's latents as context tokens beside the
ones it paints, so an edit (and an inpaint) sees what is there. It paints through engines.qwen_image_edit
(diffusers' edit-inpaint pipeline, at the size engines.paint chose). The 2509 and 2511 releases ship as
QwenImageEditPlusPipeline folders with the same parts, and load the same way; a reference picture is painted
through that Plus pipeline, beside the picture."""

from __future__ import annotations

from pathlib import Path

from core_server.engines.families import flow
from core_server.engines.families.family import IMAGE_REFERENCE, Pipelines
from core_server.engines.families.flow import unpack_2x2
from core_server.engines.families.qwen_image import LATENT_RGB, call_options

INPAINT = "core_server.engines.qwen_image_edit.QwenImageEditRegionPipeline"


def build_tiny(folder: Path) -> None:
    from core_server.models import tiny_edit  # here: the catalog imports this table

    tiny_edit.build_qwen_image_edit(folder)


FAMILY = flow.family(
    name="qwen-image-edit",
    title="Qwen-Image-Edit",
    pipelines=Pipelines(inpaint=INPAINT, img2img=INPAINT, text2img="QwenImageEditPipeline"),
    folder_classes=("QwenImageEditPipeline", "QwenImageEditPlusPipeline", "QwenImageEditInpaintPipeline"),
    text_encoders=("text_encoder",),
    latent_channels=16,
    latent_rgb=LATENT_RGB,  # Qwen-Image's VAE
    default_steps=50,  # what Qwen's model card runs, with a true CFG scale of 4
    default_guidance=4.0,
    gpu_dtype="bfloat16",  # as Qwen ships it and runs it; its Qwen2.5-VL encoder overflows float16
    true_inpainting="no inpainting variant: img2img with the mask blended in, the picture given as context",
    call_options=call_options,
    preview_latents=unpack_2x2,
    build_tiny=build_tiny,
    edits=True,
    references=IMAGE_REFERENCE,  # through diffusers' QwenImageEditPlusPipeline on the same parts
    same_transformer_as="qwen-image",
)
