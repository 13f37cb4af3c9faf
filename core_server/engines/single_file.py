"""Single-file checkpoints (one .safetensors holding a whole Stable Diffusion pipeline) loaded straight into
each part's dtype, from a memory map, a slice at a time.

diffusers' own from_single_file maps the whole file and casts every tensor at once in one dtype, so a
2.1 GB float16 SD1.5 file loaded for bfloat16 peaked at 6.6 GiB (the file's pages, a float32 copy of every
part, then the cast). Here each tensor is copied out of the map in its part's dtype, and the map is closed
after every CHUNK_BYTES, so resident memory stays near the loaded model's size. diffusers still converts
the tensor names and builds each part (load_single_file_sub_model, the per-part step of from_single_file).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import torch
from diffusers import DiffusionPipeline, pipelines
from diffusers.loaders.single_file import load_single_file_sub_model
from safetensors import safe_open

CHUNK_BYTES = 256 << 20  # the most of the file's pages held at once while reading
# The part of an original (LDM) checkpoint each tensor belongs to, by name prefix; the rest is the UNet's.
PART_PREFIXES = {
    "first_stage_model.": "vae",
    "vae.": "vae",  # ComfyUI's all-in-one Flux.1 / Chroma files
    "cond_stage_model.": "text_encoder",
    "conditioner.embedders.0.": "text_encoder",
    "conditioner.embedders.1.": "text_encoder_2",
}
DENOISER_PREFIX = "model.diffusion_model."
T5_XXL = "text_encoders.t5xxl.transformer."  # T5 in SD 3.5, Flux.1 and Chroma files
BYTES_PER_ELEMENT = {"F64": 8, "I64": 8, "U64": 8, "F32": 4, "I32": 4, "U32": 4, "F16": 2, "BF16": 2, "I16": 2}

Pipeline = TypeVar("Pipeline", bound=DiffusionPipeline)


def part_of(name: str) -> str:
    """The pipeline component an original checkpoint's tensor belongs to ('unet', 'vae', 'text_encoder'...)."""
    return next((part for prefix, part in PART_PREFIXES.items() if name.startswith(prefix)), "unet")


def read_checkpoint(
    path: Path, dtype_of: Callable[[str], torch.dtype], keep: Callable[[str], bool] = lambda name: True
) -> dict[str, torch.Tensor]:
    """The tensors of a .safetensors file whose names `keep` takes, floating-point ones in dtype_of(name), each in
    memory of its own."""
    with safe_open(str(path), framework="pt") as weights:
        names = list(filter(keep, weights.keys()))
        sizes = {name: _bytes(weights.get_slice(name)) for name in names}
    tensors: dict[str, torch.Tensor] = {}
    for chunk in _chunks(names, sizes, CHUNK_BYTES):
        # A map per chunk: its pages leave this process's resident memory when it closes.
        with safe_open(str(path), framework="pt") as weights:
            for name in chunk:
                mapped = weights.get_tensor(name)
                dtype = dtype_of(name) if mapped.is_floating_point() else mapped.dtype
                tensors[name] = mapped.to(dtype, copy=True)
    return tensors


def load_pipeline(
    pipeline_class: type[Pipeline], path: Path, config: Path, dtypes: Mapping[str, torch.dtype], **options: Any
) -> Pipeline:
    """`pipeline_class` from the checkpoint at `path`, each part in dtypes.get(part, dtypes['default']).

    `config` is the local diffusers folder describing the pipeline (model_index.json and each part's config);
    `options` go to the pipeline as in from_pretrained (safety_checker=None, ...); a denoiser given there
    (transformer=..., loaded on its own) is not read from the file again."""

    def dtype_of(part: str) -> torch.dtype:
        return dtypes.get(part, dtypes["default"])

    denoiser_given = "unet" in options or "transformer" in options
    checkpoint = read_checkpoint(
        path,
        lambda name: dtype_of(part_of(name)),
        lambda name: not (denoiser_given and name.startswith(DENOISER_PREFIX)),
    )
    _tie_t5_embedding(checkpoint)
    index = json.loads((config / "model_index.json").read_text(encoding="utf-8"))
    parts = {}
    for name, spec in index.items():
        if name.startswith("_") or not isinstance(spec, list) or name in options:
            continue
        library, class_name = spec
        if library is None or not _holds_weights(library, class_name):
            continue  # tokenizers and schedulers come from the config folder below
        parts[name] = load_single_file_sub_model(
            library_name=library,
            class_name=class_name,
            name=name,
            checkpoint=checkpoint,
            pipelines=pipelines,
            is_pipeline_module=hasattr(pipelines, library),
            cached_model_config_path=str(config),
            torch_dtype=dtype_of(name),
            local_files_only=True,
        )
    del checkpoint  # what the parts did not take (renamed copies) goes now
    return pipeline_class.from_pretrained(config, **{"local_files_only": True, **options}, **parts)


def _tie_t5_embedding(checkpoint: dict[str, torch.Tensor]) -> None:
    """ComfyUI keeps T5's token embedding once, as shared.weight; transformers' T5 encoder reads it from
    encoder.embed_tokens too (tied), which diffusers' loader would otherwise leave empty."""
    shared, encoder = T5_XXL + "shared.weight", T5_XXL + "encoder.embed_tokens.weight"
    if shared in checkpoint and encoder not in checkpoint:
        checkpoint[encoder] = checkpoint[shared]


def _holds_weights(library: str, class_name: str) -> bool:
    import importlib

    module = getattr(pipelines, library) if hasattr(pipelines, library) else importlib.import_module(library)
    return issubclass(getattr(module, class_name), torch.nn.Module)


def _bytes(tensor_slice: Any) -> int:
    count = 1
    for side in tensor_slice.get_shape():
        count *= side
    return count * BYTES_PER_ELEMENT.get(tensor_slice.get_dtype(), 1)


def _chunks(names: list[str], sizes: Mapping[str, int], limit: int) -> list[list[str]]:
    chunks: list[list[str]] = [[]]
    held = 0
    for name in names:
        if chunks[-1] and held + sizes[name] > limit:
            chunks.append([])
            held = 0
        chunks[-1].append(name)
        held += sizes[name]
    return chunks
