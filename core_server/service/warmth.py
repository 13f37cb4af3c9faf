"""Warm start and keep-alive: load the default image model in the background as the daemon starts,
and unload models no job has used for a while."""

from __future__ import annotations

import asyncio
import logging

from ..models.catalog import ModelCatalog
from ..scheduler.residency import Residency

log = logging.getLogger(__name__)


async def preload(catalog: ModelCatalog, residency: Residency) -> None:
    """Load the default image model, so the first request does not wait for it; a failure is only logged
    (the first request then loads it and reports the error)."""
    try:
        entry = await asyncio.to_thread(catalog.resolve, "", "image")
        await asyncio.to_thread(residency.acquire, entry.name, entry)
        residency.release(entry.name)
    except Exception:
        log.exception("could not preload the default image model")


async def unload_idle(residency: Residency, keep_alive_s: float) -> None:
    """Forever: unload models idle for `keep_alive_s`, looking a few times per keep-alive period."""
    interval = min(max(keep_alive_s / 4, 0.5), 30.0)
    while True:
        await asyncio.sleep(interval)
        await asyncio.to_thread(residency.unload_idle, keep_alive_s)
