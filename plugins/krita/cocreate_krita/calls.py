"""Blocking client calls on one worker thread; their results come back on the thread that pumps.

CocreateClient's unary calls (sessions, feedback, GetCandidate, models) block until the daemon
answers. Krita's main thread must never wait on the network, so it submits them here and the
docker's timer calls `pump()`, which runs each call's callback on the main thread. The worker is a
daemon thread, so a call still waiting on a daemon never holds up Krita's exit.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)


class _Call(Generic[T]):
    def __init__(self, work: Callable[[], T], done: Callable[[T], None], failed: Callable[[BaseException], None]):
        self.work, self.done, self.failed = work, done, failed
        self.result: T | None = None
        self.error: BaseException | None = None
        self.finished = threading.Event()

    def run(self) -> None:
        try:
            self.result = self.work()
        except BaseException as error:  # handed to the main thread, which reports it
            self.error = error
        self.finished.set()


class Calls:
    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[_Call[Any]] = queue.SimpleQueue()
        self._waiting: list[_Call[Any]] = []
        threading.Thread(target=self._serve, name="cocreate-calls", daemon=True).start()

    @property
    def busy(self) -> bool:
        return bool(self._waiting)

    def submit(self, work: Callable[[], T], done: Callable[[T], None], failed: Callable[[BaseException], None]) -> None:
        """Run `work()` on the worker; `done(result)` or `failed(error)` follows on the pumping thread."""
        call = _Call(work, done, failed)
        self._waiting.append(call)
        self._queue.put(call)

    def pump(self) -> None:
        """Deliver every finished call's outcome, in the order they were submitted; never blocks.

        A callback may run Krita's event loop, so this may be entered again from inside it: each call
        is taken off the waiting list before its callback runs, and is delivered once."""
        finished = [call for call in self._waiting if call.finished.is_set()]
        self._waiting = [call for call in self._waiting if call not in finished]
        for call in finished:
            try:
                if call.error is None:
                    call.done(call.result)
                else:
                    call.failed(call.error)
            except Exception:  # one callback's bug must not drop the outcomes after it
                log.exception("cocreate: a call's callback failed")

    def _serve(self) -> None:
        while True:
            self._queue.get().run()
