"""A job's events applied to an image: progress, then one new layer per candidate, all in one undo group.

Each layer is tagged with its candidate and turn (candidates.Tag), so Keep This Candidate can tell the daemon
later which one the artist kept.

Plain state and plain calls: the GLib pump feeds `Apply.handle` on GIMP's main thread, and tests feed it
events by hand. Nothing changes in the image until the first candidate arrives, so a job that fails or is
cancelled before then leaves the image as it was.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from cocreate_client.events import Accepted, CandidateReady, Done, Event, Failed, Progress, Queued

from .candidates import Tag
from .geometry import Sides
from .plans import Layer, Plan

PROMPT_IN_NAME = 32  # characters of the prompt a layer name shows


class Canvas(Protocol):
    """What applying changes in an image (document.GimpDocument in GIMP)."""

    def begin(self) -> None:
        """Open the undo group that holds everything a run does."""
        ...

    def grow(self, sides: Sides) -> None: ...

    def add_layer(self, name: str, layer: Layer, *, visible: bool, rank: int, above: object, tag: Tag) -> None:
        """Insert a layer above `above` (None: at the top), below the `rank` candidates placed before it.

        `tag` says which candidate the layer holds; it stays with the layer (and the saved file).
        """
        ...

    def end(self) -> None:
        """Close the undo group and show the result."""
        ...


class ProgressBar(Protocol):
    def text(self, message: str) -> None: ...

    def fraction(self, value: float) -> None: ...


def layer_name(plan: Plan, index: int, seed: int) -> str:
    name = f"cocreate {plan.task} {index + 1}/{plan.request.candidates} · seed {seed}"
    prompt = " ".join(plan.prompt.split())
    if len(prompt) > PROMPT_IN_NAME:
        prompt = prompt[: PROMPT_IN_NAME - 1] + "…"
    return f"{name} · {prompt}" if prompt else name


class Apply:
    """Feeds one job's events into a canvas; `finished` once Done or Failed arrived."""

    def __init__(self, plan: Plan, canvas: Canvas, progress: ProgressBar) -> None:
        self._plan = plan
        self._canvas = canvas
        self._progress = progress
        self._placed: list[int] = []  # candidate indices with a layer
        self._job_id = self._turn_id = ""  # from Accepted, which comes before any candidate
        self._open = False  # the undo group is open
        self.finished = False
        self.cancelled = False
        self.error: str | None = None

    @property
    def layers(self) -> int:
        return len(self._placed)

    def handle(self, events: Iterable[Event]) -> bool:
        """Apply events in order; True once the job is over."""
        for event in events:
            if self.finished:
                break
            self._handle(event)
        return self.finished

    def close(self) -> None:
        """End the run whatever happened: the undo group never stays open."""
        self.finished = True
        if self._open:
            self._open = False
            self._canvas.end()

    def _handle(self, event: Event) -> None:
        task, count = self._plan.task, self._plan.request.candidates
        if isinstance(event, Accepted):
            self._job_id, self._turn_id = event.job_id, event.turn_id
            ahead = event.queue_position
            self._progress.text(
                f"cocreate {task}: {ahead} job(s) ahead" if ahead else f"cocreate {task}: painting {count} candidates"
            )
        elif isinstance(event, Queued):
            self._progress.text(f"cocreate {task}: {event.position} job(s) ahead")
        elif isinstance(event, Progress):
            if event.total:
                self._progress.text(f"cocreate {task}: step {event.step} of {event.total}")
                self._progress.fraction(event.step / event.total)
        elif isinstance(event, CandidateReady):
            self._place(event)
        elif isinstance(event, Done):
            self.cancelled = event.cancelled
            self.close()
        elif isinstance(event, Failed):
            self.error = f"{event.message} ({event.code})"
            self.close()

    def _place(self, candidate: CandidateReady) -> None:
        if candidate.image is None or candidate.index in self._plan.skipped:
            return
        layer = self._plan.layer(candidate.image)
        if not self._open:
            self._canvas.begin()
            self._open = True
            if self._plan.grow is not None:
                self._canvas.grow(self._plan.grow)
        rank = sum(index < candidate.index for index in self._placed)
        self._canvas.add_layer(
            layer_name(self._plan, candidate.index, candidate.seed),
            layer,
            visible=candidate.index == 0,
            rank=rank,
            above=self._plan.above,
            tag=Tag(candidate.candidate_id, self._turn_id, self._job_id, candidate.index),
        )
        self._placed.append(candidate.index)
