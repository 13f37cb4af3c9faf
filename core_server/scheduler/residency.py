"""Which models are loaded: lazy loading on first use, least-recently-used unloading past a budget,
and unloading of models idle longer than the keep-alive."""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from ..peak_memory import peak_resident
from ..tasks import Engine

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Resident:
    name: str
    device: str
    dtype: str
    memory_bytes: int
    last_used: float
    load_seconds: float = 0.0
    load_peak_rss_bytes: int = 0  # the daemon's peak resident memory while loading it; 0: unknown


class Residency:
    """Holds loaded engines by model name. Called from worker threads; guarded by a lock."""

    def __init__(self, load: Callable[[Any], Engine], max_memory_bytes: int | None) -> None:
        self._load = load
        self._budget = max_memory_bytes
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._used: dict[str, float] = {}
        self._busy: dict[str, int] = {}  # jobs holding each engine: acquired, not yet released
        self._loads: dict[str, tuple[float, int]] = {}  # seconds and peak resident bytes of each load
        self._kept: frozenset[str] = frozenset()  # models of paused jobs (scheduler.live): never evicted
        self._lock = threading.Lock()

    @property
    def budget(self) -> int | None:
        return self._budget

    def acquire(self, name: str, entry: Any) -> Engine:
        """The loaded engine for `name`, loading it (and unloading others past the budget) if needed.

        A job that runs on it calls release(name) when done; until then idle unloading leaves it."""
        with self._lock:
            engine = self._engines.get(name)
            if engine is None:
                started = time.monotonic()
                with peak_resident() as peak:
                    engine = self._load(entry)
                seconds = time.monotonic() - started
                log.info(
                    "loaded %s on %s/%s in %.1f s, peak resident memory %.2f GiB",
                    *(name, engine.device, engine.dtype, seconds, peak.bytes / 2**30),
                )
                self._engines[name] = engine
                self._loads[name] = (seconds, peak.bytes)
            self._engines.move_to_end(name)
            self._used[name] = time.time()
            self._busy[name] = self._busy.get(name, 0) + 1
            self._evict_past_budget(keep={name, *self._kept})
            return engine

    def keep_loaded(self, names: Collection[str]) -> None:
        """Models that stay loaded past the budget while their jobs are paused; replaces the previous set.

        Without the lock (one attribute, replaced whole): the scheduler calls this holding its own lock, and
        a load can hold this one for minutes."""
        self._kept = frozenset(names)

    def release(self, name: str) -> None:
        """A job acquired `name` and is done with it; its idle time starts now."""
        with self._lock:
            if self._busy.get(name, 0) > 0:
                self._busy[name] -= 1
            if name in self._engines:
                self._used[name] = time.time()

    def unload_idle(self, keep_alive_s: float) -> list[str]:
        """Unload every model no job has used for `keep_alive_s` seconds; returns their names."""
        with self._lock:
            cutoff = time.time() - keep_alive_s
            idle = [n for n in self._engines if not self._busy.get(n) and self._used.get(n, 0.0) <= cutoff]
            for name in idle:
                log.info("unloading %s: idle for %.0f s", name, keep_alive_s)
                self._unload(name)
            return idle

    def unload(self, name: str) -> bool:
        with self._lock:
            return self._unload(name)

    def residents(self) -> list[Resident]:
        with self._lock:
            return [
                Resident(name, e.device, e.dtype, e.memory_bytes, self._used.get(name, 0.0), *self._loads[name])
                for name, e in self._engines.items()
            ]

    def close(self) -> None:
        with self._lock:
            for name in list(self._engines):
                self._unload(name)

    def _evict_past_budget(self, keep: Collection[str]) -> None:
        if self._budget is None:
            return
        for name in list(self._engines):  # oldest first
            if sum(e.memory_bytes for e in self._engines.values()) <= self._budget:
                return
            if name not in keep:
                log.info("unloading %s: over the %d MiB memory budget", name, self._budget >> 20)
                self._unload(name)

    def _unload(self, name: str) -> bool:
        engine = self._engines.pop(name, None)
        self._used.pop(name, None)
        self._busy.pop(name, None)
        self._loads.pop(name, None)
        if engine is None:
            return False
        engine.close()
        gc.collect()
        return True
