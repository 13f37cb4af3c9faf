"""An asyncio event loop on one daemon thread, so a host's main thread never runs or awaits it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class BackgroundLoop:
    """Started at construction; `close()` cancels what still runs and ends the thread."""

    def __init__(self, name: str = "cocreate-client") -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run on the loop thread and block the caller until it returns (or raises)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def call_soon(self, callback: Callable[..., object], *args: object) -> None:
        """Run `callback(*args)` on the loop thread, in the order of calls; returns at once."""
        self._loop.call_soon_threadsafe(callback, *args)

    def close(self, last: Callable[[], object] | None = None) -> None:
        """Cancel every task, run `last()` on the loop thread, stop it. Idempotent; not from the loop thread."""
        if self._loop.is_closed():
            return
        self.run(self._cancel_all(last))
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    @staticmethod
    async def _cancel_all(last: Callable[[], object] | None) -> None:
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if last is not None:
            last()
