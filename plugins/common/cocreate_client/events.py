"""What a running job reports, free of protobuf and of any host API.

A job's events arrive in this order: Accepted, Queued*, (Progress | TextDelta)*, CandidateReady*,
then exactly one of Done or Failed. A personalisation job sends Trained (not candidates) before Done.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .pixels import Image


@dataclass(frozen=True)
class Accepted:
    job_id: str
    turn_id: str
    queue_position: int  # 0 = running now
    seeds: list[int]  # one per candidate
    model: str = ""


@dataclass(frozen=True)
class Queued:
    position: int


@dataclass(frozen=True)
class Progress:
    step: int
    total: int
    previews: list[Image] = field(default_factory=list)  # one small image per candidate, when asked for
    loss: float | None = None  # personalisation: the training loss of this step


@dataclass(frozen=True)
class TextDelta:
    index: int  # which candidate the text belongs to
    text: str


@dataclass(frozen=True)
class CandidateReady:
    index: int
    candidate_id: str
    seed: int
    image: Image | None = None  # image tasks
    text: str | None = None  # text tasks
    sha256: str = ""


@dataclass(frozen=True)
class Trained:
    """A personal LoRA is ready: requests name it as `lora` (see tasks.steered)."""

    lora: str
    pictures: int  # how many kept pictures it learned from
    sha256: str = ""


@dataclass(frozen=True)
class Done:
    turn_id: str
    cancelled: bool
    elapsed_ms: int = 0
    stages: tuple[tuple[str, float], ...] = ()  # the daemon's seconds per stage of the job, in order


@dataclass(frozen=True)
class Failed:
    code: str  # a gRPC status name (INVALID_ARGUMENT, UNAVAILABLE, ...)
    message: str


Event = Accepted | Queued | Progress | TextDelta | CandidateReady | Trained | Done | Failed
