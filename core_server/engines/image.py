"""The image engine: one Stable Diffusion inpaint pipeline serving inpaint, expand, texture and variants."""

from __future__ import annotations

import contextlib
import gc
import threading
import warnings
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from diffusers import StableDiffusionInpaintPipeline
from diffusers.utils import is_accelerate_available
from diffusers.utils import logging as diffusers_logging
from safetensors.torch import load_file
from transformers.utils import logging as transformers_logging

from core_server.engines import (
    compiling,
    encode_cache,
    expand,
    inpaint,
    precision,
    single_file,
    texture,
    variants,
)
from core_server.engines.devices import choose_device, choose_dtype, memory_bytes
from core_server.engines.paint import PaintJob, paint
from core_server.engines.pixels import rgba_image
from core_server.stages import Stages
from core_server.tasks import (
    TASK_NAMES,
    Adapter,
    CancelToken,
    Emit,
    EngineError,
    ExpandTask,
    GenerationResult,
    InpaintTask,
    Task,
    TextureTask,
    VariantsTask,
)

MAX_ADAPTERS = 4  # LoRAs kept loaded beside the model; a fifth drops the least recently used

PAINT_JOBS: dict[type, Callable[[Any], PaintJob]] = {
    InpaintTask: inpaint.paint_job,
    ExpandTask: expand.paint_job,
    TextureTask: texture.paint_job,
    VariantsTask: variants.paint_job,
}


class ImageEngine:
    """Serves the four image tasks from one set of weights (UNet with 9 or 4 input channels, VAE, CLIP)."""

    kind = "image"

    def __init__(self, pipe: StableDiffusionInpaintPipeline) -> None:
        if pipe.unet.config.in_channels not in (4, 9):
            raise EngineError(
                f"This UNet takes {pipe.unet.config.in_channels} input channels; cocreate runs Stable Diffusion "
                "UNets with 9 (inpainting) or 4 (plain) channels."
            )
        if pipe.vae.config.latent_channels != 4:
            raise EngineError(f"This VAE has {pipe.vae.config.latent_channels} latent channels; cocreate needs 4.")
        pipe.set_progress_bar_config(disable=True)
        self.encode_cache = encode_cache.install(pipe, encode_cache.budget_from_env())
        self.device = pipe.unet.device.type
        self.dtype = precision.Layout(pipe.unet.dtype, pipe.vae.dtype).describe()
        self.memory_bytes = memory_bytes(pipe.unet, pipe.vae, pipe.text_encoder)
        self._pipe: StableDiffusionInpaintPipeline | None = pipe
        self._lock = threading.Lock()
        self._adapters: list[str] = []  # loaded LoRAs, least recently used first

    @classmethod
    def load(cls, path: Path, config: Path | None = None) -> ImageEngine:
        """From a diffusers folder, or from one .safetensors checkpoint plus the local folder `config`
        that describes its pipeline."""
        device = choose_device()
        pipe = load_pipeline(path, config, precision.Layout.for_dtype(choose_dtype(device)))
        pipe = pipe.to(device)
        if compiling.requested():
            compiling.compile_in_place(pipe.unet)
        return cls(pipe)

    def run(
        self,
        task: Task,
        seeds: Sequence[int],
        *,
        previews: bool,
        emit: Emit,
        cancel: CancelToken,
    ) -> GenerationResult:
        to_job = PAINT_JOBS.get(type(task))
        if to_job is None:
            name = TASK_NAMES.get(type(task), type(task).__name__)
            raise EngineError(f"An image model cannot run {name}; pick a text model.")
        if not seeds:
            raise EngineError("Ask for at least one candidate.")
        cancel.check()
        stages = Stages()
        with stages.timed("prepare"):
            job = to_job(task)
        if task.steering is not None:
            job = replace(job, noise=task.steering.noise)
        with self._lock:
            if self._pipe is None:
                raise EngineError("This model was unloaded; load it again to use it.")
            self._use_adapter(self._pipe, task.lora)
            try:
                canvases = paint(self._pipe, job, seeds, previews=previews, emit=emit, cancel=cancel, stages=stages)
            except torch.OutOfMemoryError as error:
                torch.cuda.empty_cache()
                raise EngineError(
                    f"Out of GPU memory for {len(seeds)} candidates; ask for fewer, or for a smaller region."
                ) from error
        with stages.timed("composite"):
            images = tuple(rgba_image(canvas) for canvas in canvases)
        return GenerationResult(images=images, stages=stages.items())

    def _use_adapter(self, pipe: StableDiffusionInpaintPipeline, adapter: Adapter | None) -> None:
        """Make `adapter` the one active LoRA (None: none), loading it on first use."""
        if adapter is None:
            if self._adapters:
                pipe.disable_lora()
            return
        # Named by content, so a LoRA trained again under the same name is loaded afresh.
        name = f"lora_{adapter.sha256[:16]}"
        if name in self._adapters:
            self._adapters.remove(name)
        else:
            try:
                # Read here, from the file the catalog resolved: diffusers gets tensors, never a path or a repo.
                with warnings.catch_warnings():
                    # Several adapters side by side is the design; peft warns about it on every load.
                    warnings.filterwarnings("ignore", message="Already found a `peft_config`", category=UserWarning)
                    pipe.load_lora_weights(load_file(adapter.path), adapter_name=name)
            except (OSError, ValueError, KeyError, RuntimeError) as error:
                with contextlib.suppress(ValueError, KeyError):
                    pipe.delete_adapters(name)  # whatever part of it was put in before the failure
                raise EngineError(
                    f"The LoRA {adapter.name} does not fit this model (was it trained on another one?): {error}"
                ) from error
            if len(self._adapters) >= MAX_ADAPTERS:
                pipe.delete_adapters(self._adapters.pop(0))
        self._adapters.append(name)
        pipe.enable_lora()
        pipe.set_adapters([name])

    def close(self) -> None:
        """Drop the weights; waits for a running job to end first."""
        with self._lock:
            self._pipe = None
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def load_pipeline(path: Path, config: Path | None, layout: precision.Layout) -> StableDiffusionInpaintPipeline:
    """The pipeline from local files only, each part in its layout's dtype, on the CPU."""
    options: dict[str, Any] = {
        "local_files_only": True,
        "safety_checker": None,
        "feature_extractor": None,
        "requires_safety_checker": False,
        # What diffusers picks anyway, said out loud so it does not warn about it on every load.
        "low_cpu_mem_usage": is_accelerate_available(),
    }
    diffusers_logging.disable_progress_bar()
    transformers_logging.disable_progress_bar()
    try:
        if path.is_file():
            if config is None:
                raise EngineError(f"{path.name} is a single-file checkpoint; add it again with its config folder.")
            pipe = single_file.load_pipeline(
                StableDiffusionInpaintPipeline, path, config, layout.loading_dtypes(), **options
            )
        else:
            pipe = StableDiffusionInpaintPipeline.from_pretrained(
                path, use_safetensors=True, dtype=layout.loading_dtypes(), **options
            )
    except (OSError, ValueError) as error:
        raise EngineError(f"Could not load the image model at {path}: {error}") from error
    precision.apply(pipe, layout)
    return pipe
