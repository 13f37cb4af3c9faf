"""Full single-file checkpoints of SD 2.x, SDXL and SD 3.5 (with T5-XXL or without) in their original layouts,
and ComfyUI's all-in-one Flux.1 and Chroma files, added with no --config and nothing fetched: the pipeline's
configs are written from the file's shapes, the tokenizers (CLIP's, T5's) come with the package, and it paints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import AutoTokenizer, CLIPTokenizer

from core_server.models import CatalogError, ModelCatalog
from tests.engines.support import assert_inpaints_keeping_the_rest, load_on_cpu
from tests.support.original_checkpoints import T5_VOCAB, T5_XXL, write

# kind → (family, what model_index.json names, the UNet's input channels or None for a transformer)
KINDS = {
    "sd2": ("sd15", "StableDiffusionPipeline", 4),
    "sd2-inpainting": ("sd15", "StableDiffusionInpaintPipeline", 9),
    "sdxl": ("sdxl", "StableDiffusionXLPipeline", 4),
    "sdxl-inpainting": ("sdxl", "StableDiffusionXLInpaintPipeline", 9),
    "sdxl-refiner": ("sdxl", "StableDiffusionXLImg2ImgPipeline", 4),
    "sd3": ("sd3", "StableDiffusion3Pipeline", None),
    "sd3-t5": ("sd3", "StableDiffusion3Pipeline", None),
    "flux-all-in-one": ("flux", "FluxPipeline", None),
    "chroma-all-in-one": ("chroma", "ChromaPipeline", None),
}
# where each file's T5 goes in its pipeline
T5_PARTS = {"sd3-t5": "text_encoder_3", "flux-all-in-one": "text_encoder_2", "chroma-all-in-one": "text_encoder"}


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


@pytest.mark.parametrize("kind", sorted(T5_PARTS))
def test_t5_gets_google_t5_v1_1_tokenizer_and_a_config_from_its_shapes(
    catalog: ModelCatalog, files: Path, kind: str
) -> None:
    entry = catalog.add(f"file-{kind}-t5", write(kind, files / f"{kind}.safetensors"))
    try:
        assert entry.config is not None
        part = T5_PARTS[kind]
        tokenizer = AutoTokenizer.from_pretrained(entry.config / part.replace("text_encoder", "tokenizer"))
        assert len(tokenizer) == 32100 and (tokenizer.pad_token_id, tokenizer.eos_token_id) == (0, 1)
        assert tokenizer.unk_token_id == 2 and tokenizer.convert_tokens_to_ids("<extra_id_0>") == 32099
        assert tokenizer("Hello world").input_ids == [8774, 296, 1]  # T5's own ids
        t5 = config_of(entry.config, f"{part}/config.json")
        assert (t5["vocab_size"], t5["num_layers"], t5["feed_forward_proj"]) == (T5_VOCAB, 2, "gated-gelu")
    finally:
        catalog.remove(f"file-{kind}-t5")


def test_the_pipeline_holds_the_files_own_t5_and_vae(catalog: ModelCatalog, files: Path) -> None:
    checkpoint = write("flux-all-in-one", files / "flux-all-in-one.safetensors")
    entry = catalog.add("file-flux-weights", checkpoint)
    engine = load_on_cpu(entry)
    try:
        pipe, weights = engine._pipe, load_file(checkpoint)  # type: ignore[attr-defined]
        shared = weights[T5_XXL + "shared.weight"].float()
        assert torch.equal(pipe.text_encoder_2.shared.weight, shared)
        assert torch.equal(pipe.text_encoder_2.encoder.embed_tokens.weight, shared)  # tied, as T5 reads it
        assert torch.equal(pipe.vae.encoder.conv_in.weight, weights["vae.encoder.conv_in.weight"].float())
    finally:
        engine.close()
        catalog.remove("file-flux-weights")


def test_an_all_in_one_file_in_fp8_loads_and_paints(catalog: ModelCatalog, files: Path) -> None:
    """Comfy-Org's Flux.1 checkpoints store their weights in float8 (e4m3fn): each part is cast up on loading."""
    entry = catalog.add("file-flux-fp8", write("flux-all-in-one", files / "flux-fp8.safetensors", torch.float8_e4m3fn))
    try:
        assert entry.family == "flux"
        assert_inpaints_keeping_the_rest(entry, "a red apple")
    finally:
        catalog.remove("file-flux-fp8")


@pytest.mark.parametrize("kind", ["sd3-t5", "flux-all-in-one"])
def test_a_t5_missing_its_blocks_is_refused_naming_what_lacks(
    catalog: ModelCatalog, files: Path, tmp_path: Path, kind: str
) -> None:
    whole = load_file(write(kind, files / f"{kind}.safetensors"))
    damaged = tmp_path / f"{kind}-damaged.safetensors"
    save_file({k: v for k, v in whole.items() if not k.startswith(T5_XXL + "encoder.")}, damaged)
    with pytest.raises(CatalogError, match=r"lacks tensors (its config is|their configs are) read from"):
        catalog.add(f"file-{kind}-damaged", damaged)


def test_prediction_is_refused_where_it_means_nothing(catalog: ModelCatalog, files: Path) -> None:
    with pytest.raises(CatalogError, match="flow-matching model: it takes no --prediction"):
        catalog.add("file-sd3-v", write("sd3", files / "sd3.safetensors"), prediction="v")
    with pytest.raises(CatalogError, match="--prediction takes epsilon or v"):
        catalog.add("file-sd2-x", write("sd2", files / "sd2.safetensors"), prediction="x0")
