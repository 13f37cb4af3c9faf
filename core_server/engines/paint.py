"""Regenerate the masked part of a canvas: the one diffusion path behind every image task.

Each task module (inpaint, expand, texture, variants) turns its request into a PaintJob: an RGBA canvas,
a soft mask and a prompt. paint() crops the context around the mask, runs all candidates as one batch
through the shared inpaint pipeline and composites the results back, so pixels where the mask is 0 stay
bit-identical.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import StableDiffusionInpaintPipeline
from PIL import Image

from core_server.engines.noise import given_noise, initial_noise, plain
from core_server.engines.pixels import bounding_box, composite, over_backdrop, resize
from core_server.engines.preview import PreviewFrame
from core_server.engines.profiling import timed_modules
from core_server.engines.seamless import seamless_tiling
from core_server.stages import Stages
from core_server.tasks import CancelToken, Emit, EngineError, NoiseRecipe, Seamless, StepEvent

DEFAULT_STEPS = 20
DEFAULT_GUIDANCE = 7.5
# Context the model sees around the mask's bounding box: this share of the box's longest side, at least MIN_CONTEXT px.
CONTEXT_SHARE = 0.5
MIN_CONTEXT = 32


@dataclass(frozen=True)
class PaintJob:
    image: np.ndarray  # (H, W, 4) uint8 RGBA; the results have this size
    mask: np.ndarray  # (H, W) uint8: 0 keeps the pixel, 255 regenerates it, values between blend
    prompt: str
    negative_prompt: str
    strength: float
    steps: int
    guidance: float
    seamless: Seamless = Seamless.NONE
    noise: tuple[NoiseRecipe, ...] | None = None  # one per seed (feedback, interpolation); None: plain


def paint(
    pipe: StableDiffusionInpaintPipeline,
    job: PaintJob,
    seeds: Sequence[int],
    *,
    previews: bool,
    emit: Emit,
    cancel: CancelToken,
    stages: Stages,
) -> list[np.ndarray]:
    """One (H, W, 4) uint8 canvas per seed, candidate i denoised from seeds[i]; each part's time goes to `stages`."""
    prepare_started = time.perf_counter()
    # 1. Check inputs
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
    work_width, work_height = working_size(pipe, right - left, bottom - top)
    pixels = resize(over_backdrop(region), work_width, work_height, **wrap)
    soft = resize(region_mask, work_width, work_height, resample=Image.Resampling.BILINEAR, **wrap)

    frame = PreviewFrame(job.image, job.mask, (left, top, right, bottom)) if previews else None
    stages.add("prepare", time.perf_counter() - prepare_started)

    # 4. Denoise all candidates in one batch
    generated = _denoise(pipe, job, pixels, soft > 0, seeds, frame=frame, emit=emit, cancel=cancel, stages=stages)

    # 5. Back to the region's size and into the canvas
    canvases = []
    with stages.timed("composite"):
        for rgb in generated:
            rgb = resize(rgb, right - left, bottom - top, **wrap)
            canvas = job.image.copy()
            canvas[top:bottom, left:right] = composite(region, region_mask, rgb)
            canvases.append(canvas)
    return canvases


def working_size(pipe: StableDiffusionInpaintPipeline, width: int, height: int) -> tuple[int, int]:
    """The size the model paints at: longest side at its native resolution, both sides multiples it can take."""
    unet = pipe.unet.config
    sample_size = unet.sample_size if isinstance(unet.sample_size, int) else max(unet.sample_size)
    native = sample_size * pipe.vae_scale_factor
    # The VAE divides by vae_scale_factor and every UNet down block by 2 more.
    multiple = pipe.vae_scale_factor * 2 ** (len(unet.block_out_channels) - 1)
    scale = native / max(width, height)
    return (
        max(multiple, round(width * scale / multiple) * multiple),
        max(multiple, round(height * scale / multiple) * multiple),
    )


def _with_context(box: tuple[int, int, int, int], width: int, height: int) -> tuple[int, int, int, int]:
    left, top, right, bottom = box
    pad = max(MIN_CONTEXT, round(CONTEXT_SHARE * max(right - left, bottom - top)))
    return max(0, left - pad), max(0, top - pad), min(width, right + pad), min(height, bottom + pad)


@torch.inference_mode()
def _denoise(
    pipe: StableDiffusionInpaintPipeline,
    job: PaintJob,
    pixels: np.ndarray,
    regenerate: np.ndarray,
    seeds: Sequence[int],
    *,
    frame: PreviewFrame | None,
    emit: Emit,
    cancel: CancelToken,
    stages: Stages,
) -> np.ndarray:
    """(n, h, w, 3) uint8 from (h, w, 3) uint8 pixels and an (h, w) bool mask."""
    device, dtype = pipe.unet.device, pipe.unet.dtype
    image = torch.tensor(pixels).permute(2, 0, 1)[None].to(device, dtype) / 127.5 - 1.0
    # Grown by a latent cell, so no masked pixel falls between the cells the UNet sees.
    reach = 2 * pipe.vae_scale_factor + 1
    mask = torch.from_numpy(regenerate)[None, None].float()
    mask = F.max_pool2d(mask, kernel_size=reach, stride=1, padding=reach // 2).to(device, dtype)
    # CPU generators give the same noise on every device, so a seed means the same picture everywhere.
    generators = [torch.Generator().manual_seed(seed) for seed in seeds]
    latent_shape = (
        pipe.vae.config.latent_channels,
        pixels.shape[0] // pipe.vae_scale_factor,
        pixels.shape[1] // pipe.vae_scale_factor,
    )
    noise = initial_noise(job.noise or plain(seeds), latent_shape)

    def on_step_end(pipe: StableDiffusionInpaintPipeline, step: int, timestep: int, tensors: dict) -> dict:
        # Raising Cancelled here leaves the pipeline before its VAE decode; the next call starts afresh.
        cancel.check()
        with stages.timed("previews"):
            shown = frame.render(tensors["latents"]) if frame else ()
        emit(StepEvent(step + 1, pipe.num_timesteps, shown))
        return {}

    with seamless_tiling((pipe.unet, pipe.vae), job.seamless), given_noise(pipe, noise):
        with stages.timed("vae encode"):
            image_latents, masked_image_latents = _encode_inputs(pipe, image, mask, job.strength)
        inside = {"text encoder": pipe.text_encoder, "unet": pipe.unet, "vae decode": pipe.vae.decoder}
        with timed_modules(stages, inside, rest="pipeline other"):
            output = pipe(
                prompt=job.prompt,
                negative_prompt=job.negative_prompt,
                image=image_latents,
                mask_image=mask,
                masked_image_latents=masked_image_latents,
                height=pixels.shape[0],
                width=pixels.shape[1],
                strength=job.strength,
                num_inference_steps=job.steps,
                guidance_scale=job.guidance,
                num_images_per_prompt=len(seeds),
                generator=generators,
                output_type="np",
                callback_on_step_end=on_step_end,
            )
    with stages.timed("composite"):
        return np.clip(np.rint(output.images * 255.0), 0, 255).astype(np.uint8)


def _encode_inputs(
    pipe: StableDiffusionInpaintPipeline, image: torch.Tensor, mask: torch.Tensor, strength: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """The latents of the picture and of its masked copy, encoded once and without sampling, so every
    candidate starts from the same latents and depends on its own seed alone.

    Only what the pipeline reads is encoded: the picture's latents start the denoising below strength 1
    and are blended back every step by a plain (4-channel) UNet; the masked copy is the extra input of an
    inpainting (9-channel) UNet. The one not read is stood in for by the other, as the pipeline wants both.
    """
    inpainting_unet = pipe.unet.config.in_channels == 9
    wants_picture = strength < 1 or not inpainting_unet
    if wants_picture and inpainting_unet:
        picture, masked = _encode(pipe, torch.cat([image, image * (mask < 0.5)])).chunk(2)
        return picture, masked
    latents = _encode(pipe, image if wants_picture else image * (mask < 0.5))
    return latents, latents


def _encode(pipe: StableDiffusionInpaintPipeline, images: torch.Tensor) -> torch.Tensor:
    # The distribution's mode, scaled as the pipeline scales its own encodings.
    return pipe.vae.encode(images).latent_dist.mode() * pipe.vae.config.scaling_factor
