"""Flux.1 Fill [dev]: Flux.1 trained to inpaint, its transformer taking the masked picture's latents and the
mask beside the noisy latents (384 input channels), so masked areas follow their surroundings."""

from __future__ import annotations

from pathlib import Path

from core_server.engines.families import flow
from core_server.engines.families.family import REDUX, Pipelines
from core_server.engines.families.flow import (
    FLUX_LATENT_RGB,
    unpack_2x2,
    without_negative_prompt,
)


def build_tiny(folder: Path) -> None:
    from core_server.models import tiny_flow  # here: the catalog imports this table

    tiny_flow.build_flux_fill(folder)


FAMILY = flow.family(
    name="flux-fill",
    title="Flux.1 Fill",
    pipelines=Pipelines(inpaint="FluxFillPipeline", img2img="FluxFillPipeline", text2img="FluxFillPipeline"),
    folder_classes=("FluxFillPipeline",),
    text_encoders=("text_encoder", "text_encoder_2"),
    latent_channels=16,
    latent_rgb=FLUX_LATENT_RGB,
    default_steps=28,
    default_guidance=30.0,  # what Black Forest Labs give Fill
    true_inpainting="true inpainting: the transformer sees the masked picture and the mask",
    call_options=without_negative_prompt,
    preview_latents=unpack_2x2,
    build_tiny=build_tiny,
    references=REDUX,
)
