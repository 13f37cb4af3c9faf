"""Single-file checkpoints: the family told from tensor names and shapes in each key layout, offline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from transformers import CLIPTokenizer

from core_server.engines.families.detect import Detected, detect
from core_server.models import CatalogError, ModelCatalog
from core_server.tasks import EngineError
from tests.engines.support import assert_inpaints_keeping_the_rest
from tests.support import single_file

# Tiny stand-ins for each layout's marking tensors (only names and the shapes detection reads matter).
VAE_AND_CLIP = {
    "first_stage_model.encoder.conv_in.weight": (8, 3, 3, 3),
    "cond_stage_model.transformer.text_model.embeddings.token_embedding.weight": (16, 8),
}
SD15_INPAINTING = {
    "model.diffusion_model.input_blocks.0.0.weight": (32, 9, 3, 3),
    "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": (32, 768),
    **VAE_AND_CLIP,
}
SD2 = {
    "model.diffusion_model.input_blocks.0.0.weight": (32, 4, 3, 3),
    "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": (32, 1024),
    "first_stage_model.encoder.conv_in.weight": (8, 3, 3, 3),
    "cond_stage_model.model.token_embedding.weight": (16, 8),
}
SDXL = {
    "model.diffusion_model.input_blocks.0.0.weight": (32, 4, 3, 3),
    "model.diffusion_model.label_emb.0.0.weight": (32, 16),
    "conditioner.embedders.0.transformer.text_model.embeddings.token_embedding.weight": (16, 8),
    "first_stage_model.encoder.conv_in.weight": (8, 3, 3, 3),
}
COMFYUI_SDXL_UNET = {
    "diffusion_model.input_blocks.0.0.weight": (32, 9, 3, 3),
    "diffusion_model.label_emb.0.0.weight": (32, 16),
}
SD3 = {
    "model.diffusion_model.joint_blocks.0.context_block.attn.qkv.weight": (96, 32),
    "model.diffusion_model.x_embedder.proj.weight": (32, 16, 2, 2),
    "text_encoders.clip_l.transformer.text_model.embeddings.token_embedding.weight": (16, 8),
    "first_stage_model.encoder.conv_in.weight": (8, 3, 3, 3),
}


def saved(folder: Path, name: str, shapes: dict[str, tuple[int, ...]]) -> Path:
    path = folder / f"{name}.safetensors"
    save_file({key: torch.zeros(shape) for key, shape in shapes.items()}, str(path))
    return path


@pytest.mark.parametrize(
    ("shapes", "expected"),
    [
        (SD15_INPAINTING, Detected("sd15", "original", "SD 1.x inpainting", complete=True)),
        (SD2, Detected("sd15", "original", "SD 2.x", complete=True)),
        (SDXL, Detected("sdxl", "original", "", complete=True)),
        (COMFYUI_SDXL_UNET, Detected("sdxl", "ComfyUI UNet-only", "inpainting", complete=False)),
        (SD3, Detected("sd3", "original", "", complete=True)),
    ],
    ids=["sd15-inpainting", "sd2", "sdxl", "comfyui-sdxl-unet", "sd3"],
)
def test_original_and_comfyui_layouts(tmp_path: Path, shapes: dict, expected: Detected) -> None:
    assert detect(saved(tmp_path, "checkpoint", shapes)) == expected


@pytest.mark.parametrize(
    ("model", "part", "expected"),
    [
        ("tiny-image", "unet", Detected("sd15", "diffusers", "inpainting", complete=False)),
        ("tiny-sdxl", "unet", Detected("sdxl", "diffusers", "", complete=False)),
        ("tiny-sd3", "transformer", Detected("sd3", "diffusers", "", complete=False)),
    ],
)
def test_diffusers_layouts(catalog: ModelCatalog, model: str, part: str, expected: Detected) -> None:
    file = catalog.resolve(model, "image").path / part / "diffusion_pytorch_model.safetensors"
    assert detect(file) == expected


def test_an_unknown_layout_says_what_it_holds(tmp_path: Path) -> None:
    shapes = {"encoder.layer.0.weight": (4, 4), "encoder.layer.1.weight": (4, 4), "head.weight": (2, 4)}
    with pytest.raises(EngineError, match=r"no layout cocreate knows: 3 tensors, mostly under encoder.layer \(2\)"):
        detect(saved(tmp_path, "mystery", shapes))


@pytest.mark.parametrize(
    "content", [b"", b"\x10\x00", b"\xff" * 8 + b"{}", b"\x08\x00\x00\x00\x00\x00\x00\x00notjson!"]
)
def test_a_damaged_file_is_refused_clearly(tmp_path: Path, content: bytes) -> None:
    damaged = tmp_path / "damaged.safetensors"
    damaged.write_bytes(content)
    with pytest.raises(EngineError, match=r"not a readable \.safetensors file"):
        detect(damaged)


def test_the_catalog_refuses_unknown_and_damaged_checkpoints(catalog: ModelCatalog, tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="no layout cocreate knows"):
        catalog.add("mystery", saved(tmp_path, "mystery", {"head.weight": (2, 4)}))
    (tmp_path / "damaged.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00notjson!")
    with pytest.raises(CatalogError, match="not a readable"):
        catalog.add("damaged", tmp_path / "damaged.safetensors")


def test_a_config_of_another_family_is_refused(catalog: ModelCatalog) -> None:
    unet = catalog.resolve("tiny-sdxl", "image").path / "unet" / "diffusion_pytorch_model.safetensors"
    with pytest.raises(CatalogError, match=r"describes a Stable Diffusion 1\.x/2\.x; give a folder of the same family"):
        catalog.add("mixed", unet, config=catalog.resolve("tiny-image", "image").path)


@pytest.mark.parametrize(("model", "part"), [("tiny-sdxl", "unet"), ("tiny-sd3", "transformer")])
def test_a_denoiser_file_with_its_familys_folder_loads_offline_and_paints(
    catalog: ModelCatalog, model: str, part: str
) -> None:
    folder = catalog.resolve(model, "image").path
    entry = catalog.add(f"single-{model}", folder / part / "diffusion_pytorch_model.safetensors", config=folder)
    try:
        assert entry.family == model.removeprefix("tiny-")
        assert_inpaints_keeping_the_rest(entry)
    finally:
        catalog.remove(f"single-{model}")


def test_a_full_sd15_checkpoint_needs_no_config_and_nothing_is_fetched(catalog: ModelCatalog, tmp_path: Path) -> None:
    tiny = catalog.resolve("tiny-image", "image").path
    entry = catalog.add("sd15-file", single_file.write(tiny, tmp_path / "sd15-inpainting.safetensors"))
    try:
        assert entry.family == "sd15" and entry.config is not None
        assert entry.config.is_relative_to(catalog.models_dir / "configs")
        unet = json.loads((entry.config / "unet" / "config.json").read_text())
        assert unet["in_channels"] == 9  # the inpainting variant, from the checkpoint's first convolution
        tokenizer = CLIPTokenizer.from_pretrained(entry.config / "tokenizer", local_files_only=True)
        assert tokenizer("a red apple").input_ids == [49406, 320, 736, 3055, 49407]  # CLIP's own ids
    finally:
        catalog.remove("sd15-file")
