"""Session analytics: pure functions over the store's plain values.

Content distances (text and pixels) are measured elsewhere (core_server.provenance.distance) and
passed in, keyed by feedback id (edits) and turn id (diversity), so this module needs no numpy and
does no I/O. A candidate's decision is its latest feedback; "kept" means accepted or edited.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import fmean

from core_server.sessions.model import Session, Turn


@dataclass(frozen=True)
class TextDistance:
    chars: int  # Levenshtein distance in characters
    words: int  # ... in whitespace-separated words
    char_ratio: float  # chars normalised: 0 = same, 1 = nothing shared
    word_ratio: float


@dataclass(frozen=True)
class ImageDistance:
    pixel: float  # mean absolute difference of premultiplied RGB: 0 = same, 1 = black vs white everywhere
    ssim: float  # structural similarity: 1 = same


Distance = TextDistance | ImageDistance


@dataclass(frozen=True)
class Edit:
    """How far the artifact as the person left it (Feedback.final_*) is from the candidate."""

    feedback_id: str
    candidate_id: str
    turn_id: str
    created_ms: int
    distance: Distance


@dataclass(frozen=True)
class TurnStats:
    turn_id: str
    parent_id: str | None
    created_ms: int
    depth: int  # 1 for a root turn
    status: str
    candidates: int
    accepted: int
    edited: int
    rejected: int
    diversity: float | None  # mean pairwise distance between its candidates, when it has two or more


@dataclass(frozen=True)
class SessionStats:
    session_id: str
    host: str
    document_name: str
    created_ms: int
    turns: int
    tree_depth: int  # the longest root-to-leaf path, in turns
    turns_to_accept: int | None  # turns made up to and including the one first kept from
    branches: int  # leaves of the turn tree
    candidates: int
    decided: int
    accepted: int
    edited: int
    rejected: int
    rejection_rate: float | None  # rejected / decided
    diversity: float | None  # mean over the turns that have one
    timeline: tuple[TurnStats, ...]  # oldest first
    edits: tuple[Edit, ...]  # oldest first


@dataclass(frozen=True)
class Overview:
    sessions: int
    turns: int
    mean_turns_to_accept: float | None  # over sessions that kept something
    mean_tree_depth: float | None  # over sessions with turns
    mean_branches: float | None
    rejection_rate: float | None  # every decision pooled
    mean_diversity: float | None  # every turn with a diversity pooled
    mean_char_ratio: float | None  # every text edit pooled
    mean_word_ratio: float | None
    mean_pixel_distance: float | None  # every image edit pooled
    mean_ssim: float | None


def session_stats(
    session: Session,
    turns: Sequence[Turn],
    distances: Mapping[str, Distance],
    diversity: Mapping[str, float],
) -> SessionStats:
    """`turns` oldest first (as the store gives them); `distances` by feedback id, `diversity` by turn id."""
    depth: dict[str, int] = {}
    parents: set[str] = set()
    timeline = []
    first_keep: tuple[int, int] | None = None  # (feedback time, turn position) of the earliest keep
    edits = []
    for position, turn in enumerate(turns, start=1):
        depth[turn.id] = depth.get(turn.parent_id, 0) + 1 if turn.parent_id else 1
        if turn.parent_id:
            parents.add(turn.parent_id)
        latest = [c.feedback[-1].decision for c in turn.candidates if c.feedback]
        for candidate in turn.candidates:
            for feedback in candidate.feedback:
                if feedback.decision != "rejected":
                    first_keep = min(first_keep or (feedback.created_ms, position), (feedback.created_ms, position))
                if feedback.id in distances:
                    edits.append(Edit(feedback.id, candidate.id, turn.id, feedback.created_ms, distances[feedback.id]))
        timeline.append(
            TurnStats(
                turn_id=turn.id,
                parent_id=turn.parent_id,
                created_ms=turn.created_ms,
                depth=depth[turn.id],
                status=turn.status,
                candidates=len(turn.candidates),
                accepted=latest.count("accepted"),
                edited=latest.count("edited"),
                rejected=latest.count("rejected"),
                diversity=diversity.get(turn.id),
            )
        )
    decided = sum(t.accepted + t.edited + t.rejected for t in timeline)
    rejected = sum(t.rejected for t in timeline)
    return SessionStats(
        session_id=session.id,
        host=session.host,
        document_name=session.document_name,
        created_ms=session.created_ms,
        turns=len(turns),
        tree_depth=max(depth.values(), default=0),
        turns_to_accept=first_keep[1] if first_keep else None,
        branches=sum(1 for turn in turns if turn.id not in parents),
        candidates=sum(t.candidates for t in timeline),
        decided=decided,
        accepted=sum(t.accepted for t in timeline),
        edited=sum(t.edited for t in timeline),
        rejected=rejected,
        rejection_rate=rejected / decided if decided else None,
        diversity=_mean([t.diversity for t in timeline if t.diversity is not None]),
        timeline=tuple(timeline),
        edits=tuple(sorted(edits, key=lambda e: e.created_ms)),
    )


def overview(sessions: Sequence[SessionStats]) -> Overview:
    with_turns = [s for s in sessions if s.turns]
    decided = sum(s.decided for s in sessions)
    texts = [e.distance for s in sessions for e in s.edits if isinstance(e.distance, TextDistance)]
    images = [e.distance for s in sessions for e in s.edits if isinstance(e.distance, ImageDistance)]
    return Overview(
        sessions=len(sessions),
        turns=sum(s.turns for s in sessions),
        mean_turns_to_accept=_mean([s.turns_to_accept for s in sessions if s.turns_to_accept is not None]),
        mean_tree_depth=_mean([s.tree_depth for s in with_turns]),
        mean_branches=_mean([s.branches for s in with_turns]),
        rejection_rate=sum(s.rejected for s in sessions) / decided if decided else None,
        mean_diversity=_mean([t.diversity for s in sessions for t in s.timeline if t.diversity is not None]),
        mean_char_ratio=_mean([d.char_ratio for d in texts]),
        mean_word_ratio=_mean([d.word_ratio for d in texts]),
        mean_pixel_distance=_mean([d.pixel for d in images]),
        mean_ssim=_mean([d.ssim for d in images]),
    )


def _mean(values: Sequence[float]) -> float | None:
    return fmean(values) if values else None
