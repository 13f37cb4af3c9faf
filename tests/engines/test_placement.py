"""The placement of a large image model, chosen from free VRAM: the choice is checked offline with the real
models' sizes, and fp8 storage runs on the CPU on a tiny transformer."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from diffusers import DiffusionPipeline

from core_server.engines.placement import GIB, PLACEMENT_ENV, Footprint, Placement, apply, choose
from core_server.models import ModelCatalog, tiny_flow
from core_server.tasks import CancelToken, EngineError, InpaintTask
from tests.engines.support import disc_mask, load_on_cpu, random_image

# bfloat16 bytes of the denoiser and of the other parts (VAE, text encoders) of real checkpoints
FLUX_DEV = Footprint(denoiser=int(22.2 * GIB), others=(int(8.9 * GIB), int(0.23 * GIB), int(0.16 * GIB)))
FLUX2_KLEIN_4B = Footprint(denoiser=int(7.2 * GIB), others=(int(7.5 * GIB), int(0.16 * GIB)))
QWEN_IMAGE = Footprint(denoiser=int(38 * GIB), others=(int(15.4 * GIB), int(0.24 * GIB)))
SD15 = Footprint(denoiser=int(1.6 * GIB), others=(int(0.23 * GIB), int(0.16 * GIB)))


@pytest.mark.parametrize(
    ("footprint", "free_gib", "expected"),
    [
        (SD15, 6, Placement.RESIDENT),
        (FLUX2_KLEIN_4B, 24, Placement.RESIDENT),
        (FLUX2_KLEIN_4B, 16, Placement.FP8),
        (FLUX2_KLEIN_4B, 12, Placement.OFFLOAD),
        (FLUX_DEV, 80, Placement.RESIDENT),
        (FLUX_DEV, 24, Placement.FP8),  # 11.1 GiB of fp8 transformer + 9.3 GiB of the rest, 3 GiB kept free
        (FLUX_DEV, 16, Placement.FP8_OFFLOAD),  # the bfloat16 transformer alone does not fit
        (QWEN_IMAGE, 48, Placement.FP8),
        (QWEN_IMAGE, 24, Placement.FP8_OFFLOAD),
        (QWEN_IMAGE, 141, Placement.RESIDENT),
    ],
)
def test_fastest_placement_that_fits(footprint: Footprint, free_gib: float, expected: Placement) -> None:
    assert choose(footprint, int(free_gib * GIB), override="") is expected


def test_cpu_keeps_everything_resident() -> None:
    assert choose(QWEN_IMAGE, None, override="") is Placement.RESIDENT


def test_gguf_transformer_is_never_cast_to_fp8() -> None:
    gguf = Footprint(denoiser=int(12.7 * GIB), others=(int(9.9 * GIB),), can_fp8=False)
    assert choose(gguf, 16 * GIB, override="") is Placement.OFFLOAD
    with pytest.raises(EngineError, match="GGUF"):
        choose(gguf, 16 * GIB, override="fp8")


def test_override_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COCREATE_PLACEMENT", "offload")
    assert choose(SD15, 80 * GIB) is Placement.OFFLOAD
    monkeypatch.setenv("COCREATE_PLACEMENT", "quarter")
    with pytest.raises(EngineError, match=re.escape("resident, fp8, offload, fp8+offload")):
        choose(SD15, 80 * GIB)


def test_describe() -> None:
    assert Placement.RESIDENT.describe() == ""
    assert Placement.FP8_OFFLOAD.describe() == "fp8 weights, cpu offload"


def test_fp8_storage_runs_and_halves_the_weights(tmp_path: Path) -> None:
    tiny_flow.builders()[tiny_flow.TINY_FLUX](tmp_path / "flux")
    pipe = DiffusionPipeline.from_pretrained(tmp_path / "flux", local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    before = sum(p.numel() * p.element_size() for p in pipe.transformer.parameters())
    apply(pipe, "transformer", Placement.FP8, torch.device("cpu"), torch.float32)
    after = sum(p.numel() * p.element_size() for p in pipe.transformer.parameters())
    assert after < before / 2  # float32 → float8 for the linear layers; norms stay
    image = pipe(
        prompt="moss",
        image=torch.rand(1, 3, 64, 64),
        mask_image=torch.ones(1, 1, 64, 64),
        height=64,
        width=64,
        num_inference_steps=2,
        output_type="np",
    ).images
    assert image.shape == (1, 64, 64, 3) and float(image.std()) > 0


def test_offload_needs_a_gpu(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match="CPU"):
        apply(object(), "transformer", Placement.OFFLOAD, torch.device("cpu"), torch.float32)


def test_the_engine_reports_its_placement(catalog: ModelCatalog, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PLACEMENT_ENV, "fp8")
    engine = load_on_cpu(catalog.resolve(tiny_flow.TINY_FLUX2_KLEIN, "image"))
    try:
        assert engine.dtype == "float32, fp8 weights"
        task = InpaintTask(image=random_image(64, 64), mask=disc_mask(64, 64, 32, 32, 16), prompt="moss", steps=2)
        result = engine.run(task, [1], previews=False, emit=lambda event: None, cancel=CancelToken())
        assert result.images[0].width == 64
    finally:
        engine.close()
