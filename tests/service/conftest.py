"""A real daemon on the tiny profile over a real Unix socket, shared by the service tests."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest

from core_server import config
from core_server.pb import cocreate_pb2 as pb
from core_server.pb import cocreate_pb2_grpc as pb_grpc
from tests.support.daemon import Daemon, running_daemon

CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", config.DEFAULT_LIMITS.max_message_bytes + (64 << 20)),
    ("grpc.max_send_message_length", config.DEFAULT_LIMITS.max_message_bytes + (64 << 20)),
]


def channel_for(daemon: Daemon) -> grpc.Channel:
    return grpc.insecure_channel(daemon.endpoint, options=CHANNEL_OPTIONS)


@pytest.fixture(scope="session")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    with running_daemon(tmp_path_factory.mktemp("home")) as d:
        yield d


@pytest.fixture(scope="session")
def stub(daemon: Daemon) -> Iterator[pb_grpc.CocreateStub]:
    with channel_for(daemon) as channel:
        yield pb_grpc.CocreateStub(channel)


@pytest.fixture
def session_id(stub: pb_grpc.CocreateStub) -> str:
    return stub.CreateSession(pb.CreateSessionRequest(host="test", document_id="doc-1", document_name="Doc")).id
