"""One worker thread per device runs jobs from a fair, bounded queue, and one more runs live-painting jobs
(scheduler.live); cancel works queued or running."""

from __future__ import annotations

import logging
import threading
import time

from .. import metrics
from ..tasks import Cancelled, EngineError, EngineEvent, EngineUnavailable, GenerationResult, PersonalizeTask, Trainer
from .fair_queue import FairQueue
from .jobs import Failed, Finished, Job, QueuedAt, WasCancelled
from .live import LiveLane, yield_to_live
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
        self._live = LiveLane()
        self._running: dict[str, Job] = {}  # by job id
        self._positions: dict[str, int] = {}
        self._wake = threading.Condition()
        self._stopping = False
        self._workers = [
            threading.Thread(target=self._work, args=(False,), name=f"worker-{device}", daemon=True)
            for device in devices
        ]
        live_worker = threading.Thread(target=self._work, args=(True,), name="worker-live", daemon=True)
        for worker in (*self._workers, live_worker):
            worker.start()
        self._workers.append(live_worker)

    # ------------------------------------------------------------ service side (event loop thread)

    def submit(self, job: Job) -> int:
        """Queue the job; returns its position (0 = it starts now). Raises QueueFull.

        A live job supersedes its session's previous live job (cancelled, queued or running) and goes to
        the live lane, ahead of the fair queue; its position is 0."""
        with self._wake:
            if self._stopping:
                raise QueueFull("the daemon is shutting down")
            waiting = len(self._queue) + len(self._live)
            if waiting >= self._max_queue:
                raise QueueFull(f"{waiting} jobs are already waiting; try again when some have finished")
            if job.live:
                older = self._live.push(job)
                if older is not None:
                    self._cancel(older.id)
                self._yield_to_live()
            else:
                self._queue.push(job)
                self._reposition()
            self._wake.notify_all()
            return self._positions.get(job.id, 0)

    def cancel(self, job_id: str) -> bool | None:
        """True: was running (stops within one step); False: removed from the queue; None: unknown."""
        with self._wake:
            return self._cancel(job_id)

    def settle(self, job: Job) -> bool:
        """The job finished: True when its result stands (always, unless a newer live request of its session
        superseded it first); a live job's result that stands is no longer superseded by newer requests."""
        if not job.live:
            return True
        with self._wake:
            return self._live.settle(job)

    def forget_live(self, job: Job) -> None:
        """A live job's caller has its answer; the lane stops tracking it as its session's newest."""
        with self._wake:
            self._live.forget(job)

    def _cancel(self, job_id: str) -> bool | None:
        job = self._queue.remove(job_id) or self._live.remove(job_id)
        if job is not None:
            self._positions.pop(job_id, None)
            job.publish(WasCancelled())
            self._reposition()
            self._yield_to_live()
            return False
        running = self._running.get(job_id)
        if running is not None:
            running.cancel_token.cancel()
            return True
        return None

    def queue_length(self) -> int:
        with self._wake:
            return len(self._queue) + len(self._live)

    def running_job_ids(self, owner: str | None = None) -> list[str]:
        """Every running job, or only those `owner` started."""
        with self._wake:
            return [job.id for job in self._running.values() if owner is None or job.owner == owner]

    def owner_of(self, job_id: str) -> str | None:
        """Who started a queued or running job; None when there is no such job."""
        with self._wake:
            job = self._running.get(job_id) or self._queue.find(job_id) or self._live.find(job_id)
            return job.owner if job is not None else None

    def shutdown(self, timeout: float = 10.0) -> None:
        """Cancel everything, queued and running, and wait for the workers."""
        with self._wake:
            self._stopping = True
            while (job := self._queue.pop()) is not None:
                job.publish(WasCancelled())
            for job in self._live.drain():
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
        busy = sum(not job.live for job in self._running.values()) >= len(self._workers) - 1
        for index, job in enumerate(self._queue.in_service_order()):
            position = index + 1 if busy else index
            if self._positions.get(job.id) != position:
                if job.id in self._positions:
                    job.publish(QueuedAt(position))
                self._positions[job.id] = position

    def _yield_to_live(self) -> None:
        """Pause or resume the running non-live jobs as live work comes and goes (caller holds the lock)."""
        running = self._running.values()
        self.residency.keep_loaded(yield_to_live(running, self._live.models(running)))

    def _next_job(self, live: bool) -> Job | None:
        with self._wake:
            while not self._stopping:
                job = self._live.pop() if live else self._queue.pop()
                if job is not None:
                    self._positions.pop(job.id, None)
                    self._running[job.id] = job
                    self._reposition()
                    self._yield_to_live()
                    return job
                self._wake.wait()
            return None

    def _work(self, live: bool) -> None:
        while (job := self._next_job(live)) is not None:
            try:
                self._run(job)
            finally:
                with self._wake:
                    self._running.pop(job.id, None)
                    self._reposition()
                    self._yield_to_live()

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
