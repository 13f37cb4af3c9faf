"""Candidates are sent before they are stored (#21), through a real daemon whose blob store a test hook holds
(tests/support/blob_gate): the candidate arrives while its file is not written, a call naming it waits, Done
and the turn's "completed" come only once it is durable, and a store that fails after the send ends the stream
with DATA_LOSS and the turn failed."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from core_server.pb import cocreate_pb2 as pb
from core_server.pb import cocreate_pb2_grpc as pb_grpc
from tests.support.daemon import Daemon, running_daemon

from .conftest import channel_for
from .images import disc, gradient

HOOK = Path(__file__).resolve().parents[1] / "support" / "blob_gate"


@pytest.fixture(scope="module")
def gate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    fifo = tmp_path_factory.mktemp("gate") / "blob-gate"
    os.mkfifo(fifo)
    return fifo


@pytest.fixture(scope="module")
def gated(tmp_path_factory: pytest.TempPathFactory, gate: Path) -> Iterator[Daemon]:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("COCREATE_TEST_BLOB_GATE", str(gate))
        env.setenv("PYTHONPATH", os.pathsep.join([str(HOOK), os.environ.get("PYTHONPATH", "")]))
        with running_daemon(tmp_path_factory.mktemp("home")) as daemon:
            env.undo()
            yield daemon


@pytest.fixture
def stub(gated: Daemon) -> Iterator[pb_grpc.CocreateStub]:
    with channel_for(gated) as channel:
        yield pb_grpc.CocreateStub(channel)


def open_gate(gate: Path, word: str) -> None:
    """Hand the held blob write its word (the FIFO's open waits for the daemon's reader)."""
    writer = threading.Thread(target=gate.write_text, args=(word,), daemon=True)
    writer.start()
    writer.join(60)
    assert not writer.is_alive(), "the daemon never opened the blob gate"


def start(stub: pb_grpc.CocreateStub) -> tuple[str, Iterator[pb.GenerateEvent], pb.Candidate]:
    """A one-candidate inpaint, read up to its candidate: the session, the rest of the stream, the candidate."""
    session = stub.CreateSession(pb.CreateSessionRequest(host="test", document_id="keeping")).id
    task = pb.InpaintTask(image=gradient(), mask=disc(), prompt="a red apple", steps=2)
    stream = stub.Generate(pb.GenerateRequest(session_id=session, candidates=1, seed=5, inpaint=task), timeout=120)
    events = iter(stream)
    for event in events:
        assert not event.HasField("done"), "Done came before the held store finished"
        if event.HasField("candidate"):
            return session, events, event.candidate
    raise AssertionError("the stream ended without a candidate")


def the_turn(stub: pb_grpc.CocreateStub, session: str) -> pb.Turn:
    (turn,) = stub.GetSession(pb.GetSessionRequest(session_id=session)).turns
    return turn


def taken_up(stub: pb_grpc.CocreateStub) -> None:
    """A call answered after the ones sent before it on this channel were taken up by the daemon."""
    stub.ModelStatus(pb.ModelStatusRequest(), timeout=30)


def test_the_candidate_comes_before_it_is_stored_and_done_once_it_is(stub: pb_grpc.CocreateStub, gate: Path) -> None:
    session, rest, candidate = start(stub)
    assert len(candidate.image.rgba) == 64 * 64 * 4 and candidate.candidate_id
    turn = the_turn(stub, session)
    assert (turn.status, list(turn.candidates)) == ("running", []), "the store is still held"

    fetched = stub.GetCandidate.future(pb.GetCandidateRequest(candidate_id=candidate.candidate_id), timeout=60)
    rejected = pb.FeedbackRequest(candidate_id=candidate.candidate_id, decision=pb.REJECTED)
    kept = stub.Feedback.future(rejected, timeout=60)  # (not ACCEPTED: its signed copy would meet the gate)
    taken_up(stub)
    assert not fetched.done() and not kept.done(), "calls naming a candidate being stored wait for it"

    open_gate(gate, "go")
    (done,) = [event.done for event in rest]
    assert done.status == pb.JOB_COMPLETED
    stages = [stage.name for stage in done.stages]
    assert {"candidate events", "png encode", "store writes", "store wait"} <= set(stages)
    assert fetched.result().image.rgba == candidate.image.rgba
    assert len(fetched.result().info.sha256) == 64
    assert kept.result().feedback_id
    turn = the_turn(stub, session)
    assert turn.status == "completed" and [c.id for c in turn.candidates] == [candidate.candidate_id]
    assert json.loads(turn.params_json)["painted"] == {"width": 64, "height": 64}


def test_a_store_failing_after_the_send_ends_with_data_loss_and_a_failed_turn(
    stub: pb_grpc.CocreateStub, gate: Path
) -> None:
    session, rest, candidate = start(stub)
    fetched = stub.GetCandidate.future(pb.GetCandidateRequest(candidate_id=candidate.candidate_id), timeout=60)
    taken_up(stub)

    open_gate(gate, "fail")
    with pytest.raises(grpc.RpcError) as ended:
        list(rest)
    assert ended.value.code() == grpc.StatusCode.DATA_LOSS
    assert "not kept" in (ended.value.details() or "") and "No space left" in (ended.value.details() or "")
    with pytest.raises(grpc.RpcError) as waited:
        fetched.result()
    assert waited.value.code() == grpc.StatusCode.DATA_LOSS, "the waiting call hears the candidate was lost"
    turn = the_turn(stub, session)
    assert (turn.status, list(turn.candidates)) == ("failed", [])
    with pytest.raises(grpc.RpcError) as later:
        stub.GetCandidate(pb.GetCandidateRequest(candidate_id=candidate.candidate_id))
    assert later.value.code() == grpc.StatusCode.NOT_FOUND
