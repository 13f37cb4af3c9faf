"""Where a large image model's weights live on a GPU, chosen from the free VRAM at load.

Flux.1 (12B), Qwen-Image (20B) or Chroma (9B) in bfloat16 do not fit most artists' GPUs beside their text
encoders. In order of speed:
  resident      every part in VRAM in the compute dtype (what small models always get);
  fp8           the denoiser's weights stored in float8 and cast up layer by layer as it runs
                (diffusers' layerwise casting): half the memory of bfloat16, one cast per layer;
  offload       each part moved into VRAM only while it runs (diffusers' model CPU offload);
  fp8+offload   both.
On the CPU the weights stay in the present bfloat16/float32 rule (engines.devices): resident. A GGUF
transformer is already quantized, so it is never cast to fp8. COCREATE_PLACEMENT overrides the choice.
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass
from typing import Any

from core_server.tasks import EngineError

PLACEMENT_ENV = "COCREATE_PLACEMENT"
GIB = 1 << 30
# Kept free for activations, the VAE decode of a batch and the CUDA context.
RESERVE_BYTES = 3 * GIB
FP8_BYTES = 1


class Placement(enum.Enum):
    RESIDENT = "resident"
    FP8 = "fp8"
    OFFLOAD = "offload"
    FP8_OFFLOAD = "fp8+offload"

    @property
    def fp8(self) -> bool:
        return self in (Placement.FP8, Placement.FP8_OFFLOAD)

    @property
    def offload(self) -> bool:
        return self in (Placement.OFFLOAD, Placement.FP8_OFFLOAD)

    def describe(self) -> str:
        """What models list shows after the dtype; '' when nothing is special."""
        parts = (["fp8 weights"] if self.fp8 else []) + (["cpu offload"] if self.offload else [])
        return ", ".join(parts)


@dataclass(frozen=True)
class Footprint:
    """Bytes each part holds in the compute dtype."""

    denoiser: int
    others: tuple[int, ...]  # VAE, text encoders
    denoiser_element_size: int = 2  # bytes per weight now (bfloat16: 2)
    can_fp8: bool = True  # False for a GGUF-quantized denoiser

    @property
    def total(self) -> int:
        return self.denoiser + sum(self.others)

    @property
    def denoiser_fp8(self) -> int:
        return self.denoiser * FP8_BYTES // self.denoiser_element_size


def choose(footprint: Footprint, free_vram: int | None, override: str | None = None) -> Placement:
    """The fastest placement that fits `free_vram` bytes (None: no GPU, so resident on the CPU)."""
    asked = os.environ.get(PLACEMENT_ENV, "") if override is None else override
    if asked.strip():
        placement = parse(asked)
        if placement.fp8 and not footprint.can_fp8:
            raise EngineError("This model's transformer is GGUF-quantized already; it cannot be stored in fp8 too.")
        return placement
    if free_vram is None:
        return Placement.RESIDENT
    budget = free_vram - RESERVE_BYTES
    others = sum(footprint.others)
    if footprint.total <= budget:
        return Placement.RESIDENT
    if footprint.can_fp8 and footprint.denoiser_fp8 + others <= budget:
        return Placement.FP8
    # Offloaded, the largest part alone must fit; fp8 shrinks the denoiser, usually that part.
    if not footprint.can_fp8 or max(footprint.denoiser, *footprint.others, 0) <= budget:
        return Placement.OFFLOAD
    return Placement.FP8_OFFLOAD


def footprint(pipe: Any, denoiser: str) -> Footprint:
    """What the loaded pipeline's parts hold, read off their parameters."""
    from core_server.engines.devices import memory_bytes

    model = getattr(pipe, denoiser)
    others = [
        module
        for name, module in pipe.components.items()
        if name != denoiser and hasattr(module, "parameters") and hasattr(module, "buffers")
    ]
    first = next(model.parameters())
    return Footprint(
        denoiser=memory_bytes(model),
        others=tuple(memory_bytes(module) for module in others),
        denoiser_element_size=first.element_size(),
        can_fp8=getattr(model, "hf_quantizer", None) is None and first.element_size() > FP8_BYTES,
    )


def parse(text: str) -> Placement:
    try:
        return Placement(text.strip().lower())
    except ValueError:
        choices = ", ".join(placement.value for placement in Placement)
        raise EngineError(f"{PLACEMENT_ENV}={text!r} is not a placement; use one of: {choices}.") from None


def free_vram(device: Any) -> int | None:
    """Free bytes on a CUDA device; None on the CPU."""
    import torch

    if device.type != "cuda":
        return None
    free, _ = torch.cuda.mem_get_info(device)
    return int(free)


def apply(pipe: Any, denoiser: str, placement: Placement, device: Any, compute_dtype: Any) -> None:
    """Put the pipeline (loaded on the CPU) where `placement` says."""
    import torch

    if placement.fp8:
        getattr(pipe, denoiser).enable_layerwise_casting(storage_dtype=torch.float8_e4m3fn, compute_dtype=compute_dtype)
    if placement.offload:
        if device.type != "cuda":
            raise EngineError(f"{placement.value} moves weights in and out of a GPU; this daemon runs on the CPU.")
        pipe.enable_model_cpu_offload(device=device)
    else:
        pipe.to(device)
