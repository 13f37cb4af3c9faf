"""The size a job paints its region at: the family's native size on a GPU, the region's own on the CPU.

A 256² region painted at SD 1.5's 512² costs about 16× per step; on a GPU that buys quality for little
wait, on the CPU it costs minutes. So on the CPU a region is painted at its own size, kept between the
family's minimum (below it the picture falls apart) and its native size; a request or `serve
--paint-size` may ask otherwise, and a request may cap the longest side.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from core_server.engines.families.family import Family
from core_server.tasks import EngineError, PaintSize, Resolution

PAINT_SIZE_ENV = "COCREATE_PAINT_SIZE"  # auto | region | native: the daemon's default (`serve --paint-size`)


@dataclass(frozen=True)
class Geometry:
    """What one loaded model paints at: longest sides in px, both sides a multiple of `multiple`."""

    native: int
    minimum: int
    multiple: int


def geometry(pipe: Any, family: Family) -> Geometry:
    """Read from the loaded model's config, so a tiny model or a 768² SD 2.x gets its own sizes."""
    config = getattr(pipe, family.denoiser).config
    sample = getattr(pipe, "default_sample_size", None) or config.sample_size
    sample = sample if isinstance(sample, int) else max(sample)
    scale = pipe.vae_scale_factor
    native = sample * scale
    # A UNet halves the latents in each down block but the last; a transformer takes patches of them.
    down = 2 ** (len(config.block_out_channels) - 1) if "block_out_channels" in config else 1
    multiple = scale * max(down, config.get("patch_size") or 1, family.latent_patch)
    minimum = round(family.min_side * native / family.native_side / multiple) * multiple
    return Geometry(native, max(multiple, minimum), multiple)


def paint_size(shape: Geometry, width: int, height: int, resolution: Resolution, device: str) -> tuple[int, int]:
    """(width, height) to paint a width × height region at, keeping its aspect ratio."""
    size = resolution.size if resolution.size is not PaintSize.AUTO else default_paint_size()
    if size is PaintSize.AUTO:
        size = PaintSize.REGION if device == "cpu" else PaintSize.NATIVE
    longest = max(width, height)
    target = shape.native if size is PaintSize.NATIVE else min(shape.native, max(shape.minimum, longest))
    if resolution.max_side:
        target = min(target, resolution.max_side)
    scale = max(target, shape.multiple) / longest
    multiple = shape.multiple
    return (
        max(multiple, round(width * scale / multiple) * multiple),
        max(multiple, round(height * scale / multiple) * multiple),
    )


def default_paint_size() -> PaintSize:
    text = os.environ.get(PAINT_SIZE_ENV, "").strip().lower() or PaintSize.AUTO.value
    try:
        return PaintSize(text)
    except ValueError:
        choices = ", ".join(size.value for size in PaintSize)
        raise EngineError(f"{PAINT_SIZE_ENV}={text!r} is not a paint size; use one of: {choices}.") from None
