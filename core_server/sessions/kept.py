"""What the person kept in a session: the pictures a personal LoRA learns from."""

from __future__ import annotations

from .model import Candidate, Turn
from .store import SessionStore

KEPT = {"accepted", "edited"}


def kept_pictures(store: SessionStore, session_id: str) -> list[tuple[bytes, str]]:
    """Every picture whose latest decision keeps it, as the person left it (PNG bytes), with its turn's
    prompt. Raises NotFound for an unknown session."""
    _, turns = store.session_detail(session_id)
    return [
        (_as_left(store, candidate), _prompt(turn))
        for turn in turns
        for candidate in turn.candidates
        if candidate.kind == "image" and candidate.feedback and candidate.feedback[-1].decision in KEPT
    ]


def _as_left(store: SessionStore, candidate: Candidate) -> bytes:
    for feedback in reversed(candidate.feedback):
        if feedback.final_kind == "image" and feedback.final_sha256:
            return store.read_blob(feedback.final_sha256, "image")
    return store.read_blob(candidate.sha256, "image")


def _prompt(turn: Turn) -> str:
    return str(turn.params.get("prompt") or turn.params.get("style_prompt") or "")
