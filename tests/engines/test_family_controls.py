"""SD 3.5, Qwen-Image and Z-Image ControlNets in the catalog (the tiny ones registered for their kinds, the Hub's
by short name with their licence, a union's kinds from the curated list when its name does not say them) and a
ControlNet made for another size of the transformer refused before it runs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from diffusers import SD3ControlNetModel, StableDiffusion3InpaintPipeline

from core_server.engines import control_steering
from core_server.engines.families import FAMILIES
from core_server.models import ModelCatalog
from core_server.models.catalog import CONTROL
from core_server.models.control_models import QWEN_UNION_KINDS
from core_server.models.control_pulls import curated_kinds, pull_hint
from core_server.models.pulls import resolve
from core_server.tasks import EngineError

QWEN_UNION = "InstantX/Qwen-Image-ControlNet-Union"


def test_the_tiny_controls_are_registered_for_their_kinds(catalog: ModelCatalog) -> None:
    for family, kind, name in (
        ("sd3", "normal", "tiny-control-sd3"),
        ("qwen-image", "depth", "tiny-control-qwen-image"),
        ("z-image", "pose", "tiny-control-z-image"),
    ):
        entry = catalog.control_for(family, kind)
        assert entry is not None and (entry.name, entry.family, entry.union) == (name, family, False)
    assert catalog.control_for("qwen-image", "normal") is None, "InstantX's union reads no normal maps"


def test_short_names_licences_and_hints() -> None:
    assert resolve("sd35-blur") == ("stabilityai/stable-diffusion-3.5-large-controlnet-blur", "sd35-blur")
    assert resolve("qwen-image-union")[0] == QWEN_UNION
    assert curated_kinds("stabilityai/stable-diffusion-3.5-large-controlnet-blur") == ("tile",)
    assert "licence stabilityai-ai-community; for SD 3.5 Large (8B) only" in pull_hint("sd3", "depth")
    assert "Z-Image-Turbo-Fun-Controlnet-Union-2.1 (licence apache-2.0)" in pull_hint("z-image", "canny")


def test_a_pulled_union_is_registered_for_the_kinds_its_card_lists(catalog: ModelCatalog, tmp_path: Path) -> None:
    fresh = ModelCatalog(Path(shutil.copytree(catalog.models_dir, tmp_path / "models")))
    folder = shutil.copytree(catalog.resolve("tiny-control-qwen-image", CONTROL).path, tmp_path / "union")
    added = fresh.add("qwen-image-union", folder, controls=curated_kinds(QWEN_UNION))
    assert (added.family, added.controls) == ("qwen-image", QWEN_UNION_KINDS)


def test_a_controlnet_for_another_transformer_size_is_refused(catalog: ModelCatalog) -> None:
    folder = catalog.resolve("tiny-sd3", "image").path
    pipe = StableDiffusion3InpaintPipeline.from_pretrained(folder, text_encoder_3=None, tokenizer_3=None)
    wider = SD3ControlNetModel(
        num_layers=1,
        attention_head_dim=8,
        num_attention_heads=8,
        joint_attention_dim=64,
        caption_projection_dim=64,
        pooled_projection_dim=64,
        sample_size=16,
    )
    with pytest.raises(EngineError, match=r"transformer 64 wide; this model's is 32 .*SD 3.5 Large"):
        control_steering.pipeline(pipe, FAMILIES["sd3"], [wider.to(torch.float32)])
