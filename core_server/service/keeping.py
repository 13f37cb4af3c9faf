"""Candidates are sent before they are kept: their PNG encodes, files and rows are written while the stream
already carries their pixels. A call naming a candidate still being written waits for it; one whose writing
failed is told plainly that the candidate was not kept, never a wrong answer."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


class CandidatesLost(Exception):
    """Candidates were sent to the caller but could not be stored: they are not in the session."""


class Keeping:
    """The candidates being written now, and their turns, by id, each with the write that keeps it."""

    def __init__(self) -> None:
        self._writes: dict[str, asyncio.Future[object]] = {}

    def start(self, ids: Sequence[str], write: Callable[[], T]) -> asyncio.Future[T]:
        """Run `write` (blocking: PNG encodes, files, rows) in a thread; until it ends, `kept` waits for `ids`
        (a turn's and its candidates')."""
        future: asyncio.Future[T] = asyncio.ensure_future(asyncio.to_thread(write))
        for id in ids:
            self._writes[id] = future  # type: ignore[assignment]

        def ended(done: asyncio.Future[T]) -> None:
            for id in ids:
                self._writes.pop(id, None)
            if not done.cancelled() and done.exception() is not None:  # retrieved here: logged once
                log.error("candidates %s were sent but not kept", ", ".join(ids), exc_info=done.exception())

        future.add_done_callback(ended)
        return future

    async def kept(self, *ids: str | None) -> None:
        """Returns once these candidates and turns are stored (at once when none is being written); raises
        CandidatesLost when writing one failed."""
        for id in ids:
            write = self._writes.get(id) if id else None
            if write is not None:
                await written(write, f"candidate or turn {id}")


async def written(write: asyncio.Future[T], what: str) -> T:
    """The write's result; CandidatesLost when it failed. A caller that leaves stops waiting, never the write."""
    try:
        return await asyncio.shield(write)
    except asyncio.CancelledError:
        raise
    except Exception as error:
        raise CandidatesLost(
            f"{what}: sent, but not kept ({error}). It is not in the session: keep what you received, "
            "or generate again once the daemon's disk or database works"
        ) from error
