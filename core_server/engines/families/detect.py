"""Which family a single .safetensors checkpoint belongs to, from its tensor names and shapes alone.

Reads only the file's header (names, shapes), never the weights, so it is quick on a 7 GB file and
needs no torch. LAYOUTS is the table: each row names a key layout (original Stability, ComfyUI-prefixed,
diffusers) by the keys that mark it; the first row whose marks are all present wins. Add rows for new
layouts (BFL, GGUF...) beside a family's module.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from core_server.tasks import EngineError

Shapes = Mapping[str, tuple[int, ...]]
# Prefixes under which tools store the denoiser: original/ComfyUI full checkpoints, ComfyUI's
# UNet-only saves, and bare files.
DENOISER_PREFIXES = ("model.diffusion_model.", "diffusion_model.", "")
MAX_HEADER = 100 * 2**20  # safetensors headers are kilobytes to a few MiB; more means a damaged file


@dataclass(frozen=True)
class Layout:
    family: str  # a key of FAMILIES
    name: str  # how people call the layout, for messages and `models list`
    marks: tuple[str, ...]  # keys (after a DENOISER_PREFIXES prefix) that all appear in this layout
    variant: Callable[[Shapes, str], str] = lambda shapes, prefix: ""  # e.g. "inpainting", "SD 2.x"


@dataclass(frozen=True)
class Detected:
    family: str
    layout: str
    variant: str  # "" or what sets this checkpoint apart within its family
    complete: bool  # holds the VAE and text encoders too, not only the denoiser

    def describe(self) -> str:
        kind = f"{self.variant} " if self.variant else ""
        parts = "full checkpoint" if self.complete else "denoiser only"
        return f"{kind}{self.family} ({self.layout}, {parts})"


def _unet_variant(conv_in: str) -> Callable[[Shapes, str], str]:
    def variant(shapes: Shapes, prefix: str) -> str:
        shape = shapes.get(prefix + conv_in, ())
        return "inpainting" if len(shape) == 4 and shape[1] == 9 else ""

    return variant


def _sdxl_variant(shapes: Shapes, prefix: str) -> str:
    # The refiner conditions on OpenCLIP bigG alone, stored where the base keeps CLIP ViT-L.
    if "conditioner.embedders.0.model.text_projection" in shapes:
        return "refiner"
    return _unet_variant("input_blocks.0.0.weight")(shapes, prefix)


def _sd_variant(shapes: Shapes, prefix: str) -> str:
    # SD 2.x cross-attends to OpenCLIP ViT-H's 1024-wide text (kept under cond_stage_model.model.), SD 1.x
    # to CLIP ViT-L's 768.
    to_k = shapes.get(prefix + SD_CROSS_ATTENTION) or shapes.get(prefix + SD_MIDDLE_CROSS_ATTENTION, ())
    open_clip = "cond_stage_model.model.token_embedding.weight" in shapes
    version = "SD 2.x" if open_clip or (len(to_k) == 2 and to_k[1] == 1024) else "SD 1.x"
    inpainting = _unet_variant("input_blocks.0.0.weight")(shapes, prefix)
    return f"{version} {inpainting}".strip()


SD_CROSS_ATTENTION = "input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight"
SD_MIDDLE_CROSS_ATTENTION = "middle_block.1.transformer_blocks.0.attn2.to_k.weight"
DIFFUSERS_CROSS_ATTENTION = "mid_block.attentions.0.transformer_blocks.0.attn2.to_k.weight"
LAYOUTS: tuple[Layout, ...] = (
    # SDXL before SD 1.x/2.x: both have input_blocks; only SDXL conditions on sizes through label_emb.
    Layout(
        "sdxl",
        "original",
        ("input_blocks.0.0.weight", "label_emb.0.0.weight"),
        _sdxl_variant,
    ),
    Layout("sd15", "original", ("input_blocks.0.0.weight", SD_CROSS_ATTENTION), _sd_variant),
    # Miniatures (and pruned UNets) may attend only in the middle.
    Layout("sd15", "original", ("input_blocks.0.0.weight", SD_MIDDLE_CROSS_ATTENTION), _sd_variant),
    Layout("sd3", "original", ("joint_blocks.0.context_block.attn.qkv.weight", "x_embedder.proj.weight")),
    Layout("sdxl", "diffusers", ("conv_in.weight", "add_embedding.linear_1.weight"), _unet_variant("conv_in.weight")),
    Layout("sd15", "diffusers", ("conv_in.weight", DIFFUSERS_CROSS_ATTENTION), _unet_variant("conv_in.weight")),
    Layout("sd3", "diffusers", ("transformer_blocks.0.attn.add_q_proj.weight", "pos_embed.proj.weight")),
)
# Keys of the VAE and a text encoder in full original/ComfyUI checkpoints.
COMPLETE_MARKS = ("first_stage_model.", "cond_stage_model.", "conditioner.", "text_encoders.")


def read_shapes(file: Path) -> dict[str, tuple[int, ...]]:
    """Tensor names and shapes from a .safetensors header; EngineError for a file that is not one."""
    try:
        with file.open("rb") as stream:
            size_bytes = stream.read(8)
            if len(size_bytes) < 8:
                raise ValueError("it is shorter than a safetensors header")
            (size,) = struct.unpack("<Q", size_bytes)
            if not 2 <= size <= MAX_HEADER:
                raise ValueError(f"its header claims {size} bytes")
            header = json.loads(stream.read(size))
    except (OSError, ValueError, UnicodeDecodeError) as error:
        raise EngineError(f"{file.name} is not a readable .safetensors file ({error}); is it damaged?") from error
    if not isinstance(header, dict):
        raise EngineError(f"{file.name} is not a readable .safetensors file (its header is no table); is it damaged?")
    return {
        name: tuple(entry.get("shape", ()))
        for name, entry in header.items()
        if name != "__metadata__" and isinstance(entry, dict)
    }


def detect(file: Path) -> Detected:
    """The family and layout of a single-file checkpoint; EngineError naming what was found otherwise."""
    shapes = read_shapes(file)
    names = set(shapes)
    for layout in LAYOUTS:
        for prefix in DENOISER_PREFIXES:
            if all(prefix + mark in names for mark in layout.marks):
                complete = any(name.startswith(COMPLETE_MARKS) for name in names)
                layout_name = "ComfyUI UNet-only" if prefix == "diffusion_model." else layout.name
                return Detected(layout.family, layout_name, layout.variant(shapes, prefix), complete)
    raise EngineError(f"{file.name} is in no layout cocreate knows: {_summary(names)}.")


def _summary(names: set[str]) -> str:
    """The top-level groups of tensor names, so a person (or a bug report) sees what the file holds."""
    if not names:
        return "it holds no tensors"
    groups: dict[str, int] = {}
    for name in names:
        group = ".".join(name.split(".")[:2])
        groups[group] = groups.get(group, 0) + 1
    common = sorted(groups.items(), key=lambda item: -item[1])[:6]
    return f"{len(names)} tensors, mostly under " + ", ".join(f"{group} ({count})" for group, count in common)
