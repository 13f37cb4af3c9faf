"""The live lane behind the front: a live update holds a running job of another model on its replica while
the two replicas share a machine (here they all do: the nodes are one machine), and the job goes on when the
live lane is empty. (A job that starts while live work runs waits on the front, as on one machine.)"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from core_server.models.catalog import ModelCatalog
from core_server.pb import cocreate_pb2 as pb
from core_server.pb import cocreate_pb2_grpc as pb_grpc
from core_server.scheduler.live import PAUSED_STAGE
from tests.service.images import gradient
from tests.service.test_live import live_request
from tests.support.daemon import Daemon

# The tiny text weights under a name of their own: the replica loads them for its first job, for seconds, so
# the job is surely on its replica and not past its first token when the live update comes.
UNLOADED_TEXT_MODEL = "tiny-text-unloaded"


def text_replica_runs_a_job(stub: pb_grpc.CocreateStub) -> bool:
    replicas = stub.ModelStatus(pb.ModelStatusRequest()).cluster.replicas
    return any(replica.kind == "text" and replica.running for replica in replicas)


@pytest.mark.xfail(
    strict=False,
    reason="a race, not yet fixed: under load the text job can finish, or not yet follow the front's board, "
    "before the live job starts on its replica, so nothing is held (failed once in a fresh-clone CI run; "
    "with 200 tokens instead of 40 it failed 2 of 4 runs alone)",
)
def test_a_live_update_holds_a_running_job_on_a_replica_sharing_its_machine(
    daemon: Daemon, stub: pb_grpc.CocreateStub, session_id: str
) -> None:
    assert daemon.home is not None
    catalog = ModelCatalog(Path(daemon.home) / "models")
    catalog.add(UNLOADED_TEXT_MODEL, catalog.resolve("", "text").path)
    task = pb.ContinueTextTask(before="Once", max_new_tokens=40)
    request = pb.GenerateRequest(
        session_id=session_id, candidates=1, client="other", model=UNLOADED_TEXT_MODEL, continue_text=task
    )
    text = stub.Generate(request, timeout=300)
    assert next(text).accepted.queue_position == 0
    deadline = time.monotonic() + 60
    while not text_replica_runs_a_job(stub):
        assert time.monotonic() < deadline, "the text job never reached its replica"
        time.sleep(0.02)
    live = list(stub.Generate(live_request(session_id, gradient(192, 192), steps=150), timeout=300))
    assert live[0].accepted.queue_position == 0
    assert live[-1].done.status == pb.JOB_COMPLETED
    done = list(text)[-1].done
    assert done.status == pb.JOB_COMPLETED, "the held job went on once the live lane was empty"
    held = {stage.name: stage.seconds for stage in done.stages}
    assert held.get(PAUSED_STAGE, 0) > 0, f"the text replica never held the job: {held}"
