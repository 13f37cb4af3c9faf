"""Chroma (8.9B): Flux.1 [schnell]'s layout retrained, with its modulation computed by a small network
instead of from a CLIP vector, so only a T5 text encoder; real classifier-free guidance."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core_server.engines.families import flow
from core_server.engines.families.family import Pipelines
from core_server.engines.families.flow import FLUX_LATENT_RGB, unpack_2x2


def prepare(pipe: Any) -> None:
    """diffusers 0.42's ChromaInpaintPipeline asks the transformer's config for `guidance_embeds`, which
    Chroma's transformer has never had (it embeds no guidance); say so, or every inpaint fails."""
    if "guidance_embeds" not in pipe.transformer.config:
        pipe.transformer.register_to_config(guidance_embeds=False)
    flow.prepare(pipe)


def build_tiny(folder: Path) -> None:
    from core_server.models import tiny_flow  # here: the catalog imports this table

    tiny_flow.build_chroma(folder)


FAMILY = flow.family(
    name="chroma",
    title="Chroma",
    pipelines=Pipelines(inpaint="ChromaInpaintPipeline", img2img="ChromaImg2ImgPipeline", text2img="ChromaPipeline"),
    folder_classes=("ChromaPipeline", "ChromaInpaintPipeline", "ChromaImg2ImgPipeline"),
    text_encoders=("text_encoder",),
    latent_channels=16,
    latent_rgb=FLUX_LATENT_RGB,
    default_steps=26,
    default_guidance=4.0,
    true_inpainting="no inpainting variant: img2img with the mask blended in at every step",
    preview_latents=unpack_2x2,
    build_tiny=build_tiny,
    prepare=prepare,
)
