"""Flux Redux: reference pictures as extra prompt tokens for Flux.1 [dev], [schnell] and Fill.

diffusers' FluxPriorReduxPipeline reads each picture with its SigLIP encoder and Redux embedder; those tokens
are put after the prompt's T5 tokens (the Flux pipeline's own encode_prompt, so the encode cache serves it),
each reference's scaled by its strength. Not the prior pipeline's prompt_embeds_scale: that scales the prompt's
tokens too, so a faint reference would weaken the prompt instead of counting for less beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from diffusers import DiffusionPipeline, FluxPriorReduxPipeline
from diffusers.pipelines.flux.modeling_flux import ReduxImageEncoder
from PIL import Image

from core_server.engines.devices import memory_bytes
from core_server.models import redux
from core_server.tasks import Adapter, EngineError

MAX_LOADED = 2  # Redux folders kept beside the model; a third drops the least recently used


class Redux:
    """The Redux models one Flux engine has loaded, by folder; call under the engine's lock."""

    def __init__(self) -> None:
        self._loaded: dict[Path, FluxPriorReduxPipeline] = {}

    @property
    def memory_bytes(self) -> int:
        return sum(memory_bytes(prior.image_encoder, prior.image_embedder) for prior in self._loaded.values())

    @torch.inference_mode()
    def options(
        self, pipe: DiffusionPipeline, prompt: str, references: Sequence[tuple[Adapter, Image.Image, float]]
    ) -> dict[str, Any]:
        """The Flux pipeline options carrying the prompt and, after its tokens, each (Redux model, picture,
        strength) reference's: the prompt given as embeddings."""
        device = pipe._execution_device
        prompt_embeds, pooled, _ = pipe.encode_prompt(prompt=prompt, prompt_2=None, device=device)
        tokens = [prompt_embeds]
        for adapter, picture, strength in references:
            prior = self._prior(adapter, pipe)
            features = prior.encode_image(picture, device, 1)
            tokens.append(prior.image_embedder(features).image_embeds.to(prompt_embeds.dtype) * strength)
        return {"prompt": None, "prompt_embeds": torch.cat(tokens, dim=1), "pooled_prompt_embeds": pooled}

    def _prior(self, adapter: Adapter, pipe: DiffusionPipeline) -> FluxPriorReduxPipeline:
        folder = Path(adapter.path)
        if folder not in self._loaded:
            if len(self._loaded) >= MAX_LOADED:
                self._loaded.pop(next(iter(self._loaded)))
            self._loaded[folder] = _load(folder, adapter.name, pipe)
        return self._loaded[folder]

    def close(self) -> None:
        self._loaded.clear()


def _load(folder: Path, name: str, pipe: DiffusionPipeline) -> FluxPriorReduxPipeline:
    from transformers import SiglipImageProcessor, SiglipVisionModel

    if missing := redux.missing_parts(folder):
        raise EngineError(f"The Redux model {name} at {folder} lacks {', '.join(missing)}; pull it again.")
    dtype = pipe.transformer.dtype
    options = {"local_files_only": True, "use_safetensors": True}
    try:
        encoder = SiglipVisionModel.from_pretrained(folder / redux.ENCODER, dtype=dtype, **options)
        embedder = ReduxImageEncoder.from_pretrained(folder / redux.EMBEDDER, torch_dtype=dtype, **options)
        processor = SiglipImageProcessor.from_pretrained(folder / redux.PROCESSOR, local_files_only=True)
    except (OSError, ValueError) as error:
        raise EngineError(f"Could not load the Redux model {name} from {folder}: {error}") from error
    text_width = pipe.transformer.config.joint_attention_dim
    if embedder.config.txt_in_features != text_width:
        raise EngineError(
            f"The Redux model {name} makes {embedder.config.txt_in_features}-wide tokens; this Flux model reads "
            f"{text_width}-wide ones. Is it made for another model?"
        )
    device = pipe._execution_device
    prior = FluxPriorReduxPipeline(
        image_encoder=encoder.to(device).eval(), feature_extractor=processor, image_embedder=embedder.to(device)
    )
    prior.set_progress_bar_config(disable=True)
    return prior
