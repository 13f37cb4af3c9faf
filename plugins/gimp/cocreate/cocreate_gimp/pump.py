"""GLib's main loop on the plug-in's main thread, woken by the client thread whenever a job event arrives.

The client thread only schedules a drain (GLib.idle_add is thread-safe); draining and applying happen on the
main thread, where GIMP and GTK calls belong. Dialogs stay responsive because the same loop runs them.
`wait` does the same for a few blocking client calls (Keep This Candidate's feedback): they run on a
worker thread while the main thread runs the loop.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any, Protocol, TypeVar

from cocreate_client import Job
from cocreate_client.events import Event
from gi.repository import GLib

T = TypeVar("T")


class Handler(Protocol):
    """What a job's events go to on the main thread (apply.Apply, learn.Learning)."""

    finished: bool

    def handle(self, events: Iterable[Event]) -> bool:
        """Take events in order; True once the job is over."""
        ...

    def close(self) -> None: ...


def wait(work: Callable[[], T]) -> T:
    """`work()` on a worker thread, GLib's loop running here meanwhile; its result, or what it raised."""
    loop = GLib.MainLoop()
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = work()
        except BaseException as error:  # handed to the main thread, raised there
            outcome["error"] = error
        finally:
            GLib.idle_add(stop)

    def stop() -> bool:
        loop.quit()
        return GLib.SOURCE_REMOVE

    worker = threading.Thread(target=run, name="cocreate-gimp-wait", daemon=True)
    worker.start()
    loop.run()
    worker.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


class Pump:
    def __init__(self) -> None:
        self._loop = GLib.MainLoop()
        self._job: Job | None = None
        self._apply: Handler | None = None
        self._error: BaseException | None = None

    def wake(self, event: Event) -> None:
        """For CocreateClient.generate(on_event=...): runs on the client thread."""
        GLib.idle_add(self._drain)

    def run(self, job: Job, apply: Handler) -> None:
        """Apply the job's events until it is over; re-raises what applying raised."""
        self._job, self._apply = job, apply
        self._drain()
        if not apply.finished:
            self._loop.run()
        if self._error is not None:
            raise self._error

    def _drain(self) -> bool:
        if self._job is None or self._apply is None or self._apply.finished:
            return GLib.SOURCE_REMOVE
        try:
            done = self._apply.handle(self._job.poll())
        except Exception as error:  # an exception must not strand the loop: stop, then raise from run()
            self._error = error
            self._apply.close()
            self._job.cancel()
            done = True
        if done and self._loop.is_running():
            self._loop.quit()
        return GLib.SOURCE_REMOVE
