"""One worker thread per device runs jobs from a fair, bounded queue; cancel works queued or running."""

from __future__ import annotations

import logging
import threading
import time

from .. import metrics
from ..tasks import Cancelled, EngineError, EngineEvent, EngineUnavailable, GenerationResult, PersonalizeTask, Trainer
from .fair_queue import FairQueue
from .jobs import Failed, Finished, Job, QueuedAt, WasCancelled
from .residency import Residency
from .runner import EngineRunner, LocalRunner

log = logging.getLogger(__name__)


class QueueFull(Exception):
    """More jobs are waiting than the daemon accepts; the client should retry later."""


def _no_trainer(*_: object) -> None:
    raise EngineError("this daemon cannot train LoRAs")


class Scheduler:
    """Runs generation jobs with `runner` (default: on engines from `residency`), and personalisation jobs
    with `train` (which loads its own copy of the base model: training changes weights a loaded engine must keep).

    Each of `devices` is a worker thread running one job at a time: a device here, or a slot for a job
    in flight to a cluster."""

    def __init__(
        self,
        residency: Residency,
        *,
        max_queue: int,
        devices: tuple[str, ...] = ("default",),
        train: Trainer = _no_trainer,
        runner: EngineRunner | None = None,
    ) -> None:
        self.residency = residency
        self.runner = runner or LocalRunner(residency)
        self._train = train
        self._max_queue = max_queue
        self._queue = FairQueue()
        self._running: dict[str, Job] = {}  # by job id
        self._positions: dict[str, int] = {}
        self._wake = threading.Condition()
        self._stopping = False
        self._workers = [
            threading.Thread(target=self._work, name=f"worker-{device}", daemon=True) for device in devices
        ]
        for worker in self._workers:
            worker.start()

    # ------------------------------------------------------------ service side (event loop thread)

    def submit(self, job: Job) -> int:
        """Queue the job; returns its position (0 = it starts now). Raises QueueFull."""
        with self._wake:
            if self._stopping:
                raise QueueFull("the daemon is shutting down")
            if len(self._queue) >= self._max_queue:
                raise QueueFull(f"{len(self._queue)} jobs are already waiting; try again when some have finished")
            self._queue.push(job)
            self._reposition()
            self._wake.notify()
            return self._positions.get(job.id, 0)

    def cancel(self, job_id: str) -> bool | None:
        """True: was running (stops within one step); False: removed from the queue; None: unknown."""
        with self._wake:
            job = self._queue.remove(job_id)
            if job is not None:
                self._positions.pop(job_id, None)
                job.publish(WasCancelled())
                self._reposition()
                return False
            running = self._running.get(job_id)
        if running is not None:
            running.cancel_token.cancel()
            return True
        return None

    def queue_length(self) -> int:
        with self._wake:
            return len(self._queue)

    def running_job_ids(self, owner: str | None = None) -> list[str]:
        """Every running job, or only those `owner` started."""
        with self._wake:
            return [job.id for job in self._running.values() if owner is None or job.owner == owner]

    def owner_of(self, job_id: str) -> str | None:
        """Who started a queued or running job; None when there is no such job."""
        with self._wake:
            job = self._running.get(job_id) or self._queue.find(job_id)
            return job.owner if job is not None else None

    def shutdown(self, timeout: float = 10.0) -> None:
        """Cancel everything, queued and running, and wait for the workers."""
        with self._wake:
            self._stopping = True
            while (job := self._queue.pop()) is not None:
                job.publish(WasCancelled())
            for job in self._running.values():
                job.cancel_token.cancel()
            self._wake.notify_all()
        for worker in self._workers:
            worker.join(timeout)
        self.runner.close()

    # ------------------------------------------------------------ worker threads

    def _reposition(self) -> None:
        """Tell every waiting job whose place changed (caller holds the lock)."""
        busy = len(self._running) >= len(self._workers)
        for index, job in enumerate(self._queue.in_service_order()):
            position = index + 1 if busy else index
            if self._positions.get(job.id) != position:
                if job.id in self._positions:
                    job.publish(QueuedAt(position))
                self._positions[job.id] = position

    def _next_job(self) -> Job | None:
        with self._wake:
            while not self._stopping:
                job = self._queue.pop()
                if job is not None:
                    self._positions.pop(job.id, None)
                    self._running[job.id] = job
                    self._reposition()
                    return job
                self._wake.wait()
            return None

    def _work(self) -> None:
        while (job := self._next_job()) is not None:
            try:
                self._run(job)
            finally:
                with self._wake:
                    self._running.pop(job.id, None)
                    self._reposition()

    def _run(self, job: Job) -> None:
        def emit(event: EngineEvent) -> None:
            job.publish(event)

        waited = time.monotonic() - job.submitted
        job.stages.add("queued", waited)
        metrics.QUEUE_WAIT.labels(metrics.task_label(job.task)).observe(waited)
        try:
            job.cancel_token.check()
            if isinstance(job.task, PersonalizeTask):
                self._train(job.model_entry, job.task, emit, job.cancel_token)
                result = GenerationResult()
            else:
                result = self.runner.run(job, emit)
            job.stages.extend(result.stages)
        except Cancelled:
            job.publish(WasCancelled())
        except (EngineError, EngineUnavailable) as error:  # the person is told: no traceback in the log
            log.info("job %s refused: %s", job.id, error)
            job.publish(Failed(error))
        except Exception as error:  # reported to the caller as a status; the worker lives on
            log.exception("job %s failed", job.id)
            job.publish(Failed(error))
        else:
            job.publish(Finished(result))
