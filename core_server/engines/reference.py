"""Reference images: pictures the candidates take after, handed to the pipeline the way the family takes them.

- SD 1.x/2.x and SDXL: IP-Adapter (diffusers' load_ip_adapter / set_ip_adapter_scale), one copy of the adapter
  per reference so each keeps its own kind and strength. On SDXL a style reference feeds only the layer that
  carries style and a composition reference only the one that carries layout (InstantStyle, Wang et al. 2024);
  on SD 1.x/2.x both feed every layer. Face references need IP-Adapter FaceID, which needs insightface: refused.
- Flux.2 Klein: the inpaint pipeline's own reference-image input (image_reference), beside the picture it paints.
- Flux.1 [dev], [schnell] and Fill: Flux Redux (engines.redux), the picture as tokens after the prompt's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from diffusers import DiffusionPipeline
from PIL import Image
from safetensors.torch import load_file

from core_server.engines.families import sdxl
from core_server.engines.families.conditioning import reference_refusal
from core_server.engines.families.family import IP_ADAPTER, REDUX, Family
from core_server.engines.pixels import image_array, over_backdrop
from core_server.engines.redux import Redux
from core_server.models.ip_adapter import adapter_files
from core_server.tasks import EngineError, Reference, ReferenceKind

DEFAULT_STRENGTH = 0.6


class References:
    """The reference inputs of one loaded pipeline; call under the engine's lock, before each paint."""

    def __init__(self) -> None:
        self._loaded: tuple[str, ...] = ()  # the sha256 of each IP-Adapter copy loaded, in reference order
        self._encoders: dict[Path, Any] = {}  # image encoders read once, kept across unloads
        self._redux = Redux()

    @property
    def memory_bytes(self) -> int:
        """What the Redux models loaded beside the pipeline hold (IP-Adapters count with the pipeline's parts)."""
        return self._redux.memory_bytes

    def call_options(
        self, pipe: DiffusionPipeline, family: Family, references: tuple[Reference, ...], side: int, prompt: str = ""
    ) -> dict[str, Any]:
        """The pipeline options that hand `references` to the model; `side`: the longest side to send them at;
        `prompt`: the job's, which Redux hands over as embeddings with the references' tokens."""
        if (why := reference_refusal(family, references)) is not None:
            raise EngineError(why)
        if family.references == IP_ADAPTER:
            return self._ip_adapter(pipe, family, references)
        if not references:
            return {}
        if family.references == REDUX:
            chosen = [(_adapter(r), _picture(r, side), r.strength or DEFAULT_STRENGTH) for r in references]
            return self._redux.options(pipe, prompt, chosen)
        return {"image_reference": [_picture(reference, side) for reference in references]}

    def close(self) -> None:
        self._redux.close()

    def _ip_adapter(self, pipe: DiffusionPipeline, family: Family, references: tuple[Reference, ...]) -> dict:
        wanted = tuple(_adapter(reference).sha256 for reference in references)
        if wanted != self._loaded:
            if self._loaded:
                pipe.unload_ip_adapter()
                self._loaded = ()
            if wanted:
                self._load(pipe, references)
                self._loaded = wanted
        if not references:
            return {}
        pipe.set_ip_adapter_scale([adapter_scale(pipe.unet, family, reference) for reference in references])
        encoder = pipe.image_encoder
        return {"ip_adapter_image": [_picture(reference, encoder.config.image_size) for reference in references]}

    def _load(self, pipe: DiffusionPipeline, references: tuple[Reference, ...]) -> None:
        found = []
        for reference in references:
            adapter = _adapter(reference)
            files = adapter_files(Path(adapter.path))
            if files is None:
                raise EngineError(f"{adapter.name} holds no IP-Adapter (an image_encoder folder and its weights).")
            found.append((adapter.name, files))
        encoder_folder = found[0][1].encoder
        if encoder_folder not in self._encoders:
            from transformers import CLIPVisionModelWithProjection

            self._encoders[encoder_folder] = CLIPVisionModelWithProjection.from_pretrained(
                encoder_folder, local_files_only=True, use_safetensors=True, dtype=pipe.unet.dtype
            )
        pipe.register_modules(image_encoder=self._encoders[encoder_folder].to(pipe._execution_device))
        # Read here, from the files the catalog resolved: diffusers gets tensors, never a path or a repo.
        state_dicts = [_split(load_file(files.weights)) for _, files in found]
        try:
            pipe.load_ip_adapter(state_dicts, subfolder=[""] * len(found), weight_name=[""] * len(found))
        except (ValueError, KeyError, RuntimeError) as error:
            pipe.unload_ip_adapter()
            raise EngineError(
                f"The IP-Adapter {found[0][0]} does not fit this model (made for another family?): {error}"
            ) from error


def _adapter(reference: Reference) -> Any:
    if reference.adapter is None:
        raise EngineError("This reference names no adapter (IP-Adapter, Redux); the daemon resolves one first.")
    return reference.adapter


def _split(tensors: dict[str, torch.Tensor]) -> dict[str, dict[str, torch.Tensor]]:
    """h94's one-file layout → the {'image_proj': …, 'ip_adapter': …} state dict diffusers loads."""
    parts: dict[str, dict[str, torch.Tensor]] = {"image_proj": {}, "ip_adapter": {}}
    for key, value in tensors.items():
        part, _, rest = key.partition(".")
        if part in parts:
            parts[part][rest] = value
    return parts


def adapter_scale(unet: Any, family: Family, reference: Reference) -> float | dict[str, Any]:
    """The adapter copy's scale: everywhere, or on SDXL InstantStyle's one layer for the kind."""
    strength = reference.strength or DEFAULT_STRENGTH
    if family is not sdxl.FAMILY:
        return strength
    config = unet.config
    per_block = config.layers_per_block
    if reference.kind is ReferenceKind.STYLE:
        # The first cross-attention up block's middle attention: block_0 of SDXL's up blocks.
        block = next(i for i, kind in enumerate(config.up_block_types) if "CrossAttn" in kind)
        layers = (per_block[block] if isinstance(per_block, list | tuple) else per_block) + 1
        return {"up": {f"block_{block}": _one_layer(layers, strength)}}
    # The last cross-attention down block's second attention: block_2 of SDXL's down blocks.
    block = max(i for i, kind in enumerate(config.down_block_types) if "CrossAttn" in kind)
    layers = per_block[block] if isinstance(per_block, list | tuple) else per_block
    return {"down": {f"block_{block}": _one_layer(layers, strength)}}


def _one_layer(layers: int, strength: float) -> list[float]:
    return [strength if i == 1 else 0.0 for i in range(layers)]


def _picture(reference: Reference, side: int) -> Image.Image:
    """The reference as RGB, its longest side at most `side` (the encoder's or the model's own)."""
    picture = Image.fromarray(over_backdrop(image_array(reference.image)))
    scale = side / max(picture.size)
    if scale < 1:
        picture = picture.resize(
            (max(1, round(picture.width * scale)), max(1, round(picture.height * scale))), Image.Resampling.LANCZOS
        )
    return picture
