"""What steers a new turn, read from the store: the decisions on the path to it and the candidates a
request names (more_like, less_like, interpolate, replay_turn_id)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..sessions.model import Candidate, Turn
from ..sessions.store import InvalidReference, NotFound, SessionStore
from ..tasks import NoiseRecipe
from . import steering


@dataclass(frozen=True)
class Seen:
    """A decided (or named) candidate: where its noise came from, or its text as the person left it."""

    candidate_id: str
    kind: str  # image | text
    recipe: NoiseRecipe
    text: str = ""


@dataclass
class History:
    liked: list[Seen] = field(default_factory=list)  # oldest first
    disliked: list[Seen] = field(default_factory=list)

    def recipes(self, liked: bool) -> list[dict[int, float]]:
        return [dict(seen.recipe) for seen in (self.liked if liked else self.disliked) if seen.kind == "image"]

    def texts(self, liked: bool) -> list[str]:
        return [seen.text for seen in (self.liked if liked else self.disliked) if seen.kind == "text"]

    def record(self) -> dict[str, list[str]]:
        return {"liked": [s.candidate_id for s in self.liked], "disliked": [s.candidate_id for s in self.disliked]}


def resolve(
    store: SessionStore,
    session_id: str,
    parent_turn_id: str | None,
    more_like: tuple[str, ...] = (),
    less_like: tuple[str, ...] = (),
) -> History:
    """Each candidate's latest decision on the path from the root to `parent_turn_id` (a new root turn:
    the whole session), then the named candidates, which count as the newest."""
    _, turns = store.session_detail(session_id)
    by_id = {turn.id: turn for turn in turns}
    path = turns
    if parent_turn_id is not None:
        if parent_turn_id not in by_id:  # unknown, or another session's: refused as start_turn refuses it
            owner = store.get_turn(parent_turn_id).session_id
            raise InvalidReference(f"turn '{parent_turn_id}' belongs to session '{owner}', not '{session_id}'")
        path, turn_id = [], parent_turn_id
        while turn_id is not None:
            path.append(by_id[turn_id])
            turn_id = by_id[turn_id].parent_id
        path.reverse()
    history = History()
    for turn in path:
        for candidate in turn.candidates:
            if candidate.feedback:
                latest = candidate.feedback[-1]
                seen = _seen(store, turn, candidate)
                (history.disliked if latest.decision == "rejected" else history.liked).append(seen)
    candidates = _candidates(turns)
    for ids, into in ((more_like, history.liked), (less_like, history.disliked)):
        for candidate_id in ids:
            turn, candidate = _find(candidates, candidate_id, session_id)
            into.append(_seen(store, turn, candidate))
    return history


def interpolation_sources(store: SessionStore, session_id: str, candidate_ids: tuple[str, ...]) -> list[NoiseRecipe]:
    """The noise each named image candidate of the session started from."""
    _, turns = store.session_detail(session_id)
    candidates = _candidates(turns)
    sources = []
    for candidate_id in candidate_ids:
        turn, candidate = _find(candidates, candidate_id, session_id)
        if candidate.kind != "image":
            raise ValueError(f"interpolate: candidate '{candidate_id}' is a text; only images interpolate")
        sources.append(steering.recipe_of(turn.params, candidate.index, candidate.seed))
    return sources


def replayed_turn(store: SessionStore, session_id: str, turn_id: str) -> Turn:
    turn = store.get_turn(turn_id)
    if turn.session_id != session_id:
        raise NotFound("turn", f"{turn_id}' in session '{session_id}")
    return turn


def _seen(store: SessionStore, turn: Turn, candidate: Candidate) -> Seen:
    text = candidate.text
    # An edit (or an accepted text sent back as the person left it) is what they wanted: learn from that.
    for feedback in reversed(candidate.feedback):
        if feedback.final_kind == "text" and feedback.final_sha256:
            text = store.read_blob(feedback.final_sha256, "text").decode("utf-8")
            break
    return Seen(candidate.id, candidate.kind, steering.recipe_of(turn.params, candidate.index, candidate.seed), text)


def _candidates(turns: list[Turn]) -> dict[str, tuple[Turn, Candidate]]:
    return {candidate.id: (turn, candidate) for turn in turns for candidate in turn.candidates}


def _find(candidates: dict[str, tuple[Turn, Candidate]], candidate_id: str, session_id: str) -> tuple[Turn, Candidate]:
    found = candidates.get(candidate_id)
    if found is None:
        raise NotFound("candidate", f"{candidate_id}' in session '{session_id}")
    return found
