"""The family table and what each family's tiny model does in the engine: cancel within a step, LoRA."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import diffusers
import numpy as np
import pytest
from diffusers.utils import convert_state_dict_to_diffusers
from peft import LoraConfig
from peft.utils import get_peft_model_state_dict

from core_server.engines.families import FAMILIES, family_named, sdxl
from core_server.engines.image import ImageEngine, pipeline_class_named
from core_server.models import ModelCatalog
from core_server.models.tiny import tiny_name
from core_server.tasks import Adapter, Cancelled, EngineError, InpaintTask
from tests.engines.support import Recorder, disc_mask, load_on_cpu, mask_pixels, pixels, random_image

TASK = InpaintTask(random_image(64, 64, seed=2), disc_mask(64, 64, 32, 32, 16), prompt="a fox", steps=3)


@pytest.fixture(scope="module", params=sorted(FAMILIES))
def engine(request: pytest.FixtureRequest, catalog: ModelCatalog) -> Iterator[ImageEngine]:
    loaded = load_on_cpu(catalog.resolve(tiny_name(FAMILIES[request.param]), "image"))
    assert isinstance(loaded, ImageEngine)
    yield loaded
    loaded.close()


def test_every_family_names_pipelines_diffusers_has() -> None:
    for family in FAMILIES.values():
        for name in (family.pipelines.inpaint, family.pipelines.img2img, family.pipelines.text2img):
            # diffusers' own, or ours built on one (a dotted path)
            assert issubclass(pipeline_class_named(name), diffusers.DiffusionPipeline), f"{family.name}: no {name}"
        assert len(family.latent_rgb) == family.latent_channels
        assert family.min_side <= family.native_side


def test_an_unknown_family_names_the_known_ones() -> None:
    with pytest.raises(EngineError, match="sd15, sdxl, sd3"):
        family_named("kandinsky")


def test_cancel_stops_within_a_step_without_decoding(engine: ImageEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    pipe = engine._pipe
    assert pipe is not None
    decodes: list[int] = []
    monkeypatch.setattr(pipe.vae, "decode", lambda *args, **kwargs: decodes.append(1))
    recorder = Recorder(cancel_after_step=1)
    with pytest.raises(Cancelled):
        engine.run(TASK, (1, 2), previews=True, emit=recorder, cancel=recorder.token)
    assert [step.step for step in recorder.steps] == [1] and not decodes


def _lora_for(engine: ImageEngine, folder: Path) -> Adapter:
    """A random LoRA on the attention projections of the engine's denoiser, saved as diffusers saves one."""
    pipe, family = engine._pipe, engine.family
    assert pipe is not None
    denoiser = getattr(pipe, family.denoiser)
    fresh = type(denoiser).from_config(denoiser.config)
    fresh.add_adapter(LoraConfig(r=4, target_modules=["to_q", "to_k", "to_v", "to_out.0"], init_lora_weights=False))
    layers = convert_state_dict_to_diffusers(get_peft_model_state_dict(fresh))
    type(pipe).save_lora_weights(folder, **{f"{family.denoiser}_lora_layers": layers}, weight_name="lora.safetensors")
    path = folder / "lora.safetensors"
    return Adapter(f"random-{family.name}", str(path), hashlib.sha256(path.read_bytes()).hexdigest())


def test_a_lora_changes_the_candidates_and_goes_again(engine: ImageEngine, tmp_path: Path) -> None:
    def run(adapter: Adapter | None) -> np.ndarray:
        recorder = Recorder()
        task = InpaintTask(TASK.image, TASK.mask, prompt=TASK.prompt, steps=TASK.steps, lora=adapter)
        return pixels(engine.run(task, (4,), previews=False, emit=recorder, cancel=recorder.token).images[0])

    plain = run(None)
    adapted = run(_lora_for(engine, tmp_path))
    keep = mask_pixels(TASK.mask) == 0  # type: ignore[arg-type]
    assert np.array_equal(adapted[keep], plain[keep])
    assert not np.array_equal(adapted, plain)
    assert np.array_equal(run(None), plain)


def test_an_sdxl_inpainting_unet_with_9_channels(catalog: ModelCatalog, tmp_path: Path) -> None:
    sdxl.build_tiny(tmp_path / "sdxl-inpainting", in_channels=9)
    engine = load_on_cpu(catalog.add("sdxl-inpainting", tmp_path / "sdxl-inpainting"))
    try:
        recorder = Recorder()
        result = engine.run(TASK, (1, 2), previews=True, emit=recorder, cancel=recorder.token)
    finally:
        engine.close()
        catalog.remove("sdxl-inpainting")
    keep = mask_pixels(TASK.mask) == 0  # type: ignore[arg-type]
    for candidate in result.images:
        assert np.array_equal(pixels(candidate)[keep], pixels(TASK.image)[keep])
    assert result.images[0].data != result.images[1].data
