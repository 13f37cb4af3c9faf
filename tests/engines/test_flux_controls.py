"""Flux ControlNets side by side: the mixes the Flux ControlNet pipeline reads from the first ControlNet alone
(XLabs' picture-reading hint block beside InstantX-style latent-reading ones) are refused naming both."""

from __future__ import annotations

import pytest

from core_server.engines import flux_controls
from core_server.tasks import EngineError


def tiny_flux_controlnet(**changes: object) -> object:
    from diffusers import FluxControlNetModel

    sizes = dict(in_channels=16, num_layers=1, num_single_layers=0, attention_head_dim=8, num_attention_heads=1)
    return FluxControlNetModel(
        **sizes, joint_attention_dim=8, pooled_projection_dim=8, axes_dims_rope=(2, 2, 4), **changes
    )


def test_xlabs_and_instantx_controlnets_are_not_mixed() -> None:
    instantx, xlabs = tiny_flux_controlnet(), tiny_flux_controlnet(conditioning_embedding_channels=16)
    with pytest.raises(EngineError, match="instantx-depth and xlabs-canny read their maps differently"):
        flux_controls.combined([instantx, xlabs], ["instantx-depth", "xlabs-canny"])  # type: ignore[list-item]
    combined = flux_controls.combined([instantx, instantx], ["instantx-depth", "instantx-canny"])  # type: ignore[list-item]
    assert len(combined.nets) == 2
    assert flux_controls.modes([None, 2]) == [flux_controls.NO_MODE, 2]
