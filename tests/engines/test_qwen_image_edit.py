"""Qwen-Image-Edit on its tiny model: diffusers' edit-inpaint pipeline paints at the size it is asked for (it
paints about 1024² otherwise), loads without torchvision, and recognises the 2509/2511 (Plus) folders; a lone
transformer file, shaped as Qwen-Image's, becomes Qwen-Image-Edit by its --config folder; the pull name."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from diffusers.pipelines.qwenimage import pipeline_qwenimage_edit_inpaint
from safetensors.torch import load_file, save_file

from core_server.engines.families import family_of_folder
from core_server.models import CatalogError, ModelCatalog
from core_server.models.flow_checkpoints import COMFY_PREFIX, TransformerCheckpoint, detect, tensor_shapes
from core_server.models.pulls import needed_files, resolve
from core_server.tasks import CancelToken, EditTask, Engine, EngineError, Reference, VariantsTask
from tests.engines.support import disc_mask, load_on_cpu, random_image

TINY = "tiny-qwen-image-edit"


@pytest.fixture(scope="module")
def engine(catalog: ModelCatalog) -> Iterator[Engine]:
    loaded = load_on_cpu(catalog.resolve(TINY, "image"))
    yield loaded
    loaded.close()


def plus_folder(catalog: ModelCatalog, tmp_path: Path) -> Path:
    """The tiny model laid out as a 2509/2511 release: the same parts under QwenImageEditPlusPipeline."""
    folder = tmp_path / "plus"
    shutil.copytree(catalog.resolve(TINY, "image").path, folder)
    index = json.loads((folder / "model_index.json").read_text())
    (folder / "model_index.json").write_text(json.dumps({**index, "_class_name": "QwenImageEditPlusPipeline"}))
    return folder


def test_the_pipeline_paints_at_the_size_asked_for(engine: Engine) -> None:
    pipe = engine._pipe
    picture = torch.rand(1, 3, 80, 48)
    output = pipe(
        image=picture,
        mask_image=torch.ones(1, 1, 80, 48),
        prompt="make it night",
        height=80,
        width=48,
        strength=1.0,
        num_inference_steps=1,
        output_type="np",
    )
    assert output.images.shape == (1, 80, 48, 3)
    # outside a call, diffusers' own sizing (about 1024² at the picture's aspect)
    assert pipeline_qwenimage_edit_inpaint.calculate_dimensions(1024 * 1024, 1.0)[:2] == (1024, 1024)


def test_an_edit_of_a_region_reports_the_size_it_painted(engine: Engine) -> None:
    task = EditTask(image=random_image(160, 96), mask=disc_mask(160, 96, 100, 40, 14), instruction="snow", steps=2)
    painted = []
    result = engine.run(task, [1], previews=False, emit=lambda e: painted.append(e.painted), cancel=CancelToken())
    assert result.images[0].width == 160
    assert set(painted) == {result.painted} and max(result.painted) <= 64


def test_a_reference_picture_goes_through_the_plus_pipeline_at_the_painted_size(engine: Engine) -> None:
    picture, mask = random_image(64, 64), disc_mask(64, 64, 32, 32, 16)
    references = (Reference(random_image(48, 48, seed=5)),)
    sizes = []
    original = engine._pipe.vae.encode

    def encode(pixels: torch.Tensor, *args: object, **kwargs: object) -> object:
        sizes.append(tuple(pixels.shape[-2:]))
        return original(pixels, *args, **kwargs)

    engine._pipe.vae.encode = encode
    try:
        task = EditTask(image=picture, mask=mask, instruction="in its style", steps=2, references=references)
        first = engine.run(task, [4], previews=False, emit=lambda e: None, cancel=CancelToken())
        again = engine.run(task, [4], previews=False, emit=lambda e: None, cancel=CancelToken())
    finally:
        engine._pipe.vae.encode = original
    assert first.images[0].data == again.images[0].data
    assert sizes and set(sizes) == {(64, 64)}, "each picture encoded at the painted size, not about 1024²"
    variants = VariantsTask(image=picture, strength=0.5, steps=2, references=references)
    with pytest.raises(EngineError, match="not for variants"):
        engine.run(variants, [4], previews=False, emit=lambda e: None, cancel=CancelToken())


def test_a_plus_folder_is_this_family_and_names_its_picture(catalog: ModelCatalog, tmp_path: Path) -> None:
    folder = plus_folder(catalog, tmp_path)
    assert family_of_folder(folder).name == "qwen-image-edit"
    entry = catalog.add("plus", folder)
    try:
        assert entry.family == "qwen-image-edit"
        plus = load_on_cpu(entry)
        try:
            assert "Picture 1: <|vision_start|>" in plus._pipe.prompt_template_encode
            task = EditTask(image=random_image(64, 64), instruction="make it night", steps=1)
            result = plus.run(task, [2], previews=False, emit=lambda e: None, cancel=CancelToken())
            assert result.images[0].data != task.image.data
        finally:
            plus.close()
    finally:
        catalog.remove("plus")


def test_a_lone_transformer_is_qwen_image_edit_by_its_config_folder(catalog: ModelCatalog, tmp_path: Path) -> None:
    base = catalog.resolve(TINY, "image").path
    state = load_file(next((base / "transformer").glob("*.safetensors")))
    file = tmp_path / "qwen_image_edit_2509.safetensors"
    save_file({COMFY_PREFIX + key: tensor for key, tensor in state.items()}, file)
    by_config = catalog.add("edit-file", file, config=base)
    guessed = catalog.add("plain-file", file)  # the shapes alone say Qwen-Image
    try:
        assert (by_config.family, by_config.config) == ("qwen-image-edit", base)
        assert guessed.family == "qwen-image"
        engine = load_on_cpu(by_config)
        try:
            task = EditTask(image=random_image(64, 64), instruction="make it night", steps=1)
            assert engine.run(task, [3], previews=False, emit=lambda e: None, cancel=CancelToken()).images
        finally:
            engine.close()
    finally:
        catalog.remove("edit-file")
        catalog.remove("plain-file")
    empty = ModelCatalog(tmp_path / "models")
    with pytest.raises(CatalogError, match=r"Qwen-Image-Edit transformer has these names.*--config"):
        empty._flow_base({"models": {}}, file, _detected(file), None)
    with pytest.raises(CatalogError, match=r"not a diffusers folder of a Qwen-Image or Qwen-Image-Edit model"):
        empty._flow_base({"models": {}}, file, _detected(file), tmp_path)


def _detected(file: Path) -> TransformerCheckpoint:
    found = detect(tensor_shapes(file))
    assert found is not None
    return found


def test_the_pull_name_takes_the_processor_along() -> None:
    assert resolve("qwen-image-edit") == ("Qwen/Qwen-Image-Edit-2509", "qwen-image-edit")
    files = [
        "model_index.json",
        "processor/preprocessor_config.json",
        "processor/tokenizer.json",
        "processor/chat_template.jinja",
        "text_encoder/model-00001-of-00002.safetensors",
        "text_encoder/model-00002-of-00002.safetensors",
        "transformer/diffusion_pytorch_model.safetensors",
    ]
    assert needed_files(files) == sorted(files)
