"""The live lane behind a front: a long job pauses on its replica while a live job runs on hardware it shares.

On one machine, while live work is pending, the scheduler pauses the running non-live jobs on other models
at their next step (scheduler.live), so the device serves the live job alone. Behind a front those jobs run
on replicas. A job the scheduler pauses holds on its replica only while a live job runs on a replica that
shares its hardware: the same machine's CPUs, or a GPU both hold (fractional --replica-gpus). A replica on
other hardware keeps going, since pausing it would not speed the live job. A live job still waiting for a
replica pauses nothing either: a paused job keeps its replica, so with one replica that would deadlock.

The front writes what its scheduler paused and where its live jobs run on a small actor it owns (PauseBoard);
a replica asks it before its job's first step and then every POLL_S, and holds its engine at the next step."""

from __future__ import annotations

import threading
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


class LiveHolds:
    """The front's word on holding jobs: the jobs its scheduler pauses for live work, and where live jobs run.
    A replica asks it about the job it runs (`holds`), with its own hardware."""

    def __init__(self) -> None:
        self._paused: set[str] = set()
        self._live: dict[str, Hardware] = {}  # the running live jobs, by job id

    def pause(self, job_id: str, paused: bool) -> None:
        if paused:
            self._paused.add(job_id)
        else:
            self._paused.discard(job_id)

    def live_started(self, job_id: str, hardware: Hardware) -> None:
        self._live[job_id] = hardware

    def live_ended(self, job_id: str) -> None:
        self._live.pop(job_id, None)

    def holds(self, job_id: str, hardware: Hardware) -> bool:
        return job_id in self._paused and any(hardware.shared_with(live) for live in self._live.values())


PauseBoard = ray.remote(num_cpus=0)(LiveHolds)  # one per front, owned by it


def follow_board(board: Any, job_id: str, hardware: Hardware, token: PausableToken, finished: threading.Event) -> None:
    """On the replica, while the job runs: hold or resume its engine as the front's board says."""
    while not finished.wait(POLL_S):
        try:
            held = ray.get(board.holds.remote(job_id, hardware), timeout=ANSWER_TIMEOUT_S)
        except RayError:  # the front is gone: nobody is left to resume the job
            break
        if held:
            token.pause()
        else:
            token.resume()
    token.resume()
