"""Tiny random-weight ControlNets for the tiny SD 3.5, Qwen-Image and Z-Image models (models.tiny_control builds
the SD 1.5, SDXL and Flux ones): sized to each family's tiny transformer, saved as diffusers folders and loaded
through from_pretrained like the real ones (engines.control_steering runs them)."""

from __future__ import annotations

from pathlib import Path

from core_server.models.control_models import QWEN_UNION_KINDS, Z_IMAGE_UNION_KINDS
from core_server.tasks import ControlKind

TINY_CONTROL_SD3 = "tiny-control-sd3"
TINY_CONTROL_QWEN_IMAGE = "tiny-control-qwen-image"
TINY_CONTROL_Z_IMAGE = "tiny-control-z-image"
# name → the kinds it is registered for: one SD 3.5 ControlNet for every kind (as the tiny SD 1.5 one), and the
# kinds the real union models were trained on.
TINY_CONTROLS: dict[str, tuple[str, ...]] = {
    TINY_CONTROL_SD3: tuple(kind.value for kind in ControlKind),
    TINY_CONTROL_QWEN_IMAGE: QWEN_UNION_KINDS,
    TINY_CONTROL_Z_IMAGE: Z_IMAGE_UNION_KINDS,
}


def _build_sd3(folder: Path) -> None:
    """Shaped like the tiny SD 3.5 transformer (engines.families.sd3), with its own patch embedding."""
    from diffusers import SD3ControlNetModel

    from core_server.models.tiny_control import save_steering

    save_steering(
        folder,
        lambda: SD3ControlNetModel(
            sample_size=16,
            patch_size=2,
            in_channels=16,
            out_channels=16,
            num_layers=1,
            attention_head_dim=8,
            num_attention_heads=4,
            caption_projection_dim=32,
            joint_attention_dim=64,
            pooled_projection_dim=64,
            force_zeros_for_pooled_projection=False,  # as Stability's SD 3.5 ControlNets
        ),
    )


def _build_qwen_image(folder: Path) -> None:
    """A union ControlNet (InstantX's kind) shaped like the tiny Qwen-Image transformer (models.tiny_flow)."""
    from diffusers import QwenImageControlNetModel

    from core_server.models import flow_checkpoints, tiny_flow
    from core_server.models.tiny_control import save_steering

    save_steering(
        folder,
        lambda: QwenImageControlNetModel(
            patch_size=2,
            in_channels=tiny_flow.LATENT_CHANNELS * 4,
            out_channels=tiny_flow.LATENT_CHANNELS,
            num_layers=1,
            attention_head_dim=16,
            num_attention_heads=2,
            joint_attention_dim=tiny_flow.TEXT_WIDTH,
            axes_dims_rope=flow_checkpoints.qwen_rope(16),
        ),
    )


def _build_z_image(folder: Path) -> None:
    """A union ControlNet as alibaba-pai's 2.x (inpaint mode: the control, the mask and the kept picture's latents
    side by side; a control noise refiner), on the tiny Z-Image transformer's two layers."""
    from diffusers import ZImageControlNetModel

    from core_server.models import tiny_flow
    from core_server.models.tiny_control import save_steering

    save_steering(
        folder,
        lambda: ZImageControlNetModel(
            control_layers_places=[0, 1],
            control_refiner_layers_places=[0],
            control_in_dim=2 * tiny_flow.LATENT_CHANNELS + 1,
            add_control_noise_refiner="control_noise_refiner",
            dim=32,
            n_refiner_layers=1,
            n_heads=2,
            n_kv_heads=2,
        ),
    )


BUILDERS = {
    TINY_CONTROL_SD3: _build_sd3,
    TINY_CONTROL_QWEN_IMAGE: _build_qwen_image,
    TINY_CONTROL_Z_IMAGE: _build_z_image,
}
