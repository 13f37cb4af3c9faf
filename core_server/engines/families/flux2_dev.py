"""FLUX.2 [dev] (32B): the Flux.2 transformer on 32-channel latents packed in 2×2 cells, Mistral Small 3.1 as
text encoder, guidance embedded in the model. It inpaints through engines.flux2_dev_inpaint (Klein's
inpainting loop with [dev]'s prompt encoding), since diffusers ships [dev] as text-to-image only."""

from __future__ import annotations

from pathlib import Path

from core_server.engines.families import flow
from core_server.engines.families.family import Pipelines
from core_server.engines.families.flow import unpack_2x2, without_negative_prompt
from core_server.engines.families.flux2_klein import LATENT_RGB

INPAINT = "core_server.engines.flux2_dev_inpaint.Flux2DevInpaintPipeline"


def build_tiny(folder: Path) -> None:
    from core_server.models import tiny_flux2_dev  # here: the catalog imports this table

    tiny_flux2_dev.build(folder)


FAMILY = flow.family(
    name="flux2-dev",
    title="FLUX.2 [dev]",
    pipelines=Pipelines(inpaint=INPAINT, img2img=INPAINT, text2img="Flux2Pipeline"),
    folder_classes=("Flux2Pipeline", "Flux2DevInpaintPipeline"),
    text_encoders=("text_encoder",),
    latent_channels=32,
    latent_rgb=LATENT_RGB,  # the same VAE as Klein
    default_steps=50,
    default_guidance=4.0,  # what Black Forest Labs give [dev]
    true_inpainting="no inpainting variant: img2img with the mask blended in at every step",
    gpu_dtype="bfloat16",
    call_options=without_negative_prompt,
    preview_latents=unpack_2x2,
    build_tiny=build_tiny,
)
