"""Which daemon candidate a layer holds, and what keeping one of them tells the daemon.

Every candidate layer carries a tag (a persistent parasite, so it is saved with the XCF): the candidate's
id, and the turn (one job) that made it. Layers of the same turn are siblings: keeping one accepts it and
rejects the siblings still in the image. Plain data, no GIMP: document.py attaches and reads the parasite.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, TypeVar

PARASITE = "cocreate-candidate"
NOT_A_CANDIDATE = (
    "cocreate: choose a cocreate candidate layer (one that Expand Canvas, Fill Selection or Variants made), "
    "then run Keep This Candidate on it."
)

Decision = Literal["accepted", "rejected"]
L = TypeVar("L")


@dataclass(frozen=True)
class Tag:
    candidate_id: str
    turn_id: str  # the turn (job) that made it; its siblings share it
    job_id: str = ""  # the daemon's job, for the rare answer without a turn id
    index: int = 0  # the candidate's place in its job

    @property
    def group(self) -> str:
        """What the siblings of this candidate share."""
        return f"turn:{self.turn_id}" if self.turn_id else f"job:{self.job_id}" if self.job_id else ""

    def encode(self) -> bytes:
        return json.dumps(
            {"candidate": self.candidate_id, "turn": self.turn_id, "job": self.job_id, "index": self.index},
            separators=(",", ":"),
        ).encode()

    @classmethod
    def decode(cls, data: bytes) -> Tag | None:
        """The tag a parasite holds; None for anything that is not one (another plug-in's, a damaged file)."""
        try:
            fields = json.loads(bytes(data).decode())
        except (UnicodeDecodeError, ValueError):
            return None
        if not isinstance(fields, dict):
            return None
        candidate, turn, job, index = (fields.get(key) for key in ("candidate", "turn", "job", "index"))
        if not isinstance(candidate, str) or not candidate:
            return None
        return cls(
            candidate,
            turn if isinstance(turn, str) else "",
            job if isinstance(job, str) else "",
            index if isinstance(index, int) else 0,
        )


def choose(kept: Tag, layers: Iterable[tuple[L, Tag]]) -> tuple[list[tuple[str, Decision]], list[L]]:
    """The artist keeps `kept`: the decisions for the daemon (accepted first), and the sibling layers to remove.

    `layers` are the image's candidate layers with their tags; a layer holding the kept candidate itself
    (a duplicate) is neither rejected nor removed.
    """
    decisions: list[tuple[str, Decision]] = [(kept.candidate_id, "accepted")]
    siblings: list[L] = []
    rejected: set[str] = set()
    for layer, tag in layers:
        if not kept.group or tag.group != kept.group or tag.candidate_id == kept.candidate_id:
            continue
        siblings.append(layer)
        if tag.candidate_id not in rejected:
            rejected.add(tag.candidate_id)
            decisions.append((tag.candidate_id, "rejected"))
    return decisions, siblings
