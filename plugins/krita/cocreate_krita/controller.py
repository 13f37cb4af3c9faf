"""One document's co-creation: generate, step previews, candidates, apply, discard, history.

Plain state, used on Krita's main thread only. A generation's events stream into the client's Job and
are drained by `pump()`; every other daemon call runs on the Calls worker. The document is reached
only through a Canvas: document.py's KritaDocument inside Krita, an in-memory one in tests.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Literal, Protocol

from cocreate_client import CocreateClient, DaemonUnavailable, RequestError, tasks
from cocreate_client.events import Accepted, CandidateReady, Done, Event, Failed, Progress, Queued
from cocreate_client.jobs import Job
from cocreate_client.pb import cocreate_pb2 as pb
from cocreate_client.pixels import Image

from . import placements
from .calls import Calls
from .guides import DocumentGuides
from .history import TurnSummary, turns_from_session
from .personalize import Training
from .placements import Placement
from .region import Box, DocumentError, Region, layer_pixels

log = logging.getLogger(__name__)

HOST = "krita"
THUMBNAIL_SIZE = 96
LAYER_NAME_LENGTH = 60


class Phase(enum.Enum):
    idle = "idle"
    starting = "starting"  # finding the session, sending the request
    queued = "queued"
    running = "running"
    finished = "finished"
    cancelled = "cancelled"
    failed = "failed"


ACTIVE = (Phase.starting, Phase.queued, Phase.running)
Steering = Literal["more_like", "less_like", "interpolate"]


@dataclass(frozen=True)
class GenerationParams:
    """What the docker's fields say about the next generation."""

    task: Literal["inpaint", "variants", "edit"] = "inpaint"
    prompt: str = ""  # for variants, the style prompt; for edit, the instruction
    negative_prompt: str = ""
    strength: float = 0.0  # 0 = the daemon's default: 1.0 to fill, 0.6 for variants
    candidates: int = 4
    model: str = ""  # "" = the daemon's default image model
    seed: int | None = None  # None = random; candidate i uses seed + i
    steps: int = 0  # 0 = the model's default
    lora: str = ""  # a personal LoRA by name; "" = none
    # Steering by candidates of this session: toward, away from, or walking between two of them.
    more_like: tuple[str, ...] = ()
    less_like: tuple[str, ...] = ()
    interpolate: tuple[str, ...] = ()

    @property
    def layer_name(self) -> str:
        name = self.prompt.strip() or ("variant" if self.task == "variants" else "cocreate fill")
        if self.task == "variants" and self.prompt.strip():
            name = f"{name} (variant)"
        if self.task == "edit":
            name = f"edit: {name}"
        return name[:LAYER_NAME_LENGTH]


@dataclass
class Choice:
    """One candidate in the strip."""

    candidate_id: str
    index: int
    seed: int
    image: Image | None = None  # full size; fetched with GetCandidate for history turns
    thumbnail: Image | None = None  # the session's thumbnail, for history turns
    decision: str = ""  # accepted, rejected, or "" while undecided


@dataclass
class Strip:
    """The turn whose candidates the docker shows."""

    turn_id: str  # "" until the daemon accepted the job
    layer_name: str
    placement: Placement | None  # None: made elsewhere, so it cannot be applied to this document
    choices: list[Choice] = field(default_factory=list)
    task: str = "inpaint"
    above: str = ""  # the layer active at Generate, which results go above; "" = the active one then


class Canvas(Protocol):
    """What the controller needs from a document."""

    @property
    def key(self) -> str:
        """A stable id for the document, kept in the document."""
        ...

    @property
    def name(self) -> str: ...

    def read_region(self) -> Region:
        """The selection's region (or the whole canvas); raises DocumentError with advice."""
        ...

    def anchor(self) -> str:
        """The painter's layer now, which results go above; "" when there is none."""
        ...

    def scaled(self, picture: Image, width: int, height: int) -> Image: ...

    def show_preview(self, box: Box, pixels: Image, above: str = "") -> None:
        """Show `pixels` (box-sized) on the temporary preview layer (made above `above`), replacing what it
        showed; the painter's active layer stays active."""
        ...

    def remove_preview(self) -> None: ...

    def add_layer(self, name: str, box: Box, pixels: Image, above: str = "") -> None:
        """A new paint layer holding `pixels` at `box`, above the layer `above` (else the active one)."""
        ...

    def load_placements(self) -> bytes: ...

    def save_placements(self, data: bytes) -> None: ...


def explain(error: BaseException | Failed, endpoint: str) -> str:
    """A sentence the painter can act on."""
    code = error.code if isinstance(error, Failed | RequestError) else ""
    if isinstance(error, DaemonUnavailable) or code == "UNAVAILABLE":
        return (
            f"No cocreate daemon answers at {endpoint}. Start it with `cocreate serve` "
            "(or set the endpoint below), then press Retry."
        )
    if isinstance(error, Failed | RequestError):
        return f"The daemon refused ({error.code}): {error.message}"
    if isinstance(error, DocumentError):
        return str(error)
    log.error("cocreate: unexpected error", exc_info=error)
    return f"Unexpected error: {error!r}"


def build_request(
    params: GenerationParams, region: Region, session_id: str, parent: str, guides: dict[str, list] | None = None
) -> pb.GenerateRequest:
    """`guides`: the controls and references (DocumentGuides.request_fields) sent with it."""
    if params.task == "edit":
        request = tasks.edit(
            region.image,
            params.prompt,
            session_id=session_id,
            mask=region.mask,
            steps=params.steps,
            candidates=params.candidates,
            seed=params.seed,
            previews=True,
            parent_turn_id=parent,
            model=params.model,
            **(guides or {}),
        )
    else:
        request = _fill_or_variants(params, region, session_id, parent, guides)
    return tasks.steered(
        request,
        more_like=params.more_like,
        less_like=params.less_like,
        interpolate=params.interpolate,
        lora=params.lora,
    )


def _fill_or_variants(
    params: GenerationParams, region: Region, session_id: str, parent: str, guides: dict[str, list] | None
) -> pb.GenerateRequest:
    shared = dict(
        session_id=session_id,
        mask=region.mask,
        negative_prompt=params.negative_prompt,
        strength=params.strength,
        steps=params.steps,
        candidates=params.candidates,
        seed=params.seed,
        previews=True,
        parent_turn_id=parent,
        model=params.model,
        **(guides or {}),
    )
    if params.task == "variants":
        return tasks.variants(region.image, style_prompt=params.prompt, **shared)  # type: ignore[arg-type]
    return tasks.inpaint(region.image, prompt=params.prompt, **shared)  # type: ignore[arg-type]


def find_session(client: CocreateClient, key: str) -> str:
    """The newest session of this document, or "" when it has none yet (blocking: worker thread)."""
    sessions = client.list_sessions(HOST, key, limit=1)
    return sessions[0].id if sessions else ""


class DocumentController:
    def __init__(
        self,
        canvas: Canvas,
        client: CocreateClient,
        calls: Calls,
        on_change: Callable[[], None] | None = None,
        guides: DocumentGuides | None = None,
    ) -> None:
        """`guides`: the document's control layers and references, sent with every generation."""
        self.canvas = canvas
        self.guides = guides
        self.client = client
        self.calls = calls
        self.on_change = on_change
        self.phase = Phase.idle
        self.message = ""
        self.progress = (0, 0)  # (step, total) of the running job
        self.strip: Strip | None = None
        self.selected = 0
        self.history: list[TurnSummary] = []
        self.branch_from = ""  # the turn the next generation continues from; "" = a new root turn
        self.session_id = ""
        self.previews_shown = 0  # step previews drawn, for tests and the benchmark
        self._job: Job | None = None
        self.training: Training | None = None  # a personal LoRA being learned from this session
        self._cancel_requested = False
        self._retry: Callable[[], None] = self.refresh_history  # what Retry does after a failure
        self._placements = placements.decode(canvas.load_placements())

    # ------------------------------------------------------------ state the docker reads

    @property
    def running(self) -> bool:
        return self.phase in ACTIVE

    @property
    def busy(self) -> bool:
        """Something is under way that pump() or Calls.pump() will move on."""
        return self.running or self.calls.busy or self.learning

    @property
    def learning(self) -> bool:
        return self.training is not None and self.training.running

    @property
    def selected_choice(self) -> Choice | None:
        if self.strip is None or not 0 <= self.selected < len(self.strip.choices):
            return None
        return self.strip.choices[self.selected]

    # ------------------------------------------------------------ generation

    def generate(self, params: GenerationParams) -> None:
        """Start a generation on the selection (or the whole canvas); returns at once."""
        if self.running:
            self._say("A generation is running: cancel it first.")
            return
        if params.task == "edit" and not params.prompt.strip():
            self._say("Write what to change first, as in “make it night”, then press Edit.")
            return
        try:
            region = self.canvas.read_region()
            guides = self.guides.request_fields(region.box) if self.guides is not None else {}
        except DocumentError as error:
            self._fail(error)
            return
        self.canvas.remove_preview()
        self._retry = lambda: self.generate(params)
        self._cancel_requested = False
        placement = Placement(region.box, region.mask)
        self.strip = Strip("", params.layer_name, placement, task=params.task, above=self.canvas.anchor())
        self.selected = 0
        self.progress = (0, 0)
        self.phase = Phase.starting
        self._say("Sending the request…")
        client, key, name = self.client, self.canvas.key, self.canvas.name
        session_id, parent = self.session_id, self.branch_from

        def start() -> tuple[str, Job]:
            sid = session_id or find_session(client, key) or client.create_session(HOST, key, name).id
            return sid, client.generate(build_request(params, region, sid, parent, guides))

        self.calls.submit(start, self._started, self._fail)

    def steer(self, params: GenerationParams, how: Steering, candidate_ids: list[str]) -> None:
        """A new turn grown from the shown one: more like or less like the picked candidates, or
        candidates walking from one picked candidate to the other (`interpolate`)."""
        strip = self.strip
        if strip is None or not strip.turn_id or self.running:
            return
        if how == "interpolate" and len(candidate_ids) != 2:
            self._say("Pick two candidates (Ctrl+click) to make new ones in between.")
            return
        if not candidate_ids:
            self._say("Pick a candidate first.")
            return
        self.branch_from = strip.turn_id
        if how == "interpolate":  # the ends are the two picked; at least one new one between them
            params = replace(params, interpolate=tuple(candidate_ids), candidates=max(3, params.candidates))
        else:
            params = replace(params, **{how: tuple(candidate_ids)})
        self.generate(params)

    def retry(self) -> None:
        """After a failure, do again what failed: the generation, or reaching the daemon for the history."""
        self._retry()

    def cancel(self) -> None:
        if not self.running:
            return
        self._cancel_requested = True
        # Said first: Krita runs its event loop inside the layer's removal, where the job's end may land.
        self._say("Cancelling…")
        if self._job is not None:
            self._job.cancel()
        self.canvas.remove_preview()

    def pump(self) -> None:
        """Take in every finished call and every event of the running jobs; never blocks."""
        self.calls.pump()
        if self.training is not None and self.training.pump():
            self._changed()
        if self._job is None:
            return
        events = self._job.poll()
        latest: Progress | None = None
        for event in events:
            if isinstance(event, Progress):
                latest = event
            else:
                self._handle(event)
        if latest is not None and self.running:
            self._progress(latest)
        if events:
            self._changed()

    def _started(self, started: tuple[str, Job]) -> None:
        self.session_id, self._job = started
        if self._cancel_requested:
            self._job.cancel()

    def _handle(self, event: Event) -> None:
        if isinstance(event, Accepted):
            if self.strip is not None:
                self.strip.turn_id = event.turn_id
            self.phase = Phase.queued if event.queue_position else Phase.running
            self._say(f"Queued at {event.queue_position}…" if event.queue_position else "Generating…")
        elif isinstance(event, Queued):
            self._say(f"Queued at {event.position}…")
        elif isinstance(event, CandidateReady) and self.strip is not None:
            self.strip.choices.append(Choice(event.candidate_id, event.index, event.seed, image=event.image))
        elif isinstance(event, Done):
            self._job = None
            self._done(event)
        elif isinstance(event, Failed):
            self._job = None
            self._fail(event)

    def _progress(self, event: Progress) -> None:
        self.phase = Phase.running
        self.progress = (event.step, event.total)
        if event.previews and not self._cancel_requested and self.strip and self.strip.placement:
            frame = event.previews[min(self.selected, len(event.previews) - 1)]
            strip = self.strip
            placement = strip.placement
            self._show(strip, self.canvas.scaled(frame, placement.box.width, placement.box.height))
            self.previews_shown += 1

    def _done(self, event: Done) -> None:
        if event.cancelled or self.strip is None:  # None: discarded while it ran
            self.strip = None
            self.canvas.remove_preview()
            if self._cancel_requested:
                self.phase = Phase.cancelled
                self._say("Cancelled.")
            else:  # the daemon's own doing: it is shutting down, say
                self.phase = Phase.failed
                self._say("The daemon stopped this generation (is it shutting down?). Press Retry to run it again.")
            return
        self.phase = Phase.finished
        self.strip.turn_id = event.turn_id
        self.branch_from = event.turn_id
        if self.strip.placement is not None:
            self._placements[event.turn_id] = self.strip.placement
            self.canvas.save_placements(placements.encode(self._placements))
        self.strip.choices.sort(key=lambda c: c.index)
        count = len(self.strip.choices)
        self._say(
            f"{count} candidate{'s' * (count != 1)} in {event.elapsed_ms / 1000:.1f} s: pick one, Apply or Discard."
        )
        self.select(0)
        self.refresh_history()

    # ------------------------------------------------------------ candidates

    def select(self, index: int) -> None:
        """Show candidate `index` on the preview layer (while a job runs: follow its step previews)."""
        self.selected = index
        choice, strip = self.selected_choice, self.strip
        if choice is not None and not self.running and strip and strip.placement:
            self._with_image(choice, lambda image: self._show(strip, image))
        self._changed()

    def apply(self) -> None:
        """The selected candidate becomes a new layer above the active one; the daemon hears it was accepted."""
        choice, strip = self.selected_choice, self.strip
        if choice is None or strip is None or self.running:
            return
        if strip.placement is None:
            self._say("This turn's place on the canvas is not recorded in this document, so it cannot be applied here.")
            return
        placement = strip.placement

        def add(image: Image) -> None:
            if (image.width, image.height) != (placement.box.width, placement.box.height):
                box = placement.box
                self._say(f"The candidate is {image.width}×{image.height} but its region {box.width}×{box.height}.")
                return
            self.canvas.remove_preview()
            self.canvas.add_layer(strip.layer_name, placement.box, layer_pixels(image, placement.mask), strip.above)
            choice.decision = "accepted"
            self._feedback([choice.candidate_id], "accepted")
            self._say(f"Applied as the layer “{strip.layer_name}”.")

        self._with_image(choice, add)

    def discard(self) -> None:
        """Drop the shown candidates; those not decided yet are sent back as rejected."""
        if self.running:
            self.cancel()
        self.canvas.remove_preview()
        if self.strip is not None:
            undecided = [c for c in self.strip.choices if not c.decision]
            for choice in undecided:
                choice.decision = "rejected"
            self._feedback([c.candidate_id for c in undecided], "rejected")
        self.strip = None
        if not self.running:
            self.phase = Phase.idle
        self._say("Discarded.")

    def _show(self, strip: Strip, picture: Image) -> None:
        if strip is not self.strip or strip.placement is None:  # cancelled or replaced meanwhile
            return
        placement = strip.placement
        self.canvas.show_preview(placement.box, layer_pixels(picture, placement.mask), strip.above)

    def _with_image(self, choice: Choice, then: Callable[[Image], None]) -> None:
        if choice.image is not None:
            then(choice.image)
            return
        self._say("Fetching the candidate…")

        def fetched(candidate: CandidateReady) -> None:
            choice.image = candidate.image
            if candidate.image is not None:
                then(candidate.image)
                self._changed()

        self.calls.submit(lambda: self.client.get_candidate(choice.candidate_id), fetched, self._fail)

    def _feedback(self, candidate_ids: list[str], decision: Literal["accepted", "rejected"]) -> None:
        if not candidate_ids:
            return
        client = self.client

        decisions = [(candidate_id, decision) for candidate_id in candidate_ids]
        self.calls.submit(lambda: client.decide(decisions), lambda _: self.refresh_history(), self._fail)

    # ------------------------------------------------------------ history

    def refresh_history(self) -> None:
        """Reload this document's turns from the daemon (in the background)."""
        self._retry = self.refresh_history
        client, key, session_id = self.client, self.canvas.key, self.session_id

        def load() -> tuple[str, list[TurnSummary]]:
            sid = session_id or find_session(client, key)
            return sid, turns_from_session(client.get_session(sid, THUMBNAIL_SIZE)) if sid else []

        self.calls.submit(load, self._history_loaded, self._fail)

    def _history_loaded(self, loaded: tuple[str, list[TurnSummary]]) -> None:
        self.session_id, self.history = loaded
        if self.phase is Phase.failed:  # the daemon answers again
            self.phase = Phase.idle
            self._say("Connected.")
        self._changed()

    def choose_turn(self, turn_id: str) -> TurnSummary | None:
        """Show an earlier turn's candidates; the next generation branches from it."""
        turn = next((t for t in self.history if t.turn_id == turn_id), None)
        if turn is None or self.running:
            return None
        self.canvas.remove_preview()
        self.branch_from = turn.turn_id
        task = turn.task if turn.task in ("variants", "edit") else "inpaint"
        title = GenerationParams(task, turn.prompt).layer_name  # type: ignore[arg-type]
        choices = [
            Choice(c.candidate_id, c.index, c.seed, thumbnail=c.thumbnail, decision=c.decision) for c in turn.candidates
        ]
        self.strip = Strip(turn.turn_id, title, self._placements.get(turn.turn_id), choices, task=task)
        self.selected = 0
        self.phase = Phase.idle
        self._say("Apply one of this turn's candidates, or Generate to branch a new turn from it.")
        return turn

    def start_fresh(self) -> None:
        """The next generation starts a new root turn instead of continuing from the last one."""
        self.branch_from = ""
        self._changed()

    # ------------------------------------------------------------ personal LoRAs

    def personalize(self, name: str, model: str = "", steps: int = 0) -> None:
        """Learn the personal LoRA `name` from the pictures kept (applied) in this document's session
        (`steps` of training; 0 = the daemon's default)."""
        if self.learning:
            return
        name = name.strip()
        if not name:
            self._say("Name the LoRA first (letters, digits, '.', '_' or '-').")
            return
        kept = any(t.decision in ("accepted", "edited") for t in self.history)
        if not self.session_id or not kept:
            self._say("Apply a candidate or two first: the LoRA learns from the pictures you kept.")
            return
        request = tasks.personalize(self.session_id, name, model=model, steps=steps)
        self.training = Training(self.client, request, self._say, self._training_refused)

    def _training_refused(self, error: Failed) -> None:
        self._say(explain(error, self.client.endpoint))  # said only: a generation under way goes on

    def stop_learning(self) -> None:
        if self.training is not None:
            self.training.cancel()

    def close(self, document_open: bool = True) -> None:
        """Stop the job and leave no preview layer; a closed document is not touched any more."""
        self.stop_learning()
        if self._job is not None:
            self._job.cancel()
            self._job = None
        if document_open:
            self.canvas.remove_preview()

    # ------------------------------------------------------------ messages

    def report(self, error: Exception) -> None:
        """A fault met while pumping (a bug, or Krita refusing a call): said, and the pump goes on."""
        self._say(explain(error, self.client.endpoint))

    def _say(self, message: str) -> None:
        self.message = message
        self._changed()

    def _fail(self, error: BaseException | Failed) -> None:
        if self.running:
            self.strip = None
            self.canvas.remove_preview()
        self.phase = Phase.failed
        code = error.code if isinstance(error, Failed | RequestError) else ""
        if isinstance(error, DaemonUnavailable) or code == "UNAVAILABLE":
            self.session_id = ""  # a restarted or another daemon: look the session up again
        elif code == "NOT_FOUND":
            self.session_id = self.branch_from = ""  # the session or turn is gone: start a new one
        self._say(explain(error, self.client.endpoint))

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()
