"""A generation job as the scheduler sees it, and what it reports to the service."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from .. import metrics
from ..stages import Stages
from ..tasks import CancelToken, EngineEvent, GenerationResult, PersonalizeTask, StepEvent, Task


@dataclass(frozen=True)
class QueuedAt:
    """The job's place in the queue changed (0 = running)."""

    position: int


@dataclass(frozen=True)
class Finished:
    result: GenerationResult


@dataclass(frozen=True)
class WasCancelled:
    pass


@dataclass(frozen=True)
class Failed:
    error: BaseException


@dataclass
class PausableToken(CancelToken):
    """A cancel token that can also hold its job at the next step: a long job yields to live painting."""

    _resumed: threading.Event = field(default_factory=threading.Event)
    held_s: float = 0.0  # how long check() held the job, in all

    def __post_init__(self) -> None:
        self._resumed.set()

    def pause(self) -> None:
        self._resumed.clear()

    def resume(self) -> None:
        self._resumed.set()

    @property
    def paused(self) -> bool:
        return not self._resumed.is_set()

    def cancel(self) -> None:
        super().cancel()
        self._resumed.set()  # a paused job wakes to end

    def check(self) -> None:
        super().check()
        if self.paused:
            held = time.monotonic()
            self._resumed.wait()
            self.held_s += time.monotonic() - held
        super().check()


JobEvent = QueuedAt | EngineEvent | Finished | WasCancelled | Failed
TERMINAL = (Finished, WasCancelled, Failed)
_STATUS = {Finished: "completed", WasCancelled: "cancelled", Failed: "failed"}  # as the job's turn ends


@dataclass
class Job:
    """One Generate (or Personalize) call: the task, who asked, which model, and a channel back to the caller.

    Engines run on worker threads; `publish` is safe to call from any thread and
    hands the event to the asyncio loop that owns the caller.
    """

    id: str
    client: str  # the queue lane: the owner's, split by the client name the request gave
    task: Task | PersonalizeTask
    seeds: tuple[int, ...]
    model: str  # catalog name
    model_entry: Any  # the catalog's entry, handed to the loader untouched
    previews: bool
    loop: asyncio.AbstractEventLoop
    owner: str = ""  # the identity that started it: only it may cancel it or see it running
    session: str = ""  # its co-creation session: a cluster routes a session's jobs to one replica
    # Live painting (scheduler.live): a newer live job of the same owner and session supersedes this one until
    # it has finished (Scheduler.settle): it is cancelled, and its turn ends cancelled with no candidates.
    live: bool = False
    superseded: bool = False
    cancel_token: PausableToken = field(default_factory=PausableToken)
    submitted: float = field(default_factory=time.monotonic)
    stages: Stages = field(default_factory=Stages)  # where its time went, service and engine alike
    _events: asyncio.Queue[JobEvent | None] = field(default_factory=asyncio.Queue)
    _unsent_step: StepEvent | None = None  # the newest step the caller has not taken yet
    _steps: metrics.StepClock = field(init=False)

    def __post_init__(self) -> None:
        self._steps = metrics.StepClock(metrics.task_label(self.task))

    def publish(self, event: JobEvent) -> None:
        if isinstance(event, StepEvent):
            self._steps.step(time.monotonic())
        elif isinstance(event, TERMINAL):
            metrics.JOBS.labels(metrics.task_label(self.task), _STATUS[type(event)]).inc()
        self.loop.call_soon_threadsafe(self._deliver, event)

    async def next_event(self) -> JobEvent:
        event = await self._events.get()
        if event is None:  # the place in line of the newest step
            event, self._unsent_step = self._unsent_step, None
            assert event is not None
        return event

    def _deliver(self, event: JobEvent) -> None:
        # Steps coalesce: a slow reader gets the newest progress and preview, and the daemon
        # holds at most one unsent step per job instead of buffering every preview.
        if isinstance(event, StepEvent):
            if self._unsent_step is None:
                self._events.put_nowait(None)
            self._unsent_step = event
        else:
            self._events.put_nowait(event)
