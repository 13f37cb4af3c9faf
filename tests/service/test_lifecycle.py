"""Graceful stop, the memory budget, and the daemon's own checks on how it is started."""

from __future__ import annotations

from pathlib import Path

import grpc

from core_server.pb import cocreate_pb2 as pb
from core_server.pb import cocreate_pb2_grpc as pb_grpc
from tests.support.daemon import running_daemon, start_daemon

from .conftest import channel_for
from .images import disc, gradient


def test_sigterm_cancels_the_running_job_and_keeps_the_store(tmp_path: Path) -> None:
    home = tmp_path / "home"
    daemon = start_daemon(home)
    with channel_for(daemon) as channel:
        stub = pb_grpc.CocreateStub(channel)
        session = stub.CreateSession(pb.CreateSessionRequest(host="test")).id
        request = pb.GenerateRequest(
            session_id=session,
            candidates=1,
            inpaint=pb.InpaintTask(image=gradient(192, 192), mask=disc(192, 192), steps=200),
        )
        stream = stub.Generate(request, timeout=60)
        turn_id = next(stream).accepted.turn_id
        next(e for e in stream if e.HasField("progress"))
        assert daemon.stop() == 0, "".join(daemon.output)
        try:
            last = list(stream)[-1]
            assert last.done.status == pb.JOB_CANCELLED
        except grpc.RpcError as error:  # the stop may close the stream before Done reaches us
            assert error.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED)
    with running_daemon(home) as again, channel_for(again) as channel:
        turns = pb_grpc.CocreateStub(channel).GetSession(pb.GetSessionRequest(session_id=session)).turns
        assert [t.status for t in turns if t.id == turn_id] == ["cancelled"], "stopped cleanly, not interrupted"


def test_memory_budget_unloads_the_least_recently_used_model(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with running_daemon(home, extra_args=("--max-memory", "0.000001")) as daemon, channel_for(daemon) as channel:
        stub = pb_grpc.CocreateStub(channel)
        session = stub.CreateSession(pb.CreateSessionRequest(host="test")).id
        image = pb.GenerateRequest(session_id=session, candidates=1, inpaint=pb.InpaintTask(image=gradient(), steps=2))
        text = pb.GenerateRequest(
            session_id=session, candidates=1, continue_text=pb.ContinueTextTask(before="a", max_new_tokens=2)
        )
        list(stub.Generate(image, timeout=60))
        assert [m.name for m in stub.ModelStatus(pb.ModelStatusRequest()).loaded] == ["tiny-image"]
        list(stub.Generate(text, timeout=60))
        status = stub.ModelStatus(pb.ModelStatusRequest())
        assert [m.name for m in status.loaded] == ["tiny-text"]
        assert status.memory_budget_bytes > 0
        assert status.loaded[0].memory_bytes > 0 and status.loaded[0].dtype


def test_a_live_socket_is_not_taken_over(tmp_path: Path) -> None:
    with running_daemon(tmp_path / "home") as first:
        try:  # another home (a home is locked by its daemon), the same socket
            socket_path = first.endpoint.removeprefix("unix:")
            second = start_daemon(tmp_path / "home2", extra_args=("--socket", socket_path), timeout=120)
        except RuntimeError as error:
            assert "already listening" in str(error)
        else:
            second.stop()
            raise AssertionError("a second daemon took over a live socket")
        assert first.process.poll() is None
