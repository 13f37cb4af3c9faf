"""Tiny single-file ControlNets in each layout people download, written from the tiny profile's ControlNet
folders: the original release's (`control_model.*`, SD 1.5), diffusers' as one file (SD 1.5, the SDXL
union, the Flux union) and an XLabs-like Flux file, so `models add NAME file` is tested as real files load."""

from __future__ import annotations

import re
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from core_server.models.tiny_control import TINY_CONTROL_FLUX, TINY_CONTROL_SD15, TINY_CONTROL_SDXL
from tests.support.single_file import unet_name
from tests.support.tiny_controlnets import tiny_control_folder

FOLDERS = {"sd15": TINY_CONTROL_SD15, "sdxl": TINY_CONTROL_SDXL, "flux": TINY_CONTROL_FLUX}
LAYOUTS = {  # layout → (family, kept in diffusers' names rather than the original release's)
    "sd15-original": ("sd15", False),
    "sd15-diffusers": ("sd15", True),
    "sdxl-union-diffusers": ("sdxl", True),
    "flux-union-diffusers": ("flux", True),
}


def tensors_of(home: Path, family: str) -> dict[str, torch.Tensor]:
    return load_file(tiny_control_folder(home, FOLDERS[family]) / "diffusion_pytorch_model.safetensors")


def write(layout: str, home: Path, out: Path) -> Path:
    """The tiny ControlNet of the layout's family as one file at `out`, named as that layout names it."""
    if layout == "flux-xlabs":
        tensors = {
            "input_hint_block.0.weight": torch.zeros(16, 3, 3, 3),
            "double_blocks.0.img_attn.qkv.weight": torch.zeros(3, 1),
        }
    else:
        family, diffusers_names = LAYOUTS[layout]
        tensors = tensors_of(home, family)
        if not diffusers_names:
            tensors = original(tensors)
    save_file({name: value.contiguous() for name, value in tensors.items()}, str(out))
    return out


def original(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A diffusers ControlNetModel's tensors under the original release's names."""
    blocks = len({name.split(".")[2] for name in tensors if name.startswith("controlnet_cond_embedding.blocks.")})
    rules = [
        (r"controlnet_cond_embedding\.conv_in\.", lambda m: "input_hint_block.0."),
        (r"controlnet_cond_embedding\.blocks\.(\d+)\.", lambda m: f"input_hint_block.{2 * int(m[1]) + 2}."),
        (r"controlnet_cond_embedding\.conv_out\.", lambda m: f"input_hint_block.{2 * blocks + 2}."),
        (r"controlnet_down_blocks\.(\d+)\.", lambda m: f"zero_convs.{m[1]}.0."),
        (r"controlnet_mid_block\.", lambda m: "middle_block_out.0."),
    ]
    renamed = {}
    for name, value in tensors.items():
        for pattern, replace in rules:
            if match := re.match(pattern, name):
                renamed["control_model." + replace(match) + name[match.end() :]] = value
                break
        else:
            renamed["control_model." + unet_name(name, set())] = value
    return renamed
