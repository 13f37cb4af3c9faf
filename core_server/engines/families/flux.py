"""Flux.1 [dev] and [schnell]: a 12B double/single-stream transformer on 16-channel latents packed in 2×2
cells, CLIP-L and T5-XXL text encoders, guidance embedded in the model ([dev]) or distilled away
([schnell]). No inpainting variant in this family (see flux_fill): img2img with the mask blended in."""

from __future__ import annotations

from pathlib import Path

from core_server.engines.families import flow
from core_server.engines.families.family import REDUX, Pipelines
from core_server.engines.families.flow import FLUX_LATENT_RGB, unpack_2x2


def build_tiny(folder: Path) -> None:
    from core_server.models import tiny_flow  # here: the catalog imports this table

    tiny_flow.build_flux(folder)


FAMILY = flow.family(
    name="flux",
    title="Flux.1",
    pipelines=Pipelines(inpaint="FluxInpaintPipeline", img2img="FluxImg2ImgPipeline", text2img="FluxPipeline"),
    folder_classes=("FluxPipeline", "FluxInpaintPipeline", "FluxImg2ImgPipeline"),
    text_encoders=("text_encoder", "text_encoder_2"),
    latent_channels=16,
    latent_rgb=FLUX_LATENT_RGB,
    default_steps=28,  # [dev]; [schnell] needs only 4: ask for them
    default_guidance=3.5,  # the embedded guidance [dev] was distilled with; [schnell] ignores it
    true_inpainting="no inpainting variant (Flux.1 Fill is its own family): img2img with the mask blended in",
    preview_latents=unpack_2x2,
    build_tiny=build_tiny,
    references=REDUX,
)
