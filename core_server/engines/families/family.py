"""What one family of image models is: how it loads, what it serves and what it paints at.

A family module builds one Family from plain values. Everything that paints (engines.paint: crop,
composite, previews, cancel, seeds, batching, initial noise) is shared; a family only names what
differs. This module imports neither torch nor diffusers, so the catalog can read the table cheaply.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The tasks a family may refuse, as people name them in requests (see Family.refuses).
INPAINT = "inpaint"
EXPAND = "expand"
TEXTURE = "texture"
SEAMLESS = "seamless texture"
VARIANTS = "variants"
LORA = "LoRA"

# How a family takes reference images (Family.references).
IP_ADAPTER = "ip-adapter"  # an IP-Adapter from the catalog beside the UNet
IMAGE_REFERENCE = "image_reference"  # the inpaint pipeline's own reference-image input
REDUX = "redux"  # Flux Redux from the catalog: the picture as prompt tokens (engines.redux)

# Latent → RGB projection for previews: one (r, g, b) row per latent channel.
LatentRGB = tuple[tuple[float, float, float], ...]


@dataclass(frozen=True)
class Pipelines:
    """diffusers pipeline class names. `inpaint` serves every task (an img2img is an inpaint with a full
    mask at strength < 1); the others are said so a reader knows what the family offers."""

    inpaint: str
    img2img: str
    text2img: str


@dataclass(frozen=True)
class Family:
    name: str  # short id: models list, `demo --family`, catalog records
    title: str  # what people call it
    pipelines: Pipelines
    # model_index.json `_class_name`s of diffusers folders of this family
    folder_classes: tuple[str, ...]
    denoiser: str  # the pipeline attribute holding the UNet or transformer
    text_encoders: tuple[str, ...]  # pipeline attributes, in the compute dtype
    load_options: Mapping[str, Any]  # from_pretrained / from_single_file options of this family's pipeline
    native_side: int  # the longest side real checkpoints are trained at, px (the loaded config may say otherwise)
    min_side: int  # the smallest longest side worth painting at; below it quality falls apart
    latent_channels: int
    latent_patch: int  # latents are cut into latent_patch² patches (a packing transformer), else 1
    latent_rgb: LatentRGB
    default_steps: int
    default_guidance: float
    # How inpainting works: "9-channel UNet" style true inpainting, or img2img with the mask blended in.
    true_inpainting: str
    gpu_dtype: str = "float16"  # on CUDA; bfloat16 for models whose activations overflow float16
    refuses: Mapping[str, str] = field(default_factory=dict)  # task → why this family cannot do it
    # Options added to every pipeline call (e.g. a family without negative prompts drops them).
    call_options: Callable[[dict[str, Any]], dict[str, Any]] = lambda options: options
    # Previews get the callback's latents through this: (pipe, latents, height, width) → (n, C, h, w).
    preview_latents: Callable[[Any, Any, int, int], Any] | None = None
    # Builds the tiny random-weight model of this family into a folder (diffusers layout).
    build_tiny: Callable[[Path], None] | None = None
    # Fix-ups on the freshly loaded pipeline (on the CPU, before precision is applied), where a diffusers
    # pipeline expects what a family's checkpoints lack.
    prepare: Callable[[Any], None] | None = None
    # Serves the `edit` task: its inpaint pipeline sees the picture as context (Kontext, Qwen-Image-Edit, Flux.2).
    edits: bool = False
    # How reference images reach the model (engines.reference): IP_ADAPTER, IMAGE_REFERENCE, REDUX or "" (none).
    references: str = ""
    # The family whose single-file transformers have the same tensor names and shapes ("" : none), so a file
    # is detected as that one; `models add FILE --config FOLDER` with a folder of this family picks this one.
    same_transformer_as: str = ""

    def refusal(self, task: str) -> str | None:
        """Why this family cannot do `task`, or None when it can."""
        why = self.refuses.get(task)
        return f"{self.title} models cannot do {task}: {why}" if why else None
