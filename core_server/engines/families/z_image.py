"""Z-Image (Turbo): a 6B single-stream transformer on Flux.1's 16-channel latents, a Qwen3 text encoder,
distilled to 8 steps without guidance."""

from __future__ import annotations

from pathlib import Path

from core_server.engines.families import flow
from core_server.engines.families.family import Pipelines
from core_server.engines.families.flow import FLUX_LATENT_RGB


def build_tiny(folder: Path) -> None:
    from core_server.models import tiny_flow  # here: the catalog imports this table

    tiny_flow.build_z_image(folder)


FAMILY = flow.family(
    name="z-image",
    title="Z-Image",
    pipelines=Pipelines(inpaint="ZImageInpaintPipeline", img2img="ZImageImg2ImgPipeline", text2img="ZImagePipeline"),
    folder_classes=("ZImagePipeline", "ZImageInpaintPipeline", "ZImageImg2ImgPipeline"),
    text_encoders=("text_encoder",),
    latent_channels=16,
    latent_rgb=FLUX_LATENT_RGB,
    default_steps=8,  # Turbo; the base model wants about 50 and a guidance of 4
    default_guidance=1.0,  # 1 or below: no classifier-free guidance, as Turbo runs
    true_inpainting="no inpainting variant: img2img with the mask blended in at every step",
    build_tiny=build_tiny,
)
