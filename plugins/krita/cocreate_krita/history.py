"""A document's turns as the docker lists them, read from the daemon's session (GetSession)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from cocreate_client.convert import image_from_pb
from cocreate_client.pb import cocreate_pb2 as pb
from cocreate_client.pixels import Image

_DECISIONS = {pb.ACCEPTED: "accepted", pb.REJECTED: "rejected", pb.EDITED: "edited"}


@dataclass(frozen=True)
class CandidateSummary:
    candidate_id: str
    index: int
    seed: int
    thumbnail: Image | None
    decision: str  # the latest feedback: accepted, rejected, edited, or "" for none yet


@dataclass(frozen=True)
class TurnSummary:
    turn_id: str
    parent_id: str
    task: str
    status: str  # completed, cancelled, failed, ...
    params: dict[str, object] = field(default_factory=dict)
    candidates: tuple[CandidateSummary, ...] = ()

    @property
    def prompt(self) -> str:
        return str(self.params.get({"variants": "style_prompt", "edit": "instruction"}.get(self.task, "prompt"), ""))

    @property
    def decision(self) -> str:
        """What the painter did with this turn, in one word."""
        decisions = {c.decision for c in self.candidates}
        for word in ("accepted", "edited"):
            if word in decisions:
                return word
        if self.candidates and decisions == {"rejected"}:
            return "rejected"
        return "open" if self.status == "completed" else self.status


def turns_from_session(detail: pb.SessionDetail) -> list[TurnSummary]:
    """The session's turns, oldest first, with their candidates' thumbnails and decisions."""
    return [_turn(turn) for turn in detail.turns]


def _turn(turn: pb.Turn) -> TurnSummary:
    try:
        params = json.loads(turn.params_json) if turn.params_json else {}
    except ValueError:
        params = {}
    return TurnSummary(
        turn_id=turn.id,
        parent_id=turn.parent_id,
        task=turn.task,
        status=turn.status,
        params=params if isinstance(params, dict) else {},
        candidates=tuple(_candidate(c) for c in turn.candidates),
    )


def _candidate(info: pb.CandidateInfo) -> CandidateSummary:
    latest = max(info.feedback, key=lambda f: f.created_ms, default=None)
    return CandidateSummary(
        candidate_id=info.id,
        index=info.index,
        seed=info.seed,
        thumbnail=image_from_pb(info.thumbnail) if info.HasField("thumbnail") else None,
        decision=_DECISIONS.get(latest.decision, "") if latest else "",
    )


@dataclass
class Branch:
    """A turn in the session's tree, with the turns that grew from it."""

    turn: TurnSummary
    number: int  # 1-based, in the order the turns were made
    children: list[Branch] = field(default_factory=list)


def as_tree(turns: list[TurnSummary]) -> list[Branch]:
    """The turns (oldest first) as the session holds them: each under the turn it grew from."""
    made: dict[str, Branch] = {}
    roots: list[Branch] = []
    for number, turn in enumerate(turns, 1):
        branch = made[turn.turn_id] = Branch(turn, number)
        parent = made.get(turn.parent_id)
        (parent.children if parent is not None else roots).append(branch)
    return roots
