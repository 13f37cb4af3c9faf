"""What the panel shows, as plain data, and how a job's events change it. No UNO here."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Literal

from cocreate_client import Accepted, CandidateReady, Done, Event, Failed, Queued, TextDelta

from .shape import as_inserted, shaped_rewrite

Phase = Literal["idle", "starting", "streaming", "ready", "failed", "cancelled", "picked", "rejected"]
ACTION_TITLES = {"continue": "Continue at the cursor", "variants": "Variants of the selection"}


@dataclass
class CandidateView:
    index: int
    text: str = ""
    candidate_id: str = ""
    ready: bool = False  # the daemon stored it: it can be picked


@dataclass
class PanelState:
    action: str = ""  # continue | variants
    phase: Phase = "idle"
    message: str = ""
    candidates: list[CandidateView] = field(default_factory=list)
    instruction: str = ""  # the request's options, for the panel's fields
    stop_at: str = ""
    count: int = 0
    turn_id: str = ""
    picked: int | None = None
    deltas: int = 0  # text chunks streamed so far
    paragraphs: tuple[str, ...] = ()  # variants: the selection's paragraphs, which a rewrite keeps

    def shown(self, index: int) -> str:
        """Candidate `index` as a pick would put it into the document (a rewrite in the selection's
        paragraphs once it is complete: while it streams, its words would jump between them)."""
        candidate = self.candidates[index]
        if self.action == "variants" and candidate.ready:
            return "\n".join(shaped_rewrite(candidate.text, self.paragraphs))
        return as_inserted(candidate.text)

    def can_pick(self, index: int) -> bool:
        return self.phase == "ready" and 0 <= index < len(self.candidates) and self.candidates[index].ready

    def can_regenerate(self) -> bool:
        """Any time after a command until a candidate was picked (then the target holds it)."""
        return self.action != "" and self.phase not in ("idle", "picked")

    def to_json(self) -> str:
        return json.dumps(asdict(self))


def apply_event(state: PanelState, event: Event) -> None:
    """Fold one of the job's events into the state."""
    if isinstance(event, Accepted):
        state.turn_id = event.turn_id
        state.candidates = [CandidateView(index) for index in range(len(event.seeds))]
        state.phase = "streaming"
        state.message = f"Writing {len(event.seeds)} candidates…"
    elif isinstance(event, Queued):
        state.message = f"Waiting for the daemon: {event.position} job(s) ahead."
    elif isinstance(event, TextDelta) and event.index < len(state.candidates):
        state.candidates[event.index].text += event.text
        state.deltas += 1
    elif isinstance(event, CandidateReady) and event.index < len(state.candidates):
        candidate = state.candidates[event.index]
        candidate.text, candidate.candidate_id, candidate.ready = event.text or "", event.candidate_id, True
    elif isinstance(event, Done):
        state.turn_id = event.turn_id or state.turn_id
        if event.cancelled:
            state.phase, state.message = "cancelled", "Stopped. Regenerate to try again."
        else:
            state.phase = "ready"
            state.message = "Pick a candidate to insert it (one undo step), regenerate, or reject them all."
    elif isinstance(event, Failed):
        state.phase, state.message = "failed", failure_message(event.code, event.message)


def failure_message(code: str, message: str) -> str:
    """What to tell the writer about a failed request."""
    if code == "UNAVAILABLE":  # the client's message names the endpoint and how to start the daemon
        return message[:1].upper() + message[1:]
    if code in ("INVALID_ARGUMENT", "FAILED_PRECONDITION", "RESOURCE_EXHAUSTED"):
        return f"The daemon could not take this request: {message}"
    return f"Generation failed ({code}): {message}"
