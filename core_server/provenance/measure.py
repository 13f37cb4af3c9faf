"""Session analytics from the store: the distances are measured here, the rest is
core_server.sessions.analytics. Blocking (SQLite, PNG decoding, pixel maths): call from a thread."""

from __future__ import annotations

import functools

from ..sessions import analytics
from ..sessions.images import decode_png
from ..sessions.model import Candidate, Session, Turn
from ..sessions.store import SessionStore
from ..tasks import RGBAImage
from .distance import diversity, image_distance, text_distance


def session_report(store: SessionStore, session_id: str) -> analytics.SessionStats:
    session, turns = store.session_detail(session_id)
    return _measure(store, session, turns)


def sessions_report(store: SessionStore, host: str | None, limit: int) -> list[analytics.SessionStats]:
    """The newest `limit` sessions (of `host`, when given), newest first."""
    return [session_report(store, s.id) for s in store.list_sessions(host, None, limit)]


def _measure(store: SessionStore, session: Session, turns: list[Turn]) -> analytics.SessionStats:
    # A candidate is read once, for both its turn's diversity and its edits.
    @functools.cache
    def text(sha256: str) -> str:
        return store.read_blob(sha256, "text").decode("utf-8")

    @functools.cache
    def image(sha256: str) -> RGBAImage:
        return decode_png(store.read_blob(sha256, "image"))

    def content(candidate: Candidate) -> RGBAImage | str:
        return text(candidate.sha256) if candidate.kind == "text" else image(candidate.sha256)

    distances: dict[str, analytics.Distance] = {}
    spread: dict[str, float] = {}
    for turn in turns:
        if len(turn.candidates) >= 2:
            spread[turn.id] = diversity([content(c) for c in turn.candidates])
        for candidate in turn.candidates:
            for f in candidate.feedback:
                # A final of the other kind (a text for a picture) has nothing to be compared with.
                if f.final_sha256 is None or f.final_kind != candidate.kind:
                    continue
                if candidate.kind == "text":
                    distances[f.id] = text_distance(text(candidate.sha256), text(f.final_sha256))
                else:
                    distances[f.id] = image_distance(image(candidate.sha256), image(f.final_sha256))
    return analytics.session_stats(session, turns, distances, spread)
