"""Which jobs hold on their replicas for live work: those the front's scheduler paused, while a live job runs
on hardware they share (one machine's CPUs, or a GPU both hold), never for a live job still waiting for a
replica; and the time a job was held, which its Done names."""

from __future__ import annotations

import threading

import pytest

pytest.importorskip("ray", reason="the studio extra is not installed")

from core_server.cluster.pausing import Hardware, LiveHolds
from core_server.scheduler.jobs import PausableToken

MACHINE = Hardware("127.0.0.1")


def test_replicas_share_a_machines_cpus_or_a_gpu_both_hold() -> None:
    cpu, other_machine = Hardware("10.0.0.1"), Hardware("10.0.0.2")
    gpu0, gpu1, half_of_gpu0 = Hardware("10.0.0.1", ("0",)), Hardware("10.0.0.1", ("1",)), Hardware("10.0.0.1", ("0",))
    assert cpu.shared_with(Hardware("10.0.0.1"))
    assert not cpu.shared_with(other_machine)
    assert gpu0.shared_with(half_of_gpu0)
    assert not gpu0.shared_with(gpu1), "one GPU each: a live job on another GPU is not slowed"
    assert not gpu0.shared_with(cpu)


def test_a_paused_job_holds_only_while_a_live_job_runs_beside_it() -> None:
    board = LiveHolds()
    board.pause("long", True)
    assert not board.holds("long", MACHINE), "a live job waiting for a replica is not helped by a pause"
    board.live_started("live", Hardware("127.0.0.1"))
    assert board.holds("long", MACHINE), "two Ray nodes of one machine share its CPUs"
    assert not board.holds("other", MACHINE), "a job the scheduler did not pause (the live job's model) runs on"
    assert not board.holds("long", Hardware("192.0.2.9")), "a replica on another machine runs on"
    board.live_ended("live")
    assert not board.holds("long", MACHINE)
    board.live_started("live-2", MACHINE)
    board.pause("long", False)
    assert not board.holds("long", MACHINE), "the scheduler resumed it"


def test_the_token_counts_the_time_it_held_its_job() -> None:
    token = PausableToken()
    token.check()
    assert token.held_s == 0
    token.pause()
    resumer = threading.Timer(0.05, token.resume)
    resumer.start()
    token.check()
    assert token.held_s > 0
