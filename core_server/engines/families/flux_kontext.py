"""Flux.1 Kontext [dev]: a Flux.1 transformer trained to edit by instruction. Its inpaint pipeline takes the
picture's latents as context tokens beside the ones it paints, so an edit (and an inpaint) sees what is there."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core_server.engines.families import flow
from core_server.engines.families.family import IMAGE_REFERENCE, Pipelines
from core_server.engines.families.flow import FLUX_LATENT_RGB, unpack_2x2


def call_options(options: dict[str, Any]) -> dict[str, Any]:
    """Paint at the size engines.paint chose, not at the nearest of Kontext's trained resolutions."""
    return {**options, "_auto_resize": False}


def build_tiny(folder: Path) -> None:
    from core_server.models import tiny_edit  # here: the catalog imports this table

    tiny_edit.build_flux_kontext(folder)


FAMILY = flow.family(
    name="flux-kontext",
    title="Flux.1 Kontext",
    pipelines=Pipelines(
        inpaint="FluxKontextInpaintPipeline", img2img="FluxKontextInpaintPipeline", text2img="FluxKontextPipeline"
    ),
    folder_classes=("FluxKontextPipeline", "FluxKontextInpaintPipeline"),
    text_encoders=("text_encoder", "text_encoder_2"),
    latent_channels=16,
    latent_rgb=FLUX_LATENT_RGB,
    default_steps=28,
    default_guidance=2.5,  # the embedded guidance Kontext [dev] was distilled with
    true_inpainting="no inpainting variant: img2img with the mask blended in, the picture given as context",
    call_options=call_options,
    preview_latents=unpack_2x2,
    build_tiny=build_tiny,
    edits=True,
    references=IMAGE_REFERENCE,  # image_reference: a picture beside the one it paints over
)
