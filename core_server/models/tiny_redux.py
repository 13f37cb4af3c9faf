"""A tiny random-weight Flux Redux for the tiny Flux.1 models: a small SigLIP vision encoder, its image
processor and a Redux image embedder whose tokens are as wide as the tiny T5's, saved in diffusers' layout of
black-forest-labs/FLUX.1-Redux-dev and loaded through the same from_pretrained calls as the real one."""

from __future__ import annotations

from pathlib import Path

from core_server.models import tiny_flow

TINY_REDUX = "tiny-flux-redux"
SEED = 0
SIDE = 32  # px the tiny encoder reads a reference at (the real one: 384)
ENCODER_WIDTH = 32
# The embedder's output weights: default initialisation makes tokens far fainter than the tiny T5's, so a
# reference would barely steer; this makes them as loud as a prompt's.
OUTPUT_STD = 0.5


def build(folder: Path) -> None:
    import torch
    from diffusers import FluxPriorReduxPipeline
    from diffusers.pipelines.flux.modeling_flux import ReduxImageEncoder
    from transformers import SiglipImageProcessor, SiglipVisionConfig, SiglipVisionModel

    from core_server.models import tiny

    tiny.quiet_progress()
    torch.manual_seed(SEED)
    encoder = SiglipVisionModel(
        SiglipVisionConfig(
            hidden_size=ENCODER_WIDTH,
            intermediate_size=37,
            num_hidden_layers=2,
            num_attention_heads=4,
            image_size=SIDE,
            patch_size=4,
        )
    )
    embedder = ReduxImageEncoder(redux_dim=ENCODER_WIDTH, txt_in_features=tiny_flow.TEXT_WIDTH * 2)
    with torch.no_grad():
        embedder.redux_down.weight.normal_(0.0, OUTPUT_STD)
    processor = SiglipImageProcessor(size={"height": SIDE, "width": SIDE})
    pipeline = FluxPriorReduxPipeline(image_encoder=encoder, feature_extractor=processor, image_embedder=embedder)
    pipeline.save_pretrained(folder, safe_serialization=True)


BUILDERS = {TINY_REDUX: build}
