"""Several ControlNets at once on Flux.1: diffusers' FluxMultiControlNetModel, with each control's mode given
once per candidate (diffusers gives a union ControlNet one mode for the whole batch, which fails with more than
one candidate), and the combinations its pipeline cannot run refused before a job starts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from diffusers import FluxControlNetModel
from diffusers.models.controlnets.controlnet_flux import FluxMultiControlNetModel

from core_server.tasks import EngineError

NO_MODE = -1  # what the pipeline hands a single-kind ControlNet, which reads no mode


class PerCandidateModes(FluxMultiControlNetModel):
    """FluxMultiControlNetModel with each control's mode repeated for every candidate in the batch."""

    def forward(
        self,
        hidden_states: torch.Tensor,
        controlnet_cond: list[torch.Tensor],
        controlnet_mode: torch.Tensor,
        conditioning_scale: list[float],
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        batch = hidden_states.shape[0]
        modes = [mode.reshape(-1)[:1].expand(batch) for mode in controlnet_mode]
        return super().forward(hidden_states, controlnet_cond, modes, conditioning_scale, *args, **kwargs)


def combined(nets: Sequence[FluxControlNetModel], names: Sequence[str]) -> PerCandidateModes:
    """One module running `nets` (one per control, `names` theirs) side by side; EngineError for a mix the
    Flux ControlNet pipeline reads from the first alone."""
    first = nets[0]
    for net, name in zip(nets[1:], names[1:], strict=True):
        if (net.input_hint_block is None) != (first.input_hint_block is None):
            raise EngineError(
                f"{names[0]} and {name} read their maps differently (XLabs ControlNets take the picture, "
                "InstantX-style ones its latents); Flux runs one sort at a time: use ControlNets of one sort."
            )
        if net.config.guidance_embeds != first.config.guidance_embeds:
            raise EngineError(
                f"{names[0]} and {name} were made for different Flux.1 models ([dev] takes guidance, "
                "[schnell] does not); use ControlNets made for the same one."
            )
    return PerCandidateModes(list(nets))


def modes(chosen: Sequence[int | None]) -> list[int]:
    """The pipeline's control_mode: one per control, NO_MODE for a single-kind ControlNet."""
    return [NO_MODE if mode is None else mode for mode in chosen]
