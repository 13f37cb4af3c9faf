"""The live lane behind a front: a long job pauses on its replica while a live job runs on hardware it shares.

On one machine, while live work is pending, the scheduler pauses the running non-live jobs on other models
at their next step (scheduler.live), so the device serves the live job alone. Behind a front those jobs run
on replicas. The front relays a job's pause to its replica only while a live job runs on a replica that
shares its hardware: the same machine's CPUs, or a GPU both hold (fractional --replica-gpus). A replica on
other hardware keeps going, since pausing it would not speed the live job. A live job still waiting for a
replica pauses nothing either: a paused job keeps its replica, so with one replica that would deadlock.

The front writes the paused jobs on a small actor it owns (PauseBoard); the replica running one of them
reads it every POLL_S and holds its engine at the next step."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import ray
from ray.exceptions import RayError

from ..scheduler.jobs import PausableToken

POLL_S = 0.1
ANSWER_TIMEOUT_S = 5


@dataclass(frozen=True)
class Hardware:
    """Where a replica computes: its machine (the node's IP: Ray nodes on one machine share its CPUs) and
    the GPUs Ray gave it."""

    node_ip: str
    gpus: tuple[str, ...] = ()

    @classmethod
    def here(cls) -> Hardware:
        gpus = ray.get_runtime_context().get_accelerator_ids().get("GPU", [])
        return cls(ray.util.get_node_ip_address(), tuple(gpus))

    def shared_with(self, other: Hardware) -> bool:
        if self.node_ip != other.node_ip:
            return False
        if self.gpus or other.gpus:
            return bool(set(self.gpus) & set(other.gpus))
        return True


def hold_for_live(job: Hardware, live_jobs: Iterable[Hardware]) -> bool:
    """Whether a job the scheduler paused holds on its replica: a running live job shares its hardware."""
    return any(job.shared_with(live) for live in live_jobs)


@ray.remote(num_cpus=0)
class PauseBoard:
    """The jobs the front holds on their replicas."""

    def __init__(self) -> None:
        self._paused: set[str] = set()

    def set(self, job_id: str, paused: bool) -> None:
        if paused:
            self._paused.add(job_id)
        else:
            self._paused.discard(job_id)

    def paused(self, job_id: str) -> bool:
        return job_id in self._paused


def follow_board(board: Any, job_id: str, token: PausableToken, finished: threading.Event) -> None:
    """On the replica, while the job runs: pause or resume its engine as the front's board says."""
    while not finished.wait(POLL_S):
        try:
            paused = ray.get(board.paused.remote(job_id), timeout=ANSWER_TIMEOUT_S)
        except RayError:  # the front is gone: nobody is left to resume the job
            break
        if paused:
            token.pause()
        else:
            token.resume()
    token.resume()
