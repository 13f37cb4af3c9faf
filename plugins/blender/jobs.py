"""A texture job as Blender sees it: plain state that the panels read and `advance` moves on.

`advance` is the one apply step. It drains the client's events and turns them into Blender data
through document.py: one preview image while the job runs, the candidate images once it is done,
and nothing at all when it is cancelled or fails. The pump's timer calls it in the UI; tests call it
directly, since Blender runs no timers in background mode.
"""

from __future__ import annotations

import enum
import logging
import math
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

from . import document, projection
from .cocreate_client import (
    Accepted,
    CandidateReady,
    CocreateError,
    Done,
    Event,
    Failed,
    Job,
    Progress,
    Queued,
    Trained,
    pixels,
)
from .cocreate_client.pb import cocreate_pb2 as pb
from .cocreate_client.pixels import Image

log = logging.getLogger(__name__)

PREVIEW_IMAGE = "cocreate preview"
KEPT_JOBS = 8  # finished jobs the Candidates panel can still list


class Phase(enum.Enum):
    starting = "connecting"
    queued = "queued"
    running = "running"
    done = "done"
    cancelled = "cancelled"
    failed = "failed"


FINISHED = (Phase.done, Phase.cancelled, Phase.failed)


@dataclass(eq=False)
class TextureJob:
    """One request and what became of it. `started` resolves to the client's Job once connected."""

    kind: str  # texture, repair, variants, project (more like, less like, between: steered again), personalize
    label: str  # the candidate images are named "<label> 1", "<label> 2", ...
    started: Future[Job]
    source: str | None = None  # the texture a repair or variants job started from
    build: Callable[[str], pb.GenerateRequest] | None = None  # the request, to steer its candidates later
    skipped: frozenset[int] = frozenset()  # candidate indices that make no image (an interpolation's ends)
    projected: projection.Projection | None = None  # project texture: the view its candidates are laid on through
    turn_id: str = ""  # the daemon's turn, once done
    lora: str = ""  # personalize: the LoRA it trained
    phase: Phase = Phase.starting
    step: int = 0
    total: int = 0
    queue_position: int = 0
    images: list[str] = field(default_factory=list)  # the candidate images, once done
    message: str = ""  # why it failed, for people
    created_at: float = field(default_factory=time.monotonic)
    first_preview_s: float | None = None  # seconds from creation, for the status line and the bench
    candidates_s: float | None = None
    daemon_s: float | None = None  # the daemon's own time for the job, from its Done
    _job: Job | None = None
    _ready: list[CandidateReady] = field(default_factory=list)
    _cancel_asked: bool = False
    _preview: bool = False  # the preview image is ours to remove

    @property
    def finished(self) -> bool:
        return self.phase in FINISHED

    @property
    def fraction(self) -> float:
        return self.step / self.total if self.total else 0.0

    def status(self) -> str:
        """One line for the status bar and the panel."""
        if self.phase is Phase.queued:
            return f"{self.kind}: queued, {self.queue_position} ahead"
        if self.phase is Phase.running and self.total:
            return f"{self.kind}: step {self.step}/{self.total}"
        if self.phase is Phase.done and self.lora:
            return f"learned your style: LoRA {self.lora}"
        if self.phase is Phase.done:
            count = len(self.images)
            return f"{self.kind}: {count} candidate{'' if count == 1 else 's'}"
        if self.phase is Phase.failed:
            return f"{self.kind} failed: {self.message}"
        return f"{self.kind}: {self.phase.value}"

    def cancel(self) -> None:
        """Stop the job; `advance` then removes what it showed and makes no candidates."""
        self._cancel_asked = True
        if self._job is not None:
            self._job.cancel()


def advance(job: TextureJob) -> None:
    """Apply every event that arrived since the last call; returns at once, never waits."""
    if job.finished:
        return
    if job._job is None:
        if not job.started.done():
            return
        try:
            job._job = job.started.result()
        except Exception as error:  # no daemon, a bad endpoint or token file: all for the artist to fix
            if not isinstance(error, CocreateError | ValueError | OSError):
                log.error("cocreate: the job did not start", exc_info=error)
            _discard(job, Phase.failed, str(error))
            return
        if job._cancel_asked:
            job._job.cancel()
    events = job._job.poll()
    # Previews can pile up between two ticks; only the newest is worth drawing.
    newest_preview = max((i for i, e in enumerate(events) if isinstance(e, Progress) and e.previews), default=-1)
    for i, event in enumerate(events):
        _apply(job, event, draw_preview=i == newest_preview)
        if job.finished:
            return


def fail(job: TextureJob, message: str) -> None:
    """End the job as failed from outside (the pump hit an error): stop it and leave nothing behind."""
    if job._job is not None:
        job._job.cancel()
    _discard(job, Phase.failed, message)


def _apply(job: TextureJob, event: Event, *, draw_preview: bool) -> None:
    if isinstance(event, Accepted):
        job.queue_position = event.queue_position
        job.phase = Phase.queued if event.queue_position else Phase.running
    elif isinstance(event, Queued):
        job.phase, job.queue_position = Phase.queued, event.position
    elif isinstance(event, Progress):
        job.phase, job.step, job.total = Phase.running, event.step, event.total
        if draw_preview:
            _show_preview(job, tile(event.previews))
    elif isinstance(event, CandidateReady):
        job._ready.append(event)
    elif isinstance(event, Trained):
        job.lora = event.lora
    elif isinstance(event, Done):
        job.daemon_s = event.elapsed_ms / 1000
        if event.cancelled:
            _discard(job, Phase.cancelled)
        else:
            _land(job, event.turn_id)
    elif isinstance(event, Failed):
        _discard(job, Phase.failed, event.message or event.code)


def _show_preview(job: TextureJob, picture: Image) -> None:
    image = document.scratch_image(PREVIEW_IMAGE, picture)
    if not job._preview:
        job._preview = True
        job.first_preview_s = time.monotonic() - job.created_at
        document.show_image(image)


def _land(job: TextureJob, turn_id: str) -> None:
    """Every candidate becomes a packed image that knows its candidate and turn ids, or none does."""
    job.turn_id = turn_id
    if job.lora:
        document.adopt_lora(job.lora)
    try:
        for candidate in sorted(job._ready, key=lambda c: c.index):
            if candidate.index in job.skipped:
                continue
            if candidate.image is None:
                raise ValueError(f"candidate {candidate.index} holds no image")
            image = document.new_image(f"{job.label} {candidate.index + 1}", candidate.image)
            job.images.append(image.name)
            document.mark_candidate(image, candidate.candidate_id, turn_id)
            if job.projected is not None:
                projection.mark(image, job.projected, turn_id)
    except Exception as error:
        log.exception("cocreate: could not make the candidate images")
        for name in job.images:
            document.remove_image(name)
        job.images.clear()
        _discard(job, Phase.failed, f"could not make the candidate images: {error}")
        return
    job.candidates_s = time.monotonic() - job.created_at
    if job.images:
        first = document.find_image(job.images[0])
        if first is not None:
            document.show_image(first, instead_of=PREVIEW_IMAGE)
    _end(job, Phase.done)


def _discard(job: TextureJob, phase: Phase, message: str = "") -> None:
    """Leave nothing of the job behind: its preview goes, the editors go back to the source texture."""
    job.message = message
    source = document.find_image(job.source) if job.source else None
    if job._preview and source is not None:
        document.show_image(source, instead_of=PREVIEW_IMAGE)
    _end(job, phase)


def _end(job: TextureJob, phase: Phase) -> None:
    if job._preview:
        document.remove_image(PREVIEW_IMAGE)
        job._preview = False
    job._ready.clear()  # the pixels are in the images now, or dropped
    job.phase = phase


def tile(previews: list[Image]) -> Image:
    """The candidates' previews side by side in a near-square grid, so all of them show as they form."""
    columns = math.ceil(math.sqrt(len(previews)))
    rows = math.ceil(len(previews) / columns)
    cell_width = max(p.width for p in previews)
    cell_height = max(p.height for p in previews)
    sheet = Image(cell_width * columns, cell_height * rows, bytes(cell_width * columns * cell_height * rows * 4))
    for i, preview in enumerate(previews):
        sheet = pixels.paste(sheet, preview, (i % columns) * cell_width, (i // columns) * cell_height)
    return sheet


@dataclass
class History:
    """The running job, if any, and the finished ones, newest first."""

    active: TextureJob | None = None
    finished: list[TextureJob] = field(default_factory=list)

    def begin(self, job: TextureJob) -> None:
        if self.active is not None:
            raise RuntimeError("a cocreate job is already running; cancel it first")
        self.active = job

    def end(self) -> None:
        """Move the finished active job into the history."""
        if self.active is not None and self.active.finished:
            self.finished.insert(0, self.active)
            del self.finished[KEPT_JOBS:]
            self.active = None

    def clear(self) -> None:
        """Cancel the running job and forget every job, touching no Blender data (its file is closing)."""
        if self.active is not None:
            self.active.cancel()
        self.active = None
        self.finished.clear()

    def latest(self) -> TextureJob | None:
        """The newest job that made candidates."""
        return next((job for job in self.finished if job.images), None)

    def of_turn(self, turn_id: str) -> TextureJob | None:
        """The finished job that made the turn's candidates, if it is still remembered."""
        return next((job for job in self.finished if turn_id and job.turn_id == turn_id), None)


HISTORY = History()
