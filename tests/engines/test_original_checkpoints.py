"""Full single-file checkpoints of SD 2.x, SDXL and SD 3.5 in their original layouts, added with no --config
and nothing fetched: the pipeline's configs are written from the file's shapes, and it paints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from transformers import CLIPTokenizer

from core_server.models import CatalogError, ModelCatalog
from tests.engines.support import assert_inpaints_keeping_the_rest
from tests.support.original_checkpoints import write

# kind → (family, what model_index.json names, the UNet's input channels or None for a transformer)
KINDS = {
    "sd2": ("sd15", "StableDiffusionPipeline", 4),
    "sd2-inpainting": ("sd15", "StableDiffusionInpaintPipeline", 9),
    "sdxl": ("sdxl", "StableDiffusionXLPipeline", 4),
    "sdxl-inpainting": ("sdxl", "StableDiffusionXLInpaintPipeline", 9),
    "sdxl-refiner": ("sdxl", "StableDiffusionXLImg2ImgPipeline", 4),
    "sd3": ("sd3", "StableDiffusion3Pipeline", None),
}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("original")


def config_of(folder: Path, part: str) -> dict:
    return json.loads((folder / part).read_text())


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_full_checkpoint_loads_without_config_and_paints(catalog: ModelCatalog, files: Path, kind: str) -> None:
    family, pipeline, in_channels = KINDS[kind]
    entry = catalog.add(f"file-{kind}", write(kind, files / f"{kind}.safetensors"))
    try:
        assert entry.family == family and entry.config is not None
        assert entry.config.is_relative_to(catalog.models_dir / "configs")
        assert config_of(entry.config, "model_index.json")["_class_name"] == pipeline
        if in_channels is not None:
            assert config_of(entry.config, "unet/config.json")["in_channels"] == in_channels
        assert_inpaints_keeping_the_rest(entry, "a red apple")
    finally:
        catalog.remove(f"file-{kind}")


def test_the_open_clip_tokenizer_is_clips_bpe_padded_with_a_bang(catalog: ModelCatalog, files: Path) -> None:
    entry = catalog.add("file-sdxl-tokens", write("sdxl", files / "sdxl.safetensors"))
    try:
        assert entry.config is not None
        first = CLIPTokenizer.from_pretrained(entry.config / "tokenizer", local_files_only=True)
        second = CLIPTokenizer.from_pretrained(entry.config / "tokenizer_2", local_files_only=True)
        assert first("a red apple").input_ids == second("a red apple").input_ids == [49406, 320, 736, 3055, 49407]
        assert (first.pad_token, second.pad_token) == ("<|endoftext|>", "!")
    finally:
        catalog.remove("file-sdxl-tokens")


@pytest.mark.parametrize(
    ("asked", "sidecar", "expected"),
    [
        (None, None, "v_prediction"),  # a plain SD 2.x: 2.0/2.1 768-v, the common ones
        ("epsilon", None, "epsilon"),  # 2.x-base, said on the command line
        (None, 'model:\n  params:\n    parameterization: "v"\n', "v_prediction"),
        (None, "model:\n  params:\n    linear_start: 0.00085\n", "v_prediction"),
        ("v", None, "v_prediction"),
    ],
)
def test_sd2_prediction_comes_from_the_flag_the_sidecar_or_the_default(
    catalog: ModelCatalog, tmp_path: Path, files: Path, asked: str | None, sidecar: str | None, expected: str
) -> None:
    checkpoint = tmp_path / "sd2.safetensors"
    checkpoint.hardlink_to(write("sd2", files / "sd2.safetensors"))
    if sidecar is not None:
        checkpoint.with_suffix(".yaml").write_text(sidecar)
    entry = catalog.add("file-sd2-prediction", checkpoint, prediction=asked)
    try:
        assert entry.config is not None
        assert config_of(entry.config, "scheduler/scheduler_config.json")["prediction_type"] == expected
        assert config_of(entry.config, "unet/config.json")["upcast_attention"] == (expected == "v_prediction")
    finally:
        catalog.remove("file-sd2-prediction")


def test_inpainting_and_sdxl_default_to_epsilon(catalog: ModelCatalog, files: Path) -> None:
    for kind in ("sd2-inpainting", "sdxl"):
        entry = catalog.add(f"file-{kind}-eps", write(kind, files / f"{kind}.safetensors"))
        try:
            assert entry.config is not None
            assert config_of(entry.config, "scheduler/scheduler_config.json")["prediction_type"] == "epsilon"
        finally:
            catalog.remove(f"file-{kind}-eps")


def test_sd35_with_t5_inside_is_refused_naming_what_to_pass(catalog: ModelCatalog, files: Path) -> None:
    with pytest.raises(CatalogError, match=r"T5-XXL.*--config naming a diffusers folder of SD 3\.5 with tokenizer_3/"):
        catalog.add("file-sd3-t5", write("sd3-t5", files / "sd3-t5.safetensors"))


def test_prediction_is_refused_where_it_means_nothing(catalog: ModelCatalog, files: Path) -> None:
    with pytest.raises(CatalogError, match="flow-matching model: it takes no --prediction"):
        catalog.add("file-sd3-v", write("sd3", files / "sd3.safetensors"), prediction="v")
    with pytest.raises(CatalogError, match="--prediction takes epsilon or v"):
        catalog.add("file-sd2-x", write("sd2", files / "sd2.safetensors"), prediction="x0")
