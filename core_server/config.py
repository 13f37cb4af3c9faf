"""Where the daemon keeps its files, and the limits every request is held to."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs


@dataclass(frozen=True)
class Limits:
    """What one request may ask for; `cocreate serve --max-…` changes them, ModelStatus reports them."""

    max_side: int = 8192  # pixels, either side of any image
    max_candidates: int = 16
    max_steps: int = 200
    max_new_tokens: int = 2048
    max_text_chars: int = 1_000_000  # a long novel; larger text is refused, not trimmed silently
    max_prompt_chars: int = 10_000
    max_queue: int = 64  # jobs waiting; beyond it RESOURCE_EXHAUSTED

    @property
    def max_message_bytes(self) -> int:
        """The largest message: a max_side² RGBA image, its mask, and room for the other fields."""
        return self.max_side * self.max_side * 5 + 8 * 1024 * 1024


DEFAULT_LIMITS = Limits()


def data_dir() -> Path:
    """The root of everything the daemon stores: $COCREATE_HOME, else the user's data dir."""
    home = os.environ.get("COCREATE_HOME")
    path = Path(home) if home else Path(platformdirs.user_data_dir("cocreate", appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def models_dir() -> Path:
    path = data_dir() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def sessions_dir() -> Path:
    """sessions.db (SQLite, WAL) and blobs/ (content-addressed candidates)."""
    path = data_dir() / "sessions"
    path.mkdir(parents=True, exist_ok=True)
    return path
