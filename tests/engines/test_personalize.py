"""Personal LoRAs on the tiny profile: training changes the adapter's weights, the catalog registers the
file, and the engine paints differently with it, and as before without it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import save_file

from core_server.engines.personalize import Example, Training, train_lora
from core_server.models import ModelCatalog
from core_server.models.catalog import LORA, CatalogError
from core_server.tasks import Adapter, Engine, EngineError, InpaintTask, TextureTask
from tests.engines.support import Recorder, disc_mask, load_on_cpu, pixels, random_image


def striped(seed: int) -> np.ndarray:
    """A red picture with blue stripes: a look the random model never paints by itself."""
    picture = np.zeros((64, 64, 4), np.uint8)
    picture[...] = (200, 30, 20, 255)
    picture[seed % 4 :: 8] = (20, 40, 220, 255)
    return picture


@pytest.fixture(scope="module")
def trained(catalog: ModelCatalog, tmp_path_factory: pytest.TempPathFactory) -> Adapter:
    base = catalog.resolve("", "image")
    out = tmp_path_factory.mktemp("lora") / "stripes.safetensors"
    losses: list[float] = []
    examples = [Example(striped(i), "stripes") for i in range(3)]
    training = Training(steps=20, rank=4, learning_rate=1e-2)
    train_lora(base.path, base.config, examples, out, training, on_step=lambda step, loss: losses.append(loss))
    assert len(losses) == 20 and all(np.isfinite(losses))
    entry = catalog.add_personal("stripes", out)
    return Adapter(entry.name, str(entry.path), entry.sha256)


@pytest.fixture(scope="module")
def engine(catalog: ModelCatalog) -> Iterator[Engine]:
    # An engine of its own: the shared one must never hold an adapter.
    engine = load_on_cpu(catalog.resolve("", "image"))
    yield engine
    engine.close()


def paint(engine: Engine, lora: Adapter | None) -> np.ndarray:
    task = InpaintTask(
        random_image(64, 64), disc_mask(64, 64, cx=32, cy=32, radius=20), prompt="stripes", steps=4, lora=lora
    )
    recorder = Recorder()
    return pixels(engine.run(task, (7,), previews=False, emit=recorder, cancel=recorder.token).images[0])


def test_training_moves_the_adapter_weights_and_the_catalog_lists_it(catalog: ModelCatalog, trained: Adapter) -> None:
    with safe_open(trained.path, framework="numpy") as weights:
        ups = [weights.get_tensor(key) for key in list(weights.keys()) if "lora.up" in key or "lora_B" in key]
    # peft starts every up-projection at zero: any non-zero weight was learned.
    assert ups and max(float(np.abs(up).max()) for up in ups) > 0
    entry = next(e for e in catalog.list() if e.name == "stripes")
    assert (entry.kind, entry.source) == (LORA, "personal")
    assert entry.path == catalog.models_dir / "loras" / "stripes.safetensors"


def test_the_adapter_changes_the_output_and_switching_it_off_restores_it(engine: Engine, trained: Adapter) -> None:
    plain = paint(engine, None)
    adapted = paint(engine, trained)
    assert not np.array_equal(plain, adapted)
    assert np.array_equal(paint(engine, trained), adapted), "the same adapter paints the same again"
    assert np.array_equal(paint(engine, None), plain), "without the adapter the model is as it was"


def test_an_adapter_for_another_model_is_a_clear_error(engine: Engine, tmp_path: Path) -> None:
    key = "unet.down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_k.lora"
    foreign = tmp_path / "foreign.safetensors"
    save_file(
        {f"{key}.down.weight": np.ones((4, 999), np.float32), f"{key}.up.weight": np.ones((999, 4), np.float32)},
        str(foreign),
    )
    task = TextureTask(64, 64, prompt="bricks", steps=2, lora=Adapter("foreign", str(foreign), "0" * 64))
    recorder = Recorder()
    with pytest.raises(EngineError, match="does not fit this model"):
        engine.run(task, (1,), previews=False, emit=recorder, cancel=recorder.token)


def test_only_lora_files_register_as_personal(catalog: ModelCatalog, tmp_path: Path) -> None:
    not_lora = tmp_path / "weights.safetensors"
    save_file({"conv.weight": np.ones((2, 2), np.float32)}, str(not_lora))
    with pytest.raises(CatalogError, match="no LoRA weights"):
        catalog.add_personal("mine", not_lora)
    with pytest.raises(CatalogError, match="not a model name"):
        catalog.add_personal("../escape", not_lora)
