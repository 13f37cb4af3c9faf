"""Which models are loaded: lazy loading on first use, least-recently-used unloading past a budget."""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..tasks import Engine

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Resident:
    name: str
    device: str
    dtype: str
    memory_bytes: int
    last_used: float


class Residency:
    """Holds loaded engines by model name. Called from worker threads; guarded by a lock."""

    def __init__(self, load: Callable[[Any], Engine], max_memory_bytes: int | None) -> None:
        self._load = load
        self._budget = max_memory_bytes
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._used: dict[str, float] = {}
        self._lock = threading.Lock()

    @property
    def budget(self) -> int | None:
        return self._budget

    def acquire(self, name: str, entry: Any) -> Engine:
        """The loaded engine for `name`, loading it (and unloading others past the budget) if needed."""
        with self._lock:
            engine = self._engines.get(name)
            if engine is None:
                started = time.monotonic()
                engine = self._load(entry)
                log.info("loaded %s on %s/%s in %.1fs", name, engine.device, engine.dtype, time.monotonic() - started)
                self._engines[name] = engine
            self._engines.move_to_end(name)
            self._used[name] = time.time()
            self._evict_past_budget(keep=name)
            return engine

    def unload(self, name: str) -> bool:
        with self._lock:
            return self._unload(name)

    def residents(self) -> list[Resident]:
        with self._lock:
            return [
                Resident(name, e.device, e.dtype, e.memory_bytes, self._used.get(name, 0.0))
                for name, e in self._engines.items()
            ]

    def close(self) -> None:
        with self._lock:
            for name in list(self._engines):
                self._unload(name)

    def _evict_past_budget(self, keep: str) -> None:
        if self._budget is None:
            return
        for name in list(self._engines):  # oldest first
            if sum(e.memory_bytes for e in self._engines.values()) <= self._budget:
                return
            if name != keep:
                log.info("unloading %s: over the %d MiB memory budget", name, self._budget >> 20)
                self._unload(name)

    def _unload(self, name: str) -> bool:
        engine = self._engines.pop(name, None)
        self._used.pop(name, None)
        if engine is None:
            return False
        engine.close()
        gc.collect()
        return True
