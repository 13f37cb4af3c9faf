"""IP-Adapters in the catalog: the tiny ones are built and registered per family, and a folder laid out as
h94/IP-Adapter is (models/image_encoder + one .safetensors a folder down) is added as an adapter of its family."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from core_server.models import CatalogError, ModelCatalog
from core_server.models.catalog import ADAPTER


def test_the_tiny_adapters_are_registered_with_their_families(catalog: ModelCatalog) -> None:
    adapters = {entry.name: entry.family for entry in catalog.list() if entry.kind == ADAPTER}
    assert adapters == {"tiny-ip-adapter-sd15": "sd15", "tiny-ip-adapter-sdxl": "sdxl", "tiny-flux-redux": "flux"}


def test_an_h94_layout_is_added_as_an_adapter(catalog: ModelCatalog, tmp_path: Path) -> None:
    tiny = catalog.resolve("tiny-ip-adapter-sdxl", ADAPTER).path
    folder = tmp_path / "IP-Adapter"
    shutil.copytree(tiny / "image_encoder", folder / "models" / "image_encoder")
    (folder / "sdxl_models").mkdir()
    shutil.copy(next(tiny.glob("*.safetensors")), folder / "sdxl_models" / "ip-adapter_sdxl_vit-h.safetensors")
    fresh = ModelCatalog(tmp_path / "models")
    entry = fresh.add("my-adapter", folder)
    assert (entry.kind, entry.family) == (ADAPTER, "sdxl")
    with pytest.raises(
        Exception, match=r"is a reference adapter \(IP-Adapter or Flux Redux\), but this task needs an image"
    ):
        fresh.resolve("my-adapter", "image")


def test_an_encoder_without_weights_is_no_adapter(catalog: ModelCatalog, tmp_path: Path) -> None:
    shutil.copytree(catalog.resolve("tiny-ip-adapter-sd15", ADAPTER).path / "image_encoder", tmp_path / "image_encoder")
    with pytest.raises(CatalogError, match="not a causal language model"):
        ModelCatalog(tmp_path / "models").add("half", tmp_path / "image_encoder")
