"""Blocking client calls on one worker thread; their results come back on the thread that pumps.

CocreateClient's unary calls (sessions, feedback, GetCandidate, models) block until the daemon
answers. Krita's main thread must never wait on the network, so it submits them here and the
docker's timer calls `pump()`, which runs each call's callback on the main thread.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


class Calls:
    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cocreate-calls")
        self._waiting: list[tuple[Future[Any], Callable[[Any], None], Callable[[BaseException], None]]] = []

    @property
    def busy(self) -> bool:
        return bool(self._waiting)

    def submit(self, work: Callable[[], T], done: Callable[[T], None], failed: Callable[[BaseException], None]) -> None:
        """Run `work()` on the worker; `done(result)` or `failed(error)` follows on the pumping thread."""
        self._waiting.append((self._pool.submit(work), done, failed))

    def pump(self) -> None:
        """Deliver every finished call's outcome, in the order they were submitted; never blocks."""
        finished = [entry for entry in self._waiting if entry[0].done()]
        self._waiting = [entry for entry in self._waiting if entry not in finished]
        for future, done, failed in finished:
            error = future.exception()
            if error is None:
                done(future.result())
            else:
                failed(error)

    def close(self) -> None:
        """Drop calls not started yet; one already running ends at its client timeout."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._waiting = []
