"""What the flow-matching transformer families share: packed latents unpacked for previews, and the reason
they refuse seamless tiling."""

from __future__ import annotations

from typing import Any

from core_server.engines.families.family import SEAMLESS, Family

NO_SEAMLESS = (
    "its transformer attends across the whole picture and has no padded convolutions to wrap around, "
    "so opposite edges would not meet"
)

# ComfyUI's Flux.1 latent → RGB factors (comfy/latent_formats.py); Flux.1, Chroma and Z-Image share the VAE.
FLUX_LATENT_RGB = (
    (-0.0346, 0.0244, 0.0681),
    (0.0034, 0.0210, 0.0687),
    (0.0275, -0.0668, -0.0433),
    (-0.0174, 0.0160, 0.0617),
    (0.0859, 0.0721, 0.0329),
    (0.0004, 0.0383, 0.0115),
    (0.0405, 0.0861, 0.0915),
    (-0.0236, -0.0185, -0.0259),
    (-0.0245, 0.0250, 0.1180),
    (0.1008, 0.0755, -0.0421),
    (-0.0515, 0.0201, 0.0011),
    (0.0428, -0.0012, -0.0036),
    (0.0817, 0.0765, 0.0749),
    (-0.1264, -0.0522, -0.1103),
    (-0.0280, -0.0881, -0.0499),
    (-0.1262, -0.0982, -0.0778),
)


def unpack_2x2(pipe: Any, latents: Any, height: int, width: int) -> Any:
    """(n, C, h, w) latents from a packing transformer's (n, tokens, 4C): each token is a 2×2 cell of the
    latent grid, its channels ordered (C, row, column) as Flux, Flux.2 and Qwen-Image pack them. A model
    that keeps latents as a grid (Z-Image) passes through; a frame axis (Qwen-Image's video VAE) goes."""
    if latents.dim() == 5:
        return latents[:, :, 0]
    if latents.dim() == 4:
        return latents
    rows, columns = height // pipe.vae_scale_factor // 2, width // pipe.vae_scale_factor // 2
    count, _, packed = latents.shape
    latents = latents[:, : rows * columns]  # image tokens first; reference-image tokens may follow
    cells = latents.reshape(count, rows, columns, packed // 4, 2, 2)
    return cells.permute(0, 3, 1, 4, 2, 5).reshape(count, packed // 4, rows * 2, columns * 2)


def without_negative_prompt(options: dict[str, Any]) -> dict[str, Any]:
    """For pipelines with no negative prompt (guidance distilled into the model, or none at all)."""
    return {key: value for key, value in options.items() if key != "negative_prompt"}


def prepare(pipe: Any) -> None:
    """The native size from the VAE. The pipelines assume 128 latent cells (1024 px at the real 8× VAE); a
    VAE that states the size it was trained at says better (the same 1024 for real checkpoints; the tiny
    profile's 64)."""
    sample_size = pipe.vae.config.get("sample_size")
    if isinstance(sample_size, int):
        pipe.default_sample_size = sample_size // pipe.vae_scale_factor


def family(**differences: Any) -> Family:
    """A flow-matching transformer family: what they all share (a transformer on 2×2-patched latents, 1024²
    native and 512² minimum, no seamless tiling, `prepare`), with what differs given by the module."""
    shared: dict[str, Any] = {
        "denoiser": "transformer",
        "load_options": {},
        "native_side": 1024,
        "min_side": 512,
        "latent_patch": 2,
        "refuses": {SEAMLESS: NO_SEAMLESS},
        "prepare": prepare,
    }
    return Family(**{**shared, **differences})
