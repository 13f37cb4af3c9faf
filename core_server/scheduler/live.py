"""The live-painting lane: the newest live request of a session wins, and live jobs do not wait behind
other clients' long jobs.

With one device, "do not wait" means two things. Waiting live jobs are served by their own worker
before anything in the fair queue. And while a live job waits or runs, a running non-live job on
another model pauses at its next step (its PausableToken) and resumes when the lane is empty, so the
device serves the live job alone. A non-live job on the live job's own model is not paused: a pipeline
cannot run two calls at once, and the live job takes the model as soon as that job's call ends.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from .jobs import Job

PAUSED_STAGE = "paused for live"  # the stage a job's time held for live work goes under


class LiveLane:
    """Waiting live jobs in arrival order, and the newest live job of each (owner, session), whatever its
    state. Not thread-safe: the scheduler locks it."""

    def __init__(self) -> None:
        self._waiting: deque[Job] = deque()
        self._newest: dict[tuple[str, str], Job] = {}

    def __len__(self) -> int:
        return len(self._waiting)

    def push(self, job: Job) -> Job | None:
        """Queue a live job; returns the job it supersedes (its session's previous newest), marked so."""
        key = (job.owner, job.session)
        older = self._newest.get(key)
        self._newest[key] = job
        if older is not None:
            older.superseded = True
        self._waiting.append(job)
        return older

    def pop(self) -> Job | None:
        return self._waiting.popleft() if self._waiting else None

    def find(self, job_id: str) -> Job | None:
        return next((job for job in self._waiting if job.id == job_id), None)

    def remove(self, job_id: str) -> Job | None:
        job = self.find(job_id)
        if job is not None:
            self._waiting.remove(job)
        return job

    def settle(self, job: Job) -> bool:
        """The job finished: True when its result stands, and from now on no newer request supersedes it (its
        candidates are stored and sent as any finished job's); False when a newer request superseded it already."""
        if job.superseded:
            return False
        self.forget(job)
        return True

    def forget(self, job: Job) -> None:
        """The job's caller is done with it; drop it unless a newer one replaced it already."""
        key = (job.owner, job.session)
        if self._newest.get(key) is job:
            del self._newest[key]

    def drain(self) -> list[Job]:
        jobs = list(self._waiting)
        self._waiting.clear()
        return jobs

    def models(self, running: Iterable[Job]) -> set[str]:
        """The models live work needs now: waiting live jobs' and running ones'."""
        return {job.model for job in (*self._waiting, *running) if job.live}


def yield_to_live(running: Iterable[Job], live_models: set[str]) -> set[str]:
    """Pause each running non-live job whose model no live job needs while live work is pending; resume
    every other one. Returns the paused jobs' models, which must stay loaded."""
    paused = set()
    for job in running:
        if job.live:
            continue
        if live_models and job.model not in live_models:
            job.cancel_token.pause()
            paused.add(job.model)
        else:
            job.cancel_token.resume()
    return paused
