"""Step previews: a cheap linear latent → RGB projection instead of a VAE decode."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from core_server.tasks import RGBAImage

MAX_PREVIEW_SIDE = 64

# How each of the 4 Stable Diffusion 1.x latent channels adds to R, G and B (ComfyUI's SD15 latent format).
# Other 4-channel VAEs, the tiny profile's included, give rougher colours but show the job converging.
LATENT_RGB_FACTORS = torch.tensor(
    [
        [0.3512, 0.2297, 0.3227],
        [0.3250, 0.4974, 0.2350],
        [-0.2829, 0.1762, 0.2721],
        [-0.2120, -0.2616, -0.7177],
    ]
)


def latent_previews(latents: torch.Tensor) -> tuple[RGBAImage, ...]:
    """One small RGBA image per candidate from (n, 4, h, w) latents, longest side at most MAX_PREVIEW_SIDE."""
    factors = LATENT_RGB_FACTORS.to(latents.device)
    rgb = torch.einsum("nchw,cr->nrhw", latents.float(), factors)
    height, width = rgb.shape[-2:]
    scale = MAX_PREVIEW_SIDE / max(height, width)
    if scale < 1:
        size = (max(1, round(height * scale)), max(1, round(width * scale)))
        rgb = F.interpolate(rgb, size=size, mode="area")
    pixels = ((rgb + 1.0) * 127.5).clamp(0, 255).round().to(torch.uint8)
    opaque = torch.full_like(pixels[:, :1], 255)
    rgba = torch.cat([pixels, opaque], dim=1).permute(0, 2, 3, 1).cpu().numpy()
    return tuple(RGBAImage(image.shape[1], image.shape[0], image.tobytes()) for image in rgba)
