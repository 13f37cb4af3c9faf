"""Prometheus metrics: the shared daemon serves them (--metrics-port 0) and a scrape shows the jobs it ran."""

from __future__ import annotations

import re
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from core_server.pb import cocreate_pb2 as pb
from core_server.pb import cocreate_pb2_grpc as pb_grpc
from tests.support.daemon import Daemon

from .test_cancel_and_queue import long_inpaint
from .test_generate import generate


def scrape(daemon: Daemon) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample the daemon's /metrics shows, by name and labels."""
    (url,) = {match.group(1) for line in daemon.output if (match := re.search(r"metrics on (http://\S+)", line))}
    with urllib.request.urlopen(url, timeout=10) as reply:
        text = reply.read().decode("utf-8")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_a_scrape_counts_jobs_by_task_and_status_and_times_their_queue_and_steps(
    stub: pb_grpc.CocreateStub, sqlite_daemon: Daemon, session_id: str
) -> None:
    completed = ("cocreate_jobs_total", (("status", "completed"), ("task", "inpaint")))
    waits = ("cocreate_queue_wait_seconds_count", (("task", "inpaint"),))
    steps = ("cocreate_step_seconds_count", (("task", "inpaint"),))
    before = scrape(sqlite_daemon)
    events = generate(stub, session_id, "inpaint", candidates=1, seed=3)
    assert events[-1].HasField("done")
    after = scrape(sqlite_daemon)

    assert after[completed] == before.get(completed, 0) + 1
    assert after[waits] == before.get(waits, 0) + 1
    assert after[steps] >= before.get(steps, 0) + 3  # four steps: three intervals between them
    assert after[("cocreate_replicas", ())] == 1
    assert after[("cocreate_queue_depth", ())] == 0
    names = {name for name, _ in after}
    assert "cocreate_queue_wait_seconds_bucket" in names and "cocreate_step_seconds_sum" in names


def test_a_cancelled_job_is_counted_as_cancelled(
    stub: pb_grpc.CocreateStub, sqlite_daemon: Daemon, session_id: str
) -> None:
    cancelled = ("cocreate_jobs_total", (("status", "cancelled"), ("task", "inpaint")))
    before = scrape(sqlite_daemon).get(cancelled, 0)
    stream = stub.Generate(long_inpaint(session_id), timeout=120)
    job_id = next(stream).accepted.job_id
    stub.Cancel(pb.CancelRequest(job_id=job_id))
    assert list(stream)[-1].done.status == pb.JOB_CANCELLED
    assert scrape(sqlite_daemon)[cancelled] == before + 1
