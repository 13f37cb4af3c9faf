"""Keep-alive: models idle past it are unloaded; a model a job still holds is not."""

from __future__ import annotations

import time

from core_server.scheduler.residency import Residency
from tests.unit.test_residency import FakeEngine


def test_idle_models_are_unloaded_and_busy_ones_kept() -> None:
    closed: list[str] = []
    residency = Residency(lambda name: FakeEngine(name, 1, closed), max_memory_bytes=None)
    residency.acquire("idle", "idle")
    residency.release("idle")
    residency.acquire("busy", "busy")  # a job is running on it
    assert residency.unload_idle(keep_alive_s=60) == []  # nothing idle that long
    time.sleep(0.05)
    assert residency.unload_idle(keep_alive_s=0.01) == ["idle"]
    assert closed == ["idle"]
    residency.release("busy")
    assert residency.unload_idle(keep_alive_s=0.01) == []  # released just now: its idle time starts there
    time.sleep(0.05)
    assert residency.unload_idle(keep_alive_s=0.01) == ["busy"]
    assert residency.residents() == []
