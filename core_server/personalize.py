"""`cocreate personalize`: gather the pictures an artist kept, train a LoRA on them, add it to the catalog.

Runs on the daemon's machine: it reads the session store and writes the adapter into the models folder,
where the daemon finds it by name on the next request (`lora` in GenerateRequest).
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, UnidentifiedImageError

from . import config
from .models.catalog import ModelCatalog, ModelEntry
from .sessions.model import Candidate, Turn
from .sessions.store import NotFound, SessionStore, is_valid_id

if TYPE_CHECKING:
    from .engines.personalize import Training

PICTURE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp"}
KEPT = {"accepted", "edited"}


class NothingToLearn(ValueError):
    """The session or folder holds no picture to train on."""


def personalize(
    source: str,
    name: str,
    *,
    base: str = "",
    prompt: str | None = None,
    training: Training | None = None,
    on_step: Callable[[int, float], None] = lambda step, loss: None,
) -> tuple[ModelEntry, int]:
    """Train LoRA `name` on `source` (a folder of pictures, else a session id) for the image model `base`
    ("" = the default); returns its catalog entry and how many pictures it learned from."""
    # Imported here: the CLI parses and collects without loading torch.
    from .engines.personalize import Example, Training, train_lora

    catalog = ModelCatalog()
    model = catalog.resolve(base, "image")
    folder = Path(source).expanduser()
    pictures = from_folder(folder) if folder.is_dir() else from_session(source)
    examples = [Example(image, prompt if prompt is not None else caption) for image, caption in pictures]
    with tempfile.TemporaryDirectory(dir=catalog.models_dir, prefix=".personalize-") as staging:
        weights = Path(staging) / f"{name}.safetensors"
        train_lora(model.path, model.config, examples, weights, training or Training(), on_step)
        return catalog.add_personal(name, weights), len(examples)


def from_session(session_id: str) -> list[tuple[np.ndarray, str]]:
    """Every picture the artist accepted in the session (as they edited it, if they did), with its prompt."""
    if not is_valid_id(session_id):
        raise NothingToLearn(f"{session_id!r} is neither a folder nor a session id.")
    with SessionStore(config.sessions_dir()) as store:
        try:
            _, turns = store.session_detail(session_id)
        except NotFound:
            raise NothingToLearn(f"There is no folder or session called {session_id!r}.") from None
        pictures = [
            (_kept_picture(store, candidate), _prompt(turn))
            for turn in turns
            for candidate in turn.candidates
            if candidate.kind == "image" and candidate.feedback and candidate.feedback[-1].decision in KEPT
        ]
    if not pictures:
        raise NothingToLearn(f"Session {session_id} has no accepted pictures yet: accept some candidates first.")
    return pictures


def from_folder(folder: Path) -> list[tuple[np.ndarray, str]]:
    """The pictures in the folder (not its subfolders); a picture's caption is its .txt sibling, if any."""
    pictures = []
    for file in sorted(folder.iterdir()):
        if file.suffix.lower() not in PICTURE_SUFFIXES or not file.is_file():
            continue
        caption = file.with_suffix(".txt")
        pictures.append((_read_picture(file.read_bytes(), file.name), caption.read_text() if caption.is_file() else ""))
    if not pictures:
        raise NothingToLearn(f"{folder} holds no pictures ({', '.join(sorted(PICTURE_SUFFIXES))}).")
    return pictures


def _kept_picture(store: SessionStore, candidate: Candidate) -> np.ndarray:
    for feedback in reversed(candidate.feedback):
        if feedback.final_kind == "image" and feedback.final_sha256:
            return _read_picture(store.read_blob(feedback.final_sha256, "image"), candidate.id)
    return _read_picture(store.read_blob(candidate.sha256, "image"), candidate.id)


def _prompt(turn: Turn) -> str:
    return str(turn.params.get("prompt") or turn.params.get("style_prompt") or "")


def _read_picture(data: bytes, what: str) -> np.ndarray:
    try:
        with Image.open(io.BytesIO(data)) as picture:
            return np.asarray(picture.convert("RGBA"))
    except (UnidentifiedImageError, OSError) as error:
        raise NothingToLearn(f"{what} is not a picture PIL can read: {error}") from None
