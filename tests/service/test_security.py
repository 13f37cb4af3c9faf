"""Unix socket 0600 by default; TCP only with a token; the token is checked on every call."""

from __future__ import annotations

import hashlib
import hmac
import io
import os
import re
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from core_server.launcher import launch
from core_server.pb import cocreate_pb2 as pb
from core_server.pb import cocreate_pb2_grpc as pb_grpc
from core_server.service import identity
from tests.support.daemon import Daemon, running_daemon

from .conftest import channel_for


def test_socket_is_private(daemon: Daemon) -> None:
    path = Path(daemon.endpoint.removeprefix("unix:"))
    assert stat.S_ISSOCK(path.stat().st_mode)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.fixture(scope="module")
def tcp_daemon(tmp_path_factory: pytest.TempPathFactory) -> Daemon:
    with running_daemon(tmp_path_factory.mktemp("tcp"), listen="127.0.0.1:0", token="s3cret-token") as d:
        yield d


@pytest.mark.parametrize("metadata", [(), (("authorization", "Bearer wrong"),), (("authorization", "s3cret-token"),)])
def test_tcp_refuses_missing_or_wrong_token(tcp_daemon: Daemon, metadata: tuple) -> None:
    with grpc.insecure_channel(tcp_daemon.endpoint) as channel:
        stub = pb_grpc.CocreateStub(channel)
        for call in (
            lambda: stub.ListModels(pb.ListModelsRequest(), metadata=metadata),
            lambda: list(stub.Generate(pb.GenerateRequest(), metadata=metadata)),
            lambda: health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), metadata=metadata),
        ):
            with pytest.raises(grpc.RpcError) as raised:
                call()
            assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
            assert "token" in raised.value.details()


def test_tcp_serves_with_the_token(tcp_daemon: Daemon) -> None:
    with grpc.insecure_channel(tcp_daemon.endpoint) as channel:
        metadata = (("authorization", "Bearer s3cret-token"),)
        models = pb_grpc.CocreateStub(channel).ListModels(pb.ListModelsRequest(), metadata=metadata)
        assert {m.name for m in models.models} >= {"tiny-image", "tiny-text"}


def test_tcp_without_a_token_does_not_start(tmp_path: Path) -> None:
    env = {"COCREATE_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-m", "core_server", "serve", "--listen", "127.0.0.1:0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "token" in result.stderr and "Traceback" not in result.stderr


def test_default_socket_is_0600_in_a_0700_folder(tmp_path: Path) -> None:
    runtime = tmp_path / "run"
    runtime.mkdir()
    (runtime / "cocreate").mkdir(mode=0o755)  # even a folder left too open is tightened
    env = dict(os.environ, COCREATE_HOME=str(tmp_path / "home"), XDG_RUNTIME_DIR=str(runtime))
    env.pop("COCREATE_ENDPOINT", None)
    daemon = launch([], env)
    try:
        socket_path = Path(daemon.endpoint.removeprefix("unix:"))
        assert socket_path.parent == runtime / "cocreate"
        assert stat.S_IMODE(socket_path.stat().st_mode) == 0o600
        assert stat.S_IMODE(socket_path.parent.stat().st_mode) == 0o700
    finally:
        daemon.stop()


def test_token_is_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """The presented token's hash is compared with every stored hash, in constant time, whatever matches."""
    compared = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(identity.hmac, "compare_digest", spy)
    book = identity.TokenBook({name: hashlib.sha256(name.encode()).digest() for name in ("ann", "bob", "cy")})
    assert book.identify((("authorization", "Bearer ann"),)) == "ann"
    assert len(compared) == 3, "a match does not stop the comparison early"
    assert book.identify((("authorization", "Bearer x"),)) is None


def test_request_strings_never_become_paths(daemon: Daemon, session_id: str) -> None:
    """Path-like text in every string field: the daemon's files stay its own, named by ids and hashes."""
    home = daemon.home
    assert home is not None
    before = set(home.parent.iterdir())
    hostile = "../../../../tmp/cocreate-escape"
    with channel_for(daemon) as channel:
        stub = pb_grpc.CocreateStub(channel)
        stub.CreateSession(pb.CreateSessionRequest(host=hostile, document_id=hostile, document_name=hostile))
        request = pb.GenerateRequest(
            session_id=session_id,
            candidates=1,
            client=hostile,
            continue_text=pb.ContinueTextTask(before=hostile, after=hostile, stop=[hostile], max_new_tokens=2),
        )
        events = list(stub.Generate(request, timeout=60))
        candidate = next(e.candidate for e in events if e.HasField("candidate"))
        stub.Feedback(
            pb.FeedbackRequest(
                candidate_id=candidate.candidate_id, decision=pb.EDITED, final_text=hostile, note=hostile
            )
        )
        for bad_model in (hostile, "/etc/passwd", "tiny-text/../../x"):
            with pytest.raises(grpc.RpcError):
                list(
                    stub.Generate(
                        pb.GenerateRequest(
                            session_id=session_id,
                            candidates=1,
                            model=bad_model,
                            continue_text=pb.ContinueTextTask(before="a"),
                        ),
                        timeout=30,
                    )
                )
            with pytest.raises(grpc.RpcError) as refused:
                request = pb.GenerateRequest(session_id=session_id, candidates=1, lora=bad_model)
                request.texture.CopyFrom(pb.TextureTask(width=8, height=8, steps=1))
                list(stub.Generate(request, timeout=30))
            assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT, "a LoRA is named, never a path"
        archive = b"".join(c.data for c in stub.ExportSession(pb.ExportSessionRequest(session_id=session_id)))
    assert not Path("/tmp/cocreate-escape").exists()
    assert set(home.parent.iterdir()) == before
    safe = re.compile(r"[0-9a-f]{2}/[0-9a-f]{64}\.(png|txt)")
    for path in (home / "sessions" / "blobs").rglob("*"):
        if path.is_file():
            assert safe.fullmatch(str(path.relative_to(home / "sessions" / "blobs"))), path
    names = zipfile.ZipFile(io.BytesIO(archive)).namelist()
    # ids (32 hex digits), or content hashes (64) for the document texts under contexts/
    assert all(re.fullmatch(r"[a-z]+(/([0-9a-f]{32}|[0-9a-f]{64})\.(png|txt))?(\.json)?", n) for n in names), names


def test_limits_are_configurable(tmp_path: Path) -> None:
    extra = ("--max-candidates", "2", "--max-side", "32", "--max-queue", "1")
    with running_daemon(tmp_path / "home", extra_args=extra) as daemon, channel_for(daemon) as channel:
        stub = pb_grpc.CocreateStub(channel)
        session = stub.CreateSession(pb.CreateSessionRequest(host="test")).id
        too_many = pb.GenerateRequest(session_id=session, candidates=3, continue_text=pb.ContinueTextTask(before="a"))
        with pytest.raises(grpc.RpcError) as raised:
            list(stub.Generate(too_many, timeout=30))
        assert "1 to 2" in raised.value.details()
        too_wide = pb.GenerateRequest(session_id=session, candidates=1, texture=pb.TextureTask(width=33, height=8))
        with pytest.raises(grpc.RpcError) as raised:
            list(stub.Generate(too_wide, timeout=30))
        assert "1 to 32" in raised.value.details()
        limits = stub.ModelStatus(pb.ModelStatusRequest()).limits
        assert (limits.max_candidates, limits.max_side, limits.max_queue) == (2, 32, 1)
        assert limits.max_steps == 200 and limits.max_message_bytes > 32 * 32 * 4
