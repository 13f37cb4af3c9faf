"""Loading a ControlNet kept as one .safetensors file: the model built from the config the catalog wrote from
its shapes (models.controlnet_files), and its tensors renamed to diffusers' names where the file keeps the
original release's (diffusers' own converter)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import diffusers
import torch
from diffusers.loaders.single_file_utils import convert_controlnet_checkpoint
from safetensors.torch import load_file

from core_server.models.controlnet_files import ORIGINAL

# Where diffusers' converter looks for the hint embedding's last convolution: the original release's
# 8-conv hint block puts it at index 14; a shallower one (a miniature) at less.
CONVERTER_HINT_OUT = 14
_HINT = re.compile(re.escape(ORIGINAL) + r"input_hint_block\.(\d+)\.")


def load(file: Path, config_folder: Path, dtype: torch.dtype) -> torch.nn.Module:
    """The ControlNet in `file`; ValueError/RuntimeError/OSError when its tensors do not fit the config."""
    config = json.loads((config_folder / "config.json").read_text(encoding="utf-8"))
    model = getattr(diffusers, config["_class_name"]).from_config(config)
    tensors = load_file(file)
    if any(name.startswith(ORIGINAL) for name in tensors):
        tensors = convert_controlnet_checkpoint(_hint_out_where_the_converter_reads(tensors), config)
    model.load_state_dict(tensors, strict=True)
    return model.to(dtype)


def _hint_out_where_the_converter_reads(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    last = max(int(match[1]) for name in tensors if (match := _HINT.match(name)))
    if last == CONVERTER_HINT_OUT:
        return tensors
    moved = f"{ORIGINAL}input_hint_block.{CONVERTER_HINT_OUT}."
    return {name.replace(f"{ORIGINAL}input_hint_block.{last}.", moved): value for name, value in tensors.items()}
