"""ControlNets on SD 3.5, Qwen-Image and Z-Image, whose diffusers ControlNet pipelines cannot paint a masked
region at a strength (theirs are text-to-image, or inpaint only with an inpainting ControlNet of their own).

The family's own inpaint pipeline runs, so every task paints as it does without controls (engines.paint), and
each call of its transformer is preceded by the ControlNets' forward on the same inputs; their block samples
reach the transformer as diffusers' ControlNet pipelines hand them over. Each control map is encoded by the
family's VAE once per job, as those pipelines encode it, and acts only within its start/end window of the steps
the job runs.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import diffusers
import torch
import torch.nn.functional as F
from diffusers import DiffusionPipeline

from core_server.engines.families.family import Family
from core_server.tasks import EngineError

STEERED = ("sd3", "qwen-image", "z-image")  # the families whose controls run here

# Z-Image's ControlNet borrows these parts of the transformer (diffusers' ZImageControlNetModel.from_transformer).
Z_IMAGE_SHARED = (
    "t_scale",
    "t_embedder",
    "all_x_embedder",
    "cap_embedder",
    "rope_embedder",
    "noise_refiner",
    "context_refiner",
    "x_pad_token",
    "cap_pad_token",
)


@dataclass(frozen=True)
class Steer:
    """One ControlNet with its encoded map and how much and when it acts."""

    net: torch.nn.Module
    condition: torch.Tensor  # the map as the ControlNet reads it, one sample
    scale: float
    start: float
    end: float

    def acts_at(self, step: int, steps: int) -> bool:
        """diffusers' controlnet_keep: on for the steps whose span lies inside [start, end]."""
        return not (step / steps < self.start or (step + 1) / steps > self.end)


def pipeline(
    pipe: DiffusionPipeline, family: Family, nets: Sequence[torch.nn.Module], base_name: str = ""
) -> DiffusionPipeline:
    """The family's inpaint pipeline (or the diffusers pipeline `base_name`) on `pipe`'s own parts, taking the
    ControlNet options of engines.control."""
    base = getattr(diffusers, base_name or family.pipelines.inpaint)
    steered = _steered_class(base)
    modules, options = base._get_signature_keys(base)
    parts = {key: pipe.components.get(key) for key in modules}
    settings = {key: pipe.config[key] for key in options if key in pipe.config}
    controlled = steered(**parts, **settings)
    controlled.set_progress_bar_config(disable=True)
    if family.prepare is not None:
        family.prepare(controlled)
    controlled.nets = list(nets)
    controlled.family = family.name
    for net in nets:
        _fit(family.name, net, pipe.transformer)
    return controlled


@functools.cache
def _steered_class(base: type) -> type:
    return type(f"Steered{base.__name__}", (_Steered, base), {})


class _Steered:
    """Mixed in before a family's inpaint pipeline: its call takes the ControlNet options and steers the run."""

    nets: list[torch.nn.Module]
    family: str

    def __call__(
        self,
        *,
        control_image: Sequence[torch.Tensor],
        controlnet_conditioning_scale: Sequence[float],
        control_guidance_start: Sequence[float],
        control_guidance_end: Sequence[float],
        **options: Any,
    ) -> Any:
        pipe: Any = self
        with torch.inference_mode():
            steers = [
                Steer(net, _condition(self.family, pipe, net, image, options), scale, start, end)
                for net, image, scale, start, end in zip(
                    self.nets,
                    control_image,
                    controlnet_conditioning_scale,
                    control_guidance_start,
                    control_guidance_end,
                    strict=True,
                )
            ]
        with contextlib.ExitStack() as stack:
            for steer in steers:
                stack.enter_context(_sharing(self.family, steer.net, pipe.transformer))
            hook = pipe.transformer.register_forward_pre_hook(_hook(self.family, pipe, steers), with_kwargs=True)
            stack.callback(hook.remove)
            return super().__call__(**options)  # type: ignore[misc]


def _hook(family: str, pipe: Any, steers: Sequence[Steer]) -> Any:
    """A forward pre-hook adding the acting ControlNets' block samples to the transformer's inputs. Qwen-Image
    calls its transformer twice a step (true CFG); both calls get the samples of the first, as diffusers does."""
    last: dict[str, Any] = {}

    def before_forward(module: torch.nn.Module, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
        step, steps = _progress(pipe.scheduler)
        if last.get("step") != step:
            last.update(step=step, samples=None)
            for steer in steers:
                if steer.acts_at(step, steps):
                    samples = _samples(family, steer, args, kwargs)
                    last["samples"] = samples if last["samples"] is None else _sum(last["samples"], samples)
        if last["samples"] is None:
            return args, kwargs
        name = "block_controlnet_hidden_states" if family == "sd3" else "controlnet_block_samples"
        return args, {**kwargs, name: last["samples"]}

    return before_forward


def _progress(scheduler: Any) -> tuple[int, int]:
    """(step, steps) of the steps this job runs: an img2img at a strength starts into the schedule (begin_index),
    and the scheduler's step_index is None until its first step ends."""
    begin = scheduler.begin_index or 0
    index = scheduler.step_index
    return (0 if index is None else index - begin), len(scheduler.timesteps) - begin


def _samples(family: str, steer: Steer, args: tuple, kwargs: dict) -> Any:
    net = steer.net
    if family == "sd3":
        hidden = kwargs["hidden_states"]
        pooled = kwargs["pooled_projections"]
        return net(
            hidden_states=hidden,
            timestep=kwargs["timestep"],
            encoder_hidden_states=kwargs["encoder_hidden_states"] if net.config.joint_attention_dim else None,
            pooled_projections=torch.zeros_like(pooled) if net.config.force_zeros_for_pooled_projection else pooled,
            controlnet_cond=_batch(steer.condition, hidden.shape[0]),
            conditioning_scale=steer.scale,
            return_dict=False,
        )[0]
    if family == "qwen-image":
        hidden = kwargs["hidden_states"]
        return net(
            hidden_states=hidden,
            controlnet_cond=_batch(steer.condition, hidden.shape[0]),
            conditioning_scale=steer.scale,
            timestep=kwargs["timestep"],
            encoder_hidden_states=kwargs["encoder_hidden_states"],
            encoder_hidden_states_mask=kwargs.get("encoder_hidden_states_mask"),
            img_shapes=kwargs["img_shapes"],
            return_dict=False,
        )
    # z-image: called with (latents, timesteps, captions) as lists, one entry per sample
    latents, timestep, captions = args[:3]
    return net(latents, timestep, captions, _batch(steer.condition, len(latents)), conditioning_scale=steer.scale)


def _sum(first: Any, second: Any) -> Any:
    """Two ControlNets' samples added, as diffusers' MultiControlNets add them."""
    if isinstance(first, dict):  # Z-Image: by the layer they are added to
        return {layer: first[layer] + second[layer] for layer in first}
    return [a + b for a, b in zip(first, second, strict=True)]


def _batch(condition: torch.Tensor, count: int) -> torch.Tensor:
    return condition.repeat(count, *(1,) * (condition.dim() - 1))


def _condition(family: str, pipe: Any, net: torch.nn.Module, image: torch.Tensor, options: dict) -> torch.Tensor:
    """The map (1, 3, h, w) in [0, 1] at the painted size, encoded as the family's ControlNet pipeline encodes
    it; the latent's mode, not a sample, so a seed keeps meaning the same picture."""
    vae = pipe.vae
    pixels = (image * 2.0 - 1.0).to(pipe._execution_device, vae.dtype)
    dtype = pipe.transformer.dtype
    if family == "sd3":
        shift = 0.0 if net.config.force_zeros_for_pooled_projection else vae.config.shift_factor
        latents = vae.encode(pixels).latent_dist.mode()
        return ((latents - shift) * vae.config.scaling_factor).to(dtype)
    if family == "qwen-image":
        latents = vae.encode(pixels[:, :, None]).latent_dist.mode()  # a one-frame video
        mean = torch.tensor(vae.config.latents_mean, device=latents.device).view(1, -1, 1, 1, 1)
        std = torch.tensor(vae.config.latents_std, device=latents.device).view(1, -1, 1, 1, 1)
        latents = ((latents - mean) / std).permute(0, 2, 1, 3, 4)
        _, _, channels, height, width = latents.shape
        return pipe._pack_latents(latents, 1, channels, height, width).to(dtype)
    # z-image: the map's latents; a 2.x (inpaint mode) ControlNet also reads the mask and the kept picture
    control = _z_latents(vae, pixels)
    wanted = net.config.control_in_dim
    if wanted >= 2 * control.shape[1] + 1:
        painted = options["mask_image"].to(control.device, vae.dtype) > 0.5
        kept = (options["image"].to(control.device, vae.dtype) * 2.0 - 1.0) * ~painted
        keep = F.interpolate((~painted).to(vae.dtype), size=control.shape[-2:], mode="nearest")
        control = torch.cat([control, keep, _z_latents(vae, kept)], dim=1)
    if control.shape[1] < wanted:  # as ZImageControlNetPipeline: what it does not send is zeros
        padding = control.new_zeros(1, wanted - control.shape[1], *control.shape[2:])
        control = torch.cat([control, padding], dim=1)
    return control[:, :, None].to(dtype)  # a frame axis


def _z_latents(vae: Any, pixels: torch.Tensor) -> torch.Tensor:
    latents = vae.encode(pixels).latent_dist.mode()
    return (latents - vae.config.shift_factor) * vae.config.scaling_factor


def _fit(family: str, net: torch.nn.Module, transformer: torch.nn.Module) -> None:
    """Refuse a ControlNet made for another size of the family's transformer (SD 3.5 Large's on Medium);
    give SD 3.5 Large's ControlNets the transformer's patch embedding, which they share."""
    width = {"sd3": "inner_dim", "qwen-image": "inner_dim"}.get(family)
    if width is not None and getattr(net, width) != getattr(transformer, width):
        raise EngineError(
            f"The control model was made for a transformer {getattr(net, width)} wide; this model's is "
            f"{getattr(transformer, width)} (SD 3.5 Large's ControlNets run on SD 3.5 Large only)."
        )
    if family == "z-image" and net.config.dim != transformer.config.dim:
        raise EngineError(
            f"The control model was made for a Z-Image transformer {net.config.dim} wide; this one is "
            f"{transformer.config.dim}."
        )
    if family == "sd3" and net.pos_embed is None:
        net.pos_embed = net._get_pos_embed_from_transformer(transformer).to(net.device, net.dtype)


@contextlib.contextmanager
def _sharing(family: str, net: torch.nn.Module, transformer: torch.nn.Module) -> Iterator[None]:
    """Z-Image's ControlNet with the transformer's parts it runs through, for one job only: kept attached, they
    would count twice in the memory the ControlNets hold."""
    if family != "z-image":
        yield
        return
    offload = getattr(transformer, "_hf_hook", None)
    if offload is not None:  # model CPU offload: the parts go where the ControlNet runs before it runs
        offload.pre_forward(transformer)
    for name in Z_IMAGE_SHARED:
        setattr(net, name, getattr(transformer, name))
    try:
        yield
    finally:
        for name in Z_IMAGE_SHARED:
            setattr(net, name, None)
