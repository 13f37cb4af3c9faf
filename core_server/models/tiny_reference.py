"""Tiny random-weight IP-Adapters for the tiny SD 1.5 and SDXL models: a small CLIP image encoder and adapter
weights shaped for the tiny UNet, saved as h94/IP-Adapter lays out the real ones, so references run offline
through the same loading path."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from core_server.engines.families import sd15, sdxl
from core_server.engines.families.family import Family
from core_server.models import ip_adapter

SEED = 0
EMBED_WIDTH = 32  # the tiny image encoder's projection
WEIGHTS_FILE = "ip-adapter_tiny.safetensors"


def tiny_adapter_name(family: Family) -> str:
    return f"tiny-ip-adapter-{family.name}"


def builders() -> dict[str, Callable[[Path], None]]:
    """{tiny adapter name: builder}; each reads the UNet config of its family's tiny model, built before it."""
    return {tiny_adapter_name(family): _builder(family) for family in (sd15.FAMILY, sdxl.FAMILY)}


def _builder(family: Family) -> Callable[[Path], None]:
    def build(folder: Path) -> None:
        from core_server.models.tiny import tiny_name

        _build(folder, folder.parent / tiny_name(family) / "unet")

    return build


def _build(folder: Path, unet_folder: Path) -> None:
    import torch
    from diffusers import UNet2DConditionModel
    from safetensors.torch import save_file
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    torch.manual_seed(SEED)
    encoder = CLIPVisionModelWithProjection(
        CLIPVisionConfig(
            hidden_size=32,
            projection_dim=EMBED_WIDTH,
            intermediate_size=37,
            num_hidden_layers=2,
            num_attention_heads=4,
            image_size=32,
            patch_size=4,
        )
    )
    encoder.save_pretrained(folder / ip_adapter.ENCODER_FOLDER, safe_serialization=True)
    unet = UNet2DConditionModel.from_config(UNet2DConditionModel.load_config(unet_folder))
    width = unet.config.cross_attention_dim
    tensors = {
        "image_proj.proj.weight": torch.randn(width * 4, EMBED_WIDTH) * 0.5,
        "image_proj.proj.bias": torch.zeros(width * 4),
        "image_proj.norm.weight": torch.ones(width),
        "image_proj.norm.bias": torch.zeros(width),
    }
    # Keyed as the real files are: 1, 3, 5 … over the UNet's attention processors, cross-attention ones only.
    key_id = 1
    for processor_width in _cross_attention_widths(unet):
        if processor_width is not None:
            tensors[f"ip_adapter.{key_id}.to_k_ip.weight"] = torch.randn(processor_width, width) * 0.5
            tensors[f"ip_adapter.{key_id}.to_v_ip.weight"] = torch.randn(processor_width, width) * 0.5
            key_id += 2
    save_file({key: value.contiguous() for key, value in tensors.items()}, str(folder / WEIGHTS_FILE))


def _cross_attention_widths(unet: object) -> list[int | None]:
    """Per attention processor, in the UNet's order: its hidden width if it attends to the text, else None."""
    config = unet.config  # type: ignore[attr-defined]
    widths: list[int | None] = []
    for name in unet.attn_processors:  # type: ignore[attr-defined]
        if name.endswith("attn1.processor"):
            widths.append(None)
        elif name.startswith("mid_block"):
            widths.append(config.block_out_channels[-1])
        elif name.startswith("up_blocks"):
            widths.append(list(reversed(config.block_out_channels))[int(name[len("up_blocks.")])])
        else:
            widths.append(config.block_out_channels[int(name[len("down_blocks.")])])
    return widths
