"""Job bookkeeping with scripted event streams: every way a call can end leaves exactly one Done or Failed."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, Iterator

import pytest
from cocreate_client import (
    Accepted,
    CandidateReady,
    DaemonUnavailable,
    Done,
    Event,
    Failed,
    Job,
    RequestError,
    TextDelta,
)
from cocreate_client.loop import BackgroundLoop


@pytest.fixture
def loop() -> Iterator[BackgroundLoop]:
    background = BackgroundLoop()
    yield background
    background.close()


def start(loop: BackgroundLoop, events: AsyncGenerator[Event, None], **kwargs: object) -> Job:
    job = Job(loop.call_soon, **kwargs)  # type: ignore[arg-type]
    loop.call_soon(job._start, events)
    return job


async def script(*events: Event, then: BaseException | None = None, hang: bool = False) -> AsyncGenerator[Event, None]:
    for event in events:
        yield event
    if then is not None:
        raise then
    if hang:
        await asyncio.Event().wait()


ACCEPTED = Accepted("job-1", "turn-1", 0, [5])


def test_events_are_gathered(loop: BackgroundLoop) -> None:
    events = script(
        ACCEPTED,
        TextDelta(0, "Once"),
        TextDelta(0, " more"),
        CandidateReady(0, "c1", 5, text="Once more"),
        Done("turn-1", False),
    )
    job = start(loop, events)
    result = job.wait(5)
    assert result.ok and result.job_id == "job-1" and result.turn_id == "turn-1"
    assert result.texts == {0: "Once more"} and [c.candidate_id for c in result.candidates] == ["c1"]
    assert [type(e) for e in job.poll()] == [Accepted, TextDelta, TextDelta, CandidateReady, Done]
    assert job.poll() == [] and job.done


def test_cancel_ends_with_done_cancelled(loop: BackgroundLoop) -> None:
    job = start(loop, script(ACCEPTED, hang=True))
    with pytest.raises(TimeoutError, match="job-1 still running"):
        job.wait(0.2)
    job.cancel()
    result = job.wait(5)
    assert result.cancelled and not result.ok
    assert job.poll() == [ACCEPTED, Done("turn-1", cancelled=True)]


def test_cancel_before_the_call_starts(loop: BackgroundLoop) -> None:
    gate = threading.Event()
    loop.call_soon(gate.wait)  # keep the client thread busy so the job has not started yet
    job = start(loop, script(ACCEPTED, hang=True))
    job.cancel()
    gate.set()
    assert job.wait(5).cancelled
    assert job.poll() == [Done("", cancelled=True)]


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (RequestError("INVALID_ARGUMENT", "candidates: 1..16"), Failed("INVALID_ARGUMENT", "candidates: 1..16")),
        (DaemonUnavailable("unix:/x", "Connection refused"), "UNAVAILABLE"),
        (ValueError("a bug"), "INTERNAL"),
    ],
)
def test_errors_become_failed(loop: BackgroundLoop, error: Exception, expected: Failed | str) -> None:
    job = start(loop, script(ACCEPTED, then=error))
    result = job.wait(5)
    assert result.error is not None and not result.ok
    assert result.error == expected if isinstance(expected, Failed) else result.error.code == expected
    assert job.poll()[-1] == result.error


def test_a_stream_without_done_fails(loop: BackgroundLoop) -> None:
    result = start(loop, script(ACCEPTED)).wait(5)
    assert result.error is not None and result.error.code == "UNKNOWN"


def test_on_event_runs_on_the_client_thread_and_cannot_break_the_job(loop: BackgroundLoop) -> None:
    seen: list[tuple[Event, str]] = []

    def on_event(event: Event) -> None:
        seen.append((event, threading.current_thread().name))
        raise RuntimeError("a host callback bug")

    job = start(loop, script(ACCEPTED, Done("turn-1", False)), on_event=on_event)
    assert job.wait(5).ok
    assert seen == [(ACCEPTED, "cocreate-client"), (Done("turn-1", False), "cocreate-client")]


def test_close_cancels_running_jobs() -> None:
    background = BackgroundLoop()
    job = start(background, script(ACCEPTED, hang=True))
    background.close()
    assert job.wait(1).cancelled
    background.close()  # twice is fine
