"""`models pull`: short names, the files a pull needs, and what it does with them — all offline."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import huggingface_hub
import pytest

from core_server.engines.families import FAMILIES
from core_server.models import CatalogError, ModelCatalog
from core_server.models.pulls import CURATED, needed_files, resolve

# The Hub's file list of an SD 1.5 inpainting repo: diffusers parts, full and half copies, pickles, a
# top-level single-file checkpoint, a safety checker cocreate never runs.
SD15_INPAINTING_FILES = [
    "README.md",
    "model_index.json",
    "sd-v1-5-inpainting.ckpt",
    "sd-v1-5-inpainting.safetensors",
    "feature_extractor/preprocessor_config.json",
    "safety_checker/config.json",
    "safety_checker/model.safetensors",
    "scheduler/scheduler_config.json",
    "text_encoder/config.json",
    "text_encoder/model.safetensors",
    "text_encoder/model.fp16.safetensors",
    "text_encoder/pytorch_model.bin",
    "tokenizer/merges.txt",
    "tokenizer/special_tokens_map.json",
    "tokenizer/tokenizer_config.json",
    "tokenizer/vocab.json",
    "unet/config.json",
    "unet/diffusion_pytorch_model.safetensors",
    "unet/diffusion_pytorch_model.fp16.safetensors",
    "unet/diffusion_pytorch_model.non_ema.bin",
    "vae/config.json",
    "vae/diffusion_pytorch_model.safetensors",
    "vae/diffusion_pytorch_model.fp16.safetensors",
]


def test_a_pull_takes_configs_tokenizers_and_one_half_precision_copy_of_each_part() -> None:
    assert needed_files(SD15_INPAINTING_FILES) == [
        "feature_extractor/preprocessor_config.json",
        "model_index.json",
        "scheduler/scheduler_config.json",
        "text_encoder/config.json",
        "text_encoder/model.fp16.safetensors",
        "tokenizer/merges.txt",
        "tokenizer/special_tokens_map.json",
        "tokenizer/tokenizer_config.json",
        "tokenizer/vocab.json",
        "unet/config.json",
        "unet/diffusion_pytorch_model.fp16.safetensors",
        "vae/config.json",
        "vae/diffusion_pytorch_model.fp16.safetensors",
    ]


def test_sharded_weights_are_taken_whole_and_full_precision() -> None:
    files = [
        "model_index.json",
        "text_encoder_3/model-00001-of-00002.safetensors",
        "text_encoder_3/model-00002-of-00002.safetensors",
        "text_encoder_3/model.safetensors.index.json",
        "transformer/diffusion_pytorch_model.safetensors",
    ]
    assert needed_files(files) == sorted(files)


def test_short_names_and_repo_ids() -> None:
    assert resolve("sdxl-inpaint") == ("diffusers/stable-diffusion-xl-1.0-inpainting-0.1", "sdxl-inpaint")
    assert resolve("someone/my-model") == ("someone/my-model", "my-model")
    with pytest.raises(CatalogError, match=r"no short name cocreate knows .*sd15-inpaint"):
        resolve("sd9")
    assert not any("runwayml" in entry.repo for entry in CURATED)  # gone from the Hub
    assert resolve("ip-adapter-sdxl") == ("h94/IP-Adapter", "ip-adapter-sdxl")
    assert all(entry.family in FAMILIES for entry in CURATED)


def test_a_pull_registers_half_precision_parts_under_the_names_diffusers_loads(
    catalog: ModelCatalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fresh = ModelCatalog(tmp_path / "models")
    tiny = catalog.resolve("tiny-image", "image").path
    asked: dict[str, Any] = {}

    def fake_download(repo: str, *, local_dir: Path, allow_patterns: list[str], endpoint: str) -> str:
        asked.update(repo=repo, files=allow_patterns)
        shutil.copytree(tiny, local_dir, dirs_exist_ok=True)
        unet = Path(local_dir) / "unet"
        (unet / "diffusion_pytorch_model.safetensors").rename(unet / "diffusion_pytorch_model.fp16.safetensors")
        return str(local_dir)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_download)
    files = needed_files([str(p.relative_to(tiny)) for p in tiny.rglob("*") if p.is_file()])
    files = [
        f.replace("unet/diffusion_pytorch_model.safetensors", "unet/diffusion_pytorch_model.fp16.safetensors")
        for f in files
    ]
    entry = fresh.pull("stable-diffusion-v1-5/stable-diffusion-inpainting", "sd15-inpaint", files)
    assert asked == {"repo": "stable-diffusion-v1-5/stable-diffusion-inpainting", "files": files}
    assert entry.family == "sd15" and entry.source == "pulled"
    assert (entry.path / "unet" / "diffusion_pytorch_model.safetensors").is_file()
