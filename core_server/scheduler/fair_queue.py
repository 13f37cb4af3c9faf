"""A queue that serves clients in turn, so one busy client cannot starve another."""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Iterator

from .jobs import Job


class FairQueue:
    """Round-robin over clients, FIFO within a client. Not thread-safe: the scheduler locks it."""

    def __init__(self) -> None:
        self._by_client: OrderedDict[str, deque[Job]] = OrderedDict()

    def __len__(self) -> int:
        return sum(len(jobs) for jobs in self._by_client.values())

    def push(self, job: Job) -> None:
        self._by_client.setdefault(job.client, deque()).append(job)

    def pop(self) -> Job | None:
        """The next client's oldest job; that client then goes to the back of the line."""
        for client, jobs in self._by_client.items():
            job = jobs.popleft()
            del self._by_client[client]
            if jobs:
                self._by_client[client] = jobs
            return job
        return None

    def find(self, job_id: str) -> Job | None:
        return next((job for jobs in self._by_client.values() for job in jobs if job.id == job_id), None)

    def remove(self, job_id: str) -> Job | None:
        for client, jobs in self._by_client.items():
            for job in jobs:
                if job.id == job_id:
                    jobs.remove(job)
                    if not jobs:
                        del self._by_client[client]
                    return job
        return None

    def in_service_order(self) -> Iterator[Job]:
        """The order pop() would hand the jobs out, if nothing else arrived."""
        lanes = [list(jobs) for jobs in self._by_client.values()]
        depth = 0
        while any(depth < len(lane) for lane in lanes):
            for lane in lanes:
                if depth < len(lane):
                    yield lane[depth]
            depth += 1
