"""Regenerate the masked part of a canvas: the one diffusion path behind every image task and family.

Each task module (inpaint, expand, texture, variants) turns its request into a PaintJob: an RGBA canvas,
a soft mask and a prompt. paint() crops the context around the mask, runs all candidates as one batch
through the family's inpaint pipeline and composites the results back, so pixels where the mask is 0 stay
bit-identical. What differs between families (pipeline options, preview projection, sizes) comes from
their Family; nothing here is written for one family.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import DiffusionPipeline
from PIL import Image

from core_server.engines.families.family import SEAMLESS, Family
from core_server.engines.noise import given_noise, plain
from core_server.engines.pixels import bounding_box, composite, over_backdrop, resize
from core_server.engines.preview import PreviewFrame
from core_server.engines.profiling import timed_modules
from core_server.engines.resolution import geometry, paint_size
from core_server.engines.seamless import seamless_tiling
from core_server.stages import Stages
from core_server.tasks import CancelToken, Emit, EngineError, NoiseRecipe, Resolution, Seamless, StepEvent

# Context the model sees around the mask's bounding box: this share of the box's longest side, at least MIN_CONTEXT px.
CONTEXT_SHARE = 0.5
MIN_CONTEXT = 32


@dataclass(frozen=True)
class Region:
    """The part of the canvas the model paints, and the size it paints it at."""

    box: tuple[int, int, int, int]  # (left, top, right, bottom) in canvas pixels
    size: tuple[int, int]  # (width, height) painted
    wrap: dict[str, bool]  # pixels.resize's wrap_x / wrap_y: a tiling job's axes


@dataclass(frozen=True)
class PaintJob:
    image: np.ndarray  # (H, W, 4) uint8 RGBA; the results have this size
    mask: np.ndarray  # (H, W) uint8: 0 keeps the pixel, 255 regenerates it, values between blend
    prompt: str
    negative_prompt: str
    strength: float
    steps: int  # 0: the family's default
    guidance: float  # 0: the family's default
    seamless: Seamless = Seamless.NONE
    noise: tuple[NoiseRecipe, ...] | None = None  # one per seed (feedback, interpolation); None: plain
    resolution: Resolution = field(default_factory=Resolution)
    # More pipeline options for what the candidates follow (engines.reference: reference images).
    conditioning: Mapping[str, Any] = field(default_factory=dict)
    # Pipeline options for the region painted (control maps, engines.control), made once its box and size are
    # known; None: none. An option it sets to None is one the pipeline does not take.
    region_conditioning: Callable[[Region], dict[str, Any]] | None = None


@dataclass(frozen=True)
class Painted:
    canvases: list[np.ndarray]  # one (H, W, 4) uint8 per seed
    size: tuple[int, int]  # (width, height) the model painted at


def paint(
    pipe: DiffusionPipeline,
    family: Family,
    job: PaintJob,
    seeds: Sequence[int],
    *,
    previews: bool,
    emit: Emit,
    cancel: CancelToken,
    stages: Stages,
) -> Painted:
    """One canvas per seed, candidate i denoised from seeds[i]; each part's time goes to `stages`."""
    prepare_started = time.perf_counter()
    # 1. Check inputs
    if job.seamless is not Seamless.NONE and (refusal := family.refusal(SEAMLESS)):
        raise EngineError(refusal)
    job = _with_defaults(job, family)
    box = bounding_box(job.mask)
    if box is None:
        raise EngineError("The mask is empty: mark the part of the image to regenerate.")
    if not 0 < job.strength <= 1:
        raise EngineError(f"strength must be in (0, 1], not {job.strength}.")
    if int(job.steps * job.strength) < 1:
        raise EngineError(
            f"{job.steps} steps at strength {job.strength} leave no denoising step; raise steps or strength."
        )
    if job.noise is not None and len(job.noise) != len(seeds):
        raise EngineError(f"{len(job.noise)} noise recipes for {len(seeds)} candidates; they must match.")

    # 2. The region the model sees: the mask's bounding box with context around it. A tiling job keeps
    #    the whole canvas, since its opposite edges are neighbours.
    height, width = job.mask.shape
    if job.seamless is Seamless.NONE:
        left, top, right, bottom = _with_context(box, width, height)
    else:
        left, top, right, bottom = 0, 0, width, height
    region = job.image[top:bottom, left:right]
    region_mask = job.mask[top:bottom, left:right]
    wrap = {
        "wrap_x": job.seamless in (Seamless.X, Seamless.BOTH),
        "wrap_y": job.seamless in (Seamless.Y, Seamless.BOTH),
    }

    # 3. Model inputs at the working size. The model regenerates everything the mask touches; its soft
    #    values only weigh the composite.
    device = getattr(pipe, family.denoiser).device.type
    work_width, work_height = paint_size(geometry(pipe, family), right - left, bottom - top, job.resolution, device)
    pixels = resize(over_backdrop(region), work_width, work_height, **wrap)
    soft = resize(region_mask, work_width, work_height, resample=Image.Resampling.BILINEAR, **wrap)

    frame = PreviewFrame(job.image, job.mask, (left, top, right, bottom), family.latent_rgb) if previews else None
    region_options = (
        job.region_conditioning(Region((left, top, right, bottom), (work_width, work_height), wrap))
        if job.region_conditioning
        else {}
    )
    stages.add("prepare", time.perf_counter() - prepare_started)

    # 4. Denoise all candidates in one batch
    generated = _denoise(
        pipe, family, job, pixels, soft > 0, seeds, region_options, frame=frame, emit=emit, cancel=cancel, stages=stages
    )

    # 5. Back to the region's size and into the canvas
    canvases = []
    with stages.timed("composite"):
        for rgb in generated:
            rgb = resize(rgb, right - left, bottom - top, **wrap)
            canvas = job.image.copy()
            canvas[top:bottom, left:right] = composite(region, region_mask, rgb)
            canvases.append(canvas)
    return Painted(canvases, (work_width, work_height))


def _with_defaults(job: PaintJob, family: Family) -> PaintJob:
    return replace(job, steps=job.steps or family.default_steps, guidance=job.guidance or family.default_guidance)


def _with_context(box: tuple[int, int, int, int], width: int, height: int) -> tuple[int, int, int, int]:
    left, top, right, bottom = box
    pad = max(MIN_CONTEXT, round(CONTEXT_SHARE * max(right - left, bottom - top)))
    return max(0, left - pad), max(0, top - pad), min(width, right + pad), min(height, bottom + pad)


@torch.inference_mode()
def _denoise(
    pipe: DiffusionPipeline,
    family: Family,
    job: PaintJob,
    pixels: np.ndarray,
    regenerate: np.ndarray,
    seeds: Sequence[int],
    region_options: dict[str, Any],
    *,
    frame: PreviewFrame | None,
    emit: Emit,
    cancel: CancelToken,
    stages: Stages,
) -> np.ndarray:
    """(n, h, w, 3) uint8 from (h, w, 3) uint8 pixels and an (h, w) bool mask."""
    height, width = pixels.shape[:2]
    image = torch.tensor(pixels).permute(2, 0, 1)[None].float() / 255.0
    # Grown by a latent cell, so no masked pixel falls between the cells the model sees.
    reach = 2 * pipe.vae_scale_factor + 1
    mask = torch.from_numpy(regenerate)[None, None].float()
    mask = F.max_pool2d(mask, kernel_size=reach, stride=1, padding=reach // 2)
    # CPU generators give the same noise on every device, so a seed means the same picture everywhere.
    # The initial noise comes from the recipes (noise.given_noise); the generators serve samplers that draw
    # more noise on the way.
    generators = [torch.Generator().manual_seed(seed) for seed in seeds]

    def on_step_end(pipe: DiffusionPipeline, step: int, timestep: int, tensors: dict) -> dict:
        # Raising Cancelled here leaves the pipeline before its VAE decode; the next call starts afresh.
        cancel.check()
        shown: tuple = ()
        if frame is not None:
            with stages.timed("previews"):
                latents = tensors["latents"]
                if family.preview_latents is not None:
                    latents = family.preview_latents(pipe, latents, height, width)
                shown = frame.render(latents)
        emit(StepEvent(step + 1, pipe.num_timesteps, shown, painted=(width, height)))
        return {}

    options = family.call_options(
        {
            "prompt": job.prompt,
            "negative_prompt": job.negative_prompt,
            "image": image,
            "mask_image": mask,
            "height": height,
            "width": width,
            "strength": job.strength,
            "num_inference_steps": job.steps,
            "guidance_scale": job.guidance,
            "num_images_per_prompt": len(seeds),
            "generator": generators,
            "output_type": "np",
            "callback_on_step_end": on_step_end,
            **job.conditioning,
            **region_options,
        }
    )
    options = {key: value for key, value in options.items() if not (key in region_options and value is None)}
    tiled = (getattr(pipe, family.denoiser), pipe.vae)
    # Each model's forward calls are timed; the pipeline's own work in between is "pipeline other".
    encoders = [getattr(pipe, name) for name in family.text_encoders if getattr(pipe, name, None) is not None]
    inside = [
        ("vae encode", pipe.vae.encoder),
        *(("text encoder", encoder) for encoder in encoders),
        (family.denoiser, getattr(pipe, family.denoiser)),
        ("vae decode", pipe.vae.decoder),
    ]
    with (
        seamless_tiling(tiled, job.seamless),
        given_noise(pipe, job.noise or plain(seeds)),
        timed_modules(stages, inside, rest="pipeline other"),
    ):
        output = pipe(**options)
    with stages.timed("composite"):
        return np.clip(np.rint(output.images * 255.0), 0, 255).astype(np.uint8)
