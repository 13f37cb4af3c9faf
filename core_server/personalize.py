"""`cocreate personalize FOLDER`: train a LoRA on a folder of pictures in this process, add it to the catalog.

A session's kept pictures are trained by the daemon instead (the Personalize RPC): it holds the store.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from .models.catalog import ModelCatalog, ModelEntry
from .tasks import CancelToken, EngineEvent, PersonalizeTask, Training

PICTURE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp"}


class NothingToLearn(ValueError):
    """The folder holds no picture to train on."""


def personalize_folder(
    folder: Path,
    name: str,
    *,
    base: str = "",
    prompt: str | None = None,
    training: Training,
    emit: Callable[[EngineEvent], None] = lambda event: None,
) -> tuple[ModelEntry, int]:
    """Train LoRA `name` on the pictures in `folder` for the image model `base` ("" = the default), with
    `training`; returns its catalog entry and how many pictures it learned from."""
    # Imported here: the CLI parses and collects without loading torch.
    from .engines import train_lora

    catalog = ModelCatalog()
    model = catalog.resolve(base, "image")
    pictures = tuple((data, prompt if prompt is not None else caption) for data, caption in from_folder(folder))
    with tempfile.TemporaryDirectory(dir=catalog.models_dir, prefix=".personalize-") as staging:
        weights = Path(staging) / f"{name}.safetensors"
        train_lora(model, PersonalizeTask(pictures, str(weights), training), emit, CancelToken())
        return catalog.add_personal(name, weights), len(pictures)


def from_folder(folder: Path) -> list[tuple[bytes, str]]:
    """The pictures in the folder (not its subfolders); a picture's caption is its .txt sibling, if any."""
    pictures = []
    for file in sorted(folder.iterdir()):
        if file.suffix.lower() not in PICTURE_SUFFIXES or not file.is_file():
            continue
        caption = file.with_suffix(".txt")
        pictures.append((file.read_bytes(), caption.read_text() if caption.is_file() else ""))
    if not pictures:
        raise NothingToLearn(f"{folder} holds no pictures ({', '.join(sorted(PICTURE_SUFFIXES))}).")
    return pictures
