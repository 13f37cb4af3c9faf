"""The live lane behind the front: while a live update runs, a long job of another model that starts on a
replica sharing its machine (here they all do: the nodes are one machine) holds from its first step, and
goes on when the live lane is empty."""

from __future__ import annotations

from core_server.pb import cocreate_pb2 as pb
from core_server.pb import cocreate_pb2_grpc as pb_grpc
from core_server.scheduler.live import PAUSED_STAGE
from tests.service.images import gradient
from tests.service.test_live import live_request


def test_a_live_update_holds_a_long_job_on_a_replica_sharing_its_machine(
    stub: pb_grpc.CocreateStub, session_id: str
) -> None:
    live = stub.Generate(live_request(session_id, gradient(192, 192), steps=150), timeout=300)
    assert next(live).accepted.queue_position == 0
    next(e for e in live if e.HasField("progress"))  # it runs on the image replica
    text_task = pb.ContinueTextTask(before="Once", max_new_tokens=40)
    text = stub.Generate(
        pb.GenerateRequest(session_id=session_id, candidates=1, client="other", continue_text=text_task), timeout=300
    )
    assert next(text).accepted.queue_position == 0
    assert list(live)[-1].done.status == pb.JOB_COMPLETED
    done = list(text)[-1].done
    assert done.status == pb.JOB_COMPLETED, "the held job went on once the live lane was empty"
    held = {stage.name: stage.seconds for stage in done.stages}
    assert held.get(PAUSED_STAGE, 0) > 0, f"the text replica never held the job: {held}"
