"""The default daemon stays a single process: Ray (the studio's cluster) is never imported on its path."""

from __future__ import annotations

from pathlib import Path

from core_server.pb import cocreate_pb2 as pb
from core_server.pb import cocreate_pb2_grpc as pb_grpc
from tests.support.daemon import Daemon


def test_the_default_daemon_never_imports_ray(daemon: Daemon, stub: pb_grpc.CocreateStub, session_id: str) -> None:
    request = pb.GenerateRequest(
        session_id=session_id, candidates=1, continue_text=pb.ContinueTextTask(before="Once", max_new_tokens=4)
    )
    assert list(stub.Generate(request, timeout=120))[-1].done.status == pb.JOB_COMPLETED
    assert not stub.ModelStatus(pb.ModelStatusRequest()).HasField("cluster")
    # `import ray` loads its native core at once: a process that imported it maps ray/_raylet.
    mapped = Path(f"/proc/{daemon.process.pid}/maps").read_text()
    assert "_raylet" not in mapped
