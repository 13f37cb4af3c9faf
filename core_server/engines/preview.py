"""Step previews: a cheap linear latent → RGB projection instead of a VAE decode.

Each family states its projection (Family.latent_rgb). A preview shows the whole result frame,
downscaled, with the region being painted blended in by its mask, so a host can lay it over the
document exactly where the result will land.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from core_server.engines.families.family import LatentRGB
from core_server.engines.pixels import composite, resize, rgba_image
from core_server.tasks import RGBAImage

MAX_PREVIEW_SIDE = 256


class PreviewFrame:
    """The downscaled canvas and where the painted region sits in it; render() adds each step's latents."""

    def __init__(
        self, canvas: np.ndarray, mask: np.ndarray, box: tuple[int, int, int, int], factors: LatentRGB
    ) -> None:
        self._factors = torch.tensor(factors)
        height, width = mask.shape
        scale = min(1.0, MAX_PREVIEW_SIDE / max(width, height))
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        self._base = np.asarray(Image.fromarray(canvas).resize(size, Image.Resampling.BILINEAR))
        left, top, right, bottom = (round(v * scale) for v in box)
        self._box = (left, top, max(right, left + 1), max(bottom, top + 1))
        box_size = (self._box[2] - left, self._box[3] - top)
        region_mask = mask[box[1] : box[3], box[0] : box[2]]
        self._mask = resize(region_mask, *box_size, resample=Image.Resampling.BILINEAR)

    def render(self, latents: torch.Tensor) -> tuple[RGBAImage, ...]:
        left, top, right, bottom = self._box
        rgb = latent_rgb(latents, (bottom - top, right - left), self._factors)
        previews = []
        for painted in rgb:
            frame = self._base.copy()
            frame[top:bottom, left:right] = composite(frame[top:bottom, left:right], self._mask, painted)
            previews.append(rgba_image(frame))
        return tuple(previews)


def latent_rgb(latents: torch.Tensor, size: tuple[int, int], factors: torch.Tensor) -> np.ndarray:
    """(n, height, width, 3) uint8 from (n, C, h, w) latents, resized to `size` (height, width).

    `factors` is the family's (C, 3) projection; a model with another channel count (a tiny model) shows
    its first three channels instead: rough colours, but the job is seen converging.
    """
    if factors.shape[0] == latents.shape[1]:
        rgb = torch.einsum("nchw,cr->nrhw", latents.float(), factors.to(latents.device))
    else:
        rgb = latents[:, :3].float() / 2
    rgb = F.interpolate(rgb, size=size, mode="bilinear", align_corners=False)
    pixels = ((rgb + 1.0) * 127.5).clamp(0, 255).round().to(torch.uint8)
    return pixels.permute(0, 2, 3, 1).cpu().numpy()
