"""A replica killed mid-job: the job ends UNAVAILABLE, its turn is marked failed, what was acknowledged
before stays, and Serve replaces the replica, which then serves the next job."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import grpc
import pytest

from core_server.pb import cocreate_pb2 as pb
from core_server.pb import cocreate_pb2_grpc as pb_grpc
from tests.service.test_cancel_and_queue import long_inpaint
from tests.service.test_generate import generate
from tests.support.daemon import Daemon


def image_replicas(stub: pb_grpc.CocreateStub) -> list[pb.EngineReplica]:
    return [r for r in stub.ModelStatus(pb.ModelStatusRequest()).cluster.replicas if r.kind == "image"]


def test_a_replica_killed_mid_job(stub: pb_grpc.CocreateStub, session_id: str) -> None:
    kept = generate(stub, session_id, "texture", candidates=2)
    candidate = next(e.candidate for e in kept if e.HasField("candidate"))
    stub.Feedback(pb.FeedbackRequest(candidate_id=candidate.candidate_id, decision=pb.ACCEPTED))

    stream = stub.Generate(long_inpaint(session_id), timeout=120)
    accepted = next(stream).accepted
    next(e for e in stream if e.HasField("progress"))
    (victim,) = [r for r in image_replicas(stub) if r.running]
    assert "tiny-image" in victim.models
    os.kill(victim.pid, signal.SIGKILL)
    with pytest.raises(grpc.RpcError) as ended:
        list(stream)
    assert ended.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "replica" in ended.value.details() and "try again" in ended.value.details()

    turns = {t.id: t for t in stub.GetSession(pb.GetSessionRequest(session_id=session_id)).turns}
    assert turns[accepted.turn_id].status == "failed"
    before = turns[kept[0].accepted.turn_id]
    assert before.status == "completed" and len(before.candidates) == 2
    assert stub.GetCandidate(pb.GetCandidateRequest(candidate_id=candidate.candidate_id)).image.rgba
    assert any(c.feedback for c in before.candidates), "the decision made before the fault is kept"

    deadline = time.monotonic() + 120
    while not any(r.state == "RUNNING" and r.pid != victim.pid for r in image_replicas(stub)):
        assert time.monotonic() < deadline, "Serve did not replace the killed replica"
        time.sleep(0.5)
    assert generate(stub, session_id, "texture", candidates=1)[-1].done.status == pb.JOB_COMPLETED


def test_the_front_runs_ray(daemon: Daemon) -> None:
    """The counterpart of tests/service/test_single_machine.py: its check does see Ray where it is."""
    assert "_raylet" in Path(f"/proc/{daemon.process.pid}/maps").read_text()
