"""Flux Redux folders: what black-forest-labs/FLUX.1-Redux-dev holds in diffusers' layout (a SigLIP image
encoder, its image processor and the Redux image embedder that turns its features into text-width tokens).
Reading one needs no torch: the catalog calls these to tell a Redux folder from an image model."""

from __future__ import annotations

import json
from pathlib import Path

PIPELINE = "FluxPriorReduxPipeline"
ENCODER, PROCESSOR, EMBEDDER = "image_encoder", "feature_extractor", "image_embedder"
FAMILY = "flux"  # the family a Redux folder is recorded under; Fill takes the same tokens (families.conditioning)
PULL_NAME = "flux-redux"
REPO = "black-forest-labs/FLUX.1-Redux-dev"  # gated; licence: flux-1-dev-non-commercial-license
# What a pull takes: the diffusers parts, not the BFL single file beside them (the same weights again).
PULL_FILES = (
    "model_index.json",
    f"{PROCESSOR}/preprocessor_config.json",
    f"{ENCODER}/config.json",
    f"{ENCODER}/model.safetensors",
    f"{EMBEDDER}/config.json",
    f"{EMBEDDER}/diffusion_pytorch_model.safetensors",
)


def is_redux(folder: Path) -> bool:
    """Whether `folder` is a diffusers FluxPriorReduxPipeline folder."""
    index = folder / "model_index.json"
    try:
        return json.loads(index.read_text(encoding="utf-8")).get("_class_name") == PIPELINE
    except (OSError, ValueError, AttributeError):
        return False


def missing_parts(folder: Path) -> list[str]:
    """The parts a Redux folder lacks (a partial copy), by their folder names."""
    wanted = {ENCODER: "config.json", PROCESSOR: "preprocessor_config.json", EMBEDDER: "config.json"}
    return [part for part, config in wanted.items() if not (folder / part / config).is_file()]
