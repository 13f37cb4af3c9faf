"""Tiny Flux ControlNets beside the tiny profile's union one, for tests that need several sorts: the same sizes
read from the union model's config, with what it should differ in changed, seeded like the tiny profile's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core_server.models.tiny_control import OUTPUT_STD, TINY_CONTROL_FLUX, ZERO_INITIALISED


def tiny_control_folder(home: Path, name: str = TINY_CONTROL_FLUX) -> Path:
    return next((home / "models" / "tiny").glob(f"v*/{name}"))


def flux_controlnet(home: Path, out: Path, seed: int = 1, **changes: Any) -> Path:
    """A Flux ControlNet folder shaped as the tiny union one, `changes` made to its config (num_mode=None: a
    single-kind ControlNet; guidance_embeds=False: one made for [schnell])."""
    import torch
    from diffusers import FluxControlNetModel

    config = dict(FluxControlNetModel.load_config(tiny_control_folder(home)))
    torch.manual_seed(seed)
    model = FluxControlNetModel.from_config({**config, **changes})
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.startswith(ZERO_INITIALISED):
                parameter.normal_(0.0, OUTPUT_STD)
    model.save_pretrained(out, safe_serialization=True)
    return out
