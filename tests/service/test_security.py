"""Unix socket 0600 by default; TCP only with a token; the token is checked on every call."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from core_server.pb import cocreate_pb2 as pb
from core_server.pb import cocreate_pb2_grpc as pb_grpc
from tests.support.daemon import Daemon, running_daemon


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
