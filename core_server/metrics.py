"""Prometheus metrics of the daemon, served on `cocreate serve --metrics-port N` (loopback unless told).

Whatever runs jobs reports here: the scheduler on a single machine; a cluster front for its replicas. The
labels are task names and end states only: no prompt, id or identity ever becomes a label.
"""

from __future__ import annotations

import threading
from wsgiref.simple_server import WSGIServer

from prometheus_client import Counter, Gauge, Histogram, start_http_server

from .tasks import TASK_NAMES, PersonalizeTask, Task

# Seconds: from a few milliseconds (a tiny model's step, an idle queue) to minutes (a long queue).
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)

JOBS = Counter("cocreate_jobs", "Jobs that ended, by task and how they ended", ["task", "status"])
QUEUE_WAIT = Histogram(
    "cocreate_queue_wait_seconds", "Time a job waited in the queue before a worker took it", ["task"], buckets=_BUCKETS
)
STEP = Histogram(
    "cocreate_step_seconds",
    "Time between two steps of a job (a denoising step, a token, a training step), previews included",
    ["task"],
    buckets=_BUCKETS,
)
QUEUE_DEPTH = Gauge("cocreate_queue_depth", "Jobs waiting for a worker")
REPLICAS = Gauge("cocreate_replicas", "Engine replicas serving jobs: 1 for a single daemon")


def task_label(task: Task | PersonalizeTask) -> str:
    if isinstance(task, PersonalizeTask):
        return "personalize"
    return TASK_NAMES.get(type(task), type(task).__name__)


class StepClock:
    """Observes the time between a job's consecutive steps: the first step's wait (a model load, the
    encodings) is not a step time."""

    def __init__(self, task: str) -> None:
        self._histogram = STEP.labels(task)
        self._last: float | None = None

    def step(self, now: float) -> None:
        if self._last is not None:
            self._histogram.observe(now - self._last)
        self._last = now


def serve_metrics(host: str, port: int) -> tuple[WSGIServer, threading.Thread]:
    """Start the /metrics HTTP endpoint on a daemon thread; `port` 0 takes a free one (server.server_port)."""
    return start_http_server(port, addr=host)
