"""Who made a call: jobs belong to their identity, queue lanes follow it, sessions record it."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from core_server.launcher import LaunchError
from core_server.pb import cocreate_pb2 as pb
from core_server.pb import cocreate_pb2_grpc as pb_grpc
from core_server.service.identity import append_token
from tests.support import other_process
from tests.support.daemon import Daemon, running_daemon, start_daemon

from .conftest import channel_for
from .test_cancel_and_queue import long_inpaint, wait_idle


def test_another_process_can_neither_see_nor_cancel_a_job(
    daemon: Daemon, stub: pb_grpc.CocreateStub, session_id: str
) -> None:
    stream = stub.Generate(long_inpaint(session_id), timeout=120)
    job_id = next(stream).accepted.job_id
    try:
        next(e for e in stream if e.HasField("progress"))
        assert stub.ModelStatus(pb.ModelStatusRequest()).running_job_id == job_id, "its owner sees it"
        assert other_process.run(daemon.endpoint, "status") == "", "another process does not"
        refused = other_process.run(daemon.endpoint, "cancel", job_id)
        assert refused.startswith("PERMISSION_DENIED") and "another client" in refused, refused
        assert stub.Cancel(pb.CancelRequest(job_id=job_id)).was_running, "its owner may cancel it"
        assert list(stream)[-1].done.status == pb.JOB_CANCELLED
    finally:
        stream.cancel()
        wait_idle(stub)


def test_each_process_has_its_own_queue_lane(daemon: Daemon, stub: pb_grpc.CocreateStub, session_id: str) -> None:
    """This process runs one job and queues two, none naming a client; another process's job then
    waits behind one of them, not both: the kernel tells the processes apart."""
    streams = [stub.Generate(long_inpaint(session_id), timeout=120) for _ in range(3)]
    try:
        positions = [next(s).accepted.queue_position for s in streams]
        assert positions == [0, 1, 2]
        assert other_process.run(daemon.endpoint, "submit", session_id) == "2"
    finally:
        for stream in streams:
            stream.cancel()
        wait_idle(stub)


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Daemon, dict[str, str]]]:
    home = tmp_path_factory.mktemp("studio")
    tokens_file = home / "tokens"
    tokens = {name: append_token(tokens_file, name) for name in ("alice", "bob")}
    with running_daemon(home, listen="127.0.0.1:0", extra_args=("--tokens", str(tokens_file))) as daemon:
        yield daemon, tokens


def _as(token: str) -> tuple[tuple[str, str]]:
    return (("authorization", f"Bearer {token}"),)


def test_named_tokens_own_their_jobs_and_are_recorded(studio: tuple[Daemon, dict[str, str]]) -> None:
    daemon, tokens = studio
    alice, bob = _as(tokens["alice"]), _as(tokens["bob"])
    assert daemon.home is not None
    assert tokens["alice"] not in (daemon.home / "tokens").read_text(), "tokens are kept hashed"
    with channel_for(daemon) as channel:
        stub = pb_grpc.CocreateStub(channel)
        session = stub.CreateSession(pb.CreateSessionRequest(host="test"), metadata=alice).id
        stream = stub.Generate(long_inpaint(session), timeout=120, metadata=alice)
        accepted = next(stream).accepted
        try:
            next(e for e in stream if e.HasField("progress"))
            assert stub.ModelStatus(pb.ModelStatusRequest(), metadata=bob).running_job_id == ""
            with pytest.raises(grpc.RpcError) as refused:
                stub.Cancel(pb.CancelRequest(job_id=accepted.job_id), metadata=bob)
            assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
            assert stub.ModelStatus(pb.ModelStatusRequest(), metadata=alice).running_job_id == accepted.job_id
            assert stub.Cancel(pb.CancelRequest(job_id=accepted.job_id), metadata=alice).was_running
            assert list(stream)[-1].done.status == pb.JOB_CANCELLED
        finally:
            stream.cancel()
    with sqlite3.connect(f"file:{daemon.home / 'sessions' / 'sessions.db'}?mode=ro", uri=True) as db:
        assert db.execute("SELECT identity FROM sessions WHERE id = ?", (session,)).fetchone() == ("token:alice",)
        assert db.execute("SELECT identity FROM turns WHERE id = ?", (accepted.turn_id,)).fetchone() == ("token:alice",)


def test_a_tokens_file_with_a_plain_token_is_refused(tmp_path: Path) -> None:
    tokens_file = tmp_path / "tokens"
    tokens_file.write_text("alice s3cret-in-the-clear\n")
    tokens_file.chmod(0o600)
    with pytest.raises(LaunchError) as refused:
        start_daemon(tmp_path / "home", listen="127.0.0.1:0", extra_args=("--tokens", str(tokens_file)), timeout=120)
    assert "line 1" in str(refused.value) and "hash" in str(refused.value)
    assert "Traceback" not in str(refused.value)
