"""Cancel (explicit and by dropping the call), queue positions, and fairness between clients."""

from __future__ import annotations

import threading
import time

import grpc

from core_server.pb import cocreate_pb2 as pb
from core_server.pb import cocreate_pb2_grpc as pb_grpc

from .images import disc, gradient

BIG = gradient(192, 192)


def long_inpaint(session_id: str, steps: int = 150, client: str = "") -> pb.GenerateRequest:
    return pb.GenerateRequest(
        session_id=session_id,
        candidates=1,
        client=client,
        inpaint=pb.InpaintTask(image=BIG, mask=disc(192, 192), prompt="slow", steps=steps),
    )


def wait_idle(stub: pb_grpc.CocreateStub, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while stub.ModelStatus(pb.ModelStatusRequest()).running_job_id:
        assert time.monotonic() < deadline, "a cancelled job kept running"
        time.sleep(0.02)


def quick(stub: pb_grpc.CocreateStub, session_id: str) -> pb.Done:
    request = pb.GenerateRequest(
        session_id=session_id, candidates=1, continue_text=pb.ContinueTextTask(before="Next", max_new_tokens=4)
    )
    return list(stub.Generate(request, timeout=60))[-1].done


def test_cancel_stops_a_running_job_within_a_step(stub: pb_grpc.CocreateStub, session_id: str) -> None:
    stream = stub.Generate(long_inpaint(session_id), timeout=120)
    accepted = next(stream).accepted
    step_at_cancel = 0
    for event in stream:
        if event.HasField("progress") and event.progress.step >= 3:
            step_at_cancel = event.progress.step
            break
    assert stub.Cancel(pb.CancelRequest(job_id=accepted.job_id)).was_running
    rest = list(stream)
    last_step = max([e.progress.step for e in rest if e.HasField("progress")], default=step_at_cancel)
    print(f"cancel at step {step_at_cancel}, last step reported {last_step}")
    assert rest[-1].done.status == pb.JOB_CANCELLED
    assert last_step - step_at_cancel <= 3, "steps already in flight, at most"
    assert not any(e.HasField("candidate") for e in rest)
    wait_idle(stub)
    assert quick(stub, session_id).status == pb.JOB_COMPLETED, "the daemon takes the next job"
    turn = next(
        t for t in stub.GetSession(pb.GetSessionRequest(session_id=session_id)).turns if t.id == accepted.turn_id
    )
    assert turn.status == "cancelled"


def test_dropping_the_call_cancels_the_job(stub: pb_grpc.CocreateStub, session_id: str) -> None:
    stream = stub.Generate(long_inpaint(session_id), timeout=120)
    accepted = next(stream).accepted
    next(e for e in stream if e.HasField("progress"))
    stream.cancel()
    wait_idle(stub)
    assert quick(stub, session_id).status == pb.JOB_COMPLETED
    turn = next(
        t for t in stub.GetSession(pb.GetSessionRequest(session_id=session_id)).turns if t.id == accepted.turn_id
    )
    assert turn.status == "cancelled"


def test_a_deadline_cancels_the_job(stub: pb_grpc.CocreateStub, session_id: str) -> None:
    try:
        list(stub.Generate(long_inpaint(session_id), timeout=0.5))
    except grpc.RpcError as error:
        assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    wait_idle(stub)


def test_cancel_a_queued_job_and_unknown_job(stub: pb_grpc.CocreateStub, session_id: str) -> None:
    running = stub.Generate(long_inpaint(session_id), timeout=120)
    running_id = next(running).accepted.job_id
    queued = stub.Generate(long_inpaint(session_id), timeout=120)
    accepted = next(queued).accepted
    assert accepted.queue_position >= 1
    assert stub.Cancel(pb.CancelRequest(job_id=accepted.job_id)).was_running is False
    assert list(queued)[-1].done.status == pb.JOB_CANCELLED
    stub.Cancel(pb.CancelRequest(job_id=running_id))
    list(running)
    try:
        stub.Cancel(pb.CancelRequest(job_id=accepted.job_id))
        raise AssertionError("cancelling a finished job must say NOT_FOUND")
    except grpc.RpcError as error:
        assert error.code() == grpc.StatusCode.NOT_FOUND


def test_clients_share_the_queue_fairly(stub: pb_grpc.CocreateStub, session_id: str) -> None:
    """A submits three jobs, then B one: B is served before A's third (round robin), not last."""
    finished: list[str] = []
    lock = threading.Lock()
    accepted = threading.Semaphore(0)

    def run(name: str, client: str) -> None:
        positions = []
        for event in stub.Generate(long_inpaint(session_id, steps=12, client=client), timeout=120):
            if event.HasField("accepted"):
                positions.append(event.accepted.queue_position)
                accepted.release()
            elif event.HasField("queued"):
                positions.append(event.queued.queue_position)
        with lock:
            finished.append(name)

    threads = []
    for name in ("a1", "a2", "a3"):
        threads.append(threading.Thread(target=run, args=(name, "client-a")))
        threads[-1].start()
        accepted.acquire()
    threads.append(threading.Thread(target=run, args=("b1", "client-b")))
    threads[-1].start()
    for t in threads:
        t.join(120)
    assert finished.index("b1") < finished.index("a3"), finished
