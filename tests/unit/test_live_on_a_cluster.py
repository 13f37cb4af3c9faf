"""Which jobs a front holds on their replicas for live work: those on hardware a running live job shares
(one machine's CPUs, or a GPU both hold), never for a live job still waiting for a replica; and the time
a job was held, which its Done names."""

from __future__ import annotations

import asyncio
import threading

import pytest

pytest.importorskip("ray", reason="the studio extra is not installed")

from core_server.cluster.pausing import Hardware
from core_server.cluster.runner import ReplicaBook
from core_server.scheduler.jobs import Job, PausableToken
from core_server.tasks import ContinueTextTask


def test_replicas_share_a_machines_cpus_or_a_gpu_both_hold() -> None:
    cpu, other_machine = Hardware("10.0.0.1"), Hardware("10.0.0.2")
    gpu0, gpu1, half_of_gpu0 = Hardware("10.0.0.1", ("0",)), Hardware("10.0.0.1", ("1",)), Hardware("10.0.0.1", ("0",))
    assert cpu.shared_with(Hardware("10.0.0.1"))
    assert not cpu.shared_with(other_machine)
    assert gpu0.shared_with(half_of_gpu0)
    assert not gpu0.shared_with(gpu1), "one GPU each: a live job on another GPU is not slowed"
    assert not gpu0.shared_with(cpu)


def test_a_job_holds_only_while_a_live_job_runs_beside_it() -> None:
    loop = asyncio.new_event_loop()

    def job(job_id: str, live: bool) -> Job:
        return Job(job_id, "c", ContinueTextTask(before="x"), (1,), "m", None, False, loop, live=live)

    book, long_job, live_job = ReplicaBook(), job("long", live=False), job("live", live=True)
    book.started(long_job, "replica-a", "text", 1, "node-1", Hardware("127.0.0.1"))
    book.dispatched(live_job.id)
    assert not book.holds_for_live(long_job.id), "a live job waiting for a replica is not helped by a pause"
    book.started(live_job, "replica-b", "image", 2, "node-2", Hardware("127.0.0.1"))
    assert book.holds_for_live(long_job.id), "two Ray nodes of one machine share its CPUs"
    book.ended(live_job.id)
    assert not book.holds_for_live(long_job.id)
    book.started(job("live-2", live=True), "replica-c", "image", 3, "node-3", Hardware("192.0.2.9"))
    assert not book.holds_for_live(long_job.id), "a live job on another machine"
    loop.close()


def test_the_token_counts_the_time_it_held_its_job() -> None:
    token = PausableToken()
    token.check()
    assert token.held_s == 0
    token.pause()
    resumer = threading.Timer(0.05, token.resume)
    resumer.start()
    token.check()
    assert token.held_s > 0
