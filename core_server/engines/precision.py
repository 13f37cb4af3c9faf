"""The precision of each part of the image pipeline: the denoiser and text encoders in the device's dtype,
the VAE in float32 when that dtype is bfloat16.

bfloat16 keeps 8 bits of mantissa: ample for the UNet's noise prediction (1.3 % off float32 per step
on SD1.5), but the VAE decoder's output are the pixels people see, and in bfloat16 they move by up to
12 of 255 levels, so on a bfloat16 run the VAE stays in float32 (README "Speed", bench/speed.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from diffusers import DiffusionPipeline
from torch import nn

from core_server.engines.devices import dtype_name
from core_server.engines.families.family import Family


@dataclass(frozen=True)
class Layout:
    compute: torch.dtype  # UNet and text encoder
    vae: torch.dtype

    @classmethod
    def for_dtype(cls, dtype: torch.dtype) -> Layout:
        return cls(dtype, torch.float32 if dtype == torch.bfloat16 else dtype)

    def loading_dtypes(self) -> dict[str, torch.dtype]:
        """diffusers' per-component `dtype` argument."""
        return {"default": self.compute, "vae": self.vae}

    def describe(self) -> str:
        """'bfloat16 (vae float32)', or just 'float16' when all parts agree: what ModelInfo.dtype shows."""
        if self.vae == self.compute:
            return dtype_name(self.compute)
        return f"{dtype_name(self.compute)} (vae {dtype_name(self.vae)})"


def modules(pipe: DiffusionPipeline, family: Family) -> list[nn.Module]:
    """The denoiser, the text encoders the model has and the VAE: every part holding weights."""
    names = (family.denoiser, *family.text_encoders, "vae")
    return [module for module in (getattr(pipe, name, None) for name in names) if module is not None]


def apply(pipe: DiffusionPipeline, family: Family, layout: Layout) -> None:
    """Cast each part to its dtype (a no-op when it was loaded so) and let the VAE take inputs in any dtype."""
    for module in modules(pipe, family):
        dtype = layout.vae if module is pipe.vae else layout.compute
        if getattr(module, "hf_quantizer", None) is not None:
            continue  # quantized (a GGUF transformer): loaded with its compute dtype, its bytes are not floats
        if module.dtype != dtype:  # diffusers warns on every cast, needed or not
            module.to(dtype)
    if layout.vae == torch.float32 and pipe.vae.config.get("force_upcast"):
        # Already in float32: SDXL's pipelines would otherwise cast it to the denoiser's dtype after each encode.
        pipe.vae.register_to_config(force_upcast=False)
    if layout.vae != layout.compute:
        # The pipeline hands the VAE latents in the UNet's dtype; both its entry points cast them.
        decoder_entry = pipe.vae.decoder if pipe.vae.post_quant_conv is None else pipe.vae.post_quant_conv
        for entry in (pipe.vae.encoder, decoder_entry):
            entry.register_forward_pre_hook(_cast_inputs(layout.vae))
        # ...and takes the encoder's latents as they come, so they leave it in the denoiser's dtype.
        encoder_exit = pipe.vae.encoder if pipe.vae.quant_conv is None else pipe.vae.quant_conv
        encoder_exit.register_forward_hook(_cast_output(layout.compute))


def _cast_output(dtype: torch.dtype) -> Any:
    def hook(module: nn.Module, args: tuple[Any, ...], output: torch.Tensor) -> torch.Tensor:
        return output.to(dtype)

    return hook


def _cast_inputs(dtype: torch.dtype) -> Any:
    def hook(module: nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(a.to(dtype) if isinstance(a, torch.Tensor) else a for a in args)

    return hook


@torch.inference_mode()
def step_error(unet: nn.Module, dtype: torch.dtype, latent_size: tuple[int, int], batch: int = 2) -> float:
    """Relative error ‖low − fp32‖ / ‖fp32‖ of one UNet noise prediction in `dtype` against float32, on
    the same seeded inputs: the check that a low-precision step is sound. `unet` is left in float32."""
    config = unet.config
    generator = torch.Generator().manual_seed(0)
    sample = torch.randn(batch, config.in_channels, *latent_size, generator=generator)
    context = torch.randn(batch, 77, config.cross_attention_dim, generator=generator)
    timestep = torch.tensor(500)
    unet.to(torch.float32)
    reference = unet(sample, timestep, context).sample
    unet.to(dtype)
    try:
        low = unet(sample.to(dtype), timestep, context.to(dtype)).sample.float()
    finally:
        unet.to(torch.float32)
    return float((low - reference).norm() / reference.norm())
