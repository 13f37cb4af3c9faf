"""Tiny random-weight ControlNets for the tiny profile: one per family with control pipelines, sized to that
family's tiny model, saved as diffusers folders and loaded through from_pretrained like real ones.

A real ControlNet starts training with its output convolutions at zero (it changes nothing until trained);
these get seeded random output weights instead, so a control visibly steers the tiny models' candidates.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from core_server.models import tiny_family_control
from core_server.models.control_models import FLUX_UNION_MODES
from core_server.tasks import ControlKind

ALL_KINDS = tuple(kind.value for kind in ControlKind)
TINY_CONTROL_SD15 = "tiny-control-sd15"
TINY_CONTROL_SDXL = "tiny-control-sdxl"
TINY_CONTROL_FLUX = "tiny-control-flux"
# name → the kinds it is registered for: every kind its sort of model can be told (a Flux union has no mode
# for normal or segmentation maps).
TINY_CONTROLS: dict[str, tuple[str, ...]] = {
    TINY_CONTROL_SD15: ALL_KINDS,
    TINY_CONTROL_SDXL: ALL_KINDS,
    TINY_CONTROL_FLUX: tuple(FLUX_UNION_MODES),
    **tiny_family_control.TINY_CONTROLS,
}
OUTPUT_STD = 0.05  # the output convolutions' weights: enough to steer, not enough to drown the picture
# The control image is brought to the latents' size by the conditioning embedding's stride-2 convs: the tiny
# VAE downsamples by 4, so two of them (three channel counts).
CONDITIONING_CHANNELS = (16, 32, 32)
# The parts diffusers initialises to zero (zero_module): what a ControlNet adds to the UNet passes through them.
ZERO_INITIALISED = (
    "controlnet_down_blocks",
    "controlnet_mid_block",
    "controlnet_cond_embedding.conv_out",
    "spatial_ch_projs",
    "controlnet_blocks",
    "controlnet_single_blocks",
    "controlnet_x_embedder",
)


# The sizes of the tiny SD 1.5 and SDXL UNets (engines.families.sd15 / sdxl) a ControlNet mirrors, on the
# 4-channel latents every SD ControlNet reads (the tiny SD 1.5 UNet inpaints with 9).
UNET_SIZES: dict[str, Any] = {
    "in_channels": 4,
    "block_out_channels": (32, 64),
    "layers_per_block": 2,
    "down_block_types": ("DownBlock2D", "CrossAttnDownBlock2D"),
    "conditioning_embedding_out_channels": CONDITIONING_CHANNELS,
}
SDXL_SIZES: dict[str, Any] = {
    "attention_head_dim": (2, 4),
    "use_linear_projection": True,
    "addition_embed_type": "text_time",
    "addition_time_embed_dim": 8,
    "transformer_layers_per_block": (1, 2),
    "projection_class_embeddings_input_dim": 6 * 8 + 32,
    "cross_attention_dim": 64,
}


def _build_sd15(folder: Path) -> None:
    from diffusers import ControlNetModel

    _save(folder, lambda: ControlNetModel(**UNET_SIZES, cross_attention_dim=32))


def _build_sdxl(folder: Path) -> None:
    """A union ControlNet, as xinsir's is."""
    from diffusers import ControlNetUnionModel

    union = {"num_control_type": 8, "num_trans_channel": 32, "num_trans_head": 2, "num_proj_channel": 32}
    _save(folder, lambda: ControlNetUnionModel(**UNET_SIZES, **SDXL_SIZES, **union))


def _build_flux(folder: Path) -> None:
    """A union ControlNet (InstantX's and Shakker-Labs' kind) matching the tiny Flux transformer (models.tiny_flow)."""
    from diffusers import FluxControlNetModel

    from core_server.models import flow_checkpoints, tiny_flow

    _save(
        folder,
        lambda: FluxControlNetModel(
            in_channels=tiny_flow.LATENT_CHANNELS * 4,
            num_layers=1,
            num_single_layers=1,
            attention_head_dim=16,
            num_attention_heads=2,
            joint_attention_dim=tiny_flow.TEXT_WIDTH * 2,
            pooled_projection_dim=tiny_flow.TEXT_WIDTH * 2,
            guidance_embeds=True,
            axes_dims_rope=flow_checkpoints.flux_rope(16),
            num_mode=10,
        ),
    )


def _save(folder: Path, make: Callable[[], Any], *, every_zero: bool = False) -> None:
    """`every_zero`: also seed every parameter that starts at zero, wherever it sits (the zero projections inside
    the blocks of SD 3.5's, Qwen-Image's and Z-Image's ControlNets)."""
    import torch

    from core_server.models import tiny

    tiny.quiet_progress()
    torch.manual_seed(tiny.SEED)
    model = make()
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.startswith(ZERO_INITIALISED) or (every_zero and not parameter.any()):
                parameter.normal_(0.0, OUTPUT_STD)
    model.save_pretrained(folder, safe_serialization=True)


def save_steering(folder: Path, make: Callable[[], Any]) -> None:
    _save(folder, make, every_zero=True)


BUILDERS: dict[str, Callable[[Path], None]] = {
    TINY_CONTROL_SD15: _build_sd15,
    TINY_CONTROL_SDXL: _build_sdxl,
    TINY_CONTROL_FLUX: _build_flux,
    **tiny_family_control.BUILDERS,
}
