"""A long made-up manuscript, and how much a session database holds, for the context-storage tests."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

WORDS = ("the", "harbour", "was", "quiet", "in", "early", "morning", "she", "walked", "along", "pier", "counted")


def manuscript(pages: int, seed: int = 0) -> str:
    """About 2,800 characters a page, in paragraphs of a few hundred."""
    rng = random.Random(seed)
    paragraphs = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(40, 120))) for _ in range(pages * 6)]
    return "\n".join(paragraphs)


def stored_bytes(root: Path) -> int:
    """The size of sessions.db under `root` as SQLite counts it (pages in use, WAL included)."""
    with sqlite3.connect(f"file:{root / 'sessions.db'}?mode=ro", uri=True) as db:
        return db.execute("PRAGMA page_count").fetchone()[0] * db.execute("PRAGMA page_size").fetchone()[0]
