"""The live lane behind the front: a live update holds a long job of another model on its replica while the
two replicas share a machine (here they all do: the nodes are one machine), and the job goes on after."""

from __future__ import annotations

from core_server.pb import cocreate_pb2 as pb
from core_server.pb import cocreate_pb2_grpc as pb_grpc
from core_server.scheduler.live import PAUSED_STAGE
from tests.service.images import gradient
from tests.service.test_live import live_request


def long_text(session_id: str) -> pb.GenerateRequest:
    task = pb.ContinueTextTask(before="Once", max_new_tokens=200)  # seconds on the text replica, token by token
    return pb.GenerateRequest(session_id=session_id, candidates=1, client="other", continue_text=task)


def test_a_live_update_holds_a_long_job_on_a_replica_sharing_its_machine(
    stub: pb_grpc.CocreateStub, session_id: str
) -> None:
    text = stub.Generate(long_text(session_id), timeout=300)
    assert next(text).accepted.queue_position == 0
    next(e for e in text if e.HasField("progress"))
    live = list(stub.Generate(live_request(session_id, gradient(64, 64), steps=12), timeout=120))
    assert live[0].accepted.queue_position == 0
    assert live[-1].done.status == pb.JOB_COMPLETED
    done = list(text)[-1].done
    assert done.status == pb.JOB_COMPLETED, "the held job went on once the live lane was empty"
    held = {stage.name: stage.seconds for stage in done.stages}
    assert held.get(PAUSED_STAGE, 0) > 0, f"the text replica never held the job: {held}"
