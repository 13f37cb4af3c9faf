"""Qwen-Image (20B): a double-stream transformer on the 16-channel latents of a video VAE (Wan 2.1's, with
a frame axis), packed in 2×2 cells, conditioned by Qwen2.5-VL. Guidance is true classifier-free guidance
(`true_cfg_scale`), run as a second pass with the negative prompt."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core_server.engines.families import flow
from core_server.engines.families.family import Pipelines
from core_server.engines.families.flow import unpack_2x2

# ComfyUI's Wan 2.1 latent → RGB factors: Qwen-Image's VAE is Wan 2.1's.
LATENT_RGB = (
    (-0.1299, -0.1692, 0.2932),
    (0.0671, 0.0406, 0.0442),
    (0.3568, 0.2548, 0.1747),
    (0.0372, 0.2344, 0.1420),
    (0.0313, 0.0189, -0.0328),
    (0.0296, -0.0956, -0.0665),
    (-0.3477, -0.4059, -0.2925),
    (0.0166, 0.1902, 0.1975),
    (-0.0412, 0.0267, -0.1364),
    (-0.1293, 0.0740, 0.1636),
    (0.0680, 0.3019, 0.1128),
    (0.0032, 0.0581, 0.0639),
    (-0.1251, 0.0927, 0.1699),
    (0.0060, -0.0633, 0.0005),
    (0.3477, 0.2275, 0.2950),
    (0.1984, 0.0913, 0.1861),
)


def call_options(options: dict[str, Any]) -> dict[str, Any]:
    """The request's guidance is Qwen-Image's true CFG scale; its own guidance_scale is for guidance-distilled
    checkpoints, which this family's are not."""
    options = dict(options)
    options["true_cfg_scale"] = options.pop("guidance_scale")
    return options


def build_tiny(folder: Path) -> None:
    from core_server.models import tiny_flow  # here: the catalog imports this table

    tiny_flow.build_qwen_image(folder)


FAMILY = flow.family(
    name="qwen-image",
    title="Qwen-Image",
    pipelines=Pipelines(
        inpaint="QwenImageInpaintPipeline", img2img="QwenImageImg2ImgPipeline", text2img="QwenImagePipeline"
    ),
    folder_classes=("QwenImagePipeline", "QwenImageInpaintPipeline", "QwenImageImg2ImgPipeline"),
    text_encoders=("text_encoder",),
    latent_channels=16,
    latent_rgb=LATENT_RGB,
    default_steps=30,
    default_guidance=4.0,
    true_inpainting="no inpainting variant: img2img with the mask blended in at every step",
    call_options=call_options,
    preview_latents=unpack_2x2,
    build_tiny=build_tiny,
)
