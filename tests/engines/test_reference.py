"""Which layers a reference feeds: on a real SDXL UNet's layout, InstantStyle's published choice."""

from __future__ import annotations

from types import SimpleNamespace

from core_server.engines.families import sd15, sdxl
from core_server.engines.reference import adapter_scale
from core_server.tasks import Reference, ReferenceKind, RGBAImage

SDXL_UNET = SimpleNamespace(
    config=SimpleNamespace(
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        layers_per_block=2,
    )
)
PICTURE = RGBAImage(1, 1, bytes(4))


def test_sdxl_style_and_composition_take_instantstyles_layers() -> None:
    style = Reference(PICTURE, ReferenceKind.STYLE, strength=0.8)
    composition = Reference(PICTURE, ReferenceKind.COMPOSITION)
    assert adapter_scale(SDXL_UNET, sdxl.FAMILY, style) == {"up": {"block_0": [0.0, 0.8, 0.0]}}
    assert adapter_scale(SDXL_UNET, sdxl.FAMILY, composition) == {"down": {"block_2": [0.0, 0.6]}}


def test_sd15_feeds_every_layer_at_the_strength() -> None:
    assert adapter_scale(SDXL_UNET, sd15.FAMILY, Reference(PICTURE, ReferenceKind.COMPOSITION, strength=0.3)) == 0.3
