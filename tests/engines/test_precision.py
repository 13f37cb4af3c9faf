"""Automatic precision: native bfloat16 detection, the VAE kept in float32, and a bound on the error of a
bfloat16 UNet step against float32 on the tiny profile."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from core_server.engines import devices, load_engine
from core_server.engines.image import ImageEngine
from core_server.engines.precision import Layout, step_error
from core_server.models import ModelCatalog
from core_server.tasks import InpaintTask
from tests.engines.support import Recorder, disc_mask, mask_pixels, pixels, random_image

# bfloat16 keeps 8 bits of mantissa (float32: 24); one step measures 1.1 % on the tiny UNet, 1.3 % on the
# real-size SD1.5 one (bench/speed.py).
MAX_STEP_ERROR = 0.02


@pytest.mark.parametrize(
    ("flags", "native"),
    [("fpu avx512f avx512_bf16 avx512_vnni", True), ("fpu amx_bf16 amx_tile", True), ("fpu avx2 avx512f", False)],
)
def test_native_bf16_is_read_from_the_cpu_flags(tmp_path: Path, flags: str, native: bool) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nflags\t\t: {flags}\n")
    assert devices.cpu_has_native_bf16.__wrapped__(cpuinfo) is native
    assert devices.cpu_has_native_bf16.__wrapped__(tmp_path / "missing") is False


def test_cpu_default_is_bf16_only_where_native(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(devices.DTYPE_ENV, raising=False)
    for native, expected in ((True, torch.bfloat16), (False, torch.float32)):
        monkeypatch.setattr(devices, "cpu_has_native_bf16", lambda native=native: native)
        assert devices.choose_dtype(torch.device("cpu")) == expected
    assert devices.choose_dtype(torch.device("cuda")) == torch.float16
    monkeypatch.setenv(devices.DTYPE_ENV, "float32")  # the user's word wins
    assert devices.choose_dtype(torch.device("cpu")) == torch.float32


def test_layouts_keep_the_vae_in_float32_under_bfloat16_and_say_so() -> None:
    assert Layout.for_dtype(torch.bfloat16) == Layout(torch.bfloat16, torch.float32)
    assert Layout.for_dtype(torch.bfloat16).describe() == "bfloat16 (vae float32)"
    assert Layout.for_dtype(torch.float16).describe() == "float16"
    assert Layout.for_dtype(torch.float32).describe() == "float32"


def test_a_bfloat16_unet_step_stays_close_to_float32(image_engine: ImageEngine) -> None:
    unet = image_engine._pipe.unet  # type: ignore[union-attr]
    error = step_error(unet, torch.bfloat16, (8, 8))
    print(f"\ntiny UNet, one step, bfloat16 vs float32: relative error {error:.4%}")
    assert 0 < error < MAX_STEP_ERROR
    assert unet.dtype == torch.float32  # the shared engine is given back as it was


def test_a_bfloat16_engine_runs_with_its_vae_in_float32(catalog: ModelCatalog, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(devices.DEVICE_ENV, "cpu")
    monkeypatch.setenv(devices.DTYPE_ENV, "bfloat16")
    engine = load_engine(catalog.resolve("", "image"))
    try:
        pipe = engine._pipe  # type: ignore[attr-defined]
        assert (pipe.unet.dtype, pipe.text_encoder.dtype, pipe.vae.dtype) == (
            torch.bfloat16,
            torch.bfloat16,
            torch.float32,
        )
        assert engine.dtype == "bfloat16 (vae float32)"
        image, mask = random_image(64, 64), disc_mask(64, 64, cx=32, cy=32, radius=12)
        recorder = Recorder()
        result = engine.run(
            InpaintTask(image, mask, prompt="a pear", steps=2),
            (1, 2),
            previews=True,
            emit=recorder,
            cancel=recorder.token,
        )
        keep = mask_pixels(mask) == 0
        for candidate in result.images:
            assert np.array_equal(pixels(candidate)[keep], pixels(image)[keep])
    finally:
        engine.close()


def test_attention_runs_through_pytorch_sdpa(image_engine: ImageEngine) -> None:
    """diffusers and transformers pick scaled_dot_product_attention by default; this keeps it so."""
    pipe = image_engine._pipe  # type: ignore[union-attr]
    for model in (pipe.unet, pipe.vae):
        assert {type(p).__name__ for p in model.attn_processors.values()} == {"AttnProcessor2_0"}
    assert pipe.text_encoder.config._attn_implementation == "sdpa"
