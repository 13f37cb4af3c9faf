"""Live painting for one document: after each stroke the selection (or canvas) is sent again, and the newest
result shows on the live layer.

Plain state, used on Krita's main thread only; the docker's live panel calls `tick()` from a QTimer. A
stroke has ended when the painter's layer stays unchanged for DEBOUNCE_S (Krita's Python API has no
stroke-ended signal, so the canvas is polled for a fingerprint of what the painter touches). Each update
is a live request: the daemon cancels the previous one, and a result is shown only if it comes from the
newest update sent, so a stale picture never appears. Nothing here waits on the network: sending returns
at once (the client runs the call on its own thread) and the session lookup runs on the Calls worker.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field, replace
from typing import Protocol

from cocreate_client import CocreateClient, tasks
from cocreate_client.events import Accepted, CandidateReady, Done, Failed
from cocreate_client.jobs import Job
from cocreate_client.pixels import Image

from .calls import Calls
from .controller import HOST, Canvas, GenerationParams, build_request, explain, find_session
from .placements import Placement
from .region import DocumentError, layer_pixels

DEBOUNCE_S = 0.3  # unchanged this long after a change: the stroke has ended
LIVE_SEED = 1  # one seed for every update, so the picture changes with the strokes, not with the noise


class LiveCanvas(Canvas, Protocol):
    def fingerprint(self) -> Hashable:
        """Something that changes whenever the painter changes the layer or the selection; cheap to read."""
        ...

    def make_preview(self, above: str = "") -> None:
        """Make the (empty) preview layer above `above` now; the painter's active layer stays active."""
        ...

    def clear_preview(self) -> None:
        """The preview layer stays and shows nothing."""
        ...


@dataclass
class Update:
    """One live request sent."""

    number: int  # 1, 2, … in the order sent
    job: Job
    placement: Placement
    above: str
    stroke_ended: float  # when the change it carries was last seen (the clock of LivePainting)
    turn_id: str = ""


@dataclass
class Shown:
    """The result on the live layer."""

    number: int  # the update it came from
    turn_id: str
    candidate_id: str
    image: Image
    placement: Placement
    above: str


@dataclass
class LiveStats:
    sent: int = 0
    shown: int = 0
    stale_dropped: int = 0  # results of an update a newer one had replaced: never shown
    latencies: list[float] = field(default_factory=list)  # seconds from a stroke's end to its result shown


class LivePainting:
    def __init__(
        self,
        canvas: LiveCanvas,
        client: CocreateClient,
        calls: Calls,
        params: Callable[[], GenerationParams],
        on_change: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.canvas = canvas
        self.client = client
        self.calls = calls
        self.params = params  # read at every tick: a new prompt sends an update too
        self.on_change = on_change
        self.clock = clock
        self.active = False
        self.message = ""
        self.session_id = ""
        self.updates: list[Update] = []  # sent, not ended yet; the last one is the newest
        self.newest = 0  # the number of the newest update sent
        self.newest_turn = ""  # its turn, once the daemon accepted it; live turns chain, each from the one before
        self.shown: Shown | None = None
        self.stats = LiveStats()
        self._seen: Hashable = None  # what the canvas and the fields looked like at the last tick
        self._sent: Hashable = None  # … when the newest update was sent
        self._changed_at = 0.0

    # ------------------------------------------------------------ the panel's calls

    def start(self) -> None:
        """Enter live mode: find (or make) the document's session, then send the first update."""
        if self.active:
            return
        self.active = True
        self._seen = self._sent = None
        # The live layer is made now, while the painter clicks Live, and only repainted afterwards: Krita makes
        # an inserted layer active, which must never happen under a stroke.
        self.canvas.make_preview(self.canvas.anchor())
        self._say("Live: connecting…")
        client, key, name = self.client, self.canvas.key, self.canvas.name
        self.calls.submit(
            lambda: find_session(client, key) or client.create_session(HOST, key, name).id, self._ready, self._fail
        )

    def stop(self) -> None:
        """Leave live mode: the running update is cancelled and the live layer removed."""
        self.active = False
        for update in self.updates:
            update.job.cancel()
        self.updates.clear()
        self.shown = None
        self.canvas.remove_preview()
        self._say("Live painting is off.")

    def apply(self) -> None:
        """The shown result becomes a normal layer above the painter's (the live layer stays, empty, for the next
        update); the daemon hears it was accepted."""
        shown = self.shown
        if shown is None:
            self._say("No live result to apply yet.")
            return
        self.shown = None
        self.canvas.clear_preview()
        name = f"live: {self.params().layer_name}"
        self.canvas.add_layer(name, shown.placement.box, layer_pixels(shown.image, shown.placement.mask), shown.above)
        client = self.client
        self.calls.submit(lambda: client.decide([(shown.candidate_id, "accepted")]), lambda _: None, self._fail)
        self._say(f"Applied as the layer “{name}”.")

    def tick(self) -> None:
        """Take in results, and send an update when a stroke (or the prompt) changed and has settled."""
        self.calls.pump()
        self._take_results()
        if not self.active or not self.session_id:
            return
        now = self.clock()
        seen = (self.canvas.fingerprint(), self.params())
        if seen != self._seen:
            self._seen, self._changed_at = seen, now
        if seen != self._sent and now - self._changed_at >= DEBOUNCE_S:
            self._send(seen)

    # ------------------------------------------------------------ updates

    def _ready(self, session_id: str) -> None:
        self.session_id = session_id
        if self.active:
            self._say("Live: paint, and the selection follows after each stroke.")

    def _send(self, seen: Hashable) -> None:
        self._sent = seen
        try:
            region = self.canvas.read_region()
        except DocumentError as error:
            self._say(str(error))
            return
        params = self.params()
        params = replace(params, candidates=1, seed=LIVE_SEED if params.seed is None else params.seed)
        request = tasks.live(build_request(params, region, self.session_id, self.newest_turn))
        request.previews = False  # the update itself comes soon enough; previews would only cost time
        self.newest += 1
        job = self.client.generate(request)
        placement = Placement(region.box, region.mask)
        self.updates.append(Update(self.newest, job, placement, self.canvas.anchor(), self._changed_at))
        self.stats.sent += 1

    def _take_results(self) -> None:
        for update in list(self.updates):
            for event in update.job.poll():
                if isinstance(event, Accepted):
                    update.turn_id = event.turn_id
                    if update.number == self.newest:
                        self.newest_turn = event.turn_id
                elif isinstance(event, CandidateReady):
                    self._arrived(update, event)
                elif isinstance(event, Done | Failed):
                    self.updates.remove(update)
                    if isinstance(event, Failed) and update.number == self.newest:
                        self._fail(event)

    def _arrived(self, update: Update, candidate: CandidateReady) -> None:
        if not self.active or update.number != self.newest or candidate.image is None:
            self.stats.stale_dropped += 1  # a newer update was sent: this picture is out of date
            return
        image = candidate.image
        box = update.placement.box
        if (image.width, image.height) != (box.width, box.height):
            image = self.canvas.scaled(image, box.width, box.height)
        self.canvas.show_preview(box, layer_pixels(image, update.placement.mask), update.above)
        self.shown = Shown(update.number, update.turn_id, candidate.candidate_id, image, update.placement, update.above)
        self.stats.shown += 1
        self.stats.latencies.append(self.clock() - update.stroke_ended)
        self._say(f"Live: update {update.number} shown.")

    # ------------------------------------------------------------ messages

    def _fail(self, error: BaseException | Failed) -> None:
        self._say(explain(error, self.client.endpoint))

    def _say(self, message: str) -> None:
        self.message = message
        if self.on_change is not None:
            self.on_change()
