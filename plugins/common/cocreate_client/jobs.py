"""A running generation as the host's main thread sees it: a queue to drain, a cancel, a wait.

The client thread feeds a Job (`_start`, `_emit`, `_finish`); the host thread reads it (`poll`,
`wait`, `cancel`). Nothing here blocks the host unless it calls `wait`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field

from .errors import DaemonUnavailable, RequestError
from .events import Accepted, CandidateReady, Done, Event, Failed, TextDelta, Trained

log = logging.getLogger(__name__)


@dataclass
class JobResult:
    """Everything a job produced, gathered from its events."""

    job_id: str = ""
    turn_id: str = ""
    candidates: list[CandidateReady] = field(default_factory=list)
    texts: dict[int, str] = field(default_factory=dict)  # streamed text per candidate index
    lora: str = ""  # personalisation: the LoRA it trained
    cancelled: bool = False
    error: Failed | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and not self.cancelled


class Job:
    """Made by `CocreateClient.generate` (or `.personalize`); its events end with exactly one Done or Failed."""

    def __init__(self, call_soon: Callable[..., object], on_event: Callable[[Event], None] | None = None) -> None:
        self._call_soon = call_soon  # runs a callable on the client thread
        self._on_event = on_event
        self._events: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._finished = threading.Event()
        self._result = JobResult()
        self._task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------ host thread

    @property
    def job_id(self) -> str:
        """The daemon's id, once Accepted arrived (for `CocreateClient.cancel`)."""
        return self._result.job_id

    @property
    def done(self) -> bool:
        return self._finished.is_set()

    def poll(self) -> list[Event]:
        """Every event that arrived since the last poll, oldest first; never blocks."""
        events = []
        with contextlib.suppress(queue.Empty):
            while True:
                events.append(self._events.get_nowait())
        return events

    def cancel(self) -> None:
        """Stop the job: the call is cancelled, the daemon drops the job, and Done(cancelled=True) follows."""
        self._call_soon(self._cancel_task)

    def wait(self, timeout: float | None = None) -> JobResult:
        """Block until the job ends; TimeoutError if it has not after `timeout` seconds."""
        if not self._finished.wait(timeout):
            raise TimeoutError(f"job {self.job_id or '(not accepted yet)'} still running after {timeout} s")
        with self._lock:
            return self._result

    # ------------------------------------------------------------ client thread

    def _start(self, events: AsyncGenerator[Event, None]) -> None:
        self._task = asyncio.get_running_loop().create_task(self._pump(events))
        self._task.add_done_callback(self._finish)

    async def _pump(self, events: AsyncGenerator[Event, None]) -> None:
        async with contextlib.aclosing(events):
            async for event in events:
                self._emit(event)

    def _cancel_task(self) -> None:
        # Runs after _start (the client thread runs callbacks in order), so the task exists.
        if self._task is not None:
            self._task.cancel()

    def _finish(self, task: asyncio.Task[None]) -> None:
        """Make sure the job ends with Done or Failed, however the call ended."""
        if self._finished.is_set():
            return
        if task.cancelled():
            self._emit(Done(self._result.turn_id, cancelled=True))
        elif isinstance(error := task.exception(), RequestError):
            self._emit(Failed(error.code, error.message))
        elif isinstance(error, DaemonUnavailable):
            self._emit(Failed("UNAVAILABLE", str(error)))
        elif error is not None:
            log.error("cocreate job failed", exc_info=error)
            self._emit(Failed("INTERNAL", f"client error: {error!r}"))
        else:
            self._emit(Failed("UNKNOWN", "the daemon ended the job's stream without Done"))

    def _emit(self, event: Event) -> None:
        if self._finished.is_set():
            return  # the daemon's Done already closed this job
        with self._lock:
            result = self._result
            if isinstance(event, Accepted):
                result.job_id, result.turn_id = event.job_id, event.turn_id
            elif isinstance(event, TextDelta):
                result.texts[event.index] = result.texts.get(event.index, "") + event.text
            elif isinstance(event, CandidateReady):
                result.candidates.append(event)
            elif isinstance(event, Trained):
                result.lora = event.lora
            elif isinstance(event, Done):
                result.turn_id, result.cancelled = event.turn_id or result.turn_id, event.cancelled
            elif isinstance(event, Failed):
                result.error = event
        self._events.put(event)
        if isinstance(event, (Done, Failed)):
            self._finished.set()
        if self._on_event is not None:
            try:
                self._on_event(event)
            except Exception:
                log.exception("cocreate on_event callback failed")
