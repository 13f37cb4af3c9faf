"""ControlNets as one .safetensors file (`cocreate models add NAME file.safetensors`): the layout told from the
tensor names, and the diffusers config.json written from their shapes, with no network and no --config.

Layouts (LAYOUTS): the original ControlNet release's (`control_model.*`, SD 1.x/2.x), diffusers' saved as one
file (SD 1.x/2.x, SDXL, SDXL union as xinsir's) and InstantX's / diffusers' Flux ControlNets (union too).
XLabs' Flux ControlNets are recognised and refused: diffusers has no converter for their layout.

What the shapes cannot tell, and how it is chosen: attention heads (64 wide, SD 1.x's 8 per level, as
engines.families.single_file does for UNets; the union's transformer 8 heads, as xinsir's), and a plain SDXL
ControlNet's size embedding width (SDXL's 256; a narrower file is refused). No torch: reads the header only.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core_server.engines.families.detect import Shapes, read_shapes
from core_server.engines.families.single_file import HEAD_WIDTH, SD1_HEADS
from core_server.models import flow_checkpoints
from core_server.tasks import EngineError

ORIGINAL = "control_model."  # the original release's prefix (lllyasviel's, ComfyUI's fp16 copies)
SDXL_SIZE_WIDTH = 256  # each of SDXL's 6 size conditions is embedded this wide
SDXL_SIZES = 6
UNION_HEADS = 8  # xinsir's union transformer: the one published layout


@dataclass(frozen=True)
class ControlNetFile:
    layout: str  # for messages: "original", "diffusers", "InstantX/diffusers"
    config: dict[str, Any]  # the diffusers config.json, `_class_name` included


class NotAControlNet(LookupError):
    """The file holds no ControlNet layout cocreate knows (it may be a base model or a LoRA)."""


def detect(file: Path) -> ControlNetFile:
    """The ControlNet in `file` with its config; NotAControlNet when it holds none, EngineError naming what
    was found when it is one cocreate cannot load (damaged, XLabs, missing tensors)."""
    shapes = read_shapes(file)
    for layout, marks, config_of in LAYOUTS:
        if all(mark in shapes for mark in marks):
            try:
                return ControlNetFile(layout, config_of(shapes))
            except (KeyError, StopIteration, IndexError, ValueError) as error:
                raise EngineError(
                    f"{file.name} looks like a {layout} ControlNet, but lacks tensors its config is read from "
                    f"({error}); is it damaged or cut short?"
                ) from error
    if "input_hint_block.0.weight" in shapes and any(name.startswith("double_blocks.") for name in shapes):
        raise EngineError(
            f"{file.name} is an XLabs Flux ControlNet; diffusers cannot convert XLabs' layout, so cocreate cannot "
            "load it. Use an InstantX-style (diffusers) Flux ControlNet, such as `cocreate models pull flux-union`."
        )
    raise NotAControlNet(file.name)


def _indices(shapes: Shapes, pattern: str) -> list[int]:
    compiled = re.compile(pattern)
    return sorted({int(match[1]) for name in shapes if (match := compiled.match(name))})


def _heads(width: int, cross: int) -> int | list[int]:
    """diffusers' attention_head_dim (a head count in its UNet configs): SD 1.x's 8, else 64-wide heads."""
    return SD1_HEADS if cross == 768 or cross < HEAD_WIDTH else max(1, width // HEAD_WIDTH)


def _cross_attention(shapes: Shapes, prefix: str = "") -> tuple[int, bool]:
    """(cross-attention width, whether proj_in is a linear layer) from any attention in the file."""
    to_k = next(
        shape for name, shape in shapes.items() if name.startswith(prefix) and name.endswith("attn2.to_k.weight")
    )
    proj_in = next(
        shape for name, shape in shapes.items() if name.startswith(prefix) and name.endswith("proj_in.weight")
    )
    return to_k[1], len(proj_in) == 2


def _conditioning_channels(conv_in: tuple[int, ...], block_outputs: list[int]) -> list[int]:
    """The hint embedding's widths: its first conv's, then each second block's (the stride-2 ones)."""
    return [conv_in[0], *block_outputs[1::2]]


def _original(shapes: Shapes) -> dict[str, Any]:
    """The original release's SD 1.x/2.x ControlNet: the UNet's input half under control_model."""
    levels: list[dict[str, int]] = [{"resnets": 0, "width": 0, "depth": 0}]
    for block in _indices(shapes, re.escape(ORIGINAL) + r"input_blocks\.(\d+)\.")[1:]:
        here = f"{ORIGINAL}input_blocks.{block}."
        if here + "0.op.weight" in shapes:
            levels.append({"resnets": 0, "width": 0, "depth": 0})
            continue
        levels[-1]["resnets"] += 1
        levels[-1]["width"] = shapes[here + "0.out_layers.3.weight"][0]
        levels[-1]["depth"] = len(_indices(shapes, re.escape(here) + r"1\.transformer_blocks\.(\d+)\."))
    if not levels[0]["resnets"]:
        raise ValueError("no input_blocks.* tensors")
    cross, linear = _cross_attention(shapes, ORIGINAL)
    hint = [
        shapes[f"{ORIGINAL}input_hint_block.{i}.weight"]
        for i in _indices(shapes, re.escape(ORIGINAL) + r"input_hint_block\.(\d+)\.weight")
    ]
    widths = [level["width"] for level in levels]
    return {
        "_class_name": "ControlNetModel",
        "in_channels": shapes[ORIGINAL + "input_blocks.0.0.weight"][1],
        "conditioning_channels": hint[0][1],
        "conditioning_embedding_out_channels": _conditioning_channels(hint[0], [shape[0] for shape in hint[1:-1]]),
        "block_out_channels": widths,
        "layers_per_block": levels[0]["resnets"],
        "down_block_types": ["CrossAttnDownBlock2D" if level["depth"] else "DownBlock2D" for level in levels],
        "transformer_layers_per_block": [max(1, level["depth"]) for level in levels],
        "attention_head_dim": _per_level(widths, cross),
        "use_linear_projection": linear,
        "cross_attention_dim": cross,
    }


def _per_level(widths: list[int], cross: int) -> int | list[int]:
    heads = [_heads(width, cross) for width in widths]
    return heads[0] if len(set(heads)) == 1 and heads[0] == SD1_HEADS else heads


def _diffusers_sd(shapes: Shapes) -> dict[str, Any]:
    """diffusers' ControlNetModel / ControlNetUnionModel (SD 1.x/2.x, SDXL) saved as one file."""
    levels = _indices(shapes, r"down_blocks\.(\d+)\.")
    if not levels:
        raise ValueError("no down_blocks.* tensors")
    widths = [shapes[f"down_blocks.{i}.resnets.0.conv2.weight"][0] for i in levels]
    depths = [len(_indices(shapes, rf"down_blocks\.{i}\.attentions\.0\.transformer_blocks\.(\d+)\.")) for i in levels]
    cross, linear = _cross_attention(shapes)
    blocks = _indices(shapes, r"controlnet_cond_embedding\.blocks\.(\d+)\.weight")
    config: dict[str, Any] = {
        "_class_name": "ControlNetModel",
        "in_channels": shapes["conv_in.weight"][1],
        "conditioning_channels": shapes["controlnet_cond_embedding.conv_in.weight"][1],
        "conditioning_embedding_out_channels": _conditioning_channels(
            shapes["controlnet_cond_embedding.conv_in.weight"],
            [shapes[f"controlnet_cond_embedding.blocks.{i}.weight"][0] for i in blocks],
        ),
        "block_out_channels": widths,
        "layers_per_block": len(_indices(shapes, r"down_blocks\.0\.resnets\.(\d+)\.")),
        "down_block_types": ["CrossAttnDownBlock2D" if depth else "DownBlock2D" for depth in depths],
        "transformer_layers_per_block": [max(1, depth) for depth in depths],
        "attention_head_dim": _per_level(widths, cross),
        "use_linear_projection": linear,
        "cross_attention_dim": cross,
    }
    if "add_embedding.linear_1.weight" in shapes:  # SDXL: pooled text and size conditions feed the time embedding
        config.update(_sdxl_conditions(shapes))
    return config


def _sdxl_conditions(shapes: Shapes) -> dict[str, Any]:
    projection = shapes["add_embedding.linear_1.weight"][1]
    conditions: dict[str, Any] = {
        "addition_embed_type": "text_time",
        "projection_class_embeddings_input_dim": projection,
    }
    if "task_embedding" not in shapes:
        if projection <= SDXL_SIZES * SDXL_SIZE_WIDTH:
            raise ValueError(f"a size embedding {projection} wide, narrower than SDXL's; add it as a folder")
        return {**conditions, "addition_time_embed_dim": SDXL_SIZE_WIDTH}
    # xinsir's union: its control-type embedding reads each of its types at the size embedding's width.
    types, channels = shapes["task_embedding"]
    return {
        **conditions,
        "_class_name": "ControlNetUnionModel",
        "addition_time_embed_dim": shapes["control_add_embedding.linear_1.weight"][1] // types,
        "num_control_type": types,
        "num_trans_channel": channels,
        "num_trans_head": UNION_HEADS if channels % UNION_HEADS == 0 else 1,
        "num_trans_layer": len(_indices(shapes, r"transformer_layes\.(\d+)\.")),
        "num_proj_channel": shapes["spatial_ch_projs.weight"][0],
    }


def _flux(shapes: Shapes) -> dict[str, Any]:
    """InstantX's / diffusers' FluxControlNetModel (union when it embeds a mode)."""
    head_width = shapes["transformer_blocks.0.attn.norm_q.weight"][0]
    config: dict[str, Any] = {
        "_class_name": "FluxControlNetModel",
        "patch_size": 1,
        "in_channels": shapes["x_embedder.weight"][1],
        "num_layers": len(_indices(shapes, r"transformer_blocks\.(\d+)\.")),
        "num_single_layers": len(_indices(shapes, r"single_transformer_blocks\.(\d+)\.")),
        "attention_head_dim": head_width,
        "num_attention_heads": shapes["x_embedder.weight"][0] // head_width,
        "joint_attention_dim": shapes["context_embedder.weight"][1],
        "pooled_projection_dim": shapes["time_text_embed.text_embedder.linear_1.weight"][1],
        "guidance_embeds": "time_text_embed.guidance_embedder.linear_1.weight" in shapes,
        "axes_dims_rope": list(flow_checkpoints.flux_rope(head_width)),
    }
    if not config["num_layers"]:
        raise ValueError("no transformer_blocks.* tensors")
    if "controlnet_mode_embedder.weight" in shapes:
        config["num_mode"] = shapes["controlnet_mode_embedder.weight"][0]
    if any(name.startswith("input_hint_block.") for name in shapes):
        raise ValueError("an XLabs-style input_hint_block, which this layout does not carry")
    return config


# (layout, tensors that mark it, config writer): the first whose marks are all present wins.
LAYOUTS = (
    ("original", (ORIGINAL + "input_hint_block.0.weight", ORIGINAL + "zero_convs.0.0.weight"), _original),
    ("diffusers", ("controlnet_cond_embedding.conv_in.weight", "conv_in.weight"), _diffusers_sd),
    ("InstantX/diffusers Flux", ("controlnet_x_embedder.weight", "x_embedder.weight"), _flux),
)


def write_config(found: ControlNetFile, root: Path) -> Path:
    """The folder under `root` holding `found`'s config.json (written on first use; the same sizes share one)."""
    text = json.dumps(found.config, indent=2, sort_keys=True) + "\n"
    folder = root / f"controlnet-{hashlib.sha256(text.encode()).hexdigest()[:16]}"
    if not (folder / "config.json").is_file():
        folder.mkdir(parents=True, exist_ok=True)
        staging = folder / f".config.json.{os.getpid()}"
        staging.write_text(text, encoding="utf-8")
        staging.replace(folder / "config.json")
    return folder
