"""Sessions as the rest of the daemon sees them: plain values, no SQL, no protobuf.

The store returns these; the service layer converts them to the wire types.
Absent references and times are None here (the proto spells them "" and 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["image", "text"]
Status = Literal["running", "completed", "cancelled", "failed", "interrupted"]
Decision = Literal["accepted", "rejected", "edited"]

# How a turn may end when the daemon finishes it; "interrupted" is only set at start-up.
FINISHED: frozenset[str] = frozenset({"completed", "cancelled", "failed"})
DECISIONS: frozenset[str] = frozenset({"accepted", "rejected", "edited"})


@dataclass(frozen=True)
class Session:
    id: str
    host: str
    document_id: str
    document_name: str
    created_ms: int
    turn_count: int = 0
    forked_from_turn_id: str | None = None
    identity: str = ""  # who created it (service.identity); '' before identities were recorded


@dataclass(frozen=True)
class Feedback:
    id: str
    candidate_id: str
    decision: Decision
    created_ms: int
    note: str = ""
    final_kind: Kind | None = None  # the artifact as the person left it, if they sent one
    final_sha256: str | None = None


@dataclass(frozen=True)
class Candidate:
    id: str
    turn_id: str
    index: int
    seed: int
    kind: Kind
    sha256: str  # of the stored file: PNG bytes for images, UTF-8 for texts
    width: int = 0  # images only
    height: int = 0
    text: str = ""  # texts only
    feedback: tuple[Feedback, ...] = ()  # oldest first


@dataclass(frozen=True)
class Turn:
    id: str
    session_id: str
    parent_id: str | None
    task: str
    params: dict[str, Any]  # every request parameter, pixels left out; JSON types
    seeds: tuple[int, ...]
    model: str
    model_sha256: str
    status: Status
    created_ms: int
    finished_ms: int | None = None  # None while running, and when a crash interrupted it
    candidates: tuple[Candidate, ...] = ()  # by index
    identity: str = ""  # who asked for it (service.identity)


@dataclass(frozen=True)
class ProvenanceRecord:
    """The signed file kept when a candidate was accepted or edited (see core_server.provenance)."""

    feedback_id: str
    candidate_id: str
    media_type: str  # image/png, or application/json: a text's C2PA sidecar
    sha256: str  # of the signed file, in blobs/
    created_ms: int
