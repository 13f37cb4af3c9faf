"""Where a scheduled generation job runs: on engines loaded in this process, or elsewhere (a cluster).

The scheduler decides when a job runs; a runner decides where, and reports back through `emit`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ..tasks import Emit, GenerationResult
from .jobs import Job
from .live import PAUSED_STAGE
from .residency import Residency


class EngineRunner(Protocol):
    def run(self, job: Job, emit: Emit) -> GenerationResult:
        """Run the job's task to its end; raises Cancelled, EngineError or EngineUnavailable."""
        ...

    def close(self) -> None:
        """Release what the runner holds (loaded engines, a cluster connection)."""
        ...

    def cluster(self) -> ClusterInfo | None:
        """The cluster's replicas and queue; None on a single machine."""
        ...


class LocalRunner:
    """Today's single machine: the engine is loaded (or found) in `residency` and runs on this thread."""

    def __init__(self, residency: Residency) -> None:
        self.residency = residency

    def run(self, job: Job, emit: Emit) -> GenerationResult:
        with job.stages.timed("model"):  # a load when the model is not resident yet
            engine = self.residency.acquire(job.model, job.model_entry)
        try:
            job.cancel_token.check()
            return engine.run(job.task, job.seeds, previews=job.previews, emit=emit, cancel=job.cancel_token)
        finally:
            self.residency.release(job.model)
            if job.cancel_token.held_s:
                job.stages.add(PAUSED_STAGE, job.cancel_token.held_s)

    def close(self) -> None:
        self.residency.close()

    def cluster(self) -> ClusterInfo | None:
        return None


@dataclass(frozen=True)
class ReplicaInfo:
    """One engine replica of a cluster, as `cocreate health` shows it."""

    id: str
    kind: str  # 'image' or 'text'
    state: str  # Serve's: RUNNING, STARTING, STOPPING...
    node: str
    pid: int
    models: tuple[str, ...]  # the models it has loaded, most recently used last
    running: int  # jobs it runs now for this front


@dataclass(frozen=True)
class ClusterInfo:
    address: str
    replicas: tuple[ReplicaInfo, ...]
    waiting: int  # jobs handed to the cluster that no replica has started yet
