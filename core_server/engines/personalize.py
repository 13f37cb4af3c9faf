"""Train a personal LoRA on the artist's accepted pictures: the UNet's attention layers learn their look.

The base model stays frozen; a low-rank adapter (peft) on the UNet's attention projections is trained
with the usual denoising loss, on the model's own inpainting inputs: each step hides a random box of a
picture (sometimes all of it), so the adapter learns to paint in the artist's style what the inpaint,
expand, texture and variants tasks ask for. Saved as diffusers LoRA safetensors, loaded by ImageEngine.
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import StableDiffusionInpaintPipeline
from diffusers.utils import convert_state_dict_to_diffusers
from peft import LoraConfig
from peft.utils import get_peft_model_state_dict
from PIL import Image, UnidentifiedImageError

from core_server.engines import precision
from core_server.engines.devices import choose_device
from core_server.engines.families import family_named, family_of_folder
from core_server.engines.image import load_pipeline
from core_server.engines.pixels import over_backdrop, resize
from core_server.engines.resolution import geometry, paint_size
from core_server.tasks import (
    CancelToken,
    Emit,
    EngineError,
    PaintSize,
    PersonalizeTask,
    Resolution,
    StepEvent,
    Training,
)

if TYPE_CHECKING:
    from core_server.models.catalog import ModelEntry

ATTENTION = ["to_q", "to_k", "to_v", "to_out.0"]
WHOLE_PICTURE_SHARE = 0.25  # of steps that hide the whole picture, as a texture or a new picture starts


@dataclass(frozen=True)
class Example:
    image: np.ndarray  # (H, W, 4) uint8 RGBA, as accepted (or as the person edited it)
    prompt: str


def train(entry: ModelEntry, task: PersonalizeTask, emit: Emit, cancel: CancelToken) -> None:
    """Run `task` on the image model `entry`: a StepEvent with the loss after each step, cancellable between
    steps; the LoRA is written to task.out only when every step ran."""
    examples = [Example(read_picture(data), caption) for data, caption in task.pictures]

    def on_step(step: int, loss: float) -> None:
        emit(StepEvent(step, task.training.steps, loss=loss))
        cancel.check()

    cancel.check()
    train_lora(entry.path, entry.config, examples, Path(task.out), task.training, on_step)


def read_picture(data: bytes) -> np.ndarray:
    """An encoded picture (any format PIL reads) as (H, W, 4) uint8 RGBA."""
    try:
        with Image.open(io.BytesIO(data)) as picture:
            return np.asarray(picture.convert("RGBA"))
    except (UnidentifiedImageError, OSError) as error:
        raise EngineError(f"a picture to learn from is not one PIL can read: {error}") from None


def train_lora(
    model: Path,
    config: Path | None,
    examples: Sequence[Example],
    out: Path,
    training: Training,
    on_step: Callable[[int, float], None] = lambda step, loss: None,
) -> None:
    """Train on `examples` and write the adapter to `out` (a .safetensors file)."""
    if not examples:
        raise EngineError("There is nothing to learn from: no accepted pictures.")
    if training.steps < 1 or training.rank < 1 or not training.learning_rate > 0:
        raise EngineError("steps and rank must be at least 1, and the learning rate above 0.")
    device = choose_device()
    folder = config or model
    family = family_of_folder(folder) if folder.is_dir() else None
    if family is not family_named("sd15"):
        raise EngineError("cocreate personalize trains LoRAs for Stable Diffusion 1.x/2.x models only, so far.")
    # Trained in float32 (gradients in half precision need loss scaling); the adapter is used in any dtype.
    pipe = load_pipeline(model, family, config, precision.Layout.for_dtype(torch.float32)).to(device)
    torch.manual_seed(training.seed)
    pictures, prompts = _encode(pipe, examples)
    unet = pipe.unet
    unet.requires_grad_(False)
    unet.add_adapter(
        LoraConfig(r=training.rank, lora_alpha=training.rank, init_lora_weights="gaussian", target_modules=ATTENTION)
    )
    weights = [p for p in unet.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(weights, lr=training.learning_rate)
    scheduler = pipe.scheduler
    boxes = random.Random(training.seed)
    unet.train()
    for step in range(training.steps):
        index = step % len(pictures)
        latents, picture = pictures[index]
        noise = torch.randn_like(latents)
        timestep = torch.randint(0, scheduler.config.num_train_timesteps, (1,), device=device)
        noisy = scheduler.add_noise(latents, noise, timestep)
        if unet.config.in_channels == 9:
            mask = _random_mask(boxes, latents.shape[-2:], device)
            pixel_mask = F.interpolate(mask, size=picture.shape[-2:], mode="nearest")
            hidden = _latents(pipe, picture * (pixel_mask < 0.5))
            noisy = torch.cat([noisy, mask, hidden], dim=1)
        if scheduler.config.prediction_type == "v_prediction":
            target = scheduler.get_velocity(latents, noise, timestep)
        else:
            target = noise
        predicted = unet(noisy, timestep, prompts[index]).sample
        loss = F.mse_loss(predicted.float(), target.float())
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        on_step(step + 1, loss.item())
    layers = convert_state_dict_to_diffusers(get_peft_model_state_dict(unet))
    staging = out.with_name(f".{out.name}.d")
    StableDiffusionInpaintPipeline.save_lora_weights(staging, unet_lora_layers=layers, weight_name=out.name)
    (staging / out.name).replace(out)
    staging.rmdir()


@torch.no_grad()
def _encode(
    pipe: StableDiffusionInpaintPipeline, examples: Sequence[Example]
) -> tuple[list[tuple[torch.Tensor, torch.Tensor]], list[torch.Tensor]]:
    """Each picture at the model's working size, as (latents, pixels), and each prompt's encoding."""
    pictures, prompts = [], []
    for example in examples:
        height, width = example.image.shape[:2]
        shape = geometry(pipe, family_named("sd15"))
        work_width, work_height = paint_size(shape, width, height, Resolution(PaintSize.NATIVE), "cpu")
        rgb = resize(over_backdrop(example.image), work_width, work_height)
        pixels = torch.tensor(rgb).permute(2, 0, 1)[None].to(pipe.device, torch.float32) / 127.5 - 1.0
        pictures.append((_latents(pipe, pixels), pixels))
        prompts.append(pipe.encode_prompt(example.prompt, pipe.device, 1, False)[0])
    return pictures, prompts


@torch.no_grad()
def _latents(pipe: StableDiffusionInpaintPipeline, pixels: torch.Tensor) -> torch.Tensor:
    return pipe.vae.encode(pixels).latent_dist.mode() * pipe.vae.config.scaling_factor


def _random_mask(boxes: random.Random, size: torch.Size, device: torch.device) -> torch.Tensor:
    """(1, 1, h, w): 1 where the model paints. A random box, or the whole picture."""
    height, width = size
    mask = torch.zeros(1, 1, height, width, device=device)
    if boxes.random() < WHOLE_PICTURE_SHARE:
        return mask + 1
    box_height, box_width = boxes.randint(1, height), boxes.randint(1, width)
    top, left = boxes.randint(0, height - box_height), boxes.randint(0, width - box_width)
    mask[..., top : top + box_height, left : left + box_width] = 1
    return mask
