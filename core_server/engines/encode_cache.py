"""Work a session already did is not redone: the prompt's text encoding and the VAE encoding of each
picture are kept, keyed by a hash of their content, and reused by the next turn and by variants.

Both caches sit in front of the pipeline's own methods (`pipe.encode_prompt`, `pipe.vae.encode`), so
every task and every caller of the pipeline gets them. They are bounded in bytes and least recently
used entries go first; COCREATE_ENCODE_CACHE_MB sets the bound (0 turns the caches off).
"""

from __future__ import annotations

import hashlib
import inspect
import os
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import torch
from diffusers import DiffusionPipeline
from diffusers.models.autoencoders.autoencoder_kl import AutoencoderKLOutput
from diffusers.models.autoencoders.vae import DiagonalGaussianDistribution
from torch import nn

from core_server.engines.seamless import tiling
from core_server.tasks import EngineError

CACHE_ENV = "COCREATE_ENCODE_CACHE_MB"
DEFAULT_MB = 64  # a 512² picture's encoding is 128 KiB, a prompt's 236 KiB in float32


class TensorCache:
    """Tensors by key, least recently used dropped first once their bytes pass `budget`."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.hits = self.misses = 0
        self._entries: OrderedDict[str, tuple[torch.Tensor, ...]] = OrderedDict()
        self._bytes = 0

    def get(self, key: str) -> tuple[torch.Tensor, ...] | None:
        value = self._entries.get(key)
        if value is None:
            self.misses += 1
            return None
        self.hits += 1
        self._entries.move_to_end(key)
        return value

    def put(self, key: str, value: tuple[torch.Tensor, ...]) -> None:
        size = sum(t.numel() * t.element_size() for t in value)
        if size > self.budget or key in self._entries:
            return
        self._entries[key] = value
        self._bytes += size
        while self._bytes > self.budget:
            _, dropped = self._entries.popitem(last=False)
            self._bytes -= sum(t.numel() * t.element_size() for t in dropped)


def budget_from_env() -> int:
    text = os.environ.get(CACHE_ENV, "").strip()
    try:
        megabytes = float(text) if text else DEFAULT_MB
    except ValueError:
        megabytes = -1
    if megabytes < 0:
        raise EngineError(f"{CACHE_ENV}={text!r} must be a number of MiB, 0 or more (0 turns the caches off).")
    return int(megabytes * 2**20)


# The encode_prompt arguments of Stable Diffusion 1.x/2.x, whose (positive, negative) answer is cached.
ONE_ENCODER_PROMPTS = {
    "prompt",
    "negative_prompt",
    "num_images_per_prompt",
    "do_classifier_free_guidance",
    "lora_scale",
    "clip_skip",  # only SD's encode_prompt has it: the flow families' return more than (positive, negative)
}


def install(pipe: DiffusionPipeline, budget: int) -> TensorCache | None:
    """Put one cache of `budget` bytes in front of the pipeline's prompt and VAE encoders; None when 0.

    Prompts are cached for pipelines with one text encoder (SD 1.x/2.x); pictures for every family.
    """
    if budget <= 0:
        return None
    cache = TensorCache(budget)
    prompt_arguments = set(inspect.signature(pipe.encode_prompt).parameters)
    if prompt_arguments >= ONE_ENCODER_PROMPTS and "prompt_2" not in prompt_arguments:
        pipe.encode_prompt = _cached_prompts(pipe, pipe.encode_prompt, cache)
    pipe.vae.encode = _cached_pictures(pipe.vae, pipe.vae.encode, cache)
    return cache


def _cached_prompts(pipe: DiffusionPipeline, encode: Callable[..., Any], cache: TensorCache) -> Any:
    signature = inspect.signature(encode)

    def encode_prompt(*args: Any, **kwargs: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
        call = signature.bind(*args, **kwargs)
        call.apply_defaults()
        a = call.arguments
        given = a["prompt_embeds"] is not None or a["negative_prompt_embeds"] is not None
        if given or not isinstance(a["prompt"], str):
            return encode(*args, **kwargs)  # embeddings given, or a batch of prompts: nothing to reuse
        count = a["num_images_per_prompt"]
        key = _digest(
            "prompt",
            a["prompt"],
            a["negative_prompt"],
            a["do_classifier_free_guidance"],
            a["lora_scale"],
            a["clip_skip"],
            pipe.text_encoder.dtype,
            _adapters(pipe.text_encoder),  # a LoRA in the text encoder changes what a prompt encodes to
        )
        found = cache.get(key)
        if found is None:
            found = tuple(t for t in encode(**{**a, "num_images_per_prompt": 1}) if t is not None)
            cache.put(key, found)
        # The pipeline repeats one prompt's encoding per image: the same as repeating the cached one.
        positive, *negative = (t.repeat(count, 1, 1) for t in found)
        return positive, negative[0] if negative else None

    return encode_prompt


def _cached_pictures(vae: nn.Module, encode: Callable[..., Any], cache: TensorCache) -> Any:
    def cached_encode(x: torch.Tensor, return_dict: bool = True) -> Any:
        # Per picture, so an unchanged picture is reused beside a new masked copy of it.
        state = (x.dtype, tuple(x.shape[1:]), tiling(vae.encoder))
        keys = [_digest("picture", *state, _tensor_bytes(picture)) for picture in x]
        found = [cache.get(key) for key in keys]
        missing = [i for i, value in enumerate(found) if value is None]
        if missing:
            moments = encode(x[missing]).latent_dist.parameters
            for i, row in zip(missing, moments, strict=True):
                found[i] = (row,)
                cache.put(keys[i], (row,))
        posterior = DiagonalGaussianDistribution(torch.stack([value[0] for value in found]))  # type: ignore[index]
        return AutoencoderKLOutput(latent_dist=posterior) if return_dict else (posterior,)

    return cached_encode


def _adapters(module: nn.Module) -> tuple[Any, ...]:
    """The state of every PEFT (LoRA) layer in the module: which adapters are active, merged, at what scale."""
    return tuple(
        (
            name,
            tuple(layer.active_adapters),
            tuple(layer.merged_adapters),
            layer.disable_adapters,
            tuple(sorted(layer.scaling.items())),
        )
        for name, layer in module.named_modules()
        if hasattr(layer, "merged_adapters")
    )


def _tensor_bytes(tensor: torch.Tensor) -> bytes:
    return tensor.detach().contiguous().cpu().view(torch.uint8).numpy().tobytes()


def _digest(*parts: Any) -> str:
    hasher = hashlib.sha256()
    for part in parts:
        hasher.update(part if isinstance(part, bytes) else repr(part).encode())
        hasher.update(b"\0")
    return hasher.hexdigest()
