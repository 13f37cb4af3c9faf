"""Where a job's time goes: seconds per named stage, recorded where each stage runs.

The engine times its own stages (encodings, UNet steps, previews, decode, composite) and the service
its (request, queue, store, reply); both end up on the job's Done event and in the debug log, so a
slow run names its stage (bench/overhead.py prints them).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterable, Iterator


class Stages:
    """Seconds per stage, in the order stages first ran; a stage that runs again adds up. Thread-safe."""

    def __init__(self) -> None:
        self._seconds: dict[str, float] = {}
        self._lock = threading.Lock()

    def add(self, name: str, seconds: float) -> None:
        with self._lock:
            self._seconds[name] = self._seconds.get(name, 0.0) + seconds

    def extend(self, stages: Iterable[tuple[str, float]]) -> None:
        for name, seconds in stages:
            self.add(name, seconds)

    @contextlib.contextmanager
    def timed(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - start)

    def items(self) -> tuple[tuple[str, float], ...]:
        with self._lock:
            return tuple(self._seconds.items())

    def total(self) -> float:
        with self._lock:
            return sum(self._seconds.values())

    def describe(self) -> str:
        """'unet 8.12 s, vae decode 0.91 s, ...': for the log."""
        return ", ".join(f"{name} {seconds:.3f} s" for name, seconds in self.items())
