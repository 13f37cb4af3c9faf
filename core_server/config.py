"""Where the daemon keeps its files, and the limits every request is held to."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

# Largest side of any image, and so the largest message: an 8192² RGBA image,
# its 8192² mask and room for the other fields.
MAX_SIDE = 8192
MAX_MESSAGE_BYTES = MAX_SIDE * MAX_SIDE * 5 + 8 * 1024 * 1024
MAX_CANDIDATES = 16
MAX_STEPS = 200
MAX_NEW_TOKENS = 2048
MAX_TEXT_CHARS = 1_000_000  # a long novel; larger text is refused, not trimmed silently
MAX_PROMPT_CHARS = 10_000
MAX_QUEUE = 64


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
