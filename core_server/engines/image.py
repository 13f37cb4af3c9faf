"""The image engine: one family's inpaint pipeline serving inpaint, expand, texture and variants."""

from __future__ import annotations

import contextlib
import gc
import importlib
import json
import threading
import warnings
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import diffusers
import torch
from diffusers import DiffusionPipeline
from diffusers.utils import is_accelerate_available
from diffusers.utils import logging as diffusers_logging
from safetensors.torch import load_file
from transformers.utils import logging as transformers_logging

from core_server.engines import (
    compiling,
    control,
    edit,
    encode_cache,
    expand,
    inpaint,
    placement,
    precision,
    single_file,
    texture,
    variants,
)
from core_server.engines.devices import choose_device, choose_dtype, memory_bytes
from core_server.engines.families import family_named, family_of_folder
from core_server.engines.families.conditioning import edit_refusal
from core_server.engines.families.detect import Detected, detect
from core_server.engines.families.family import LORA, Family
from core_server.engines.paint import PaintJob, paint
from core_server.engines.pixels import rgba_image
from core_server.engines.placement import Placement
from core_server.engines.reference import References
from core_server.engines.resolution import geometry
from core_server.models import flow_checkpoints
from core_server.stages import Stages
from core_server.tasks import (
    TASK_NAMES,
    Adapter,
    CancelToken,
    EditTask,
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
    EditTask: edit.paint_job,
}


class ImageEngine:
    """Serves the four image tasks from one set of weights, of any family in the family table."""

    kind = "image"

    def __init__(self, pipe: DiffusionPipeline, family: Family, where: Placement = Placement.RESIDENT) -> None:
        # Video VAEs (Qwen-Image's) call their latent channels z_dim.
        latent_channels = pipe.vae.config.get("latent_channels") or pipe.vae.config.get("z_dim")
        if latent_channels != family.latent_channels and family.latent_channels:
            raise EngineError(
                f"This VAE has {latent_channels} latent channels; {family.title} models have "
                f"{family.latent_channels}. Is the model of another family?"
            )
        pipe.set_progress_bar_config(disable=True)
        self.family = family
        self.encode_cache = encode_cache.install(pipe, encode_cache.budget_from_env())
        denoiser = getattr(pipe, family.denoiser)
        # Offloaded parts wait on the CPU between calls; they run on the GPU.
        self.device = "cuda" if where.offload else denoiser.device.type
        placed = where.describe()
        self.dtype = precision.Layout(denoiser.dtype, pipe.vae.dtype).describe() + (f", {placed}" if placed else "")
        self._model_bytes = memory_bytes(*precision.modules(pipe, family))
        self.memory_bytes = self._model_bytes  # with the ControlNets loaded beside it
        self._controlnets = control.ControlNets(family)
        self._pipe: DiffusionPipeline | None = pipe
        self._lock = threading.Lock()
        self._adapters: list[str] = []  # loaded LoRAs, least recently used first
        self._references = References()

    @classmethod
    def load(cls, path: Path, family: str = "", config: Path | None = None) -> ImageEngine:
        """From a diffusers folder, or from one .safetensors checkpoint plus the local folder `config`
        that describes its pipeline. `family` "" : read from the folder."""
        device = choose_device()
        chosen = family_named(family) if family else _folder_family(path)
        layout = precision.Layout.for_dtype(choose_dtype(device, chosen.gpu_dtype))
        pipe = load_pipeline(path, chosen, config, layout)
        # Large transformers in fp8 and/or offloaded when the GPU's free memory asks for it (engines.placement).
        where = placement.choose(placement.footprint(pipe, chosen.denoiser), placement.free_vram(device))
        placement.apply(pipe, chosen.denoiser, where, device, layout.compute)
        if compiling.requested():
            compiling.compile_in_place(getattr(pipe, chosen.denoiser))
        return cls(pipe, chosen, where)

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
        if task.lora is not None and (refusal := self.family.refusal(LORA)):
            raise EngineError(refusal)
        if isinstance(task, EditTask) and (refusal := edit_refusal(self.family)):
            raise EngineError(refusal)
        stages = Stages()
        with stages.timed("prepare"):
            job = to_job(task)
        if task.steering is not None:
            job = replace(job, noise=task.steering.noise)
        with self._lock:
            if self._pipe is None:
                raise EngineError("This model was unloaded; load it again to use it.")
            self._use_adapter(self._pipe, task.lora)
            native = geometry(self._pipe, self.family).native
            conditioning = self._references.call_options(self._pipe, self.family, task.references, native, job.prompt)
            job = replace(job, conditioning=conditioning)
            self.memory_bytes = self._model_bytes + self._references.memory_bytes
            pipe = self._pipe
            if task.controls:
                with stages.timed("prepare"):
                    maps = control.conditioning(task.controls, self.family, conditioning)
                    job = replace(job, region_conditioning=maps)
                with stages.timed("model"):
                    pipe = self._controlnets.pipeline(self._pipe, task.controls)
                self.memory_bytes += self._controlnets.memory_bytes
            try:
                painted = paint(
                    pipe, self.family, job, seeds, previews=previews, emit=emit, cancel=cancel, stages=stages
                )
            except torch.OutOfMemoryError as error:
                torch.cuda.empty_cache()
                raise EngineError(
                    f"Out of GPU memory for {len(seeds)} candidates; ask for fewer, or for a smaller region."
                ) from error
        with stages.timed("composite"):
            images = tuple(rgba_image(canvas) for canvas in painted.canvases)
        return GenerationResult(images=images, painted=painted.size, stages=stages.items())

    def _use_adapter(self, pipe: DiffusionPipeline, adapter: Adapter | None) -> None:
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
            self._controlnets.close()
            self._references.close()
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def pipeline_class_named(name: str) -> type[DiffusionPipeline]:
    """A diffusers pipeline class by name, or one of ours by its dotted path (where diffusers has none)."""
    if "." in name:
        module, _, attribute = name.rpartition(".")
        return getattr(importlib.import_module(module), attribute)
    return getattr(diffusers, name)


def load_pipeline(path: Path, family: Family, config: Path | None, layout: precision.Layout) -> DiffusionPipeline:
    """The family's inpaint pipeline from local files only, each part in its layout's dtype, on the CPU."""
    pipeline_class = pipeline_class_named(family.pipelines.inpaint)
    options: dict[str, Any] = {
        "local_files_only": True,
        **family.load_options,
        # What diffusers picks anyway, said out loud so it does not warn about it on every load.
        "low_cpu_mem_usage": is_accelerate_available(),
    }
    diffusers_logging.disable_progress_bar()
    transformers_logging.disable_progress_bar()
    try:
        if path.is_file():
            if config is None:
                raise EngineError(f"{path.name} is a single-file checkpoint; add it again with its config folder.")
            if flow_checkpoints.detect_file(path) is not None:
                # A flow family's transformer alone (any layout, GGUF too): the other parts from `config`.
                options["dtype"] = layout.loading_dtypes()
                pipe = flow_checkpoints.load_pipeline(pipeline_class, path, config, layout.compute, options)
            elif (found := detect(path)).complete:
                options.update(_absent_parts(config))
                # Each part straight into its dtype, a chunk of the file at a time.
                pipe = single_file.load_pipeline(pipeline_class, path, config, layout.loading_dtypes(), **options)
            else:
                options.update(_absent_parts(config))
                # A denoiser alone (ComfyUI UNet-only, a diffusers UNet/transformer file): the rest from `config`.
                options[family.denoiser] = _single_file_denoiser(path, found, family, config, layout.compute)
                pipe = pipeline_class.from_pretrained(
                    config, use_safetensors=True, dtype=layout.loading_dtypes(), **options
                )
        else:
            options.update(_absent_parts(path))
            pipe = pipeline_class.from_pretrained(path, use_safetensors=True, dtype=layout.loading_dtypes(), **options)
    except (OSError, ValueError, RuntimeError) as error:
        raise EngineError(f"Could not load the {family.title} model at {path}: {error}") from error
    if family.prepare is not None:
        family.prepare(pipe)
    precision.apply(pipe, family, layout)
    return pipe


def _single_file_denoiser(path: Path, found: Detected, family: Family, config: Path, dtype: torch.dtype) -> Any:
    index = json.loads((config / "model_index.json").read_text(encoding="utf-8"))
    model_class = getattr(diffusers, index[family.denoiser][1])
    if found.layout == "diffusers":
        model = model_class.from_config(model_class.load_config(config / family.denoiser))
        model.load_state_dict(load_file(path))
        return model.to(dtype)
    return model_class.from_single_file(
        str(path), config=str(config), subfolder=family.denoiser, torch_dtype=dtype, local_files_only=True
    )


def _absent_parts(folder: Path) -> dict[str, None]:
    """The optional parts a folder was saved without (SD 3.5 without T5): diffusers wants them named as None."""
    index = json.loads((folder / "model_index.json").read_text(encoding="utf-8"))
    return {name: None for name, value in index.items() if value == [None, None]}


def _folder_family(path: Path) -> Family:
    family = family_of_folder(path) if path.is_dir() else None
    if family is None:
        raise EngineError(f"Cannot tell which family of image model {path} is; add it again to the catalog.")
    return family
