"""The model catalog and the tiny profile: registering, resolving, refusing, pulling (offline)."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from pathlib import Path

import pytest

from core_server.models import CatalogError, ModelCatalog, PullError, UnknownModel
from core_server.models import catalog as catalog_module
from core_server.models.tiny import ensure_tiny_models
from core_server.tasks import EngineError


@pytest.fixture
def fresh(catalog: ModelCatalog, tmp_path: Path) -> ModelCatalog:
    """A catalog of its own, started from a copy of the session's models folder (tiny models included)."""
    shutil.copytree(catalog.models_dir, tmp_path / "models")
    return ModelCatalog(tmp_path / "models")


@pytest.fixture
def text_folder(catalog: ModelCatalog, tmp_path: Path) -> Path:
    """A transformers folder outside the models dir, as a person would add it."""
    folder = tmp_path / "my text model"
    shutil.copytree(catalog.resolve("tiny-text", "text").path, folder)
    return folder


def test_the_tiny_profile_is_registered_and_default(catalog: ModelCatalog) -> None:
    entries = {entry.name: entry for entry in catalog.list()}
    image, text = entries["tiny-image"], entries["tiny-text"]
    assert (image.kind, image.source, image.is_default) == ("image", "tiny", True)
    assert (text.kind, text.source, text.is_default) == ("text", "tiny", True)
    assert (image.path / "model_index.json").is_file() and (text.path / "config.json").is_file()
    assert len(image.sha256) == 64 and image.sha256 != text.sha256
    stored = json.loads((catalog.models_dir / "models.json").read_text())
    assert stored["defaults"] == {"image": "tiny-image", "text": "tiny-text"}
    assert stored["models"]["tiny-image"]["path"] == "tiny/v1/tiny-image"  # relative: the folder can move


def test_building_the_tiny_profile_twice_changes_nothing(catalog: ModelCatalog) -> None:
    folders = ensure_tiny_models(catalog.models_dir)
    stamps = {name: folder.stat().st_mtime_ns for name, folder in folders.items()}
    assert ensure_tiny_models(catalog.models_dir) == folders
    assert {name: folder.stat().st_mtime_ns for name, folder in folders.items()} == stamps
    assert not [p for p in folders["tiny-image"].parent.iterdir() if p.name.startswith(".")]  # no leftovers


def test_resolve_the_default_a_name_and_the_wrong_kind(catalog: ModelCatalog) -> None:
    assert catalog.resolve("", "image").name == "tiny-image"
    assert catalog.resolve("tiny-text", "text").kind == "text"
    with pytest.raises(EngineError, match="tiny-text is a text model, but this task needs an image model"):
        catalog.resolve("tiny-text", "image")


def test_an_unknown_model_names_the_known_ones_and_the_fix(catalog: ModelCatalog) -> None:
    with pytest.raises(UnknownModel) as raised:
        catalog.resolve("sdxl", "image")
    assert "tiny-image" in str(raised.value) and "cocreate models add" in str(raised.value)
    assert "cocreate models pull" in str(raised.value)
    assert isinstance(raised.value, LookupError)


def test_add_a_folder_then_make_it_the_default(fresh: ModelCatalog, text_folder: Path) -> None:
    entry = fresh.add("my-writer", text_folder)
    assert (entry.kind, entry.source, entry.path) == ("text", "local", text_folder.resolve())
    assert entry.sha256 == fresh.resolve("tiny-text", "text").sha256  # same weights, same hash

    fresh.set_default("text", "my-writer")
    assert fresh.resolve("", "text").name == "my-writer"
    assert ModelCatalog(fresh.models_dir).resolve("", "text").name == "my-writer"  # persisted
    with pytest.raises(CatalogError, match="cannot be the default image model"):
        fresh.set_default("image", "my-writer")

    fresh.remove("my-writer")
    assert fresh.resolve("", "text").name == "tiny-text"
    assert text_folder.is_dir()  # a local model's files are the person's own


def test_add_refuses_a_taken_name(fresh: ModelCatalog, text_folder: Path) -> None:
    fresh.add("writer", text_folder)
    with pytest.raises(CatalogError, match="already a model called writer"):
        fresh.add("writer", text_folder)


@pytest.mark.parametrize("name", ["", "../escape", "a/b", ".hidden", "-dash", "x" * 65, "sp ace", "ümlaut"])
def test_add_refuses_names_that_are_not_names(fresh: ModelCatalog, text_folder: Path, name: str) -> None:
    with pytest.raises(CatalogError, match="not a model name"):
        fresh.add(name, text_folder)


def test_add_refuses_a_missing_path(fresh: ModelCatalog, tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="does not exist"):
        fresh.add("ghost", tmp_path / "nowhere")


def test_add_refuses_pickle_weights(fresh: ModelCatalog, text_folder: Path, tmp_path: Path) -> None:
    checkpoint = tmp_path / "model.ckpt"
    checkpoint.write_bytes(b"\x80\x04pickle")
    with pytest.raises(CatalogError, match="safetensors only"):
        fresh.add("old-style", checkpoint)

    (text_folder / "model.safetensors").rename(text_folder / "pytorch_model.bin")
    with pytest.raises(CatalogError, match="safetensors only"):
        fresh.add("old-folder", text_folder)


def test_add_refuses_folders_cocreate_cannot_run(fresh: ModelCatalog, text_folder: Path, tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="neither a diffusers folder"):
        fresh.add("empty", tmp_path)

    config = json.loads((text_folder / "config.json").read_text())
    (text_folder / "config.json").write_text(json.dumps({**config, "architectures": ["BertModel"]}))
    with pytest.raises(CatalogError, match="not a causal language model"):
        fresh.add("encoder", text_folder)

    image_folder = tmp_path / "kandinsky"
    shutil.copytree(fresh.resolve("tiny-image", "image").path, image_folder)
    index = json.loads((image_folder / "model_index.json").read_text())
    index["_class_name"] = "KandinskyV22Pipeline"  # a family cocreate has no module for
    (image_folder / "model_index.json").write_text(json.dumps(index))
    with pytest.raises(CatalogError, match=r"KandinskyV22Pipeline model; cocreate runs .*Stable Diffusion XL"):
        fresh.add("sdxl", image_folder)


def test_a_single_file_checkpoint_without_local_configs_says_what_is_missing(fresh: ModelCatalog) -> None:
    unet = fresh.resolve("tiny-image", "image").path / "unet" / "diffusion_pytorch_model.safetensors"
    with pytest.raises(CatalogError, match=r"inpainting sd15 \(diffusers, denoiser only\): it has no VAE"):
        fresh.add("single", unet)
    with pytest.raises(CatalogError, match="not a diffusers folder"):
        fresh.add("single", unet, config=unet.parent)


def test_the_hash_is_cached_until_the_weights_change(
    fresh: ModelCatalog, text_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = fresh.add("writer", text_folder).sha256
    hashed = []
    original = catalog_module._sha256
    monkeypatch.setattr(catalog_module, "_sha256", lambda files: hashed.append(files) or original(files))

    assert fresh.resolve("writer", "text").sha256 == first
    assert hashed == []

    with (text_folder / "model.safetensors").open("ab") as weights:
        weights.write(b"\0")
    changed = fresh.resolve("writer", "text").sha256
    assert len(hashed) == 1 and changed != first


def test_concurrent_adds_all_land(fresh: ModelCatalog, text_folder: Path) -> None:
    other = ModelCatalog(fresh.models_dir)  # as if from another process: its own locks' holder
    errors: list[BaseException] = []

    def add(catalog: ModelCatalog, name: str) -> None:
        try:
            catalog.add(name, text_folder)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=add, args=(c, f"writer-{i}")) for i, c in enumerate([fresh, other] * 4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    names = {entry.name for entry in ModelCatalog(fresh.models_dir).list()}
    assert {f"writer-{i}" for i in range(8)} <= names
    assert not [p for p in fresh.models_dir.iterdir() if p.name.startswith(".models.json")]


def test_pull_fails_fast_and_clearly_without_network(fresh: ModelCatalog, monkeypatch: pytest.MonkeyPatch) -> None:
    # Port 9 on loopback refuses at once: nothing leaves this machine.
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    start = time.monotonic()
    with pytest.raises(PullError) as raised:
        fresh.pull("stable-diffusion-v1-5/stable-diffusion-inpainting", name="sd15-inpaint")
    assert time.monotonic() - start < 10
    message = str(raised.value)
    assert "Could not download stable-diffusion-v1-5/stable-diffusion-inpainting" in message
    assert "http://127.0.0.1:9" in message and "cocreate models add" in message
    assert "sd15-inpaint" not in {entry.name for entry in fresh.list()}

    with pytest.raises(CatalogError, match="not a model name"):
        fresh.pull("org/..")


def test_models_json_is_replaced_atomically(fresh: ModelCatalog, text_folder: Path) -> None:
    before = os.stat(fresh.models_dir / "models.json").st_ino
    fresh.add("writer", text_folder)
    assert os.stat(fresh.models_dir / "models.json").st_ino != before  # a new file, renamed over the old


def test_a_failing_first_read_still_registers_the_tiny_profile(catalog: ModelCatalog, tmp_path: Path) -> None:
    shutil.copytree(catalog.models_dir, tmp_path / "models")
    (tmp_path / "models" / "models.json").unlink()
    fresh = ModelCatalog(tmp_path / "models")
    with pytest.raises(UnknownModel):
        fresh.resolve("nope", "image")
    assert {entry.name for entry in fresh.list()} == set(catalog_module.TINY_MODELS)
    assert "tiny-image" in json.loads((tmp_path / "models" / "models.json").read_text())["models"]


def test_a_model_whose_files_are_gone_says_so(fresh: ModelCatalog, text_folder: Path) -> None:
    fresh.add("writer", text_folder)
    shutil.rmtree(text_folder)
    with pytest.raises(EngineError, match="gone"):
        fresh.resolve("writer", "text")


def test_racing_first_builds_agree(catalog: ModelCatalog, tmp_path: Path) -> None:
    results: list[dict[str, Path]] = []
    threads = [threading.Thread(target=lambda: results.append(ensure_tiny_models(tmp_path))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(results) == 2 and results[0] == results[1]
    assert not [p for p in results[0]["tiny-image"].parent.iterdir() if p.name.startswith(".")]
    rebuilt = ModelCatalog(tmp_path)
    for name, kind in (("tiny-image", "image"), ("tiny-text", "text")):
        # Seeded weights: the same files as the session's build, so the same hash.
        assert rebuilt.resolve(name, kind).sha256 == catalog.resolve(name, kind).sha256
